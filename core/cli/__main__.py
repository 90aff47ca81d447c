"""``python -m core.cli`` runs the command line (same as the ``agentic-flow`` script)."""

import sys

from . import main

sys.exit(main())
