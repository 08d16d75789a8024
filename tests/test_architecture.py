"""The package's architecture, read from the source with `ast`: no import cycle between algobot modules, and no module
imports another module's private (`_`-prefixed) names. Imports inside functions count too."""
import ast
from pathlib import Path

from helpers import ROOT


def modules(pkg: Path) -> dict[str, Path]:
    "Dotted module name -> file, for every module of the package at `pkg` (`_modidx.py` is nbdev's index, not code)."
    out = {}
    for f in sorted(pkg.rglob("*.py")):
        if f.name == "_modidx.py": continue
        parts = f.relative_to(pkg.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def imports(name: str, path: Path, mods: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    "(imported module, imported name or None, line) for every import of a package module in `path`, at any depth."
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names if a.name in mods]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else: target = node.module or ""
            for a in node.names:
                if f"{target}.{a.name}" in mods: found.append((f"{target}.{a.name}", None, node.lineno))  # a submodule
                elif target in mods: found.append((target, a.name, node.lineno))
    return found


def import_graph(pkg: Path) -> dict[str, set[str]]:
    "Module -> the package modules it imports."
    mods = modules(pkg)
    return {m: {t for t, _, _ in imports(m, f, mods) if t != m} for m, f in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    "One import cycle as [a, b, ..., a], or None."
    state, stack = {}, []
    def visit(u):
        state[u] = "open"; stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == "open": return stack[stack.index(v):] + [v]
            if v not in state and (cycle := visit(v)): return cycle
        state[u] = "done"; stack.pop()
        return None
    for u in sorted(graph):
        if u not in state and (cycle := visit(u)): return cycle
    return None


def private_imports(pkg: Path) -> list[str]:
    "`module:line imports other._name` for every import of another package module's private name (dunders aside)."
    mods = modules(pkg)
    return [f"{m}:{line} imports {t}.{n}" for m, f in mods.items() for t, n, line in imports(m, f, mods)
            if n and t != m and n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]


def test_no_import_cycle():
    cycle = find_cycle(import_graph(ROOT / "algobot"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_private_imports():
    found = private_imports(ROOT / "algobot")
    assert not found, "modules import other modules' private names:\n" + "\n".join(found)


def test_the_checks_can_fail(tmp_path):
    "A small package with a cycle (a -> b.c -> a, relative and absolute, one inside a function) and a private import."
    pkg = tmp_path / "pkg"
    (pkg / "b").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b.c import helper\n")
    (pkg / "b" / "__init__.py").write_text("from . import c\n")
    (pkg / "b" / "c.py").write_text("def helper():\n    from pkg.a import _secret\n    from ..a import __doc__\n")
    (pkg / "d.py").write_text("import pkg.a\nfrom pkg import a\n")
    graph = import_graph(pkg)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b.c"}, "pkg.b": {"pkg.b.c"}, "pkg.b.c": {"pkg.a"}, "pkg.d": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b.c", "pkg.a"]
    assert private_imports(pkg) == ["pkg.b.c:2 imports pkg.a._secret"]
    (pkg / "b" / "c.py").write_text("def helper(): pass\n")
    assert find_cycle(import_graph(pkg)) is None and private_imports(pkg) == []


def public_names(pkg: Path) -> dict[str, list[str]]:
    "Each module's `__all__` (what nbdev exports with `#| export`; `#| exporti` cells stay out of it)."
    out = {}
    for name, f in modules(pkg).items():
        for node in ast.parse(f.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
                out[name] = [ast.literal_eval(e) for e in node.value.elts]
    return out


def test_a_narrow_public_api():
    """At most 170 public names in all (issue 20: 331 before, cut to 149 with a cap of 150; issues 23 and 24 add the
    portfolio and alternative-data modules with 20 more at most), and no module exports a generic `log` or `KEY`."""
    names = public_names(ROOT / "algobot")
    total = sum(map(len, names.values()))
    assert total <= 170, f"{total} names in __all__ lists (at most 170): internals belong in #| exporti cells; " + \
        ", ".join(f"{m} {len(v)}" for m, v in sorted(names.items(), key=lambda kv: -len(kv[1]))[:8])
    generic = [f"{m}.{n}" for m, v in names.items() for n in v if n in ("log", "KEY")]
    assert not generic, f"generic public names: {generic}"


def chapter_of(root: Path) -> dict[str, str]:
    "Module -> the notebook that exports it (its `#| default_exp`)."
    import json, re
    out = {}
    for nb in sorted((root / "nbs").glob("*.ipynb")):
        src = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
        if m := re.search(r"#\|\s*default_exp\s+(\S+)", src): out[f"algobot.{m.group(1)}"] = nb.stem
    return out


def test_chapters_import_only_earlier_chapters():
    "A chapter reads top to bottom: its module imports only modules of earlier notebooks (issue 20: 08a imported 18, 18 imported 99)."
    chapter, graph = chapter_of(ROOT), import_graph(ROOT / "algobot")
    later = sorted(f"{chapter[m]} ({m}) imports {chapter[t]} ({t})" for m, ts in graph.items() if m in chapter
                   for t in ts if t in chapter and chapter[t] > chapter[m])
    assert not later, "\n".join(later)
