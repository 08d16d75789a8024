"""Labeling benchmark: fast (numba) vs row-wise reference on the same synthetic bars, whole call and barrier scan alone, and the fast time on 1M bars.

    .venv/bin/python benchmarks/bench_labeling.py [--bars 20000] [--big 1000000] [--repeat 3]

Prints the timings and ratios measured side by side in this one run. Goals (issue 3): ratio >= 200x, 1M bars <= 1 s.
"""
from __future__ import annotations
import argparse, time

import numpy as np

from algobot.data import synthetic_ohlcv
from algobot.labeling import _labels_fast, _labels_reference, label_atr_barriers


def best_of(fn, repeat: int) -> float:
    "Best wall time of `repeat` calls."
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=20_000, help="bars for the fast-vs-reference comparison")
    ap.add_argument("--big", type=int, default=1_000_000, help="bars for the large fast run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    df = synthetic_ohlcv(a.bars, seed=a.seed)
    label_atr_barriers(df.iloc[:100])  # compile (or load the cached numba build) outside the timings
    fast = label_atr_barriers(df)
    ref = label_atr_barriers(df, method="reference")
    assert np.array_equal(fast.label.to_numpy(), ref.label.to_numpy()), "fast and reference labels differ"

    t_ref = best_of(lambda: label_atr_barriers(df, method="reference"), 1)
    t_fast = best_of(lambda: label_atr_barriers(df), a.repeat)
    cols = [fast[k].to_numpy() for k in ("high", "low", "sl_buy", "target_buy", "sl_sell", "target_sell")]
    c_ref = best_of(lambda: _labels_reference(*cols, -1, progress=False), 1)
    c_fast = best_of(lambda: _labels_fast(*cols, -1), a.repeat)
    big = synthetic_ohlcv(a.big, seed=a.seed + 1)
    t_big = best_of(lambda: label_atr_barriers(big), a.repeat)

    print(f"label_atr_barriers on {a.bars:,} synthetic bars (same data, labels identical):")
    print(f"  reference (row-wise Python): {t_ref:9.4f} s")
    print(f"  fast (numba):                {t_fast:9.4f} s")
    print(f"  speed-up fast/reference:     {t_ref / t_fast:9.1f} x   (goal >= 200x)")
    print(f"barrier scan only (same ATR/barrier columns given to both; excludes pandas-ta's ATR and the frame copy):")
    print(f"  reference: {c_ref:9.4f} s   fast: {c_fast:9.5f} s   speed-up: {c_ref / c_fast:7.1f} x")
    print(f"fast on {a.big:,} bars:            {t_big:9.4f} s   (goal <= 1 s) -> {a.big / t_big / 1e6:.1f} M bars/s")


if __name__ == "__main__":
    main()
