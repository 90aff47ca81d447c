"""A fix to Textual that the workbench applies at start: painted lines must not be
reference cycles.

Textual's ``Strip.divide`` caches its result in the strip itself, and when the cut is
the strip's own length (the compositor's commonest cut: a line that nothing overlaps)
that result is ``[self]``: the strip holds itself. Every painted line that is painted
again or removed is then cyclic garbage — with its segments and its six small caches —
which only a full garbage collection frees, walking all of it. In a 100k-token answer
that was ~50,000 of the ~57,000 objects of garbage, and its collection a 100-130 ms
stall (``benchmarks/tui_stream.py --tokens 100000``); with the fix, 7,600 objects and
no stall over 50 ms.

The fix returns ``[self]`` for that cut without caching it (nothing to compute) and
leaves every other cut as Textual does it. It is applied only when the installed
Textual has the cycle (:func:`strip_divide_is_cyclic`), so a Textual that fixes it
upstream is left alone; ``tests/tui/test_textual_fixes.py`` checks both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.segment import Segment
from textual.strip import Strip

__all__ = ["apply", "strip_divide_is_cyclic"]

_TEXTUAL_DIVIDE = Strip.divide


def strip_divide_is_cyclic(divide: object = None) -> bool:
    """Whether ``Strip.divide`` (or ``divide``) leaves a strip cut at its own length
    holding itself."""
    strip = Strip([Segment("ab")], 2)
    result = (divide or Strip.divide)(strip, [2])  # type: ignore[operator]
    cache = getattr(strip, "_divide_cache", None)
    cached = cache.get((2,)) if cache is not None else None
    return list(result) == [strip] and cached is not None and any(s is strip for s in cached)


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    """``Strip.divide`` without the cycle: the same strips for the same cuts."""
    cell_length = self.cell_length
    cuts = [cut for cut in cuts if cut <= cell_length]
    if cuts == [cell_length]:
        return [self]  # not cached: a strip in its own cache is a reference cycle
    return _TEXTUAL_DIVIDE(self, cuts)


def apply() -> bool:
    """Install the fix if this Textual needs it (idempotent); whether it is installed."""
    if Strip.divide is _divide:
        return True
    if not strip_divide_is_cyclic(_TEXTUAL_DIVIDE):
        return False
    Strip.divide = _divide  # type: ignore[method-assign]
    return True
