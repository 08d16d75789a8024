"""The main job's machinery end to end: algobot-pipeline runs real notebooks on real data in a kernel."""
import json, os, re, shutil, subprocess, sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import ROOT

CLI = Path(sys.executable).parent / "algobot-pipeline"
UNENCRYPTED_WARNING = "Kernel is running over TCP without encryption"
# what an ok run must not print: a kernel interrupted or logging errors, a traceback, the dashboard server's access log,
# a Python warning (nbconvert's "mimetype(s) dict_keys([])"), papermill failing to read a parameters cell
NOISE = re.compile(r"KeyboardInterrupt|Traceback|WARNING:tornado|UserWarning|ERROR \||Unable to parse line")


def run_cli(*args, env, timeout=600):
    return subprocess.run([str(CLI), "--no-progress", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def assert_quiet(r: subprocess.CompletedProcess) -> None:
    "An ok run printed progress, results and real problems only (the offending lines, each under its notebook's name, if not)."
    noisy = [line for line in (r.stdout + r.stderr).splitlines() if NOISE.search(line)]
    assert not noisy, "the pipeline printed noise:\n" + "\n".join(noisy)


def printed(ipynb: Path) -> str:
    "Everything an executed notebook printed (stream outputs)."
    nb = nbformat.read(ipynb, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")


def test_pipeline_labels_real_data_and_writes_reports(scratch_settings):
    reports = scratch_settings / "reports"
    r = run_cli("--only", "01_data,02_labeling", "--tasks", "EURUSD_4h,GOOGL_1w", "--reports-dir", str(reports),
                env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    assert UNENCRYPTED_WARNING not in r.stdout + r.stderr
    assert_quiet(r)
    record = json.loads((reports / "pipeline.json").read_text())
    assert [(n["name"], n["status"]) for n in record["notebooks"]] == [("01_data", "ok"), ("02_labeling", "ok")]
    assert record["parameters"]["tasks"] == "EURUSD_4h,GOOGL_1w"
    assert record["parameters"]["upstream"] is True   # in the pipeline, notebooks chain through models/ and processed_data/
    html = (reports / "02_labeling.html").read_text()
    assert html.count("data:image/png") >= 2, "the labeling report should carry its plots"
    processed = scratch_settings / "processed_data"
    assert sorted(p.name for p in processed.glob("*.csv")) == ["EURUSD_4h.csv", "GOOGL_1w.csv"]
    df = pd.read_csv(processed / "EURUSD_4h.csv")
    assert list(df.columns)[-6:] == ["atr", "sl_buy", "target_buy", "sl_sell", "target_sell", "label"]
    assert set(df.label.unique()) <= {0, 1, 2, 3, 4} and df.label.nunique() >= 3


def test_pipeline_stops_on_bad_data_and_writes_nothing(scratch_settings, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ROOT / "historical_data" / "GOOGL_1d.csv", data)
    lines = (data / "GOOGL_1d.csv").read_text().splitlines()
    parts = lines[10].split(",")
    parts[2] = "-5"  # a negative high on line 11
    lines[10] = ",".join(parts)
    (data / "GOOGL_1d.csv").write_text("\n".join(lines) + "\n")
    reports = tmp_path / "reports"
    r = run_cli("--only", "02_labeling,01_data", "--data-dir", str(data), "--reports-dir", str(reports), env=dict(os.environ))
    assert r.returncode == 1
    # 02_labeling is listed first but waits for 01_data (pipeline.FIRST), which rejects the folder and stops the run
    assert "01_data.ipynb failed" in r.stderr and "GOOGL_1d.csv line 11" in r.stderr, r.stderr[-2000:]
    record = json.loads((reports / "pipeline.json").read_text())
    assert [n["status"] for n in record["notebooks"]] == ["not run", "failed"]
    assert (reports / "01_data.html").exists() and not (reports / "02_labeling.html").exists()
    processed = scratch_settings / "processed_data"
    assert not processed.exists() or not any(processed.iterdir()), "nothing may be written from bad input"


def test_pipeline_stops_at_once_on_a_misspelt_parameter(scratch_settings, tmp_path):
    "-p taskk=... (no notebook of the run declares it): exit 1 before any notebook starts, with the valid names and the close one."
    reports = tmp_path / "reports"
    r = run_cli("--only", "06_train", "-p", "taskk=SP500_1d", "--reports-dir", str(reports), env=dict(os.environ), timeout=900)   # a hang guard
    assert r.returncode == 1, r.stdout + r.stderr
    assert "unknown parameter 'taskk' (did you mean 'task'?)" in r.stderr, r.stderr
    assert "parameters of these notebooks: algos, data_dir, models_dir, quick, seed, task, tensorboard, total_steps" in r.stderr
    assert "06_train ..." not in r.stdout and not reports.exists()   # nothing started, nothing written


def test_pipeline_stops_at_once_on_a_task_glob_that_matches_nothing(scratch_settings, tmp_path):
    "--tasks NOPE_* (no task of the data folder): exit 2 before any notebook starts, listing the valid task names."
    reports = tmp_path / "reports"
    r = run_cli("--only", "06_train", "--tasks", "SP500_1d,NOPE_*", "--reports-dir", str(reports), env=dict(os.environ), timeout=900)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no task matches 'NOPE_*'" in r.stderr and "'SP500_1d'" in r.stderr, r.stderr
    assert "06_train ..." not in r.stdout and not reports.exists()


def test_pipeline_kernels_are_encrypted_and_quiet(scratch_settings, tmp_path):
    "run_pipeline's kernels get CurveZMQ keys (kernel_config), so ipykernel has no unencrypted-TCP warning to print."
    zmq = pytest.importorskip("zmq")
    if not zmq.has("curve"): pytest.skip("pyzmq without CurveZMQ: kernels run unencrypted and say so")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from ipykernel.kernelapp import IPKernelApp\n"
                                          "assert IPKernelApp.instance().curve_secretkey is not None, 'no CurveZMQ keys'\n"
                                          "print('kernel ok')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    nbformat.write(nb, nbs / "01_toy.ipynb")
    code = ("from algobot.pipeline import run_pipeline; "
            f"run_pipeline(nbs_dir={str(nbs)!r}, reports_dir={str(tmp_path / 'reports')!r}, progress=False)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[1/1] 01_toy: ok" in r.stdout, r.stdout
    assert UNENCRYPTED_WARNING not in r.stdout + r.stderr, r.stderr[-3000:]
    assert "kernel ok" in (tmp_path / "reports" / "01_toy.html").read_text()


def test_pipeline_runs_every_notebook_on_one_instrument(scratch_settings, tmp_path):
    """A new user's folder with one instrument and nothing of the bundled sample: every notebook picks its tasks from it.
    The instrument is a penny coin with a short history: real bars (GOOGL's last 530 days) rescaled to a median close of
    $0.0004, so the derived weekly task has 110 bars, just above the 100-bar minimum. Sub-$1 prices broke 04_env's
    bad-data test; a weekly series shorter than the features' warm-up plus a fold layout broke 06a_tune."""
    from algobot.data import read_ohlcv
    data = tmp_path / "data"
    data.mkdir()
    bars = read_ohlcv(ROOT / "historical_data" / "GOOGL_1d.csv").tail(530)
    k = 0.0004 / bars.close.median()
    bars.assign(**{c: bars[c] * k for c in ("open", "high", "low", "close")}).to_csv(data / "PENNY_1d.csv", index=False)
    reports = tmp_path / "reports"
    r = run_cli("--data-dir", str(data), "--reports-dir", str(reports), env=dict(os.environ), timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert_quiet(r)
    record = json.loads((reports / "pipeline.json").read_text())
    from algobot.pipeline import pipeline_notebooks
    assert [n["name"] for n in record["notebooks"]] == list(pipeline_notebooks(ROOT / "nbs"))
    assert [(n["name"], n["status"]) for n in record["notebooks"]] == [(n["name"], "ok") for n in record["notebooks"]]
    processed = scratch_settings / "processed_data"
    assert sorted(p.name for p in processed.glob("*.csv")) == ["PENNY_1d.csv", "PENNY_1w.csv"]
    assert (scratch_settings / "models" / "ppo_PENNY_1d.zip").exists()           # 06_train: the first task found
    assert "held out: ['PENNY_1w']" in printed(reports / "07_rl2.ipynb")          # RL²: the last task is held out
    assert "fine-tuning on ['PENNY_1d', 'PENNY_1w']" in printed(reports / "12_rlhf.ipynb")
    for nb in ("06a_tune", "19_study"):   # too short for their folds: skipped with the reason, the other task used
        out = printed(reports / f"{nb}.ipynb")
        assert "skipping PENNY_1w: PENNY_1w: fold 0's train period" in out and "before the features are defined" in out, out
    assert "trials on ['PENNY_1d']" in printed(reports / "06a_tune.ipynb")


def test_pipeline_single_task_has_no_holdout(scratch_settings, tmp_path):
    "One weekly file is one task: fewer tasks than a chunk, nothing to hold out; RL² and MAML evaluate on its test period."
    from algobot.data import read_ohlcv, resample_ohlcv
    data = tmp_path / "data"
    data.mkdir()
    resample_ohlcv(read_ohlcv(ROOT / "historical_data" / "SP500_1d.csv"), "1w").to_csv(data / "SPX_1w.csv", index=False)
    reports = tmp_path / "reports"
    r = run_cli("--only", "04a_tasks,07_rl2,08_maml", "--data-dir", str(data), "--reports-dir", str(reports),
                env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    assert_quiet(r)
    record = json.loads((reports / "pipeline.json").read_text())
    assert [(n["name"], n["status"]) for n in record["notebooks"]] == [("04a_tasks", "ok"), ("07_rl2", "ok"), ("08_maml", "ok")]
    rl2 = printed(reports / "07_rl2.ipynb")
    assert "held out: none (a single task)" in rl2 and "No held-out task (the folder has a single task)" in rl2, rl2
    chunks = sorted((scratch_settings / "models").glob("rl2_multitask_chunk_*.json"))
    assert [json.loads(c.read_text())["tasks"] for c in chunks] == [["SPX_1w"]]   # one chunk, smaller than RL_CHUNK_SIZE
    assert "adaptation test on SPX_1w (no held-out task" in printed(reports / "08_maml.ipynb")
