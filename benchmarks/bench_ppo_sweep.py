"""PPO default sweep for the batched training path (issue 11): throughput and sample efficiency of `train()` configurations
against the old single-env path, measured in one run on the same real task (SP500_1d).

For each configuration (name -> n_envs, SB3 keywords over `default_algo_kwargs`, torch threads):

* steps/s of one `train()` call of `--sps-steps` steps with one evaluation (`eval_freq=steps`, identical on every side;
  model building, the evaluation and the final test backtest count, as in benchmarks/bench_train.py), best of `--reps` calls
  interleaved over the configurations, over this process's CPU time (`time.process_time`: what a dedicated core gives;
  comparable across configurations with 1 torch thread only) and over wall time (disturbed by a shared machine's load);
* validation return (one deterministic full pass over the validation period, % of starting equity) after `--eff-steps`
  steps for seeds 0..`--seeds`-1, mean ± std, and the difference of means vs `old` with a Welch t 95% CI and a
  bootstrap 95% CI (10,000 resamples).

    .venv/bin/python benchmarks/bench_ppo_sweep.py [--configs old,d16,...] [--seeds 6] [--eff-steps 20000]
                                              [--sps-steps 40000] [--reps 2] [--no-eff] [--no-sps] [--list]
"""
from __future__ import annotations
import argparse, json, sys, tempfile, time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_train import ROOT, checks_on, val_return    # noqa: E402
from algobot.tasks import TradingTask, discover_tasks  # noqa: E402
from algobot.train import train                        # noqa: E402

# name -> (n_envs, algo_kwargs over default_algo_kwargs(n_envs), torch threads). Two keys are not SB3's: "fused" (Adam
# with fused=True) and "checks" (train() as it was before its speed-ups: torch.distributions' argument checks on, SB3's
# stock MlpPolicy instead of FastMlpPolicy): "old" and "e16_b128" are train() as it was, the single-env path and the
# previous batched default
CONFIGS: dict[str, tuple[int, dict, int]] = {
    "old":            (1,  {"checks": True}, 1),                    # n_steps 256, batch 64, 4 epochs, lr 3e-4
    "single":         (1,  {}, 1),                                  # today's n_envs=1 path (checks off)
    "default":        (16, {}, 1),                                  # train()'s default for n_envs=16 (as exported)
    "old_t2":         (1,  {"checks": True}, 2),
    "default_t2":     (16, {}, 2),
    "e16_b128":       (16, {"n_steps": 32, "batch_size": 128, "learning_rate": 3e-4, "checks": True}, 1),
    "e16_b128_nc":    (16, {"n_steps": 32, "batch_size": 128, "learning_rate": 3e-4}, 1),
    "e16_b64":        (16, {"n_steps": 32, "batch_size": 64, "learning_rate": 3e-4}, 1),    # old's update ratio
    "e16_b128_lr6":   (16, {"n_steps": 32, "batch_size": 128, "learning_rate": 6e-4}, 1),
    "e16_b128_lr1e3": (16, {"n_steps": 32, "batch_size": 128, "learning_rate": 1e-3}, 1),
    "e16_b256_lr3":   (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 3e-4}, 1),
    "e16_b256_lr42":  (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 4.2e-4}, 1), # sqrt lr scaling
    "e16_b256_lr6":   (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 6e-4}, 1),   # linear lr scaling
    "e16_b256_lr6_checks": (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 6e-4, "checks": True}, 1),
    "e16_b256_lr6_fused": (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 6e-4, "fused": True}, 1),
    "e16_b256_lr1e3": (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 1e-3}, 1),
    "e16_b512_lr1e3_fused": (16, {"n_steps": 32, "batch_size": 512, "learning_rate": 1e-3, "fused": True}, 1),
    "e16_b256_lr6_ep8": (16, {"n_steps": 32, "batch_size": 256, "learning_rate": 6e-4, "n_epochs": 8}, 1),
    "e16_n64_b256_lr6": (16, {"n_steps": 64, "batch_size": 256, "learning_rate": 6e-4}, 1),
    "e16_n128_b512_lr6": (16, {"n_steps": 128, "batch_size": 512, "learning_rate": 6e-4}, 1),
    "e8_n64_b128":    (8,  {"n_steps": 64, "batch_size": 128, "learning_rate": 3e-4}, 1),
    "e32_n16_b128":   (32, {"n_steps": 16, "batch_size": 128, "learning_rate": 3e-4}, 1),
    "e32_b256_lr3":   (32, {"n_steps": 32, "batch_size": 256, "learning_rate": 3e-4}, 1),
    "e32_b256_lr6":   (32, {"n_steps": 32, "batch_size": 256, "learning_rate": 6e-4}, 1),
    "e32_b512_lr1e3": (32, {"n_steps": 32, "batch_size": 512, "learning_rate": 1e-3}, 1),
    "e64_b512_lr1e3": (64, {"n_steps": 16, "batch_size": 512, "learning_rate": 1e-3}, 1),
    # the default's update schedule (512-step rollouts, 2 minibatches of 256, 4 epochs, lr 1e-3) from 32 envs × 16 steps:
    # half the policy calls per rollout, the same gradient work
    "e32_n16_b256_lr1e3": (32, {"n_steps": 16, "batch_size": 256, "learning_rate": 1e-3}, 1),
    "e32_n16_b256_lr1e3_fused": (32, {"n_steps": 16, "batch_size": 256, "learning_rate": 1e-3, "fused": True}, 1),
    "e64_n8_b256_lr1e3": (64, {"n_steps": 8, "batch_size": 256, "learning_rate": 1e-3}, 1),
    "default_ep3":    (16, {"n_epochs": 3}, 1),                                          # a quarter less gradient work
}


def kwargs_of(extra: dict) -> dict:
    "SB3 keywords: `fused` -> Adam(fused=True) through policy_kwargs (the default net_arch kept), `checks` dropped."
    kw = {k: v for k, v in extra.items() if k != "checks"}
    if not kw: return kw                                               # default_algo_kwargs as they are
    fused = {"optimizer_kwargs": {"fused": True}} if kw.pop("fused", False) else {}
    return {**kw, "policy_kwargs": {"net_arch": [64, 64], **fused}}


def run(task: TradingTask, name: str, steps: int, seed: int) -> tuple[float, float, object]:
    """Steps/s of one `train()` call (one evaluation) of configuration `name` over wall time and over this process's CPU
    time (the uncontended speed on a shared machine; with 1 torch thread), and the trained model."""
    n_envs, extra, threads = CONFIGS[name]
    old = extra.get("checks", False)                 # train() as it was: checks on, SB3's stock MlpPolicy
    with tempfile.TemporaryDirectory() as d, (checks_on() if old else nullcontext()):
        t0, c0 = time.perf_counter(), time.process_time()
        r = train(task, "ppo", steps, models_dir=d, seed=seed, n_envs=n_envs, eval_freq=steps, progress_bar=False,
                  algo_kwargs=kwargs_of(extra), torch_threads=threads, **({"policy": "MlpPolicy"} if old else {}))
        n = r.model.num_timesteps
        return n / (time.perf_counter() - t0), n / (time.process_time() - c0), r.model


def diff_ci(new: list[float], old: list[float], n_boot: int = 10_000) -> tuple[float, tuple, tuple, float]:
    "Difference of means new - old, its Welch t 95% CI, bootstrap 95% CI, and the Welch p-value."
    a, b = np.asarray(new), np.asarray(old)
    d = a.mean() - b.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    h = stats.t.ppf(0.975, dof) * se
    p = stats.ttest_ind(a, b, equal_var=False).pvalue
    rng = np.random.default_rng(0)
    boot = rng.choice(a, (n_boot, len(a))).mean(1) - rng.choice(b, (n_boot, len(b))).mean(1)
    return d, (d - h, d + h), tuple(np.percentile(boot, [2.5, 97.5])), float(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="SP500_1d")
    ap.add_argument("--configs", default="old,single,e16_b128,default,e16_b256_lr1e3,e16_n128_b512_lr6,e32_b256_lr6,"
                                         "e64_b512_lr1e3")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--eff-steps", type=int, default=20_000)
    ap.add_argument("--sps-steps", type=int, default=40_000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-eff", action="store_true")
    ap.add_argument("--no-sps", action="store_true")
    ap.add_argument("--cache", help="JSON file of validation returns by config|seed|steps, read and extended (training "
                    "is deterministic given the seed: reruns skip what is there)")
    ap.add_argument("--list", action="store_true", help="print the configurations and exit")
    a = ap.parse_args()
    if a.list:
        for k, v in CONFIGS.items(): print(f"{k:<20} n_envs {v[0]:<3} threads {v[2]}  {v[1]}")
        return
    names = [s.strip() for s in a.configs.split(",")]
    if "old" not in names: names.insert(0, "old")
    torch.set_num_threads(1)
    src = [t for t in discover_tasks(ROOT / "historical_data") if t.name == a.task][0]
    task = TradingTask(src)
    print(f"task {task.name}: {len(task.df)} bars; configs {names}", flush=True)
    sps: dict[str, float] = {}     # best CPU-time steps/s
    wall: dict[str, float] = {}    # best wall-time steps/s
    if not a.no_sps:
        run(task, names[-1], 2_048, 0)                    # warm-up (imports, torch kernels)
        for rep in range(a.reps):
            for n in names:
                w, c, _ = run(task, n, a.sps_steps, 0)
                sps[n], wall[n] = max(sps.get(n, 0.0), c), max(wall.get(n, 0.0), w)
                print(f"  sps rep {rep} {n:<20} wall {w:10,.0f}  cpu {c:10,.0f}", flush=True)
    eff: dict[str, list[float]] = {}
    cache = json.loads(Path(a.cache).read_text()) if a.cache and Path(a.cache).exists() else {}
    if not a.no_eff:
        for seed in range(a.seeds):
            for n in names:
                key = f"{n}|{seed}|{a.eff_steps}"
                if key not in cache: cache[key] = val_return(run(task, n, a.eff_steps, seed)[2], task)
                eff.setdefault(n, []).append(cache[key])
            if a.cache: Path(a.cache).write_text(json.dumps(cache, indent=0))
            print(f"  seed {seed}: " + "  ".join(f"{n} {eff[n][-1]:+.2f}" for n in names), flush=True)

    print(f"\n== PPO sweep, {task.name}: steps/s best of {a.reps} x {a.sps_steps:,} steps; validation return after "
          f"{a.eff_steps:,} steps, seeds 0..{a.seeds - 1} (% of equity) ==")
    print(f"{'config':<20} {'n_envs':>6} {'cpu st/s':>9} {'ratio':>7} {'wall st/s':>9} {'ratio':>7}  {'val return':>15}  {'diff vs old':>11}  "
          f"{'Welch 95% CI':>17}  {'bootstrap 95% CI':>17}  {'p':>5}  keywords")
    for n in names:
        n_envs, extra, threads = CONFIGS[n]
        s = (f"{sps[n]:9,.0f} {sps[n] / sps['old']:6.2f}x {wall[n]:9,.0f} {wall[n] / wall['old']:6.2f}x" if sps
             else f"{'':>9} {'':>7} {'':>9} {'':>7}")
        e = ""
        if eff:
            v = eff[n]
            e = f"{np.mean(v):+7.2f} ± {np.std(v, ddof=1):5.2f}"
            if n != "old":
                d, w, b, p = diff_ci(v, eff["old"])
                e += f"  {d:+11.2f}  [{w[0]:+6.2f}, {w[1]:+6.2f}]  [{b[0]:+6.2f}, {b[1]:+6.2f}]  {p:5.2f}"
            else: e += f"  {'':>11}  {'':>17}  {'':>17}  {'':>5}"
        print(f"{n:<20} {n_envs:>6} {s}  {e}  {extra}{'' if threads == 1 else f' threads {threads}'}")
    if eff:
        print("\nper-seed validation returns:")
        for n in names: print(f"  {n:<20} " + ", ".join(f"{x:+.2f}" for x in eff[n]))


if __name__ == "__main__":
    main()
