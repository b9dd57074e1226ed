"""Live sampling of CPU, RAM and GPUs for the tray and the dashboard (no Qt)."""
