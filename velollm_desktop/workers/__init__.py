"""QObject workers: core code runs on background threads and reports through typed signals."""
