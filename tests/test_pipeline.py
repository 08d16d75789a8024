"""The main job's machinery end to end: algobot-pipeline runs real notebooks on real data in a kernel."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pandas as pd

from conftest import ROOT

CLI = Path(sys.executable).parent / "algobot-pipeline"


def run_cli(*args, env):
    return subprocess.run([str(CLI), "--no-progress", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_pipeline_labels_real_data_and_writes_reports(scratch_settings):
    reports = scratch_settings / "reports"
    r = run_cli("--only", "01_data,02_labeling", "--tasks", "EURUSD_4h,GOOGL_1w", "--reports-dir", str(reports),
                env=dict(os.environ))
    assert r.returncode == 0, r.stderr[-3000:]
    record = json.loads((reports / "pipeline.json").read_text())
    assert [(n["name"], n["status"]) for n in record["notebooks"]] == [("01_data", "ok"), ("02_labeling", "ok")]
    assert record["parameters"]["tasks"] == "EURUSD_4h,GOOGL_1w"
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
    assert "02_labeling.ipynb failed" in r.stderr and "GOOGL_1d.csv line 11" in r.stderr, r.stderr[-2000:]
    record = json.loads((reports / "pipeline.json").read_text())
    assert [n["status"] for n in record["notebooks"]] == ["failed", "not run"]
    assert (reports / "02_labeling.html").exists()
    processed = scratch_settings / "processed_data"
    assert not processed.exists() or not any(processed.iterdir()), "nothing may be written from bad input"
