"""`diagnose()`: ask the servers, read the settings and the history, return one report.

The one doctor flow: `velollm doctor`, the Doctor page and the tray's spill alert call it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from velollm_desktop.core.bench.regression import VersionChange, version_changes
from velollm_desktop.core.bench.store import History
from velollm_desktop.core.doctor.history import slow_decode
from velollm_desktop.core.doctor.llamaserver import diagnose_llama_server, view_from
from velollm_desktop.core.doctor.model import DoctorReport, Finding
from velollm_desktop.core.doctor.ollama import OllamaSettings, diagnose_ollama
from velollm_desktop.core.hardware import detect_hardware
from velollm_desktop.core.hardware.model import HardwareSpec
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.llamacpp.client import LlamaServerClient
from velollm_desktop.core.ollama.client import OllamaClient
from velollm_desktop.core.optimize.models import ModelProfile, profile_from_show
from velollm_desktop.core.optimize.sources import read_current


@dataclass(frozen=True)
class _Part:
    findings: list[Finding]
    checked: str = ""
    note: str = ""
    unreachable: bool = False
    version: str | None = None


def _local(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def _settings(url: str) -> tuple[OllamaSettings, str]:
    if not _local(url):
        return (
            OllamaSettings(),
            "a remote Ollama: its settings are not readable here (defaults assumed)",
        )
    cur = read_current()
    return OllamaSettings.from_values({k: cur.get(k) for k in cur.values}), ""


def _ollama(url: str, hw: HardwareSpec, settings: OllamaSettings | None) -> _Part:
    notes: list[str] = []
    try:
        with OllamaClient(url) as client:
            version = client.version()
            loaded = client.loaded_models()
            sizes = {m.name: m.size_bytes for m in client.installed_models()} if loaded else {}
            profiles: dict[str, ModelProfile] = {}
            for m in loaded:
                try:
                    profiles[m.name] = profile_from_show(
                        m.name, client.show_json(m.name), sizes.get(m.name)
                    )
                except (ServerError, ValueError) as exc:
                    notes.append(f"{m.name}: no fit ({exc})")
    except ServerError as exc:
        return _Part([], note=f"Ollama at {url}: {exc}", unreachable=True)
    if settings is None:
        settings, why = _settings(url)
        notes += [why] if why else []
    found = diagnose_ollama(url, loaded, profiles, hw, settings)
    checked = f"Ollama {version} at {url}: {len(loaded)} model(s) loaded"
    return _Part(found, checked, "; ".join(notes), version=version)


def _llama(url: str, hw: HardwareSpec) -> _Part:
    try:
        client = LlamaServerClient(url)
        try:
            props = client.props()
            try:
                metrics = client.get_text("/metrics")
            except ServerError:
                metrics = None  # started without --metrics
        finally:
            client.close()
    except ServerError as exc:
        return _Part([], note=f"llama-server at {url}: {exc}", unreachable=True)
    view = view_from(url, props, metrics)
    return _Part(
        diagnose_llama_server(view, hw), f"llama-server at {url}: {view.model_path or '?'}"
    )


def diagnose(
    ollama_url: str | None = None,
    llama_servers: Sequence[str] = (),
    *,
    hardware: HardwareSpec | None = None,
    history: History | None = None,
    ollama_settings: OllamaSettings | None = None,
    hardware_fn: Callable[[], HardwareSpec] = detect_hardware,
) -> DoctorReport:
    """Everything the doctor finds; unreachable servers are notes (and `unreachable`)."""
    hw = hardware or hardware_fn()
    parts = [_ollama(ollama_url, hw, ollama_settings)] if ollama_url else []
    parts += [_llama(u, hw) for u in llama_servers]
    findings = [f for p in parts for f in p.findings]
    rerun: list[VersionChange] = []
    if history is not None:
        entries = history.entries(500)
        findings += slow_decode(entries)
        if ollama_url and parts[0].version:
            rerun = version_changes(entries, "ollama", ollama_url, parts[0].version)
    return DoctorReport(
        tuple(findings),
        tuple(p.checked for p in parts if p.checked),
        tuple(p.note for p in parts if p.note),
        tuple(p.note for p in parts if p.unreachable),
        tuple(rerun),
    )
