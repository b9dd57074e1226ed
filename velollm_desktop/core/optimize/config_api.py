"""`OllamaConfig`: the Ollama server configuration as a Python value.

    from velollm_desktop.core.optimize import OllamaConfig
    cfg = OllamaConfig.from_env()                       # os.environ, parsed as Ollama parses it
    cfg = cfg.merge(OllamaConfig({"OLLAMA_NUM_PARALLEL": "2"}))
    print(cfg.to_env_exports())                         # export OLLAMA_NUM_PARALLEL='2' …

A thin layer over the catalogue (which variables Ollama reads), `parse.parse_value` (how it
reads them, `envconfig/config.go`) and `writers.render_shell` (safe POSIX quoting).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from velollm_desktop.core.failure import BadInput
from velollm_desktop.core.optimize.catalogue import BY_NAME, NEVER_EXISTED, VarType, applies
from velollm_desktop.core.optimize.parse import parse_value
from velollm_desktop.core.optimize.writers import UnsafeValue, render_shell, validate

_FALLBACK_TYPES = (VarType.UINT, VarType.BYTES, VarType.DURATION)
"""Types whose invalid values Ollama replaces by the default (a bad bool reads as true)."""


@dataclass(frozen=True)
class OllamaConfig:
    """Server variables Ollama reads, with their raw values as set (unset ones are absent)."""

    values: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    """What Ollama would do differently from what the value seems to say."""
    unknown: tuple[str, ...] = ()
    """`OLLAMA_*` names not in the catalogue of server variables (client-side, misspelt or
    newer than this catalogue): never exported."""
    never_read: tuple[str, ...] = ()
    """Names Ollama never read (`OLLAMA_NUM_GPU`, …): per-model options instead."""

    def __post_init__(self) -> None:
        bad = [n for n in self.values if n not in BY_NAME]
        if bad:
            raise BadInput(f"not a variable the Ollama server reads: {', '.join(sorted(bad))}")
        object.__setattr__(self, "values", dict(self.values))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OllamaConfig:
        """Read `environ` (default `os.environ`) as the Ollama server would at start."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        warnings: list[str] = []
        unknown: list[str] = []
        never: list[str] = []
        for name in sorted(env):
            raw = env[name]
            if name in NEVER_EXISTED:
                never.append(name)
                warnings.append(parse_value(name, raw).warning or name)
                continue
            var = BY_NAME.get(name)
            if var is None:
                if name.startswith("OLLAMA_"):
                    unknown.append(name)
                continue
            parsed = parse_value(name, raw)
            if parsed.value is None:
                continue  # empty: unset, as in Ollama
            if parsed.warning:
                warnings.append(parsed.warning)
                if var.type in _FALLBACK_TYPES:
                    continue  # Ollama uses the default: so do we
            values[name] = raw
        return cls(values, tuple(warnings), tuple(unknown), tuple(never))

    def get(self, name: str) -> object:
        """The value as Ollama interprets it (int, bool, seconds, str; None = unset/auto)."""
        var = BY_NAME[name]
        return parse_value(name, self.values.get(name, var.default)).value

    def merge(self, other: OllamaConfig) -> OllamaConfig:
        """A new config: `other`'s set values win, ours stay where `other` leaves them unset."""

        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a + b))

        return OllamaConfig(
            {**self.values, **other.values},
            union(self.warnings, other.warnings),
            union(self.unknown, other.unknown),
            union(self.never_read, other.never_read),
        )

    def to_env_exports(self, version: str | None = None) -> str:
        """A POSIX shell script of `export NAME='value'` lines (single-quoted: nothing expands),
        only variables Ollama reads (and, given `version`, those with an effect on it).

        Raises `UnsafeValue` for a value no shell line can hold (a line break or NUL)."""
        env = {
            k: v for k, v in self.values.items() if version is None or applies(BY_NAME[k], version)
        }
        return render_shell(validate(env))


__all__ = ["OllamaConfig", "UnsafeValue"]
