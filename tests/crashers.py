"""Stand-in llama.cpp programs that die by a signal (SIGILL, SIGSEGV, …) at start or mid-run.

`make_crasher(folder, name, signal_name, when)` writes an executable `folder/name`:
- when="start": prints a few log lines on stderr, then kills itself with the signal;
- when="run": serves `GET /health` 200 on `--port` (like llama-server once loaded) and kills
  itself with the signal on the first other request.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SCRIPT = r"""#!{python}
import http.server, os, signal, sys
SIG = getattr(signal, {sig!r})
sys.stderr.write("load_backend: loaded CPU backend from libggml-cpu-stand-in.so\n")
sys.stderr.write("main: loading model {name}\n")
sys.stderr.flush()
if {when!r} == "start":
    os.kill(os.getpid(), SIG)
port = int(sys.argv[sys.argv.index("--port") + 1])

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == "/health":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{{}}")
        else:
            self.die()
    def do_POST(self):
        self.die()
    def die(self):
        sys.stderr.write("slot launch: processing the request\n")
        sys.stderr.flush()
        os.kill(os.getpid(), SIG)

http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""

SIGNALS = ("SIGILL", "SIGSEGV", "SIGBUS", "SIGKILL")
"""The signals the issue names (a refused instruction, a bad access, a mapped file gone, OOM)."""


def make_crasher(folder: Path, name: str, signal_name: str, when: str = "start") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(_SCRIPT.format(python=sys.executable, sig=signal_name, name=name, when=when))
    path.chmod(0o755)
    return path
