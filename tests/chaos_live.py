"""Seeded chaos for the live stack: `algobot-trade` (a subprocess) trading the loopback FakeBinance through CcxtBroker,
under a fault schedule drawn from a seed, checked against the live trading invariants after every schedule.

    python tests/chaos_live.py --schedules 200 [--seed0 0] [--bars N]     # seeds seed0, seed0+1, ...
    python tests/chaos_live.py --seed S --schedules 1                     # rerun one schedule exactly

`schedule(seed)` is a pure function of the seed (the same faults, at the same order/request/bar numbers); the OS's
timing is not: which bar an order falls on, and so the prices, may differ between two runs of one schedule.

The invariants (`check`, on a run record — what the fake exchange, the journal, the state and the log say):
- `duplicate_cid`:   no client order id reaches the exchange twice (the fake records every order it accepts);
- `max_position`:    after every order the exchange executes, |the bot's base balance change| / lot <= MAX_POSITION
                     (deposits are not the bot's position: they are excluded, as the broker excludes them);
- `books`:           the bot's position (state file and journal replay) = the sum of its journalled fills = the
                     exchange's executions, and the exchange's base balance = start + executions + deposits;
- `cash`:            the exchange's quote balance change (less quote deposits) = the journal's cash flow (fills and
                     fees), within CASH_TOL per execution plus any fee the journal could not learn (`fee_source`
                     "unknown"): the fake charges its fee in the quote asset and the broker books it, so the rest
                     is 8-decimal rounding;
- `outcome`:         every order the exchange executed has an `ack` in the journal; every intent in the journal has
                     an outcome there (ack, rejected, lost) once the service stopped cleanly, and a log event naming
                     it (order_ack, order_rejected, order_lost, or a reconcile that adopted or lost it);
- `bars`:            every bar of the market from the first one traded to the last is traded (logged as `bar`), in
                     order, with none missing: dropped connections, bad and duplicated candles and restarts are
                     back-filled (a bar traded again after a kill, from an older state file, is allowed);
- `clean_exit`:      the last run, stopped by SIGTERM, exits 0 without a traceback or an unretrieved task exception.
"""
from __future__ import annotations
import argparse, json, logging, random, signal, subprocess, sys, time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import ROOT, subprocess_env, wait_for  # noqa: E402

HISTORY, MARKET, LOT, MAX_POSITION = 400, 3000, 0.5, 1.0
START = {"BTC": 10.0, "USDT": 1_000_000.0}
CASH_TOL = 1e-6                                     # quote currency per execution (8-decimal rounding of the fake's strings)
FINAL_BARS = 5                                      # bars the last run (after the kills) trades at least
SPEED = 40.0                                        # kline messages per second (updates_per_bar=1: 20 bars/s)
UNKNOWN_FEE = 0.01                                  # bound on a fee the journal could not learn, per quote traded
OUTCOME_EVENTS = ("order_ack", "order_rejected", "order_lost")

# fault kinds: what `schedule` draws from, what the summary counts
ORDER_FAULTS = ("status_unknown", "status_unknown_unexecuted", "http_500", "orders_429", "no_permission")
KINDS = ("kill_bar", "kill_order", *ORDER_FAULTS, "storm_429", "lookup_500", "klines_429", "bad_candle",
         "dup_candles", "ws_drop", "torn_journal", "deposit")
BAD_CANDLES = ("nan", "zero", "negative", "high_low", "malformed")   # ExchangeFaults.bad_klines (17a)


def schedule(seed: int, bars: int = 40) -> dict:
    "A few faults drawn from `seed` (2 to 4 kinds; order faults at order numbers 1-9, kills within the first bars)."
    rng = random.Random(seed)
    kinds = rng.sample(KINDS, rng.randint(2, 4))
    if "torn_journal" in kinds and "kill_bar" not in kinds:
        kinds.append("kill_bar")          # a torn write needs a kill before it (after kill_order, the last line is
                                          # the held order's intent, fsynced before the send: never torn)
    faults, used = [], set()                                          # order numbers taken (one fault per order)
    def order_no(lo=1, hi=8):
        free = [n for n in range(lo, hi + 1) if n not in used] or [n for n in range(hi + 1, 30) if n not in used]
        n = rng.choice(free); used.add(n); return n
    # no_permission halts the broker: no order after it is sent, so it comes after every other order fault
    for k in sorted(kinds, key=lambda k: k == "no_permission"):
        if k == "no_permission": faults.append({"kind": k, "order": order_no(max(used, default=0) + 1, 9)})
        elif k == "kill_bar": faults.append({"kind": k, "bar": rng.randint(3, max(4, bars // 2))})
        elif k == "kill_order": faults.append({"kind": k, "order": order_no(1, 5)})
        elif k in ORDER_FAULTS: faults.append({"kind": k, "order": order_no()})
        elif k == "storm_429":
            n = order_no(1, 6); run = [n + i for i in range(rng.randint(2, 4)) if n + i not in used]
            used.update(run); faults.append({"kind": k, "orders": run})
        elif k == "lookup_500": faults.append({"kind": k, "requests": sorted(rng.sample(range(1, 4), rng.randint(1, 2)))})
        elif k == "klines_429": faults.append({"kind": k, "requests": [1] if rng.random() < 0.5 else [2, 3]})
        elif k == "bad_candle":
            faults.append({"kind": k, "klines": {rng.randint(2, bars): rng.choice(BAD_CANDLES)
                                                 for _ in range(rng.randint(1, 3))}})
        elif k == "dup_candles": faults.append({"kind": k, "duplicate_every": rng.randint(3, 9),
                                                "out_of_order_every": rng.randint(4, 11)})
        elif k == "ws_drop": faults.append({"kind": k, "messages": sorted(rng.sample(range(6, 2 * bars), rng.randint(1, 2))),
                                            "missed_bars": rng.randint(0, 3)})
        elif k == "torn_journal": faults.append({"kind": k, "keep": round(rng.uniform(0.1, 0.9), 3)})
        elif k == "deposit":
            faults.append({"kind": k, "order": rng.randint(1, 6),
                           "assets": {"BTC": rng.choice([0.25, 1.0, 2.0])} if rng.random() < 0.7 else {"USDT": 500.0}})
    return {"seed": seed, "bars": bars, "faults": faults}


def _exchange_faults(sched: dict):
    from algobot.live.fake_exchange import ExchangeFaults
    f = ExchangeFaults()
    for x in sched["faults"]:
        k = x["kind"]
        if k in ORDER_FAULTS: getattr(f, k).append(x["order"])
        elif k == "storm_429": f.orders_429.extend(x["orders"])
        elif k == "lookup_500": f.lookup_500.extend(x["requests"])
        elif k == "klines_429": f.klines_429.extend(x["requests"])
        elif k == "kill_order": f.hold_ack.append(x["order"])
        elif k == "dup_candles": f.duplicate_every, f.out_of_order_every = x["duplicate_every"], x["out_of_order_every"]
        elif k == "deposit": f.deposits.setdefault(x["order"], {}).update(x["assets"])
        elif k == "bad_candle": f.bad_klines.update(x["klines"])
        elif k == "ws_drop": f.drop_at.extend(x["messages"]); f.missed_bars = x["missed_bars"]
    return f


def make_checkpoint(workdir: Path) -> tuple:
    "The market and a small untrained PPO policy (as tests/test_exchange_e2e.py); cached in `workdir`."
    from algobot.data import synthetic_ohlcv
    df = synthetic_ohlcv(HISTORY + MARKET, seed=3, timeframe="1m")
    path = Path(workdir) / "model" / "policy"
    if not path.with_suffix(".zip").exists():
        from stable_baselines3 import PPO
        from algobot.env import TradingEnv
        from algobot.train import save_model
        model = PPO("MlpPolicy", TradingEnv(df.iloc[:HISTORY]), seed=0, device="cpu", n_steps=64, batch_size=64,
                    n_epochs=1, policy_kwargs={"net_arch": [16, 16]})
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path, {"algo": "ppo"})
    return df, path


def _start(fake, ckpt, work: Path, out) -> subprocess.Popen:
    env = subprocess_env(PAPER_TRADING="false", ALGOBOT_API_KEY="fake-key", ALGOBOT_API_SECRET="fake-secret",
                         MAX_ORDERS_PER_MINUTE="100000", MAX_DRAWDOWN="0.9", MAX_DAILY_LOSS="0.9",
                         MAX_POSITION=str(MAX_POSITION), STALE_FEED_SECONDS="1000", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "algobot.live.service", "--exchange", "binance", "--symbol", "BTC/USDT",
           "--timeframe", "1m", "--model", str(ckpt), "--state", str(work / "state.json"), "--log",
           str(work / "live.jsonl"), "--lot", str(LOT), "--warmup", "200", "--exchange-url", fake.http_url,
           "--exchange-ws", fake.ws_url]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def read_log(path: Path) -> list[dict]:
    "The event log's records; a line torn by a SIGKILL is skipped."
    if not path.exists(): return []
    evs = []
    for line in path.read_text(errors="replace").splitlines():
        try: evs.append(json.loads(line))
        except json.JSONDecodeError: pass
    return evs


def _bars(path: Path) -> int:
    try: return path.read_bytes().count(b'"event": "bar"')
    except OSError: return 0


def tear(journal: Path, keep: float, executed: set[str]) -> str | None:
    """Cut the journal's last line mid-record (keep that fraction of it, no newline): a write torn by the crash.
    Only a write that may have been under way at the crash is torn: not the intent of an order the exchange has
    (`executed`: client ids), since CcxtBroker fsyncs an intent before it sends the order."""
    if not journal.exists(): return None
    data = journal.read_bytes()
    lines = data.split(b"\n")
    if len(lines) < 2 or not lines[-2]: return None
    last = lines[-2]
    rec = json.loads(last)
    if rec.get("kind") == "intent" and rec.get("cid") in executed: return None
    cut = max(1, min(len(last) - 1, int(len(last) * keep)))
    journal.write_bytes(data[:len(data) - len(last) - 1] + last[:cut])
    return rec.get("kind")


@dataclass
class Result:
    seed: int
    faults: dict                      # kind -> times injected (what happened, not only what was planned)
    violations: list[str]             # "invariant: evidence"
    seconds: float
    record: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool: return not self.violations

    def line(self) -> str:
        inj = ",".join(f"{k}x{n}" if n > 1 else k for k, n in sorted(self.faults.items())) or "-"
        return (f"seed {self.seed}: faults {inj}; " + ("ok" if self.ok else "BROKEN " + " | ".join(self.violations))
                + f" ({self.seconds:.0f} s)")


def run_schedule(seed: int, workdir: str | Path, bars: int = 40, checkpoint: tuple | None = None,
                 timeout: float = 120.0) -> Result:
    "Run schedule(seed): FakeBinance, the service (restarted after each kill) for `bars` bars, SIGTERM; check it."
    t0 = time.monotonic()
    sched = schedule(seed, bars)
    work = Path(workdir) / f"seed{seed}"
    work.mkdir(parents=True, exist_ok=True)
    for f in ("state.json", "state.json.orders.jsonl", "live.jsonl", "out.txt"): (work / f).unlink(missing_ok=True)
    df, ckpt = checkpoint or make_checkpoint(Path(workdir))
    from algobot.live.fake_exchange import FakeBinance
    by = {x["kind"]: x for x in sched["faults"]}
    fake = FakeBinance(df, history=HISTORY, speed=SPEED, updates_per_bar=1, faults=_exchange_faults(sched),
                       balances=dict(START)).start_in_thread()
    log, journal = work / "live.jsonl", work / "state.json.orders.jsonl"
    injected, notes, p = Counter(), [], None
    out = open(work / "out.txt", "a")
    def posts(): return fake.requests.get("order POST", 0)
    try:
        kills = []                                                     # (kind, fault) in the order they fall
        if "kill_order" in by: kills.append(("kill_order", by["kill_order"]))
        if "kill_bar" in by: kills.append(("kill_bar", by["kill_bar"]))
        for kind, x in kills:
            p = _start(fake, ckpt, work, out)
            if kind == "kill_bar":
                wait_for(lambda: _bars(log) >= x["bar"] or p.poll() is not None, f"bar {x['bar']}", timeout)
            else:   # the order's answer is held: it has executed; kill before the answer arrives (or give up at `bars`)
                wait_for(lambda: posts() >= x["order"] or _bars(log) >= bars or p.poll() is not None,
                         f"order {x['order']}", timeout)
            if p.poll() is not None: notes.append(f"clean_exit: run before {kind} exited {p.returncode}"); break
            p.send_signal(signal.SIGKILL); p.wait(60)
            injected[kind] += kind == "kill_bar" or posts() >= x["order"]
            if kind == "kill_order": fake.release()
            if "torn_journal" in by and not injected["torn_journal"]:
                if tear(journal, by["torn_journal"]["keep"], {o["clientOrderId"] for o in fake.orders}) is not None:
                    injected["torn_journal"] += 1
        out.flush(); final_at = (work / "out.txt").stat().st_size
        p = _start(fake, ckpt, work, out)
        least = max(bars, _bars(log) + FINAL_BARS)                     # the last run trades too, whatever came before
        wait_for(lambda: _bars(log) >= least or p.poll() is not None, f"{least} bars", timeout)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(120)
        out.flush()
        final_out = (work / "out.txt").read_bytes()[final_at:].decode(errors="replace")   # the last run's output
    finally:
        if p is not None and p.poll() is None: p.kill(); p.wait(60)
        out.close()
        fake.stop_thread()
    n_post, n_get = posts(), fake.requests.get("order GET", 0)
    streamed = fake.closed - HISTORY                                   # closed klines the stream sent (and bars dropped)
    for x in sched["faults"]:
        k = x["kind"]
        if k in ORDER_FAULTS: injected[k] += n_post >= x["order"]
        elif k == "storm_429": injected[k] += sum(n_post >= n for n in x["orders"]) >= 2
        elif k == "lookup_500": injected[k] += sum(n_get >= n for n in x["requests"])
        elif k == "klines_429": injected[k] += sum(fake.requests.get("klines", 0) >= n for n in x["requests"])
        elif k == "dup_candles": injected[k] += streamed >= min(x["duplicate_every"], x["out_of_order_every"])
        elif k == "bad_candle": injected[k] += sum(streamed >= n for n in x["klines"])
        elif k == "ws_drop": injected[k] += sum(fake.sent >= n for n in x["messages"])
    deposits = {a: 0.0 for a in START}
    for n, assets in fake.faults.deposits.items():
        if n_post >= n:
            injected["deposit"] += 1
            for a, v in assets.items(): deposits[a] += v
    from algobot.live.broker import OrderJournal
    logging.getLogger("algobot.live.broker").setLevel(logging.ERROR)   # a torn line left by a failed run: checked below
    state = json.loads((work / "state.json").read_text()) if (work / "state.json").exists() else None
    record = {"lot": LOT, "max_position": MAX_POSITION, "start": dict(START), "deposits": deposits, "step_ns": 60 * 10**9,
              "balances": dict(fake.balances), "orders": [{k: v for k, v in o.items() if k != "_fills"} | {"fills": o["_fills"]}
                                                          for o in fake.orders],
              "journal": OrderJournal(journal).lines if journal.exists() else [], "state": state,
              "log": read_log(log), "returncode": rc, "output": final_out, "notes": notes}
    return Result(seed, {k: v for k, v in injected.items() if v}, check(record), time.monotonic() - t0, record)


def _replay_journal(lines: list[dict], lot: float) -> tuple[float, float, float]:
    "Position (lots), cash flow and unknown fees from the journal's acks (exclude mode: no `adjust` lines)."
    pos = cash = unknown_fees = 0.0
    for r in lines:
        if r["kind"] == "ack" and r.get("filled"):
            s = 1.0 if r["side"] == "buy" else -1.0
            pos += s * r["filled"] / lot
            cash -= s * r["filled"] * r["average"] + r.get("fee", 0.0)
            if str(r.get("fee_source", "")).startswith("unknown"): unknown_fees += abs(r["filled"] * r["average"]) * UNKNOWN_FEE
        elif r["kind"] == "adjust": pos += r["lots"]; cash -= r["lots"] * lot * r["price"]
    return pos, cash, unknown_fees


def check(rec: dict) -> list[str]:
    "The invariants on a run record (see the module's docstring); one 'invariant: evidence' string per violation."
    bad, lot, eps = [], rec["lot"], 1e-9
    orders, journal, log = rec["orders"], rec["journal"], rec["log"]
    # duplicate_cid
    cids = Counter(o["clientOrderId"] for o in orders)
    if dup := [c for c, n in cids.items() if n > 1]: bad.append(f"duplicate_cid: {dup} sent {[cids[c] for c in dup]} times")
    # max_position, sampled after every execution
    pos, worst, exch_cash = 0.0, 0.0, 0.0
    for o in orders:
        q = float(o["executedQty"])
        if q:
            s = 1.0 if o["side"] == "BUY" else -1.0
            pos += s * q / lot
            exch_cash -= s * float(o["cummulativeQuoteQty"]) + sum(float(f["commission"]) for f in o.get("fills", []))
            if abs(pos) > rec["max_position"] + eps and abs(pos) > abs(worst): worst = pos
    if worst: bad.append(f"max_position: the exchange held {worst:+g} lots for the bot (MAX_POSITION {rec['max_position']:g})")
    # books: state = journal = exchange executions; exchange balance = start + executions + deposits
    jpos, jcash, unknown_fees = _replay_journal(journal, lot)
    base = rec["balances"]["BTC"] - rec["start"]["BTC"] - rec["deposits"].get("BTC", 0.0)
    if abs(base / lot - pos) > 1e-6:
        bad.append(f"books: exchange base change {base:+.8f} (deposits excluded) != its executions {pos * lot:+.8f}")
    if abs(jpos - pos) > 1e-6: bad.append(f"books: journal fills {jpos:+g} lots != exchange executions {pos:+g} lots")
    st = rec.get("state")
    if st is None: bad.append("books: no state file")
    elif abs(st["broker"]["position"] - jpos) > 1e-6:
        bad.append(f"books: state position {st['broker']['position']:+g} != journal fills {jpos:+g}")
    # cash
    quote = rec["balances"]["USDT"] - rec["start"]["USDT"] - rec["deposits"].get("USDT", 0.0)
    n_exec = sum(1 for o in orders if float(o["executedQty"]))
    tol = CASH_TOL * (1 + n_exec) + unknown_fees
    if abs(quote - jcash) > tol:
        bad.append(f"cash: exchange quote change {quote:+.6f} != journal cash {jcash:+.6f} (tolerance {tol:.2g})")
    # outcome
    acked = {r["cid"] for r in journal if r["kind"] == "ack"}
    if miss := [o["clientOrderId"] for o in orders if o["clientOrderId"] not in acked]:
        bad.append(f"outcome: executed on the exchange, no ack in the journal: {miss}")
    settled = {r["cid"] for r in journal if r["kind"] in ("ack", "rejected", "lost")}
    intents = [r["cid"] for r in journal if r["kind"] == "intent"]
    if miss := [c for c in intents if c not in settled]: bad.append(f"outcome: intents without an outcome in the journal: {miss}")
    logged = {e.get("cid") for e in log if e.get("event") in OUTCOME_EVENTS}
    for e in log:
        if e.get("event") == "reconcile": logged |= set(e.get("adopted") or []) | set(e.get("lost") or [])
    if miss := [c for c in intents if c not in logged]: bad.append(f"outcome: intents without an outcome in the log: {miss}")
    # bars: contiguous from the first traded to the last, in order within each run
    runs, ts = [[]], []
    for e in log:
        if e.get("event") == "service_start": runs.append([])
        elif e.get("event") == "bar": runs[-1].append(e["ts"]); ts.append(e["ts"])
    held = sorted(set(ts))
    if missing := [t for t, u in zip(held, held[1:]) if u - t != rec["step_ns"]]:
        bad.append(f"bars: {len(missing)} gap(s), after bar(s) {missing[:3]}")
    if back := [(t, u) for r in runs for t, u in zip(r, r[1:]) if u <= t]:
        bad.append(f"bars: out of order or twice in one run {back[:3]}")
    # clean_exit
    out = rec.get("output", "")
    if rec.get("returncode") != 0: bad.append(f"clean_exit: exit code {rec.get('returncode')}: {out[-300:]!r}")
    if "Traceback" in out or "never retrieved" in out: bad.append(f"clean_exit: {out[-600:]!r}")
    bad += rec.get("notes", [])
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schedules", type=int, default=20)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--seed", type=int, help="the first seed (as --seed0): with --schedules 1, rerun one schedule")
    ap.add_argument("--bars", type=int, default=40, help="bars each schedule trades (all runs together)")
    ap.add_argument("--workdir", default="/tmp/algobot-chaos")
    a = ap.parse_args(argv)
    def interrupted(sig, frame): raise KeyboardInterrupt   # SIGTERM: the running schedule's `finally` kills its service
    signal.signal(signal.SIGTERM, interrupted)
    seed0 = a.seed if a.seed is not None else a.seed0
    work = Path(a.workdir); work.mkdir(parents=True, exist_ok=True)
    ckpt = make_checkpoint(work)
    kinds, broken, runs = Counter(), Counter(), 0
    for seed in range(seed0, seed0 + a.schedules):
        try: r = run_schedule(seed, work, a.bars, ckpt)
        except AssertionError as e:                                    # a wait that timed out: a hang is a failure too
            r = Result(seed, {}, [f"hang: {' '.join(str(e).split())[:300]}"], 0.0)
        runs += 1; kinds.update(r.faults)
        for v in r.violations: broken[v.split(":")[0]] += 1
        print(r.line(), flush=True)
        if not r.ok: print(f"  rerun: python tests/chaos_live.py --seed {seed} --schedules 1 --bars {a.bars}", flush=True)
    print(f"summary: {runs} schedules of {a.bars} bars; faults injected: "
          + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none")
          + "; invariant violations: " + (", ".join(f"{k} {n}" for k, n in sorted(broken.items())) or "none"), flush=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
