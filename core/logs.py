"""Logging to a file in the data dir, never to the terminal the TUI draws on.

Libraries (the MCP SDK, httpx) log through ``logging``; without a handler Python prints
warnings to stderr, which would tear the workbench's screen and clutter ``run`` output.
Every record passes through secret redaction before it is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from agentic_flow.core.paths import data_dir
from agentic_flow.core.redact import redact

__all__ = ["setup_logging", "log_file"]


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:

        record.msg = redact(record.getMessage())
        record.args = None
        # The formatter appends the traceback (exception messages: a server's error
        # body, a URL with a password) after this filter ran: redact it here too.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_file() -> Path:
    return data_dir() / "logs" / "agentic-flow.log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Send all logging to the log file (once per process); returns its path."""
    root = logging.getLogger()
    if any(getattr(h, "_agentic_flow", False) for h in root.handlers):
        return log_file()
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()  # an unwritable data dir must not stop the run
        path = None  # type: ignore[assignment]
    handler._agentic_flow = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return path
