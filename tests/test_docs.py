"""The documentation site (`./run.sh docs` -> tools/build_docs.py): one page per notebook, every link resolves, each
page documents its module's exports; and no link to a hosted docs site that does not exist."""
import ast, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from helpers import ROOT

NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


class Page(HTMLParser):
    "The ids and the href/src links of one HTML page."

    def __init__(self, text: str):
        super().__init__()
        self.ids, self.links = set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("id", "name") and v: self.ids.add(v)
            if k in ("href", "src") and v is not None: self.links.append((tag, k, v))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "site"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out, seconds, r


def default_exp(nb: Path) -> str | None:
    import nbformat
    for cell in nbformat.read(nb, as_version=4).cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if line.replace(" ", "").startswith("#|default_exp"): return line.split("default_exp", 1)[1].split()[0]
    return None


def module_exports(module: str) -> list[str] | None:
    "`__all__` of algobot/<module>.py, read from its source (no import)."
    path = ROOT / "algobot" / f"{module.replace('.', '/')}.py"
    if not path.is_file(): return None
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def test_a_page_per_notebook_and_an_index_linking_them(site):
    out, seconds, _ = site
    assert NOTEBOOKS, "no notebooks found"
    index = Page((out / "index.html").read_text(encoding="utf-8"))
    linked = {v for _, k, v in index.links if k == "href"}
    for nb in NOTEBOOKS:
        page = out / f"{nb.stem}.html"
        assert page.is_file(), f"no page for {nb.name}"
        assert f"{nb.stem}.html" in linked, f"index.html does not link {nb.stem}.html"
    assert sorted(p.stem for p in out.glob("*.html")) == sorted([nb.stem for nb in NOTEBOOKS] + ["index"])
    assert seconds < 120, f"the docs build took {seconds:.0f} s"


def test_every_relative_link_and_anchor_resolves(site):
    out, _, _ = site
    pages = {p.resolve(): Page(p.read_text(encoding="utf-8")) for p in out.glob("*.html")}
    problems, checked = [], 0
    for path, page in pages.items():
        for tag, attr, url in page.links:
            s = urlsplit(url)
            if s.scheme or s.netloc: continue  # external (the MathJax CDN)
            target = (path.parent / unquote(s.path)).resolve() if s.path else path
            checked += 1
            if not target.exists():
                problems.append(f"{path.name}: <{tag} {attr}={url!r}>: no file {target}")
            elif s.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else Page(target.read_text(encoding="utf-8")).ids
                if s.fragment not in ids and unquote(s.fragment) not in ids:
                    problems.append(f"{path.name}: <{tag} {attr}={url!r}>: no id {s.fragment!r} in {target.name}")
    assert checked > 100
    assert not problems, "\n".join(problems[:30])


def test_each_page_documents_its_modules_exports(site):
    out, _, r = site
    documented = 0
    for nb in NOTEBOOKS:
        mod = default_exp(nb)
        if mod is None: continue
        exports = module_exports(mod)
        if exports is None: continue  # not exported yet
        text = (out / f"{nb.stem}.html").read_text(encoding="utf-8")
        page = Page(text)
        missing = [n for n in exports if f"algobot.{mod}.{n}" not in page.ids]
        assert not missing, f"{nb.stem}.html has no entry for {missing} of algobot.{mod}"
        assert f"algobot.{mod}" in text
        documented += len(exports)
    assert documented > 50


def test_docments_are_rendered(site):
    "Parameter comments show up in the signatures, as nbdev's show_doc renders them."
    out, _, _ = site
    text = (out / "99_pipeline.html").read_text(encoding="utf-8")
    assert 'id="algobot.pipeline.run_pipeline"' in text
    entry = text.split('id="algobot.pipeline.run_pipeline"', 1)[1].split("</section>", 1)[0]
    assert "quick settings; False = full-size runs" in entry


def test_no_links_to_a_docs_site_that_does_not_exist():
    "nbdev writes `Docs: <[project.urls] Documentation>/<module>.html.md` into module docstrings; there is no such site."
    hits = [str(p.relative_to(ROOT)) for base in ("algobot", "nbs") for p in (ROOT / base).rglob("*")
            if p.suffix in (".py", ".ipynb") and "algobot.github.io" in p.read_text(encoding="utf-8")]
    hits += [f for f in ("README.md", "pyproject.toml") if "algobot.github.io" in (ROOT / f).read_text(encoding="utf-8")]
    assert not hits, hits
