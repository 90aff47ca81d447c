"""Checks of option values that several commands share; each returns the problem, or None.

A command prints the problem with :func:`~agentic_flow.core.cli.output.err` and exits
with ``EXIT_USAGE`` (2), before it does any work.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["positive_int", "seconds_problem", "url_problem", "workspace_problem"]


def seconds_problem(value: float | None, flag: str = "--timeout") -> str | None:
    """``--timeout`` (or another limit in seconds) must be a finite number above 0; None is unset."""
    if value is not None and not (math.isfinite(value) and value > 0):
        return f"{flag} must be more than 0 seconds"
    return None


def workspace_problem(value: str | None, flag: str = "--workspace") -> str | None:
    """``--workspace DIR`` must name a folder that exists (nothing creates it); None is unset."""
    if value is not None and not Path(value).is_dir():
        return f"{flag} {Path(value).resolve()} is not a folder"
    return None


def url_problem(value: str | None, flag: str = "--base-url") -> str | None:
    """``--base-url`` must be an http(s) URL with a host: anything else would only fail
    later, as if the network were down (and be retried); None is unset."""
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
        return f"{flag} {value!r} is not an http(s) URL (for example http://127.0.0.1:8080/v1)"
    return None


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts such as ``--limit``: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
