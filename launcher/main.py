"""The ``agentic-flow`` entry point: the one place that knows both layers.

The headless command line (:mod:`agentic_flow.core.cli`) runs every command; when there
is none, it opens the workbench through the opener passed from here, so ``core`` never
imports ``tui`` and ``--help`` loads neither Textual nor httpx.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from agentic_flow.core.cli import main as cli_main
from agentic_flow.core.cli.exit_codes import EXIT_USAGE

__all__ = ["main", "open_workbench"]


def open_workbench(args: argparse.Namespace) -> int:
    """Open the Textual workbench with the options given on the command line."""
    # lazy: Textual loads only when the workbench opens
    from agentic_flow.tui.app import run_app

    return run_app(
        agent=args.agent,
        model=args.model,
        agents_dir=args.agents_dir,
        base_url=args.base_url,
        workspace=args.workspace,
        resume=getattr(args, "resume", None),
        pick_session=getattr(args, "pick_session", False),
    )


def main(argv: Sequence[str] | None = None) -> int:
    if sys.stdout is None:  # started with stdout closed (`agentic-flow ... >&-`)
        if sys.stderr is not None:
            print("agentic-flow: error: standard output is closed; redirect it to a file or to /dev/null", file=sys.stderr)
        return EXIT_USAGE  # nothing was run
    return cli_main(argv, open_workbench=open_workbench)
