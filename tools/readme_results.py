"""Write the README's generated Results block from the committed study files, or check that it is up to date.

    .venv/bin/python tools/readme_results.py            # rewrite README.md between the markers from reports/full/
    .venv/bin/python tools/readme_results.py --check    # exit 1 (and show the difference) if README.md is out of date

The block between `<!-- results:start -->` and `<!-- results:end -->` is generated, and so is the one between
`<!-- portfolio:start -->` and `<!-- portfolio:end -->` (if the README has those markers); nothing outside them is touched.
It quotes, from the reports folder:
- `leaderboard_summary.csv` (written by `Leaderboard.write_summary` in 19_study): a table of the columns of `COLUMNS`
  that the file has, in that order (a column the file lacks is left out, so a summary with more or fewer columns
  still renders; add a column here to show it);
- `leaderboard_summary.json` (written beside it): the verdict, verbatim, and the summary's confidence level;
- `budget_curve.md` and `budget_curve.png` (written by the study's budget curve, `algobot-study --budget-curve`), if
  there: the budget curve's sentence, verbatim, and its plot;
- `exogenous.csv` and `exogenous.md` (written by the study when it ran contestants with exogenous series), if there:
  the paired comparisons (`ppo_exo` − `ppo`, `rl2_exo` − `rl2`, the exogenous canary − buy & hold) and the sentence.
The portfolio block quotes, from `reports/portfolio/` (written by `22_portfolio_study`, `algobot-study --portfolio --full`):
- `portfolio_leaderboard_summary.csv` / `.json`: the same table (its `kind` column: the allocation rules are
  `baseline`, the agents `learned`) and verdict;
- `portfolio_eiie_vs_flat.csv` (the summary with ppo_flat as the benchmark): a sentence on what the EIIE extractor
  changed against the flat MLP at the same budget, paired by fold and seed, and the difference of their excess Sharpe;
- `portfolio_wealth.png` and `portfolio_ci.png`, if there.
`tests/test_study_rebuild.py` checks that README.md holds exactly what this script generates.
"""
from __future__ import annotations
import argparse, difflib, json, math, sys
from pathlib import Path

import pandas as pd

from algobot.config import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results:start -->", "<!-- results:end -->"
PSTART, PEND = "<!-- portfolio:start -->", "<!-- portfolio:end -->"

# (column, its interval's low and high columns or None, header ({level}: the confidence level), format)
COLUMNS = [
    ("kind", None, "kind", "text"),
    ("sharpe", ("sharpe_lo", "sharpe_hi"), "annualised Sharpe [{level} CI]", "signed"),
    ("excess_sharpe", ("excess_lo", "excess_hi"), "excess Sharpe vs {benchmark} [{level} CI]", "signed"),
    ("excess_weighted", ("excess_weighted_lo", "excess_weighted_hi"), "calendar-weighted excess Sharpe [{level} CI]", "signed"),
    ("sharpe_diff", None, "Sharpe − {benchmark}'s", "signed"),
    ("annual_return", None, "annual return", "percent"),
    ("worst_drawdown", None, "worst drawdown", "unsigned_percent"),
    ("total_return", None, "total return", "percent"),          # summaries written before annual_return
    ("max_drawdown", None, "max drawdown", "unsigned_percent"),  # ... and worst_drawdown
    ("psr", None, "PSR", "fraction"),
    ("dsr", None, "DSR", "fraction"),
    ("mean_rank", None, "mean rank", "rank"),
    ("results", None, "results", "count"),
]


def _fmt(v, how: str) -> str:
    if isinstance(v, float) and math.isnan(v): return ""
    return {"text": lambda: str(v), "signed": lambda: f"{v:+.2f}", "percent": lambda: f"{v:+.1%}",
            "unsigned_percent": lambda: f"{v:.1%}", "fraction": lambda: f"{v:.2f}", "rank": lambda: f"{v:.1f}",
            "count": lambda: f"{int(v)}"}[how]()


def _is_apart(summary: pd.DataFrame, c: str) -> bool:
    "Shown apart (a ceiling): `kind` 'apart', or the `apart` flag of summaries written before the `kind` column."
    if "kind" in summary: return summary.at[c, "kind"] == "apart"
    return "apart" in summary and str(summary.at[c, "apart"]) == "True"


def results_markdown(reports_dir: Path, link_base: str = "reports/full",
                     stem: str = "leaderboard",   # the summary is `<stem>_summary.csv` with its record `<stem>_summary.json`
                    ) -> str:
    "The generated block (without the markers): the summary table, the verdict and the budget curve, from `reports_dir`."
    summary = pd.read_csv(reports_dir / f"{stem}_summary.csv", index_col=0)
    rec_path = reports_dir / f"{stem}_summary.json"
    record = json.loads(rec_path.read_text()) if rec_path.exists() else None
    args = (record or {}).get("summarize", {})
    level, benchmark = f"{args.get('level', 0.95):.0%}", args.get("benchmark", "buy_and_hold")
    cols = [c for c in COLUMNS if c[0] in summary and (c[1] is None or all(x in summary for x in c[1]))]
    head = ["contestant"] + [h.format(level=level, benchmark=benchmark) for _, _, h, _ in cols]
    lines = [f"*Generated by `tools/readme_results.py` from [`{link_base}/{stem}_summary.csv`]"
             f"({link_base}/{stem}_summary.csv); do not edit by hand.*", "",
             "| " + " | ".join(head) + " |", "|---|" + "".join("---:|" for _ in cols)]
    for c, r in summary.iterrows():
        cells = [f"{c} (apart)" if _is_apart(summary, c) else str(c)]
        for col, ci, _, how in cols:
            cell = _fmt(r[col], how)
            if ci and cell: cell += f" [{_fmt(r[ci[0]], how)}, {_fmt(r[ci[1]], how)}]"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    if {"dsr_threshold", "n_trials"} <= set(summary.columns):
        lines += ["", f"DSR threshold (the Sharpe the best of the trials would show by luck alone): "
                      f"{summary.dsr_threshold.iloc[0]:.2f} over N = {int(summary.n_trials.iloc[0])} trials."]
    lines.append("")
    if record is not None:
        lines += ["The verdict the study wrote from these numbers (`verdict`, recorded in "
                  f"[`{stem}_summary.json`]({link_base}/{stem}_summary.json)):", "", "> " + record["verdict"]]
    else:
        lines.append(f"This summary has no recorded verdict: it was written before `Leaderboard.write_summary` (which "
                     f"records the verdict in `leaderboard_summary.json`), so the verdict of this run is not quoted here; "
                     f"the next full run writes one.")
    if (reports_dir / "budget_curve.md").exists():
        lines += ["", "**Does budget matter?** " + (reports_dir / "budget_curve.md").read_text().strip()]
        if (reports_dir / "budget_curve.png").exists():
            lines += ["", f"![The budget curve]({link_base}/budget_curve.png)"]
    if (reports_dir / "exogenous.csv").exists() and (reports_dir / "exogenous.md").exists():
        exo = pd.read_csv(reports_dir / "exogenous.csv")
        lines += ["", f"**Does alternative data help?** Paired by task, fold and seed ([`exogenous.csv`]({link_base}/exogenous.csv)):", "",
                  f"| contestant | against | Sharpe of the excess returns [{level} CI] | PSR | results |", "|---|---|---:|---:|---:|"]
        lines += [f"| {r.contestant} | {r.benchmark} | {r.excess_sharpe:+.2f} [{r.excess_lo:+.2f}, {r.excess_hi:+.2f}] | "
                  f"{r.psr:.3f} | {int(r.results)} |" for r in exo.itertuples()]
        lines += ["", (reports_dir / "exogenous.md").read_text().strip()]
    return "\n".join(lines)


def portfolio_markdown(reports_dir: Path, link_base: str = "reports/portfolio") -> str:
    """The portfolio block (without the markers): the portfolio study's table and verdict (`results_markdown`), what EIIE
    changed against the flat MLP, and the plots, from `reports_dir`."""
    lines = [results_markdown(reports_dir, link_base, stem="portfolio_leaderboard")]
    pair_path = reports_dir / "portfolio_eiie_vs_flat.csv"
    if pair_path.exists():
        pair = pd.read_csv(pair_path, index_col=0).loc["ppo_eiie"]
        s = pd.read_csv(reports_dir / "portfolio_leaderboard_summary.csv", index_col=0)
        diff = s.excess_sharpe["ppo_eiie"] - s.excess_sharpe["ppo_flat"]
        level = f"{json.loads(pair_path.with_suffix('.json').read_text())['summarize']['level']:.0%}"
        where = ("above zero: EIIE did better" if pair.excess_lo > 0 else "below zero: EIIE did worse" if pair.excess_hi < 0
                 else "includes zero: no difference is measured")
        lines += ["", f"**What the EIIE extractor changed against the flat MLP at the same budget** (the same PPO, env and "
                      f"steps; paired by fold and seed, from [`portfolio_eiie_vs_flat.csv`]({link_base}/portfolio_eiie_vs_flat.csv)): "
                      f"the Sharpe of ppo_eiie's returns minus ppo_flat's, bar by bar, is {pair.excess_sharpe:+.2f} "
                      f"({level} CI [{pair.excess_lo:+.2f}, {pair.excess_hi:+.2f}], PSR {pair.psr:.2f}) — the interval {where}; "
                      f"the difference of their excess Sharpe ratios over crp is {s.excess_sharpe['ppo_eiie']:+.2f} − "
                      f"({s.excess_sharpe['ppo_flat']:+.2f}) = {diff:+.2f}."]
    for png, alt in (("portfolio_wealth.png", "Wealth per contestant over the test blocks"),
                     ("portfolio_ci.png", "Sharpe of the excess returns over crp, with intervals")):
        if (reports_dir / png).exists(): lines += ["", f"![{alt}]({link_base}/{png})"]
    return "\n".join(lines)


def replace_block(text: str, block: str, start: str = START, end: str = END) -> str:
    "`text` with what lies between the markers `start` and `end` replaced by `block` (on lines of their own)."
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"the README needs exactly one {start} followed by one {end}")
    before, rest = text.split(start)
    return before + start + "\n" + block + "\n" + end + rest.split(end, 1)[1]


def generate(text: str, reports_dir: Path, portfolio_dir: Path) -> str:
    "`text` with its Results block, and its portfolio block if it has the markers (`PSTART` or `PEND`), generated."
    text = replace_block(text, results_markdown(reports_dir))
    if PSTART in text or PEND in text: text = replace_block(text, portfolio_markdown(portfolio_dir), PSTART, PEND)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md differs from what would be generated")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--reports-dir", type=Path, default=ROOT / "reports" / "full")
    ap.add_argument("--portfolio-dir", type=Path, default=ROOT / "reports" / "portfolio")
    a = ap.parse_args(argv)
    old = a.readme.read_text(encoding="utf-8")
    new = generate(old, a.reports_dir, a.portfolio_dir)
    if a.check:
        if old == new: return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(a.readme), "generated"))
        print(f"{a.readme} is out of date: run tools/readme_results.py", file=sys.stderr)
        return 1
    if old != new: atomic_write_text(a.readme, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
