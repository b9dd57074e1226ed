"""One optimizer run for the GUI and the CLI: hardware + models + current config → recommendation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.failure import FixNote
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.http.bounds import redact_url
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.ollama.spec_info import (
    MTP_MIN_VERSION,
    OllamaSpecInfo,
    info_from_gguf,
    info_from_show,
)
from velollm_desktop.core.optimize.models import (
    ModelProfile,
    load_model_file,
    load_model_info_file,
    profile_from_show,
)
from velollm_desktop.core.optimize.recommend import (
    Recommendation,
    recommend_fit,
    recommend_heuristic,
)
from velollm_desktop.core.optimize.service import (
    ProcInfo,
    RuntimeInfo,
    detect_runtime,
    list_processes,
    systemd_dirs,
)
from velollm_desktop.core.optimize.sources import CurrentConfig, read_current


@dataclass(frozen=True)
class OptimizeState:
    """Everything the Optimize page and `velollm optimize` show."""

    hardware: HardwareSpec
    models: tuple[ModelProfile, ...]
    ollama_version: str | None
    current: CurrentConfig
    recommendation: Recommendation
    notes: tuple[str, ...]
    runtime: RuntimeInfo | None = None
    """How Ollama runs here: whether (and where) the recommendation can be applied."""


def gather_models(
    url: str, specs: Sequence[str] = ()
) -> tuple[list[ModelProfile], str | None, list[str]]:
    """Profiles from `NAME=FILE` specs (saved /api/show), else from the server at `url`.

    Returns (models, Ollama version or None, notes). Raises ValueError/OSError for bad files.
    """
    notes: list[str] = []
    if specs:
        models = []
        for item in specs:
            try:
                models.append(load_model_info_file(item))
            except (OSError, ValueError) as exc:  # BadModel included: one bad file, one note
                notes.append(f"skipped --model-info {item[:200]}: {exc}")
        return models, None, notes
    try:
        with OllamaClient(url) as client:
            version = client.version()
            models = []
            for m in client.installed_models():
                try:
                    show = client.show(m.name)
                    models.append(
                        profile_from_show(
                            m.name, {"model_info": dict(show.model_info)}, m.size_bytes
                        )
                    )
                    spec = info_from_show(m.name, {"model_info": dict(show.model_info)})
                    notes += [mtp_note(spec, f"ollama:{m.name}")] if spec.has_mtp else []
                except (ServerError, ValueError) as exc:
                    notes.append(f"skipped {m.name} (from Ollama at {redact_url(url)}): {exc}")
            return models, version, notes
    except ServerError as exc:
        notes.append(FixNote.of(exc))  # each face adds its words for the fix (the address)
        return [], None, notes


def mtp_note(spec: OllamaSpecInfo, target: str) -> str:
    """What the optimizer says about a model with its own multi-token-prediction heads."""
    return (
        f"{spec.model} has its own MTP heads (multi-token prediction): Ollama ≥ {MTP_MIN_VERSION} "
        "can draft with them for faster decoding, but only when draft_num_predict is set, and "
        "whether it pays depends on the machine. Measure it before applying anything: "
        f"velollm compare --target {target} --as-ollama"
    )


def _file_mtp_notes(models: Sequence[ModelProfile]) -> list[str]:
    """MTP notes for the local GGUF files planned for (picked, or given as NAME=FILE.gguf)."""
    notes = []
    for m in models:
        if m.model_path is None:
            continue
        try:
            spec = info_from_gguf(Path(m.model_path), m.name)
        except (ValueError, OSError):
            continue
        if spec.has_mtp:
            notes.append(mtp_note(spec, str(m.model_path)))
    return notes


def optimize_state(
    hardware: HardwareSpec,
    url: str,
    strategy: str = "fit",
    specs: Sequence[str] = (),
    *,
    root: Path = Path("/"),
    processes: Callable[[], list[ProcInfo]] = list_processes,
    files: Sequence[Path] = (),
) -> OptimizeState:
    """Gather models, the current configuration and how Ollama runs, and recommend.

    `root` and `processes` are where systemd files and Ollama processes are looked for
    (a sandboxed root and a fake process list in tests). `files` are model files the user
    picked (GGUF or saved /api/show JSON), planned for besides the server's models. With no
    model at all, the hardware tiers answer instead of an almost empty fit."""
    models, version, notes = gather_models(url, specs)
    for f in files:
        try:
            models.append(load_model_file(Path(f)))
        except ValueError as exc:
            notes.append(f"skipped the model file {f}: {exc}")
    notes += _file_mtp_notes(models)
    if not models and strategy == "fit":
        strategy = "heuristic"
        notes.append("With no model to plan for, the recommendation comes from the hardware tiers")
    rec = (
        recommend_fit(hardware, models, version)
        if strategy == "fit"
        else recommend_heuristic(hardware, models, version)
    )
    current = read_current(systemd_dirs=systemd_dirs(root))
    answered = version is not None if not specs else None  # the API answered just now
    runtime = detect_runtime(url, root=root, processes=processes, answers=answered)
    return OptimizeState(hardware, tuple(models), version, current, rec, tuple(notes), runtime)
