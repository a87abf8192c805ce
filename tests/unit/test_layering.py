"""xemu's layering rules, checked on the import graph (statically, with `ast`).

Imports go one way only, from the layers that drive a run (cli, run) down to
the ones that know nothing of them (machine, archs, errors). That keeps each
layer replaceable: a new board, OS personality or front end is added without
touching what lies below it, and nothing below can pull a front end in.
For the same reason there are no import cycles, and modules are loaded by
name (importlib) only in the arch registry. And the OS layer (linux) and its
neighbours ask the arch spec for what differs between arches instead of
asking which arch they run: no arch name is spelled in them, so adding an
arch means adding a package under xemu/archs/ and nothing else.
"""
from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

PACKAGE = Path(__file__).resolve().parents[2] / "xemu"

# Which layers each layer may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "__main__": {"cli"},
    "cli": {"__main__", "run", "binfmt", "matrix", "labs", "debug", "linux", "loader", "machine",
            "archs", "errors", "proctitle", "__init__"},
    # runs xemu as a child process per cell; asks only what arch a file is
    # and which accelerators can run it
    "matrix": {"loader", "machine", "archs", "errors"},
    # runs xemu as a student would; asks which accelerators can run an arch
    "labs": {"machine", "archs", "errors"},
    "binfmt": {"machine", "archs", "errors"},
    "run": {"debug", "linux", "loader", "machine", "archs", "errors", "proctitle", "__init__"},
    "debug": {"linux", "machine", "loader", "archs", "errors"},
    "linux": {"machine", "loader", "archs", "errors"},
    "loader": {"archs", "errors"},
    "machine": {"archs", "errors"},
    "archs": {"errors"},
    "errors": set(),
    "proctitle": set(),
    "__init__": set(),
}
ARCH_FREE_LAYERS = {"linux", "loader", "debug", "run", "matrix"}   # labs name arches: they teach them
DYNAMIC_IMPORT_ALLOWED = {"xemu.archs"}   # the registry, xemu/archs/__init__.py
DYNAMIC_IMPORT_NAMES = {"import_module", "__import__"}


class Module(NamedTuple):
    name: str          # "xemu.machine.launch"
    path: Path
    tree: ast.Module

    @property
    def where(self) -> str:
        return str(self.path.relative_to(PACKAGE.parent))

    @property
    def package(self) -> str:
        """What relative imports in it are relative to."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


class Import(NamedTuple):
    source: str
    target: str
    where: str         # "xemu/machine/launch.py:11"


@functools.cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = Module(".".join(parts), path,
                                        ast.parse(path.read_text(), filename=str(path)))
    assert found, f"no Python modules found under {PACKAGE}"
    return found


def layer(module: str) -> str:
    """The top-level name under xemu/ a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def known(name: str) -> str:
    """The longest prefix of a dotted name that is a module of xemu."""
    parts = name.split(".")
    while len(parts) > 1 and ".".join(parts) not in modules():
        parts.pop()
    return ".".join(parts) if ".".join(parts) in modules() else name


def imports(module: Module) -> Iterator[Import]:
    """Every import of an xemu module, wherever it is in the file.
    `from pkg import name` depends on pkg.name where that is a submodule (the
    package itself is then only its parent, imported by any import) and on
    pkg for anything else."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")
                base = base[:len(base) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            submodules = [f"{origin}.{a.name}" for a in node.names
                          if f"{origin}.{a.name}" in modules()]
            plain = len(submodules) < len(node.names)
            targets = submodules + ([origin] if plain else [])
        else:
            continue
        for target in targets:
            if target == "xemu" or target.startswith("xemu."):
                target = known(target)
                if target != module.name:
                    yield Import(module.name, target, f"{module.where}:{node.lineno}")


def all_imports() -> list[Import]:
    return [imp for module in modules().values() for imp in imports(module)]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one node, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, owners) and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)}


def report(title: str, lines: Iterable[str]) -> str:
    return "\n".join([title, *(f"  {line}" for line in lines)])


def test_package_has_modules() -> None:
    assert "xemu" in modules() and len(modules()) > 1


def test_imports_follow_the_layers() -> None:
    bad = []
    for imp in all_imports():
        source, target = layer(imp.source), layer(imp.target)
        if source == target:
            continue
        if source not in ALLOWED or target not in ALLOWED:
            bad.append(f"{imp.where}: {imp.source} -> {imp.target} "
                       f"(layer '{source if source not in ALLOWED else target}' is not in ALLOWED)")
        elif target not in ALLOWED[source]:
            bad.append(f"{imp.where}: {imp.source} ({source}) imports {imp.target} ({target})")
    assert not bad, report(f"{len(bad)} import(s) against the layering:", sorted(bad))


def test_cycle_finder_on_synthetic_graph() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"},
             "f": {"f", "a"}, "g": set()}
    assert strongly_connected(graph) == [["a", "b", "c"], ["d", "e"]]
    assert strongly_connected({"x": {"y"}, "y": set()}) == []
    assert strongly_connected({"p": {"q"}, "q": {"r"}, "r": {"p"}}) == [["p", "q", "r"]]


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    edges: dict[tuple[str, str], list[str]] = {}
    for imp in all_imports():
        if imp.target in modules():
            graph[imp.source].add(imp.target)
            edges.setdefault((imp.source, imp.target), []).append(imp.where)
    lines = []
    for component in strongly_connected(graph):
        lines.append(" <-> ".join(component))
        lines += [f"  {where}: {source} -> {target}"
                  for (source, target), wheres in sorted(edges.items())
                  if source in component and target in component for where in wheres]
    assert not lines, report("import cycles (each component, then its imports):", lines)


def test_dynamic_imports_only_in_the_arch_registry() -> None:
    bad = []
    for module in modules().values():
        if module.name in DYNAMIC_IMPORT_ALLOWED:
            continue
        for node in ast.walk(module.tree):
            name = (node.attr if isinstance(node, ast.Attribute)
                    else node.id if isinstance(node, ast.Name) else None)
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else [name]
            for found in DYNAMIC_IMPORT_NAMES.intersection(names):
                bad.append(f"{module.where}:{node.lineno}: {found}")
    assert not bad, report("dynamic imports outside xemu/archs/__init__.py:", sorted(set(bad)))


def test_no_arch_names_outside_the_archs() -> None:
    from xemu.archs import all_specs    # the registry is the one list of arch names

    names = {n.lower() for spec in all_specs() for n in (spec.name, *spec.aliases)}
    longest_first = sorted(names, key=lambda n: (-len(n), n))    # "x86-64" before "x86"
    word = "|".join(map(re.escape, longest_first))
    pattern = re.compile(rf"(?<![A-Za-z0-9_])({word})(?![A-Za-z0-9_])", re.IGNORECASE)
    bad = []
    for module in modules().values():
        if layer(module.name) not in ARCH_FREE_LAYERS:   # an absent layer has no modules
            continue
        skip = docstrings(module.tree)
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in skip:
                bad += [f"{module.where}:{node.lineno}: '{m.group()}' in {node.value!r}"
                        for m in pattern.finditer(node.value)]
    assert not bad, report("arch names outside xemu/archs/ (ask the ArchSpec instead):", bad)
