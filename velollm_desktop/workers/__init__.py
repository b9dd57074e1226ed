"""QObject workers that run core code in QThreads and report through typed signals."""
