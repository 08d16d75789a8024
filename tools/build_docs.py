"""Build AlgoBot's documentation site with nbdev's own notebook processors and nbconvert (no Quarto needed).

    .venv/bin/python tools/build_docs.py [--out DIR]      # default DIR: _docs/   (or: ./run.sh docs)

Each `nbs/*.ipynb` goes through nbdev's docs processors (`FilterDefaults`, what `nbdev-docs` runs before Quarto):
`add_show_docs` adds a `show_doc` after each exported definition, `hide_` drops `#| hide` cells, `add_links` links
backticked names through `algobot/_modidx.py`, ... Left out: the Quarto-only ones, `rm_export` (a chapter shows its
code as written) and `exec_show_docs`, which runs every exported or importing cell: `render_show_docs` evaluates only
the `show_doc(...)` calls, in the notebook's imported module, so no notebook code runs. nbconvert renders each
notebook to nbdev's page name (`09_bc.ipynb` -> `bc.html`, where `_modidx.py` points); `index.html` is the README.
"""
from __future__ import annotations
import argparse, ast, html, importlib, inspect, os, re, shutil, sys, time
from functools import partial
from itertools import groupby
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".algobot-docs"  # marks a folder this script built, so a rebuild may replace it
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))

import nbformat
from fastcore.docments import MarkdownRenderer
from fastcore.nbio import read_nb
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbdev.config import nbpath2html
from nbdev.doclinks import NbdevLookup
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor, Processor
from nbdev.processors import FilterDefaults, add_fold, add_show_docs, clean_show_doc, exec_show_docs, insert_warning, \
    rm_export
from nbdev.showdoc import show_doc
from pygments.formatters import HtmlFormatter


class DocRenderer(MarkdownRenderer):
    "`show_doc`'s markdown under a heading with the id `_modidx.py` links to (Quarto's: the name in lower case)."
    def __init__(self, sym, **kw):
        try: super().__init__(sym, **kw)
        except NameError:  # an annotation imported only under TYPE_CHECKING (live.trader): left unevaluated
            with mock.patch("fastcore.docments.signature", lambda o, eval_str: inspect.signature(o)):
                super().__init__(sym, **kw)

    def _repr_markdown_(self):
        a, n = html.escape(self.nm.lower()), self.title_level
        return (f'<h{n} class="doc" id="{a}"><code>{html.escape(self.nm)}</code><a class="anchor-link" href="#{a}">¶'
                f"</a></h{n}>\n\n" + super()._repr_markdown_())


def show_doc_calls(cell) -> list[ast.Call]:
    "The calls of a cell made only of `show_doc(...)` calls, else []."
    trees = cell.parsed_() or []
    calls = [t.value for t in trees if isinstance(t, ast.Expr) and isinstance(t.value, ast.Call)
             and getattr(t.value.func, "id", None) == "show_doc" and t.value.args]
    return calls if len(calls) == len(trees) else []


class render_show_docs(Processor):
    """Replace each cell of `show_doc(...)` calls by their markdown, evaluated in the notebook's module (nothing else
    runs); a documented class gets its public methods too, unless the notebook shows them itself."""
    def begin(self):
        mod = next((c.directives_["default_exp"] for c in self.nb.cells if "default_exp" in c.directives_), None)
        self.ns = {**(vars(importlib.import_module(f"algobot.{mod}")) if mod else {}),
                   "show_doc": partial(show_doc, renderer=DocRenderer)}
        self.shown = {ast.unparse(c.args[0]) for cell in self.nb.cells for c in show_doc_calls(cell)}

    def cell(self, cell):
        md = []
        for call in show_doc_calls(cell):
            try: cls = eval(compile(ast.Expression(call.args[0]), "show_doc", "eval"), self.ns)
            except (NameError, AttributeError) as e:
                raise SystemExit(f"build_docs: {self.nb.path_}: {ast.unparse(call)}: {e}. The docs run show_doc in the "
                                 "notebook's module only: show a name the module defines or imports.") from e
            md.append(eval(compile(ast.Expression(call), "show_doc", "eval"), self.ns)._repr_markdown_())
            if inspect.isclass(cls):
                md += [DocRenderer(v, name=f"{cls.__name__}.{k}", title_level=4)._repr_markdown_()
                       for k, v in vars(cls).items() if not k.startswith("_") and f"{cls.__name__}.{k}" not in
                       self.shown and (inspect.isfunction(v) or isinstance(v, (property, staticmethod, classmethod)))]
        if md: cell.cell_type, cell.source = "markdown", "\n\n".join(md)


class docs_in_order(Processor):
    "Put the `show_doc`s `add_show_docs` adds after a cell in definition order (it inserts each at the same place)."
    def begin(self):
        c = self.nb.cells
        for k, run in groupby(range(len(c)), lambda i: getattr(c[i], "has_sd", False)):
            if k: run = list(run); c[run[0]:run[-1] + 1] = c[run[0]:run[-1] + 1][::-1]


def rm_empty(cell):
    "Drop code cells left empty once their directives are gone (`#| default_exp`)."
    if cell.cell_type == "code" and not cell.source.strip(): del cell["source"]


SKIP = {FrontmatterProc, insert_warning, clean_show_doc, add_fold, rm_export}
PROCS = [render_show_docs if p is exec_show_docs else p for p in FilterDefaults().base_procs() if p not in SKIP]
PROCS.insert(PROCS.index(add_show_docs) + 1, docs_in_order)
PROCS.append(rm_empty)


def chapter(path: Path) -> tuple[str, list]:
    "The notebook's title (its first `# heading`) and its cells, processed for the docs."
    nb = read_nb(path)
    NBProcessor(nb=nb, procs=PROCS, rm_directives=True).process()
    title = next((c.source[2:].splitlines()[0] for c in nb.cells if c.cell_type == "markdown"
                  and c.source.startswith("# ")), path.stem)
    return title.strip(), [getattr(nbformat.v4, f"new_{c.cell_type}_cell")(c.source) for c in nb.cells]


def readme(nbs: list[Path], out: Path) -> str:
    "The README as HTML: notebooks named in backticks link to their pages, other repository paths to their files."
    def repo_link(m):
        path = (ROOT / m[2]).resolve()
        return f"{m[1]}({Path(os.path.relpath(path, out)).as_posix()})" if path.exists() else m[1]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = re.sub(r"(\[[^\]]*\])\((?!https?:|#|/|mailto:)([^)\s]+)\)", repo_link, text)
    for p in nbs:
        text = re.sub(rf"`(nbs/)?{re.escape(p.stem)}(\.ipynb)?`", lambda m: f"[{m[0]}]({nbpath2html(p).name})", text)
    return markdown2html_mistune(NbdevLookup().linkify(text))


CSS = """body{margin:0;font:15px/1.55 system-ui,sans-serif;color:#1f2328} a{color:#0969da}
nav{position:fixed;top:0;left:0;bottom:0;width:16rem;overflow:auto;padding:1rem;background:#f6f8fa;font-size:14px;
 border-right:1px solid #d0d7de;box-sizing:border-box} nav ul{padding-left:0;list-style:none} nav li{margin:.25rem 0}
nav a{text-decoration:none} nav .here{font-weight:bold} nav .home{font-weight:bold;font-size:18px}
main{margin-left:16rem;padding:1rem 2.5rem 4rem;max-width:64rem} pre code{background:none;padding:0}
code{font-size:90%;background:#f6f8fa;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;padding:.6rem .8rem;border-radius:6px;overflow:auto;font-size:13px}
h3.doc,h4.doc{border-top:1px solid #d0d7de;padding-top:.8rem;margin-top:2rem}
.anchor-link{visibility:hidden;margin-left:.3em;text-decoration:none;color:#8c959f}
:hover>.anchor-link{visibility:visible}
blockquote{color:#57606a;border-left:4px solid #d0d7de;margin:0;padding:0 1em}
table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left}
"""


def page(title: str, body: str, nav: list[tuple[str, str]], here: str) -> str:
    items = "".join(f'<li><a href="{p}"{" class=here" if p == here else ""}>{html.escape(t)}</a></li>' for p, t in nav)
    body = re.sub(r'(href=")/(?!/)', r"\1", body)  # _modidx.py's links are site-absolute (/bc.html#x): made relative
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} — AlgoBot'
            f'</title>\n<link rel="stylesheet" href="style.css">\n<script src="{HTMLExporter().mathjax_url}"></script>'
            f'</head>\n<body><nav><a class="home" href="index.html">AlgoBot</a><ul>{items}</ul></nav>\n<main>\n{body}\n'
            f"</main></body></html>\n")


def build(out: Path | str | None = None) -> dict:
    "Build the site into `out` (default `_docs/`); return a summary."
    t0 = time.perf_counter()
    out = Path(out).resolve() if out else ROOT / "_docs"
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SystemExit(f"build_docs: {out} exists and was not built by this script; choose another --out")
    nbs = sorted((ROOT / "nbs").glob("*.ipynb"))
    chapters = {nbpath2html(p).name: chapter(p) for p in nbs}
    nav = [(name, f"{p.stem.split('_')[0]} {t}") for p, (name, (t, _)) in zip(nbs, chapters.items())]
    exporter = HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    pages = {name: page(t, exporter.from_notebook_node(nbformat.v4.new_notebook(cells=cells))[0], nav, name)
             for name, (t, cells) in chapters.items()}
    pages["index.html"] = page("AlgoBot", readme(nbs, out), nav, "index.html")
    ids, unlinked = {name: set(re.findall(r' id="([^"]+)"', text)) for name, text in pages.items()}, []
    def unlink(m):  # a backticked internal (`_name`): `_modidx.py` has it, the docs (as nbdev's) document the API
        return m[0] if m[2] in ids.get(m[1], {m[2]}) else unlinked.append(m[4]) or m[3]
    link = re.compile(r'<a href="([\w.-]+\.html)#([^"]+)">(<code>([^<]*)</code>)</a>')
    pages = {name: link.sub(unlink, text) for name, text in pages.items()}
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    for name, text in pages.items(): (out / name).write_text(text, encoding="utf-8")
    (out / "style.css").write_text(CSS + HtmlFormatter().get_style_defs(".highlight"), encoding="utf-8")
    (out / MARKER).write_text("built by tools/build_docs.py; replaced by every run\n", encoding="utf-8")
    return {"out": out, "pages": len(pages), "seconds": time.perf_counter() - t0, "unlinked": sorted(set(unlinked))}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="build_docs", description="Build the documentation site from nbs/ into _docs/.")
    ap.add_argument("--out", help="output folder (default: _docs/ in the project)")
    r = build(ap.parse_args().out)
    print(f"build_docs: {r['pages']} pages in {r['out']} ({r['seconds']:.1f} s); open {r['out'] / 'index.html'}")
    print(f"build_docs: backticked names left unlinked (not documented): {' '.join(r['unlinked']) or 'none'}")
