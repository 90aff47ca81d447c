"""What a key press types, for handlers that send typed letters elsewhere.

A terminal that sends Esc-prefixed meta keys makes Textual report ``alt+n`` with the
character ``n``; such a key is a shortcut, not typing, and must reach the bindings.
"""

from __future__ import annotations

from textual import events

__all__ = ["MODIFIERS", "typed_character"]

#: Modifiers that make a key a shortcut (shift only changes the letter typed).
MODIFIERS = frozenset({"alt", "ctrl", "meta", "super", "hyper"})


def typed_character(event: events.Key) -> str | None:
    """The character ``event`` types, or ``None``: not printable, or held with a modifier."""
    if not event.is_printable or not event.character:
        return None
    if MODIFIERS.intersection(event.key.split("+")[:-1]):
        return None
    return event.character
