"""An entry of the transcript's history: the data, and the widget built from it when shown.

The transcript (:class:`~tui.widgets.transcript.Transcript`) keeps every item of the
session, but mounts only the newest ones and those the user scrolls back to. So an item
holds everything its widget shows, and the widget writes what the user changes (a
tool-call block expanded) back into it: unmounting and mounting again loses nothing.

To put a new kind of block in the transcript, subclass :class:`TranscriptItem`:

- keep the block's state on the item, and update it through methods of the item;
- :meth:`TranscriptItem.build` makes a fresh widget from that state (it may be called
  many times, once per mount);
- while mounted, :attr:`TranscriptItem.view` is that widget: push each change to it
  (``if self.view is not None: self.view.sync()``);
- :attr:`TranscriptItem.live` is True while the item still changes on its own (a
  streamed answer, a running tool call): live items are never unmounted.
"""

from __future__ import annotations

from typing import Callable, ClassVar

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

__all__ = ["TranscriptItem", "WidgetItem"]


class TranscriptItem:
    """One entry of the transcript's history (see the module docstring)."""

    kind: ClassVar[str] = "item"
    """What the item is: ``message``, ``tool``, ``widget``, ..."""

    def __init__(self) -> None:
        self.view: Widget | None = None
        """The widget showing this item while it is mounted, else None."""

    @property
    def live(self) -> bool:
        """Still changing on its own (streamed, running): the transcript keeps it mounted."""
        return False

    def build(self) -> Widget:
        """A new widget showing this item as it is now."""
        raise NotImplementedError


class WidgetItem(TranscriptItem):
    """A widget added as it is (:meth:`Transcript.add`), for blocks without an item class.

    The widget itself cannot be mounted again once it was removed, so after it scrolled
    out of the mounted window the item shows ``rebuild()`` if one was given, else a line
    saying what was there. Blocks that must come back whole deserve their own item class.
    """

    kind = "widget"

    def __init__(self, widget: Widget, *, summary: str | None = None, rebuild: Callable[[], Widget] | None = None) -> None:
        super().__init__()
        self._widget: Widget | None = widget
        self.summary = summary or f"({type(widget).__name__})"
        self._rebuild = rebuild

    def build(self) -> Widget:
        widget, self._widget = self._widget, None
        if widget is not None:
            return widget
        if self._rebuild is not None:
            return self._rebuild()
        return Static(Content(self.summary), classes="gone")
