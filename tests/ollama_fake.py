"""A local HTTP server that speaks Ollama's documented wire format, for tests.

Ollama cannot be installed on the CI machines, so the Ollama client is tested against this:
streaming NDJSON (`application/x-ndjson`), one object per line, a final `done:true` line with
durations in **nanoseconds**, metric fields omitted when zero (Go `omitempty`), `{"error": …}`
bodies with the right status codes. With `upstream` set, generation is forwarded to a real
llama-server, so every token and every duration in the stream is real; without it, a canned
answer is streamed (used by the fault tests).

With `runner_model` set, it behaves like Ollama ≥ 0.30's scheduler instead: each model load
starts a real llama-server with the flags Ollama derives from the load-time options and the
service environment (`-c num_ctx·np -np OLLAMA_NUM_PARALLEL -b/-ub num_batch -t num_thread
-fa OLLAMA_FLASH_ATTENTION -ctk/-ctv OLLAMA_KV_CACHE_TYPE`); a request whose load-time options
differ from the loaded runner's waits for in-flight requests, then reloads it, and its
`load_duration` is the real restart time; the service environment's `LLAMA_ARG_*` variables
reach that llama-server's environment, as Ollama's do. `restart_service(env)` is what
`systemctl restart ollama` does to it. `/api/create` (from + parameters, and `draft_files` naming a blob posted to
`/api/blobs/<digest>` or registered in `blobs`) and `/api/delete` manage derived models.

Speculation is mapped as Ollama's `llm/llama_server.go` does (`hasMTPDraft`,
`externalDraftType`, `appendDraftArgs`) and `server/routes.go` defaults `draft_num_predict`:
4 for a model with an attached draft, 0 (off) without one unless the request or the model's
parameters set it. `launched` keeps every runner's full llama-server arguments.

`fault` injects one failure: "busy" (503 the next `busy_count` requests), "garbage" (a non-JSON
line mid-stream), "error_line" (`{"error": …}` mid-stream), "drop" (close the socket
mid-stream), "stall" (stop sending mid-stream), "huge" (a multi-MB response line).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from velollm_desktop.core.llamacpp.gguf import read_gguf
from velollm_desktop.core.llamacpp.server import LlamaServer, ServerStartError

MODEL = "smollm2:135m"
DIGEST = "sha256:" + "ab" * 32
MODEL_INFO = {  # what /api/show returns for SmolLM2-135M (its GGUF metadata)
    "general.architecture": "llama",
    "general.parameter_count": 134515008,
    "general.file_type": 3,
    "llama.block_count": 30,
    "llama.context_length": 8192,
    "llama.embedding_length": 576,
    "llama.attention.head_count": 9,
    "llama.attention.head_count_kv": 3,
    "llama.vocab_size": 49152,
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class FakeOllama:
    """Start with `with FakeOllama(upstream=url) as fake:`; `fake.url` is its base URL."""

    def __init__(
        self,
        upstream: str | None = None,
        version: str = "0.33.0",
        *,
        runner_model: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.version = version
        self.runner_model = runner_model
        self.env: dict[str, str] = dict(env or {})
        self.derived: dict[str, dict] = {}
        """Models made by /api/create: name → Modelfile parameters."""
        self.drafts: dict[str, Path] = {}
        """Derived model → its attached draft file (Modelfile DRAFT)."""
        self.blobs: dict[str, Path] = {}
        """Blobs this Ollama stores: digest → file."""
        self.launched: list[list[str]] = []
        """Every runner's llama-server arguments (after the model path), in order."""
        self.launched_env: list[dict[str, str]] = []
        """Every runner's LLAMA_ARG_* environment, in order (beside `launched`)."""
        self.loads: list[tuple] = []
        """Every runner (re)load, as its load key (for assertions)."""
        self.service_restarts: list[dict[str, str]] = []
        self._runner: LlamaServer | None = None
        self._runner_key: tuple | None = None
        self._inflight = 0
        self._cond = threading.Condition()
        # Runners are started and stopped on this one long-lived thread: llama-server is tied to
        # the thread that started it (PR_SET_PDEATHSIG) and request threads end with the request.
        self._sched = ThreadPoolExecutor(1, thread_name_prefix="fake-ollama-sched")
        self.temp_files: list[Path] = []
        self.fault: str | None = None
        self.busy_count = 0
        self.ps_delay_s = 0.0
        self.ps_body: bytes | None = None
        """When set, `/api/ps` and `/api/version` answer these raw bytes (garbage, truncated JSON)."""
        self.loaded: dict[str, float] = {}
        self.extra_models: dict[str, dict] = {}
        """More installed models: name → {"show": /api/show body, "size": bytes} (no runner)."""
        self.ps_models: list[dict] | None = None
        """When set, /api/ps answers exactly these entries (placement scenarios, thousands of
        models; after `ps_delay_s`); an unload (keep_alive 0) of a listed name removes it."""
        self.requests: list[tuple[str, str, dict]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._sched.submit(self._stop_runner).result()
        self._sched.shutdown()
        for f in self.temp_files:
            f.unlink(missing_ok=True)

    # -- the scheduler (runner mode) -------------------------------------------------------
    def names(self) -> set[str]:
        """Model names this server knows."""
        return {MODEL, MODEL.split(":")[0], *self.derived, *self.extra_models}

    def draft_args(self, model: str, options: dict) -> tuple[str, ...]:
        """`appendDraftArgs` for `model` with the request's options (see the module docstring)."""
        draft = self.drafts.get(model)
        params = self.derived.get(model, {})
        if "draft_num_predict" in options:
            n = int(options["draft_num_predict"])
        elif "draft_num_predict" in params:
            n = int(params["draft_num_predict"])
        else:
            n = 4 if draft else 0  # routes.go: no draft and not set → 0
        if draft is not None:
            kind = "draft-dflash" if read_gguf(draft).architecture == "dflash" else "draft-mtp"
        else:
            info = read_gguf(self.runner_model)
            mtp = int(info.arch("nextn_predict_layers", 0) or 0) > 0
            kind = "draft-mtp" if mtp else ""
        if not kind or n <= 0:
            return ()
        args = ["--spec-type", kind, "--spec-draft-n-max", str(n)]
        if kind == "draft-mtp":
            args.append("--spec-draft-backend-sampling")
        if draft is not None:
            args += ["--spec-draft-model", str(draft)]
        return tuple(args)

    def load_key(self, options: dict, model: str = MODEL) -> tuple:
        """What a runner is started with: (num_ctx, num_batch, num_thread, parallel, fa, kv,
        draft args)."""
        ctx_env = int(self.env.get("OLLAMA_CONTEXT_LENGTH") or 0)
        # CPU only: the VRAM tier is 4096, capped at the model's trained 8192
        num_ctx = int(
            options.get("num_ctx") or ctx_env or min(4096, MODEL_INFO["llama.context_length"])
        )
        parallel = int(self.env.get("OLLAMA_NUM_PARALLEL") or 1)
        batch = int(options.get("num_batch") or (512 if num_ctx * parallel <= 4096 else 1024))
        threads = int(options.get("num_thread") or 0)
        fa_env = (self.env.get("OLLAMA_FLASH_ATTENTION") or "").lower()
        fa = "on" if fa_env in ("1", "true") else "off" if fa_env in ("0", "false") else "auto"
        kv = self.env.get("OLLAMA_KV_CACHE_TYPE") or "f16"
        # Ollama hands its own environment to llama-server (llm/llama_server.go
        # SetupLlamaServerCommandEnv: cmd.Env = os.Environ()), so every LLAMA_ARG_* reaches it
        llama_args = tuple(
            sorted((k, v) for k, v in self.env.items() if k.startswith("LLAMA_ARG_"))
        )
        draft = self.draft_args(model, options)
        return (num_ctx, batch, threads, parallel, fa, kv, draft, llama_args)

    def _stop_runner(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        self._runner, self._runner_key = None, None

    def _start_runner(self, key: tuple) -> None:
        num_ctx, batch, threads, parallel, fa, kv, draft, llama_args = key
        args = ["-np", str(parallel), "-b", str(batch), "-ub", str(batch), "-fa", fa]
        if kv != "f16":
            args += ["-ctk", kv, "-ctv", kv]
        args += list(draft)
        self.launched.append(args)
        self.launched_env.append(dict(llama_args))
        server = LlamaServer(
            self.runner_model,
            args,
            threads=threads or None,
            ctx_size=num_ctx * parallel,
            env=dict(llama_args),
        )
        self._runner = server  # stopped by _stop_runner even when the start fails
        server.start()
        self._runner, self._runner_key = server, key
        self.loads.append(key)

    def acquire_runner(self, options: dict, model: str = MODEL) -> tuple[str, int]:
        """(runner URL, load ns): reload when the load key differs, once nothing is in flight.
        Raises ServerStartError when llama-server refuses the flags (nothing left running)."""
        key = self.load_key(options, model)
        with self._cond:
            load_ns = 0
            if key != self._runner_key:
                self._cond.wait_for(lambda: self._inflight == 0, timeout=300)
                t0 = time.perf_counter_ns()
                self._sched.submit(self._stop_runner).result()
                try:
                    self._sched.submit(self._start_runner, key).result()
                except ServerStartError:
                    self._sched.submit(self._stop_runner).result()
                    raise
                load_ns = time.perf_counter_ns() - t0
            self._inflight += 1
            return self._runner.url, load_ns

    def release_runner(self) -> None:
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    def restart_service(self, env: dict[str, str]) -> None:
        """What `systemctl restart ollama` does: models unloaded, the new environment read."""
        with self._cond:
            self._cond.wait_for(lambda: self._inflight == 0, timeout=300)
            self._sched.submit(self._stop_runner).result()
            self.env = dict(env)
            self.loaded.clear()
            self.service_restarts.append(dict(env))

    # -- handler ---------------------------------------------------------------------------
    def _handler(self):  # noqa: C901 - one HTTP dispatcher for the fake's routes, like a server's mux
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def handle(self):
                try:
                    super().handle()
                except (ConnectionResetError, BrokenPipeError):
                    pass  # the client closed a kept-alive connection: normal

            def _json(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n) or b"{}")

            def do_GET(self):
                fake.requests.append(("GET", self.path, {}))
                if fake.fault == "busy" and fake.busy_count > 0:
                    fake.busy_count -= 1
                    return self._json(
                        503,
                        {
                            "error": "server busy, please try again.  maximum pending requests exceeded"
                        },
                    )
                if fake.ps_body is not None and self.path in ("/api/ps", "/api/version"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(fake.ps_body)))
                    self.end_headers()
                    self.wfile.write(fake.ps_body)
                    return None
                if self.path == "/api/version":
                    return self._json(200, {"version": fake.version})
                if self.path == "/api/tags":
                    return self._json(
                        200,
                        {
                            "models": [self._tag(name) for name in (MODEL, *fake.derived)]
                            + [
                                {**self._tag(n), "size": e["size"]}
                                for n, e in fake.extra_models.items()
                            ]
                        },
                    )
                if self.path == "/api/ps":
                    time.sleep(fake.ps_delay_s)
                    if fake.ps_models is not None:
                        return self._json(200, {"models": list(fake.ps_models)})
                    models = []
                    for name, expires in fake.loaded.items():
                        models.append(
                            {
                                "name": name,
                                "model": name,
                                "size": 150_000_000,
                                "digest": DIGEST,
                                "details": {"format": "gguf", "family": "llama"},
                                "expires_at": datetime.fromtimestamp(
                                    expires, timezone.utc
                                ).isoformat(),
                                "size_vram": 0,
                                "context_length": fake._runner_key[0] if fake._runner_key else 4096,
                            }
                        )
                    return self._json(200, {"models": models})
                return self._json(404, {"error": "404 page not found"})

            def _tag(self, name: str) -> dict:
                return {
                    "name": name,
                    "model": name,
                    "modified_at": _now(),
                    "size": 98362432,
                    "digest": DIGEST,
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": "llama",
                        "families": ["llama"],
                        "parameter_size": "134.52M",
                        "quantization_level": "Q4_1",
                    },
                }

            def do_HEAD(self):
                fake.requests.append(("HEAD", self.path, {}))
                known = self.path.rsplit("/", 1)[-1] in fake.blobs
                self.send_response(200 if known and self.path.startswith("/api/blobs/") else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _push_blob(self, digest: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                    data = _dechunk_stream(self.rfile)
                else:
                    data = self.rfile.read(n)
                if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                    return self._json(400, {"error": "digest mismatch"})
                fd, tmp = tempfile.mkstemp(prefix="fake-ollama-blob-", suffix=".gguf")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                fake.blobs[digest] = Path(tmp)
                fake.temp_files.append(Path(tmp))
                return self._json(201, {})

            def do_DELETE(self):
                body = self._body()
                fake.requests.append(("DELETE", self.path, body))
                if self.path != "/api/delete":
                    return self._json(404, {"error": "404 page not found"})
                fake.drafts.pop(body.get("model"), None)
                if fake.derived.pop(body.get("model"), None) is None:
                    return self._json(404, {"error": f"model '{body.get('model')}' not found"})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = {} if self.path.startswith("/api/blobs/") else self._body()
                fake.requests.append(("POST", self.path, body))
                if self.path.startswith("/api/blobs/"):
                    return self._push_blob(self.path.rsplit("/", 1)[-1])
                if fake.fault == "busy" and fake.busy_count > 0:
                    fake.busy_count -= 1
                    return self._json(
                        503,
                        {
                            "error": "server busy, please try again.  maximum pending requests exceeded"
                        },
                    )
                if self.path == "/api/create":
                    if body.get("from") not in fake.names():
                        return self._json(404, {"error": f"model '{body.get('from')}' not found"})
                    drafts = list((body.get("draft_files") or {}).values())
                    if drafts and drafts[0] not in fake.blobs:
                        return self._json(400, {"error": f"invalid digest: {drafts[0]}"})
                    fake.derived[body["model"]] = dict(body.get("parameters") or {})
                    if drafts:
                        fake.drafts[body["model"]] = fake.blobs[drafts[0]]
                    return self._json(200, {"status": "success"})
                if self.path == "/api/show":
                    name = body.get("model")
                    if name not in fake.names():
                        return self._json(404, {"error": f"model '{body.get('model')}' not found"})
                    if name in fake.extra_models:
                        return self._json(200, fake.extra_models[name]["show"])
                    params = {"temperature": 0.2, **fake.derived.get(name, {})}
                    modelfile = f"FROM {MODEL}\n" + "".join(
                        f"PARAMETER {k} {v}\n" for k, v in params.items()
                    )
                    if name in fake.drafts:
                        modelfile += f"DRAFT {fake.drafts[name]}\n"
                    return self._json(
                        200,
                        {
                            "modelfile": modelfile,
                            "parameters": "".join(f"{k:<30} {v}\n" for k, v in params.items()),
                            "capabilities": ["completion"],
                            "details": {"parameter_size": "134.52M", "quantization_level": "Q4_1"},
                            "model_info": MODEL_INFO,
                        },
                    )
                if self.path in ("/api/generate", "/api/chat"):
                    return self._generate(body)
                return self._json(404, {"error": "404 page not found"})

            def _generate(self, body: dict) -> None:  # noqa: C901 - the fake's fault injection: one branch per fault kind
                model = body.get("model", "")
                if model not in fake.names():
                    return self._json(
                        404, {"error": f"model '{model}' not found, try pulling it first"}
                    )
                t0 = time.perf_counter_ns()
                keep = body.get("keep_alive")
                if keep == 0 and fake.ps_models is not None:
                    fake.ps_models = [m for m in fake.ps_models if m.get("name") != model]
                if keep == 0:
                    fake.loaded.pop(MODEL, None)
                    return self._json(
                        200,
                        {
                            "model": model,
                            "created_at": _now(),
                            "response": "",
                            "done": True,
                            "done_reason": "unload",
                        },
                    )
                fake.loaded[MODEL] = time.time() + 300
                prompt = body.get("prompt")
                if prompt is None and body.get("messages"):
                    prompt = body["messages"][-1].get("content", "")
                opts = {**fake.derived.get(model, {}), **(body.get("options") or {})}
                runner = fake.runner_model is not None
                upstream = fake.upstream
                if runner:
                    try:
                        upstream, _ = fake.acquire_runner(opts, model)
                    except ServerStartError as exc:  # Ollama: HTTP 500 with the runner's exit
                        lines = str(exc).strip().splitlines() or [""]
                        # Ollama's status writer reports the runner's error lines: errors
                        # first (its answer is cut short by clients), then warnings.
                        why = [x.split(": ", 1)[-1] for x in lines if re.search(r" E ", x)]
                        why += [x.split(": ", 1)[-1] for x in lines if re.search(r" W ", x)]
                        return self._json(
                            500,
                            {
                                "error": "llama runner process has terminated: "
                                + "; ".join(list(dict.fromkeys(why))[:3] or lines[-1:])
                            },
                        )
                if not prompt:
                    if runner:
                        fake.release_runner()
                    return self._json(
                        200,
                        {
                            "model": model,
                            "created_at": _now(),
                            "response": "",
                            "done": True,
                            "done_reason": "load",
                            "load_duration": time.perf_counter_ns() - t0,
                        },
                    )
                if body.get("stream") is False:
                    if runner:
                        fake.release_runner()
                    return self._json(400, {"error": "this fake only streams"})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chat = self.path == "/api/chat"
                n_predict = int(opts.get("num_predict", 32))
                load_ns = time.perf_counter_ns() - t0
                try:
                    if upstream:
                        final = self._forward(upstream, model, prompt, opts, n_predict, chat)
                    else:
                        final = self._canned(model, n_predict, chat)
                    if final is None:
                        return
                    final["total_duration"] = time.perf_counter_ns() - t0
                    if load_ns:
                        final["load_duration"] = load_ns
                    self._line(final)
                    self._end()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    if runner:
                        fake.release_runner()

            def _chunk(self, model: str, text: str, chat: bool) -> dict:
                d = {"model": model, "created_at": _now(), "done": False}
                if chat:
                    d["message"] = {"role": "assistant", "content": text}
                else:
                    d["response"] = text
                return d

            def _line(self, obj) -> None:
                data = (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n"
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _end(self) -> None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _inject(self, i: int) -> bool:
                """Apply the fault at the 3rd token; True when the stream must stop here."""
                if i != 2 or fake.fault is None:
                    return False
                if fake.fault == "garbage":
                    self._line(b"\x00not json at all{")
                elif fake.fault == "error_line":
                    self._line(
                        {"error": "an error was encountered while running the model: CUDA error"}
                    )
                    self._end()
                    return True
                elif fake.fault == "drop":
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return True
                elif fake.fault == "stall":
                    time.sleep(30)
                    return True
                elif fake.fault == "huge":
                    self._line(self._chunk(MODEL, "x" * 5_000_000, False))
                return False

            def _canned(self, model: str, n_predict: int, chat: bool) -> dict | None:
                words = ["Hello", " from", " the", " fake", " Ollama", "."] * 50
                t_eval = time.perf_counter_ns()
                n = min(n_predict, len(words))
                for i in range(n):
                    if self._inject(i):
                        return None
                    time.sleep(0.002)
                    self._line(self._chunk(model, words[i], chat))
                final = {
                    "model": model,
                    "created_at": _now(),
                    "response": "",
                    "done": True,
                    "done_reason": "length" if n == n_predict else "stop",
                    "prompt_eval_count": 12,
                    "prompt_eval_duration": 3_000_000,
                    "eval_count": n,
                    "eval_duration": time.perf_counter_ns() - t_eval,
                }
                if chat:
                    final["message"] = {"role": "assistant", "content": ""}
                    del final["response"]
                return final

            def _forward(
                self, upstream: str, model: str, prompt: str, opts: dict, n_predict: int, chat: bool
            ) -> dict | None:
                # Ollama applies the model's chat template (TEMPLATE); SmolLM2's is ChatML.
                templated = f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
                req = {
                    "prompt": templated,
                    "n_predict": n_predict,
                    "stream": True,
                    "cache_prompt": False,
                    "temperature": opts.get("temperature", 0.8),
                    "seed": opts.get("seed", -1),
                }
                timings: dict = {}
                stop_type = "limit"
                i = 0
                with httpx.stream(
                    "POST", f"{upstream}/completion", json=req, timeout=120, trust_env=False
                ) as r:
                    for line in r.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        ev = json.loads(line[5:])
                        if ev.get("content"):
                            if self._inject(i):
                                return None
                            self._line(self._chunk(model, ev["content"], chat))
                            i += 1
                        if ev.get("stop"):
                            timings = ev.get("timings") or {}
                            stop_type = ev.get("stop_type", "limit")
                final = {
                    "model": model,
                    "created_at": _now(),
                    "done": True,
                    "done_reason": "length" if stop_type == "limit" else "stop",
                }
                if chat:
                    final["message"] = {"role": "assistant", "content": ""}
                else:
                    final["response"] = ""
                # Ollama ≥0.30: prompt_eval_count includes cached tokens; durations in ns.
                metrics = {
                    "prompt_eval_count": int(timings.get("prompt_n", 0))
                    + int(timings.get("cache_n", 0)),
                    "prompt_eval_duration": int(float(timings.get("prompt_ms", 0)) * 1e6),
                    "eval_count": int(timings.get("predicted_n", 0)),
                    "eval_duration": int(float(timings.get("predicted_ms", 0)) * 1e6),
                }
                final.update({k: v for k, v in metrics.items() if v})  # omitempty
                return final

        return Handler


def expires_in(seconds: float) -> str:
    """An RFC 3339 time `seconds` from now (for recorded /api/ps answers)."""
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def _dechunk_stream(rfile) -> bytes:
    """Read an HTTP/1.1 chunked request body."""
    out = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            rfile.readline()
            return bytes(out)
        out += rfile.read(size)
        rfile.readline()
