"""Rendered lines of widgets that leave the screen: let go of them at once.

A removed widget is cyclic garbage (it points to its parent, its parent pointed to it),
so only a full garbage collection frees it, and with it everything it still holds. A
widget of the transcript holds the lines it painted: ``Strip`` objects, each with a few
small caches of its own. Removed during one long streamed answer, those were ~80,000
objects of garbage that the next full collection had to walk: a 100-130 ms stall
(``benchmarks/tui_stream.py --tokens 100000``). Dropped when the widget is removed,
they are freed by reference counting there and then, and the collection finds only
the widgets themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._styles_cache import StylesCache
from textual.dom import DOMNode
from textual.widget import Widget

__all__ = ["drop_render_caches", "release_render_caches", "subtree"]


def subtree(widgets: Iterable[Widget]) -> list[DOMNode]:
    """``widgets`` and all their descendants (taken before they are removed: removal
    empties their lists of children)."""
    return [node for widget in widgets for node in widget.walk_children(with_self=True)]


def drop_render_caches(nodes: Iterable[DOMNode]) -> None:
    """Forget what removed ``nodes`` painted (a widget that implements ``drop_caches``
    forgets its own caches too)."""
    for node in nodes:
        styles_cache = getattr(node, "_styles_cache", None)
        if styles_cache is not None:
            styles_cache.clear()
        layout_cache = getattr(node, "_layout_cache", None)
        if layout_cache is not None:
            layout_cache.clear()
        drop = getattr(node, "drop_caches", None)
        if drop is not None:
            drop()


def release_render_caches() -> None:
    """Let go of the line caches of widgets that were removed.

    Textual 8 memoises ``StylesCache.get_inner_outer`` with an ``lru_cache(1024)`` keyed
    by the cache object itself, so the rendered lines (``Strip`` objects, eight tracked
    objects each) of up to 1,024 *removed* widgets stay alive. In a long session that
    was most of the heap: ~100k objects that every full garbage collection walked (a
    ~200 ms stall on this machine) and most of the RSS growth. Emptying that memo is
    cheap (two ``Style`` objects per widget, made again on the next paint).
    """
    cached = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if cached is not None:
        cached()
