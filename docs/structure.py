"""Print the package's structure: its layers, the imports between them, and what breaks them.

Run from a checkout (``.venv/bin/python docs/structure.py``; ``--root DIR`` for another
checkout's ``src`` and ``pyproject.toml``). It reads the import graph with grimp (the library
under import-linter) and the layers of ``[tool.importlinter]``, and prints, top layer first,
each layer's modules with their line counts, the imports that run back up a layer, the
circles between modules, and the largest files. The README's "Layers" section quotes it.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections import Counter
from pathlib import Path

import grimp

PACKAGE = "dk_sentinel"


def _lines(root: Path, module: str) -> int:
    """The module's line count (a package: its ``__init__.py``)."""
    path = root / "src" / Path(*module.split("."))
    file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return len(file.read_text(encoding="utf-8").splitlines()) if file.exists() else 0


def _layer_of(module: str, layers: list[list[str]]) -> int | None:
    """The index of the layer (top first) that holds ``module``."""
    for index, layer in enumerate(layers):
        if any(module == name or module.startswith(name + ".") for name in layer):
            return index
    return None


def _circles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.find_modules_directly_imported_by(node) & modules:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(modules):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the structure; exit 1 when an import runs back up or modules form a circle."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--largest", type=int, default=8, help="list this many largest files")
    args = parser.parse_args(argv)
    root: Path = args.root
    sys.path.insert(0, str(root / "src"))
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    layers = [[name.strip() for name in entry.split("|")] for entry in contract["layers"]]
    graph = grimp.build_graph(PACKAGE)
    modules = {m for m in graph.modules if m != PACKAGE}
    sizes = {m: _lines(root, m) for m in modules}
    arrows = Counter[tuple[int, int]]()
    upward: list[str] = []
    for importer in sorted(modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer) & modules):
            a, b = _layer_of(importer, layers), _layer_of(imported, layers)
            if a is None or b is None or a == b:
                continue
            arrows[(a, b)] += 1
            if b < a:
                upward.append(f"{importer} -> {imported}")
    print(f"{PACKAGE}: {len(modules)} modules, {sum(sizes.values())} lines, {len(layers)} layers")
    for i, layer in enumerate(layers):
        members = sorted(m for m in modules if _layer_of(m, layers) == i)
        down = sum(n for (a, _b), n in arrows.items() if a == i)
        names = " | ".join(n.removeprefix(PACKAGE + ".") for n in layer)
        print(f"{i + 1:>2}. {names}  ({len(members)} modules, {down} imports down)")
        for m in members:
            print(f"      {m.removeprefix(PACKAGE + '.')} ({sizes[m]})")
    circles = _circles(graph, modules)
    print(f"imports back up a layer: {len(upward)}")
    for line in upward:
        print(f"  {line}")
    print(f"circles: {len(circles)}")
    for group in circles:
        print("  " + " <-> ".join(g.removeprefix(PACKAGE + ".") for g in group))
    print("largest files:")
    for m, n in sorted(sizes.items(), key=lambda kv: -kv[1])[: args.largest]:
        print(f"  {n:>5}  {m.removeprefix(PACKAGE + '.')}")
    return 1 if upward or circles else 0


if __name__ == "__main__":
    raise SystemExit(main())
