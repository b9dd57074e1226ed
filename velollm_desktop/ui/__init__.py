"""The desktop GUI (PySide6 + pyqtgraph): tray, dashboard, pages. Calls only core and workers."""
