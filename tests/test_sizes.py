"""The size limits: no module in velollm_desktop/ over 400 lines, no function over 60.

Counted from the source (lines of the file; a function from its ``def`` line to its last
line, decorators excluded), with an ``ast`` walk, so nested functions and methods count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "velollm_desktop"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _long_functions(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            length = end - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{path.relative_to(root)}:{node.lineno} {node.name} is {length} lines"
                )
    return found


def test_the_package_has_modules() -> None:
    assert len(_modules()) > 50


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_under_the_line_limit(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{path.relative_to(PACKAGE.parent)} is {lines} lines (limit {MAX_MODULE_LINES}): "
        "compose a part out instead of splitting against the import direction"
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_under_the_line_limit(path: Path) -> None:
    assert _long_functions(path) == []


def test_the_guard_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    module = tmp_path / "long.py"
    module.write_text(f"def f():\n{body}\n\n\ndef g():\n    return 1\n", encoding="utf-8")
    assert _long_functions(module, root=tmp_path) == [
        f"long.py:1 f is {MAX_FUNCTION_LINES + 1} lines"
    ]
