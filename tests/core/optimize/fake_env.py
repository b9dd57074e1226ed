"""Fake launchctl and a fake Windows user environment for the optimizer's tests on Linux.

Both keep the environment a real system would hold and change it only by what the argv they
receive says: the PowerShell fake reads the script it is given with PowerShell's own rule for
single-quoted strings (`ps_tokens`: ' and the typographic ‘ ’ ‚ ‛ open and close one; two in a
row are one literal quote), so a value that escaped its quotes would show up as code.
"""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

PS_QUOTES = "'\u2018\u2019\u201a\u201b"
LIT = "\0"
"""What `ps_tokens` puts where a literal was (no script or value we write holds a NUL)."""
SET_RE = re.compile(r"\[Environment\]::SetEnvironmentVariable\(\0, (\0|\$null), \0\)")


def ps_tokens(script: str) -> tuple[str, list[str]]:
    """(the script with every single-quoted literal replaced by `LIT`, the literals' values)."""
    code, literals, i = [], [], 0
    while i < len(script):
        c = script[i]
        if c not in PS_QUOTES:
            code.append(c)
            i += 1
            continue
        value, i = [], i + 1
        while True:
            if i >= len(script):
                raise ValueError("unterminated string")
            if script[i] in PS_QUOTES:
                if i + 1 < len(script) and script[i + 1] in PS_QUOTES:
                    value.append(script[i + 1])
                    i += 2
                    continue
                i += 1
                break
            value.append(script[i])
            i += 1
        code.append(LIT)
        literals.append("".join(value))
    return "".join(code), literals


def ps_assignments(script: str) -> list[tuple[str, str | None]]:
    """Each `SetEnvironmentVariable(name, value | $null, 'User')` of a script, in order."""
    code, literals = ps_tokens(script)
    lit = iter(literals)
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in SET_RE.finditer(code):
        for _ in range(code[pos : m.start()].count(LIT)):
            next(lit)  # literals before this call ('Stop')
        name = next(lit)
        value = next(lit) if m.group(1) == LIT else None
        assert next(lit) == "User"
        out.append((name, value))
        pos = m.end()
    return out


def _done(argv, rc: int = 0, out: str = "", err: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(list(argv), rc, out, err)


class FakeLaunchctl:
    """launchd's environment: getenv / setenv / unsetenv; `fail` makes that verb fail."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self.calls: list[list[str]] = []
        self.fail: str | None = None
        self.fail_once: list[str] | None = None
        """The next call whose argv after `launchctl` starts with these fails (once)."""
        self.on_call = None

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        if self.on_call is not None:
            self.on_call(argv)
        assert argv[0] == "launchctl", argv
        verb = argv[1]
        if self.fail_once and argv[1 : 1 + len(self.fail_once)] == self.fail_once:
            self.fail_once = None
            return _done(argv, 1, err=f"{verb}: Operation not permitted")
        if verb == self.fail:
            return _done(argv, 1, err=f"{verb}: Operation not permitted")
        if verb == "getenv":
            value = self.env.get(argv[2])
            return _done(argv, 0, "" if value is None else value + "\n")
        if verb == "setenv":
            pairs = argv[2:]
            self.env.update(zip(pairs[::2], pairs[1::2], strict=True))
        elif verb == "unsetenv":
            self.env.pop(argv[2], None)
        return _done(argv)


class FakeWindowsUser:
    """The user's registry environment, changed by the scripts PowerShell would run."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = dict(env or {})
        self.calls: list[list[str]] = []
        self.fail: str | None = None
        """"read", "set" (a -Command that sets) or "file" (the apply script): that run fails."""

    def __call__(self, argv):
        argv = list(argv)
        self.calls.append(argv)
        assert argv[:2] == ["powershell", "-NoProfile"], argv
        if argv[-2] == "-File":
            return self._run(argv, "file", Path(argv[-1]).read_text(encoding="utf-8"))
        assert argv[2:4] == ["-NonInteractive", "-Command"] and len(argv) == 5, argv
        script = argv[4]
        if "GetEnvironmentVariable" in script:
            if self.fail == "read":
                return _done(argv, 1, err="access denied")
            return _done(argv, 0, self._read(script))
        return self._run(argv, "set", script)

    def _run(self, argv, kind: str, script: str):
        if self.fail == kind:
            return _done(argv, 1, err="Exception calling SetEnvironmentVariable: denied")
        for name, value in ps_assignments(script):
            if value is None or value == "":
                self.env.pop(name, None)
            else:
                self.env[name] = value
        return _done(argv)

    def _read(self, script: str) -> str:
        code, literals = ps_tokens(script)
        before = code[: code.index("@(")].count(LIT)
        n = code[code.index("@(") : code.index(")")].count(LIT)
        lines = []
        for name in literals[before : before + n]:
            value = self.env.get(name)
            encoded = base64.b64encode(value.encode()).decode() if value is not None else ""
            lines.append(f"{name} -" if value is None else f"{name} +{encoded}")
        return "\r\n".join(lines) + "\r\n"
