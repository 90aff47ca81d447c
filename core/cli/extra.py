"""Commands beyond run/models/agents, registered in one place so ``--help`` lists them.

Each command's implementation module is imported only when it runs.
"""

from __future__ import annotations

import argparse

__all__ = ["add_extra_commands", "dispatch_extra"]


def add_extra_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Nothing yet beyond the core commands; later commands register here."""


def dispatch_extra(args: argparse.Namespace) -> int | None:
    return None
