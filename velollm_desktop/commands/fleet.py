"""`velollm fleet`: a `top` for several inference servers (their Prometheus and Ollama APIs)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from velollm_desktop.cli import CliError
from velollm_desktop.core.fleet.model import TargetStatus
from velollm_desktop.core.fleet.monitor import FleetMonitor, host_statuses, sleep_until
from velollm_desktop.core.fleet.probe import PROBE_DEADLINE_S
from velollm_desktop.core.fleet.targets import TargetError, parse_targets

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


def render_table(statuses: list[TargetStatus]) -> str:
    """One line per host (its level and why), then one line per target."""
    lines = [
        f"  {'KIND':<9}{'URL':<39}{'PROBE':>7} {'CPU':>5} {'RAM':>12} {'RUN/WT':>7}"
        f" {'TOK/S':>8}  MODELS  GPUS (load vram temp power)"
    ]
    for host in host_statuses(statuses):
        why = f": {'; '.join(host.reasons)}" if host.reasons else ""
        lines.append(f"{host.host} [{LEVEL_MARK[host.level]}]{why}"[:240])
        lines += [_row(s) for s in host.targets]
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
    tty = sys.stdout.isatty()
    count = 0
    next_at = time.monotonic()
    while args.count is None or count < args.count:
        statuses = monitor.poll()
        count += 1
        stamp = time.strftime("%H:%M:%S")
        out = render_table(statuses)
        if args.json:
            out = json.dumps({"targets": [s.to_json() for s in statuses]})
        print((CLEAR if tty and not args.json else "") + f"# {stamp}\n{out}", flush=True)
        next_at += args.interval
        sleep_until(next_at)
    return 0


def _cmd(args: argparse.Namespace) -> int:
    if not args.target:
        raise CliError("give at least one --target URL (or KIND=URL)")
    try:
        targets = parse_targets(args.target)
    except TargetError as exc:
        raise CliError(str(exc)) from exc
    if not 0.2 <= args.interval <= 3600:
        raise CliError("--interval must be between 0.2 and 3600 seconds")
    with FleetMonitor(targets, deadline_s=min(args.deadline, args.interval + 10)) as monitor:
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
        " node, dcgm (default: detected)",
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
    p.add_argument("--count", type=int, help="stop after N tables (default: until Ctrl-C)")
    p.set_defaults(func=_cmd)
