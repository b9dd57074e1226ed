"""Parse environment values exactly as Ollama's envconfig does."""

from __future__ import annotations

import re
from dataclasses import dataclass

from velollm_desktop.core.http.bounds import redact_url
from velollm_desktop.core.optimize.catalogue import BY_NAME, NEVER_EXISTED, VarType

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_DURATION_RE = re.compile(r"^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$")
_UNIT_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


@dataclass(frozen=True)
class Parsed:
    """A value as Ollama would see it."""

    name: str
    raw: str
    value: object
    """int, bool, None (unset / auto), float seconds (durations) or str."""
    warning: str | None = None


_GO_SPACE = "".join(
    chr(c) for c in range(0x3001) if chr(c).isspace() and c not in range(0x1C, 0x20)
)
"""Go's `unicode.IsSpace` (Python's `isspace` also counts the separators U+001C–U+001F)."""


def clean(raw: str) -> str:
    """Ollama's `Var()`: `strings.TrimSpace`, then surrounding quotes."""
    return raw.strip(_GO_SPACE).strip("\"'")


def parse_go_duration_s(text: str) -> float | None:
    """Seconds from a Go duration ("5m", "1h30m", "-1s") or a plain integer of seconds."""
    if re.fullmatch(r"[+-]?\d+", text):
        return float(int(text))
    if not _DURATION_RE.match(text):
        return None
    sign = -1 if text.startswith("-") else 1
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text):
        total += float(number) * _UNIT_NS[unit]
    return sign * total / 1e9


def parse_value(name: str, raw: str) -> Parsed:
    """Interpret `raw` for variable `name` as Ollama does (bad values → default + warning)."""
    text = clean(raw)
    if name in NEVER_EXISTED:
        return Parsed(
            name,
            raw,
            None,
            f"{name} is not read by Ollama (it never existed); "
            f"use the per-model option {NEVER_EXISTED[name]} in a Modelfile instead",
        )
    var = BY_NAME.get(name)
    if var is None or text == "":
        return Parsed(name, raw, text or None)
    if var.type in (VarType.UINT, VarType.BYTES):
        if re.fullmatch(r"\d+", text):
            return Parsed(name, raw, int(text))
        return Parsed(
            name,
            raw,
            int(var.default or 0),
            f"{name}={text!r} is not an unsigned integer: Ollama logs a warning and uses {var.default}",
        )
    if var.type in (VarType.BOOL, VarType.TRISTATE):
        if text in _GO_TRUE:
            return Parsed(name, raw, True)
        if text in _GO_FALSE:
            return Parsed(name, raw, False)
        return Parsed(
            name,
            raw,
            True,
            f"{name}={text!r} is not a Go boolean: Ollama treats a non-empty value as true",
        )
    if var.type is VarType.DURATION:
        seconds = parse_go_duration_s(text)
        if seconds is None:
            return Parsed(
                name,
                raw,
                parse_go_duration_s(var.default),
                f"{name}={text!r} is not a duration (5m, 1h, -1): Ollama uses {var.default}",
            )
        return Parsed(name, raw, seconds)
    return Parsed(name, raw, text)


# -- systemd unit files (systemd.syntax(7), systemd.exec(5) Environment=) -------------------
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass(frozen=True)
class UnitLine:
    """One logical line of a unit file: `first`..`last` are its physical line indices."""

    first: int
    last: int
    section: str | None
    key: str | None
    value: str


def unit_lines(text: str) -> list[UnitLine]:
    """Logical lines with systemd's rules: `#`/`;` comments, `\\` continuations,
    `[Section]` headers, `Key = value` with blanks around `=` ignored."""
    out: list[UnitLine] = []
    section: str | None = None
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        first, buf = i, lines[i]
        stripped = buf.strip()
        if not stripped or stripped[0] in "#;":
            i += 1
            continue
        while buf.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            nxt = lines[i]
            if nxt.strip()[:1] in ("#", ";"):
                continue  # a comment inside a continuation is skipped
            buf = buf.rstrip()[:-1] + " " + nxt
        if buf.rstrip().endswith("\\"):
            buf = buf.rstrip()[:-1]
        s = buf.strip()
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1]
            out.append(UnitLine(first, i, section, None, ""))
        elif "=" in s:
            key, _, value = s.partition("=")
            out.append(UnitLine(first, i, section, key.strip(), value.strip()))
        i += 1
    return out


def _unescape(ch: str, rest: str) -> tuple[str, int]:
    """A C escape after a backslash → (text, characters consumed after the backslash)."""
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch], 1
    if ch == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", rest[1:3]):
        return chr(int(rest[1:3], 16)), 3
    return ch, 1


def split_words(value: str) -> list[str]:
    """systemd's word splitting for Environment=: blanks separate words, `"…"` and `'…'`
    quote (also mid-word), backslash escapes are decoded, `%%` is `%`. An unterminated quote
    makes the whole line invalid (systemd ignores it): `[]`."""
    words: list[str] = []
    cur: list[str] = []
    in_word, quote, i = False, "", 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            text, used = _unescape(value[i + 1], value[i + 1 :])
            cur.append(text)
            in_word, i = True, i + 1 + used
            continue
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote, in_word = ch, True
        elif ch in " \t":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if quote:
        return []
    if in_word:
        words.append("".join(cur))
    return [w.replace("%%", "%") for w in words]


def environment_assignments(value: str) -> list[tuple[str, str]]:
    """The valid `NAME=value` words of one Environment= value, in order."""
    out = []
    for word in split_words(value):
        name, sep, val = word.partition("=")
        if sep and _ENV_NAME_RE.match(name):
            out.append((name, val))
    return out


def unit_environment(text: str) -> dict[str, str]:
    """The effective `Environment=` of one unit file or drop-in: later assignments win, an
    empty `Environment=` resets the list (systemd.exec(5))."""
    env: dict[str, str] = {}
    for line in unit_lines(text):
        if line.section != "Service" or line.key != "Environment":
            continue
        if not line.value:
            env.clear()
            continue
        env.update(environment_assignments(line.value))
    return env


_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def exposure_warnings(env: dict[str, str]) -> list[str]:
    """Warnings for settings that expose Ollama to the network (raw values, by name).

    `OLLAMA_HOST` bound to all interfaces (0.0.0.0, ::, an empty host) or to a non-loopback
    address lets anyone who can reach the machine use its models; `OLLAMA_ORIGINS=*` lets any
    web page the user visits call the API.
    """
    out = []
    host = clean(env.get("OLLAMA_HOST", "") or "")
    if host:
        hostport = host.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2]  # no user:pw
        name = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
        if hostport.startswith("["):
            name = hostport.split("]", 1)[0] + "]"
        if not name.startswith(_LOOPBACK):
            out.append(
                f"OLLAMA_HOST={redact_url(host)} exposes Ollama to the network: anyone who can reach this "
                "machine can use (and pull, and delete) its models; use 127.0.0.1 unless you "
                "mean it and have a firewall"
            )
    origins = clean(env.get("OLLAMA_ORIGINS", "") or "")
    if any(o.strip() in ("*", "http://*", "https://*") for o in origins.split(",")):
        out.append(
            f"OLLAMA_ORIGINS={origins} lets any web page you open call Ollama's API; "
            "list the origins you need instead"
        )
    return out
