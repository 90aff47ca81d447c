"""``python -m agentic_flow`` runs the command line (same as the ``agentic-flow`` script)."""

import sys

from agentic_flow.main import main

if __name__ == "__main__":
    sys.exit(main())
