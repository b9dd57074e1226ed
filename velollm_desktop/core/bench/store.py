"""Benchmark history in SQLite (user data dir), and JSON / CSV export and JSON import.

The database keeps each result's full JSON plus a few columns for listing. A database that
cannot be opened is moved aside and a new one created: the app never fails to start over it.
A database another process holds locked is "busy" (`HistoryBusy`, try again), never
"damaged"; a `results` table of another schema is renamed aside (kept) and ours created.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velollm_desktop.core import jsonio
from velollm_desktop.core.bench.csv_export import ENERGY_FIELDS, RUN_FIELDS, to_csv
from velollm_desktop.core.bench.model import BenchmarkResult, RunMeasurement, ServerInfo, TestResult
from velollm_desktop.core.bench.stats import Stats
from velollm_desktop.core.energy.model import reading_from_json
from velollm_desktop.core.failure import BadInput, UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text, move_aside
from velollm_desktop.core.settings import data_dir

log = logging.getLogger(__name__)

__all__ = ["ENERGY_FIELDS", "RUN_FIELDS", "History", "HistoryBusy", "HistoryEntry", "to_csv"]
"""Names callers import from here; the CSV writer lives in csv_export.py."""

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    server TEXT NOT NULL,
    model TEXT NOT NULL,
    suite TEXT NOT NULL,
    decode_mean REAL,
    body TEXT NOT NULL
)
"""
COMPARE_SQL = """
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    target TEXT NOT NULL,
    draft TEXT,
    body TEXT NOT NULL
)
"""
BUSY_TIMEOUT_S = 2.0
RESULT_COLUMNS = {"id", "started_at", "kind", "server", "model", "suite", "decode_mean", "body"}
ADDED_COLUMNS = {"j_per_token": "REAL", "server_version": "TEXT"}
"""Columns added after the first release (schema 2): ALTER TABLE keeps the old rows."""


class HistoryBusy(UserFacingError, RuntimeError):
    """Another process holds the history database locked: nothing is lost, try again."""


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@dataclass(frozen=True)
class HistoryEntry:
    """One row of the history list."""

    id: int
    started_at: str
    kind: str
    model: str
    suite: str
    decode_mean: float | None
    """Mean decode speed over all tests (tokens/s)."""
    j_per_token: float | None = None
    """Mean joules per generated token over the tests that measured energy (None: n/a)."""
    server_version: str | None = None
    server: str = ""
    """The server's URL."""

    @property
    def label(self) -> str:
        """ "#3 27 Nov 2026 08:00 · ollama:smollm2 · standard — 118.5 tok/s" (local time)."""
        rate = f"{self.decode_mean:.1f} tok/s" if self.decode_mean else "n/a"
        when = readable_time(self.started_at)
        joules = f", {self.j_per_token:.3f} J/token" if self.j_per_token is not None else ""
        return f"#{self.id} {when} · {self.kind}:{self.model} · {self.suite} — {rate}{joules}"


def readable_time(iso: str) -> str:
    """An ISO 8601 timestamp as local "27 Nov 2026 08:00"; the text itself if it is not one."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment.day} {moment.strftime('%b %Y %H:%M')}"


def to_json(result: BenchmarkResult) -> str:
    """The documented export format (docs/BENCHMARK_FORMAT.md)."""
    return jsonio.dumps(result)


def _stats(d: Any) -> Stats | None:
    if not isinstance(d, Mapping):
        return None
    return Stats(
        **{k: d[k] for k in ("n", "mean", "stddev", "min", "max", "ci95_low", "ci95_high")}
    )


def _runs_requested(value: Any) -> int | None:
    """A positive int (older exports have none); anything else is dropped, not trusted."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 10_000
    return value if ok else None


def _memory_bytes(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**50
    return value if ok else None


def from_json(text: str) -> BenchmarkResult:
    """Read an exported result back; raises ValueError with the reason if it is not one."""
    try:
        d = json.loads(text)
        tests = []
        for t in d["results"]:
            runs = tuple(
                RunMeasurement(
                    **{k: r.get(k) for k in RunMeasurement.__dataclass_fields__ if k in r}
                )
                for r in t["runs"]
            )
            tests.append(
                TestResult(
                    name=t["name"],
                    max_tokens=t.get("max_tokens", 0),
                    runs=runs,
                    decode_tokens_per_s=_stats(t.get("decode_tokens_per_s")),
                    server_decode_tokens_per_s=_stats(t.get("server_decode_tokens_per_s")),
                    ttft_ms=_stats(t.get("ttft_ms")),
                    prompt_tokens_per_s=_stats(t.get("prompt_tokens_per_s")),
                    warmup_load_ms=t.get("warmup_load_ms"),
                    runs_requested=_runs_requested(t.get("runs_requested")),
                    energy=reading_from_json(t.get("energy")),
                )
            )
        s = d["server"]
        return BenchmarkResult(
            app_version=d.get("app_version", "?"),
            started_at=d["started_at"],
            server=ServerInfo(s["kind"], s["url"], s.get("version")),
            model=d["model"],
            model_digest=d.get("model_digest"),
            suite=d.get("suite", "custom"),
            options=d.get("options") or {},
            results=tuple(tests),
            hardware=d.get("hardware"),
            wall_s=d.get("wall_s", 0.0),
            cancelled=bool(d.get("cancelled")),
            notes=tuple(d.get("notes") or ()),
            model_memory_bytes=_memory_bytes(d.get("model_memory_bytes")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"not a VeloLLM benchmark export: {exc}") from exc


def mean_j_per_token(result: BenchmarkResult) -> float | None:
    """Mean of the tests' joules per generated token (None when no test measured energy)."""
    vals = [
        t.energy.j_per_generated_token
        for t in result.results
        if t.energy is not None and t.energy.j_per_generated_token is not None
    ]
    return sum(vals) / len(vals) if vals else None


def mean_decode(result: BenchmarkResult) -> float | None:
    """Mean of the tests' mean decode speeds (tokens/s)."""
    means = [t.decode_tokens_per_s.mean for t in result.results if t.decode_tokens_per_s]
    return sum(means) / len(means) if means else None


class History:
    """The benchmark history database."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "history.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.problem: str | None = None
        self._lock = threading.Lock()  # the GUI thread and a benchmark worker share it
        self.closed = False
        self._db_: sqlite3.Connection | None = None
        try:
            self._db_ = self._open()
        except HistoryBusy as exc:
            self.problem = str(exc)  # opened on the next use
            log.warning("%s", exc)
        except sqlite3.DatabaseError as exc:
            moved = move_aside(self.path)
            self.problem = f"The benchmark history was damaged ({exc}); it was moved to {moved} and a new one started"
            log.warning("%s", self.problem)
            self._db_ = self._open()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._db_ is None:
            self._db_ = self._open()
        return self._db_

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
        try:
            db.execute(SCHEMA_SQL)
            db.execute(COMPARE_SQL)
            self._migrate(db)
            db.execute("SELECT count(*) FROM results").fetchone()
            db.commit()
        except sqlite3.DatabaseError as exc:
            db.close()
            if _is_busy(exc):
                raise self._busy() from None
            raise
        return db

    def _busy(self) -> HistoryBusy:
        return HistoryBusy(
            f"the benchmark history {self.path} is busy (another program holds it); "
            "try again in a moment"
        )

    def _migrate(self, db: sqlite3.Connection) -> None:
        """A `results` table of another schema is renamed aside (its rows kept), ours created."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
        if RESULT_COLUMNS <= columns:
            self._add_columns(db, columns)
            return
        aside = f"results_other_schema_{int(time.time())}"
        db.execute(f'ALTER TABLE results RENAME TO "{aside}"')
        db.execute(SCHEMA_SQL)
        self._add_columns(db, set(RESULT_COLUMNS))
        self.problem = (
            f"The benchmark history's table had another layout; it was kept as {aside} "
            "and a new one started"
        )
        log.warning("%s", self.problem)

    @staticmethod
    def _add_columns(db: sqlite3.Connection, columns: set[str]) -> None:
        """Schema 1 → 2: the listing columns added later; old rows keep their data and get
        their server version from their stored JSON (their energy stays n/a)."""
        missing = [c for c in ADDED_COLUMNS if c not in columns]
        for name in missing:
            db.execute(f"ALTER TABLE results ADD COLUMN {name} {ADDED_COLUMNS[name]}")
        if "server_version" in missing:
            rows = db.execute("SELECT id, body FROM results").fetchall()
            for row_id, body in rows:
                try:
                    version = json.loads(body).get("server", {}).get("version")
                except (ValueError, AttributeError):
                    version = None
                if isinstance(version, str):
                    db.execute(
                        "UPDATE results SET server_version = ? WHERE id = ?",
                        (version[:100], row_id),
                    )

    def close(self) -> None:
        with self._lock:
            if self._db_ is not None:
                self._db_.close()
            self.closed = True

    def add(self, result: BenchmarkResult) -> int:
        """Store a result; returns its id. HistoryBusy when another process holds the lock."""
        try:
            return self._insert(result)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise

    def _insert(self, result: BenchmarkResult) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO results (started_at, kind, server, model, suite, decode_mean, body,"
                " j_per_token, server_version) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    result.started_at,
                    result.server.kind,
                    result.server.url,
                    result.model,
                    result.suite,
                    mean_decode(result),
                    to_json(result),
                    mean_j_per_token(result),
                    result.server.version,
                ),
            )
        return int(cur.lastrowid or 0)  # always set after an INSERT

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        """Rows of a query; HistoryBusy when another process holds the lock."""
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise

    def entries(self, limit: int = 200) -> list[HistoryEntry]:
        """Newest first."""
        rows = self._read(
            "SELECT id, started_at, kind, model, suite, decode_mean, j_per_token,"
            " server_version, server FROM results ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [HistoryEntry(*row) for row in rows]

    def load(self, entry_id: int) -> BenchmarkResult:
        """The full result with that id (KeyError if none)."""
        rows = self._read("SELECT body FROM results WHERE id = ?", (entry_id,))
        if not rows:
            raise KeyError(entry_id)
        return from_json(rows[0][0])

    def add_comparison(self, result: Any) -> int:
        """Store a speculative-decoding comparison (a CompareResult); returns its id.
        HistoryBusy when another process holds the lock."""
        try:
            return self._insert_comparison(result)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise self._busy() from None
            raise

    def _insert_comparison(self, result: Any) -> int:
        with self._lock, self._db:
            cur = self._db.execute(
                "INSERT INTO comparisons (started_at, target, draft, body) VALUES (?,?,?,?)",
                (result.started_at, result.target, result.draft, jsonio.dumps(result)),
            )
        return int(cur.lastrowid or 0)  # always set after an INSERT

    def comparisons(self, limit: int = 100) -> list[dict[str, Any]]:
        """Stored comparisons, newest first (their JSON, as exported)."""
        rows = self._read("SELECT id, body FROM comparisons ORDER BY id DESC LIMIT ?", (limit,))
        return [{"id": i, **json.loads(body)} for i, body in rows]

    def delete(self, entry_id: int) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM results WHERE id = ?", (entry_id,))


def export_file(result: BenchmarkResult, path: Path) -> None:
    """Write JSON or CSV (by the file's extension) atomically."""
    text = to_csv(result) if Path(path).suffix.lower() == ".csv" else to_json(result) + "\n"
    atomic_write_text(Path(path), text)


def unsaved_text(reason: str, path: Path) -> str:
    """The one sentence for a run the busy history could not take (CLI and GUI say it)."""
    return f"{reason}; this run was saved to {path} instead"


def save_aside(what: str, started_at: str, text: str) -> Path:
    """Keep a run the busy history could not take: `unsaved-<what>-<time>.json` in the data
    directory (never lost)."""
    stamp = started_at.replace(":", "").replace("-", "")[:15]
    path = data_dir() / f"unsaved-{what}-{stamp}.json"
    atomic_write_text(path, text)
    return path
