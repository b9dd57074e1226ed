"""`python -m velollm_desktop` starts the desktop app."""

import sys

from velollm_desktop.ui.launch import main

sys.exit(main())
