"""End to end: `algobot-trade` (a subprocess, `python -m algobot.live.service`) trades the loopback FakeBinance through
ccxt with a CcxtBroker: data, gate, orders, reconcile. It is killed (SIGKILL) while an order's answer is held — the
crash between sending an order and its acknowledgement — restarted (no duplicate order, positions agree with the
exchange), stopped with SIGTERM (clean exit, state flushed) and restarted again (resumes with position and PnL).
SIGTERM during a start-up stuck in 429 back-offs ends it at once; a state file of another market is refused in one
line, before the model loads.
A second run meets issue 21's faults (execution status unknown, a bare HTTP 500) and a deposit while it is down.

Waits poll the fake exchange's own counters and the files; their timeouts only guard against hanging."""
import json, signal, subprocess, sys

import pytest
from stable_baselines3 import PPO

from algobot.data import synthetic_ohlcv
from algobot.env import TradingEnv
from algobot.live.broker import OrderJournal
from algobot.live.fake_exchange import ExchangeFaults, FakeBinance
from algobot.live.trader import JsonlLog
from algobot.train import save_model
from helpers import ROOT, subprocess_env, wait_for

N, HISTORY, LOT = 2000, 400, 0.5


def events(path):
    return JsonlLog.read(path) if path.exists() and path.stat().st_size else None


def run_of(ev):
    "Which service run (1, 2, ...) wrote each event."
    return (ev.event == "service_start").cumsum()


def count(path, name):
    ev = events(path)
    return 0 if ev is None else int((ev.event == name).sum())


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    df = synthetic_ohlcv(N, seed=3, timeframe="1m")
    model = PPO("MlpPolicy", TradingEnv(df.iloc[:HISTORY]), seed=0, device="cpu", n_steps=64, batch_size=64,
                n_epochs=1, policy_kwargs={"net_arch": [16, 16]})
    return df, save_model(model, tmp_path_factory.mktemp("model") / "policy", {"algo": "ppo"})


def start(fake, ckpt, work, *extra):
    env = subprocess_env(PAPER_TRADING="false", ALGOBOT_API_KEY="fake-key", ALGOBOT_API_SECRET="fake-secret",
                         MAX_ORDERS_PER_MINUTE="100000", MAX_DRAWDOWN="0.9", MAX_DAILY_LOSS="0.9",
                         STALE_FEED_SECONDS="1000", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "algobot.live.service", "--exchange", "binance", "--symbol", "BTC/USDT",
           "--timeframe", "1m", "--model", str(ckpt), "--state", str(work / "state.json"), "--log",
           str(work / "live.jsonl"), "--lot", str(LOT), "--warmup", "200", "--exchange-url", fake.http_url,
           "--exchange-ws", fake.ws_url, *extra]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_trade_crash_restart_sigterm(checkpoint, tmp_path):
    df, ckpt = checkpoint
    held = 3                                                   # the third order's answer is held: the crash point
    fake = FakeBinance(df, history=HISTORY, speed=400, updates_per_bar=1,
                       faults=ExchangeFaults(drop_at=[30], duplicate_every=9, out_of_order_every=13,
                                             hold_ack=[held])).start_in_thread()
    log, journal = tmp_path / "live.jsonl", tmp_path / "state.json.orders.jsonl"
    procs = []
    try:
        # 1. run until the held order has executed on the exchange, then crash before its answer arrives
        p = start(fake, ckpt, tmp_path); procs.append(p)
        wait_for(lambda: len(fake.orders) >= held or p.poll() is not None, "the third order")
        assert p.poll() is None, p.stdout.read()
        crashed_cid = fake.orders[held - 1]["clientOrderId"]
        assert crashed_cid in {r["cid"] for r in OrderJournal(journal).unresolved()}   # sent, never acknowledged
        p.send_signal(signal.SIGKILL); p.wait(60)
        fake.release()

        # 2. restart: reconcile adopts the crashed order, nothing is sent twice, books agree with the exchange
        p = start(fake, ckpt, tmp_path); procs.append(p)
        wait_for(lambda: count(log, "service_start") >= 2 and count(log, "reconcile") >= 2 or p.poll() is not None,
                 "the restart's reconcile")
        # a websocket drop while this run listens (the planted one at message 30 may fall before the crash): the
        # fake's next kline message, set on the fake's own loop so no message slips past it
        fake._loop.call_soon_threadsafe(lambda: fake.faults.drop_at.append(fake.sent + 1))
        bars_before = count(log, "bar")
        wait_for(lambda: count(log, "bar") >= bars_before + 60 or p.poll() is not None, "60 more bars")
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0, out
        assert "stopped after" in out

        ev = events(log)
        rec = ev[ev.event == "reconcile"].reset_index(drop=True)
        assert crashed_cid in rec.adopted.iloc[1]                 # the restart found it by its client id
        cids = [o["clientOrderId"] for o in fake.orders]
        assert len(cids) == len(set(cids)), "an order was sent twice"
        assert cids.count(crashed_cid) == 1
        state = json.loads((tmp_path / "state.json").read_text())
        exchange_lots = (fake.balances["BTC"] - 10.0) / LOT
        assert state["broker"]["position"] == pytest.approx(exchange_lots, abs=1e-9)
        assert {"bar_rejected", "order", "fill", "service_stop"} <= set(ev.event)
        assert {"feed_reconnected", "feed_disconnected"} & set(ev[run_of(ev) == 2].event)   # the dropped websocket
        run = (ev.event == "service_start").cumsum()               # 1: before the crash, 2: after it
        for k in (1, 2):
            bars = ev[(ev.event == "bar") & (run == k)].ts.tolist()
            assert bars == sorted(set(bars)), "a bar traded twice or out of order within a run"
        # bars after the last state snapshot before the crash are traded again: their decisions are known orders
        assert count(log, "order_known") >= 0

        # 3. restart after SIGTERM: resumes with the same position and PnL
        p = start(fake, ckpt, tmp_path, "--max-bars", "20"); procs.append(p)
        out, _ = p.communicate(timeout=180)
        assert p.returncode == 0, out
        ev = events(log)
        starts = ev[ev.event == "service_start"]
        assert starts.resumed.iloc[-1] == True                   # noqa: E712
        rec = ev[ev.event == "reconcile"].iloc[-1]
        assert rec.position == pytest.approx(state["broker"]["position"]) and rec.adopted == [] and rec.lost == []
        final = json.loads((tmp_path / "state.json").read_text())
        run = (ev.event == "service_start").cumsum()
        before, after = (set(ev[(ev.event == "bar") & (run == k)].ts) for k in (2, 3))
        assert after and not before & after                      # after SIGTERM: only newer bars
        assert final["bars"] == state["bars"] + 20 or final["bars"] > state["bars"]
        assert final["broker"]["position"] == pytest.approx((fake.balances["BTC"] - 10.0) / LOT, abs=1e-9)
        cids = [o["clientOrderId"] for o in fake.orders]
        assert len(cids) == len(set(cids))
    finally:
        for p in procs:
            if p.poll() is None: p.kill(); p.wait(60)
        fake.stop_thread()


def test_unknown_outcomes_and_a_deposit(checkpoint, tmp_path):
    """Issue 21 through the service: orders answered HTTP 500 -1006 after executing (2, 5), -1006 without executing (4)
    and a bare 500 (3) are each looked up by client id and settled once; every order ends with an outcome; the exchange
    holds no more than MAX_POSITION for the bot; no task exception is left unretrieved. Then 2 BTC arrive while the
    service is down: the restart reports and excludes them, and trades only its own position."""
    df, ckpt = checkpoint
    # a market of 400 bars after the history: the fake streams faster than the service trades, and the restart
    # back-fills whatever streamed meanwhile (at least its 30 bars: 400 - 150 are left)
    fake = FakeBinance(df.iloc[:HISTORY + 400], history=HISTORY, speed=400, updates_per_bar=1,
                       faults=ExchangeFaults(status_unknown=[2, 5], status_unknown_unexecuted=[4], http_500=[3])).start_in_thread()
    log, journal, p = tmp_path / "live.jsonl", tmp_path / "state.json.orders.jsonl", None
    try:
        p = start(fake, ckpt, tmp_path, "--max-bars", "150")
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out
        assert "never retrieved" not in out and "Traceback" not in out, out
        assert fake.requests.get("order POST", 0) >= 6, "too few orders to meet every fault"
        ev = events(log)
        outcomes = ev.event.isin(["order_ack", "order_rejected", "order_lost", "order_blocked", "order_known"])
        assert int(outcomes.sum()) == count(log, "order")              # one outcome per order the trader sent
        assert OrderJournal(journal).unresolved() == []
        acks = ev[ev.event == "order_ack"]
        assert (acks.how == "found on retry").sum() == 2                # 2 and 5: executed, found, not sent again
        assert int((ev.event == "order_retry").sum()) == 4
        cids = [o["clientOrderId"] for o in fake.orders]
        assert len(cids) == len(set(cids)), "an order was sent twice"
        state = json.loads((tmp_path / "state.json").read_text())
        lots = (fake.balances["BTC"] - 10.0) / LOT
        assert state["broker"]["position"] == pytest.approx(lots, abs=1e-9) and abs(lots) <= 1 + 1e-9

        fake.balances["BTC"] += 2.0                                     # a deposit while the service is down
        p = start(fake, ckpt, tmp_path, "--max-bars", "30")
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out
        ev = events(log)
        rec = ev[ev.event == "reconcile"].iloc[-1]
        assert rec.foreign == pytest.approx(4.0) and rec.position == pytest.approx(lots)   # reported, not the bot's
        assert (ev.event == "foreign_balance").sum() == 1
        final = json.loads((tmp_path / "state.json").read_text())
        own = (fake.balances["BTC"] - 12.0) / LOT
        assert final["broker"]["position"] == pytest.approx(own, abs=1e-9) and abs(own) <= 1 + 1e-9
        assert final["broker"]["foreign"] == pytest.approx(4.0)
    finally:
        if p is not None and p.poll() is None: p.kill(); p.wait(60)
        fake.stop_thread()


def test_real_orders_need_confirmation(checkpoint, tmp_path):
    env = subprocess_env(PAPER_TRADING="false", ALGOBOT_API_KEY="k", ALGOBOT_API_SECRET="s")
    r = subprocess.run([sys.executable, "-m", "algobot.live.service", "--exchange", "binance", "--model",
                        str(checkpoint[1]), "--state", str(tmp_path / "s.json"), "--log", str(tmp_path / "l.jsonl")],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--confirm-real-orders" in r.stderr


def test_sigterm_during_startup_backoff(checkpoint, tmp_path):
    "Every klines request answered 429: the warm-up fetch backs off (1, 2, 4, ... s; 255 s in all). SIGTERM while it"
    " waits ends the process at once: exit 0, the 429s logged, no traceback, no state written."
    df, ckpt = checkpoint
    fake = FakeBinance(df, history=HISTORY, speed=0, faults=ExchangeFaults(klines_429=list(range(1, 100)))).start_in_thread()
    try:
        p = start(fake, ckpt, tmp_path)
        wait_for(lambda: fake.requests.get("klines", 0) >= 2 or p.poll() is not None, "a retried klines request")
        assert p.poll() is None, p.stdout.read()
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)   # a guard against a hang: without the fix the retries run for ~255 s
        assert p.returncode == 0, out
        assert "Traceback" not in out, out
        assert "DDoSProtection: " in out and "; retry 1 in 1 s" in out, out             # each 429 logged, with its reason and wait
        assert "stopping now: SIGTERM during start-up" in out, out
        assert "stopped by SIGTERM during start-up; nothing traded" in out, out
        assert not (tmp_path / "state.json").exists()
        assert fake.requests["klines"] < 9                     # it did not go on retrying to the end
    finally:
        if p.poll() is None: p.kill(); p.wait(60)
        fake.stop_thread()


def test_startup_problems_are_one_line(checkpoint, tmp_path):
    "A state file bound to another market: refused before the model loads (here a corrupt model, which would be reported"
    " first otherwise), in one line naming both markets and the fix, exit 2."
    model = tmp_path / "broken"
    model.with_suffix(".zip").write_bytes(b"not a zip"); model.with_suffix(".json").write_text('{"algo": "ppo"}')
    state = {k: {} for k in ("broker", "gate", "account")} | {"day": None, "bars": 5, "orders": 1, "fills": 1,
             "feed": {"timeframe": "1m"},
             "binding": {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1m", "mode": "paper"}}
    (tmp_path / "s.json").write_text(json.dumps(state))
    base = [sys.executable, "-m", "algobot.live.service", "--exchange", "binance", "--timeframe", "1m",
            "--model", str(model), "--state", str(tmp_path / "s.json"), "--log", str(tmp_path / "l.jsonl")]
    def run(*extra):
        return subprocess.run([*base, *extra], env=subprocess_env(PAPER_TRADING="true"), cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    r = run("--symbol", "ETH/USDT")
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("algobot-trade: ") and "Traceback" not in r.stderr, r.stderr
    assert "belongs to binance BTC/USDT 1m (paper), not binance ETH/USDT 1m (paper)" in r.stderr, r.stderr
    assert "pass another state file (--state)" in r.stderr, r.stderr
    (tmp_path / "s.json").write_text("")                       # an empty state: the same kind of answer
    r = run("--symbol", "BTC/USDT")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "is empty" in r.stderr, r.stderr
