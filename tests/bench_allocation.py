"""Time of every allocation baseline (21_allocation) over the whole bundled universe: skfolio's 20 S&P 500 stocks,
8,313 daily closes 1990-2022, at rebalance 1 and 5 (fee 0.25%, window 252, skfolio refits every 21 bars).

Run: PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python tests/bench_allocation.py [--strategies a,b] [--rebalance 1,5]
Prints one row per strategy: seconds at each rebalance period, the number of skfolio fits (fitted rules) and the final
wealth as a sanity check. skfolio and its solvers are imported and warmed up by one fit of each fitted rule before the
clock starts. Wall-clock times on a shared machine: the load average is printed with them. Not a pytest file.
"""
import argparse
import os
import platform
import time

import numpy as np
import pandas as pd

from algobot.allocation import allocation_baselines, read_universe, run_allocation


class Counted:
    "A fitted rule whose optimiser factory counts the fits."
    def __init__(self, fitted):
        self.fitted, self.fits = fitted, 0
        make = fitted.make
        def counting():
            self.fits += 1
            return make()
        fitted.make = counting

    def __call__(self, prices, memory): return self.fitted(prices, memory)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategies", help="comma separated (default: all)")
    ap.add_argument("--rebalance", default="1,5", help="comma-separated rebalance periods (default %(default)s)")
    a = ap.parse_args(argv)
    prices = read_universe("sp500")
    names = a.strategies.split(",") if a.strategies else list(allocation_baselines())
    periods = [int(k) for k in a.rebalance.split(",")]
    for name, s in allocation_baselines().items():            # warm-up: imports, solver set-up
        if hasattr(s, "make"): s(prices.to_numpy()[:253], {"last": None, "step": 252})
    print(f"{prices.shape[0]} rows x {prices.shape[1]} assets, {prices.index[0].date()} .. {prices.index[-1].date()}; "
          f"window 252, refit 21, fee 0.0025; {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    rows = []
    for name in names:
        row = {"strategy": name}
        for k in periods:
            s = allocation_baselines()[name]                   # a fresh strategy per run
            s = Counted(s) if hasattr(s, "make") else s
            t0 = time.perf_counter()
            run = run_allocation(prices, s, fee=0.0025, rebalance=k, window=252, name=name)
            row[f"seconds_k{k}"] = time.perf_counter() - t0
            row[f"fits_k{k}"] = getattr(s, "fits", 0)
            row[f"final_wealth_k{k}"] = run.wealth.iloc[-1]
        rows.append(row)
        print("  " + ", ".join(f"{key} {v:.4g}" if isinstance(v, float) else f"{key} {v}" for key, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\ntotal {sum(v for r in rows for key, v in r.items() if key.startswith('seconds')):.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
