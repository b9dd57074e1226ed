"""The entry point of `velollm-desktop` and `python -m velollm_desktop`: parse the options,
make the QApplication, keep one instance per user, start the Controller, run the event loop."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer

from velollm_desktop import APP_NAME
from velollm_desktop.core.settings import Settings
from velollm_desktop.ui.app import Controller
from velollm_desktop.ui.startup import (
    make_application,
    parse_arguments,
    report_ready_when_visible,
    single_instance_server,
)
from velollm_desktop.workers import logfile
from velollm_desktop.workers.runner import drop_feature_import_hook, runner


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `velollm-desktop` and `python -m velollm_desktop`."""
    args, qt_args = parse_arguments(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logfile.install()
    drop_feature_import_hook()  # before any thread starts: see workers/runner.py
    app = make_application(qt_args)
    instance = single_instance_server(app)
    if instance is None:  # already running: its dashboard came forward
        print(f"{APP_NAME} is already running: showing its dashboard.", file=sys.stderr)
        return 0
    controller = Controller(app, Settings.load(), force_no_tray=args.no_tray)
    if instance is not False:
        instance.show_requested.connect(controller.show_dashboard)
        app.aboutToQuit.connect(instance.close)
    if not controller.has_tray:
        # Without a tray the window is the app: closing it must quit.
        app.setQuitOnLastWindowClosed(True)
        app.lastWindowClosed.connect(controller.shutdown)
    elif args.show:
        controller.show_dashboard()
    ready_file = os.environ.get("VELOLLM_READY_FILE")
    if ready_file:
        report_ready_when_visible(controller, ready_file, controller)
    if args.quit_after > 0:
        QTimer.singleShot(int(args.quit_after * 1000), controller.quit)
    code = app.exec()
    if runner().running:  # a job ignored its cancel past the deadline (logged in shutdown)
        # Destroying a running QThread at interpreter exit aborts; the OS ends the thread
        # instead, and our llama-servers get SIGTERM from PR_SET_PDEATHSIG.
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
