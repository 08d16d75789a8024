"""End to end: replay server on loopback -> live loop (tiny PPO trained here, paper broker) through a disconnect,
malformed and out-of-order messages and a scripted silence; a restart from the state file; the circuit breaker.

Time is a `ManualClock` the tests own: the server's silence advances it, the trader and the gate read it. No assertion
depends on wall-clock timing, machine load, or a model another test or notebook saved."""
import json

import numpy as np
import pandas as pd
import pytest
from gymnasium import spaces
from stable_baselines3 import PPO

from algobot.config import load_settings
from algobot.data import read_ohlcv
from algobot.env import TradingEnv
from algobot.live.feed import Faults, LiveFeed, ManualClock, ReplayServer, replay_main
from algobot.live.orders import RiskGate, RiskLimits
from algobot.live.trader import JsonlLog, LiveTrader, trade_replay

WARMUP, N = 300, 300


@pytest.fixture(scope="module")
def path():
    return load_settings().historical_data_dir / "EURUSD_1h.csv"


@pytest.fixture(scope="module")
def model(path):
    "A tiny PPO of our own, seeded, trained in memory on a real slice."
    env = TradingEnv(read_ohlcv(path).iloc[:2000])
    return PPO("MlpPolicy", env, seed=0, device="cpu", n_steps=128, batch_size=64, n_epochs=2,
               policy_kwargs={"net_arch": [32, 32]}).learn(512)


class Flipper:
    "A stand-in policy that sells, buys, sells, ... on every bar: orders, fills and cost drawdown are certain."
    def __init__(self, observation_space):
        self.observation_space, self.action_space, self.n = observation_space, spaces.Discrete(3), 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.n += 1
        return np.int64(2 if self.n % 2 else 0), None


def trader_for(model, path, work, limits, clock, state=None):
    feed = LiveFeed("1h", state=state) if state else LiveFeed("1h", history=read_ohlcv(path).iloc[:WARMUP])
    return LiveTrader(model, feed, gate=RiskGate(limits, clock=clock), log_path=work / "live.jsonl",
                      state_path=work / "state.json", clock=clock)


def test_faulty_feed_session_then_restart(model, path, tmp_path):
    # the breaker limit is out of reach here (it has its own test), so nothing but the silence can stop orders
    limits = RiskLimits(stale_feed_seconds=0.3, max_orders_per_minute=10_000, max_order_size=0.5, max_drawdown=0.9)
    clock = ManualClock()
    server = ReplayServer(path, speed=0, start=WARMUP, stop=WARMUP + N + 100, sleep=clock.sleep,
                          faults=Faults(drop_after=[80, 60], malformed_every=23, out_of_order_every=31,
                                        pause_at={150: 1.0})).start_in_thread()
    try:
        trader = trader_for(model, path, tmp_path, limits, clock)
        client = trade_replay(trader, server.url, max_bars=N)
        trader.close()
    finally:
        server.stop_thread()
    hist = pd.DataFrame(trader.history)
    assert trader.bars == N and hist.ts.tolist() == [b.ts for b in server.bars[:N]], "bars duplicated or skipped"
    assert client.reconnects == 2 and client.rejected > 0
    assert trader.rejected_bars["duplicate"] > 0                       # re-sent and overlapping bars were dropped
    assert clock() == 1.0                                              # the only time that passed: the silence
    assert trader.log.counts["stale_feed"] == 1                        # seen once ...
    assert trader.gate.rejections["stale feed"] == limits.stale_recovery_bars - 1   # ... and orders waited for fresh bars
    events = JsonlLog.read(tmp_path / "live.jsonl")
    assert {"bar", "decision", "message_rejected", "stale_feed", "feed_disconnected", "bar_rejected"} <= set(events.event)
    stale_at = events.index[events.event == "stale_feed"][0]
    after = events.loc[stale_at:]
    assert not after[after.event == "decision"].head(limits.stale_recovery_bars - 1).accepted.any()
    orders = events[events.event == "order"]
    assert orders.empty or (orders["size"].abs() <= limits.max_order_size + 1e-9).all()
    assert (hist.position.abs() <= limits.max_position + 1e-9).all()

    # restart: the same state file, the same position and equity, only newer bars
    saved = json.loads((tmp_path / "state.json").read_text())
    server = ReplayServer(path, speed=0, start=WARMUP, stop=WARMUP + N + 100).start_in_thread()
    try:
        again = trader_for(model, path, tmp_path, limits, clock, state=saved["feed"])
        assert again.resumed
        assert again.broker.position == pytest.approx(trader.broker.position)
        assert again.account.equity == pytest.approx(trader.account.equity)
        trade_replay(again, server.url, max_bars=30)
        again.close()
    finally:
        server.stop_thread()
    assert pd.DataFrame(again.history).ts.tolist() == [b.ts for b in server.bars[N:N + 30]]
    assert again.log.counts["stale_feed"] == 0                          # a restart is not a silence


def test_circuit_breaker_flattens_then_halts(path, tmp_path):
    limits = RiskLimits(max_drawdown=0.002, max_orders_per_minute=10_000, max_order_size=2.0)
    clock = ManualClock()
    flipper = Flipper(TradingEnv(read_ohlcv(path).iloc[:500]).observation_space)
    server = ReplayServer(path, speed=0, start=WARMUP, stop=WARMUP + 100).start_in_thread()
    try:
        trader = trader_for(flipper, path, tmp_path, limits, clock)
        trade_replay(trader, server.url, max_bars=100)
        trader.close()
    finally:
        server.stop_thread()
    events = JsonlLog.read(tmp_path / "live.jsonl")
    assert {"order", "fill"} <= set(events.event)
    assert trader.gate.halted, "flipping a full position every bar costs more than 0.2%"
    decisions = events[events.event == "decision"].reset_index(drop=True)
    trip = decisions.index[decisions.reason == "circuit breaker: flatten"]
    assert len(trip) == 1 and decisions.accepted[trip[0]]              # the flatten order is the breaker's last word
    later = decisions.loc[trip[0] + 1:]
    assert len(later) and not later.accepted.any() and later.reason.str.startswith("halted").all()
    assert trader.broker.position == 0.0                                # flattened at the next bar's open


def test_replay_script_reports_a_missing_file(tmp_path, capsys):
    assert replay_main(["--file", str(tmp_path / "nope_1h.csv")]) == 2
    assert "algobot-replay:" in capsys.readouterr().out
