"""The transcript: a scrolling list of message widgets and tool-call blocks.

It turns the session's typed events into widgets. Text deltas are only queued on the
message being streamed; a frame timer (~30 Hz) flushes them in one batch, so a fast
model costs one Markdown append per frame, not one per token. Only the messages being
streamed hold a live Markdown; everything finished is a static renderable. The oldest
items are unmounted past :attr:`Transcript.max_items` (the session store keeps them),
so the layout cost does not grow with the length of the session.
"""

from __future__ import annotations

from typing import Any

from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from agentic_flow.tui.widgets.message import MessageView, Role
from agentic_flow.tui.widgets.tool_call import ToolCallBlock

__all__ = ["Transcript", "FRAME_SECONDS"]

FRAME_SECONDS = 1 / 30


class Transcript(VerticalScroll):
    """The conversation so far.

    Args:
        max_items: most widgets kept mounted; older ones are dropped from the screen.
        max_lines: most lines kept mounted, likewise: Textual's compositor spends time
            per frame in proportion to the height of what is mounted.
    """

    DEFAULT_CSS = """
    Transcript {
        height: 1fr;
        layout: stream;
        padding: 0;
        background: $background;
        scrollbar-size-vertical: 1;
    }
    Transcript.-streaming {
        /* Repainting the scrollbar was the costliest widget of a streamed frame; the
           gutter stays, so nothing moves when it comes back. */
        scrollbar-visibility: hidden;
    }
    Transcript > .hidden-count {
        color: $text-muted;
        text-style: italic;
        margin: 0 0 1 0;
    }
    """

    can_focus = True

    def __init__(self, *, max_items: int = 400, max_lines: int = 8000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_items = max_items
        self.max_lines = max_lines
        self._answer: MessageView | None = None
        self._thinking: MessageView | None = None
        self._tools: dict[str, ToolCallBlock] = {}
        self._timer: Timer | None = None
        self._hidden = 0
        self._marker: Static | None = None
        self._prune_busy = False

    def on_mount(self) -> None:
        self.anchor()
        self._timer = self.set_interval(FRAME_SECONDS, self.flush, pause=True)

    # -- generic items ------------------------------------------------------------------
    async def add(self, widget: Widget) -> Widget:
        await self.mount(widget)
        await self._prune()  # by the heights of the last layout: the newest may still be 0
        return widget

    async def add_message(self, role: Role, text: str, *, markdown: bool | None = None) -> MessageView:
        await self.finish_streams()
        view = MessageView(role, text, markdown=markdown)
        await self.add(view)
        return view

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
        self.add_class("-streaming")

    async def flush(self) -> None:
        """Write pending text of the streamed messages (called once per frame)."""
        for view in (self._thinking, self._answer):
            if view is not None and view.is_mounted and view.has_pending:
                await view.flush()

    async def _finish(self, view: MessageView, stopped: bool = False) -> None:
        if view.is_mounted:
            await view.finish(stopped=stopped)

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
        self.remove_class("-streaming")
        await self._prune()

    # -- tool calls -----------------------------------------------------------------------
    async def tool_started(self, call_id: str, name: str) -> ToolCallBlock:
        await self.finish_streams()
        block = self._tools.get(call_id)
        if block is None:
            block = ToolCallBlock(call_id, name)
            self._tools[call_id] = block
            await self.add(block)
        return block

    def tool(self, call_id: str) -> ToolCallBlock | None:
        return self._tools.get(call_id)

    async def tool_args(self, call_id: str, delta: str) -> None:
        block = self._tools.get(call_id)
        if block is not None:
            block.args_delta(delta)

    async def tool_ready(self, call_id: str, name: str, arguments: dict[str, Any] | None, error: str | None) -> None:
        block = self._tools.get(call_id) or await self.tool_started(call_id, name)
        block.ready(arguments, error)

    async def tool_pending(self, call_id: str) -> None:
        block = self._tools.get(call_id)
        if block is not None:
            block.pending()

    async def tool_decided(
        self, call_id: str, tool: str, allowed: bool, scope: str, decided_by: str, reason: str | None
    ) -> None:
        block = self._tools.get(call_id) or await self.tool_started(call_id, tool)
        block.decided(allowed, scope, decided_by, reason)

    async def tool_result(self, call_id: str, name: str, content: str, is_error: bool) -> None:
        block = self._tools.get(call_id) or await self.tool_started(call_id, name)
        block.result(content, is_error)

    # -- pruning ----------------------------------------------------------------------------
    async def _prune(self) -> None:
        if self._prune_busy:
            return
        self._prune_busy = True
        try:
            await self._prune_now()
        finally:
            self._prune_busy = False

    async def _prune_now(self) -> None:
        items = [c for c in self.children if c is not self._marker]
        live = {self._answer, self._thinking}
        excess = len(items) - self.max_items
        lines = sum(item.outer_size.height for item in items)
        victims: list[Widget] = []
        for item in items[:-1]:  # never the newest
            if excess <= 0 and lines <= self.max_lines:
                break
            if item in live:
                continue
            victims.append(item)
            excess -= 1
            lines -= item.outer_size.height
        if not victims:
            return
        for widget in victims:
            if isinstance(widget, ToolCallBlock):
                self._tools.pop(widget.call_id, None)
        self._hidden += len(victims)
        text = Content(f"… {self._hidden} earlier items are not shown (the session store keeps them)")
        if self._marker is None:
            self._marker = Static(text, classes="hidden-count")
            await self.mount(self._marker, before=0)
        else:
            self._marker.update(text)
        await self.remove_children(victims)
