"""AlgoBot setup and entry point: create .venv with Python 3.12, install the project, then run a job.

    python3.12 tools/bootstrap.py pipeline [algobot-pipeline options]   # set up, run the main job (reports/)
    python3.12 tools/bootstrap.py test                                   # set up, get a Chromium, run nbdev-test and pytest
    python3.12 tools/bootstrap.py study [--full] [--workers N] [--address A] # set up, run the walk-forward study -> reports/full/
    python3.12 tools/bootstrap.py docs [--out DIR]                       # set up, build the docs site -> _docs/index.html
    python3.12 tools/bootstrap.py tensorboard [--port N]                 # set up, serve the training logs (RUNS_DIR) on 127.0.0.1
    python3.12 tools/bootstrap.py setup | lab                            # set up only | open JupyterLab
    python3.12 tools/bootstrap.py dashboard [--state FILE] [--log FILE]  # set up, serve a trader's dashboard (127.0.0.1)

On Linux/macOS `./run.sh ...` finds Python 3.12 and calls this; on Windows use `py -3.12 tools\\bootstrap.py ...`.
Re-running is fast: the install is skipped while pyproject.toml and the install scripts are unchanged.
The test job first looks for the Chromium the browser tests drive (algobot.browser.find_chromium: ALGOBOT_CHROMIUM,
Playwright's own, /usr/bin/chromium, chromium-browser/chromium/google-chrome on PATH) and installs one if it finds
none: `apt-get install chromium` as root where apt-get exists, else `python -m playwright install chromium`. If that
fails it stops (exit 2) before any test and prints the command to type.
"""
from __future__ import annotations
import hashlib, os, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXE = ".exe" if os.name == "nt" else ""
PY = BIN / f"python{EXE}"
STAMP = VENV / ".algobot-install-stamp"
NEEDED = (3, 12)


def die(msg: str, code: int = 2) -> None:
    print(f"bootstrap: {msg}", file=sys.stderr)
    sys.exit(code)


def sh(*cmd: str | Path, env: dict | None = None) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def install_stamp() -> str:
    h = hashlib.sha256()
    for f in ("pyproject.toml", "tools/bootstrap.py", "tools/install_learn2learn.py"):
        h.update((ROOT / f).read_bytes())
    return h.hexdigest()


def venv_ok() -> bool:
    if not PY.exists(): return False
    r = subprocess.run([str(PY), "-c", "import sys; print(sys.version_info[:2] == (3, 12))"], capture_output=True, text=True)
    return r.stdout.strip() == "True"


def setup() -> None:
    if sys.version_info[:2] != NEEDED:
        die(f"this must run under Python 3.12 (it is {sys.version.split()[0]} at {sys.executable}). "
            "Use ./run.sh (finds 3.12 for you), or `py -3.12 tools\\bootstrap.py ...` on Windows. "
            "No Python 3.12? `pyenv install 3.12` or https://www.python.org/downloads/ (pandas-ta needs >= 3.12).")
    if not venv_ok():
        print(f"bootstrap: creating {VENV} with {sys.executable}", flush=True)
        import venv
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    stamp = install_stamp()
    if STAMP.exists() and STAMP.read_text() == stamp:
        print("bootstrap: .venv is up to date", flush=True)
        return
    steps = [
        (PY, "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"),
        (PY, "-m", "pip", "install", "-e", ".[dev,meta]"),
        (PY, ROOT / "tools" / "install_learn2learn.py"),
    ]
    for step in steps:
        if sh(*step): die(f"setup step failed: {' '.join(map(str, step))}")
    STAMP.write_text(stamp)
    print("bootstrap: setup complete", flush=True)


def test_env() -> dict:
    "Test runs write models, processed data and reports to a scratch folder, never over the user's own."
    scratch = Path(os.environ.get("ALGOBOT_TEST_OUTPUT") or tempfile.mkdtemp(prefix="algobot-test-"))
    env = dict(os.environ)
    # nbdev-test runs two notebooks at once on 2 cores: one torch/BLAS thread each avoids oversubscription (10x slower)
    env.setdefault("OMP_NUM_THREADS", "1")
    for key in ("PROCESSED_DATA_DIR", "MODELS_DIR", "REPORTS_DIR", "RUNS_DIR"):
        env[key] = str(scratch / key.lower().removesuffix("_dir"))
    print(f"bootstrap: test outputs go to {scratch}", flush=True)
    return env


FIND_CHROMIUM = "from algobot.browser import find_chromium; print(find_chromium() or '')"


def find_browser(env: dict | None = None,            # the test environment (ALGOBOT_CHROMIUM, PATH); None: this one
                 code: str = FIND_CHROMIUM,           # Python run in .venv printing the browser's path or ''
                ) -> str | None:
    "The Chromium the browser tests will drive (`algobot.browser.find_chromium`, asked in .venv), or None."
    r = subprocess.run([str(PY), "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if r.returncode:   # e.g. ALGOBOT_CHROMIUM naming no file: the error's last line says what to fix
        die(f"looking for a browser failed: {(r.stderr.strip().splitlines() or ['no output'])[-1]}")
    return r.stdout.strip() or None


def browser_installs(root: bool | None = None,   # running as root; None: ask the OS
                     apt: bool | None = None,    # apt-get present (Debian, Ubuntu); None: look on PATH
                    ) -> list[tuple[str | Path, ...]]:
    "How this machine can get a Chromium, in order: Debian's package as root, then Playwright's own download."
    root = (hasattr(os, "geteuid") and os.geteuid() == 0) if root is None else root
    apt = shutil.which("apt-get") is not None if apt is None else apt
    installs: list[tuple[str | Path, ...]] = [(PY, "-m", "playwright", "install", "chromium")]
    if root and apt:
        # a fresh machine's unattended upgrades (or another apt) may hold the dpkg lock: wait for it, up to 10 minutes
        lock = "-o DPkg::Lock::Timeout=600"
        installs.insert(0, ("sh", "-c", f"apt-get {lock} update -qq && DEBIAN_FRONTEND=noninteractive apt-get {lock} install -y -qq chromium"))
    return installs


def ensure_browser(env: dict | None = None,                          # the test environment; None: this one
                   find=find_browser,                                # env -> the browser's path or None
                   installs: list[tuple[str | Path, ...]] | None = None,  # commands to try in order; None: browser_installs()
                   run=sh,                                           # runs one command, returns its exit code
                  ) -> str:
    "The browser the tests will drive; installs one if there is none; exits (code 2) naming the command to type if it cannot."
    if found := find(env):
        print(f"bootstrap: browser tests use {found}", flush=True)
        return found
    installs = browser_installs() if installs is None else installs
    print("bootstrap: no Chromium for the browser tests (ALGOBOT_CHROMIUM, Playwright's own, /usr/bin/chromium, "
          "chromium-browser/chromium/google-chrome on PATH); installing one", flush=True)
    for cmd in installs:
        if run(*cmd, env=env) == 0 and (found := find(env)):
            print(f"bootstrap: browser tests use {found}", flush=True)
            return found
    tried = "; ".join(" ".join(map(str, cmd)) for cmd in installs)
    rerun = "py -3.12 tools\\bootstrap.py test" if os.name == "nt" else "./run.sh test"
    die(f"no Chromium for the browser tests, and installing one failed (tried: {tried}). No test was run.\n"
        f"Install one, then rerun `{rerun}`:\n"
        f"  {PY} -m playwright install chromium   (any OS: Playwright's own Chromium, downloaded)\n"
        "  sudo apt-get install chromium   (Debian; on Ubuntu: chromium-browser)\n"
        "or set ALGOBOT_CHROMIUM to a Chromium or Chrome executable.")


def main(argv: list[str]) -> int:
    job, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if job in ("help", "-h", "--help"):
        print(__doc__); return 0
    if job not in ("setup", "pipeline", "study", "test", "docs", "lab", "dashboard", "tensorboard"):
        die(f"unknown job {job!r}; use setup, pipeline, study, test, docs, lab, dashboard or tensorboard")
    setup()
    if job == "setup": return 0
    if job == "pipeline":   # one torch/BLAS thread per kernel: faster for these small networks, no oversubscription
        return sh(BIN / f"algobot-pipeline{EXE}", *rest, env={"OMP_NUM_THREADS": "1", **os.environ})
    if job == "study":
        return sh(BIN / f"algobot-study{EXE}", *rest, env={"OMP_NUM_THREADS": "1", **os.environ})
    if job == "lab": return sh(BIN / f"jupyter{EXE}", "lab", "nbs", *rest)
    if job == "dashboard": return sh(BIN / f"algobot-dashboard{EXE}", *rest)
    if job == "docs": return sh(PY, ROOT / "tools" / "build_docs.py", *rest)
    if job == "tensorboard":   # the SB3 logs of every training; RUNS_DIR from settings.ini or the environment
        runs = subprocess.run([str(PY), "-c", "from algobot.config import load_settings; print(load_settings().runs_dir)"],
                              capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
        return sh(BIN / f"tensorboard{EXE}", "--logdir", runs, "--host", "127.0.0.1", *rest)
    env = test_env()
    ensure_browser(env)   # before any test: tests/test_*_browser.py and 17e_live_dashboard drive Chromium
    nb = sh(BIN / f"nbdev-test{EXE}", "--n-workers", "2", "--timing", *rest, env=env)
    py = sh(PY, "-m", "pytest", "-q", "--durations=20", "tests", env=env)   # the slowest tests, as nbdev-test --timing
    print(f"bootstrap: nbdev-test {'passed' if nb == 0 else 'FAILED'}, pytest {'passed' if py == 0 else 'FAILED'}")
    return 1 if (nb or py) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
