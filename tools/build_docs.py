"""Build AlgoBot's documentation site from the notebooks, without Quarto and without executing anything.

    .venv/bin/python tools/build_docs.py [--out DIR]      # default DIR: _docs/   (or: ./run.sh docs)

Every `nbs/*.ipynb` becomes one page, `<notebook>.html`: its prose and code as written (nbconvert's HTML export of
the unexecuted notebook, nbdev directive lines stripped, `#| hide` cells left out), each `show_doc(...)` cell replaced
by the rendered documentation, and a reference of every name its module (`#| default_exp`) exports: signature with
the parameter comments ("docments"), docstring, and the public methods of classes. `index.html` has the project's
title, a table of the notebooks linking every page, and the README. Backticked names in prose and docstrings link to
their entries. Links to other notebooks become links to their pages, links to files of the repository point at
those files, and a link that would point nowhere is dropped with a warning: every relative link and anchor of the
site resolves (checked at the end; the build fails otherwise).

The API reference comes from importing each `algobot` module (fastcore.docments renders signatures as `show_doc`
does). A module that does not import is documented from its source instead (signatures as written, with their
comments), and the page says so. Where Quarto is installed, `nbdev-docs` builds nbdev's richer site.
"""
from __future__ import annotations
import argparse, ast, dataclasses, html, importlib, inspect, os, re, shutil, sys, time, tomllib, warnings
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".algobot-docs"  # marks a folder this script built, so a rebuild may replace it
PACKAGE = "algobot"


def warn(msg: str) -> None:
    print(f"build_docs: warning: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")
_DROP_DIRECTIVES = {"hide", "default_exp", "exporti_hide"}


@dataclasses.dataclass
class Notebook:
    path: Path
    title: str
    summary: str
    module: str | None        # "algobot.data" from `#| default_exp data`
    nb: Any                   # the nbformat node

    @property
    def name(self) -> str: return self.path.stem

    @property
    def page(self) -> str: return f"{self.path.stem}.html"


def directives(source: str) -> dict[str, str]:
    "The nbdev/Quarto `#| name value` lines at the top of a code cell."
    out = {}
    for line in source.splitlines():
        m = _DIRECTIVE.match(line)
        if not m:
            if line.strip(): break
            continue
        out[m.group(1)] = m.group(2)
    return out


def strip_directives(source: str) -> str:
    lines = source.splitlines()
    while lines and (_DIRECTIVE.match(lines[0]) or not lines[0].strip()): lines.pop(0)
    return "\n".join(lines)


def read_notebook(path: Path) -> Notebook:
    import nbformat
    nb = nbformat.read(path, as_version=4)
    title, summary, module = path.stem, "", None
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            lines = cell.source.strip().splitlines()
            title = lines[0][2:].strip()
            summary = " ".join(l[1:].strip() for l in lines[1:] if l.startswith(">"))
            break
    for cell in nb.cells:
        if cell.cell_type == "code" and "default_exp" in (d := directives(cell.source)):
            module = f"{PACKAGE}.{d['default_exp'].split()[0]}"
            break
    return Notebook(path, title, summary, module, nb)


def discover(nbs_dir: Path) -> list[Notebook]:
    "Every notebook of `nbs_dir`, by file name."
    out = []
    for p in sorted(nbs_dir.glob("*.ipynb")):
        try: out.append(read_notebook(p))
        except Exception as e: warn(f"{p.name} is not a readable notebook ({type(e).__name__}: {e}); no page for it")
    return out


# ---------------------------------------------------------------------------------------------------------------------
# API entries: from the imported module, or from its source when it does not import
# ---------------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Entry:
    qualname: str             # "TradingEnv.step"
    anchor: str               # "algobot.env.TradingEnv.step"
    kind: str                 # "class", "function", "method", "value"
    signature: str            # python source shown in a code block
    doc: str                  # markdown
    members: list[str] = dataclasses.field(default_factory=list)  # public methods of a class (qualnames)


def _first_line(doc: str) -> str:
    return doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""


class LiveApi:
    "Entries rendered from the imported module with fastcore.docments, as `show_doc` renders them."
    static = False

    def __init__(self, modname: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.mod = importlib.import_module(modname)
        self.modname = modname
        self.exports = list(getattr(self.mod, "__all__", None) or
                            [n for n, o in vars(self.mod).items()
                             if not n.startswith("_") and getattr(o, "__module__", None) == modname])

    def resolve(self, qualname: str) -> Any:
        obj = self.mod
        for part in qualname.split("."): obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
        return obj

    def entry(self, qualname: str) -> Entry | None:
        try: raw = self.resolve(qualname)
        except AttributeError: return None
        anchor = f"{self.modname}.{qualname}"
        obj = raw
        if isinstance(obj, (staticmethod, classmethod)): obj = obj.__func__
        if isinstance(obj, property): obj = obj.fget
        is_member = "." in qualname
        if inspect.isclass(obj):
            members = [f"{qualname}.{n}" for n, v in vars(obj).items() if not n.startswith("_") and _is_routine(v)]
            return Entry(qualname, anchor, "class", self._class_sig(obj, qualname), self._own_doc(obj), members)
        if callable(obj):
            sig = self._sig(obj)
            if isinstance(raw, property): sig = "@property\n" + sig
            elif isinstance(raw, (staticmethod, classmethod)): sig = f"@{type(raw).__name__}\n" + sig
            return Entry(qualname, anchor, "method" if is_member else "function", sig, inspect.getdoc(obj) or "")
        text = repr(obj)
        if len(text) > 300: text = text[:300] + " …"
        return Entry(qualname, anchor, "value", f"{qualname.split('.')[-1]}: {type(obj).__name__} = {text}",
                     "" if type(obj).__doc__ == getattr(obj, "__doc__", None) else (inspect.getdoc(obj) or ""))

    @staticmethod
    def _own_doc(cls) -> str:
        doc = vars(cls).get("__doc__") or ""
        if dataclasses.is_dataclass(cls) and doc.startswith(f"{cls.__name__}("): return ""  # dataclass's generated doc
        return inspect.cleandoc(doc) if doc else ""

    @staticmethod
    def _sig(obj) -> str:
        from fastcore.docments import DocmentText
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = str(DocmentText(obj, maxline=110, docstring=False))
        except Exception:
            try: s = f"def {obj.__name__}{inspect.signature(obj)}:"
            except (TypeError, ValueError): s = f"def {getattr(obj, '__name__', '?')}(...):"
        return re.sub(r"""->"'([^"']+)'":""", r"->\1:", s)

    def _class_sig(self, cls, qualname: str) -> str:
        bases = ", ".join(b.__qualname__ for b in cls.__bases__ if b is not object)
        head = f"class {cls.__name__}({bases})" if bases else f"class {cls.__name__}"
        if not (dataclasses.is_dataclass(cls) or inspect.isfunction(getattr(cls, "__init__", None))): return head + ":"
        s = self._sig(cls)
        s = s.replace(f"def {cls.__name__}(", f"class {cls.__name__}(", 1)
        return re.sub(r"\)->None:$", "):", s)


def _is_routine(v) -> bool:
    return isinstance(v, (staticmethod, classmethod, property)) or inspect.isfunction(v)


class StaticApi:
    "Entries read from the generated module's source (no import): signatures as written, comments included."
    static = True

    def __init__(self, modname: str, path: Path):
        self.modname, self.src = modname, path.read_text(encoding="utf-8")
        self.tree = ast.parse(self.src)
        self.lines = self.src.splitlines()
        self.top = {}
        exports = None
        for node in self.tree.body:
            for name in _defined_names(node): self.top[name] = node
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                exports = ast.literal_eval(node.value)
        self.exports = list(exports if exports is not None else [n for n in self.top if not n.startswith("_")])

    def _node(self, qualname: str):
        head, *rest = qualname.split(".")
        node = self.top.get(head)
        for part in rest:
            if not isinstance(node, ast.ClassDef): return None
            node = next((n for n in node.body if part in _defined_names(n)), None)
        return node

    def _header(self, node) -> str:
        "The `def`/`class` lines as written (parameter comments included), decorators first, without the body."
        start = node.lineno - 1
        first = node.body[0].lineno - 1 if node.body else node.end_lineno
        text = "\n".join(self.lines[start:first]) if first > start else self.lines[start]
        deco = [f"@{ast.unparse(d)}" for d in node.decorator_list]
        return inspect.cleandoc("\n".join(deco + [text]))

    def entry(self, qualname: str) -> Entry | None:
        node = self._node(qualname)
        if node is None: return None
        anchor = f"{self.modname}.{qualname}"
        if isinstance(node, ast.ClassDef):
            members = [f"{qualname}.{n.name}" for n in node.body
                       if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_")]
            sig = self._header(node)
            fields = [ast.get_source_segment(self.src, n) for n in node.body if isinstance(n, ast.AnnAssign)]
            if fields: sig += "\n" + "\n".join("    " + f for f in fields if f)
            return Entry(qualname, anchor, "class", sig, ast.get_docstring(node) or "", members)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return Entry(qualname, anchor, "method" if "." in qualname else "function", self._header(node),
                         ast.get_docstring(node) or "")
        seg = ast.get_source_segment(self.src, node) or qualname
        if len(seg) > 300: seg = seg[:300] + " …"
        return Entry(qualname, anchor, "value", seg, "")


def _defined_names(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return [node.name]
    if isinstance(node, ast.Assign): return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name): return [node.target.id]
    return []


def load_api(modname: str, root: Path) -> tuple[LiveApi | StaticApi | None, str]:
    "The module's API and a note for the page ('' when imported normally)."
    path = root / Path(*modname.split(".")).with_suffix(".py")
    try: return LiveApi(modname), ""
    except Exception as e:
        err = f"{type(e).__name__}: {e}"
    if not path.is_file():
        warn(f"{modname}: no {path.relative_to(root)} (run nbdev-export); page without API reference")
        return None, f"`{modname}` has not been exported yet (`nbdev-export` writes it)."
    warn(f"{modname} did not import ({err}); documenting it from its source")
    return StaticApi(modname, path), f"`{modname}` did not import when these docs were built (`{err}`), so its " \
                                     "reference below is read from the source."


# ---------------------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------------------

def md2html(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(text)


def highlight(code: str) -> str:
    from pygments import highlight as _hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    return _hl(code, PythonLexer(), HtmlFormatter(cssclass="highlight hl-ipython3"))


class Symbols:
    "Where each documented name lives, for links from backticked names."

    def __init__(self):
        self.by_module: dict[str, dict[str, tuple[str, str]]] = {}   # module -> qualname -> (page, anchor)
        self.short: dict[str, list[tuple[str, str, str]]] = {}        # name -> [(page, anchor, kind)]

    def add(self, module: str, page: str, entry: Entry) -> None:
        self.by_module.setdefault(module, {})[entry.qualname] = (page, entry.anchor)
        self.short.setdefault(entry.qualname, []).append((page, entry.anchor, entry.kind))

    def find(self, name: str, module: str | None) -> tuple[str, str] | None:
        name = name.removesuffix("()")
        if module and name in self.by_module.get(module, {}): return self.by_module[module][name]
        for mod, names in self.by_module.items():   # algobot.data.load_ohlcv, data.load_ohlcv
            for prefix in (f"{mod}.", f"{mod.split('.', 1)[-1]}."):
                if name.startswith(prefix) and name[len(prefix):] in names: return names[name[len(prefix):]]
        hits = [h for h in self.short.get(name, []) if h[2] in ("class", "function", "method")]
        return hits[0][:2] if len(hits) == 1 else None


_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_REF = re.compile(r"(?<![\[`\\\w])`([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(\))?)`(?![`\]])")


def link_code_refs(md: str, symbols: Symbols, module: str | None) -> str:
    "Turn `name` into a link to its API entry where the name is documented (outside fenced code)."
    out, fenced = [], False
    for line in md.splitlines(keepends=True):
        if _FENCE.match(line): fenced = not fenced
        elif not fenced and not line.startswith(("    ", "#")):  # not in code, not in headings
            def sub(m):
                hit = symbols.find(m.group(1), module)
                return f"[`{m.group(1)}`]({hit[0]}#{hit[1]})" if hit else m.group(0)
            line = _CODE_REF.sub(sub, line)
        out.append(line)
    return "".join(out)


def render_entry(e: Entry, symbols: Symbols, module: str, used: set[str], level: int = 3) -> str:
    "One API entry; the anchor is given only once per page."
    id_attr = "" if e.anchor in used else f' id="{html.escape(e.anchor)}"'
    used.add(e.anchor)
    label = html.escape(e.qualname)
    doc = md2html(link_code_refs(e.doc, symbols, module)) if e.doc else ""
    return (f'<section class="api api-{e.kind}"{id_attr}>\n'
            f'<h{level} class="api-name"><code>{label}</code> <span class="api-kind">{e.kind}</span>'
            f'<a class="anchor-link" href="#{html.escape(e.anchor)}">¶</a></h{level}>\n'
            f'{highlight(e.signature)}<div class="api-doc">{doc}</div>\n</section>\n')


def _show_doc_targets(source: str) -> list[tuple[str, dict]] | None:
    "The objects of a cell made only of `show_doc(name)` calls, else None."
    try: tree = ast.parse(strip_directives(source))
    except SyntaxError: return None
    targets = []
    for stmt in tree.body:
        call = getattr(stmt, "value", None)
        if not (isinstance(stmt, ast.Expr) and isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "show_doc" and call.args): return None
        try: kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
        except ValueError: kw = {}
        targets.append((ast.unparse(call.args[0]), kw))
    return targets or None


def notebook_body(nb: Notebook, api, note: str, symbols: Symbols) -> str:
    "The page body: the notebook's cells (show_doc cells rendered) and the module's reference."
    import copy, nbconvert, nbformat
    used: set[str] = set()
    cells, slots = [], {}

    def slot(html_text: str):
        "A placeholder cell for HTML of ours (nbconvert would sanitise raw HTML cells); swapped in after the export."
        token = f"@@algobot-docs-slot-{len(slots)}@@"
        slots[token] = html_text
        return nbformat.v4.new_raw_cell(token, metadata={"format": "text/html"})

    for cell in nb.nb.cells:
        cell = copy.deepcopy(cell)  # keeps the cell id
        if cell.cell_type == "markdown":
            cell.source = link_code_refs(cell.source, symbols, nb.module)
            cells.append(cell)
            continue
        if cell.cell_type == "raw":
            cells.append(cell)
            continue
        d = directives(cell.source)
        if _DROP_DIRECTIVES & d.keys() or d.get("echo") == "false" or d.get("include") == "false": continue
        targets = _show_doc_targets(cell.source) if api is not None else None
        if targets:
            parts = []
            for target, kw in targets:
                e = api.entry(target)
                if e is None: warn(f"{nb.path.name}: show_doc({target}) names nothing in {nb.module}"); continue
                if kw.get("name"): e.qualname = kw["name"]
                parts.append(render_entry(e, symbols, nb.module, used, level=int(kw.get("title_level", 3))))
            cells.append(slot("".join(parts)))
            continue
        cell.source = strip_directives(cell.source)
        if cell.source.strip(): cells.append(cell)
    if nb.module: cells.append(slot(module_reference(nb, api, note, symbols, used)))
    doc = nbformat.v4.new_notebook(cells=cells, metadata=nb.nb.metadata)
    exporter = nbconvert.HTMLExporter(template_name="basic", exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(doc)
    for token, html_text in slots.items():
        if body.count(token) != 1: raise RuntimeError(f"{nb.path.name}: placeholder {token} lost in the HTML export")
        body = body.replace(token, html_text)
    return body


def module_reference(nb: Notebook, api, note: str, symbols: Symbols, used: set[str]) -> str:
    "Every export of the notebook's module: a table linking each entry, then the entries not shown above."
    mod = nb.module
    out = [f'<section class="module-ref"><h2 id="module-reference">Module reference: <code>{mod}</code>'
           f'<a class="anchor-link" href="#module-reference">¶</a></h2>']
    if note: out.append(f'<div class="note">{md2html(note)}</div>')
    if api is None: return "\n".join(out + ["</section>"])
    entries = [e for e in (api.entry(n) for n in api.exports) if e is not None]
    rows = "".join(f'<tr><td><a href="#{html.escape(e.anchor)}"><code>{html.escape(e.qualname)}</code></a></td>'
                   f'<td>{e.kind}</td><td>{md2html(link_code_refs(_first_line(e.doc), symbols, mod))}</td></tr>\n'
                   for e in entries)
    out.append(f"<p><code>{mod}</code> exports {len(entries)} names "
               f"(<code>from {mod} import *</code>):</p>\n"
               f'<table class="exports"><tr><th>name</th><th>kind</th><th>what it is</th></tr>\n{rows}</table>')
    for e in entries:
        members = [m for m in (api.entry(q) for q in e.members) if m is not None and m.anchor not in used]
        if e.anchor not in used: out.append(render_entry(e, symbols, mod, used))
        elif members: out.append(f'<h3 class="api-more">More of <code>{html.escape(e.qualname)}</code></h3>')
        out.extend(render_entry(m, symbols, mod, used, level=4) for m in members)
    return "\n".join(out + ["</section>"])


def collect_entries(api, module: str, page: str, symbols: Symbols) -> None:
    for name in api.exports:
        e = api.entry(name)
        if e is None:
            warn(f"{module}.__all__ names {name!r}, which the module does not define")
            continue
        symbols.add(module, page, e)
        for q in e.members:
            m = api.entry(q)
            if m is not None: symbols.add(module, page, m)


CSS = """
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328}
nav.side{position:fixed;top:0;left:0;bottom:0;width:15rem;overflow:auto;padding:1rem;background:#f6f8fa;
 border-right:1px solid #d0d7de;box-sizing:border-box;font-size:14px}
nav.side a{color:#0969da;text-decoration:none} nav.side .home{font-weight:bold;font-size:18px}
nav.side ol{padding-left:0;list-style:none} nav.side li{margin:.2rem 0} nav.side li.here a{font-weight:bold;color:#1f2328}
main{margin-left:15rem;padding:1rem 2.5rem 4rem;max-width:62rem}
a{color:#0969da} code{font-size:90%;background:#f6f8fa;padding:.1em .3em;border-radius:4px}
pre code{background:none;padding:0}
.highlight pre{background:#f6f8fa;padding:.6rem .8rem;border-radius:6px;overflow:auto;font-size:13px;line-height:1.45}
.source{color:#57606a;font-size:13px} .note{background:#fff8c5;border:1px solid #d4a72c;padding:.2rem .8rem;border-radius:6px}
.anchor-link{visibility:hidden;margin-left:.3em;text-decoration:none;color:#8c959f}
h1:hover .anchor-link,h2:hover .anchor-link,h3:hover .anchor-link,h4:hover .anchor-link{visibility:visible}
blockquote{color:#57606a;border-left:4px solid #d0d7de;margin:0;padding:0 1em}
table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;vertical-align:top}
td p{margin:0} section.api{border-top:1px solid #d0d7de;margin-top:1.2rem}
.api-kind{font-size:12px;font-weight:normal;color:#57606a;margin-left:.5em}
footer.pager{margin-top:3rem;border-top:1px solid #d0d7de;padding-top:1rem;display:flex;justify-content:space-between}
"""

MATHJAX = """<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax:{inlineMath:[['$','$'],['\\\\(','\\\\)']],
displayMath:[['$$','$$'],['\\\\[','\\\\]']],processEscapes:true,processEnvironments:true},
"HTML-CSS":{availableFonts:["TeX"]}});</script>
<script src="%s"></script>"""


def page(title: str, body: str, notebooks: list[Notebook], here: str, project: str) -> str:
    import nbconvert
    items = "".join(f'<li{" class=here" if n.page == here else ""}><a href="{n.page}">{html.escape(n.name)}</a></li>'
                    for n in notebooks)
    pages = [n.page for n in notebooks]
    pager = ""
    if here in pages:
        i = pages.index(here)
        prev = f'<a href="{pages[i - 1]}">← {html.escape(notebooks[i - 1].name)}</a>' if i else '<a href="index.html">← index</a>'
        nxt = f'<a href="{pages[i + 1]}">{html.escape(notebooks[i + 1].name)} →</a>' if i + 1 < len(pages) else ""
        pager = f'<footer class="pager"><span>{prev}</span><span>{nxt}</span></footer>'
    mathjax = MATHJAX % nbconvert.HTMLExporter().mathjax_url
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} — {html.escape(project)}</title>
<link rel="stylesheet" href="style.css">
{mathjax}
</head><body>
<nav class="side"><a class="home" href="index.html">{html.escape(project)}</a><ol>{items}</ol></nav>
<main>
{body}
{pager}
</main></body></html>
"""


def index_body(notebooks: list[Notebook], project: str, description: str, readme: str, symbols: Symbols) -> str:
    rows = "".join(
        f'<tr><td><a href="{n.page}">{html.escape(n.name)}</a></td>'
        f'<td>{f"<code>{n.module}</code>" if n.module else ""}</td>'
        f'<td>{md2html(link_code_refs(n.summary or n.title, symbols, n.module))}</td></tr>\n' for n in notebooks)
    readme = re.sub(r"\A\s*# [^\n]*\n", "", readme)  # its title is the page's
    return (f"<h1>{html.escape(project)}</h1>\n<p>{html.escape(description)}</p>\n"
            f'<h2 id="notebooks">The notebooks<a class="anchor-link" href="#notebooks">¶</a></h2>\n'
            f"<p>One page per notebook of <code>nbs/</code>: its prose and code as written (not executed) and the "
            f"reference of the module it exports.</p>\n"
            f'<table class="notebooks"><tr><th>notebook</th><th>module</th><th>what it does</th></tr>\n{rows}</table>\n'
            f'<h2 id="readme">README<a class="anchor-link" href="#readme">¶</a></h2>\n<div class="readme">{md2html(readme)}</div>')


# ---------------------------------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------------------------------

_ATTR = re.compile(r"""(\s(?:href|src))=(["'])(.*?)\2""", re.S)
_ID = re.compile(r"""\s(?:id|name)=(["'])(.*?)\1""", re.S)


def ids_of(text: str) -> set[str]:
    ids = {html.unescape(m.group(2)) for m in _ID.finditer(text)}
    return ids | {unquote(i) for i in ids}


def is_external(url: str) -> bool:
    s = urlsplit(url)
    return bool(s.scheme or s.netloc) or url.startswith(("data:", "mailto:", "javascript:"))


def fix_links(text: str, page_name: str, base: Path, out: Path, site_ids: dict[str, set[str]],
              notebook_pages: dict[Path, str], root: Path) -> str:
    """Point relative links at what exists: pages of the site, anchors on them, files of the repository (by a path
    relative to `out`). `base` is the folder the page's source links are relative to. Others are dropped."""
    def sub(m):
        attr, q, raw = m.group(1), m.group(2), m.group(3)
        url = html.unescape(raw)
        if not url or is_external(url): return m.group(0)
        path, _, frag = url.partition("#")
        path = unquote(path)
        if not path:
            target, target_page = page_name, page_name
        elif "/" not in path and path in site_ids:
            target, target_page = path, path
        else:
            src = (base / path).resolve()
            if src in notebook_pages: target, target_page = notebook_pages[src], notebook_pages[src]
            elif src.exists() and (src == root or root in src.parents):
                return f"{attr}={q}{html.escape(Path(os.path.relpath(src, out)).as_posix())}{q}"
            else:
                warn(f"{page_name}: link {url!r} points at nothing; dropped")
                return ""
        if frag and frag not in site_ids[target_page] and unquote(frag) not in site_ids[target_page]:
            warn(f"{page_name}: anchor {url!r} not found; linking to the page")
            frag = ""
        new = ("" if target == page_name and frag else target) + (f"#{frag}" if frag else "")
        return f"{attr}={q}{html.escape(new or page_name)}{q}"
    return _ATTR.sub(sub, text)


def check_site(out: Path) -> list[str]:
    "Every relative href/src of every page resolves to an existing file, and its #anchor to an id on that page."
    problems, ids = [], {}
    pages = sorted(out.glob("*.html"))
    texts = {p: p.read_text(encoding="utf-8") for p in pages}
    for p, text in texts.items(): ids[p.resolve()] = ids_of(text)
    for p, text in texts.items():
        for m in _ATTR.finditer(text):
            url = html.unescape(m.group(3))
            if is_external(url): continue
            path, _, frag = url.partition("#")
            target = (p.parent / unquote(path)).resolve() if path else p.resolve()
            if not target.exists(): problems.append(f"{p.name}: {url} -> missing {target}"); continue
            if frag and target.suffix == ".html":
                tids = ids.get(target) or ids_of(target.read_text(encoding="utf-8"))
                if frag not in tids and unquote(frag) not in tids: problems.append(f"{p.name}: {url} -> no id {frag!r}")
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------------------------------------------------

def project_info(root: Path) -> tuple[str, str]:
    try: proj = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError): proj = {}
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    m = re.match(r"\s*# (.+)", readme)
    return (m.group(1).strip() if m else proj.get("name", root.name)), proj.get("description", "")


def _prepare_out(out: Path) -> Path:
    "A fresh staging folder next to `out`; `out` itself must be absent, empty or a previous build."
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SystemExit(f"build_docs: {out} exists and was not built by this script; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.with_name(out.name + ".building")
    if stage.exists(): shutil.rmtree(stage)
    stage.mkdir()
    return stage


def build(out: Path | str | None = None, root: Path | str = ROOT) -> dict:
    "Build the site into `out` (default `<root>/_docs`); return a summary. Raises SystemExit if a link is broken."
    t0 = time.perf_counter()
    root = Path(root).resolve()
    out = Path(out).resolve() if out else root / "_docs"
    if str(root) not in sys.path: sys.path.insert(0, str(root))
    from pygments.formatters import HtmlFormatter
    notebooks = discover(root / "nbs")
    if not notebooks: raise SystemExit(f"build_docs: no notebooks in {root / 'nbs'}")
    project, description = project_info(root)
    symbols, apis = Symbols(), {}
    for nb in notebooks:
        if nb.module:
            api, note = load_api(nb.module, root)
            apis[nb.name] = (api, note)
            if api is not None: collect_entries(api, nb.module, nb.page, symbols)
    rendered = {nb.page: page(nb.title, notebook_body(nb, *apis.get(nb.name, (None, "")), symbols), notebooks, nb.page,
                              project) for nb in notebooks}
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    rendered["index.html"] = page(project, index_body(notebooks, project, description, readme, symbols), notebooks,
                                  "index.html", project)
    site_ids = {name: ids_of(text) for name, text in rendered.items()}
    site_ids["style.css"] = set()
    notebook_pages = {nb.path.resolve(): nb.page for nb in notebooks}
    stage = _prepare_out(out)
    for name, text in rendered.items():
        base = root if name == "index.html" else root / "nbs"
        text = fix_links(text, name, base, out, site_ids, notebook_pages, root)
        (stage / name).write_text(text, encoding="utf-8")
    (stage / "style.css").write_text(CSS + HtmlFormatter(style="default").get_style_defs(".highlight"), encoding="utf-8")
    (stage / MARKER).write_text("built by tools/build_docs.py; rebuilt (replaced) by every run\n", encoding="utf-8")
    problems = check_site(stage)
    if problems:
        raise SystemExit("build_docs: broken links:\n  " + "\n  ".join(problems) + f"\n(the unfinished site is in {stage})")
    if out.exists(): shutil.rmtree(out)
    stage.rename(out)
    static = sorted(nb.module for nb in notebooks if (a := apis.get(nb.name)) and a[0] is not None and a[0].static)
    missing = sorted(nb.module for nb in notebooks if (a := apis.get(nb.name)) and a[0] is None)
    return {"out": out, "pages": len(rendered), "seconds": time.perf_counter() - t0, "from_source": static,
            "not_exported": missing}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build_docs", description="Build the documentation site from nbs/ into _docs/.")
    ap.add_argument("--out", help="output folder (default: _docs/ in the project)")
    a = ap.parse_args(argv)
    r = build(a.out)
    print(f"build_docs: {r['pages']} pages in {r['out']} ({r['seconds']:.1f} s); open {r['out'] / 'index.html'}")
    if r["from_source"]: print(f"build_docs: documented from source (did not import): {', '.join(r['from_source'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
