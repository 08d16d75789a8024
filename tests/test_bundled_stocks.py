"""historical_data/stocks/: bokeh-sampledata's daily AAPL, GOOG, IBM, MSFT (Quandl WIKI, public domain), split-adjusted
by tools/import_sample_data.py. The files read and validate, hold the bars and spans historical_data/README.md states,
carry no split jump, match the SHA-256 the README lists, stay out of the default (top-level) task discovery, and read as
a task folder and as a folder universe with GOOG named as a late listing."""
import hashlib, re

import numpy as np
import pytest

from algobot.allocation import read_universe
from algobot.data import read_ohlcv
from algobot.tasks import discover_tasks
from helpers import ROOT

STOCKS = ROOT / "historical_data" / "stocks"
README = ROOT / "historical_data" / "README.md"
# symbol -> (bars, first day, last day), as stated in historical_data/README.md
SPANS = {"AAPL": (3270, "2000-03-01", "2013-03-01"), "GOOG": (2148, "2004-08-19", "2013-03-01"),
         "IBM": (3270, "2000-03-01", "2013-03-01"), "MSFT": (3270, "2000-03-01", "2013-03-01")}
# the splits inside the span: unadjusted, each is a one-day |log return| of ~ln 2 (0.60, 0.69, 0.66 in the source)
SPLITS = {"AAPL": ("2000-06-21", "2005-02-28"), "MSFT": ("2003-02-18",)}
# real one-day moves above 0.4 that must stay: AAPL's profit warning, close 53.50 -> 25.75 in the source
REAL_CRASHES = {("AAPL", "2000-09-29")}


def _log_returns(sym: str):
    df = read_ohlcv(STOCKS / f"{sym}_1d.csv")
    return df["timestamp"].dt.strftime("%Y-%m-%d").to_numpy()[1:], np.abs(np.diff(np.log(df["close"].to_numpy())))


def test_folder_holds_exactly_the_stated_files():
    assert sorted(p.name for p in STOCKS.iterdir() if p.suffix in (".csv", ".parquet")) == [f"{s}_1d.csv" for s in sorted(SPANS)]


@pytest.mark.parametrize("sym", sorted(SPANS))
def test_reads_with_the_stated_bars_and_span(sym):
    df = read_ohlcv(STOCKS / f"{sym}_1d.csv")   # validates: positive prices, low <= open, close <= high, sorted, unique
    bars, first, last = SPANS[sym]
    assert (len(df), str(df["timestamp"].iloc[0].date()), str(df["timestamp"].iloc[-1].date())) == (bars, first, last)
    assert df.attrs["source_mapping"]["layout"] == "algobot"
    assert (df["volume"] > 0).all()


def test_no_split_jump_remains():
    big = set()
    for sym in SPANS:
        days, lr = _log_returns(sym)
        big |= {(sym, d) for d in days[lr > 0.4]}
        for d in SPLITS.get(sym, ()):
            assert d in days, f"{sym}: split day {d} missing"
            assert lr[days == d][0] < 0.15, f"{sym} {d}: |log return| {lr[days == d][0]:.3f} — the split is not adjusted"
    assert big == REAL_CRASHES, f"|log return| > 0.4 on {sorted(big)}; expected only the real crash {sorted(REAL_CRASHES)}"


def test_readme_lists_each_files_sha256():
    text = README.read_text(encoding="utf-8")
    for sym in SPANS:
        path = STOCKS / f"{sym}_1d.csv"
        m = re.search(rf"\| `stocks/{sym}_1d\.csv` \| `([0-9a-f]{{64}})` \|", text)
        assert m, f"historical_data/README.md lists no SHA-256 for stocks/{sym}_1d.csv"
        assert m[1] == hashlib.sha256(path.read_bytes()).hexdigest(), f"{path.name} changed; update the README's SHA-256"


def test_default_discovery_does_not_recurse_into_stocks():
    top = discover_tasks(ROOT / "historical_data")
    assert top and all(t.path.parent == ROOT / "historical_data" for t in top)
    assert not {t.instrument for t in top} & set(SPANS)


def test_stocks_folder_as_tasks():
    tasks = discover_tasks(STOCKS)
    assert [t.name for t in tasks] == [f"{s}_{tf}" for s in sorted(SPANS) for tf in ("1d", "1w")]


def test_stocks_folder_as_universe_names_goog_late():
    u = read_universe(STOCKS)
    report = u.attrs["universe"]
    assert sorted(u.columns) == sorted(SPANS)
    assert report["late_start"] == {"GOOG": "2004-08-19"} and report["early_end"] == {} and report["gaps"] == {}
    assert (report["rows_in"], report["rows_kept"]) == (3270, 2148) == (3270, len(u))
    assert str(u.index[0].date()) == "2004-08-19" and u.notna().all().all()
