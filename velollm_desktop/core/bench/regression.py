"""The regression watch: the server's version changed since the last run of a suite here.

`version_changes` finds what to offer re-running; `diff` shows before/after of speed, energy
and memory with the noise rule of comparisons (stats.ratio_ci95 intervals; a difference inside
NOISY_CV of a single figure is noise)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.stats import NOISY_CV, noise_warning, ratio_ci95, summarize
from velollm_desktop.core.bench.store import History, HistoryBusy, HistoryEntry, mean_j_per_token


@dataclass(frozen=True)
class VersionChange:
    kind: str
    server: str
    model: str
    suite: str
    before_id: int
    before_version: str
    now_version: str

    @property
    def text(self) -> str:
        return (
            f"{self.kind} is {self.now_version} now, {self.before_version} at run #{self.before_id} "
            f"of the {self.suite} suite on {self.model}: re-run it to see what the upgrade changed"
        )


def version_changes(
    entries: Sequence[HistoryEntry], kind: str, server: str, now_version: str | None
) -> list[VersionChange]:
    """For each (model, suite) last run against this server: an offer if its version differs."""
    if not now_version:
        return []
    latest: dict[tuple[str, str], HistoryEntry] = {}
    for e in sorted(entries, key=lambda e: e.id):
        if e.kind == kind and e.server.rstrip("/") == server.rstrip("/"):
            latest[(e.model, e.suite)] = e
    return [
        VersionChange(kind, server, model, suite, e.id, e.server_version, now_version)
        for (model, suite), e in sorted(latest.items())
        if e.server_version and e.server_version != now_version
    ]


@dataclass(frozen=True)
class MetricDiff:
    name: str
    unit: str
    before: float | None
    after: float | None
    ratio: float | None
    low: float | None = None
    high: float | None = None
    verdict: str = "n/a"
    """"higher", "lower", "within noise" or "n/a"."""


@dataclass(frozen=True)
class RegressionDiff:
    before_version: str | None
    after_version: str | None
    metrics: tuple[MetricDiff, ...]
    noise: tuple[str, ...] = ()


def _runs(result: BenchmarkResult) -> list[float | None]:
    return [r.decode_tokens_per_s for t in result.results for r in t.runs]


def _speed(before: BenchmarkResult, after: BenchmarkResult, noise: list[str]) -> MetricDiff:
    b, a = summarize(_runs(before)), summarize(_runs(after))
    if b is None or a is None:
        return MetricDiff(
            "decode speed", "tok/s", b.mean if b else None, a.mean if a else None, None
        )
    for label, s in (("before", b), ("after", a)):
        if w := noise_warning(s):
            noise.append(f"{label}: {w}")
    r, lo, hi = ratio_ci95(a, b)
    verdict = "within noise" if lo <= 1.0 <= hi or noise else ("higher" if r > 1 else "lower")
    return MetricDiff("decode speed", "tok/s", b.mean, a.mean, r, lo, hi, verdict)


def _single(name: str, unit: str, before: float | None, after: float | None) -> MetricDiff:
    if not before or after is None:
        return MetricDiff(name, unit, before, after, None)
    r = after / before
    verdict = "within noise" if abs(r - 1) <= NOISY_CV else ("higher" if r > 1 else "lower")
    return MetricDiff(name, unit, before, after, r, verdict=verdict)


def _memory(result: BenchmarkResult) -> float | None:
    v = result.model_memory_bytes
    return float(v) if v else None


def diff(before: BenchmarkResult, after: BenchmarkResult) -> RegressionDiff:
    """Before/after of decode speed (interval rule), J/token and model memory (±10 % rule)."""
    noise: list[str] = []
    metrics = (
        _speed(before, after, noise),
        _single("energy", "J/token", mean_j_per_token(before), mean_j_per_token(after)),
        _single("model memory", "bytes", _memory(before), _memory(after)),
    )
    return RegressionDiff(before.server.version, after.server.version, metrics, tuple(noise))


def diff_text(d: RegressionDiff) -> list[str]:
    """One line per metric (the CLI and the Doctor page)."""
    lines = [f"{d.before_version} → {d.after_version}:"]
    for m in d.metrics:
        if m.ratio is None or m.before is None or m.after is None:
            lines.append(f"  {m.name}: n/a (not measured in both runs)")
            continue
        scale = 1 / 2**20 if m.unit == "bytes" else 1.0
        unit = "MiB" if m.unit == "bytes" else m.unit
        ci = f" (95 % {m.low:.2f}–{m.high:.2f})" if m.low is not None and m.high is not None else ""
        lines.append(
            f"  {m.name}: {m.before * scale:.3g} → {m.after * scale:.3g} {unit}, "
            f"{m.ratio:.2f}×{ci}: {m.verdict}"
        )
    lines += [f"  {n}" for n in d.noise]
    return lines


def against_previous_version(history: History, result: BenchmarkResult) -> RegressionDiff | None:
    """The diff against the last earlier run of this suite, model and server when that run had
    another server version (an upgrade since); None otherwise or when it cannot be read."""
    if not result.server.version:
        return None
    try:
        entries = history.entries(500)
        earlier = [
            e
            for e in entries
            if e.kind == result.server.kind
            and e.server == result.server.url
            and e.model == result.model
            and e.suite == result.suite
        ]
        if not earlier or not earlier[0].server_version:
            return None
        if earlier[0].server_version == result.server.version:
            return None
        return diff(history.load(earlier[0].id), result)
    except (HistoryBusy, KeyError, ValueError):
        return None
