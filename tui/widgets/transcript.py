"""The transcript: the session's history, of which only a window is mounted.

Every entry — prompt, answer, reasoning, tool call, notice, error — is a
:class:`~tui.widgets.transcript_item.TranscriptItem` kept in :attr:`Transcript.items`
for the whole session. Only a window of the newest ones is mounted as widgets: while
the view follows the end, items that scroll far enough out of sight are unmounted (a
line at the top says how many), and scrolling back up builds them again from their
items, a batch at a time (``home`` builds them all). So what a new item costs — its
mount, the layout pass, the memory of its widgets, what every full garbage collection
walks — does not grow with the length of the session.

Streaming: text deltas are only queued on the message being streamed; a frame timer
(~30 Hz) flushes them in one batch, so a fast model costs one Markdown append per
frame, not one per token (see :mod:`tui.widgets.message`). Nothing here changes a style
that the whole transcript inherits while streaming: a class toggled on the transcript
restyles every mounted widget.

The API (what the session screen and other blocks use):

- :meth:`Transcript.add_user`, :meth:`~Transcript.add_message`,
  :meth:`~Transcript.add_notice`, :meth:`~Transcript.add_error`: a finished message;
- :meth:`~Transcript.text_delta`, :meth:`~Transcript.thinking_delta`,
  :meth:`~Transcript.finish_streams`: the answer being streamed;
- :meth:`~Transcript.tool_started` … :meth:`~Transcript.tool_result`, and
  :meth:`~Transcript.tool` (a call's :class:`~tui.widgets.tool_call.ToolCallItem` by
  id, mounted or not): tool calls;
- :meth:`~Transcript.add_item` for any other kind of block (subclass
  ``TranscriptItem``); :meth:`~Transcript.add` for a plain widget (not rebuilt after it
  was unmounted; see :class:`~tui.widgets.transcript_item.WidgetItem`).
"""

from __future__ import annotations

from typing import Any

from textual._styles_cache import StylesCache
from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from agentic_flow.tui.widgets.message import MessageItem, MessageView, Role
from agentic_flow.tui.widgets.tool_call import ToolCallItem
from agentic_flow.tui.widgets.transcript_item import TranscriptItem, WidgetItem

__all__ = ["Transcript", "FRAME_SECONDS", "release_render_caches"]

FRAME_SECONDS = 1 / 30


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


class Transcript(VerticalScroll):
    """The conversation so far.

    Args:
        max_items: most items kept mounted while the view follows the end (as long as
            they fill two screens).
        max_lines: most lines kept mounted likewise (default: four screens, at least
            200; never under two screens): Textual's layout and compositor spend time in
            proportion to what is mounted.
        batch_size: items built at a time when the user scrolls back.
    """

    DEFAULT_CSS = """
    Transcript {
        height: 1fr;
        layout: stream;
        padding: 0;
        background: $background;
        scrollbar-size-vertical: 1;
    }
    Transcript > .hidden-count {
        color: $text-muted;
        text-style: italic;
        margin: 0 0 1 0;
    }
    Transcript > .gone {
        color: $text-muted;
        margin: 0 0 1 0;
    }
    """

    can_focus = True

    #: Prune only once the window is this much over its budget, so that unmounting (a
    #: layout pass) happens once per several items, not for each new one.
    SLACK = 1.25

    def __init__(
        self, *, max_items: int = 60, max_lines: int | None = None, batch_size: int = 12, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.max_items = max_items
        self.max_lines = max_lines
        self.batch_size = batch_size
        self._items: list[TranscriptItem] = []
        self._first = 0  # index in _items of the first mounted item; all after it are mounted
        self._answer: MessageView | None = None
        self._thinking: MessageView | None = None
        self._tools: dict[str, ToolCallItem] = {}
        self._timer: Timer | None = None
        self._marker: Static | None = None
        self._busy = False  # mounting or unmounting a window edge
        self._edge_queued = False  # a show_earlier / prune is queued

    def on_mount(self) -> None:
        self.anchor()
        self._timer = self.set_interval(FRAME_SECONDS, self.flush, pause=True)

    # -- the history ----------------------------------------------------------------------
    @property
    def items(self) -> list[TranscriptItem]:
        """Every item of the session, oldest first (read only: add through the methods)."""
        return self._items

    @property
    def mounted_count(self) -> int:
        """How many items are mounted now."""
        return len(self._items) - self._first

    @property
    def hidden_count(self) -> int:
        """How many of the oldest items are not mounted now."""
        return self._first

    @property
    def following(self) -> bool:
        """The view sticks to the end (the user has not scrolled up)."""
        return self.is_anchored and not self._anchor_released

    # -- generic items ------------------------------------------------------------------
    async def add_item(self, item: TranscriptItem) -> TranscriptItem:
        """Append ``item`` to the history and mount its widget."""
        widget = item.build()
        item.view = widget
        self._items.append(item)
        await self.mount(widget)
        await self._prune()  # by the heights of the last layout: the newest may still be 0
        return item

    async def add(self, widget: Widget) -> Widget:
        """Append a widget (its ``item`` if it has one, else a :class:`WidgetItem`)."""
        item = getattr(widget, "item", None)
        if not isinstance(item, TranscriptItem):
            item = WidgetItem(widget)
        item.view = widget
        self._items.append(item)
        await self.mount(widget)
        await self._prune()
        return widget

    async def add_message(self, role: Role, text: str, *, markdown: bool | None = None) -> MessageView:
        await self.finish_streams()
        item = MessageItem(role, text, markdown=markdown)
        await self.add_item(item)
        assert isinstance(item.view, MessageView)
        return item.view

    async def add_user(self, text: str) -> MessageView:
        view = await self.add_message("user", text, markdown=False)
        self.anchor()
        return view

    async def add_notice(self, text: str, level: str = "info") -> MessageView:
        return await self.add_message("warning" if level == "warning" else "notice", text, markdown=False)

    async def add_error(self, text: str) -> MessageView:
        return await self.add_message("error", text, markdown=False)

    # -- streaming ------------------------------------------------------------------------
    @property
    def answer(self) -> MessageView | None:
        """The answer being streamed, if any."""
        return self._answer

    @property
    def live_markdown_count(self) -> int:
        return sum(1 for child in self.children if isinstance(child, MessageView) and child.has_live_markdown)

    async def text_delta(self, text: str) -> None:
        if self._answer is None:
            if self._thinking is not None:
                await self._finish(self._thinking)
                self._thinking = None
            self._answer = MessageView("assistant", streaming=True)
            await self.add(self._answer)
            self._start_timer()
        self._answer.feed(text)

    async def thinking_delta(self, text: str) -> None:
        if not text:
            return
        if self._thinking is None:
            self._thinking = MessageView("thinking", streaming=True)
            await self.add(self._thinking)
            self._start_timer()
        self._thinking.feed(text)

    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.resume()

    async def flush(self) -> None:
        """Write pending text of the streamed messages (called once per frame)."""
        for view in (self._thinking, self._answer):
            if view is not None and view.is_mounted and view.has_pending:
                await view.flush()
                if view.full:
                    await self._continue(view)

    async def _continue(self, view: MessageView) -> None:
        """Carry a long streamed message on in a new item (see ``MessageView.MAX_VIEW_CHARS``)."""
        new = view.split_off()
        # Before anything is awaited: deltas arriving meanwhile go to the new message.
        if view is self._answer:
            self._answer = new
        else:
            self._thinking = new
        overflow = await view.finish()
        assert overflow is None  # split_off left nothing to finish
        if new.item.finished:  # the streams were finished meanwhile (unmounted: static now)
            await self.add_item(new.item)
        else:
            await self.add(new)

    async def _finish(self, view: MessageView, stopped: bool = False) -> None:
        if view.is_mounted:
            overflow = await view.finish(stopped=stopped)
            while overflow is not None:  # a long backlog: continued over items of bounded height
                await self.add(overflow)
                overflow = await overflow.finish(stopped=stopped)
        else:  # the screen is closing: keep the text in the history all the same
            item = view.item
            item.pieces = [item.text] if item.chunks else []
            item.finished = True
            item.stopped = item.stopped or stopped

    async def finish_streams(self, *, stopped: bool = False) -> None:
        """End the streamed messages: they become static; mark them stopped if asked."""
        thinking, answer = self._thinking, self._answer
        self._thinking = self._answer = None
        if thinking is not None:
            await self._finish(thinking, stopped=stopped and answer is None)
        if answer is not None:
            await self._finish(answer, stopped=stopped)
        if self._timer is not None:
            self._timer.pause()
        if thinking is not None or answer is not None:
            release_render_caches()  # the live Markdown's blocks were just removed
            await self._prune()

    # -- tool calls -----------------------------------------------------------------------
    def _open_call(self, call_id: str) -> ToolCallItem | None:
        """The call with this id that has not returned yet (None: there is none). A call
        whose id was seen before and already returned is a new call: some servers repeat
        ids across turns, and it must not update the old block."""
        item = self._tools.get(call_id)
        return item if item is not None and item.result_text is None else None

    async def tool_started(self, call_id: str, name: str) -> ToolCallItem:
        await self.finish_streams()
        item = self._open_call(call_id)
        if item is None:
            item = ToolCallItem(call_id, name)
            self._tools[call_id] = item
            await self.add_item(item)
        return item

    def tool(self, call_id: str) -> ToolCallItem | None:
        """The tool call with this id, whether it is mounted or not."""
        return self._tools.get(call_id)

    async def tool_args(self, call_id: str, delta: str) -> None:
        item = self._open_call(call_id)
        if item is not None:
            item.args_delta(delta)

    async def tool_ready(self, call_id: str, name: str, arguments: dict[str, Any] | None, error: str | None) -> None:
        item = self._open_call(call_id) or await self.tool_started(call_id, name)
        item.ready(arguments, error)

    async def tool_pending(self, call_id: str) -> None:
        item = self._open_call(call_id)
        if item is not None:
            item.pending()

    async def tool_decided(
        self, call_id: str, tool: str, allowed: bool, scope: str, decided_by: str, reason: str | None
    ) -> None:
        item = self._open_call(call_id) or await self.tool_started(call_id, tool)
        item.decided(allowed, scope, decided_by, reason)

    async def tool_result(self, call_id: str, name: str, content: str, is_error: bool) -> None:
        item = self._open_call(call_id) or await self.tool_started(call_id, name)
        item.result(content, is_error)

    # -- the mounted window -----------------------------------------------------------------
    def _line_budget(self) -> int:
        # Never less than two screens: the user must be able to scroll up to reach the
        # items above (scrolling near the top builds them).
        floor = 2 * self.size.height
        if self.max_lines is not None:
            return max(floor, self.max_lines)
        return max(200, 4 * self.size.height)

    async def _prune(self) -> None:
        """Unmount the oldest items past the budget, while the view follows the end."""
        if self._busy or not self.following:
            return
        mounted = self._items[self._first :]
        heights = [item.view.outer_size.height if item.view is not None else 0 for item in mounted]
        lines, budget = sum(heights), self._line_budget()
        if len(mounted) <= self.max_items * self.SLACK and lines <= budget * self.SLACK:
            return
        count = 0
        excess = len(mounted) - self.max_items
        floor = 2 * self.size.height  # whatever max_items says, two screens stay mounted
        for item, height in zip(mounted[:-1], heights):  # never the newest
            if (excess <= 0 and lines <= budget) or lines - height < floor:
                break
            if item.live:
                break  # the window stays one piece: nothing after a live item goes
            count += 1
            excess -= 1
            lines -= height
        if count:
            await self._unmount_oldest(count)

    async def _unmount_oldest(self, count: int) -> None:
        self._busy = True
        try:
            victims = self._items[self._first : self._first + count]
            widgets = [item.view for item in victims if item.view is not None]
            for item in victims:
                item.view = None
            self._first += count
            await self._show_marker()
            await self.remove_children(widgets)
            release_render_caches()
        finally:
            self._busy = False

    async def _show_marker(self) -> None:
        if self._first == 0:
            if self._marker is not None:
                self._marker.display = False
            return
        text = Content(f"… {self._first} earlier items: scroll up to show them, home for all")
        if self._marker is None:
            self._marker = Static(text, classes="hidden-count")
            await self.mount(self._marker, before=0)
        else:
            self._marker.update(text)
            self._marker.display = True

    async def show_earlier(self, count: int | None = None) -> int:
        """Mount the ``count`` items before the window (all if None), keeping the view still.

        Returns how many were mounted.
        """
        if self._busy or self._first == 0:
            return 0
        self._busy = True
        try:
            start = 0 if count is None else max(0, self._first - count)
            items = self._items[start : self._first]
            widgets = [item.build() for item in items]
            for item, widget in zip(items, widgets):
                item.view = widget
            anchor = self._items[self._first].view
            old_height = self.virtual_size.height
            old_y = self.scroll_y
            self._first = start
            await self.mount_all(widgets, before=anchor)
            await self._show_marker()
        finally:
            self._busy = False

        def keep_view_still() -> None:
            added = self.virtual_size.height - old_height
            if added > 0 and not self.following:
                self.scroll_to(y=old_y + added, animate=False, immediate=True)

        self.call_after_refresh(keep_view_still)
        return len(widgets)

    async def scroll_to_start(self) -> None:
        """Show the whole history and scroll to its beginning."""
        await self.show_earlier(None)
        self.release_anchor()
        self.call_after_refresh(lambda: self.scroll_home(animate=False, immediate=True))

    def action_scroll_home(self) -> None:
        self.call_later(self.scroll_to_start)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._busy or not self.is_mounted:
            return
        if self._edge_queued or self._first == 0:
            return
        if new_value < old_value and new_value <= max(1, self.size.height):
            self._edge_queued = True
            self.call_later(self._queued_call, self.show_earlier, self.batch_size)  # near the top
        elif self.following and new_value >= self.max_scroll_y:
            self._edge_queued = True
            self.call_later(self._queued_call, self._prune)  # back at the end: shrink again

    async def _queued_call(self, method: Any, *args: Any) -> None:
        try:
            await method(*args)
        finally:
            self._edge_queued = False

    # -- what is on screen --------------------------------------------------------------------
    def render_text(self) -> str:
        """The text of the transcript as it is on screen now (for tests and checks)."""
        region = self.region
        strips = self.screen._compositor.render_strips()
        rows = strips[region.y : region.bottom]
        return "\n".join(strip.crop(region.x, region.right).text.rstrip() for strip in rows)
