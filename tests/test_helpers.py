"""The test machinery itself: `helpers.wait_for` on a fake clock, `helpers.subprocess_env`, and the browser step of
`./run.sh test` (tools/bootstrap.py: find a Chromium, else install one, else stop naming the command) with fake
finders and installers, and once for real in .venv on a PATH that holds only a fake browser."""
import importlib.util, os, subprocess, sys

import pytest

from helpers import ROOT, subprocess_env, wait_for


def _bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "tools" / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bootstrap = _bootstrap()


class FakeClock:
    "Time that moves only when the poller sleeps."
    def __init__(self): self.now, self.sleeps = 0.0, 0
    def __call__(self): return self.now
    def sleep(self, s): self.now += s; self.sleeps += 1


def test_wait_for_returns_once_true():
    clock, calls = FakeClock(), []
    def cond():
        calls.append(clock.now)
        if len(calls) == 1: raise ConnectionRefusedError   # a server not up yet: polled again
        return len(calls) >= 3
    wait_for(cond, "the third poll", 10, clock=clock, sleep=clock.sleep)
    assert len(calls) == 3 and clock.sleeps == 2


def test_wait_for_fails_after_timeout_with_the_log(tmp_path):
    clock, log = FakeClock(), tmp_path / "server.log"
    log.write_text("starting\nstuck on something\n")
    with pytest.raises(AssertionError, match=r"(?s)the server: not after 2 s.*stuck on something"):
        wait_for(lambda: False, "the server", 2, log=log, interval=0.5, clock=clock, sleep=clock.sleep)
    assert 2 < clock.now <= 2.5


def test_wait_for_fails_when_the_process_exits(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    clock = FakeClock()
    with pytest.raises(AssertionError, match="exited with 3 while waiting for the file"):
        wait_for(lambda: False, "the file", 3600, proc, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == 0


def test_subprocess_env_runs_this_checkout(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("SECRET_TOKEN", "t")
    env = subprocess_env(drop=("SECRET_TOKEN",), EXTRA="1")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/elsewhere"]
    assert "SECRET_TOKEN" not in env and env["EXTRA"] == "1" and env["PATH"] == os.environ["PATH"]
    out = subprocess.run([sys.executable, "-c", "import algobot; print(algobot.__file__)"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(ROOT / "algobot" / "__init__.py")


def test_browser_found_nothing_installed(capsys):
    ran = []
    found = bootstrap.ensure_browser({}, find=lambda env: "/opt/chrome", run=lambda *c, env: ran.append(c) or 0)
    assert found == "/opt/chrome" and ran == []
    assert "browser tests use /opt/chrome" in capsys.readouterr().out


def test_browser_installed_by_the_first_install_that_works():
    ran, installed = [], []
    def run(*cmd, env):
        ran.append(cmd)
        if cmd == ("b",): installed.append("/cache/chrome")
        return 0 if cmd == ("b",) else 1
    found = bootstrap.ensure_browser({}, find=lambda env: installed[-1] if installed else None,
                                     installs=[("a",), ("b",), ("c",)], run=run)
    assert found == "/cache/chrome" and ran == [("a",), ("b",)]


def test_no_browser_stops_before_the_tests_naming_the_command(capsys):
    with pytest.raises(SystemExit) as e:
        bootstrap.ensure_browser({}, find=lambda env: None, installs=[("apt",), ("pw",)], run=lambda *c, env: 0)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "tried: apt; pw" in err and "No test was run" in err
    assert f"{bootstrap.PY} -m playwright install chromium" in err and "ALGOBOT_CHROMIUM" in err


def test_install_commands():
    apt, playwright = bootstrap.browser_installs(root=True, apt=True)
    assert apt[-1].startswith("apt-get -o DPkg::Lock::Timeout=600 update") and "install -y -qq chromium" in apt[-1]
    assert apt[-1].count("DPkg::Lock::Timeout=600") == 2   # both apt-get calls wait for a held dpkg lock
    assert playwright == (bootstrap.PY, "-m", "playwright", "install", "chromium")
    assert bootstrap.browser_installs(root=False, apt=True) == [playwright]   # no apt-get without root
    assert bootstrap.browser_installs(root=True, apt=False) == [playwright]


def test_find_browser_in_the_venv(tmp_path):
    "bootstrap asks .venv's algobot.browser; here on a PATH with only a fake browser, no Playwright or Debian one."
    fake = tmp_path / "bin" / ("chromium-browser" + (".exe" if os.name == "nt" else ""))
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n"); fake.chmod(0o755)
    env = subprocess_env(drop=("ALGOBOT_CHROMIUM",), PATH=str(fake.parent),
                         PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "no-playwright-browsers"))
    hidden = "from algobot.browser import find_chromium; print(find_chromium(system=()) or '')"
    assert bootstrap.find_browser(env, code=hidden) == str(fake)
    env["PATH"] = str(tmp_path)
    assert bootstrap.find_browser(env, code=hidden) is None
    with pytest.raises(SystemExit) as e:
        bootstrap.find_browser({**env, "ALGOBOT_CHROMIUM": str(tmp_path / "typo")})
    assert e.value.code == 2
