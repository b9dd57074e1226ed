"""One probe of one target: bounded HTTP reads, kind detection, the status it reports.

Every request of a probe shares one deadline and each body is capped (BODY_CAP_BYTES): a
server that hangs, drips, or sends a huge answer ends the probe with a reason, never blocks.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass

import httpx

from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fleet import mapping, velollm
from velollm_desktop.core.fleet.expo import (
    Metrics,
    MetricsError,
    clean_text,
    label_values,
    parse_exposition,
)
from velollm_desktop.core.fleet.model import Counters, TargetStatus
from velollm_desktop.core.fleet.targets import Target
from velollm_desktop.core.http.bounds import redact_url

BODY_CAP_BYTES = 4 * 1024 * 1024
PROBE_DEADLINE_S = 3.0  # commands/fleet.py repeats it (lazy import)
MAX_MODELS = 64


class ProbeError(UserFacingError):
    """The target did not give a usable answer; the message is the reason shown to the user."""


@dataclass
class Answer:
    status: int
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def fetch(
    http: httpx.Client | None, url: str, deadline: float, cap: int = BODY_CAP_BYTES
) -> Answer:
    """GET `url` before `deadline` (time.monotonic), at most `cap` bytes; ProbeError otherwise.

    The request goes through the bounded transport (core/http/transport.py): its own
    connection, closed when it ends, and ONE deadline over connect, headers and body, so a
    target that drips its headers a byte a second ends at the deadline and holds nothing
    that another target needs (`http` is kept for callers; no pooled connection is used)."""
    from velollm_desktop.core.http import transport  # noqa: PLC0415 - socket only

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ProbeError("no answer within the probe deadline")
    base, path = _split(url)
    limits = transport.Limits(deadline_s=remaining, stall_s=remaining, max_body_bytes=cap)
    headers_read = False
    try:
        resp = transport.open_request(base, "GET", path, None, limits, "the target")
        headers_read = True
        try:
            return Answer(resp.status, resp.read(cap))
        finally:
            resp.close()
    except transport.TooLarge:
        raise ProbeError(f"answer larger than {cap // (1024 * 1024)} MiB") from None
    except transport.RequestTimedOut:
        if headers_read:
            raise ProbeError("answer too slow: not complete within the probe deadline") from None
        raise ProbeError("no answer within the probe deadline") from None
    except (transport.ServerNotRunning, transport.BadURL) as exc:
        raise ProbeError(f"cannot connect: {connect_words(_short(exc), url)}") from None
    except transport.ServerError as exc:
        raise ProbeError(f"connection dropped or not HTTP: {_short(exc)}") from None


def _split(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    return f"{parts.scheme}://{parts.netloc}", path + (f"?{parts.query}" if parts.query else "")


CONNECT_WORDS = (  # the OS's error text (errno names differ per platform) → words
    (("connection refused", "errno 111", "errno 61", "winerror 10061"), "nothing listens on port {port}"),
    (("name or service not known", "nodename nor servname", "temporary failure in name",
      "getaddrinfo failed", "no address associated", "errno -2", "errno -3", "errno 8"),
     "the name {host} is not known (check the spelling or the DNS)"),
    (("no route to host", "errno 113", "errno 65"), "no route to {host} (is it on and on this network?)"),
    (("network is unreachable", "errno 101", "errno 51"), "the network to {host} is unreachable"),
    (("timed out",), "{host} did not answer on port {port}"),
)  # fmt: skip


def connect_words(text: str, url: str) -> str:
    """A connection error in words ("nothing listens on port 9"), the raw text when unknown."""
    parts = httpx.URL(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    low = text.lower()
    for needles, words in CONNECT_WORDS:
        if any(n in low for n in needles):
            return words.format(host=parts.host or "the host", port=port)
    return text


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return clean_text(text.splitlines()[0], 160)


def _metrics(answer: Answer, deadline: float | None = None) -> Metrics:
    if answer.status != 200:
        raise ProbeError(f"/metrics answered HTTP {answer.status}")
    try:
        return parse_exposition(answer.text(), deadline)
    except MetricsError as exc:
        raise ProbeError(f"/metrics sent something that is not Prometheus text: {exc}") from None


def kind_of_metrics(metrics: Metrics) -> str | None:
    """Which exporter wrote these samples, from their names."""
    if velollm.is_velollm(metrics):  # before node_: it is not a node exporter
        return "velollm"
    names = metrics.keys()
    for prefix, kind in (
        ("llamacpp:", "llamacpp"),
        ("vllm:", "vllm"),
        ("DCGM_FI_", "dcgm"),
        ("node_", "node"),
    ):
        if any(name.startswith(prefix) for name in names):
            return kind
    return None


def detect_kind(http: httpx.Client | None, target: Target, deadline: float) -> str:
    """Ask the target what it is (its /metrics, Ollama's /api/version, /v1/models)."""
    answer = fetch(http, target.metrics_url, deadline)
    if answer.status == 200:
        try:
            kind = kind_of_metrics(parse_exposition(answer.text(), deadline))
        except MetricsError:
            kind = None
        if kind:
            return kind
    version = fetch(http, target.base_url + "/api/version", deadline)
    body = version.json()
    if version.status == 200 and isinstance(body, dict) and isinstance(body.get("version"), str):
        return "ollama"
    models = fetch(http, target.base_url + "/v1/models", deadline)
    body = models.json()
    if models.status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
        owners = {m.get("owned_by") for m in body["data"] if isinstance(m, dict)}
        return "llamacpp" if "llamacpp" in owners else ("vllm" if "vllm" in owners else "openai")
    raise ProbeError(
        "answers, but not as Ollama, llama-server, vLLM, an OpenAI-compatible server,"
        " a node exporter or dcgm-exporter"
    )


def openai_models(http: httpx.Client | None, base_url: str, deadline: float) -> list[str]:
    """Model ids from an OpenAI-compatible /v1/models."""
    answer = fetch(http, base_url + "/v1/models", deadline)
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ProbeError(f"/v1/models answered HTTP {answer.status} without a model list")
    return [clean_text(m["id"]) for m in body["data"] if isinstance(m, dict) and "id" in m][
        :MAX_MODELS
    ]


def _ollama(
    http: httpx.Client | None, target: Target, deadline: float, status: TargetStatus
) -> None:
    version = fetch(http, target.base_url + "/api/version", deadline)
    body = version.json()
    if version.status != 200 or not isinstance(body, dict) or "version" not in body:
        raise ProbeError(f"/api/version answered HTTP {version.status}, not Ollama's answer")
    status.version = clean_text(body["version"], 40)
    ps = fetch(http, target.base_url + "/api/ps", deadline)
    body = ps.json()
    if ps.status != 200 or not isinstance(body, dict) or not isinstance(body.get("models"), list):
        raise ProbeError(f"/api/ps answered HTTP {ps.status} without a model list")
    status.models = [
        clean_text(m.get("name") or m.get("model")) for m in body["models"] if isinstance(m, dict)
    ][:MAX_MODELS]


def _exporter(
    http: httpx.Client | None, target: Target, kind: str, deadline: float, status: TargetStatus
) -> Counters:
    now = time.monotonic()
    answer = fetch(http, target.metrics_url, deadline)
    if kind in ("llamacpp", "vllm") and answer.status in (404, 501):
        status.note = (
            "no /metrics: start llama-server with --metrics"
            if kind == "llamacpp"
            else ("no /metrics on this vLLM")
        )
        return Counters(now)
    metrics = _metrics(answer, deadline)
    if kind == "node":
        idle, all_s = mapping.cpu_counters(metrics)
        status.ram_used_bytes, status.ram_total_bytes = mapping.ram_bytes(metrics)
        return Counters(now, cpu_idle_s=idle, cpu_total_s=all_s)
    if kind == "dcgm":
        status.gpus = mapping.dcgm_gpus(metrics)
        return Counters(now)
    if kind == "velollm":
        velollm.apply(metrics, status)
        return Counters(now)
    status.requests_running, status.requests_waiting, tokens = mapping.server_fields(kind, metrics)
    if kind == "vllm":
        names = label_values(metrics, "vllm:num_requests_running", "model_name")
        status.models = [clean_text(n) for n in names[:MAX_MODELS]]
    return Counters(now, tokens=tokens)


def probe(
    http: httpx.Client | None,
    target: Target,
    kind: str | None,
    prev: Counters | None,
    deadline_s: float = PROBE_DEADLINE_S,
) -> tuple[TargetStatus, Counters | None]:
    """Probe `target` (kind None: detect it first); never raises for what the target does."""
    start = time.monotonic()
    deadline = start + deadline_s
    status = TargetStatus(url=redact_url(target.url), kind=kind, host=target.host, up=False)
    counters = None
    try:
        status.kind = kind = kind or detect_kind(http, target, deadline)
        if kind == "ollama":
            _ollama(http, target, deadline, status)
        elif kind == "openai":
            status.models = openai_models(http, target.base_url, deadline)
        else:
            counters = _exporter(http, target, kind, deadline, status)
            if kind == "llamacpp" and not status.models:
                status.models = openai_models(http, target.base_url, deadline)
    except ProbeError as exc:
        status.error = str(exc).replace("the probe deadline", f"{deadline_s:g} s")
        status.probe_ms = round((time.monotonic() - start) * 1000.0, 1)
        return status, None
    status.up = True
    status.probe_ms = round((time.monotonic() - start) * 1000.0, 1)
    if counters is not None:
        status.cpu_pct = mapping.cpu_pct(prev, counters)
        status.tokens_per_s = mapping.tokens_per_s(prev, counters)
    return status, counters
