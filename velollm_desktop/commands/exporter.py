"""`velollm exporter`: what VeloLLM sees (Ollama's models, GPUs, host, benchmarks) as Prometheus /metrics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.core.exporter.listen import (
    DEFAULT_LISTEN,
    Auth,
    ListenAddress,
    ListenError,
    parse_listen,
    read_auth_file,
)
from velollm_desktop.core.settings import ollama_url_from_env


def _inputs(args: argparse.Namespace) -> tuple[ListenAddress, Auth | None]:
    try:
        address = parse_listen(args.listen, allow_remote=args.allow_remote)
        auth, auth_warning = read_auth_file(args.auth_file) if args.auth_file else (None, None)
    except ListenError as exc:
        raise CliError(say(exc)) from exc
    for warning in (address.warning(), auth_warning):
        if warning:
            print(f"velollm: {warning}", file=sys.stderr)
    return address, auth


def _ask(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise CliError("this needs --yes when not run from a terminal")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _service(args: argparse.Namespace) -> int:
    from velollm_desktop.core.exporter import service  # noqa: PLC0415

    installer = service.ServiceInstaller()
    if args.install_service:
        _inputs(args)  # its warnings, now
        try:
            unit_args = service.service_args(
                args.listen, args.url, allow_remote=args.allow_remote, auth_file=args.auth_file
            )
        except ListenError as exc:
            raise CliError(say(exc)) from exc
        plan = service.install_plan(unit_args)
        question = "Install and start this user service?"
    else:
        plan = service.remove_plan()
        question = "Stop and remove this user service?"
    print(plan.describe())
    if not _ask(question, args.yes):
        print("nothing changed")
        return 1
    try:
        if args.install_service:
            installer.install(plan)
        else:
            installer.remove(plan)
    except (service.ServiceError, OSError) as exc:
        raise CliError(say(exc)) from exc
    print("installed and started: " + plan.path.name if args.install_service else "removed")
    return 0


def _once(args: argparse.Namespace) -> int:
    from prometheus_client import generate_latest  # noqa: PLC0415

    from velollm_desktop.core.exporter.history import latest_results  # noqa: PLC0415
    from velollm_desktop.core.exporter.server import Exporter  # noqa: PLC0415
    from velollm_desktop.core.exporter.watch import poll_ollama  # noqa: PLC0415
    from velollm_desktop.core.monitor.sampler import Sampler  # noqa: PLC0415

    exporter = Exporter(
        ListenAddress("127.0.0.1", 0),
        ollama_url=args.url,
        history_path=None,
        deadline_s=args.deadline,
    )
    exporter.state.set_ollama(poll_ollama(args.url, args.deadline))
    exporter.state.set_bench(*latest_results(_history_path()))
    sampler = Sampler()
    time.sleep(0.5)  # CPU % is a rate: the first reading needs an interval to measure
    exporter.state.set_system(sampler.sample())
    sys.stdout.write(generate_latest(exporter.registry).decode("utf-8"))
    return 0


def _history_path() -> Path:
    from velollm_desktop.core.settings import data_dir  # noqa: PLC0415

    return data_dir() / "history.sqlite3"


def _serve(args: argparse.Namespace) -> int:
    from velollm_desktop.core.exporter.server import Exporter  # noqa: PLC0415

    address, auth = _inputs(args)
    exporter = Exporter(
        address,
        ollama_url=args.url,
        history_path=_history_path(),
        auth=auth,
        deadline_s=args.deadline,
    )
    try:
        exporter.start()
    except OSError as exc:
        raise CliError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # systemctl stop
    print(
        f"serving {exporter.url} (Ollama at {args.url}); Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        exporter.stop()
    return 0


def _cmd(args: argparse.Namespace) -> int:
    if not 0.2 <= args.deadline <= 30:
        raise CliError("--deadline must be between 0.2 and 30 seconds")
    if args.install_service and args.remove_service:
        raise CliError("give --install-service or --remove-service, not both")
    if args.install_service or args.remove_service:
        return _service(args)
    return _once(args) if args.once else _serve(args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "exporter", help="serve Ollama, GPU and benchmark figures as Prometheus /metrics"
    )
    p.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve on (default {DEFAULT_LISTEN}, loopback only)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --listen address other machines can reach (prints a warning)",
    )
    p.add_argument(
        "--url", default=ollama_url_from_env(), help="Ollama's address (default: from OLLAMA_HOST)"
    )
    p.add_argument(
        "--auth-file",
        metavar="FILE",
        help="require `bearer TOKEN` or `basic USER:PASSWORD` (one line in FILE)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=2.0,
        help="seconds a poll of Ollama may take before it counts as down (default 2)",
    )
    p.add_argument("--once", action="store_true", help="print one exposition to stdout and exit")
    p.add_argument(
        "--install-service",
        action="store_true",
        help="install and start a systemd user service running this command (asks first)",
    )
    p.add_argument(
        "--remove-service", action="store_true", help="stop and remove that service (asks first)"
    )
    p.add_argument(
        "--yes", action="store_true", help="do not ask before --install-service/--remove-service"
    )
    p.set_defaults(func=_cmd)
