"""Entry point of the frozen bundle: `velollm-desktop` starts the GUI; invoked as `velollm`
(the /usr/bin/velollm link of the .deb) it is the command line."""

import os
import sys

if __name__ == "__main__":
    if os.path.basename(sys.argv[0]).split(".")[0] == "velollm":
        from velollm_desktop.cli import main as cli_main

        sys.exit(cli_main())
    from velollm_desktop.ui.launch import main as gui_main

    sys.exit(gui_main())
