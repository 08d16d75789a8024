"""The RLlib RL² backend from the command line (issue 11): a run killed during chunk 1 resumes after chunk 0 and a
rerun skips every chunk; a worker that cannot find its data stops the CLI with a readable message."""
import json, shutil, signal, subprocess, sys

import psutil

from helpers import ROOT, wait_for
CLI = [sys.executable, "-c", "import sys; from algobot.rl2_cli import main; sys.exit(main())"]   # this checkout's algobot


def _name(p: psutil.Process) -> str:
    try: return p.name()
    except psutil.NoSuchProcess: return "Agent (gone)"   # already exited: nothing to wait for


def args(models, *extra):
    return [*CLI, "--backend", "rllib", "--synthetic", "4", "--chunk-size", "2", "--steps-per-chunk", "256",
            "--models-dir", str(models), "--seed", "0", *extra]


def test_killed_run_resumes_after_last_complete_chunk(tmp_path):
    log = tmp_path / "rl2.log"
    with open(log, "wb") as out:   # a file, not a pipe: nothing reads it while the run goes on
        proc = subprocess.Popen(args(tmp_path), stdout=out, stderr=subprocess.STDOUT)
    wait_for((tmp_path / "rl2_multitask_chunk_0.json").exists, "chunk 0 to complete", 300, proc, log)
    # embedded Ray: GCS, raylet, workers; its dashboard and runtime-env agents notice the raylet's end only after
    # their own ~60 s timeout, so they are not waited for here
    tree = [p for p in psutil.Process(proc.pid).children(recursive=True) if "Agent" not in _name(p)]
    proc.send_signal(signal.SIGKILL)        # chunk 1 is being built (seconds): kill it mid-way
    proc.wait()
    assert not (tmp_path / "rl2_multitask_chunk_1.json").exists(), "chunk 1 finished before the kill; make it longer"
    gone, alive = psutil.wait_procs(tree, timeout=60)
    assert not alive, f"Ray processes outlived the killed driver: {[(p.pid, p.name()) for p in alive]}"
    policy0 = tmp_path / "rl2_multitask_chunk_0" / "policy.pt"
    mtime = policy0.stat().st_mtime_ns
    done = subprocess.run(args(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "chunk 0: resumed" in done.stdout and "chunk 1: trained" in done.stdout, done.stdout
    assert policy0.stat().st_mtime_ns == mtime, "the completed chunk was retrained"
    metas = [json.loads((tmp_path / f"rl2_multitask_chunk_{n}.json").read_text()) for n in range(2)]
    assert [m["tasks"] for m in metas] == [["SYN000_1h", "SYN001_1h"], ["SYN002_1h", "SYN003_1h"]]
    assert [m["backend"] for m in metas] == ["rllib", "rllib"]
    assert metas[1]["timesteps"] >= 2 * 256          # chunk 1 continued from chunk 0
    assert not list(tmp_path.glob(".*tmp*")), "temporary directories of the killed run were not cleaned up"
    again = subprocess.run(args(tmp_path), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "chunk 0: resumed" in again.stdout and "chunk 1: resumed" in again.stdout


def test_worker_error_reaches_the_terminal(tmp_path):
    "The data folder exists for the driver but not where the workers look: exit 1, the worker's error on stderr."
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ROOT / "historical_data" / "GOOGL_1d.csv", data)
    missing = tmp_path / "not_on_the_workers"
    run = subprocess.run([*CLI, "--backend", "rllib", "--data-dir", str(data), "--worker-data-dir", str(missing),
                          "--models-dir", str(tmp_path / "models"), "--steps-per-chunk", "64",
                          "--num-env-runners", "1"],   # a Ray worker (on one machine the default samples in the driver)
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr[-3000:]
    message = run.stderr   # Ray's own log lines may come after ours
    assert "algobot-rl2: building RLlib PPO for chunk 0 (['GOOGL_1d'" in message, message[-3000:]
    assert f"failed: FileNotFoundError: No *.csv or *.parquet OHLCV files in {missing}" in message, message[-3000:]
    assert "every Ray node needs algobot installed and the task data" in message, message[-3000:]
    assert not (tmp_path / "models" / "rl2_multitask_chunk_0.json").exists()
