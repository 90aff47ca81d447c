"""Timestamps as the store keeps them: UTC ISO 8601 with microseconds (sorts as text)."""

from __future__ import annotations

from datetime import datetime, timezone

from agentic_flow.core.errors import StoreError

__all__ = ["now_iso", "to_iso", "parse_ts"]


def now_iso() -> str:
    """Current UTC time in the one format stored everywhere (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def to_iso(value: datetime | str) -> str:
    """Normalise a bound (``since``/``until``) to the stored format.

    Naive datetimes are local time, as Python's ``astimezone`` treats them.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise StoreError(
                f"'{value}' is not an ISO date/time; use e.g. 2025-01-31 or 2025-01-31T12:00"
            ) from exc
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)
