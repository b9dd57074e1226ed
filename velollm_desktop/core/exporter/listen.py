"""`--listen HOST:PORT` and the auth file: the exporter's two inputs from the user.

The listen address is an IP literal (or `localhost`) and a port: never a name that a
resolver could turn into something else. Anything but loopback is refused unless the caller
passes `allow_remote` (the CLI's `--allow-remote`), and `warning()` says what that exposes.

The auth file holds one line, either `bearer TOKEN` or `basic USER:PASSWORD` (`#` comments
and blank lines ignored): a secret is never given on the command line, where `ps` shows it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from velollm_desktop.core.failure import UserFacingError

DEFAULT_LISTEN = "127.0.0.1:9877"
AUTH_FILE_MAX_BYTES = 4096
TOKEN_MIN_CHARS = 16
HEADER_MAX_CHARS = 8192


class ListenError(UserFacingError, ValueError):
    """The address or the auth file cannot be used; the message says what to write instead."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    """An IP literal without brackets ("127.0.0.1", "::1")."""
    port: int

    @property
    def is_loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def warning(self) -> str | None:
        """The sentence printed when this address is reachable from other machines."""
        if self.is_loopback:
            return None
        return (
            f"warning: the exporter listens on {self.host}, reachable from other machines: "
            "anyone who can reach that address reads your GPU, model and benchmark figures"
            " (no prompts, paths or environment values); protect it with --auth-file or a"
            " firewall"
        )


def parse_listen(text: str, *, allow_remote: bool = False) -> ListenAddress:
    """`127.0.0.1:9877`, `[::1]:9877`, `localhost:9877` → ListenAddress; ListenError otherwise."""
    raw = str(text).strip()
    if not raw or len(raw) > 64:
        raise ListenError(f"--listen {raw[:64]!r}: give HOST:PORT, e.g. {DEFAULT_LISTEN}")
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ListenError(f"--listen {raw!r}: write an IPv6 address as [::1]:9877")
        port_text = rest[1:]
    else:
        host, sep, port_text = raw.rpartition(":")
        if not sep or ":" in host:
            raise ListenError(
                f"--listen {raw!r}: give HOST:PORT (IPv6 in brackets), e.g. {DEFAULT_LISTEN}"
            )
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise ListenError(
            f"--listen {raw!r}: the host must be an IP address or localhost, not a name"
        ) from None
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ListenError(f"--listen {raw!r}: the port must be a number from 1 to 65535")
    out = ListenAddress(str(addr), int(port_text))
    if not out.is_loopback and not allow_remote:
        raise ListenError(
            f"--listen {raw!r} is reachable from other machines: add --allow-remote to mean it"
            " (and --auth-file to protect it), or listen on 127.0.0.1"
        )
    return out


@dataclass(frozen=True)
class Auth:
    """What a scrape must send: `Authorization: Bearer TOKEN` or HTTP basic USER:PASSWORD."""

    scheme: str
    """"bearer" or "basic"."""
    secret: str
    """The token, or "USER:PASSWORD"."""

    def allows(self, header: str | None) -> bool:
        """Whether an Authorization header value grants access (constant-time compare)."""
        got = parse_authorization(header)
        if got is None or got[0] != self.scheme:
            return False
        return hmac.compare_digest(got[1].encode("utf-8"), self.secret.encode("utf-8"))

    def __repr__(self) -> str:  # never print the secret in a log or a traceback
        return f"Auth(scheme={self.scheme!r}, secret=<hidden>)"


def parse_authorization(header: str | None) -> tuple[str, str] | None:
    """("bearer", token) or ("basic", "user:password") from a header value; None if neither."""
    if not header or len(header) > HEADER_MAX_CHARS:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return "bearer", value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        return ("basic", decoded) if ":" in decoded else None
    return None


def parse_auth_text(text: str) -> Auth:
    """The auth file's content → Auth; ListenError saying what the line must look like."""
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if len(lines) != 1:
        raise ListenError(
            "the auth file must hold exactly one line: `bearer TOKEN` or `basic USER:PASSWORD`"
        )
    scheme, _, secret = lines[0].partition(" ")
    scheme, secret = scheme.lower(), secret.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in secret.replace(" ", "")):
        raise ListenError("the auth file's secret holds control characters")
    if scheme == "bearer":
        if len(secret) < TOKEN_MIN_CHARS or " " in secret:
            raise ListenError(
                f"the bearer token must be at least {TOKEN_MIN_CHARS} characters without spaces"
                " (e.g. `openssl rand -hex 24`)"
            )
        return Auth("bearer", secret)
    if scheme == "basic":
        user, sep, password = secret.partition(":")
        if not sep or not user or not password or len(password) < 8:
            raise ListenError("write `basic USER:PASSWORD` with a password of 8 characters or more")
        return Auth("basic", secret)
    raise ListenError("the auth file's line must start with `bearer` or `basic`")


def read_auth_file(path: Path) -> tuple[Auth, str | None]:
    """(Auth, a warning when others can read the file) from `path`; ListenError otherwise."""
    path = Path(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ListenError(f"the auth file {path} is not a regular file")
        if st.st_size > AUTH_FILE_MAX_BYTES:
            raise ListenError(f"the auth file {path} is larger than {AUTH_FILE_MAX_BYTES} bytes")
        with open(path, "rb") as fh:
            data = fh.read(AUTH_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ListenError(f"cannot read the auth file {path}: {exc.strerror or exc}") from None
    try:
        auth = parse_auth_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ListenError(f"the auth file {path} is not UTF-8 text") from None
    warning = None
    if os.name == "posix" and st.st_mode & 0o077:
        warning = f"warning: other users can read {path}: `chmod 600 {path}`"
    return auth, warning
