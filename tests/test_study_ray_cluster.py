"""The study on a multi-node Ray cluster: `run_study(..., workers=2, address=...)` against two raylets on this machine
(the two-node fixture of `test_rl2_rllib_cluster.py`: a head with 0 CPUs, one worker node with 1 CPU, a token-protected
GCS). The head has no CPU, so every (contestant, task, seed, fold) task can only run on the worker node: each result
records the Ray node and process it ran in, and all must be the worker node's, never the driver. The rows equal the
same study run in this process without Ray, and a rerun computes nothing.

The driver is a subprocess (as `algobot-study --address` would be): this pytest process must not become a Ray driver
of the cluster. Under a loaded 2-core machine the whole test takes about a minute (two node start-ups, two drivers);
the subprocess timeouts are hang guards, not speed checks."""
import json, subprocess, sys

import pandas as pd

from helpers import subprocess_env
from test_rl2_rllib_cluster import cluster   # noqa: F401  (the two-node cluster fixture, shut down even on failure)

from algobot.contestants import baselines
from algobot.study import Leaderboard, run_study
from algobot.tasks import TradingTask, synthetic_tasks

KEY = ["contestant", "task", "seed", "fold"]
DRIVER = """import json, os, sys
from pathlib import Path
import ray
from algobot.contestants import baselines
from algobot.study import Leaderboard, run_study
from algobot.tasks import TradingTask, synthetic_tasks

class Where:
    "A baseline that also records the Ray node and process each of its results ran in (shipped to Ray by value)."
    def __init__(self, inner, out): self.inner, self.out = inner, out
    def __call__(self, task, env, seed):
        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        with open(self.out, "a") as f:
            f.write(json.dumps({"node": node, "pid": os.getpid(), "seed": seed, "fold": task.fold_index}) + "\\n")
        return self.inner(task, env, seed)

address, folder = sys.argv[1], Path(sys.argv[2])
field = baselines()
few = {n: Where(field[n], folder / "where.jsonl") for n in ("buy_and_hold", "random")}
frame = run_study(few, [TradingTask(synthetic_tasks(1, 1500, seed=3)[0])], Leaderboard(folder / "lb.csv"),
                  seeds=(0, 1), n_folds=2, workers=2, address=address)
print(json.dumps({"rows": len(frame), "driver_pid": os.getpid(), "driver_node": ray.get_runtime_context().get_node_id()}))
"""


def drive(address, folder) -> dict:
    run = subprocess.run([sys.executable, "-c", DRIVER, address, str(folder)], capture_output=True, text=True,
                         timeout=1200, env=subprocess_env())
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def where(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "where.jsonl").read_text().splitlines()]


def test_study_results_come_from_the_worker_node_and_rerun_skips(cluster, tmp_path, scratch_settings):
    c, worker = cluster
    out = drive(c.address, tmp_path)
    assert out["rows"] == 8, out                                   # 2 contestants x 2 seeds x 2 folds
    assert out["driver_node"] == c.head_node.node_id, out          # the driver sits on the head ...

    # ... and every result ran on the worker node, in a Ray worker process (not the driver)
    ran = where(tmp_path)
    assert len(ran) == 8, ran
    assert {r["node"] for r in ran} == {worker.node_id}, f"results ran on {ran}; worker {worker.node_id}, head {c.head_node.node_id}"
    assert out["driver_pid"] not in {r["pid"] for r in ran}, ran

    # the rows, as stored by the driver, equal the same study in this process without Ray
    field = baselines()
    local = Leaderboard(tmp_path / "local.csv")
    run_study({n: field[n] for n in ("buy_and_hold", "random")}, [TradingTask(synthetic_tasks(1, 1500, seed=3)[0])], local,
              seeds=(0, 1), n_folds=2)
    on_cluster = Leaderboard(tmp_path / "lb.csv")
    pd.testing.assert_frame_equal(on_cluster.frame().sort_values(KEY).reset_index(drop=True),
                                  local.frame().sort_values(KEY).reset_index(drop=True), check_dtype=False)

    # a rerun finds every row done: no task runs, nothing is added
    again = drive(c.address, tmp_path)
    assert again["rows"] == 8 and len(where(tmp_path)) == 8, (again, where(tmp_path))
