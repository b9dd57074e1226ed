"""Debian's real Prometheus server on loopback: a temp config and storage dir, a free port,
a 1 s scrape interval; always stopped (terminate, then kill) by the context manager."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from velollm_desktop.core.llamacpp.server import free_port


class Prometheus:
    def __init__(self, tmp: Path, target: str, *, token_file: Path | None = None) -> None:
        exe = shutil.which("prometheus")
        assert exe, (
            "prometheus missing (Debian package prometheus): run bash build_scripts/setup.sh test"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        auth = (
            f"    authorization:\n      type: Bearer\n      credentials_file: {token_file}\n"
            if token_file
            else ""
        )
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: velollm\n"
            f"{auth}    static_configs:\n      - targets: ['{target}']\n"
        )
        (tmp / "tsdb").mkdir()
        self.argv = [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.log = tmp / "prometheus.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Prometheus:
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/-/ready", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"prometheus did not start: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """Instant query: [(labels, value)]."""
        r = httpx.get(
            self.url + "/api/v1/query", params={"query": expr}, timeout=5, trust_env=False
        )
        body = r.json()
        assert body["status"] == "success", body
        return [(item["metric"], float(item["value"][1])) for item in body["data"]["result"]]

    def wait_for(
        self, expr: str, check, timeout_s: float = 30.0
    ) -> list[tuple[dict[str, str], float]]:
        """Query until `check(result)` holds; the last result (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout_s
        result: list = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if check(result):
                return result
            time.sleep(0.3)
        raise AssertionError(f"{expr}: {result} never satisfied the check")
