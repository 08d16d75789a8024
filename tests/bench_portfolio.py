"""Throughput and memory of the portfolio environment (issue 23 item 5): env steps per second of one `PortfolioEnv`
and of a `PortfolioVecEnv` stepping 8 episodes at once, at 20 and 100 assets, and the peak memory each allocates
(tracemalloc: while the environment is built — features included — and, above that, while it steps), printed
side by side.

Then, in the same run, the time of every allocation baseline over the whole bundled universe (`bench_allocation.py`:
skfolio's 20 stocks, 8,313 closes, at rebalance 1 and 5); `--no-baselines` leaves that out.

A script, not a test: `PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python tests/bench_portfolio.py [--bars 2000] [--seconds 3]`.
Speed and memory are measured in separate passes (tracemalloc slows Python down)."""
import argparse, time, tracemalloc

import numpy as np
import pandas as pd

from algobot.portfolio import PortfolioEnv, PortfolioVecEnv


def prices(n_bars: int, n_assets: int, seed: int = 0) -> pd.DataFrame:
    "Geometric random walks, daily bars."
    rng = np.random.default_rng(seed)
    r = 0.0003 + 0.015 * rng.standard_normal((n_bars, n_assets))
    return pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), columns=[f"S{i}" for i in range(n_assets)],
                        index=pd.date_range("2000-01-01", periods=n_bars, freq="D"))


def single_stepper(frame: pd.DataFrame, **kw):
    "Build a PortfolioEnv; return `run(steps)`, which steps it `steps` times with random actions (resetting at episode ends)."
    env = PortfolioEnv(frame, **kw)
    actions = np.random.default_rng(1).uniform(-1, 1, (256, *env.action_space.shape)).astype(np.float32)
    env.reset(seed=0)
    def run(steps: int) -> None:
        for k in range(steps):
            *_, term, trunc, _ = env.step(actions[k % 256])
            if term or trunc: env.reset()
    return run


def vec_stepper(frame: pd.DataFrame, n_envs: int = 8, **kw):
    "Build a PortfolioVecEnv; return `run(steps)`: `steps` env steps in all, steps // n_envs batched steps."
    vec = PortfolioVecEnv(frame, n_envs=n_envs, seed=0, **kw)
    actions = np.random.default_rng(1).uniform(-1, 1, (256, n_envs, *vec.action_space.shape)).astype(np.float32)
    vec.reset()
    def run(steps: int) -> None:
        for k in range(steps // n_envs): vec.step(actions[k % 256])
    return run


def rate(make, frame, seconds: float, **kw) -> float:
    "Env steps per second (construction not timed), steps doubled until a run lasts `seconds`."
    run = make(frame, **kw)
    run(64)
    steps = 256
    while True:
        t0 = time.perf_counter(); run(steps); dt = time.perf_counter() - t0
        if dt >= seconds: return steps / dt
        steps *= 2


def peaks_mib(make, frame, steps: int, **kw) -> tuple[float, float]:
    "Peak traced memory (MiB) while building the env (features included), and while it then runs `steps` env steps."
    tracemalloc.start()
    try:
        run = make(frame, **kw)
        build = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run(steps)
        return build / 2**20, (tracemalloc.get_traced_memory()[1] - base) / 2**20
    finally: tracemalloc.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bars", type=int, default=2000, help="bars of the synthetic universe")
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timed run per cell")
    ap.add_argument("--window", type=int, default=32)
    ap.add_argument("--no-baselines", action="store_true", help="leave out the allocation baselines' timing")
    args = ap.parse_args()
    kw = dict(window=args.window, episode_bars=256)
    rows = []
    for n_assets in (20, 100):
        frame = prices(args.bars, n_assets)
        single, vec = rate(single_stepper, frame, args.seconds, **kw), rate(vec_stepper, frame, args.seconds, **kw)
        (sb, ss), (vb, vs) = peaks_mib(single_stepper, frame, 512, **kw), peaks_mib(vec_stepper, frame, 512, **kw)
        rows.append({"assets": n_assets, "single steps/s": round(single), "vec n=8 env steps/s": round(vec),
                     "speed-up": round(vec / single, 1), "build MiB single": round(sb, 2), "build MiB vec": round(vb, 2),
                     "stepping MiB single": round(ss, 3), "stepping MiB vec": round(vs, 3)})
        print(rows[-1], flush=True)
    print(f"\nPortfolioEnv vs PortfolioVecEnv(n_envs=8): {args.bars} bars, window {args.window}, 2 features, "
          f"episodes of 256 steps; peak memory (tracemalloc) while building the env "
          f"and, above what the built env holds, while it runs 512 env steps\n")
    print(pd.DataFrame(rows).to_string(index=False))
    if not args.no_baselines:
        import bench_allocation   # beside this file (tests/ is on the path when this script runs)
        print("\nThe allocation baselines over the bundled universe:\n", flush=True)
        bench_allocation.main([])


if __name__ == "__main__":
    main()
