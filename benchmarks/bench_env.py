"""Environment benchmark, measured side by side in one run on the same real data (SP500_1d, window 32):

1. raw steps/s of algobot's TradingEnv, of its batched numpy version TradingVecEnv (n_envs episodes per call; steps
   counted per episode-step) and of gym-anytrading's StocksEnv under random actions, and the ratios (goal: >= 10x);
2. the share of SB3 PPO training time spent inside TradingEnv (reset + step), from a timing wrapper
   (issue goal: <= 10%).

    .venv/bin/python benchmarks/bench_env.py [--steps 200000] [--ppo-steps 20000] [--repeat 3]
"""
from __future__ import annotations
import argparse, time
from pathlib import Path

import gymnasium as gym
import numpy as np

from algobot.tasks import discover_tasks
from algobot.env import TradingEnv, TradingVecEnv

ROOT = Path(__file__).resolve().parents[1]


def steps_per_second(env: gym.Env, actions, n: int) -> float:
    "Raw env.step throughput under the given actions (resets included when episodes end)."
    env.reset(seed=0)
    t0 = time.perf_counter()
    for i in range(n):
        _, _, term, trunc, _ = env.step(actions[i])
        if term or trunc: env.reset()
    return n / (time.perf_counter() - t0)


class Timed(gym.Wrapper):
    "Accumulates wall time spent inside the wrapped env's reset and step."
    def __init__(self, env):
        super().__init__(env)
        self.seconds = 0.0

    def step(self, action):
        t0 = time.perf_counter(); out = self.env.step(action); self.seconds += time.perf_counter() - t0
        return out

    def reset(self, **kw):
        t0 = time.perf_counter(); out = self.env.reset(**kw); self.seconds += time.perf_counter() - t0
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--ppo-steps", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()

    from gym_anytrading.envs import StocksEnv
    df = discover_tasks(ROOT / "historical_data", only="SP500_1d")[0].load()
    window = 32
    rng = np.random.default_rng(0)
    ours = TradingEnv(df, window=window, episode="full")
    theirs = StocksEnv(df=df.rename(columns=str.capitalize), window_size=window, frame_bound=(window, len(df)))
    a3 = rng.integers(0, 3, a.steps)   # sell / hold / buy
    a2 = rng.integers(0, 2, a.steps)   # StocksEnv: sell / buy
    ours_sps = max(steps_per_second(ours, a3, a.steps) for _ in range(a.repeat))
    theirs_sps = max(steps_per_second(theirs, a2, a.steps) for _ in range(a.repeat))
    print(f"raw env.step throughput, random actions, SP500_1d ({len(df)} bars), window {window}, best of {a.repeat}:")
    print(f"  algobot TradingEnv (discrete):   {ours_sps:12,.0f} steps/s  ({1e6 / ours_sps:.2f} us/step)")
    print(f"  gym-anytrading StocksEnv:        {theirs_sps:12,.0f} steps/s  ({1e6 / theirs_sps:.2f} us/step)")
    print(f"  ratio TradingEnv / StocksEnv:    {ours_sps / theirs_sps:12.2f} x   (goal >= 10x)")
    for n in (64, 256, 1024):
        vec = TradingVecEnv(df, n_envs=n, window=window, seed=0)
        acts = rng.integers(0, 3, (256, n))
        calls = max(50, a.steps // n)
        best = 0.0
        for _ in range(a.repeat):
            vec.reset()
            t0 = time.perf_counter()
            for i in range(calls): vec.step(acts[i % 256])
            best = max(best, calls * n / (time.perf_counter() - t0))
        print(f"  TradingVecEnv, {n:4d} envs:        {best:12,.0f} steps/s  -> {best / theirs_sps:6.2f} x StocksEnv")

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv
    timed = Timed(TradingEnv(df, window=window))
    model = PPO("MlpPolicy", DummyVecEnv([lambda: timed]), n_steps=256, batch_size=64, n_epochs=4, seed=0,
                device="cpu", policy_kwargs={"net_arch": [64, 64]})
    t0 = time.perf_counter()
    model.learn(a.ppo_steps)
    total = time.perf_counter() - t0
    print(f"PPO ({a.ppo_steps:,} steps, MlpPolicy 64x64, n_steps 256, 4 epochs): {total:.1f} s in all, "
          f"{timed.seconds:.2f} s inside TradingEnv -> {timed.seconds / total:.1%} of training time   (goal <= 10%)")


if __name__ == "__main__":
    main()
