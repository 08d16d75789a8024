"""The study's results can be rebuilt from the repository: a summary written by `Leaderboard.write_summary` is computed
again, character for character, from the leaderboard CSV and its per-bar returns alone; the full run's returns fit
the size budget of `reports/full/`; the README's Results block is exactly what `tools/readme_results.py` generates."""
import importlib.util, json

import numpy as np
import pandas as pd
import pytest

from algobot.contestants import baselines
from algobot.study import Leaderboard, run_study
from algobot.tasks import TradingTask, synthetic_tasks
from helpers import ROOT

FULL = ROOT / "reports" / "full"


def load_tool():
    spec = importlib.util.spec_from_file_location("readme_results", ROOT / "tools" / "readme_results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    "A small study (the 7 baselines on two synthetic tasks × 2 folds × 2 seeds) and its summary, as the study writes them."
    d = tmp_path_factory.mktemp("study")
    board = Leaderboard(d / "leaderboard.csv")
    run_study(baselines(), [TradingTask(t) for t in synthetic_tasks(2, 1500, seed=5)], board, seeds=(0, 1), n_folds=2)
    board.write_summary(d / "leaderboard_summary.csv", apart=("oracle",), n_boot=200, seed=3, tuning_trials=2)
    return d


def test_a_tiny_study_rebuilds_exactly_from_its_files(tiny_study):
    board = Leaderboard(tiny_study / "leaderboard.csv")   # read back: nothing of the run is in memory
    assert len(board) == 7 * 2 * 2 * 2 and board.missing_returns() == []
    text, verdict = board.rebuild_summary()
    assert text == (tiny_study / "leaderboard_summary.csv").read_text()
    assert verdict == json.loads((tiny_study / "leaderboard_summary.json").read_text())["verdict"]
    assert "buy_and_hold" in verdict and pd.read_csv(tiny_study / "leaderboard_summary.csv").psr.notna().all()


def test_the_rebuild_sees_a_changed_return_and_a_lost_one(tiny_study, tmp_path):
    board = Leaderboard(tiny_study / "leaderboard.csv")
    copy = Leaderboard(tmp_path / "leaderboard.csv")
    for _, row in board.frame().iterrows():
        key = tuple(row[["contestant", "task", "seed", "fold"]])
        r = board.returns(key)
        if key[0] == "momentum" and key[2:] == (1, 0): r = r + np.r_[1e-4, np.zeros(len(r) - 1)]   # one bar of one result
        copy.add(row.to_dict(), None if key[0] == "sma_crossover" and key[2:] == (0, 1) else r)
    for f in ("leaderboard_summary.csv", "leaderboard_summary.json"):
        (tmp_path / f).write_text((tiny_study / f).read_text())
    assert copy.missing_returns() == [("sma_crossover", t, 0, 1) for t in dict.fromkeys(board.frame().task)]
    assert copy.rebuild_summary()[0] != (tiny_study / "leaderboard_summary.csv").read_text()


def test_the_committed_full_run_is_complete_and_rebuilds_exactly():
    board = Leaderboard(FULL / "leaderboard.csv")
    assert len(board) > 0
    missing = board.missing_returns()
    assert not missing, f"{len(missing)} of {len(board)} results of {FULL} have no per-bar returns, e.g. {missing[:3]}"
    text, verdict = board.rebuild_summary(FULL / "leaderboard_summary.csv")
    assert text == (FULL / "leaderboard_summary.csv").read_text()
    assert verdict == json.loads((FULL / "leaderboard_summary.json").read_text())["verdict"]


def test_the_committed_budget_curve_is_complete_and_rebuilds_exactly():
    "The budget curve's results (PPO and RL² at three budgets) rebuild their summary, and the curve is that summary's rows."
    board = Leaderboard(FULL / "budget_leaderboard.csv")
    assert board.missing_returns() == [] and len(board) > 0
    text, _ = board.rebuild_summary()
    assert text == (FULL / "budget_leaderboard_summary.csv").read_text()
    summary = pd.read_csv(FULL / "budget_leaderboard_summary.csv", index_col="contestant")
    curve = pd.read_csv(FULL / "budget_curve.csv")
    assert len(curve) >= 6 and curve.groupby("contestant").steps.nunique().min() >= 3   # two algorithms × three budgets at least
    for r in curve.itertuples():
        name = f"{r.contestant}@{r.steps // 1000}k" if r.steps % 1000 == 0 else f"{r.contestant}@{r.steps}"
        assert np.isclose(summary.excess_sharpe[name], r.excess_sharpe) and np.isclose(summary.excess_lo[name], r.excess_lo)


def test_the_committed_exogenous_comparison_rebuilds_exactly():
    "The full run's paired comparisons of the exogenous contestants (exogenous.csv) are computed again from its results."
    from algobot.study import exogenous_comparison
    record = json.loads((FULL / "leaderboard_summary.json").read_text())["summarize"]
    table = exogenous_comparison(Leaderboard(FULL / "leaderboard.csv"), n_boot=record["n_boot"], seed=record["seed"],
                                 apart=tuple(record["apart"]))
    assert set(table.contestant) == {"ppo_exo", "rl2_exo", "canary_exo"}
    assert table.to_csv(index=False) == (FULL / "exogenous.csv").read_text()
    assert table.set_index("contestant").excess_lo["canary_exo"] > 0   # the leak is seen through the join


def test_the_committed_full_runs_psr_agrees_with_its_intervals():
    "On the real data too: a PSR below 0.025 exactly when the excess interval lies below zero, above 0.975 exactly when above."
    s = pd.read_csv(FULL / "leaderboard_summary.csv", index_col="contestant")
    level = json.loads((FULL / "leaderboard_summary.json").read_text())["summarize"]["level"]
    low, high = (1 - level) / 2, (1 + level) / 2
    others = s.drop(index="buy_and_hold")
    assert (others.excess_hi < 0).any(), "the check needs a contestant whose interval lies below zero"
    assert ((others.psr < low) == (others.excess_hi < 0)).all(), others[["excess_lo", "excess_hi", "psr"]]
    assert ((others.psr > high) == (others.excess_lo > 0)).all(), others[["excess_lo", "excess_hi", "psr"]]
    assert s.excess_se["buy_and_hold"] == 0 and s.psr["buy_and_hold"] == 0.5   # the benchmark against itself


def test_the_full_runs_returns_fit_the_size_budget(tmp_path):
    "Every 10th result of the committed full run (its bars, its dates), with fat-tailed returns, stored as the study does."
    full = pd.read_csv(FULL / "leaderboard.csv")
    sample, rng = full.iloc[::10], np.random.default_rng(0)
    board = Leaderboard(tmp_path / "leaderboard.csv")
    for _, r in sample.iterrows():
        x = np.zeros(r.bars) if r.contestant == "flat" else rng.standard_t(4, r.bars) * 0.01   # noise does not compress
        board.add(r.to_dict(), pd.Series(x, index=pd.date_range(r.start, r.stop, periods=r.bars)))
    size = sum(f.stat().st_size for f in board.returns_dir.iterdir())
    estimate = size * full.bars.sum() / sample.bars.sum()
    assert 1e6 < estimate < 15e6, f"{len(full)} results would take {estimate / 1e6:.1f} MB (reports/full/ has 30 MB in all)"


def test_the_readme_results_block_is_generated():
    tool = load_tool()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text == tool.replace_block(text, tool.results_markdown(FULL)), \
        "README.md's Results block is out of date: run `.venv/bin/python tools/readme_results.py`"
    block = text.split(tool.START)[1].split(tool.END)[0]
    summary = pd.read_csv(FULL / "leaderboard_summary.csv", index_col=0)
    for c, r in summary.iterrows():   # every contestant with its Sharpe and interval, as the file has them
        assert f"| {c}" in block and f"{r.sharpe:+.2f} [{r.sharpe_lo:+.2f}, {r.sharpe_hi:+.2f}]" in block, c


def test_the_generator_quotes_the_verdict_and_the_budget_curve_and_touches_nothing_else(tiny_study, tmp_path):
    tool = load_tool()
    block = tool.results_markdown(tiny_study)
    assert "> " + json.loads((tiny_study / "leaderboard_summary.json").read_text())["verdict"] in block
    assert "| contestant | kind |" in block and "| oracle (apart) | apart |" in block
    assert "Does budget matter" not in block
    (tmp_path / "r").mkdir()
    for f in ("leaderboard_summary.csv", "leaderboard_summary.json"): (tmp_path / "r" / f).write_text((tiny_study / f).read_text())
    (tmp_path / "r" / "budget_curve.md").write_text("PPO's excess Sharpe goes from -0.10 to +0.20.\n")
    assert block.count("\n") < tool.results_markdown(tmp_path / "r").count("\n")
    assert "**Does budget matter?** PPO's excess Sharpe goes from -0.10 to +0.20." in tool.results_markdown(tmp_path / "r")
    assert "Does alternative data help" not in tool.results_markdown(tmp_path / "r")
    pd.DataFrame({"contestant": ["ppo_exo", "canary_exo"], "benchmark": ["ppo", "buy_and_hold"], "excess_sharpe": [-0.3, 2.5],
                  "excess_lo": [-0.9, 1.7], "excess_hi": [0.31, 3.3], "psr": [0.17, 1.0], "results": [108, 108]}
                 ).to_csv(tmp_path / "r" / "exogenous.csv", index=False)
    (tmp_path / "r" / "exogenous.md").write_text("With VIX in the observation nothing changed.\n")
    exo = tool.results_markdown(tmp_path / "r")
    assert "| ppo_exo | ppo | -0.30 [-0.90, +0.31] | 0.170 | 108 |" in exo and "| canary_exo | buy_and_hold | +2.50 [+1.70, +3.30]" in exo
    assert exo.endswith("With VIX in the observation nothing changed.")
    readme = f"# T\nprose before\n{tool.START}\nold table\n{tool.END}\nprose after\n"
    assert tool.replace_block(readme, "new") == f"# T\nprose before\n{tool.START}\nnew\n{tool.END}\nprose after\n"
    with pytest.raises(ValueError, match="exactly one"): tool.replace_block("no markers", "new")
    path = tmp_path / "README.md"
    path.write_text(readme)
    assert tool.main(["--check", "--readme", str(path), "--reports-dir", str(tiny_study)]) == 1
    assert tool.main(["--readme", str(path), "--reports-dir", str(tiny_study)]) == 0
    assert tool.main(["--check", "--readme", str(path), "--reports-dir", str(tiny_study)]) == 0
    assert path.read_text().startswith("# T\nprose before\n") and path.read_text().endswith(f"{tool.END}\nprose after\n")


def test_algobot_study_passes_the_budget_curve_to_the_notebook(scratch_settings, monkeypatch, capsys):
    "`algobot-study --budget-curve [STEPS]` runs 19_study with `budgets` set (the notebook run itself is replaced here)."
    import algobot.pipeline as pipeline
    from algobot.pipeline import NotebookRun, study_main
    seen = []
    monkeypatch.setattr(pipeline, "run_notebook", lambda path, reports, params, prov=None:
                        seen.append((path.name, params)) or NotebookRun(path.stem, status="ok"))
    assert study_main(["--full", "--budget-curve"]) == 0
    assert study_main(["--budget-curve", "64,640", "-p", "budget_tasks=SP500_1d"]) == 0
    assert study_main([]) == 0
    assert [(n, p["budgets"], p["quick"], p.get("budget_tasks")) for n, p in seen] == [
        ("19_study.ipynb", "10000,40000,160000", False, None), ("19_study.ipynb", "64,640", True, "SP500_1d"),
        ("19_study.ipynb", None, True, None)]
    for bad in ("10k", "0,100", "100,100", ""):
        with pytest.raises(SystemExit) as e: study_main(["--budget-curve", bad])
        assert e.value.code == 2 and "distinct positive step counts" in capsys.readouterr().err


PORTFOLIO = ROOT / "reports" / "portfolio"


def test_the_committed_portfolio_run_is_complete_and_rebuilds_exactly():
    "The portfolio study's full run: ≥ 4 folds, ≥ 3 seeds per learned agent, every result's returns, both summaries rebuilt."
    board = Leaderboard(PORTFOLIO / "portfolio_leaderboard.csv")
    f = board.frame()
    assert board.missing_returns() == [] and f.fold.nunique() >= 4 and set(f.task) == {"SP500_20_1d"}
    learned = f[f.contestant.isin(["ppo_flat", "ppo_eiie", "sac"])]
    assert learned.groupby(["contestant", "fold"]).seed.nunique().min() >= 3 and learned.contestant.nunique() == 3
    for stem in ("portfolio_leaderboard_summary", "portfolio_eiie_vs_flat"):
        text, verdict = board.rebuild_summary(PORTFOLIO / f"{stem}.csv")
        assert text == (PORTFOLIO / f"{stem}.csv").read_text(), stem
        assert verdict == json.loads((PORTFOLIO / f"{stem}.json").read_text())["verdict"], stem
    s = pd.read_csv(PORTFOLIO / "portfolio_leaderboard_summary.csv", index_col="contestant")
    assert json.loads((PORTFOLIO / "portfolio_leaderboard_summary.json").read_text())["summarize"]["benchmark"] == "crp"
    assert s.excess_lo["canary"] > 0 and s.kind["canary"] == s.kind["bcrp"] == "apart"   # the harness sees an edge
    size = sum(p.stat().st_size for p in board.returns_dir.iterdir())
    assert size < 10e6, f"the portfolio run's returns take {size / 1e6:.1f} MB (budget 10 MB)"


def test_the_readme_portfolio_block_is_generated():
    tool = load_tool()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text == tool.generate(text, FULL, PORTFOLIO), "README.md is out of date: run `.venv/bin/python tools/readme_results.py`"
    block = text.split(tool.PSTART)[1].split(tool.PEND)[0]
    summary = pd.read_csv(PORTFOLIO / "portfolio_leaderboard_summary.csv", index_col=0)
    for c, r in summary.iterrows():
        assert f"| {c}" in block and f"{r.sharpe:+.2f} [{r.sharpe_lo:+.2f}, {r.sharpe_hi:+.2f}]" in block, c
    assert "What the EIIE extractor changed against the flat MLP" in block and "| contestant | kind |" in block
    for c in ("ppo_flat", "ppo_eiie", "sac"): assert f"| {c} | learned |" in block, c           # the agents are the trials
    for c in ("risk_parity", "hrp", "olmar"): assert f"| {c} | baseline |" in block, c        # the rules are not


def test_the_generator_writes_the_portfolio_block_only_between_its_markers(tmp_path):
    "A small portfolio leaderboard (crp, the two PPOs): the block quotes the paired EIIE sentence; --check sees a stale block."
    tool = load_tool()
    rng, d = np.random.default_rng(4), tmp_path / "p"
    board = Leaderboard(d / "portfolio_leaderboard.csv")
    for k in range(2):
        idx = pd.bdate_range("2020-01-01", periods=200) + pd.Timedelta(days=400 * k)
        crp = rng.normal(0.0004, 0.01, 200)
        for c, x in {"crp": crp, "ppo_flat": crp + rng.normal(-0.0005, 0.004, 200), "ppo_eiie": crp + rng.normal(0, 0.004, 200)}.items():
            for s in ((0,) if c == "crp" else (0, 1)):
                eq = np.r_[1.0, np.cumprod(1 + x)]
                board.add({"contestant": c, "task": "T_1d", "seed": s, "fold": k, "sharpe": x.mean() / x.std() * 252 ** 0.5,
                           "total_return": eq[-1] - 1, "max_drawdown": float(np.max(1 - eq / np.maximum.accumulate(eq))),
                           "sortino": 0.0, "turnover": 0.0, "bars": 200, "start": idx[0], "stop": idx[-1], "bars_per_year": 252.0},
                          pd.Series(x, idx))
    board.write_summary(d / "portfolio_leaderboard_summary.csv", benchmark="crp", apart=("canary", "bcrp"), n_boot=200)
    pair = board.write_summary(d / "portfolio_eiie_vs_flat.csv", benchmark="ppo_flat", n_boot=200)
    block = tool.portfolio_markdown(d)
    assert f"is {pair.excess_sharpe['ppo_eiie']:+.2f} (95% CI [{pair.excess_lo['ppo_eiie']:+.2f}, " in block
    assert "| ppo_eiie | learned |" in block
    readme = tmp_path / "README.md"
    readme.write_text(f"# T\n{tool.START}\nold\n{tool.END}\nbetween\n{tool.PSTART}\nold\n{tool.PEND}\nafter\n")
    args = ["--readme", str(readme), "--reports-dir", str(d.parent / "nowhere"), "--portfolio-dir", str(d)]
    with pytest.raises(FileNotFoundError): tool.main(["--check", *args])   # the Results block's files are needed too
    tiny_full = tmp_path / "full"
    tiny_full.mkdir()
    for f in ("leaderboard_summary.csv", "leaderboard_summary.json"):   # a Results block from the same small board
        (tiny_full / f).write_text((d / f"portfolio_{f}").read_text())
    args[3] = str(tiny_full)
    assert tool.main(["--check", *args]) == 1
    assert tool.main(args) == 0 and tool.main(["--check", *args]) == 0
    text = readme.read_text()
    assert "\nbetween\n" in text and text.endswith(f"{tool.PEND}\nafter\n") and block in text
    with pytest.raises(ValueError, match="exactly one <!-- portfolio:start -->"):
        tool.generate(f"{tool.START}\n{tool.END}\n{tool.PSTART}\n", tiny_full, d)


def test_algobot_study_portfolio_runs_the_portfolio_notebook(scratch_settings, monkeypatch, capsys):
    "`algobot-study --portfolio [--full]` runs 22_portfolio_study into REPORTS_DIR/portfolio[_quick] (the run is replaced here)."
    import algobot.pipeline as pipeline
    from algobot.pipeline import NotebookRun, study_main
    seen = []
    monkeypatch.setattr(pipeline, "run_notebook", lambda path, reports, params, prov=None:
                        seen.append((path.name, reports.name, params)) or NotebookRun(path.stem, status="ok"))
    assert study_main(["--portfolio", "--full"]) == 0 and study_main(["--portfolio", "--workers", "3"]) == 0
    assert [(n, r, p["quick"], p["workers"], "budgets" in p) for n, r, p in seen] == [
        ("22_portfolio_study.ipynb", "portfolio", False, None, False), ("22_portfolio_study.ipynb", "portfolio_quick", True, 3, False)]
    with pytest.raises(SystemExit) as e: study_main(["--portfolio", "--budget-curve"])
    assert e.value.code == 2 and "--budget-curve do(es) not apply" in capsys.readouterr().err
