"""Guards the PySide6 pin: a signal emit must not eat a reference to Py_True.

PySide6-Essentials 6.12.0 did (596 → 177 after 419 emits), which aborts Python < 3.12 with
"bool_dealloc" after enough samples. If this fails after a PySide6 upgrade, keep the pin.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(object)


def test_signal_emit_keeps_true_refcount(qtbot):
    e = _Emitter()
    got = []
    e.changed.connect(got.append)
    before = sys.getrefcount(True)
    for i in range(300):
        e.changed.emit(i)
    after = sys.getrefcount(True)
    assert len(got) == 300
    assert before - after < 20, f"Py_True lost {before - after} references over 300 emits"
