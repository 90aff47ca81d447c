"""Where a task comes from: ``--task``, else stdin when it is a pipe (never a terminal)."""

from __future__ import annotations

from typing import TextIO

__all__ = ["read_task"]


def read_task(task: str | None, stdin: TextIO) -> str | None:
    if task is not None:
        return task
    if stdin is None or stdin.closed:
        return None
    try:
        if stdin.isatty():
            return None
    except (ValueError, OSError):
        return None
    data = stdin.read()
    return data.strip() or None
