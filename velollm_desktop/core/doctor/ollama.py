"""Diagnose what Ollama has loaded: placement (`/api/ps` size vs size_vram) against the fit.

Pure: every input is given (loaded models, their profiles from `/api/show`, the hardware,
the server's settings); `gather.py` does the I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from velollm_desktop.core.doctor.model import (
    Finding,
    FindingKind,
    Fix,
    FixKind,
    ctx_text,
    gib,
)
from velollm_desktop.core.doctor.watch import on_cpu
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.ollama.models import LoadedModel
from velollm_desktop.core.optimize.fit import (
    CTX_CANDIDATES,
    FIT_MARGIN,
    MIB,
    Budget,
    flash_attention_supported,
    footprint,
)
from velollm_desktop.core.optimize.models import ModelProfile


@dataclass(frozen=True)
class OllamaSettings:
    """The server variables that change a model's footprint (as the optimizer reads them)."""

    num_parallel: int = 1
    kv_type: str = "f16"
    flash_attention: bool | None = None
    """None: unset (auto)."""

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> OllamaSettings:
        par = values.get("OLLAMA_NUM_PARALLEL")
        kv = values.get("OLLAMA_KV_CACHE_TYPE")
        fa = values.get("OLLAMA_FLASH_ATTENTION")
        return cls(
            max(1, par) if isinstance(par, int) and not isinstance(par, bool) else 1,
            kv if isinstance(kv, str) and kv in ("f16", "q8_0", "q4_0") else "f16",
            fa if isinstance(fa, bool) else None,
        )


@dataclass(frozen=True)
class _Room:
    """The GPU memory this model could have: total minus what the others and other programs hold."""

    total_bytes: int
    others: tuple[tuple[str, int], ...]
    """Other loaded models' VRAM, largest first."""
    outside_bytes: int
    """VRAM held by programs other than Ollama's models (from the GPU's used memory)."""

    @property
    def free_bytes(self) -> int:
        held = sum(b for _, b in self.others) + self.outside_bytes
        return max(0, self.total_bytes - FIT_MARGIN - held)


def _room(m: LoadedModel, loaded: Sequence[LoadedModel], hw: HardwareSpec) -> _Room | None:
    gpus = hw.discrete_gpus
    if not gpus:
        return None
    gpu = max(gpus, key=lambda g: g.vram_total_mib or 0)
    total = int(gpu.vram_total_mib or 0) * MIB
    others = tuple(
        sorted(
            ((o.name, o.size_vram_bytes) for o in loaded if o is not m and o.size_vram_bytes > 0),
            key=lambda x: -x[1],
        )
    )
    ours = sum(o.size_vram_bytes for o in loaded)
    used = int(gpu.vram_used_mib) * MIB if gpu.vram_used_mib is not None else ours
    return _Room(total, others, max(0, used - ours - 600 * MIB))  # ~CUDA contexts of the runners


def _budget(room: _Room, fa_ok: bool) -> Budget:
    return Budget(room.free_bytes, "gpu", False, fa_ok, "")


def _fits(
    p: ModelProfile, ctx: int, par: int, kv: str, fa: bool, budget: Budget
) -> tuple[bool, int]:
    f = footprint(p, ctx, par, kv, fa, budget)
    return f.total <= budget.bytes, f.total


def _smaller_setting(
    p: ModelProfile, ctx: int, s: OllamaSettings, fa: bool, budget: Budget
) -> int | None:
    """The largest context ≤ the current one that fits entirely with one slot."""
    for c in CTX_CANDIDATES:
        if c <= ctx and c <= p.context_length and _fits(p, c, 1, s.kv_type, fa, budget)[0]:
            return c
    return None


def _spill(
    m: LoadedModel, p: ModelProfile | None, room: _Room, s: OllamaSettings, fa_ok: bool, url: str
) -> list[Finding]:
    """Partly / wholly on CPU: the cause from the fit and the fixes that would make it fit."""
    frac = m.gpu_fraction
    ctx = m.context_length or 2048
    kind = FindingKind.ON_CPU if m.size_vram_bytes == 0 else FindingKind.PARTLY_ON_CPU
    where = "wholly in system RAM" if kind is FindingKind.ON_CPU else f"{m.placement}"
    nums = [
        ("size_bytes", m.size_bytes),
        ("size_vram_bytes", m.size_vram_bytes),
        ("gpu_fraction", frac),
        ("free_bytes", room.free_bytes),
    ]
    if p is None:
        cause = (
            f"{m.name} is {where} ({gib(m.size_vram_bytes)} of {gib(m.size_bytes)} on the "
            f"GPU); {gib(room.free_bytes)} are free for it"
        )
        return [Finding(kind, url, m.name, cause, (), tuple(nums))]
    fa = bool(s.flash_attention) if s.flash_attention is not None else fa_ok
    budget = _budget(room, fa_ok)
    ok, need = _fits(p, ctx, s.num_parallel, s.kv_type, fa, budget)
    nums.append(("needed_bytes", need))
    setting = f"{ctx_text(ctx)} × {s.num_parallel} slot{'s' if s.num_parallel > 1 else ''}"
    held = "; ".join(f"{n} holds {gib(b)}" for n, b in room.others)
    cause = (
        f"{m.name} is {where}: it needs {gib(need)} at {setting}; {gib(room.free_bytes)} "
        f"are free" + (f" because {held}" if held else "")
    )
    kind, fixes, found = _fixes(m, p, room, s, (fa, fa_ok), kind, setting, url)
    if ok:
        cause += " (the fit says it would fit now: unload and load it again)"
        fixes.append(
            Fix(FixKind.UNLOAD, f"Unload {m.name} so that the next request loads it afresh", m.name)
        )
    if not fixes:
        cause += "; even 2k × 1 does not fit: a smaller quantization or model is needed"
    return [Finding(kind, url, m.name, cause, tuple(fixes), tuple(nums)), *found]


def _fixes(
    m: LoadedModel,
    p: ModelProfile,
    room: _Room,
    s: OllamaSettings,
    fas: tuple[bool, bool],
    kind: FindingKind,
    setting: str,
    url: str,
) -> tuple[FindingKind, list[Fix], list[Finding]]:
    """What would make it fit: unloading the others, a smaller context, a q8_0 KV cache."""
    fa, fa_ok = fas
    ctx = m.context_length or 2048
    budget = _budget(room, fa_ok)
    fixes: list[Fix] = []
    found: list[Finding] = []
    if room.others:
        freed = _Room(room.total_bytes, (), room.outside_bytes)
        if _fits(p, ctx, s.num_parallel, s.kv_type, fa, _budget(freed, fa_ok))[0]:
            kind = FindingKind.VRAM_HELD
            for name, b in room.others:
                fixes.append(Fix(FixKind.UNLOAD, f"Unload {name} (frees {gib(b)})", name))
    smaller = _smaller_setting(p, ctx, s, fa, budget)
    if smaller is not None and (smaller < ctx or s.num_parallel > 1):
        fixes.append(
            Fix(
                FixKind.DERIVED_MODEL,
                f"Use {ctx_text(smaller)} × 1 (fits entirely): create {m.name.split(':')[0]}-velollm "
                f"with num_ctx {smaller}",
                m.name,
                (("num_ctx", smaller),),
            )
        )
        if kind is not FindingKind.VRAM_HELD:
            found.append(
                Finding(
                    FindingKind.CONTEXT_TOO_BIG,
                    url,
                    m.name,
                    f"{setting} does not fit in {gib(room.free_bytes)}; "
                    f"{ctx_text(smaller)} × 1 would",
                    (),
                    (("fits_ctx", smaller),),
                )
            )
    if s.kv_type == "f16" and fa_ok and _fits(p, ctx, s.num_parallel, "q8_0", True, budget)[0]:
        fixes.append(
            Fix(
                FixKind.SERVER_SETTINGS,
                "Set OLLAMA_KV_CACHE_TYPE=q8_0 with flash attention "
                "(every model: the KV cache takes half the memory)",
                "",
                settings=(("OLLAMA_KV_CACHE_TYPE", "q8_0"), ("OLLAMA_FLASH_ATTENTION", "1")),
            )
        )
    return kind, fixes, found


def _advice(
    m: LoadedModel, p: ModelProfile, room: _Room, s: OllamaSettings, fa_ok: bool, url: str
) -> list[Finding]:
    """A model that is on the GPU: KV and flash-attention settings that would save memory."""
    out: list[Finding] = []
    ctx = m.context_length or 2048
    budget = _budget(room, fa_ok)
    if fa_ok and s.flash_attention is False:
        out.append(
            Finding(
                FindingKind.FLASH_ATTENTION_OFF,
                url,
                m.name,
                "flash attention is off although this GPU supports it (less memory "
                "for long contexts, usually faster)",
                (
                    Fix(
                        FixKind.SERVER_SETTINGS,
                        "Set OLLAMA_FLASH_ATTENTION=1",
                        settings=(("OLLAMA_FLASH_ATTENTION", "1"),),
                    ),
                ),
            )
        )
    if s.kv_type == "f16" and fa_ok:
        bigger = next(
            (
                c
                for c in CTX_CANDIDATES
                if ctx < c <= p.context_length
                and _fits(p, c, s.num_parallel, "q8_0", True, budget)[0]
                and not _fits(p, c, s.num_parallel, "f16", True, budget)[0]
            ),
            None,
        )
        if bigger is not None:
            out.append(
                Finding(
                    FindingKind.KV_F16,
                    url,
                    m.name,
                    f"the KV cache is f16: with q8_0 {ctx_text(bigger)} would fit entirely "
                    f"(f16 does not)",
                    (
                        Fix(
                            FixKind.SERVER_SETTINGS,
                            "Set OLLAMA_KV_CACHE_TYPE=q8_0",
                            settings=(
                                ("OLLAMA_KV_CACHE_TYPE", "q8_0"),
                                ("OLLAMA_FLASH_ATTENTION", "1"),
                            ),
                        ),
                    ),
                    (("fits_ctx", bigger),),
                )
            )
    return out


def diagnose_ollama(
    url: str,
    loaded: Sequence[LoadedModel],
    profiles: Mapping[str, ModelProfile],
    hardware: HardwareSpec,
    settings: OllamaSettings | None = None,
) -> list[Finding]:
    """Findings for every loaded model (none when there is no GPU: CPU is then expected)."""
    s = settings or OllamaSettings()
    fa_ok = flash_attention_supported(hardware)
    out: list[Finding] = []
    for m in loaded:
        room = _room(m, loaded, hardware)
        if room is None:
            continue
        p = profiles.get(m.name)
        if on_cpu(m):
            nobody = all(o.size_vram_bytes == 0 for o in loaded)
            if nobody and m.size_bytes <= room.free_bytes:
                out.append(_no_gpu(m, room, url))
            else:
                out += _spill(m, p, room, s, fa_ok, url)
        elif p is not None:
            out += _advice(m, p, room, s, fa_ok, url)
    return out


def _no_gpu(m: LoadedModel, room: _Room, url: str) -> Finding:
    cause = (
        f"{m.name} ({gib(m.size_bytes)}) is in system RAM although the GPU has "
        f"{gib(room.free_bytes)} free and no loaded model uses it: Ollama did not find a "
        "usable GPU (driver or GPU library not found; its log says which)"
    )
    fix = Fix(
        FixKind.UNLOAD,
        f"After fixing the driver, unload {m.name} so that it loads on the GPU",
        m.name,
    )
    return Finding(
        FindingKind.NO_GPU_USED,
        url,
        m.name,
        cause,
        (fix,),
        (("size_bytes", m.size_bytes), ("free_bytes", room.free_bytes)),
    )
