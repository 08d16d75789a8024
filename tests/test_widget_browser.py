"""The preference labeller in a real JupyterLab and a real Chromium, used with the mouse and the keyboard.

Starts JupyterLab on 127.0.0.1 (free port, token) in a temporary folder holding a small notebook that builds a
`PreferenceWidget` over synthetic clips writing to a temporary store, opens it in Chromium driven by Playwright,
runs the cell, then answers with a click, with keys, with a double click and after clicking the chart.
Checks the store (one answer per pair on screen, in order), that no key reached JupyterLab's shortcuts (the notebook
keeps its cells) and that the finished widget clears. Every wait is a Playwright wait on the page, never a sleep.

Needs a Chromium (`algobot.browser.find_chromium`; `./run.sh test` installs one) and the `playwright` package (dev
extras).
"""
import json, os, re, signal, subprocess, sys, urllib.request, uuid
from pathlib import Path

import pytest

from helpers import chromium_browser, free_port, require_browser, subprocess_env, tail, wait_for

try:
    from playwright.sync_api import expect
except ImportError:   # browser_available fails the test, naming the fix
    expect = None


@pytest.fixture(autouse=True)
def browser_available():
    "A missing browser fails the test (never a silent skip) before JupyterLab starts."
    require_browser()

START_TIMEOUT = 120      # s: JupyterLab starting on a loaded 2-core machine
KERNEL_TIMEOUT = 240_000  # ms: kernel start + importing algobot (torch) + drawing the first pair
STEP_TIMEOUT = 60_000    # ms: one answer: kernel round trip, store write, next pair drawn
N_PAIRS = 5

LABELLER_CELL = """\
import json
from pathlib import Path
import numpy as np
from algobot.data import synthetic_ohlcv
from algobot.preferences import Clip, PreferenceStore, PreferenceWidget, make_pairs

df = synthetic_ohlcv(600, seed=3)
close, times, rng, L = df["close"].to_numpy(), df["timestamp"].to_numpy(), np.random.default_rng(3), 24

def clip(k):
    s = 40 * k
    price, pos = close[s:s + L + 1], rng.choice([-1.0, 0.0, 1.0], L)
    equity = np.r_[1.0, np.cumprod(1 + pos * np.diff(price) / price[:-1])]
    return Clip(f"SYN_1h:{{s}}", "SYN_1h", s, np.zeros((L, 4), np.float32), pos, price, pos, equity, np.zeros(L),
                times[s:s + L + 1])

pairs = make_pairs([clip(k) for k in range(10)], {n_pairs}, seed=0)
Path({pairs_path!r}).write_text(json.dumps([[l.id, r.id] for l, r in pairs]))
labeller = PreferenceWidget(pairs, PreferenceStore({store_path!r}))
labeller"""


def _notebook(cells: list[tuple[str, str]]) -> dict:
    return {"cells": [{"cell_type": t, "id": uuid.uuid4().hex[:8], "metadata": {}, "source": s,
                       **({"execution_count": None, "outputs": []} if t == "code" else {})} for t, s in cells],
            "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def lab(tmp_path):
    "JupyterLab serving a folder with the labeller notebook; yields (url of the notebook, store, pairs file, log)."
    root, jupyter = tmp_path / "lab", tmp_path / "jupyter"
    root.mkdir()
    (jupyter / "config" / "labconfig").mkdir(parents=True)
    # no announcement/news pop-ups over the page (and no attempt to fetch news)
    (jupyter / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    store, pairs = tmp_path / "store.jsonl", tmp_path / "pairs.json"
    cell = LABELLER_CELL.format(n_pairs=N_PAIRS, pairs_path=str(pairs), store_path=str(store))
    (root / "labeller.ipynb").write_text(json.dumps(_notebook(
        [("markdown", "# Labeller under test"), ("code", cell), ("code", "print('the cell after')")]), indent=1))
    port, token = free_port(), uuid.uuid4().hex
    venv_bin = str(Path(sys.executable).parent)
    env = subprocess_env(drop=("JUPYTER_PATH",), PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""),
                         JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
                         JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), IPYTHONDIR=str(jupyter / "ipython"),
                         PROCESSED_DATA_DIR=str(tmp_path / "processed"), MODELS_DIR=str(tmp_path / "models"),
                         REPORTS_DIR=str(tmp_path / "reports"), MPLBACKEND="agg")
    log = tmp_path / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.user_settings_dir={jupyter / 'settings'}", f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
           "--ServerApp.allow_root=True",   # CI runs as root
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    def up() -> bool:   # the server is up when /api/status answers
        with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r: return r.status == 200
    try:
        wait_for(up, "JupyterLab answering", START_TIMEOUT, proc, log, interval=0.2)
        yield f"{base}/lab/tree/labeller.ipynb?token={token}&reset", store, pairs, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)   # the server and the kernel it started (its own process group)
            try: proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL); proc.wait(30)


def _records(store: Path) -> list[dict]:
    return [json.loads(l) for l in store.read_text().splitlines()] if store.exists() else []


def test_widget_in_jupyterlab(lab, tmp_path):
    url, store, pairs_file, log = lab
    with chromium_browser() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(STEP_TIMEOUT)
        expect.set_options(timeout=STEP_TIMEOUT)
        try:
            _label_in_browser(page, url, store, pairs_file)
        except BaseException:
            shot = tmp_path / "failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}\nJupyterLab log:\n{tail(log)}")
            raise


def _label_in_browser(page, url: str, store: Path, pairs_file: Path):
    page.goto(url, wait_until="domcontentloaded")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    expect(cells).to_have_count(3, timeout=START_TIMEOUT * 1000)
    kernel = page.locator(".jp-StatusBar-TextItem[title^='Change kernel']")   # e.g. "Python 3 (ipykernel) | Idle"
    expect(kernel).to_have_text(re.compile(r"Python.*\| Idle"), timeout=KERNEL_TIMEOUT)
    code = cells.nth(1)
    code.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")                            # run the labeller's cell (and stay on it)
    page.keyboard.press("Escape")                                   # command mode: where a, x, d d are shortcuts
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text("Mode: Command")
    root = code.locator(".algobot-pref")
    expect(root).to_have_attribute("data-state", "ready", timeout=KERNEL_TIMEOUT)
    expect(root).to_have_attribute("data-index", "0")
    expect(root.locator(".algobot-pref-figure img")).to_be_visible()
    expect(root.locator(".algobot-pref-progress")).to_have_text(f"0 / {N_PAIRS} labelled")
    pairs = [tuple(p) for p in json.loads(pairs_file.read_text())]
    n_cells = cells.count()

    def on_screen(index: int):
        "Wait until pair `index` is drawn and answerable."
        expect(root).to_have_attribute("data-index", str(index))
        expect(root).to_have_attribute("data-state", "ready")

    # a click answers pair 0; the widget keeps the keyboard, so keys go on answering
    root.locator("button[data-choice='left']").click()
    on_screen(1)
    expect(root).to_be_focused()
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text("Mode: Command")   # still: shortcuts are live
    page.keyboard.press("x")                                        # skip; in command mode JupyterLab cuts the cell
    assert cells.count() == n_cells, "x reached JupyterLab"
    on_screen(2)
    page.keyboard.press("a")                                        # left better; JupyterLab inserts a cell above
    assert cells.count() == n_cells, "a reached JupyterLab"
    on_screen(3)
    got = [r["choice"] for r in _records(store)]
    assert got == ["left", "skip", "left"], got

    # a fast double click stores one answer, for the pair on screen
    root.locator("button[data-choice='right']").dblclick()
    on_screen(4)
    assert len(_records(store)) == 4, _records(store)

    # clicking the chart (not a button) gives the widget the keyboard too; the last answer finishes it
    root.locator(".algobot-pref-figure img").click()
    expect(root).to_be_focused()
    page.keyboard.press("s")                                        # equal
    expect(root).to_have_attribute("data-state", "done")
    expect(root).to_contain_text(f"All done: {N_PAIRS} answers stored this session")
    expect(root).to_contain_text(str(store))
    expect(root.locator("img")).to_have_count(0)                    # the last pair is cleared
    expect(root.locator("button")).to_have_count(0)
    expect(root.locator(".algobot-pref-progress")).to_have_text(f"{N_PAIRS} / {N_PAIRS} labelled")

    # keys typed into the finished widget do not reach JupyterLab either (a: insert, d d: delete, x: cut)
    expect(root).to_be_focused()
    for key in "ddxa":
        page.keyboard.press(key)
        assert cells.count() == n_cells, f"{key} reached JupyterLab"
    expect(code.locator(".algobot-pref")).to_have_count(1)          # the labeller's cell is still there

    recs = _records(store)
    assert [(r["left"]["id"], r["right"]["id"]) for r in recs] == pairs, "answers must follow the pairs shown"
    assert [r["choice"] for r in recs] == ["left", "skip", "left", "right", "equal"]
    assert all(r["labeller"] == "human" and len(r["left"]["time"]) == 25 for r in recs)
