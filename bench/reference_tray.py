"""The reference: a minimal PySide6 tray app (one QTimer sampling psutil at 1 Hz).

Used by bench/tray_overhead.py as the floor our app is compared with. Writes the wall time at
which its tray icon became visible to $VELOLLM_READY_FILE, like the real app does.
"""

import os
import sys
import time

import psutil
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

app = QApplication(sys.argv)
app.setQuitOnLastWindowClosed(False)
pix = QPixmap(32, 32)
pix.fill(QColor("#4caf50"))
tray = QSystemTrayIcon(QIcon(pix))
tray.show()


def sample() -> None:
    tray.setToolTip(
        f"CPU {psutil.cpu_percent():.0f} %  RAM {psutil.virtual_memory().percent:.0f} %"
    )


timer = QTimer()
timer.timeout.connect(sample)
timer.start(1000)

ready = os.environ.get("VELOLLM_READY_FILE")
if ready:

    def check() -> None:
        if tray.geometry().width() > 0:
            poll.stop()
            with open(ready, "w") as fh:
                fh.write(f"{time.time():.6f}\n")

    poll = QTimer()
    poll.timeout.connect(check)
    poll.start(10)
sys.exit(app.exec())
