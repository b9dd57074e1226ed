"""Fleet targets: the URLs the user typed, each with a kind (given or detected) and a host.

A target is `URL` or `KIND=URL`. Only what the user typed is ever contacted: no discovery,
no port or address ranges. Several targets on one machine (a node exporter next to a
llama-server) share a host and are shown together; `localhost`, 127.0.0.1 and ::1 count as
one host ("localhost"); other addresses and names are grouped as typed.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from velollm_desktop.core.failure import UserFacingError

KINDS = ("ollama", "llamacpp", "vllm", "openai", "node", "dcgm", "velollm")
"""Target kinds: Ollama, llama-server, vLLM, another OpenAI-compatible server, the Prometheus
node exporter, NVIDIA's dcgm-exporter, VeloLLM's own exporter (`velollm exporter`)."""

KIND_ALIASES = {
    "llama-server": "llamacpp",
    "llama.cpp": "llamacpp",
    "llama_cpp": "llamacpp",
    "node-exporter": "node",
    "node_exporter": "node",
    "dcgm-exporter": "dcgm",
    "dcgm_exporter": "dcgm",
    "velollm-exporter": "velollm",
}

DEFAULT_PORTS = {
    "ollama": 11434,
    "llamacpp": 8080,
    "vllm": 8000,
    "node": 9100,
    "dcgm": 9400,
    "velollm": 9877,
}
"""Each server's documented default port, used when a `KIND=host` has none."""

MAX_TARGETS = 64
MAX_URL_CHARS = 2048
LOOPBACK_HOST = "localhost"

_KIND_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]{0,31})=(.*)$", re.DOTALL)
_HOST_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class TargetError(UserFacingError, ValueError):
    """A target the user typed cannot be used; the message says why."""


@dataclass(frozen=True)
class Target:
    """One endpoint to watch: `url` without a trailing slash, `kind` None until detected."""

    url: str
    kind: str | None
    host: str

    @property
    def base_url(self) -> str:
        """The server's base URL (a typed `/metrics` path removed)."""
        return self.url[: -len("/metrics")] if self.url.endswith("/metrics") else self.url

    @property
    def metrics_url(self) -> str:
        """Where its Prometheus text is read."""
        return self.base_url + "/metrics"

    @property
    def spec(self) -> str:
        """The text that parses back to this target (`KIND=URL` or `URL`)."""
        return f"{self.kind}={self.url}" if self.kind else self.url


def normalize_kind(text: str) -> str:
    """A known kind from its name or alias (case-insensitive); TargetError otherwise."""
    kind = text.strip().lower()
    kind = KIND_ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise TargetError(f"unknown kind '{text[:40]}': use one of {', '.join(KINDS)}")
    return kind


def host_key(hostname: str) -> str:
    """The host a target is grouped under: localhost, 127.0.0.1 and ::1 become 'localhost'."""
    name = hostname.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return LOOPBACK_HOST
    try:
        if ipaddress.ip_address(name) in (
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        ):
            return LOOPBACK_HOST
    except ValueError:
        pass
    return name


def parse_target(text: str) -> Target:
    """Parse `URL` or `KIND=URL`; a URL without a scheme is http. Raises TargetError."""
    if not isinstance(text, str):
        raise TargetError("a target must be text")
    raw = text.strip()
    if not raw:
        raise TargetError("empty target: give a URL such as http://127.0.0.1:11434")
    if len(raw) > MAX_URL_CHARS:
        raise TargetError(f"target longer than {MAX_URL_CHARS} characters")
    kind = None
    match = _KIND_RE.match(raw)
    if match and "://" not in match.group(1):
        kind = normalize_kind(match.group(1))
        raw = match.group(2).strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise TargetError(f"'{raw[:80]}' contains spaces or control characters")
    if "://" not in raw:
        raw = "http://" + raw
    return _from_url(raw, kind)


def _from_url(raw: str, kind: str | None) -> Target:
    try:
        parts = urllib.parse.urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"'{raw[:80]}' is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise TargetError(f"'{raw[:80]}': only http:// and https:// are supported")
    if parts.username is not None or parts.password is not None:
        raise TargetError(f"'{raw[:80]}': user names or passwords in the URL are not supported")
    if parts.query or parts.fragment:
        raise TargetError(f"'{raw[:80]}': a target URL takes no ?query or #fragment")
    hostname = parts.hostname or ""
    if not hostname:
        raise TargetError(f"'{raw[:80]}' has no host name")
    if ":" in hostname:
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError:
            raise TargetError(f"'{hostname[:80]}' is not a valid host name") from None
        netloc_host = f"[{hostname}]"
    elif _HOST_RE.match(hostname) and not hostname.startswith(("-", ".")):
        netloc_host = hostname
    else:
        raise TargetError(f"'{hostname[:80]}' is not a valid host name")
    if port is None:
        port = DEFAULT_PORTS.get(kind or "", 443 if parts.scheme.lower() == "https" else 80)
    if port == 0:
        raise TargetError(f"'{raw[:80]}': port 0 is not a port a server listens on")
    path = parts.path.rstrip("/")
    url = f"{parts.scheme.lower()}://{netloc_host}:{port}{path}"
    return Target(url=url, kind=kind, host=host_key(hostname))


def parse_targets(texts: list[str]) -> list[Target]:
    """Parse several targets (duplicates dropped, order kept); TargetError names the bad one."""
    if len(texts) > MAX_TARGETS:
        raise TargetError(f"at most {MAX_TARGETS} targets")
    out: list[Target] = []
    seen: set[str] = set()
    for text in texts:
        target = parse_target(text)
        if target.url not in seen:
            seen.add(target.url)
            out.append(target)
    return out


def group_by_host(items: list, host=lambda item: item.host) -> dict[str, list]:
    """Items grouped by host, hosts in first-seen order."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(host(item), []).append(item)
    return groups


def split_targets(text: str) -> list[str]:
    """The targets in a settings string (separated by commas, spaces or new lines)."""
    return [part for part in re.split(r"[,\s]+", text or "") if part]
