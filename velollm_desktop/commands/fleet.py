"""`velollm fleet`: a `top` for several inference servers (their Prometheus and Ollama APIs)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.commands.argtypes import int_range
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.fleet.model import TargetStatus
from velollm_desktop.core.fleet.targets import TargetError, parse_targets

if TYPE_CHECKING:  # httpx and prometheus-client load only when `fleet` runs
    from velollm_desktop.core.fleet.monitor import FleetMonitor
    from velollm_desktop.core.progress import ProgressEvent

PROBE_DEADLINE_S = 3.0

GIB = 1024**3
CLEAR = "\x1b[H\x1b[2J"
LEVEL_MARK = {"ok": "ok", "warn": "WARN", "down": "DOWN"}


def _num(value: float | None, fmt: str = ".0f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def _gpus(status: TargetStatus) -> str:
    parts = []
    for gpu in status.gpus:
        vram = (
            f"{gpu.vram_used_bytes / GIB:.1f}/{gpu.vram_total_bytes / GIB:.0f}G"
            if gpu.vram_used_bytes is not None and gpu.vram_total_bytes
            else "-"
        )
        parts.append(
            f"{_num(gpu.load_pct, unit='%')} {vram} {_num(gpu.temperature_c, unit='C')}"
            f" {_num(gpu.power_w, unit='W')}"
        )
    return "; ".join(parts) or "-"


def _row(status: TargetStatus) -> str:
    ram = (
        f"{status.ram_used_bytes / GIB:.1f}/{status.ram_total_bytes / GIB:.1f}G"
        if status.ram_used_bytes is not None and status.ram_total_bytes
        else "-"
    )
    req = (
        f"{_num(status.requests_running)}/{_num(status.requests_waiting)}"
        if status.requests_running is not None or status.requests_waiting is not None
        else "-"
    )
    head = f"  {status.kind or '?':<9}{status.url[:38]:<39}"
    if not status.up:
        return f"{head}DOWN  {status.error or ''}"[:200]
    models = ",".join(status.models)[:30] or "-"
    return (
        f"{head}{_num(status.probe_ms, unit='ms'):>7} {_num(status.cpu_pct, unit='%'):>5}"
        f" {ram:>12} {req:>7} {_num(status.tokens_per_s, '.1f'):>8}  {models}  {_gpus(status)}"
        + (f"  ({status.note})" if status.note else "")
    )


def model_lines(status: TargetStatus) -> list[str]:
    """One indented line per model a VeloLLM exporter reports (VRAM, RAM, context, unload)."""
    from velollm_desktop.core.fleet.velollm import row_text  # noqa: PLC0415

    return [f"      {row_text(row)}"[:200] for row in status.model_rows] if status.up else []


def render_table(statuses: list[TargetStatus]) -> str:
    """One line per host (its level and why), then one line per target."""
    from velollm_desktop.core.fleet.monitor import host_statuses  # noqa: PLC0415

    lines = [
        f"  {'KIND':<9}{'URL':<39}{'PROBE':>7} {'CPU':>5} {'RAM':>12} {'RUN/WT':>7}"
        f" {'TOK/S':>8}  MODELS  GPUS (load vram temp power)"
    ]
    for host in host_statuses(statuses):
        why = f": {'; '.join(host.reasons)}" if host.reasons else ""
        lines.append(f"{host.host} [{LEVEL_MARK[host.level]}]{why}"[:240])
        for status in host.targets:
            lines.append(_row(status))
            lines += model_lines(status)
    return "\n".join(lines)


def _once(monitor: FleetMonitor, args: argparse.Namespace) -> int:
    monitor.poll()  # the first reading: counters to compute rates from
    time.sleep(min(args.interval, 5.0))
    statuses = monitor.poll()
    if args.json:
        print(json.dumps({"targets": [s.to_json() for s in statuses]}, indent=2))
    else:
        print(render_table(statuses))
    return 0 if all(s.up for s in statuses) else 1


def _watch(monitor: FleetMonitor, args: argparse.Namespace) -> int:
    from velollm_desktop.core.fleet.monitor import sleep_until  # noqa: PLC0415

    tty = sys.stdout.isatty()
    count = 0
    next_at = time.monotonic()
    while args.count is None or count < args.count:
        statuses = monitor.poll()
        count += 1
        if args.json:  # one object per line (JSON lines)
            print(json.dumps({"targets": [s.to_json() for s in statuses]}), flush=True)
        else:
            stamp = time.strftime("%H:%M:%S")
            print(f"{CLEAR if tty else ''}# {stamp}\n{render_table(statuses)}", flush=True)
        next_at = max(next_at + args.interval, time.monotonic())  # a slow poll: no catch-up burst
        sleep_until(next_at)
    return 0


def _cmd(args: argparse.Namespace) -> int:
    from velollm_desktop.core.fleet.monitor import FleetMonitor  # noqa: PLC0415

    if not args.target:
        raise CliError("give at least one --target URL (or KIND=URL)")
    try:
        targets = parse_targets(args.target)
    except TargetError as exc:
        raise CliError(say(exc)) from exc
    if not 0.2 <= args.interval <= 3600:
        raise CliError("--interval must be between 0.2 and 3600 seconds")
    if not 0.2 <= args.deadline <= 60:
        raise CliError("--deadline must be between 0.2 and 60 seconds")
    with FleetMonitor(targets, deadline_s=args.deadline) as monitor:
        try:
            return _once(monitor, args) if args.once else _watch(monitor, args)
        except KeyboardInterrupt:
            print("", file=sys.stderr)
            return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fleet", help="watch several inference servers (Ollama, llama-server, vLLM, exporters)"
    )
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="[KIND=]URL",
        help="a server or exporter to watch (repeat); KIND: ollama, llamacpp, vllm, openai,"
        " node, dcgm, velollm (default: detected)",
    )
    p.add_argument("--once", action="store_true", help="probe twice (for rates), print, exit")
    p.add_argument("--json", action="store_true", help="print JSON (docs/guides/FLEET.md)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between probes (default 2)")
    p.add_argument(
        "--deadline",
        type=float,
        default=PROBE_DEADLINE_S,
        help=f"seconds a probe may take (default {PROBE_DEADLINE_S:g})",
    )
    p.add_argument(
        "--count",
        type=int_range(1, 10**9),
        help="stop after N tables, N ≥ 1 (default: until Ctrl-C)",
    )
    p.set_defaults(func=_cmd)


def render_comparison(comparison) -> str:
    """Side by side: one row per test, one column per endpoint (decode tok/s, TTFT ms)."""
    eps = comparison.endpoints
    names = [r.name for r in eps]
    lines = [f"suite {comparison.suite}: " + ", ".join(f"{r.name} = {r.url}" for r in eps)]
    lines.append(f"{'decode tok/s':<20}" + "".join(f"{n[:18]:>20}" for n in names))
    tests = next((r.result.results for r in eps if r.result), ())
    for metric, label, digits in (("decode_tokens_per_s", "", 1), ("ttft_ms", "TTFT ms ", 0)):
        if label:
            lines.append(f"{label:<20}" + "".join(f"{n[:18]:>20}" for n in names))
        for i, test in enumerate(tests):
            cells = []
            for r in eps:
                stats = (
                    getattr(r.result.results[i], metric)
                    if r.result and i < len(r.result.results)
                    else None
                )
                cells.append(
                    f"{stats.mean:.{digits}f} ± {stats.stddev:.{digits}f}" if stats else "n/a"
                )
            lines.append(f"  {test.name:<18}" + "".join(f"{c:>20}" for c in cells))
    lines += [f"{r.name}: failed: {r.error}" for r in eps if r.error]
    return "\n".join(lines)


def run_endpoints(args: argparse.Namespace) -> int:
    """`velollm benchmark --endpoint a=URL --endpoint b=URL …` (commands/benchmark.py calls it)."""
    from velollm_desktop.core import jsonio  # noqa: PLC0415
    from velollm_desktop.core.bench.store import History  # noqa: PLC0415
    from velollm_desktop.core.fleet.bench import benchmark_endpoints, parse_endpoints  # noqa: PLC0415
    from velollm_desktop.core.fsutil import atomic_write_text  # noqa: PLC0415
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415

    try:
        endpoints = parse_endpoints(args.endpoint)
    except TargetError as exc:
        raise CliError(say(exc)) from exc

    def progress(event: ProgressEvent) -> None:
        if not args.quiet:
            print(f"[{event.done}/{event.total}] {event.text}", file=sys.stderr, flush=True)

    try:
        comparison = benchmark_endpoints(
            endpoints,
            args.suite,
            runs=args.runs,
            max_tokens=args.max_tokens,
            model=args.model,
            progress=progress,
            hardware=detect_hardware(),
        )
    except UserFacingError as exc:
        raise CliError(say(exc)) from exc
    print(render_comparison(comparison))
    if not args.no_history:
        history = History()
        try:
            for item in comparison.endpoints:
                if item.result is not None:
                    print(f"{item.name}: saved in the history as #{history.add(item.result)}")
        finally:
            history.close()
    if args.json:
        atomic_write_text(args.json, json.dumps(jsonio.to_plain(comparison), indent=2) + "\n")
        print(f"wrote {args.json}")
    if all(item.error for item in comparison.endpoints):
        raise CliError("no endpoint could be benchmarked")
    return 1 if any(item.error for item in comparison.endpoints) else 0
