"""User settings: declared once (name, type, bounds, default, description), stored as JSON.

The file lives in the user's config dir (platformdirs), is written atomically, and a file
that cannot be read is moved aside and replaced by defaults — the app always starts.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from velollm_desktop import APP_ID
from velollm_desktop.core import autostart
from velollm_desktop.core.fsutil import UnreadableFile, atomic_write_text, move_aside, read_own_json

log = logging.getLogger(__name__)

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"


@dataclass(frozen=True)
class Option:
    """One declared setting."""

    name: str
    type: type
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any) -> Any:
        """Return `value` converted to this option's type and clamped, or the default."""
        try:
            if self.type is bool:
                if isinstance(value, str):
                    value = value.strip().lower() in ("1", "true", "yes", "on")
                out: Any = bool(value)
            elif self.type is float:
                out = float(value)
            elif self.type is int:
                out = int(value)
            else:
                out = str(value)
        except (TypeError, ValueError):
            return self.default
        if isinstance(out, (int, float)) and not isinstance(out, bool):
            if out != out:  # NaN
                return self.default
            if self.minimum is not None:
                out = max(self.type(self.minimum), out)
            if self.maximum is not None:
                out = min(self.type(self.maximum), out)
        return out


def ollama_url_from_env(env: dict[str, str] | None = None) -> str:
    """The Ollama base URL from `OLLAMA_HOST`, following Ollama's own rules.

    `[scheme://]host[:port]`: no scheme means http and port 11434; `http://host` without a
    port means port 80 and `https://host` port 443 (as Ollama's client does). An empty or
    unset variable gives http://127.0.0.1:11434; a bind-all host (0.0.0.0, ::) is reached
    through loopback.
    """
    raw = (env if env is not None else os.environ).get("OLLAMA_HOST", "").strip().strip("\"'")
    if not raw:
        return DEFAULT_OLLAMA_URL
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest, default_port = "http", raw, "11434"
    else:
        scheme = scheme.lower()
        default_port = "443" if scheme == "https" else "80"
    hostport, _, path = rest.partition("/")
    userinfo, at, hostport = hostport.rpartition("@")  # user:password@ (kept, not the host)
    auth = f"{userinfo}@" if at else ""
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
        host = f"[{host}]"
    elif hostport.count(":") == 1:
        host, _, port = hostport.partition(":")
    else:
        host, port = hostport, ""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("[::]",):
        host = "[::1]"
    url = f"{scheme}://{auth}{host}:{port or default_port}"
    return f"{url}/{path}".rstrip("/") if path else url


def server_url_problem(text: str) -> str | None:
    """Why `text` cannot be a server's base URL (one sentence), or None when it can:
    `http(s)://host[:port][/path]` with a port 1–65535 and no spaces."""
    text = text.strip()
    if not text:
        return "The address is empty: type one like http://127.0.0.1:11434."
    if any(c.isspace() for c in text):
        return f"“{text}” has a space in it: an address has none (e.g. http://127.0.0.1:11434)."
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return f"“{text}” does not start with http:// or https:// (e.g. http://{text})."
    hostport = rest.partition("/")[0]
    host, port = hostport, ""
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        port = after.removeprefix(":")
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    if not host.strip("[]"):
        return f"“{text}” names no host (e.g. http://127.0.0.1:11434)."
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        return f"“{text}”: the port must be a number from 1 to 65535, not “{port}”."
    return None


URL_OPTIONS = frozenset({"ollama_url"})
"""Options holding a server address: checked with `server_url_problem` before they are saved."""
HIDDEN_OPTIONS = frozenset({"tray_hint_shown", "welcome_shown"})
"""The app's own memory, not options a person sets (not on the Settings page)."""
DERIVED_OPTIONS = frozenset({"start_at_login"})
"""Options whose truth lives outside settings.json (the login entry): never stored in it."""


SCHEMA: tuple[Option, ...] = (
    Option(
        "sample_interval_s",
        float,
        1.0,
        "Monitoring interval in seconds (0.1 = 10 Hz … 4 = 0.25 Hz)",
        0.1,
        4.0,
    ),
    Option(
        "ollama_url", str, DEFAULT_OLLAMA_URL, "Ollama server address (default: from OLLAMA_HOST)"
    ),
    Option(
        "ollama_poll_s",
        float,
        3.0,
        "How often to read Ollama's loaded models, in seconds",
        1.0,
        60.0,
    ),
    Option("start_at_login", bool, False, "Start VeloLLM Desktop when you log in"),
    Option(
        "doctor_spill_alerts",
        bool,
        True,
        "Notify from the tray when a model starts running partly on the CPU (once per load)",
    ),
    Option(
        "llama_server_path",
        str,
        "",
        "llama-server binary to use (empty: PATH, then the built-in engine)",
    ),
    Option("tray_hint_shown", bool, False, "The 'no system tray' hint was already shown once"),
    Option("welcome_shown", bool, False, "The first-start welcome was already shown once"),
    Option(
        "fleet_targets",
        str,
        "",
        "Fleet targets: URLs or KIND=URL, comma-separated (e.g. dcgm=http://gpu-box:9400)",
    ),
    Option("fleet_poll_s", float, 5.0, "How often to poll the fleet, in seconds", 1.0, 600.0),
    Option("fleet_tray_worst", bool, False, "Tray icon shows the fleet's worst host"),
    Option(
        "exporter_enabled",
        bool,
        False,
        "Serve Prometheus /metrics from the app (docs/guides/FLEET.md)",
    ),
    Option("exporter_listen", str, "127.0.0.1:9877", "Exporter address, HOST:PORT"),
    Option(
        "exporter_allow_remote",
        bool,
        False,
        "Allow an exporter address other machines can reach",
    ),
    Option(
        "exporter_auth_file",
        str,
        "",
        "Exporter auth file (one line: bearer TOKEN or basic USER:PASSWORD; empty: none)",
    ),
)
_BY_NAME = {o.name: o for o in SCHEMA}
SETTINGS_MAX_BYTES = 1024 * 1024
"""settings.json is under 1 KB; a larger file is not ours (docs/RELIABILITY.md)."""
SETTINGS_MAX_DEPTH = 8
"""Settings are one flat object."""


def config_dir() -> Path:
    """The user's config directory for this app."""
    return Path(platformdirs.user_config_dir(APP_ID, appauthor=False))


def data_dir() -> Path:
    """The user's data directory (history database, downloaded models)."""
    return Path(platformdirs.user_data_dir(APP_ID, appauthor=False))


@dataclass
class Settings:
    """Current values, loaded from and saved to `path`."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    """Set when the file could not be read (it was moved aside); shown to the user once."""

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings, falling back to defaults for anything missing or invalid."""
        path = path or config_dir() / "settings.json"
        values = {o.name: o.default for o in SCHEMA}
        values["ollama_url"] = ollama_url_from_env()
        problem = None
        try:
            stored = read_own_json(path, max_bytes=SETTINGS_MAX_BYTES, max_depth=SETTINGS_MAX_DEPTH)
            if not isinstance(stored, dict):
                raise UnreadableFile(f"{path} holds a JSON {type(stored).__name__}, not an object")
            for name, raw in stored.items():
                if name in _BY_NAME and name not in DERIVED_OPTIONS:
                    values[name] = _BY_NAME[name].coerce(raw)
        except FileNotFoundError:
            pass
        except UnreadableFile as exc:
            try:
                moved: Path | str | None = move_aside(path)
            except OSError as move_exc:
                moved = f"nowhere (it could not be moved: {move_exc.strerror or move_exc})"
            problem = (
                f"Settings file was unreadable ({exc}); defaults restored, old file kept as {moved}"
            )
            log.warning("%s", problem)
        return cls(path=path, values=values, problem=problem)

    def get(self, name: str) -> Any:
        """The current value of a declared option (start at login: whether the login entry
        exists, the one source of truth the tray menu also reads)."""
        if name == "start_at_login":
            return autostart.is_enabled()
        return self.values[name] if name in self.values else _BY_NAME[name].default

    def set(self, name: str, value: Any) -> None:
        """Set (and coerce) a declared option; unknown names raise KeyError. Start at login
        writes or removes the login entry (OSError when it cannot)."""
        coerced = _BY_NAME[name].coerce(value)
        if name == "start_at_login":
            autostart.set_enabled(bool(coerced))
            return
        self.values[name] = coerced

    def save(self) -> None:
        """Write all stored values atomically (never the derived ones)."""
        stored = {k: v for k, v in self.values.items() if k not in DERIVED_OPTIONS}
        atomic_write_text(self.path, json.dumps(stored, indent=2, sort_keys=True) + "\n")
