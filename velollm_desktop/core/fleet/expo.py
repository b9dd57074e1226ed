"""Prometheus text exposition format, read with prometheus-client's own parser.

`parse_exposition` turns a body into {sample name: [(labels, value), …]} and raises
`MetricsError` (one line, no traceback) for anything that is not the format.
"""

from __future__ import annotations

import math
import re
import time

from prometheus_client.parser import text_string_to_metric_families

from velollm_desktop.core.failure import UserFacingError

MAX_SAMPLES = 100_000
"""More samples than any exporter we read sends (node exporter: ~1-3 k); bounds memory/time."""
MAX_SERIES = 50_000
"""Sample lines, counted before parsing (a 256-core node exporter sends ~10 k)."""
MAX_LABELS = 64
"""Label pairs of one series, counted before parsing (real exporters use < 15): the
parser's label handling is quadratic in them (200 000 pairs took 125 s)."""
MAX_LINE_CHARS = 64 * 1024
"""One line of the exposition."""

Metrics = dict[str, list[tuple[dict[str, str], float]]]


class MetricsError(UserFacingError, ValueError):
    """The body is not Prometheus text (or is absurdly large)."""


def check_shape(text: str) -> None:
    """Refuse, in one linear pass and before any parsing, what would make the parser's work
    unbounded: too many series, too many labels in one series, an endless line."""
    series = 0
    for line in text.splitlines():
        if len(line) > MAX_LINE_CHARS:
            raise MetricsError(f"a line longer than {MAX_LINE_CHARS // 1024} KiB")
        if not line or line.startswith("#"):
            continue
        series += 1
        if series > MAX_SERIES:
            raise MetricsError(f"more than {MAX_SERIES} series")
        if line.count("=") > MAX_LABELS and line.partition("{")[2].count("=") > MAX_LABELS:
            raise MetricsError(f"a series with more than {MAX_LABELS} labels")


def parse_exposition(text: str, deadline: float | None = None) -> Metrics:
    """All samples by name (counters keep their `_total` name, as sent). The shape is
    checked first (check_shape); with `deadline` (time.monotonic), parsing stops there."""
    check_shape(text)
    out: Metrics = {}
    count = 0
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                count += 1
                if count > MAX_SAMPLES:
                    raise MetricsError(f"more than {MAX_SAMPLES} samples")
                if deadline is not None and count % 1024 == 0 and time.monotonic() > deadline:
                    raise MetricsError("not parsed within the probe deadline")
                out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    except MetricsError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, UnicodeError) as exc:
        raise MetricsError(
            f"not Prometheus text ({type(exc).__name__}: {clean_text(exc, 120)})"
        ) from None
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: object, limit: int = 200) -> str:
    """A server-supplied string made safe to print: control characters (terminal escapes)
    removed, at most `limit` characters."""
    return _CONTROL.sub("", str(value))[:limit]


def finite(value: float | None) -> float | None:
    """`value` if it is a finite number, else None (NaN and ±Inf are 'not exposed')."""
    if value is None or not math.isfinite(value):
        return None
    return value


def total(metrics: Metrics, name: str, **match: str) -> float | None:
    """Sum of the finite samples of `name` whose labels match; None if there are none."""
    values = [
        v
        for labels, v in metrics.get(name, ())
        if all(labels.get(k) == want for k, want in match.items()) and finite(v) is not None
    ]
    return sum(values) if values else None


def label_values(metrics: Metrics, name: str, label: str) -> list[str]:
    """Distinct values of one label over the samples of `name`, in order."""
    seen: dict[str, None] = {}  # ordered and O(1) per lookup: linear in the samples
    for labels, _ in metrics.get(name, ()):
        value = labels.get(label)
        if value:
            seen.setdefault(value, None)
    return list(seen)
