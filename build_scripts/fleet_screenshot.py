"""Take docs/screenshots/fleet.png: the Fleet page watching real loopback targets.

    QT_QPA_PLATFORM=offscreen python build_scripts/fleet_screenshot.py

Targets: the Prometheus node exporter and a llama-server started with --metrics (under load
from a completion loop) on localhost, the recorded dcgm-exporter body of tests/fixtures/dcgm
served on 127.0.0.2 (no GPU on the build machine), and a closed port on 127.0.0.3.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from tests.conftest import test_model_path  # noqa: E402
from tests.core.fleet.servers import FIXTURES, NodeExporter, ScriptedServer  # noqa: E402
from velollm_desktop.core.llamacpp.server import LlamaServer  # noqa: E402
from velollm_desktop.core.monitor.history import SampleHistory  # noqa: E402
from velollm_desktop.core.settings import Settings  # noqa: E402
from velollm_desktop.ui.main_window import MainWindow  # noqa: E402

OUT = ROOT / "docs" / "screenshots" / "fleet.png"


def pump(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def load(url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=120, trust_env=False) as http:
        while not stop.is_set():
            http.post(url + "/completion", json={"prompt": "Tell a story.", "n_predict": 48})


def main() -> int:
    app = QApplication(sys.argv)
    dcgm_body = (FIXTURES / "dcgm" / "metrics-2xh100.txt").read_bytes()
    stop = threading.Event()
    with (
        NodeExporter() as ne,
        LlamaServer(test_model_path(), ["--metrics"], threads=2) as llama,
        ScriptedServer(body=dcgm_body, host="127.0.0.2") as dcgm,
    ):
        settings = Settings.load(Path(os.environ.get("TMPDIR", "/tmp")) / "fleet-shot.json")
        settings.set("fleet_poll_s", 1.0)
        settings.set(
            "fleet_targets",
            f"{ne.url}, {llama.url}, dcgm={dcgm.url}, node=http://127.0.0.3:9100",
        )
        worker = threading.Thread(target=load, args=(llama.url, stop), daemon=True)
        worker.start()
        window = MainWindow(settings, SampleHistory(), has_tray=False)
        window.resize(1200, 470)
        window.tabs.setCurrentWidget(window.fleet)
        window.show()
        t0 = time.time()
        while time.time() - t0 < 40:
            pump(0.5)
        window.grab().save(str(OUT))
        stop.set()
        window.fleet.shutdown()
        worker.join(60)
    print(f"wrote {OUT}")
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
