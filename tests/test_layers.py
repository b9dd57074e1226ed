"""The package's import graph: no circle anywhere, and no arrow from a lower layer up to a higher one.

The layer order is written once, here (docs/ARCHITECTURE.md shows the same order and points to
this file). Every `import` counts — at module level, inside a function, under TYPE_CHECKING — so
a lazy import cannot hide a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "velollm_desktop"

CORE_LAYERS: tuple[tuple[str, ...], ...] = (
    # ground floor: no import of another core module but core.failure (the error base)
    (
        "core",
        "core.failure",
        "core.cancel",
        "core.progress",
        "core.measurement",
        "core.jsonio",
        "core.fsutil",
        "core.probe",
    ),
    ("core.wording",),
    ("core.http", "core.autostart", "core.settings", "core.hardware"),
    ("core.kinds", "core.llamacpp", "core.energy"),
    ("core.ollama",),  # reads GGUFs (llamacpp) for MTP heads; llama.cpp never imports Ollama's client
    ("core.monitor", "core.optimize", "core.bench"),
    ("core.tune", "core.fleet", "core.doctor"),
    ("core.speculative", "core.exporter"),
)
"""core/'s packages from the bottom up: a unit may import its own layer's units and lower ones."""

OUTER_LAYERS: tuple[tuple[str, ...], ...] = (
    ("",),  # the package's face (`__version__`)
    ("core",),
    ("workers",),
    ("ui", "cli", "cli_errors", "commands", "__main__"),  # cli_errors: the CLI's exception, words
)
"""The package from the bottom up; `ui` and the CLI (`cli`, `commands`) never import each other."""

NEVER = {
    ("ui", "cli"),
    ("ui", "commands"),
    ("ui", "cli_errors"),
    ("cli_errors", "ui"),
    ("cli_errors", "workers"),
    ("cli", "ui"),
    ("commands", "ui"),
    ("cli", "workers"),
    ("commands", "workers"),
}
"""Pairs of the top floor that must not meet: GUI and CLI share core/, not each other."""


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module → the package's modules it imports (relative to the package, '' = its face)."""
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for full in names:
                if full == "velollm_desktop" or full.startswith("velollm_desktop."):
                    target = full.removeprefix("velollm_desktop").removeprefix(".")
                    if target in mods and target != name:
                        found.add(target)
        graph[name] = found
    return graph


def _unit(module: str, layers: tuple[tuple[str, ...], ...]) -> str | None:
    best = None
    for layer in layers:
        for unit in layer:
            if (module == unit or module.startswith(unit + ".") or unit == "") and (
                best is None or len(unit) > len(best)
            ):
                best = unit
    return best


def _floor(unit: str, layers: tuple[tuple[str, ...], ...]) -> int:
    return next(i for i, layer in enumerate(layers) if unit in layer)


def _upward(
    graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...], scope: str
) -> list[str]:
    bad = []
    for src, targets in graph.items():
        if scope and not (src == scope or src.startswith(scope + ".")):
            continue
        su = _unit(src, layers)
        for dst in targets:
            if scope and not (dst == scope or dst.startswith(scope + ".")):
                continue
            du = _unit(dst, layers)
            assert su is not None and du is not None, f"{src} or {dst} has no layer: add it"
            if _floor(du, layers) > _floor(su, layers):
                bad.append(f"{src} -> {dst}")
    return sorted(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_import_cycle_anywhere_in_the_package() -> None:
    assert _cycles(_imports(_modules())) == []


def test_no_core_package_imports_a_higher_one() -> None:
    assert _upward(_imports(_modules()), CORE_LAYERS, "core") == []


def test_no_layer_of_the_package_imports_a_higher_one() -> None:
    graph = _imports(_modules())
    assert _upward(graph, OUTER_LAYERS, "") == []
    met = sorted(
        f"{src} -> {dst}"
        for src, targets in graph.items()
        for dst in targets
        if (src.split(".")[0], dst.split(".")[0]) in NEVER
    )
    assert met == []


def test_the_checks_can_fail() -> None:
    """The guard sees a circle and an upward arrow when there is one."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    graph = {"core.fsutil": {"core.speculative.flow"}, "core.speculative.flow": {"core.fsutil"}}
    assert _upward(graph, CORE_LAYERS, "core") == ["core.fsutil -> core.speculative.flow"]
    assert _upward(
        {"core.kinds": {"workers.runner"}, "workers.runner": set()}, OUTER_LAYERS, ""
    ) == ["core.kinds -> workers.runner"]
