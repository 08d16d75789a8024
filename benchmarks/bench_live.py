"""Live-loop latency benchmark: the replay server streams bars over loopback at >= 1,000 messages/s to the
live trader (PPO policy, risk gate, paper broker, JSONL log, state file); we measure bar received -> gated order
decision for every bar, and check that none was dropped. The same through ccxt: FakeBinance's kline websocket
(Binance's format) -> ccxt.pro -> ExchangeFeed -> trader with a CcxtBroker. Goal: p99 <= 5 ms.

    .venv/bin/python benchmarks/bench_live.py [--bars 5000] [--speed 2000] [--only replay|exchange]
"""
from __future__ import annotations
import argparse, tempfile, time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=5_000)
    ap.add_argument("--speed", type=float, default=2_000, help="messages per second sent by the server")
    ap.add_argument("--only", choices=["replay", "exchange"], help="run one of the two measurements")
    a = ap.parse_args()
    if a.only != "replay":
        exchange_main(a.bars, a.speed, paper=True)
        exchange_main(a.bars, a.speed)
        if a.only == "exchange": return

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




def _serve_fake(n_rows: int, warmup: int, speed: float, updates_per_bar: int, q) -> None:
    "The fake exchange in a process of its own (no GIL shared with the trader), until killed."
    from algobot.data import synthetic_ohlcv
    from algobot.live.fake_exchange import FakeBinance
    fake = FakeBinance(synthetic_ohlcv(n_rows, timeframe="1m"), history=warmup, speed=speed,
                       updates_per_bar=updates_per_bar, balances={"BTC": 1e6, "USDT": 1e12}).start_in_thread()
    q.put((fake.http_url, fake.ws_url))
    fake._thread.join()


def exchange_main(n_bars: int = 5_000, speed: float = 2_000, updates_per_bar: int = 1, paper: bool = False) -> None:
    """Through ccxt: FakeBinance (loopback, a process of its own) streams Binance kline messages at `speed` msg/s; ccxt.pro's
    binance receives them, ExchangeFeed passes closed candles to the live trader (PPO, risk gate, CcxtBroker sending
    market orders back through ccxt REST, JSONL log, state file). Latency: kline message parsed by ccxt -> gated order
    decision, for every closed bar."""
    import asyncio
    from stable_baselines3 import PPO
    from algobot.data import synthetic_ohlcv
    from algobot.env import TradingEnv
    from algobot.live.broker import CcxtBroker
    from algobot.live.market import ExchangeFeed, make_exchange
    from algobot.live.feed import LiveFeed
    from algobot.live.orders import RiskGate, RiskLimits
    from algobot.live.service import run_exchange
    from algobot.live.trader import LiveTrader

    warmup = 300
    df = synthetic_ohlcv(warmup + n_bars + 10, timeframe="1m")
    model = PPO("MlpPolicy", TradingEnv(df.iloc[:warmup]), seed=0, device="cpu", policy_kwargs={"net_arch": [64, 64]})
    import multiprocessing as mp
    ctx = mp.get_context("spawn"); q = ctx.Queue()
    server = ctx.Process(target=_serve_fake, args=(len(df), warmup, speed, updates_per_bar, q), daemon=True)
    server.start()
    http_url, ws_url = q.get(timeout=300)
    with tempfile.TemporaryDirectory() as d:
        async def go():
            ex = make_exchange("binance", "fake-key", "fake-secret", base_url=http_url, ws_url=ws_url, rate_limit_ms=0)
            try:
                await ex.load_markets()
                feed = ExchangeFeed(ex, "BTC/USDT", "1m")
                broker = CcxtBroker(ex, "BTC/USDT", 0.01, journal=Path(d) / "orders.jsonl")
                if paper: from algobot.live.orders import PaperBroker
                trader = LiveTrader(model, LiveFeed("1m", history=await feed.history(warmup)),
                                    broker=PaperBroker() if paper else broker,
                                    gate=RiskGate(RiskLimits(max_orders_per_minute=1_000_000, max_drawdown=0.99,
                                                             max_daily_loss=0.99, stale_feed_seconds=60)),
                                    log_path=Path(d) / "live.jsonl", state_path=Path(d) / "state.json")
                stop = asyncio.Event()
                t0 = time.perf_counter()
                await run_exchange(trader, feed, stop, None if paper else broker, max_bars=n_bars)
                elapsed = time.perf_counter() - t0
                trader.close()
                return trader, feed, broker, elapsed
            finally: await ex.close()
        from algobot.live.feed import run_async
        trader, feed, broker, elapsed = run_async(go())
    server.kill(); server.join()
    lat = np.array(trader.latencies_ms)
    print(("[orders: PaperBroker] " if paper else "[orders: CcxtBroker over REST] ") + f"{n_bars:,} bars as Binance kline messages through ccxt.pro over ws://127.0.0.1 "
          f"({updates_per_bar} in-progress update(s) per bar), target {speed:,.0f} msg/s: ccxt delivered "
          f"{feed.messages:,} messages in {elapsed:.2f} s = {feed.messages / elapsed:,.0f} msg/s")
    print(f"  closed bars traded {trader.bars:,}, dropped {n_bars - trader.bars}, rejected {dict(trader.rejected_bars)}, "
          f"orders {trader.orders:,} ({broker.sent:,} sent through ccxt REST, {broker.retries} retries)")
    print(f"  message received (ccxt) -> gated decision: p50 {np.percentile(lat, 50):.3f} ms, "
          f"p99 {np.percentile(lat, 99):.3f} ms, max {lat.max():.3f} ms   (goal p99 <= 5 ms)")


if __name__ == "__main__":
    main()
