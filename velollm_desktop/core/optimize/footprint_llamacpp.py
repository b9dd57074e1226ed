"""llama.cpp's own memory projection: `llama-fit-params -v` with the candidate settings.

llama-fit-params (tools/fit-params in ggml-org/llama.cpp) loads the model without allocating
weights (`no_alloc`), builds the context and reserves the compute graph, then
`common_memory_breakdown_print` prints one table per attempt:

    | memory breakdown [MiB] | total   free    self   model   context   compute    unaccounted |
    |   - CUDA0 (RTX 4090)   | 24077 =  945 + (19187 = 17904 +     384 +     898) +        3945 |
    |   - Host               |                 2803 =  1481 +    1024 +     298                |
    |   - CPU_REPACK         |                 3204 =  3204 +       0 +       0                |

The first table is the projection for the settings as given (later ones are the fit's own
attempts). Accelerator rows carry total/free; host-side buffers (Host, CPU_REPACK, …) do not.
It reads only the header, so it takes well under a second even for a 30 GB model.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from dataclasses import astuple, dataclass
from pathlib import Path

from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fsutil import atomic_write_text, read_own_json
from velollm_desktop.core.llamacpp.binaries import (
    BinaryNotFound,
    LlamaBinary,
    find_program,
    program_version,
)
from velollm_desktop.core.llamacpp.crash import PHASE_RUN, interpret_exit
from velollm_desktop.core.optimize.footprint import (
    METHOD_LLAMACPP,
    MIB,
    FitSettings,
    MemoryEstimate,
)

MAX_OUTPUT_CHARS = 8 << 20
MAX_LINE_CHARS = 2000
MAX_MIB = 1 << 26
"""64 TiB: a larger figure for one buffer is not a measurement, it is garbage."""
DEFAULT_TIMEOUT_S = 60.0
MAX_CACHE_ENTRIES = 2000
_ROW = re.compile(
    r"\|\s+-\s+(?P<name>[^|]{1,200}?)\s+\|\s+"
    r"(?:(?P<total>\d{1,12})\s+=\s+(?P<free>\d{1,12})\s+\+\s+\(\s*)?"
    r"(?P<self>\d{1,12})\s+=\s+(?P<model>\d{1,12})\s+\+\s+(?P<context>\d{1,12})\s+\+\s+"
    r"(?P<compute>\d{1,12})"
)


class FitParamsError(UserFacingError, ValueError):
    """llama-fit-params could not project this model/setting; the message says why."""


@dataclass(frozen=True)
class DeviceMemory:
    """One row of the breakdown, MiB as llama.cpp prints them (rounded down)."""

    name: str
    model_mib: int
    context_mib: int
    compute_mib: int
    accelerator: bool
    """True for a device row (it has total/free memory): CUDA0, Metal, Vulkan0, …"""

    @property
    def self_mib(self) -> int:
        return self.model_mib + self.context_mib + self.compute_mib


def parse_breakdown(text: str) -> tuple[DeviceMemory, ...]:
    """The first memory-breakdown table in llama-fit-params' output; FitParamsError if none."""
    rows: list[DeviceMemory] = []
    in_table = False
    for line in text[:MAX_OUTPUT_CHARS].splitlines():
        if len(line) > MAX_LINE_CHARS:
            continue
        if "memory breakdown [MiB]" in line:
            if rows:
                break
            in_table = True
            continue
        if not in_table:
            continue
        m = _ROW.search(line)
        if m is None:
            if rows:
                break
            continue
        rows.append(_row(m))
    if not rows:
        raise FitParamsError("llama-fit-params printed no memory breakdown")
    return tuple(rows)


def _row(m: re.Match[str]) -> DeviceMemory:
    model, context, compute = (int(m.group(k)) for k in ("model", "context", "compute"))
    if abs(int(m.group("self")) - (model + context + compute)) > 3:  # each is rounded
        raise FitParamsError(f"inconsistent breakdown row for {m.group('name')!r}")
    if max(model, context, compute) > MAX_MIB:
        raise FitParamsError(f"implausible size in the breakdown row for {m.group('name')!r}")
    return DeviceMemory(
        m.group("name").strip(), model, context, compute, m.group("total") is not None
    )


def estimate_from_rows(rows: tuple[DeviceMemory, ...], device: str) -> MemoryEstimate:
    """Bytes in the budget's memory: accelerator rows for a discrete GPU (if any), else all."""
    picked = [r for r in rows if r.accelerator] if device == "gpu" else list(rows)
    if not picked:
        picked = list(rows)
    names = ", ".join(r.name for r in picked)
    host = sum(r.model_mib for r in rows if r not in picked)
    return MemoryEstimate(
        sum(r.model_mib for r in picked) * MIB,
        sum(r.context_mib for r in picked) * MIB,
        sum(r.compute_mib for r in picked) * MIB,
        METHOD_LLAMACPP,
        f"llama-fit-params: {names}",
        host * MIB,
    )


def fit_params_argv(binary: Path, model: Path, s: FitSettings) -> list[str]:
    """The command line: Ollama's -c is the total for all slots."""
    kv = s.kv_type
    return [
        str(binary),
        "-m", str(model),
        "-c", str(s.ctx_per_slot * s.parallel),
        "-np", str(s.parallel),
        "-fa", "on" if s.flash_attention else "off",
        "-ctk", kv,
        "-ctv", kv,
        "-b", str(s.ubatch),
        "-ub", str(s.ubatch),
        "-ngl", "0" if s.device == "cpu" else "999",
        *(["--n-cpu-moe", str(s.n_cpu_moe)] if s.n_cpu_moe > 0 else []),
        "-v",
    ]  # fmt: skip


def run_bounded(argv: list[str], timeout_s: float, source: str | None = None) -> str:
    """stdout + stderr of `argv` (no shell); the child is killed and reaped on any exit path.
    A death by a signal raises FitParamsError with crash.interpret_exit's sentence."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        raise FitParamsError(f"cannot start {Path(argv[0]).name}: {exc}") from exc
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise FitParamsError(f"{Path(argv[0]).name} took longer than {timeout_s:.0f} s") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = out[:MAX_OUTPUT_CHARS].decode("utf-8", "replace")
    tail = "\n".join(text.strip().splitlines()[-12:])
    crash = interpret_exit(Path(argv[0]).name, proc.returncode, PHASE_RUN, tail, source)
    if crash is not None:  # the sentence is what the fit's detail shows; the crash is its cause
        raise FitParamsError(str(crash)) from crash
    return text


def file_identity(path: Path) -> str:
    """An Ollama blob's digest (its name), else path + size + mtime."""
    if path.name.startswith("sha256-") and len(path.name) == 71:
        return path.name
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()


class Projector:
    """Runs llama-fit-params, caches its answers by (file, settings, llama.cpp version)."""

    def __init__(
        self,
        binary: LlamaBinary,
        cache_path: Path | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.binary = binary
        self.cache_path = cache_path
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._version: str | None = None
        self._cache: dict[str, list] = self._load()
        self.runs = 0
        """How many times llama-fit-params really ran (the rest came from the cache)."""

    def _load(self) -> dict[str, list]:
        if self.cache_path is None:
            return {}
        try:
            data = read_own_json(self.cache_path)
        except (OSError, ValueError):  # missing or unreadable (UnreadableFile): start empty
            return {}
        return data if isinstance(data, dict) else {}

    def version(self) -> str:
        if self._version is None:
            self._version = program_version(self.binary) or "unknown"
        return self._version

    def key(self, model: Path, s: FitSettings) -> str:
        return json.dumps([file_identity(model), astuple(s), self.version()])

    def rows(self, model: Path, s: FitSettings) -> tuple[DeviceMemory, ...]:
        """The breakdown for `model` at `s` (cached); FitParamsError when it cannot be had."""
        try:
            key = self.key(model, s)
        except OSError as exc:
            raise FitParamsError(f"cannot read {model}: {exc}") from exc
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            try:
                return tuple(DeviceMemory(*r) for r in cached)
            except TypeError:
                pass
        text = run_bounded(
            fit_params_argv(self.binary.path, model, s), self.timeout_s, self.binary.source
        )
        try:
            rows = parse_breakdown(text)
        except FitParamsError as exc:
            errors = [ln.strip() for ln in text.splitlines()[-200:] if "error" in ln.lower()]
            raise FitParamsError(f"{exc}: {errors[-1][:300]}" if errors else str(exc)) from None
        with self._lock:
            self.runs += 1
            self._cache[key] = [list(astuple(r)) for r in rows]
            while len(self._cache) > MAX_CACHE_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._save()
        return rows

    def _save(self) -> None:
        if self.cache_path is None:
            return
        try:
            atomic_write_text(self.cache_path, json.dumps(self._cache))
        except OSError:
            pass

    def estimate(self, model: Path, s: FitSettings) -> MemoryEstimate:
        rows = self.rows(model, s)
        if s.n_cpu_moe and s.device == "gpu" and not any(r.accelerator for r in rows):
            raise FitParamsError("this llama.cpp has no GPU backend: it cannot project the split")
        return estimate_from_rows(rows, s.device)


def find_projector(
    configured: str | None = None, cache_path: Path | None = None
) -> Projector | None:
    """A Projector over the llama-fit-params found like llama-server is, or None."""
    try:
        return Projector(find_program("llama-fit-params", configured), cache_path)
    except BinaryNotFound:
        return None
