"""What the tests share: the project folder, polling with a hang guard, the environment of a subprocess that runs
this checkout's algobot, the browser the browser tests drive, free loopback ports and the tail of a log."""
from __future__ import annotations
import os, socket, subprocess, time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from algobot.browser import NO_CHROMIUM, find_chromium, launch_chromium

ROOT = Path(__file__).resolve().parents[1]   # the checkout: nbs/, algobot/, historical_data/, tools/


def tail(path: Path | None, n: int = 40) -> str:
    "The last `n` lines of a log file ('' if there is none)."
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path and path.exists() else ""


def wait_for(cond: Callable[[], object],            # polled until it returns something true; OSError counts as not yet
             what: str,                              # what is waited for, for the failure message
             timeout: float = 120.0,                 # s: a guard against a hang, never a speed the test assumes
             proc: subprocess.Popen | None = None,   # fail at once if this process exits meanwhile
             log: Path | None = None,                # its log: the tail goes into the failure message
             interval: float = 0.05,                 # s between polls
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
            ) -> None:
    "Poll `cond` until it is true; fail after `timeout` s or as soon as `proc` has exited."
    deadline = clock() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process exited with {proc.returncode} while waiting for {what}\n{tail(log)}")
        try:
            if cond(): return
        except OSError:   # e.g. a server not listening yet
            pass
        if clock() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s\n{tail(log)}")
        sleep(interval)


def subprocess_env(drop: tuple[str, ...] = (),   # variables to remove (e.g. a token the test must not pass on)
                   **extra: str,                 # variables to set
                  ) -> dict[str, str]:
    "This process's environment for a subprocess that imports this checkout's algobot (ROOT first on PYTHONPATH)."
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return {**env, **extra}


def free_port() -> int:
    "A TCP port free on 127.0.0.1 right now."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_browser() -> Path:
    "The Chromium the browser tests drive (`algobot.browser.find_chromium`); fails, never skips, naming the fix."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise AssertionError("the playwright package is missing: pip install -e '.[dev]'") from None
    found = find_chromium()
    assert found is not None, NO_CHROMIUM
    return found


@contextmanager
def chromium_browser() -> Iterator:
    "A headless Chromium launched by Playwright (`algobot.browser.launch_chromium`), closed on exit."
    from playwright.sync_api import sync_playwright
    path = require_browser()
    with sync_playwright() as pw:
        browser = launch_chromium(pw, path)
        try: yield browser
        finally: browser.close()
