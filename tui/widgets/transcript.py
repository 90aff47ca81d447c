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

Frames, not events, mount what streams: a streamed answer and a tool call are added to
the history at once but get their widget on the next frame (:meth:`Transcript.flush`),
all that arrived in between in one ``mount_all``. An answer that ended before that frame
is built finished (static, never a live Markdown), a call that returned is built in its
final state, and when more arrived than the window holds only the newest are built at
all (the rest are built if the user scrolls back to them). So what an item costs does
not depend on how fast the agent goes.

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

import asyncio
import time
from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from agentic_flow.tui.widgets.message import MessageItem, MessageView, Role, Segmenter
from agentic_flow.tui.widgets.render_caches import drop_render_caches, release_render_caches, subtree
from agentic_flow.tui.widgets.tool_call import ToolCallItem
from agentic_flow.tui.widgets.transcript_item import TranscriptItem, WidgetItem

__all__ = ["Transcript", "FRAME_SECONDS", "release_render_caches"]

FRAME_SECONDS = 1 / 30
MOUNT_SECONDS = 0.1
"""While the view follows a burst of finished items (answers and calls that ended
before their frame), new items are mounted at most this often: those that scroll out
within it are never built (the history keeps them; scrolling back builds them). An
answer that is still streaming is mounted at the next frame."""


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
        self._first = 0  # index in _items of the first mounted item; all after it are mounted...
        self._pending: list[TranscriptItem] = []  # ...but these, the newest: mounted by the next frame
        self._answer: MessageItem | None = None  # the streamed answer (its view, once mounted)
        self._thinking: MessageItem | None = None
        self._tools: dict[str, ToolCallItem] = {}
        self._timer: Timer | None = None
        self._marker: Static | None = None
        self._busy = False  # mounting or unmounting a window edge
        self._mounting = asyncio.Lock()  # held while the frame's new items are mounted
        self._edge_queued = False  # a show_earlier / prune is queued
        self._last_mount = 0.0

    def on_mount(self) -> None:
        self.anchor()
        self._timer = self.set_interval(FRAME_SECONDS, self._tick, pause=True)

    # -- the history ----------------------------------------------------------------------
    @property
    def items(self) -> list[TranscriptItem]:
        """Every item of the session, oldest first (read only: add through the methods)."""
        return self._items

    @property
    def mounted_count(self) -> int:
        """How many items are mounted now."""
        return len(self._items) - self._first - len(self._pending)

    @property
    def hidden_count(self) -> int:
        """How many of the oldest items are not mounted now."""
        return self._first

    @property
    def following(self) -> bool:
        """The view sticks to the end (the user has not scrolled up)."""
        return self.is_anchored and not self._anchor_released

    async def clear(self) -> None:
        """Forget the whole history and its widgets (a new conversation, ``/clear``)."""
        async with self._mounting:
            self._items, self._pending, self._tools = [], [], {}
            self._answer = self._thinking = None
            self._first = 0
            self._marker = None
            nodes = subtree(self.children)
            await self.remove_children()
            drop_render_caches(nodes)
            release_render_caches()
        self.anchor()

    # -- generic items ------------------------------------------------------------------
    async def add_item(self, item: TranscriptItem) -> TranscriptItem:
        """Append ``item`` to the history and mount its widget."""
        if self._pending:
            await self._mount_pending()
        widget = item.build()
        item.view = widget
        self._items.append(item)
        await self.mount(widget)
        await self._prune()  # by the heights of the last layout: the newest may still be 0
        return item

    async def add(self, widget: Widget) -> Widget:
        """Append a widget (its ``item`` if it has one, else a :class:`WidgetItem`)."""
        if self._pending:
            await self._mount_pending()
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
        """The widget of the answer being streamed, if any (None before its first frame)."""
        view = self._answer.view if self._answer is not None else None
        return view if isinstance(view, MessageView) else None

    @property
    def streaming(self) -> bool:
        """An answer (or reasoning) is being streamed."""
        return self._answer is not None or self._thinking is not None

    @property
    def live_markdown_count(self) -> int:
        return sum(1 for child in self.children if isinstance(child, MessageView) and child.has_live_markdown)

    async def text_delta(self, text: str) -> None:
        if self._answer is None:
            if self._thinking is not None:
                thinking, self._thinking = self._thinking, None
                await self._finish_item(thinking)
            self._answer = MessageItem("assistant", streaming=True)
            self._queue(self._answer)
        _feed(self._answer, text)

    async def thinking_delta(self, text: str) -> None:
        if not text:
            return
        if self._thinking is None:
            self._thinking = MessageItem("thinking", streaming=True)
            self._queue(self._thinking)
        _feed(self._thinking, text)

    def _queue(self, item: TranscriptItem) -> None:
        """Add ``item`` to the history; its widget comes with the next frame."""
        self._items.append(item)
        self._pending.append(item)
        self._start_timer()

    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.resume()

    async def _tick(self) -> None:
        """The frame: streamed text is written; new items are mounted at most every
        :data:`MOUNT_SECONDS` while the view follows a burst of them."""
        await self.flush(mount=not self._mount_deferred())

    def _mount_deferred(self) -> bool:
        if not self._pending or not self.following:
            return False
        if time.monotonic() - self._last_mount >= MOUNT_SECONDS:
            return False
        return not any(isinstance(item, MessageItem) and item.live for item in self._pending)

    async def flush(self, *, mount: bool = True) -> None:
        """Mount what was added since the last frame; write the streamed messages' new
        text (called once per frame; call it to have everything on screen now)."""
        if self._pending and mount:
            self._last_mount = time.monotonic()
            await self._mount_pending()
        for item in (self._thinking, self._answer):
            view = item.view if item is not None else None
            if isinstance(view, MessageView) and view.is_mounted and view.has_pending:
                await view.flush()
                if view.full:
                    await self._continue(view)
        if not self._pending and not self.streaming and self._timer is not None:
            self._timer.pause()

    async def _mount_pending(self) -> None:
        """Build and mount the items added since the last frame, in one go.

        While the view follows the end, items that would be pruned at once (more
        arrived than the window holds) are not built: they stay in the history, shown if
        the user scrolls back.
        """
        if self._busy:
            return
        pending, self._pending = self._pending, []
        if self.following and len(pending) > 1:
            keep = self._newest_that_fit(pending)
            mounted = self._items[self._first : len(self._items) - len(pending)]
            if keep < len(pending) and not any(item.live for item in mounted):
                skipped = len(pending) - keep
                await self._unmount_oldest(len(mounted), skipped=skipped)
                pending = pending[skipped:]
        widgets = [item.build() for item in pending]
        for item, widget in zip(pending, widgets):
            item.view = widget
        async with self._mounting:  # a stream that ends meanwhile waits for its widget
            await self.mount_all(widgets)
        await self._prune()

    def _newest_that_fit(self, pending: list[TranscriptItem]) -> int:
        """How many of the newest ``pending`` items to build: enough to fill the window
        by their estimated heights, and every one from the oldest live item on."""
        width = max(20, self.size.width - 2)
        # Two screens: what the user can see now and scroll up to at once (the window
        # kept mounted is larger, :meth:`_line_budget`; scrolling up builds the rest).
        budget, lines, count = 2 * max(1, self.size.height), 0, 0
        for item in reversed(pending):
            if lines >= budget and count >= 1:
                break
            lines += _estimated_height(item, width)
            count += 1
        first_live = next((i for i, item in enumerate(pending) if item.live), len(pending))
        return max(count, len(pending) - first_live)

    async def _continue(self, view: MessageView) -> None:
        """Carry a long streamed message on in a new item (see ``MessageView.MAX_VIEW_CHARS``)."""
        new = view.split_off()
        # Before anything is awaited: deltas arriving meanwhile go to the new message's
        # widget (shown once it is mounted), not only to its item.
        new.item.view = new
        if view.item is self._answer:
            self._answer = new.item
        else:
            self._thinking = new.item
        overflow = await view.finish()
        assert overflow is None  # split_off left nothing to finish
        if new.item.finished:  # the streams were finished meanwhile (unmounted: static now)
            await self.add_item(new.item)
        else:
            await self.add(new)

    async def _finish_item(self, item: MessageItem, stopped: bool = False) -> None:
        view = item.view
        if isinstance(view, MessageView):
            if not view.is_mounted and self._mounting.locked():
                async with self._mounting:  # being mounted right now: finish it once it is
                    pass
            await self._finish(view, stopped)
            return
        # Never mounted (it ended before its first frame): finished as data, cut into
        # pieces, and into items of bounded size, as a streamed one would have been.
        parts = _finished_parts(item.text)
        if item not in self._pending:  # (not expected) keep it one item
            parts = [[piece for part in parts for piece in part]]
        last = item
        for extra in parts[1:]:
            more = MessageItem(item.role, "".join(extra), markdown=item.markdown, continues=True)
            more.pieces = extra
            self._items.insert(self._items.index(last) + 1, more)
            self._pending.insert(self._pending.index(last) + 1, more)
            last = more
        item.pieces = parts[0]
        item.chunks = ["".join(parts[0])] if parts[0] else []
        item.finished = True
        last.stopped = last.stopped or stopped

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
            await self._finish_item(thinking, stopped=stopped and answer is None)
        if answer is not None:
            await self._finish_item(answer, stopped=stopped)
        if self._timer is not None and not self._pending:
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
            self._queue(item)
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
        mounted = self._items[self._first : len(self._items) - len(self._pending)]
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

    async def _unmount_oldest(self, count: int, *, skipped: int = 0) -> None:
        """Unmount the ``count`` oldest mounted items (and pass over ``skipped`` never
        mounted ones right after them: the window starts after those)."""
        self._busy = True
        try:
            victims = self._items[self._first : self._first + count]
            widgets = [item.view for item in victims if item.view is not None]
            for item in victims:
                item.view = None
            self._first += count + skipped
            await self._show_marker()
            nodes = subtree(widgets)
            await self.remove_children(widgets)
            drop_render_caches(nodes)
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
        if self._pending:
            await self._mount_pending()
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


def _feed(item: MessageItem, text: str) -> None:
    """Text for a streamed message: to its widget once it has one, else to the item."""
    view = item.view
    if isinstance(view, MessageView):
        view.feed(text)
    elif text:
        item.chunks.append(text)


def _finished_parts(text: str) -> list[list[str]]:
    """A message's text cut as streaming cuts it: pieces at block boundaries
    (:class:`~tui.widgets.message.Segmenter`), grouped into items of at most about
    ``MessageView.MAX_VIEW_CHARS`` characters. At least one (maybe empty) group."""
    segmenter = Segmenter(soft=MessageView.SOFT_LIMIT, hard=MessageView.HARD_LIMIT)
    segmenter.add(text)
    groups: list[list[str]] = [[]]
    size = 0
    while (piece := segmenter.take()) is not None:
        if size >= MessageView.MAX_VIEW_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += len(piece)
    rest = segmenter.text
    if rest.strip() or (rest and groups[-1]):
        if size >= MessageView.MAX_VIEW_CHARS:
            groups.append([])
        groups[-1].append(rest)
    return groups


def _estimated_height(item: TranscriptItem, width: int) -> int:
    """About how many lines ``item`` takes at ``width`` (to choose what to build)."""
    if isinstance(item, MessageItem):
        text = item.text
        return 2 + sum(1 + len(line) // width for line in text.splitlines())
    if isinstance(item, ToolCallItem):
        if item.collapsed or item.result_text is None:
            return 2
        return 4 + min(item.result_text.count("\n") + 1, 200)
    return 2
