"""Benchmark several endpoints with the same suite, one after the other, for a side-by-side view.

Each endpoint is `NAME=URL` or `NAME=KIND=URL`; without a kind it is detected with the fleet
probe (Ollama, llama-server, vLLM / OpenAI-compatible). Endpoints run one at a time, so they
never compete for the client's CPU; one that fails is reported and the others still run.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass, field

from velollm_desktop.core.bench.backends import make_backend
from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.suites import suite
from velollm_desktop.core.fleet.targets import Target, TargetError, parse_target
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.kinds import BackendKind
from velollm_desktop.core.progress import ProgressEvent, ProgressFn

BACKEND_OF_KIND = {
    "ollama": BackendKind.OLLAMA,
    "llamacpp": BackendKind.LLAMACPP,
    "vllm": BackendKind.OPENAI,
    "openai": BackendKind.OPENAI,
}
"""The fleet probe's server kinds → the benchmark backend that measures each."""
_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,39})=(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Endpoint:
    name: str
    target: Target


@dataclass
class EndpointResult:
    name: str
    url: str
    backend: BackendKind | None
    result: BenchmarkResult | None = None
    error: str | None = None


@dataclass
class EndpointComparison:
    suite: str
    endpoints: list[EndpointResult] = field(default_factory=list)


def parse_endpoint(text: str) -> Endpoint:
    """`NAME=URL` or `NAME=KIND=URL`; TargetError says what is wrong."""
    match = _NAME_RE.match(text.strip()) if isinstance(text, str) else None
    if not match or "://" in match.group(1):
        raise TargetError(f"'{str(text)[:80]}': an endpoint is NAME=URL (e.g. a=http://h:8080)")
    return Endpoint(match.group(1), parse_target(match.group(2)))


def parse_endpoints(texts: list[str]) -> list[Endpoint]:
    endpoints = [parse_endpoint(t) for t in texts]
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise TargetError("endpoint names must differ")
    return endpoints


def backend_for(endpoint: Endpoint, deadline_s: float = 5.0) -> BackendKind:
    """The benchmark backend for an endpoint (its kind, given or detected)."""
    kind = endpoint.target.kind
    if kind is None:
        import time  # noqa: PLC0415

        import httpx  # noqa: PLC0415

        from velollm_desktop.core.fleet.probe import ProbeError, detect_kind  # noqa: PLC0415

        with httpx.Client(trust_env=False) as http:
            try:
                kind = detect_kind(http, endpoint.target, time.monotonic() + deadline_s)
            except ProbeError as exc:
                raise ServerError(f"{endpoint.name} ({endpoint.target.url}): {exc}") from None
    if kind not in BACKEND_OF_KIND:
        raise ServerError(f"{endpoint.name} is a {kind} exporter, not a server to benchmark")
    return BACKEND_OF_KIND[kind]


def benchmark_endpoints(
    endpoints: list[Endpoint],
    suite_name: str,
    *,
    runs: int | None = None,
    max_tokens: int | None = None,
    model: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    hardware: object = None,
) -> EndpointComparison:
    """Run the same suite against each endpoint in turn."""
    tests = suite(suite_name, runs=runs, max_tokens=max_tokens)
    out = EndpointComparison(suite=suite_name)
    for i, ep in enumerate(endpoints):
        if cancel is not None and cancel.is_set():
            break
        item = EndpointResult(ep.name, ep.target.base_url, None)
        out.endpoints.append(item)

        def step(event: ProgressEvent, i: int = i, ep: Endpoint = ep) -> None:
            if progress:
                name = f"[{ep.name} {i + 1}/{len(endpoints)}]"
                progress(dataclasses.replace(event, text=f"{name} {event.text}"))

        try:
            item.backend = backend_for(ep)
            backend = make_backend(item.backend, ep.target.base_url, model)
            try:
                item.result = run_benchmark(
                    backend,
                    tests,
                    suite_name=suite_name,
                    progress=step,
                    cancel=cancel,
                    hardware=hardware,
                )
            finally:
                backend.close()
        except ServerError as exc:
            item.error = str(exc)
    return out
