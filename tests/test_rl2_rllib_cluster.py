"""The RLlib RL² backend on a multi-node Ray cluster: `algobot-rl2 --backend rllib --address ...` against two raylets on
this machine (ray.cluster_utils.Cluster: separate object stores, a token-protected GCS). The head has no CPU, so the
env runner (default: 1 on a multi-node cluster) can only be placed on the worker node; a rerun skips the chunk.

One chunk of two tasks: every chunk builds an algorithm and so starts a runner process (under three CPU burners 47 s
for the whole test with the nodes' workers at nice 0; at Ray's default nice 15, over 10 minutes for two chunks). The
subprocess timeouts are hang guards, not speed checks."""
import json, secrets, shutil, subprocess, sys, tempfile

import psutil, pytest, ray
from ray._raylet import AuthenticationTokenLoader, Config
from ray.cluster_utils import Cluster

CLI = [sys.executable, "-c", "import sys; from algobot.rl2_cli import main; sys.exit(main())"]   # this checkout's algobot
LOAD = """import sys
from algobot.rl2_rllib import load_rllib_policy
for path in sys.argv[1:]:
    policy = load_rllib_policy(path)
    action, _ = policy.predict(policy.module.observation_space.sample())
    assert policy.module.action_space.contains(action.item() if policy.discrete else action), (path, action)
"""
RUNNER = "SingleAgentEnvRunner"   # RLlib's env runner actor class (new API stack)


def _reload_auth() -> None:
    "Make this process's Ray read RAY_AUTH_* again (RayConfig is cached at import; Ray's own tests do the same)."
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _kill_leftovers(ray_tmp: str) -> None:
    "Kill the processes (and their children) whose command line names this cluster's temp dir; normally none."
    procs = []
    for p in psutil.process_iter(["cmdline"]):
        if any(ray_tmp in a for a in p.info["cmdline"] or ()):
            try: procs += [p, *p.children(recursive=True)]
            except psutil.NoSuchProcess: pass
    for p in procs:
        try: p.kill()
        except psutil.NoSuchProcess: pass
    psutil.wait_procs(procs, timeout=30)


@pytest.fixture
def cluster():
    "A head with 0 CPUs (GCS, the driver's raylet) and one worker node with 1 CPU; shut down even if the test fails."
    # Ray's temp dir: a short path (its unix sockets, <dir>/session_*/sockets/plasma_store, must stay < 108 bytes, too
    # long under tmp_path), and its own: Cluster writes <RAY_TMPDIR>/ray_current_cluster, where any `ray.init()` on
    # this machine would otherwise find and join this cluster
    ray_tmp = tempfile.mkdtemp(prefix="ray-")
    env = pytest.MonkeyPatch()   # its own, undone before _reload_auth() below (the `monkeypatch` fixture's comes later)
    try:
        env.setenv("RAY_TMPDIR", ray_tmp)
        # Ray 2.60 protects a cluster with a token, and `ray.init(address=...)` sends it only with RAY_AUTH_MODE=token
        # (README 'RL² on a Ray cluster'): a fresh token in the environment, inherited by the nodes and the CLI
        # (~/.ray/auth_token untouched). This process talks to the GCS too (Cluster, its actor table): reload
        env.setenv("RAY_AUTH_MODE", "token")
        env.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        env.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        env.setenv("OMP_NUM_THREADS", "1")
        env.setenv("RAY_worker_niceness", "0")   # the nodes' workers at normal priority, as init_ray does (README)
        _reload_auth()
        c = Cluster(shutdown_at_exit=False)   # no atexit hook: shut down below
        try:
            # returns once the node is registered; no autoscaler monitor, Ray's API server on a free port (not 8265)
            c.add_node(num_cpus=0, include_dashboard=False, dashboard_port=0, no_monitor=True)
            worker = c.add_node(num_cpus=1)
            c.wait_for_nodes(timeout=120)
            yield c, worker
        finally:
            ray.shutdown()   # no-op unless this process became a driver (then Cluster.shutdown would refuse)
            c.shutdown()
    finally:
        _kill_leftovers(ray_tmp)   # a node that failed to start is not in `c`: its processes are found by temp dir
        env.undo()
        _reload_auth()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def args(address, models):
    # no --num-env-runners: default_env_runners() must see two alive nodes and ask for one runner
    return [*CLI, "--backend", "rllib", "--address", address, "--synthetic", "2", "--chunk-size", "2",
            "--steps-per-chunk", "256", "--models-dir", str(models), "--seed", "0"]


def runners(c: Cluster) -> list[dict]:
    "Every env runner actor the cluster has seen, dead ones included (the GCS keeps them after their job ends)."
    return [a for a in c.global_state.actor_table(None).values() if a["ActorClassName"] == RUNNER]


def test_env_runner_on_worker_node_and_rerun_resumes(cluster, tmp_path, scratch_settings):
    c, worker = cluster
    models = tmp_path / "models"
    run = subprocess.run(args(c.address, models), capture_output=True, text=True, timeout=3600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "chunk 0: trained" in run.stdout and "chunk 1" not in run.stdout, run.stdout

    # 1. the chunk's checkpoint directory and sidecar; the policy loads (checked against its sidecar's checksum) and
    # acts, in a fresh process: importing algobot.rl2_rllib here would make Ray's env registry connect this process to
    # the cluster as a driver
    meta = json.loads((models / "rl2_multitask_chunk_0.json").read_text())
    assert (meta["tasks"], meta["backend"]) == (["SYN000_1h", "SYN001_1h"], "rllib"), meta
    assert meta["timesteps"] >= 256
    load = subprocess.run([sys.executable, "-c", LOAD, str(models / "rl2_multitask_chunk_0")],
                          capture_output=True, text=True, timeout=3600)
    assert load.returncode == 0, load.stderr[-3000:]

    # 2. the runner really ran on the worker node: the GCS records each actor's node (the driver sits on the head)
    found = runners(c)
    assert len(found) == 1, found                    # the chunk's algorithm had one runner
    nodes = {a["Address"]["NodeID"] for a in found}
    assert nodes == {worker.node_id}, f"runner on {nodes}; worker {worker.node_id}, head {c.head_node.node_id}"

    # 3. an identical rerun skips the complete chunk, retrains nothing and starts no runner
    mtime = (models / "rl2_multitask_chunk_0" / "policy.pt").stat().st_mtime_ns
    again = subprocess.run(args(c.address, models), capture_output=True, text=True, timeout=3600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "chunk 0: resumed" in again.stdout, again.stdout
    assert (models / "rl2_multitask_chunk_0" / "policy.pt").stat().st_mtime_ns == mtime
    assert len(runners(c)) == 1
