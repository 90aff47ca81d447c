"""Plain-text tables and small formatting helpers for the CLI (no rich, fast start-up)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

__all__ = ["table", "fmt_cost", "fmt_tokens", "fmt_seconds", "err", "warn", "silence_stdout", "write_output"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; numbers (``right``) right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_cost(cost: float | None) -> str:
    if cost is None:
        return "?"
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.5f}"
    return f"${cost:.4f}"


def fmt_tokens(n: int, estimated: bool = False) -> str:
    return f"~{n}" if estimated else str(n)


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.0f}ms" if s < 1 else f"{s:.2f}s"


def err(message: str, stream: TextIO | None = None) -> None:
    print(f"agentic-flow: error: {message}", file=stream or sys.stderr)


def warn(message: str, stream: TextIO | None = None) -> None:
    print(f"agentic-flow: warning: {message}", file=stream or sys.stderr)


def write_output(path: str, text: str) -> bool:
    """Write an ``--output FILE``; on failure print one error line (no traceback) and return False."""
    try:
        Path(path).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        err(f"cannot write --output file {path}: {exc.strerror or exc}")
        return False
    return True


def silence_stdout(stream: TextIO | None = None) -> None:
    """Point stdout's file descriptor at /dev/null after its reader went away, so the
    interpreter's final flush cannot fail again (Python's documented SIGPIPE recipe)."""
    stream = stream or sys.stdout
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests' capture)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
