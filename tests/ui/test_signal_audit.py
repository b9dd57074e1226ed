"""No signal in ui/ is connected to a method with a default argument, nor `clicked` to a
partial: Qt passes the signal's arguments (`clicked` sends `checked=False`) into them, which
once turned `apply(confirm=True)` into an apply without asking."""

from __future__ import annotations

import ast
from pathlib import Path

import velollm_desktop.ui

UI = Path(velollm_desktop.ui.__file__).parent


def _methods_with_defaults(tree: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (node.args.defaults or node.args.kw_defaults):
            if any(d is not None for d in node.args.kw_defaults) or node.args.defaults:
                out.add(node.name)
    return out


def _bad_connections(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    risky = _methods_with_defaults(tree)
    bad = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and node.args
        ):
            continue
        slot = node.args[0]
        where = f"{path.name}:{node.lineno}"
        if isinstance(slot, ast.Attribute) and slot.attr in risky:
            bad.append(f"{where} connects {slot.attr}, which has a default argument")
        if isinstance(slot, ast.Call) and getattr(slot.func, "id", "") == "partial":
            bad.append(f"{where} connects a partial (the signal's arguments are appended)")
    return bad


def test_no_slot_can_receive_a_signal_argument_into_a_default():
    bad = [b for path in sorted(UI.glob("*.py")) for b in _bad_connections(path)]
    assert not bad, bad


def test_the_audit_catches_the_original_defect(tmp_path):
    src = tmp_path / "page.py"
    src.write_text(
        "class P:\n"
        "    def __init__(self):\n"
        "        self.apply_button.clicked.connect(self.apply)\n"
        "    def apply(self, confirm=True):\n"
        "        pass\n"
    )
    assert _bad_connections(src) == ["page.py:3 connects apply, which has a default argument"]
