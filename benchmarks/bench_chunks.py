"""Memory benchmark of chunked RL² training (issue 5), each configuration in a fresh process, side by side in one run:

1. RSS per chunk over 4+ chunks (32 synthetic tasks, chunk size 8): RSS after each chunk vs after the first
   (goal: growth <= 5%);
2. peak RSS (ru_maxrss) with 16 vs 64 synthetic tasks at the same chunk size (goal: within +-10%).

    .venv/bin/python benchmarks/bench_chunks.py [--chunk-size 8] [--steps 256]
"""
from __future__ import annotations
import argparse, json, resource, subprocess, sys, tempfile


def child(n_tasks: int, chunk_size: int, steps: int) -> None:
    from algobot.tasks import synthetic_tasks
    from algobot.rl2 import train_rl2_chunked
    with tempfile.TemporaryDirectory() as d:
        recs = train_rl2_chunked(synthetic_tasks(n_tasks, n_bars=2_000, seed=0), d, chunk_size, steps, seed=0,
                                 progress_bar=False, max_episode_steps=64, algo_kwargs={"n_steps": 64, "batch_size": 64})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB -> MB on Linux
    print(json.dumps({"records": [r.__dict__ for r in recs], "maxrss_mb": peak}))


def run(n_tasks: int, chunk_size: int, steps: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(n_tasks), "--chunk-size", str(chunk_size),
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunk-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=256, help="training steps per chunk")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.chunk_size, a.steps); return

    per_chunk = run(4 * a.chunk_size, a.chunk_size, a.steps)
    recs = per_chunk["records"]
    base = recs[0]["rss_after_mb"]
    print(f"RSS per chunk: {4 * a.chunk_size} synthetic tasks, chunk size {a.chunk_size}, {a.steps} steps per chunk")
    print(f"  {'chunk':>5} {'before MB':>10} {'peak MB':>9} {'after MB':>9} {'vs after chunk 0':>17}")
    for r in recs:
        print(f"  {r['chunk']:>5} {r['rss_before_mb']:>10.0f} {r['peak_rss_mb']:>9.0f} {r['rss_after_mb']:>9.0f} "
              f"{r['rss_after_mb'] / base - 1:>+16.1%}")
    growth = max(r["rss_after_mb"] for r in recs[1:]) / base - 1
    print(f"  largest growth of RSS after a later chunk vs after the first: {growth:+.1%}   (goal <= +5%)")

    small, big = run(16, a.chunk_size, a.steps), run(64, a.chunk_size, a.steps)
    ratio = big["maxrss_mb"] / small["maxrss_mb"] - 1
    print(f"peak RSS (ru_maxrss), chunk size {a.chunk_size}: 16 tasks {small['maxrss_mb']:.0f} MB, "
          f"64 tasks {big['maxrss_mb']:.0f} MB -> {ratio:+.1%}   (goal within +-10%)")


if __name__ == "__main__":
    main()
