"""The package's layering, proven on the source: every import (also inside functions) goes down.

Layers, bottom to top (a module may import its own layer and the layers below it, never above):

| layer      | modules                                                                              |
|------------|--------------------------------------------------------------------------------------|
| base       | xcurate (lazy API facade), errors, schema, resources, fsutil, configs, text.*,         |
|            | dedup.signatures, dedup.digests (kernels)                                             |
| engine     | engine.* (config, io, stage, registry, cluster, operators, writer, outdir, runner, …) |
| libraries  | dedup.* (phases), contamination.*, mt.*, mix.*, synth.*, web.*                       |
| stages     | stages.* (thin operators registered by name)                                         |
| workflows  | workflows.* (audit, calibrate, mix, synth on the engine)                             |
| cli        | cli                                                                                  |
| entry      | __main__ (the only importer of the cli)                                              |

The facade ``xcurate/__init__.py`` names higher layers only as strings resolved on first
attribute access, so importing it costs nothing and pulls in no layer above base.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import pytest

from conftest import REPO

SOURCE_ROOTS = {"xcurate": REPO / "pipeline", "xcurate.stages": REPO / "stages", "xcurate.configs": REPO / "configs"}
LAYERS = ["base", "engine", "libraries", "stages", "workflows", "cli", "entry"]
# (module prefix, layer), most specific first; a prefix matches the module and its submodules.
LAYER_OF_PREFIX: List[Tuple[str, str]] = [
    ("xcurate.__main__", "entry"),
    ("xcurate.cli", "cli"),
    ("xcurate.workflows", "workflows"),
    ("xcurate.stages", "stages"),
    ("xcurate.dedup.signatures", "base"),
    ("xcurate.dedup.digests", "base"),
    ("xcurate.dedup", "libraries"),
    ("xcurate.contamination", "libraries"),
    ("xcurate.mt", "libraries"),
    ("xcurate.mix", "libraries"),
    ("xcurate.synth", "libraries"),
    ("xcurate.classify", "libraries"),
    ("xcurate.web", "libraries"),
    ("xcurate.engine", "engine"),
    ("xcurate.errors", "base"),
    ("xcurate.schema", "base"),
    ("xcurate.resources", "base"),
    ("xcurate.fsutil", "base"),
    ("xcurate.text", "base"),
    ("xcurate.configs", "base"),
]
SOURCE_FOLDER_NAMES = ("pipeline", "stages")  # checkout folders, never import names


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def source_modules() -> Dict[str, Path]:
    modules = {}
    for package, root in SOURCE_ROOTS.items():
        for path in sorted(root.rglob("*.py")):
            if package == "xcurate" and path.relative_to(root).parts[0] in ("stages", "configs"):
                continue
            modules[_module_name(package, root, path)] = path
    return modules


MODULES = source_modules()


def layer_of(module: str) -> Optional[str]:
    if module == "xcurate":
        return "base"
    for prefix, layer in LAYER_OF_PREFIX:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def _resolve_relative(module: str, is_package: bool, level: int, target: Optional[str]) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imported_names(module: str, path: Path) -> List[Tuple[str, int]]:
    """Every imported dotted name of a module, with its line (top level, in functions, anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = (_resolve_relative(module, is_package, node.level, node.module) if node.level
                      else node.module)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                names.append((full if full in MODULES else target, node.lineno))
    return names


def internal_dependencies(module: str, path: Path) -> Set[str]:
    """The modules of this package that ``module`` imports (the nearest known module of each name)."""
    deps = set()
    for name, _ in imported_names(module, path):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            deps.add(name)
    return deps


GRAPH = {m: internal_dependencies(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    assert "xcurate.engine.runner" in MODULES and "xcurate.stages.langid" in MODULES
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_each_layer_imports_only_its_own_layer_and_below():
    upward = [f"{m} ({layer_of(m)}) imports {d} ({layer_of(d)})"
              for m, deps in GRAPH.items() for d in sorted(deps)
              if LAYERS.index(layer_of(d)) > LAYERS.index(layer_of(m))]
    assert upward == []


def test_nothing_but_main_imports_the_cli():
    importers = sorted(m for m, deps in GRAPH.items() if "xcurate.cli" in deps)
    assert importers == ["xcurate.__main__"]


def test_no_import_of_checkout_folder_names():
    """Neither the package nor its tests, benchmarks or samples import ``pipeline``/``stages``:
    those names exist only in a checkout, never once installed."""
    scripts = {f"scripts.{p.relative_to(REPO).with_suffix('').as_posix().replace('/', '.')}": p
               for folder in ("tests", "bench", "samples") for p in (REPO / folder).rglob("*.py")}
    bad = [f"{path.relative_to(REPO)}:{line}: {name}"
           for m, path in {**MODULES, **scripts}.items() for name, line in imported_names(m, path)
           if name.split(".")[0] in SOURCE_FOLDER_NAMES]
    assert bad == []


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as a path [a, b, ..., a], or None (iterative DFS, three colours)."""
    state: Dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


@pytest.mark.parametrize("graph,expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
])
def test_cycle_finder_finds_cycles(graph, expected):
    assert find_cycle(graph) == expected


def test_import_parser_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from xcurate.cli import main\n    import xcurate.engine.runner\n")
    assert internal_dependencies("xcurate.mix.x", src) == {"xcurate.cli", "xcurate.engine.runner"}
