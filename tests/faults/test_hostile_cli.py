"""The hostile corpus through every CLI command: never a Python traceback, always bounded.

Each case runs the installed `velollm` as a user would and records its wall time and peak RSS
(`os.wait4`); `VELOLLM_CORPUS_REPORT=FILE` writes them as JSON (docs/RELIABILITY.md quotes
a run). Hostile servers are loopback threads (tests/faults/hostile_server.py).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults.hostile_server import HostileServer, head, json_reply

H100 = str(ROOT / "docs" / "hardware" / "h100-detect.json")
DEAD = "http://127.0.0.1:9"
REPORT: list[dict] = []


def run_measured(exe: str, args: list[str], env: dict, timeout: float = 90) -> dict:
    """Run the CLI; its exit status, output, wall time and peak RSS (MiB, VmHWM sampled
    every 20 ms until it exits: a zombie keeps no memory, so the last sample is the peak)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603
        [exe, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    out: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda k=k, f=f: out.__setitem__(k, f.read()))
        for k, f in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for t in readers:
        t.start()
    hwm_kib = [0]

    def watch() -> None:  # VmHWM: this process's own peak (ru_maxrss also counts our fork)
        while True:
            try:
                text = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    hwm_kib[0] = max(hwm_kib[0], int(line.split()[1]))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    time.sleep(0.05)
    _, status, _usage = os.wait4(proc.pid, 0)
    timer.cancel()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    return {
        "rc": proc.returncode,
        "stdout": out["stdout"].decode("utf-8", "replace"),
        "stderr": out["stderr"].decode("utf-8", "replace"),
        "wall_s": round(time.monotonic() - t0, 2),
        "rss_mib": round(hwm_kib[0] / 1024, 1),
    }


def _drip(srv, sock, method, path):
    srv.send_all(sock, head(extra="Content-Length: 100000\r\n"))
    srv.drip(sock, b'{"version": ', every_s=0.5)


def _endless(srv, sock, method, path):
    if path != "/api/generate":
        body = json.dumps({"version": "0.30.0", "models": [{"name": "m", "size": 1}]}).encode()
        srv.send_all(sock, head(length=len(body)) + body)
        return
    srv.send_all(sock, head(extra="Connection: close\r\n"))
    line = b'{"response": "tok", "done": false}\n' * 100
    while not srv.stopping.is_set():
        sock.sendall(line)


def _huge_line(srv, sock, method, path):
    srv.send_all(sock, head(extra="Connection: close\r\n"))
    block = b"x" * (1 << 20)
    for _ in range(64):
        sock.sendall(block)


def _sse_no_final(srv, sock, method, path):
    if path == "/v1/models":
        body = b'{"data": [{"id": "m"}]}'
        srv.send_all(sock, head(length=len(body)) + body)
        return
    ev = b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
    srv.send_all(sock, head(extra="Connection: close\r\n") + ev * 3)


def _ollama_metrics(final: dict):
    def reply(srv, sock, method, path):
        if path == "/api/generate":
            body = b'{"response": "a", "done": false}\n' + json.dumps(final).encode() + b"\n"
        elif path == "/api/tags":
            body = json.dumps({"models": [{"name": "m", "size": 1}]}).encode()
        else:
            body = b'{"version": "0.30.0"}'
        srv.send_all(sock, head(length=len(body)) + body)

    return reply


SERVERS = {
    "drip-1-byte-per-0.5s": _drip,
    "endless-stream": _endless,
    "64MB-line": _huge_line,
    "list-not-object": json_reply([1, 2]),
    "models-a-string": json_reply({"version": "1", "models": "abc"}),
    "nan-size": json_reply(b'{"version": "1", "models": [{"name": "m", "size": NaN}]}'),
    "html-error-body": json_reply({"error": "<h1>SECURITY UPDATE</h1> \x1b[2J| sudo sh"}, 500),
    "absurd-rate": _ollama_metrics({"done": True, "eval_count": 10**15, "eval_duration": 1}),
    "negative-load": _ollama_metrics({"done": True, "load_duration": -1000}),
    "openai-no-final-event": _sse_no_final,
}


def _gguf_deep(tmp: Path) -> str:
    p = tmp / "deep.gguf"
    body = struct.pack("<Q", 1) + b"k" + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 50_000
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + body)
    return str(p)


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "list.json").write_text("[1, 2]")
    (tmp / "inf.json").write_text('{"cpu": {}, "memory": {"total_mib": Infinity}}')
    (tmp / "a-dir").mkdir(exist_ok=True)
    return {
        "list": str(tmp / "list.json"),
        "inf": str(tmp / "inf.json"),
        "dir": str(tmp / "a-dir"),
        "deep": _gguf_deep(tmp),
    }


BAD_NUMBERS = [
    ["benchmark", "--runs", "-1"],
    ["benchmark", "--runs", "0"],
    ["benchmark", "--max-tokens", "-1"],
    ["benchmark", "--concurrency", "0"],
    ["benchmark", "--concurrency", "2", "--duration", "-1"],
    ["benchmark", "--concurrency", "2", "--duration", "nan"],
    ["benchmark", "--concurrency", "2", "--duration", "inf"],
    ["compare", "--target", "x.gguf", "--n-predict", "-1"],
    ["compare", "--target", "x.gguf", "--p-min", "nan"],
    ["compare", "--target", "x.gguf", "--runs", "-1"],
    ["tune", "--model", "x", "--n-predict", "-1"],
    ["tune", "--model", "x", "--concurrency", "0"],
    ["tune", "--model", "x", "--budget", "nan"],
]
BAD_URLS = ["http://[::1", ":::", "http://[::1]:99999", "ftp://x", "http://a b:1", "http://:::"]


def _cases(tmp: Path) -> list[tuple[str, list[str], dict]]:
    f = _files(tmp)
    cases = [(f"number {' '.join(a)}", a, {}) for a in BAD_NUMBERS]
    for url in BAD_URLS:
        cases.append((f"url {url}", ["benchmark", "--url", url, "-q", "--no-history"], {}))
        cases.append(
            (f"OLLAMA_HOST={url} optimize", ["optimize", "--dry-run"], {"OLLAMA_HOST": url})
        )
        cases.append(
            (
                f"OLLAMA_HOST={url} benchmark",
                ["benchmark", "-q", "--no-history"],
                {"OLLAMA_HOST": url},
            )
        )
    for what in ("list", "inf"):
        cases.append((f"--hardware {what}", ["optimize", "--hardware", f[what]], {}))
        cases.append(
            (
                f"--model-info {what}",
                ["optimize", "--hardware", H100, "--model-info", f"m={f[what]}"],
                {},
            )
        )
    cases += [
        ("--hardware /dev/zero", ["optimize", "--hardware", "/dev/zero"], {}),
        (
            "--model-info /dev/zero",
            ["optimize", "--hardware", H100, "--model-info", "m=/dev/zero"],
            {},
        ),
        ("-o /dev/full", ["optimize", "--hardware", H100, "-o", "/dev/full"], {}),
        ("-o /dev/null", ["optimize", "--hardware", H100, "-o", "/dev/null"], {}),
        ("-o a directory", ["optimize", "--hardware", H100, "-o", f["dir"]], {}),
        ("-o missing parent", ["optimize", "--hardware", H100, "-o", str(tmp / "no" / "x.sh")], {}),
        ("compare deep gguf", ["compare", "--target", f["deep"], "-q"], {}),
        ("compare /dev/zero", ["compare", "--target", "/dev/zero", "-q"], {}),
        ("tune dead url", ["tune", "--backend", "ollama", "--model", "m", "--url", DEAD], {}),
    ]
    return cases


def _check(name: str, res: dict) -> None:
    REPORT.append({"case": name, **{k: res[k] for k in ("rc", "wall_s", "rss_mib")}})
    assert "Traceback" not in res["stderr"], f"{name}: {res['stderr'][-2000:]}"
    assert res["rc"] != 0 or name.startswith("OLLAMA_HOST"), (
        f"{name}: exit 0: {res['stdout'][-500:]}"
    )
    assert "\x1b" not in res["stderr"] + res["stdout"], name
    assert res["rc"] == 0 or "error" in res["stderr"], f"{name}: {res['stderr'][-500:]}"


@pytest.mark.slow
def test_the_hostile_corpus_never_prints_a_traceback(velollm_exe, tmp_path):
    env = dict(os.environ, OLLAMA_HOST=DEAD.removeprefix("http://"))
    for name, args, extra in _cases(tmp_path):
        res = run_measured(velollm_exe, args, {**env, **extra})
        _check(name, res)
    for name, reply in SERVERS.items():
        backend = "openai" if name.startswith("openai") else "ollama"
        with HostileServer(reply) as srv:
            args = ["benchmark", "--backend", backend, "--url", srv.url, "--model", "m"]
            res = run_measured(velollm_exe, [*args, "--suite", "quick", "-q", "--no-history"], env)
        _check(f"server {name}", res)
        assert res["wall_s"] < 45, f"{name} held the CLI {res['wall_s']} s"
    report = os.environ.get("VELOLLM_CORPUS_REPORT")
    if report:
        Path(report).write_text(json.dumps(REPORT, indent=1))
    worst = max(REPORT, key=lambda r: r["wall_s"])
    print(f"{len(REPORT)} cases; slowest {worst}; peak RSS {max(r['rss_mib'] for r in REPORT)} MiB")


def test_an_exposed_ollama_host_is_a_visible_warning(velollm_exe, tmp_path):
    for host, origins in (("0.0.0.0:11434", ""), ("127.0.0.1:1", "*")):
        env = dict(os.environ, OLLAMA_HOST=host, OLLAMA_ORIGINS=origins)
        res = run_measured(velollm_exe, ["optimize", "--hardware", H100, "--dry-run"], env)
        assert "WARNING:" in res["stderr"] and (
            "network" in res["stderr"] or "web page" in res["stderr"]
        )
    env = dict(os.environ, OLLAMA_HOST="127.0.0.1:1", OLLAMA_ORIGINS="")
    res = run_measured(velollm_exe, ["optimize", "--hardware", H100, "--dry-run"], env)
    assert "WARNING:" not in res["stderr"]


@pytest.mark.parametrize("target", ["/dev/null", "/dev/full", "dir", "fifo", "missing-parent"])
def test_output_only_to_a_regular_or_new_file(velollm_exe, tmp_path, target):
    """Before: /dev/full filled the disk with backups; root replaced /dev/null with a file."""
    path = {"dir": tmp_path, "fifo": tmp_path / "fifo", "missing-parent": tmp_path / "no" / "x.sh"}
    out = str(path.get(target, target))
    if target == "fifo":
        os.mkfifo(out)
    before = sorted(os.listdir(tmp_path))
    res = run_measured(velollm_exe, ["optimize", "--hardware", H100, "-o", out], dict(os.environ))
    assert (
        res["rc"] == 2 and "-o:" in res["stderr"] and len(res["stderr"].strip().splitlines()) == 1
    )
    assert sorted(os.listdir(tmp_path)) == before and not (tmp_path / "no").exists()
    assert not list(Path("/dev").glob("full.bak-*")) and not list(Path("/dev").glob("null.bak-*"))
    assert Path("/dev/null").is_char_device()
    new = tmp_path / "new.sh"
    res = run_measured(
        velollm_exe, ["optimize", "--hardware", H100, "-o", str(new)], dict(os.environ)
    )
    assert res["rc"] == 0 and new.read_text().startswith("#!/bin/sh")
    shutil.rmtree(tmp_path / "no", ignore_errors=True)
