"""Moved to `velollm_desktop.core.http.errors` (shared by every server client, not only Ollama).

A thin alias kept while branches written against the old path are merged: this module IS the
new one (`sys.modules`), so a monkeypatch through either name reaches the same object.
"""

import sys

from velollm_desktop.core.http import errors as _moved
from velollm_desktop.core.http.errors import *  # noqa: F403  (names for static checkers)

sys.modules[__name__] = _moved
