"""The oversight dashboard (`algobot-dashboard`, nbs/17e_live_dashboard.ipynb) in a real Chromium, over a real trader.

The dashboard runs as its own process (`python -m algobot.live.dashboard`, as `./run.sh dashboard` starts it) on
127.0.0.1; the trader — a `LiveTrader` with a stand-in policy on synthetic hourly bars — runs in this process, and
the test hands it its bars (`on_bar`) on a `ManualClock`. Chromium, driven by Playwright, checks: the "no
trader running" page before the trader's first bar; then the equity of the state file; the page following the log as
it grows; and the halt button halting the trader on its next bar (its gate halted, a `halt` event in its log, the page
showing it). No console errors on the way. Every wait is a Playwright wait or a poll with a generous timeout that only
guards against a hang — never a sleep that assumes a speed.

Also the security model (17e's "Serving it: who gets what"), against the real command: a non-loopback bind without a
token is refused; with a token, a request lacking it gets 403 on every route class Panel and Bokeh register (page,
websocket, static files, Panel's `/components/<module>/...` — which must import nothing — and the rest), the token
opens the served ones and the others are 404; and on a non-loopback bind the websocket opens from the page's own
origin only, whatever cookie a forged `Origin` comes with. Ports are chosen by the OS (`--port 0`; the command prints
its link).

Needs a Chromium (`algobot.browser.find_chromium`; `./run.sh test` installs one) and the `playwright` package (dev
extras): without them these tests fail rather than skip.
"""
import asyncio, json, os, re, signal, subprocess, sys, urllib.error, urllib.request
from pathlib import Path

import numpy as np
import pytest

from helpers import chromium_browser, subprocess_env, tail, wait_for
from gymnasium import spaces

from algobot.data import synthetic_ohlcv
from algobot.env import TradingEnv
from algobot.live.feed import Bar, LiveFeed, ManualClock
from algobot.live.orders import RiskGate, RiskLimits
from algobot.live.trader import JsonlLog, LiveTrader, halt_request_path

START_TIMEOUT = 120      # s: the dashboard process importing torch, panel and starting on a loaded 2-core machine
STEP_TIMEOUT = 60_000    # ms: one refresh of the page (every 0.2 s) seen by the browser
WARMUP = 300


def _get(url: str, headers: dict | None = None) -> int:
    return _fetch(url, headers)[0]


def _fetch(url: str, headers: dict | None = None) -> tuple[int, str]:
    "Status and body of a GET."
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def _dashboard_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "algobot.live.dashboard", *args]


def _env(**extra) -> dict:
    # unbuffered: whatever the server prints (the Zen of Python, if a request imported `this`) is in its log at once
    return subprocess_env(drop=("ALGOBOT_DASHBOARD_TOKEN",), PYTHONUNBUFFERED="1", **extra)


class _Server:
    "A dashboard process in its own process group, stopped with it."
    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(_dashboard_cmd(*args), cwd=log.parent, env=env or _env(), stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def port(self) -> int:
        "The port of the link the dashboard printed (it was given --port 0: the OS chose it)."
        printed = lambda: re.search(r" on http://[^/]+:(\d+)/", self.log.read_text())
        wait_for(printed, "the dashboard's link", START_TIMEOUT, self.proc, self.log)
        return int(printed().group(1))

    def wait_up(self, url: str) -> None:
        wait_for(lambda: _get(url) == 200, f"the dashboard answering at {url}", START_TIMEOUT, self.proc, self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try: self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(30)


class Wanderer:
    "A stand-in policy: holds a random position (short, flat or long) for 5 to 40 bars; seeded."
    def __init__(self, observation_space, seed=0):
        self.observation_space, self.action_space = observation_space, spaces.Discrete(3)
        self.rng, self.action, self.left = np.random.default_rng(seed), 1, 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        if self.left <= 0: self.action, self.left = int(self.rng.integers(3)), int(self.rng.integers(5, 40))
        self.left -= 1
        return np.int64(self.action), None


class Driver:
    "A paper trader on synthetic bars writing `work/state.json` and `work/live.jsonl`; `trade(n)` hands it bars."
    def __init__(self, work: Path):
        self.df = synthetic_ohlcv(WARMUP + 400, seed=1)
        self.state, self.log = work / "state.json", work / "live.jsonl"
        self.clock = ManualClock()
        feed = LiveFeed("1h", history=self.df.iloc[:WARMUP])
        gate = RiskGate(RiskLimits(max_orders_per_minute=2, max_order_size=0.5), clock=self.clock)   # rejects some
        self.trader = LiveTrader(Wanderer(TradingEnv(feed).observation_space), feed, gate=gate, log_path=self.log,
                                 state_path=self.state, clock=self.clock)

    def trade(self, n: int) -> dict:
        "The next `n` bars; returns the state file once it holds them (the trader writes it in a background thread)."
        t = self.trader
        for _ in range(n):
            r = self.df.iloc[WARMUP + t.bars]
            self.clock.advance(1.0)
            t.on_bar(Bar(r.timestamp.value, r.open, r.high, r.low, r.close, r.volume))
        written = lambda: self.state.exists() and json.loads(self.state.read_text())["bars"] == t.bars
        wait_for(written, "state written", 60)
        return json.loads(self.state.read_text())


@pytest.fixture
def browser():
    with chromium_browser() as b: yield b


def test_dashboard_follows_and_halts_a_trader(browser, tmp_path):
    from playwright.sync_api import expect
    expect.set_options(timeout=STEP_TIMEOUT)
    driver = Driver(tmp_path)
    server = _Server(["--state", str(driver.state), "--log", str(driver.log), "--port", "0", "--refresh", "0.2"],
                     tmp_path / "dashboard.log")
    page, errors = None, []
    try:
        url = f"http://127.0.0.1:{server.port()}/"
        server.wait_up(url)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT)
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.goto(url)
        banner, status = page.locator(".algobot-banner"), page.locator(".algobot-status")

        # nothing written yet: the page says so
        expect(banner).to_have_attribute("data-running", "false")
        expect(banner).to_contain_text("No trader running")
        expect(banner).to_contain_text(f"no state file at {driver.state}")

        # the trader's first 200 bars: the page shows the state file's equity
        state = driver.trade(200)
        expect(banner).to_have_attribute("data-running", "true")
        expect(status).to_have_attribute("data-bars", "200")
        expect(page.locator(".algobot-equity")).to_have_text(f"{state['account']['equity']:.6f}")
        expect(status).to_have_attribute("data-points", "200")                # the log's bars, in the charts
        assert driver.trader.orders > 0 and driver.trader.gate.rejections["rate limit"] > 0
        expect(page.locator(".algobot-rejections")).to_contain_text("rate limit")

        # the log grows: the page follows
        state = driver.trade(25)
        expect(status).to_have_attribute("data-points", "225")
        expect(status).to_have_attribute("data-bars", "225")
        expect(page.locator(".algobot-equity")).to_have_text(f"{state['account']['equity']:.6f}")

        # halt from the page: the request file appears, the trader honours it on its next bar and logs it
        orders = driver.trader.orders
        page.get_by_placeholder("e.g. spread looks wrong").fill("browser test halt")
        page.get_by_role("button", name="Halt trading").click()
        expect(page.locator(".algobot-halt-note")).to_contain_text("halts on its next bar")
        wait_for(halt_request_path(driver.state).exists, "the halt request file", 60)
        assert not driver.trader.gate.halted                                   # nothing happens between bars ...
        driver.trade(1)                                                        # ... and the next bar halts
        assert driver.trader.gate.halted and driver.trader.gate.halt_reason == "operator: browser test halt"
        driver.trade(3)
        assert driver.trader.orders == orders                                  # no order since
        halts = [e for e in map(json.loads, driver.log.read_text().splitlines()) if e["event"] == "halt"]
        assert [h["reason"] for h in halts] == ["operator: browser test halt"], halts
        expect(banner).to_contain_text("HALTED — operator: browser test halt")
        expect(status).to_have_attribute("data-halted", "true")
        expect(page.get_by_role("button", name="Halt trading")).to_be_disabled()
        assert errors == [], errors
    except BaseException:
        if page is not None:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot: {tmp_path / 'failure.png'}\nconsole: {errors}\ndashboard log:\n{tail(server.log)}")
        raise
    finally:
        server.stop()
        driver.trader.close()
    assert JsonlLog.read(driver.log).event.value_counts()["halt"] == 1


def test_non_loopback_needs_a_token(tmp_path):
    r = subprocess.run(_dashboard_cmd("--address", "0.0.0.0", "--port", "0", "--state",
                                      str(tmp_path / "state.json")),
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=START_TIMEOUT)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "refusing to serve on '0.0.0.0' without a token" in r.stderr, r.stderr


# a sample path for each route class Panel 1.10 and Bokeh 3.10 register (17e's ROUTES lists them from the running
# server's own route table), and some that newer Panels add or that do not exist
SERVED = ["/", "/favicon.ico", "/static/js/bokeh.min.js", "/static/extensions/panel/panel.min.js"]
NOT_SERVED = ["/components/this/Zen/__css__/zen.css", "/metadata", "/autoload.js", "/panel-preview/render",
              "/session_info", "/liveness", "/admin", "/no/such/route"]
ZEN = "Beautiful is better than ugly"   # what importing `this` prints


def _ws_open(port: int, origin: str, cookie: str | None, session: str) -> int | str:
    "Open the page's websocket: Bokeh's first message type ('ACK') if accepted, else the HTTP status of the refusal."
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect
    headers = {"Origin": origin, **({"Cookie": cookie} if cookie else {})}

    async def connect():
        try:
            ws = await websocket_connect(HTTPRequest(f"ws://127.0.0.1:{port}/ws", headers=headers),
                                         subprotocols=["bokeh", session])
        except HTTPClientError as e:
            return e.code
        try:
            header = json.loads(await ws.read_message())
            for _ in range(2):   # the rest of Bokeh's message: metadata, content
                await ws.read_message()
            return header["msgtype"]
        finally:
            ws.close()
    return asyncio.run(connect())


def test_token_is_required_in_every_request(tmp_path):
    token = "t0k3n-" + os.urandom(8).hex()
    server = _Server(["--address", "0.0.0.0", "--port", "0", "--state", str(tmp_path / "state.json")],
                     tmp_path / "dashboard.log", env=_env(ALGOBOT_DASHBOARD_TOKEN=token))   # token from the environment
    try:
        port = server.port()
        base = f"http://127.0.0.1:{port}"
        server.wait_up(f"{base}/?token={token}")
        assert _get(f"{base}/") == 403
        assert _get(f"{base}/?token=wrong") == 403
        assert _get(f"{base}/", {"Authorization": "Bearer wrong"}) == 403
        assert _get(f"{base}/", {"Authorization": f"Bearer {token}"}) == 200
        assert _get(f"{base}/", {"Cookie": f"algobot_dashboard_token={token}"}) == 200

        # every route class: 403 without the token (the websocket's handshake too), nothing imported
        ws = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": base}
        assert {p: _get(base + p) for p in SERVED + NOT_SERVED} == {p: 403 for p in SERVED + NOT_SERVED}
        assert _get(f"{base}/ws", ws) == 403
        # with it: the served ones serve, the others are not there
        bearer = {"Authorization": f"Bearer {token}"}
        assert {p: _get(base + p, bearer) for p in SERVED} == {p: 200 for p in SERVED}
        assert {p: _get(base + p, bearer) for p in NOT_SERVED} == {p: 404 for p in NOT_SERVED}
        assert ZEN not in server.log.read_text(), tail(server.log)            # /components/this/... imported nothing

        # the websocket on a non-loopback bind: the page's own origin only, even with the cookie
        cookie = f"algobot_dashboard_token={token}"
        def session() -> str:   # a new page: its Bokeh session token
            status, page = _fetch(f"{base}/", bearer)
            assert status == 200
            return re.search(r'"token":\s*"([^"]+)"', page).group(1)
        assert _ws_open(port, base, cookie, session()) == "ACK"
        refused = {o: _ws_open(port, o, cookie, session())
                   for o in ("http://evil.example", f"http://evil.example:{port}", f"http://127.0.0.1:{port + 1}", "null")}
        assert refused == dict.fromkeys(refused, 403), refused
        assert _ws_open(port, base, None, session()) == 403                  # the right origin without the token
    finally:
        server.stop()
