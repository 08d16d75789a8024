"""End to end (issue 7): replay server on loopback -> live loop with a trained tiny model and the paper broker, with a
disconnect, malformed and out-of-order messages and a stale pause; then a restart from the state file."""
import json

import numpy as np
import pandas as pd
import pytest

from algobot.config import load_settings
from algobot.data import read_ohlcv
from algobot.live import JsonlLog, LiveTrader, RiskGate, RiskLimits, trade_replay
from algobot.live_feed import Faults, LiveFeed, ReplayServer
from algobot.train import train

WARMUP, N = 300, 300


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return train("EURUSD_1h", "ppo", 512, seed=0, models_dir=tmp_path_factory.mktemp("models"), progress_bar=False).model


@pytest.fixture(scope="module")
def path():
    return load_settings().historical_data_dir / "EURUSD_1h.csv"


def trader_for(model, path, work, limits, state=None):
    feed = LiveFeed("1h", state=state) if state else LiveFeed("1h", history=read_ohlcv(path).iloc[:WARMUP])
    return LiveTrader(model, feed, gate=RiskGate(limits), log_path=work / "live.jsonl", state_path=work / "state.json")


def test_faulty_feed_session_then_restart(model, path, tmp_path):
    limits = RiskLimits.from_settings(stale_feed_seconds=0.3, max_orders_per_minute=10_000, max_order_size=0.5)
    server = ReplayServer(path, speed=1_000, start=WARMUP, stop=WARMUP + N + 100,
                          faults=Faults(drop_after=[80, 60], malformed_every=23, out_of_order_every=31,
                                        pause_at={150: 1.0})).start_in_thread()
    try:
        trader = trader_for(model, path, tmp_path, limits)
        client = trade_replay(trader, server.url, max_bars=N)
        trader.close()
    finally:
        server.stop_thread()
    hist = pd.DataFrame(trader.history)
    expected = [b.ts for b in server.bars[:N]]
    assert trader.bars == N and hist.ts.tolist() == expected, "bars duplicated or skipped"
    assert client.reconnects >= 2 and client.rejected > 0
    assert trader.rejected_bars["duplicate"] > 0                       # re-sent and overlapping bars were dropped
    assert trader.gate.rejections["stale feed"] > 0                    # the pause halted new orders
    events = JsonlLog.read(tmp_path / "live.jsonl")
    assert {"bar", "decision", "order", "fill", "message_rejected", "stale_feed", "feed_disconnected"} <= set(events.event)
    orders = events[events.event == "order"]
    assert (orders["size"].abs() <= limits.max_order_size + 1e-9).all()
    assert (hist.position.abs() <= limits.max_position + 1e-9).all()
    # no order was accepted between the stale alarm and the recovery bars
    stale_at = events.index[events.event == "stale_feed"][0]
    after = events.loc[stale_at:]
    first_decisions = after[after.event == "decision"].head(limits.stale_recovery_bars - 1)
    assert not first_decisions.accepted.any()

    # restart: the same state file, the same position and equity, only newer bars
    saved = json.loads((tmp_path / "state.json").read_text())
    server = ReplayServer(path, speed=0, start=WARMUP, stop=WARMUP + N + 100).start_in_thread()
    try:
        again = trader_for(model, path, tmp_path, limits, state=saved["feed"])
        assert again.resumed
        assert again.broker.position == pytest.approx(trader.broker.position)
        assert again.account.equity == pytest.approx(trader.account.equity)
        trade_replay(again, server.url, max_bars=30)
        again.close()
    finally:
        server.stop_thread()
    new = pd.DataFrame(again.history)
    assert new.ts.tolist() == [b.ts for b in server.bars[N:N + 30]]


def test_circuit_breaker_flattens_then_halts(model, path, tmp_path):
    limits = RiskLimits.from_settings(max_drawdown=0.002, max_orders_per_minute=10_000)
    server = ReplayServer(path, speed=0, start=WARMUP, stop=WARMUP + 400).start_in_thread()
    try:
        trader = trader_for(model, path, tmp_path, limits)
        trade_replay(trader, server.url, max_bars=400)
        trader.close()
    finally:
        server.stop_thread()
    events = JsonlLog.read(tmp_path / "live.jsonl")
    assert trader.gate.halted, "a 0.2% drawdown limit should trip on a year of EURUSD"
    decisions = events[events.event == "decision"].reset_index(drop=True)
    trip = decisions.index[decisions.reason.str.startswith("circuit breaker")]
    first = trip[0] if len(trip) else decisions.index[decisions.reason.str.startswith("halted")][0]
    later = decisions.loc[first + 1:]
    assert not later.accepted.any(), "an order was accepted after the halt"
    assert (later.reason.str.startswith("halted")).all()
    assert trader.broker.position == 0.0 or len(trip) == 0   # flattened (or was flat when it tripped)
