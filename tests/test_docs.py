"""The documentation site (`./run.sh docs` -> tools/build_docs.py): a page per notebook, every link and anchor resolves,
every exported function and class is documented where `_modidx.py` links to it, no notebook code runs; and no link to
a hosted docs site that does not exist."""
import ast, importlib.util, subprocess, sys, time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from helpers import ROOT

NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


def load_builder():
    spec = importlib.util.spec_from_file_location("build_docs", ROOT / "tools" / "build_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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


def broken_links(out: Path) -> tuple[list[str], int]:
    "Relative links of the pages in `out` whose file or `#anchor` does not exist, and how many links were checked."
    pages = {p.resolve(): Page(p.read_text(encoding="utf-8")) for p in out.glob("*.html")}
    problems, checked = [], 0
    for path, page in pages.items():
        for tag, attr, url in page.links:
            s = urlsplit(url)
            if s.scheme or s.netloc: continue  # external (MathJax, other libraries' docs)
            target = (path.parent / unquote(s.path)).resolve() if s.path else path
            checked += 1
            if not target.exists():
                problems.append(f"{path.name}: <{tag} {attr}={url!r}>: no file {target}")
            elif s.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else Page(target.read_text(encoding="utf-8")).ids
                if s.fragment not in ids and unquote(s.fragment) not in ids:
                    problems.append(f"{path.name}: <{tag} {attr}={url!r}>: no id {s.fragment!r} in {target.name}")
    return problems, checked


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "site"
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py"), "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return out, time.perf_counter() - t0


def test_a_page_per_notebook_and_an_index_linking_them(site):
    from nbdev.config import nbpath2html
    out, seconds = site
    assert NOTEBOOKS, "no notebooks found"
    names = [nbpath2html(nb).name for nb in NOTEBOOKS]  # nbdev's page names: 09_bc.ipynb -> bc.html
    linked = {v for _, k, v in Page((out / "index.html").read_text(encoding="utf-8")).links if k == "href"}
    assert not [n for n in names if n not in linked], "index.html does not link every page"
    assert sorted(p.name for p in out.glob("*.html")) == sorted(names + ["index.html"])
    assert "walk-forward study" in (out / "index.html").read_text(encoding="utf-8")  # the README is the index
    assert seconds < 300, f"the docs build took {seconds:.0f} s"


def test_every_relative_link_and_anchor_resolves(site):
    problems, checked = broken_links(site[0])
    assert checked > 1000, checked
    assert not problems, "\n".join(problems[:30])


def test_the_link_check_finds_a_missing_page_and_a_dangling_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<h2 id="here">A</h2><a href="#here">ok</a><a href="b.html#gone">x</a>'
                                     '<a href="#nowhere">y</a><a href="c.html">z</a>')
    (tmp_path / "b.html").write_text('<a href="a.html#here">ok</a>')
    problems, checked = broken_links(tmp_path)
    assert checked == 5 and len(problems) == 3, problems
    assert any("'gone'" in p for p in problems) and any("'nowhere'" in p for p in problems)
    assert any("no file" in p and "c.html" in p for p in problems)


def test_each_exported_function_and_class_is_documented_where_modidx_links(site):
    "`_modidx.py` (backtick links) points each definition at `<page>#<name in lower case>`: that anchor exists."
    from algobot._modidx import d
    out, documented, ids = site[0], 0, {}
    for mod, syms in d["syms"].items():
        tree = ast.parse((ROOT / f"{mod.replace('.', '/')}.py").read_text(encoding="utf-8"))
        exports = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                        and any(getattr(t, "id", None) == "__all__" for t in n.targets)), [])
        for name in exports:
            if f"{mod}.{name}" not in syms: continue  # a constant: nbdev documents definitions
            page, _, anchor = syms[f"{mod}.{name}"][0].lstrip("/").partition("#")
            if page not in ids: ids[page] = Page((out / page).read_text(encoding="utf-8")).ids
            assert anchor in ids[page], f"{page} has no #{anchor} ({mod})"
            documented += 1
    assert documented > 100, documented


def test_docments_are_rendered(site):
    "Parameter comments show up in the signatures, as nbdev's show_doc renders them."
    text = (site[0] / "pipeline.html").read_text(encoding="utf-8")
    entry = text.split('id="run_pipeline"', 1)[1].split('class="doc"', 1)[0]
    assert "quick settings; False = full-size runs" in entry


def test_a_chapter_shows_its_code_documents_exports_and_runs_nothing(tmp_path):
    "Processed by nbdev's processors: `show_doc` is added after an export and rendered; other code is shown, not run."
    import nbformat
    marker = tmp_path / "ran"
    cells = [nbformat.v4.new_markdown_cell("# A chapter\n> what it does"),
             nbformat.v4.new_code_cell("#| default_exp config"),
             nbformat.v4.new_code_cell("#| export\ndef find_project_root(): pass"),
             nbformat.v4.new_code_cell(f"from pathlib import Path\nPath({str(marker)!r}).write_text('x')"),
             nbformat.v4.new_code_cell(f"#| hide\nopen({str(marker)!r}, 'w')"),
             nbformat.v4.new_markdown_cell("See `load_settings`.")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "00_x.ipynb")
    title, out = load_builder().chapter(tmp_path / "00_x.ipynb")
    assert title == "A chapter"
    sources = [c.source for c in out]
    assert not marker.exists(), "the build ran a notebook cell"
    assert "def find_project_root(): pass" in sources and not any("#|" in s or "open(" in s for s in sources)
    doc = next(s for s in sources if 'id="find_project_root"' in s)
    assert "Path" in doc and "```python" in doc  # the real algobot.config.find_project_root, rendered by show_doc
    assert sources[-1] == "See [`load_settings`](/config.html#load_settings)."
    assert f"Path({str(marker)!r}).write_text('x')" in sources[-2]  # an unexported cell is shown as code


def test_no_links_to_a_docs_site_that_does_not_exist():
    "nbdev writes `Docs: <[project.urls] Documentation>/<module>.html.md` into module docstrings; there is no such site."
    hits = [str(p.relative_to(ROOT)) for base in ("algobot", "nbs") for p in (ROOT / base).rglob("*")
            if p.suffix in (".py", ".ipynb") and "algobot.github.io" in p.read_text(encoding="utf-8")]
    hits += [f for f in ("README.md", "pyproject.toml") if "algobot.github.io" in (ROOT / f).read_text(encoding="utf-8")]
    assert not hits, hits
