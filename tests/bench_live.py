"""Live-loop latency benchmark: the replay server streams bars over loopback at >= 1,000 messages/s to the
live trader (PPO policy, risk gate, paper broker, JSONL log, state file); we measure bar received -> gated order
decision for every bar, and check that none was dropped. Goal: p99 <= 5 ms.

    .venv/bin/python tests/bench_live.py [--bars 5000] [--speed 2000]
"""
from __future__ import annotations
import argparse, tempfile, time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=5_000)
    ap.add_argument("--speed", type=float, default=2_000, help="messages per second sent by the server")
    a = ap.parse_args()

    from stable_baselines3 import PPO
    from algobot.config import load_settings
    from algobot.data import read_ohlcv
    from algobot.env import TradingEnv
    from algobot.live.feed import LiveFeed, ReplayServer
    from algobot.live.orders import RiskGate, RiskLimits
    from algobot.live.trader import LiveTrader, trade_replay

    cfg = load_settings()
    path = cfg.historical_data_dir / "EURUSD_1h.csv"
    warmup = 300
    n = min(a.bars, len(read_ohlcv(path)) - warmup)
    model = PPO("MlpPolicy", TradingEnv(read_ohlcv(path)), seed=0, device="cpu", policy_kwargs={"net_arch": [64, 64]})
    server = ReplayServer(path, speed=a.speed, start=warmup, stop=warmup + n).start_in_thread()
    with tempfile.TemporaryDirectory() as d:
        trader = LiveTrader.from_settings(model, LiveFeed("1h", history=read_ohlcv(path).iloc[:warmup]), cfg,
                                          gate=RiskGate(RiskLimits.from_settings(cfg, max_orders_per_minute=1_000_000)),
                                          log_path=Path(d) / "live.jsonl", state_path=Path(d) / "state.json")
        t0 = time.perf_counter()
        client = trade_replay(trader, server.url)
        elapsed = time.perf_counter() - t0
        trader.close()
    server.stop_thread()
    lat = np.array(trader.latencies_ms)
    print(f"{n:,} bars replayed over ws://127.0.0.1 at a target {a.speed:,.0f} msg/s; received {client.messages:,} messages "
          f"in {elapsed:.2f} s = {client.messages / elapsed:,.0f} msg/s")
    print(f"  bars traded {trader.bars:,}, dropped {n - trader.bars} (duplicates {sum(trader.rejected_bars.values())}), "
          f"orders {trader.orders:,}")
    print(f"  bar received -> gated decision: p50 {np.percentile(lat, 50):.3f} ms, p99 {np.percentile(lat, 99):.3f} ms, "
          f"max {lat.max():.3f} ms   (goal p99 <= 5 ms)")


if __name__ == "__main__":
    main()
