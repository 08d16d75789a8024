"""Throughput and memory of RL² training: SB3 RecurrentPPO vs RLlib PPO (issue 11), side by side in one run, each
configuration in a fresh process whose whole process tree (Ray's raylet and workers included) is sampled with psutil.

1. Same RL² budget (`--steps` env steps over `--tasks` synthetic tasks of `--bars` bars, chunks of `--chunk-size`):
   env steps/s, wall time and peak memory for SB3 (`train_rl2_chunked`) at its default 16 trial envs and at the old
   2, and RLlib with 16 trial envs in total: sampled in the driver (0 env runners), by 1 runner x 16 envs and by
   2 runners x 8 envs (`num_envs_per_env_runner`). RLlib gets SB3's update work per env step (train batch 512 = SB3's
   16 x 32 rollout, minibatch 256, 4 epochs: 8 gradient steps per 512 env steps). The RLlib runs also report the
   sampling and learner-update time per iteration (RLlib's own timers), the inputs of the scaling model in
   nbs/07b_rl2_rllib.ipynb.
2. `--bars 500000 --tasks 64`: data at scale, few steps per chunk; peak memory per chunk for SB3 (16 envs) and RLlib
   (0 runners, and 1 runner x 16 envs), growth after the first chunk (goal: peak <= 2.5 GB, growth <= 5%) and what
   loading all tasks at once would take.

    .venv/bin/python benchmarks/bench_scale.py                               # 1.
    .venv/bin/python benchmarks/bench_scale.py --bars 500000 --tasks 64 --chunk-size 8 --steps 2048   # 2.
    .venv/bin/python benchmarks/bench_scale.py --configs rllib0,rllib1 ...   # a subset of the configurations

Memory is reported as the sum over the process tree of RSS (counts shared pages once per process: an upper bound)
and of PSS (shares them out: what the tree really costs). Both are sampled every 0.2 s.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time

import psutil

SCALE_BARS = 100_000   # from this many bars per task on, run the data-at-scale report instead of the throughput one
# name -> (label, backend, env runners, trial envs per runner, or SB3's n_envs)
CONFIGS = {"sb3": ("SB3 RecurrentPPO, 16 envs (default)", "sb3", 0, 16),
           "sb3x2": ("SB3 RecurrentPPO, 2 envs (old)", "sb3", 0, 2),
           "rllib0": ("RLlib PPO, 0 runners (driver) x 16 envs", "rllib", 0, 16),
           "rllib1": ("RLlib PPO, 1 runner x 16 envs", "rllib", 1, 16),
           "rllib2": ("RLlib PPO, 2 runners x 8 envs", "rllib", 2, 8)}
SPEED, SCALE = ["sb3", "sb3x2", "rllib0", "rllib1", "rllib2"], ["sb3", "rllib0", "rllib1"]
RLLIB_MATCHED = dict(train_batch_size_per_learner=512, minibatch_size=256)   # SB3's 16 x 32 rollout and batch 256


def child(backend: str, runners: int, envs: int, n_tasks: int, bars: int, chunk_size: int, steps: int) -> None:
    "One configuration; prints a JSON line."
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from algobot.tasks import synthetic_tasks
    tasks = synthetic_tasks(n_tasks, n_bars=bars, seed=0)
    per_chunk = steps // -(-n_tasks // chunk_size)
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        if backend == "sb3":
            from algobot.rl2 import train_rl2_chunked
            t0 = time.perf_counter()
            recs = train_rl2_chunked(tasks, d, chunk_size, per_chunk, seed=0, progress_bar=False, n_envs=envs)
        else:
            from algobot import rl2_rllib as R
            t0 = time.perf_counter(); R.init_ray(); out["ray_init_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            recs = R.train_rl2_rllib_chunked(tasks, d, chunk_size, per_chunk, seed=0, num_env_runners=runners,
                                             num_envs_per_env_runner=envs, algo_kwargs=RLLIB_MATCHED)
            out["train_s"] = time.perf_counter() - t0
            if bars < SCALE_BARS: out.update(_probe(R, tasks[:chunk_size], runners, envs))
        out.setdefault("train_s", time.perf_counter() - t0)
        from algobot.chunks import chunk_path
        last = chunk_path(d, "rl2_multitask", recs[-1].chunk, backend).with_suffix(".json")
        out.update(records=[r.__dict__ for r in recs], timesteps=json.loads(last.read_text())["timesteps"])
    print(json.dumps(out))


def _probe(R, chunk, runners: int, envs: int, iters: int = 4) -> dict:
    "Mean sampling and learner-update seconds per PPO iteration (RLlib's timers), after one warm-up iteration."
    from algobot.tasks import TradingTask
    cfg = dict(tasks=[TradingTask(t).spec() for t in chunk], data_dir=None, max_episode_steps=128, episodes_per_trial=2)
    algo = R.rl2_ppo_config(cfg, runners, envs, algo_kwargs=RLLIB_MATCHED).build_algo()
    samp, learn = [], []
    for i in range(iters + 1):
        r = algo.train()
        if i: samp.append(r["timers"]["env_runner_sampling_timer"]); learn.append(r["timers"]["learner_update_timer"])
    batch = algo.config.train_batch_size_per_learner
    algo.stop()
    return {"batch": batch, "sample_s": sum(samp) / iters, "learn_s": sum(learn) / iters}


def tree_memory(root: psutil.Process) -> tuple[float, float]:
    "(RSS sum, PSS sum) in MB over `root` and its descendants."
    rss = pss = 0
    for p in [root, *root.children(recursive=True)]:
        try:
            m = p.memory_full_info()
            rss, pss = rss + m.rss, pss + getattr(m, "pss", m.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss / 2**20, pss / 2**20


def run(backend: str, runners: int, envs: int, a) -> dict:
    cmd = [sys.executable, __file__, "--child", backend, "--runners", str(runners), "--envs", str(envs), "--tasks", str(a.tasks),
           "--bars", str(a.bars), "--chunk-size", str(a.chunk_size), "--steps", str(a.steps)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        root, peak_rss, peak_pss = psutil.Process(proc.pid), 0.0, 0.0
        while proc.poll() is None:
            rss, pss = tree_memory(root)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        out.seek(0); err.seek(0)
        if proc.returncode: raise SystemExit(f"{backend} {runners} x {envs} failed:\n{err.read()[-3000:]}")
        res = json.loads(out.read().strip().splitlines()[-1])
    return {**res, "wall_s": wall, "peak_rss_mb": peak_rss, "peak_pss_mb": peak_pss}


def one_task_mb(bars: int) -> float:
    "RSS that one task's bars + features + env add to a fresh process (measured in a subprocess)."
    code = ("import gc, psutil; from algobot.tasks import synthetic_tasks, TradingTask; p = psutil.Process(); "
            "t = TradingTask(synthetic_tasks(1, n_bars=1000, seed=9)[0]); t.make_env('train'); gc.collect(); "
            "r0 = p.memory_info().rss; "
            f"t = TradingTask(synthetic_tasks(1, n_bars={bars}, seed=0)[0]); e = t.make_env('train'); gc.collect(); "
            "print((p.memory_info().rss - r0) / 2**20)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--bars", type=int, default=5_000,
                    help=f"bars per synthetic task (>= {SCALE_BARS}: the data-at-scale report)")
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8_192, help="env steps in total (split evenly over the chunks)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--configs", help=f"comma-separated subset of {list(CONFIGS)} (default: speed {SPEED}, "
                                      f"data at scale {SCALE})")
    ap.add_argument("--runners", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--envs", type=int, default=16, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.runners, a.envs, a.tasks, a.bars, a.chunk_size, a.steps); return
    names = a.configs.split(",") if a.configs else SPEED if a.bars < SCALE_BARS else SCALE
    if unknown := set(names) - set(CONFIGS): ap.error(f"unknown configurations {sorted(unknown)}: {list(CONFIGS)}")
    n_chunks = -(-a.tasks // a.chunk_size)
    print(f"{a.tasks} synthetic tasks x {a.bars:,} bars, chunks of {a.chunk_size} ({n_chunks}), {a.steps:,} env steps "
          f"in total; {os.cpu_count()} CPUs")
    if a.bars < SCALE_BARS:
        rows = []
        for n in names:
            label, backend, runners, envs = CONFIGS[n]
            rows.append((label, runners, run(backend, runners, envs, a)))
            print(f"  ... {label} done", flush=True)
        base = rows[0][2]
        print(f"  {'configuration':<40} {'steps':>6} {'train s':>8} {'steps/s':>8} {'vs ' + names[0]:>9} {'wall s':>7} "
              f"{'peak RSS MB':>12} {'peak PSS MB':>12}")
        for name, _, r in rows:
            sps = r["timesteps"] / r["train_s"]
            print(f"  {name:<40} {r['timesteps']:>6} {r['train_s']:>8.1f} {sps:>8.0f} "
                  f"{sps / (base['timesteps'] / base['train_s']):>8.2f}x {r['wall_s']:>7.1f} {r['peak_rss_mb']:>12.0f} "
                  f"{r['peak_pss_mb']:>12.0f}")
        print("  (train s: the chunked training call, chunk builds included; wall s: the whole process, imports and "
              "ray.init included)")
        for name, runners, r in rows:
            if "batch" not in r: continue
            print(f"  {name}: ray.init {r['ray_init_s']:.1f} s; per iteration of {r['batch']} steps: sampling "
                  f"{r['sample_s']:.2f} s ({r['batch'] / r['sample_s'] / max(runners, 1):.0f} steps/s per sampling process), learner update "
                  f"{r['learn_s']:.2f} s ({r['batch'] / r['learn_s']:.0f} steps/s)")
        return
    for n in names:
        name, backend, runners, envs = CONFIGS[n]
        r = run(backend, runners, envs, a)
        recs = r["records"]
        print(f"{name}: peak over the run RSS {r['peak_rss_mb']:.0f} MB, PSS {r['peak_pss_mb']:.0f} MB (process tree, "
              f"sampled); wall {r['wall_s']:.0f} s")
        print(f"  {'chunk':>5} {'before MB':>10} {'peak MB':>9} {'after MB':>9} {'after vs chunk 0':>17}   (RSS sums)")
        for c in recs:
            print(f"  {c['chunk']:>5} {c['rss_before_mb']:>10.0f} {c['peak_rss_mb']:>9.0f} {c['rss_after_mb']:>9.0f} "
                  f"{c['rss_after_mb'] / recs[0]['rss_after_mb'] - 1:>+16.1%}")
        after = max(c["rss_after_mb"] for c in recs[1:]) / recs[0]["rss_after_mb"] - 1 if len(recs) > 1 else 0.0
        peaks = max(c["peak_rss_mb"] for c in recs[1:]) / recs[0]["peak_rss_mb"] - 1 if len(recs) > 1 else 0.0
        print(f"  growth after the first chunk (goal <= +5%): RSS after a later chunk vs after the first {after:+.1%}; "
              f"peak of a later chunk vs the first's {peaks:+.1%}")
        print(f"  largest chunk peak {max(c['peak_rss_mb'] for c in recs) / 1024:.2f} GB (goal <= 2.5 GB)", flush=True)
    one = one_task_mb(a.bars)
    print(f"one task of {a.bars:,} bars (bars, features, env) adds {one:.0f} MB: all {a.tasks} at once would take "
          f"~{one * a.tasks / 1024:.1f} GB in one process (x the number of RLlib env runners, each holding its own copy)")


if __name__ == "__main__":
    main()
