"""Training throughput benchmark (issue 11), measured side by side in one run on the same real task (SP500_1d):

1. PPO through `train()`: steps/s of `train()` as the issue measured it (the single-env path, `n_envs=1`, one
   TradingEnv, SB3's stock `MlpPolicy`, torch.distributions' argument checks on) vs the new default
   (`TradingTask.make_vec_env`: a batched TradingVecEnv, `FastMlpPolicy`), and the ratio (goal >= 8x); a second row
   compares the default with today's `n_envs=1` path, which shares this work's policy and evaluation speed-ups;
2. SAC and TQC through `train()`: old (`n_envs=1`) vs the new default (one gradient step per transition in both);
3. RL² (RecurrentPPO on trials of the bundled tasks): old settings (2 trial envs, n_steps 128, batch 128) vs the new
   `make_trial_vec_env` / `RL2_DEFAULTS` defaults (goal >= 4x);
4. the RLHF fine-tune (`rlhf_finetune`, combined reward, domain randomisation): `n_envs=1` vs its default;
5. sample efficiency: PPO's validation return (one deterministic full pass over the validation period, in % of
   starting equity) after the same number of steps, old vs new, for several seeds: mean ± std.

Steps/s is total environment steps over the wall time of the training call (evaluation and model building
included for `train()` and `rlhf_finetune`, which evaluate once), the best of `--reps` calls interleaved over the
sides. Torch runs on one thread, as in the notebook tests. Run it on an idle machine: load slows the old path more.

    .venv/bin/python benchmarks/bench_train.py [--quick] [--ppo-steps 40000] [--sac-steps 3000] [--rl2-steps 8192]
                                               [--rlhf-steps 4096] [--eff-steps 20000] [--seeds 3] [--reps 2]
                                               [--only ppo,sac,...]
"""
from __future__ import annotations
import argparse, tempfile, time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

import algobot.train as T
from algobot.metrics import backtest
from algobot.tasks import TradingTask, discover_tasks
from algobot.train import train

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("ppo", "sac", "tqc", "rl2", "rlhf", "eff")
OLD_RL2 = {"n_envs": 2, "n_steps": 128, "batch_size": 128}   # RL² before issue 11


@contextmanager
def checks_on(threads: int | None = 1):
    "train()'s `fast_torch` as it was when the issue measured it: torch threads set, distributions' checks left on."
    fast, before = T.fast_torch, torch.get_num_threads()

    @contextmanager
    def threads_only(n: int | None = 1):
        if n: torch.set_num_threads(n)
        try: yield
        finally: torch.set_num_threads(before)
    T.fast_torch = threads_only
    try: yield
    finally: T.fast_torch = fast


def train_sps(task: TradingTask, algo: str, steps: int, n_envs: int | None, seed: int = 0, issue_time: bool = False,
              **kw) -> tuple[float, object]:
    """Steps/s of one `train()` call (one evaluation) with `n_envs` (None: train's default), and its result.
    `issue_time`: SB3's stock MlpPolicy and the distributions' checks on, as train() ran when the issue measured it."""
    if n_envs is not None: kw["n_envs"] = n_envs
    if issue_time: kw["policy"] = "MlpPolicy"
    with tempfile.TemporaryDirectory() as d, (checks_on() if issue_time else nullcontext()):
        t0 = time.perf_counter()
        r = train(task, algo, steps, models_dir=d, seed=seed, eval_freq=steps, progress_bar=False, **kw)
        return r.model.num_timesteps / (time.perf_counter() - t0), r


def best_of(reps: int, *calls) -> list[float]:
    "Best steps/s of each zero-argument call over `reps` rounds, the calls interleaved within a round."
    best = [0.0] * len(calls)
    for _ in range(reps):
        for i, call in enumerate(calls): best[i] = max(best[i], call())
    return best


def rl2_sps(tasks: list[TradingTask], steps: int, old: bool) -> float:
    "Steps/s of RecurrentPPO.learn on RL² trials, old settings or the new defaults."
    from sb3_contrib import RecurrentPPO
    from algobot.rl2 import RL2_DEFAULTS, FastMlpLstmPolicy
    from algobot.trials import make_trial_vec_env
    n_envs = {"n_envs": OLD_RL2["n_envs"]} if old else {}
    venv = make_trial_vec_env(tasks, seed=0, **n_envs)
    kw = {**RL2_DEFAULTS, **({k: OLD_RL2[k] for k in ("n_steps", "batch_size")} if old else {})}
    model = RecurrentPPO("MlpLstmPolicy" if old else FastMlpLstmPolicy, venv, seed=0, device="cpu", verbose=0, **kw)
    t0 = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - t0)


def rlhf_sps(task: TradingTask, steps: int, n_envs: int | None) -> float:
    "Steps/s of one `rlhf_finetune` call from a freshly initialised PPO policy (the BC stand-in), zero reward model."
    from stable_baselines3 import PPO
    from algobot.rewards import DEFAULT_WEIGHTS
    from algobot.rlhf import rlhf_finetune
    from algobot.train import default_algo_kwargs
    kw = {} if n_envs is None else {"n_envs": n_envs}
    with tempfile.TemporaryDirectory() as d:
        PPO("MlpPolicy", task.make_env("train"), seed=0, device="cpu", **default_algo_kwargs("ppo", 10_000)).save(f"{d}/bc.zip")
        t0 = time.perf_counter()
        r = rlhf_finetune(task, f"{d}/bc.zip", None, DEFAULT_WEIGHTS, f"{d}/rlhf", steps, seed=0, **kw)
        return r.model.num_timesteps / (time.perf_counter() - t0)


def val_return(model, task: TradingTask) -> float:
    "Sum of rewards of one deterministic full pass over the validation period (% of starting equity)."
    return float(backtest(model, task.make_env("val")).steps.reward.sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="SP500_1d")
    ap.add_argument("--ppo-steps", type=int, default=40_000)
    ap.add_argument("--sac-steps", type=int, default=3_000)
    ap.add_argument("--rl2-steps", type=int, default=8_192)
    ap.add_argument("--rlhf-steps", type=int, default=4_096)
    ap.add_argument("--eff-steps", type=int, default=20_000, help="PPO steps per run for the sample-efficiency check")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2, help="throughput: best of this many interleaved calls per side")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run; ratios are noisier)")
    a = ap.parse_args()
    if a.quick: a.ppo_steps, a.sac_steps, a.rl2_steps, a.rlhf_steps, a.eff_steps = 8_192, 1_024, 2_048, 1_024, 4_096
    only = {s.strip() for s in a.only.split(",")}
    torch.set_num_threads(1)
    sources = discover_tasks(ROOT / "historical_data")
    task = TradingTask([t for t in sources if t.name == a.task][0])
    print(f"task {task.name}: {len(task.df)} bars, train period {task.periods['train']}")
    rows = []

    def row(what: str, old: float, new: float, goal: str = "") -> None:
        rows.append((what, old, new, new / old, goal))
        print(f"  {what:<30} old {old:10,.0f}  new {new:10,.0f}  ratio {new / old:6.2f}x  {goal}", flush=True)

    if "ppo" in only:
        train_sps(task, "ppo", 2_048, None)                                    # warm-up: imports, first torch kernels
        issue, single, new = best_of(a.reps, lambda: train_sps(task, "ppo", a.ppo_steps, 1, issue_time=True)[0],
                                     lambda: train_sps(task, "ppo", a.ppo_steps, 1)[0],
                                     lambda: train_sps(task, "ppo", a.ppo_steps, None)[0])
        row("PPO train() steps/s", issue, new, "goal >= 8x (old: train() as the issue measured it)")
        row("PPO vs today's n_envs=1", single, new, "(both with this work's policy and evaluation)")
    for algo in ("sac", "tqc"):
        if algo in only:
            row(f"{algo.upper()} train() steps/s", *best_of(a.reps, lambda: train_sps(task, algo, a.sac_steps, 1)[0],
                                                           lambda: train_sps(task, algo, a.sac_steps, None)[0]))
    if "rl2" in only:
        tasks = [TradingTask(t) for t in sources[:8]]
        row("RL2 RecurrentPPO steps/s", *best_of(a.reps, lambda: rl2_sps(tasks, a.rl2_steps, old=True),
                                                  lambda: rl2_sps(tasks, a.rl2_steps, old=False)), "goal >= 4x")
    if "rlhf" in only:
        row("RLHF rlhf_finetune steps/s", *best_of(a.reps, lambda: rlhf_sps(task, a.rlhf_steps, 1),
                                                    lambda: rlhf_sps(task, a.rlhf_steps, None)))
    eff = None
    if "eff" in only:
        eff = {"old (n_envs=1)": [], "new (default)": []}
        for seed in range(a.seeds):
            for key, n in (("old (n_envs=1)", 1), ("new (default)", None)):
                eff[key].append(val_return(train_sps(task, "ppo", a.eff_steps, n, seed)[1].model, task))
            print(f"  seed {seed}: validation return old {eff['old (n_envs=1)'][-1]:+.2f}  new {eff['new (default)'][-1]:+.2f}",
                  flush=True)

    print(f"\n== training throughput, {task.name}, torch 1 thread (old = before issue 11, new = default) ==")
    print(f"{'':<30} {'old':>10} {'new':>10} {'ratio':>8}")
    for what, old, new, ratio, goal in rows: print(f"{what:<30} {old:10,.0f} {new:10,.0f} {ratio:7.2f}x  {goal}")
    if eff:
        print(f"\n== sample efficiency: PPO validation return after {a.eff_steps:,} steps (% of equity, full pass), "
              f"seeds 0..{a.seeds - 1} ==")
        for key, v in eff.items():
            print(f"{key:<16} {np.mean(v):+7.2f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:5.2f}   "
                  f"({', '.join(f'{x:+.2f}' for x in v)})")


if __name__ == "__main__":
    main()
