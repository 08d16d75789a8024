"""Chunked RL² training killed mid-run resumes from the last complete chunk (issue 5)."""
import json, subprocess, sys

from helpers import ROOT
CLI = [sys.executable, "-c", "import sys; from algobot.rl2_cli import main; sys.exit(main())"]   # this checkout's algobot

# The CLI with a crash planted at a known point: SIGKILL itself halfway through chunk 1's training (its 2nd `learn`),
# so the test does not depend on how fast the machine trains.
CRASH_IN_CHUNK_1 = """
import os, signal, sys
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from algobot.rl2_cli import main

class Kill(BaseCallback):
    def __init__(self, at): super().__init__(); self.at = at
    def _on_step(self):
        if self.num_timesteps >= self.at: os.kill(os.getpid(), signal.SIGKILL)
        return True

learn, calls = RecurrentPPO.learn, []
def crashing_learn(self, total_timesteps, callback=None, **kw):
    calls.append(1)
    if len(calls) == 2: callback = Kill(self.num_timesteps + total_timesteps // 2)
    return learn(self, total_timesteps, callback=callback, **kw)
RecurrentPPO.learn = crashing_learn
sys.exit(main(sys.argv[1:]))
"""


def args(models, steps=1536):
    return [*CLI, "--synthetic", "5", "--chunk-size", "2", "--steps-per-chunk", str(steps), "--models-dir", str(models),
            "--seed", "0"]


def test_killed_run_resumes_after_last_complete_chunk(tmp_path):
    crashed = subprocess.run([sys.executable, "-c", CRASH_IN_CHUNK_1, *args(tmp_path)[len(CLI):]], capture_output=True,
                             text=True, timeout=600)
    assert crashed.returncode == -9, f"expected the planted SIGKILL, got exit {crashed.returncode}: {crashed.stderr[-2000:]}"
    assert (tmp_path / "rl2_multitask_chunk_0.json").exists(), "chunk 0 did not complete before the crash"
    assert not (tmp_path / "rl2_multitask_chunk_1.json").exists(), "chunk 1 was recorded complete despite the crash"
    chunk0_zip = tmp_path / "rl2_multitask_chunk_0.zip"
    mtime = chunk0_zip.stat().st_mtime_ns
    done = subprocess.run(args(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "chunk 0: resumed" in done.stdout and "chunk 1: trained" in done.stdout and "chunk 2: trained" in done.stdout
    assert chunk0_zip.stat().st_mtime_ns == mtime, "the completed chunk was retrained"
    metas = [json.loads((tmp_path / f"rl2_multitask_chunk_{n}.json").read_text()) for n in range(3)]
    assert [m["tasks"] for m in metas] == [["SYN000_1h", "SYN001_1h"], ["SYN002_1h", "SYN003_1h"], ["SYN004_1h"]]
    assert metas[2]["timesteps"] >= 3 * 1536      # chunk 2 continued from chunk 1, which continued from chunk 0
    assert not list(tmp_path.glob(".*tmp*")), "temporary files of the killed run were not cleaned up"


def test_corrupt_checkpoint_is_reported(tmp_path):
    ok = subprocess.run(args(tmp_path, steps=64),
                        capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-2000:]
    (tmp_path / "rl2_multitask_chunk_1.zip").write_bytes(b"\0" * 100)
    (tmp_path / "rl2_multitask_chunk_2.json").unlink()
    bad = subprocess.run(args(tmp_path, steps=64),
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1
    assert "rl2_multitask_chunk_1.zip does not match the SHA-256" in bad.stderr and "--restart" in bad.stderr


def test_replaced_last_chunk_is_refused(tmp_path):
    "Every chunk is verified on resume, the last one included (it used to report 'chunk 2: resumed')."
    ok = subprocess.run(args(tmp_path, steps=64), capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr[-2000:]
    (tmp_path / "rl2_multitask_chunk_2.zip").write_bytes(b"garbage")
    bad = subprocess.run(args(tmp_path, steps=64), capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "chunk 2: resumed" not in bad.stdout
    assert "rl2_multitask_chunk_2.zip does not match the SHA-256" in bad.stderr and "--restart" in bad.stderr


def test_unknown_task_glob_stops_before_training(tmp_path):
    "A --holdout or --tasks glob that matches no task is a usage error (exit 2) naming it and the valid tasks."
    for option in (["--holdout", "GOOGL_1d,NOPE"], ["--tasks", "NOPE_*"]):
        bad = subprocess.run([*CLI, "--data-dir", str(ROOT / "historical_data"), "--models-dir", str(tmp_path), *option],
                             capture_output=True, text=True, timeout=600)
        assert bad.returncode == 2, (bad.returncode, bad.stderr[-2000:])
        assert "algobot-rl2: error: no task matches 'NOPE" in bad.stderr and "GOOGL_1d" in bad.stderr, bad.stderr[-2000:]
        assert bad.stdout == "" and not list(tmp_path.iterdir()), "something was trained"
