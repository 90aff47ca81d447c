"""``python -m core.cli`` runs the command line (same as the ``agentic-flow`` script)."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
