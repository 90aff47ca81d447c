"""Plain text that grows at its end, soft-wrapped, drawing only the rows on screen.

Made for streamed model answers shown side by side (the compare screen): appending
re-wraps only the last line, and a frame renders only the visible rows, so the cost of
an update does not grow with the answer. Measured with four columns of 20,000 tokens
each: Textual's ``TextArea`` sums every line's wrapped height for each row it draws, and
a ``Markdown`` document re-lays itself out as it grows (DESIGN.md, "The TUI"); both stall
the app for seconds on long answers. Text is shown as written (code fences included),
which is what a comparison wants to see.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

__all__ = ["AnswerView"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TAB = "    "


class AnswerView(ScrollView, can_focus=True):
    """Soft-wrapped plain text, appended to with :meth:`append`; follows the end while
    scrolled to the end (scroll up to read and it stays put)."""

    DEFAULT_CSS = """
    AnswerView {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
        color: $text;
    }
    AnswerView:focus {
        background-tint: $foreground 5%;
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        auto_scroll: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.auto_scroll = auto_scroll
        """Keep the end in view while new text arrives (unless the user scrolled up)."""
        self._lines: list[str] = [""]
        """Logical lines, tabs expanded, control characters removed."""
        self._rows: list[str] = [""]
        """``_lines`` wrapped at ``_wrap_width``."""
        self._last_start = 0
        """Index in ``_rows`` of the last logical line's first row."""
        self._wrap_width = 0
        self._floor = 0
        """Virtual height kept while following, so the end can sit mid-view."""
        self._style: Style | None = None
        self._render_width = 0
        if text:
            self.append(text)

    # ------------------------------------------------------------------ content

    @property
    def text(self) -> str:
        """Everything appended so far (as shown: tabs expanded, control characters removed)."""
        return "\n".join(self._lines)

    @property
    def row_count(self) -> int:
        """Rows at the current width."""
        return len(self._rows)

    def append(self, text: str) -> None:
        """Add ``text`` at the end."""
        if not text:
            return
        text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\t", TAB))
        follow = self.auto_scroll and self.is_vertical_scroll_end
        parts = text.split("\n")
        first_changed = len(self._lines) - 1
        self._lines[-1] += parts[0]
        self._lines.extend(parts[1:])
        if not self._wrap_width:  # not sized yet: wrapped on the first resize
            return
        first_row = self._last_start
        del self._rows[first_row:]
        self._wrap_from(first_changed)
        if follow and self._follow():
            return  # scrolled: the whole view is repainted
        self._update_size()
        # Only the rows from the old last line down changed; rows above stay cached.
        top = first_row - self.scroll_offset.y
        height = self.scrollable_content_region.height
        if top < height:
            self.refresh_lines(max(0, top) + self.scroll_offset.y, height - max(0, top))

    def settle(self) -> None:
        """The text is complete: drop the blank space kept below it while following."""
        self._floor = 0
        self._update_size()

    def clear(self) -> None:
        """Remove all text."""
        self._lines = [""]
        self._rows = [""]
        self._last_start = 0
        self._floor = 0
        self._update_size()
        self.scroll_home(animate=False)
        self.refresh()

    def _follow(self) -> bool:
        """Keep the end in view by jumping half a page when it runs off the bottom.

        Scrolling one row per update would shift — and repaint — every visible row each
        time; jumping means most updates repaint only the rows that changed. Returns
        whether it scrolled.
        """
        height = self.scrollable_content_region.height
        if height <= 0 or len(self._rows) <= self.scroll_offset.y + height:
            return False
        top = max(0, len(self._rows) - max(1, height // 2))
        self._floor = top + height  # blank rows below the text, so ``top`` is in range
        self._update_size()
        self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()
        return True

    def _wrap(self, line: str) -> list[str]:
        width = self._wrap_width
        if cell_len(line) <= width:
            return [line]
        return [row.plain for row in Content(line).wrap(width)] or [""]

    def _wrap_from(self, index: int) -> None:
        """Append the rows of logical lines ``index`` onwards (``_rows`` already cut)."""
        for i in range(index, len(self._lines)):
            if i == len(self._lines) - 1:
                self._last_start = len(self._rows)
            self._rows.extend(self._wrap(self._lines[i]))

    def _rewrap(self, width: int) -> None:
        self._wrap_width = max(1, width)
        self._rows = []
        self._floor = 0
        self._wrap_from(0)
        self._update_size()
        self.refresh()

    def _update_size(self) -> None:
        size = Size(self._wrap_width, max(len(self._rows), self._floor))
        if size == self.virtual_size:
            return
        # The widget's own size is set by CSS and does not depend on its text, so a
        # longer text needs new scrollbars and a repaint — not a layout pass over the
        # whole screen, which assigning ``virtual_size`` (a layout reactive) would do.
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)

    # ------------------------------------------------------------------ rendering

    def on_resize(self, event: Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._wrap_width:
            follow = self.is_vertical_scroll_end
            self._rewrap(width)
            if follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per frame rather than once per row.
        self._style = self.rich_style
        self._render_width = self.scrollable_content_region.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self._render_width
        style = self._style if self._style is not None else self.rich_style
        index = self.scroll_offset.y + y
        if index >= len(self._rows):
            return Strip.blank(width, style)
        row = self._rows[index]
        cells = cell_len(row)
        if cells < width:
            return Strip([Segment(row + " " * (width - cells), style)], width)
        return Strip([Segment(row, style)], cells).crop(0, width)
