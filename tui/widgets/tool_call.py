"""A tool call in the transcript: a collapsible block with its arguments, decision and result.

The title line says what was called and how it went (``⚙ read src/a.py · ✓``); the body
holds the arguments (the full command for ``bash``), the permission decision, and the
result — a unified diff (edits) shown with diff colouring. Long results are clipped on
screen (the model got the full text; the session store keeps it).

The call's state lives on a :class:`ToolCallItem` (the transcript's history); the
:class:`ToolCallBlock` widget shows it and can be unmounted and built again from it at
any time. Update a call through the item (``transcript.tool(call_id).result(...)``).
"""

from __future__ import annotations

import json
from typing import Any

from textual import events
from textual._context import active_app
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.content import Content
from textual.style import Style
from textual.widget import Widget
from textual.widgets import Static

from agentic_flow.tui.widgets.transcript_item import TranscriptItem

__all__ = ["ToolCallBlock", "ToolCallItem", "ToolCallTitle", "render_diff", "looks_like_diff", "format_arguments", "summarize_call"]

MAX_RESULT_LINES = 200
MAX_STREAMED_ARGS = 600
_DIFF_STYLES = {
    "+": "$text-success",
    "-": "$text-error",
    "@": "$text-accent",
}


def looks_like_diff(text: str) -> bool:
    """A unified diff (or a tool result that carries one)?"""
    return "\n@@ " in text or text.startswith("@@ ") or text.startswith("--- ") or "\n--- " in text


def render_diff(text: str, *, max_lines: int | None = None) -> Content:
    """Colour a unified diff: additions, removals, hunk headers; other lines as they are."""
    lines = text.splitlines()
    extra = 0
    if max_lines is not None and len(lines) > max_lines:
        extra = len(lines) - max_lines
        lines = lines[:max_lines]
    parts: list[tuple[str, str] | str] = []
    for line in lines:
        if line.startswith(("+++", "---")):
            parts.append((line + "\n", "bold"))
        elif line[:1] in _DIFF_STYLES:
            parts.append((line + "\n", _DIFF_STYLES[line[:1]]))
        else:
            parts.append(line + "\n")
    if extra:
        parts.append((f"… {extra} more lines\n", "italic $text-muted"))
    return Content.assemble(*parts).rstrip()


def _clip(text: str, max_lines: int = MAX_RESULT_LINES) -> Content:
    lines = text.splitlines()
    if len(lines) <= max_lines:
        return Content(text.rstrip())
    shown = "\n".join(lines[:max_lines])
    return Content.assemble(shown + "\n", (f"… {len(lines) - max_lines} more lines", "italic $text-muted"))


def format_arguments(tool: str, arguments: dict[str, Any] | None) -> str:
    """Arguments for people: the full command for bash, ``key: value`` lines otherwise."""
    if not arguments:
        return "(no arguments)"
    if tool == "bash" and isinstance(arguments.get("command"), str):
        rest = {k: v for k, v in arguments.items() if k != "command"}
        extra = "".join(f"\n{k}: {_value(v)}" for k, v in rest.items())
        return f"$ {arguments['command']}{extra}"
    return "\n".join(f"{key}: {_value(value)}" for key, value in arguments.items())


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def summarize_call(tool: str, arguments: dict[str, Any] | None) -> str:
    """One short line: ``read src/a.py``, ``bash $ git status``."""
    if not arguments:
        return tool
    if tool == "bash" and isinstance(arguments.get("command"), str):
        head = arguments["command"].splitlines()[0] if arguments["command"] else ""
        return f"bash $ {head[:60]}"
    if tool == "agent" and isinstance(arguments.get("subagent_type"), str):
        return f"agent → {arguments['subagent_type']}: {str(arguments.get('description', ''))[:60]}"
    for key in ("path", "file_path", "pattern", "url", "query"):
        value = arguments.get(key)
        if isinstance(value, str):
            return f"{tool} {value[:60]}"
    return tool


class ToolCallItem(TranscriptItem):
    """A tool call of the transcript's history; grows as the call streams, is decided and returns.

    Args:
        call_id: the provider's id of the call.
        name: the tool's user-facing name.
    """

    kind = "tool"

    def __init__(self, call_id: str, name: str) -> None:
        super().__init__()
        self.call_id = call_id
        self.name = name
        self.raw_arguments = ""
        self.arguments: dict[str, Any] | None = None
        self.status = "running"
        """``running``, ``pending`` (waiting for a person), ``ok``, ``error`` or ``denied``."""
        self.mark = ""
        self.args_error: str | None = None
        self.decision: str | None = None
        self.denied = False
        self.result_text: str | None = None
        self.result_is_error = False
        self.result_is_diff = False
        self.collapsed = True
        # Only strings are kept (the widget builds its Content from them): a session's
        # history of items stays small, and so does what a full collection walks.

    @property
    def args_content(self) -> Content:
        """The arguments as shown: the streamed start, the formatted call, or the error."""
        if self.args_error is not None:
            return Content.assemble(self.raw_arguments + "\n", (self.args_error, "$text-error"))
        if self.mark:  # ready: the formatted arguments
            return Content(format_arguments(self.name, self.arguments))
        raw = self.raw_arguments
        if len(raw) > MAX_STREAMED_ARGS:  # a long write streams its whole file: show the start
            raw = raw[:MAX_STREAMED_ARGS] + f" … ({len(self.raw_arguments):,} characters)"
        return Content(raw)

    @property
    def result_content(self) -> Content | None:
        if self.result_text is None:
            return None
        if self.result_is_diff:
            return render_diff(self.result_text, max_lines=MAX_RESULT_LINES)
        return _clip(self.result_text)

    @property
    def tool(self) -> str:
        return self.name

    @property
    def title(self) -> str:
        if not self.mark:  # nothing known yet but the name
            return f"⚙ {self.name} …"
        return f"⚙ {summarize_call(self.name, self.arguments)} · {self.mark}"

    @property
    def live(self) -> bool:
        return self.status in ("running", "pending")

    def build(self) -> "ToolCallBlock":
        return ToolCallBlock(item=self)

    def _changed(self) -> None:
        if isinstance(self.view, ToolCallBlock):
            self.view.request_sync()

    def _set_status(self, status: str, mark: str) -> None:
        self.status = status
        self.mark = mark

    def args_delta(self, delta: str) -> None:
        self.raw_arguments += delta
        self._changed()

    def ready(self, arguments: dict[str, Any] | None, error: str | None = None) -> None:
        self.arguments = arguments
        if error:
            self.args_error = error
            self._set_status("error", "✗ bad arguments")
        else:
            self._set_status("running", "…")
        self._changed()

    def pending(self) -> None:
        """Waiting for a person (the permission panel shows the details)."""
        self._set_status("pending", "awaiting approval")
        self._changed()

    def decided(self, allowed: bool, scope: str, decided_by: str, reason: str | None) -> None:
        verb = "allowed" if allowed else "denied"
        self.decision = f"{verb} ({scope}) by {decided_by}" + (f": {reason}" if reason else "")
        self.denied = not allowed
        if allowed:
            self._set_status("running", "running")
        else:
            self._set_status("denied", "denied")
        self._changed()

    def result(self, content: str, is_error: bool) -> None:
        self.result_text = content
        self.result_is_error = is_error
        if self.status == "denied":
            mark, status = "denied", "denied"
        else:
            mark, status = ("✗", "error") if is_error else ("✓", "ok")
        if looks_like_diff(content) and not is_error:
            self.result_is_diff = True
            self.collapsed = False  # a change to the user's files is shown, not hidden
        self._set_status(status, mark)
        self._changed()


def _text_colour(name: str, variables: dict[str, str]) -> str | Style:
    """The style of the theme's colour ``$name`` for a part of a Content, as the CSS
    ``color: $name`` of a widget shows it.

    Content's style strings lose the alpha of automatic colours (``$text-muted`` is
    ``auto 60%``: the contrasting colour at 60%, shown as plain white), so those become a
    Style with the automatic colour, which is blended with the background where shown.
    """
    words = variables.get(name, "").split()
    if words[:1] == ["auto"]:
        percent = float(words[1].rstrip("%")) if len(words) > 1 else 100.0
        return Style(foreground=Color.automatic(percent))
    return f"${name}"


class ToolCallTitle(Static, can_focus=True):
    """The title line of a :class:`ToolCallBlock`: ``▶``/``▼`` and what was called.

    A click, or enter/space while it has focus, opens or closes its block. It looks like
    Textual's ``CollapsibleTitle`` (whose style this copies).
    """

    BINDING_GROUP_TITLE = "Tool call"
    ALLOW_SELECT = False
    DEFAULT_CSS = """
    ToolCallTitle {
        width: auto;
        height: auto;
        padding: 0 1;
        text-style: $block-cursor-blurred-text-style;
        color: $block-cursor-blurred-foreground;
        pointer: pointer;

        &:hover {
            background: $block-hover-background;
            color: $foreground;
        }
        &:focus {
            text-style: $block-cursor-text-style;
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
    }
    """

    BINDINGS = [
        Binding("enter", "toggle_block", "Toggle", show=False),
        Binding("space", "toggle_block", "Toggle", show=False),
    ]

    def __init__(self, label: str, collapsed: bool) -> None:
        self.label = label
        self.collapsed = collapsed
        super().__init__(self._content(), markup=False)

    def _content(self) -> Content:
        return Content.assemble("▶" if self.collapsed else "▼", " ", Content(self.label))

    def show(self, label: str, collapsed: bool) -> None:
        """Show ``label`` and the open or closed symbol (no update if neither changed)."""
        if label != self.label or collapsed != self.collapsed:
            self.label = label
            self.collapsed = collapsed
            self.update(self._content())

    async def _on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_toggle_block()

    def action_toggle_block(self) -> None:
        block = self.parent
        if isinstance(block, ToolCallBlock):
            block.toggle()


class ToolCallBlock(Widget):
    """The widget of one :class:`ToolCallItem`: title line, arguments, decision, result.

    Three widgets: the block, its title (:class:`ToolCallTitle`) and one body whose
    content joins the arguments, the decision and the result (a session mounts hundreds
    of blocks: each widget costs mounting, styling and layout). The body is built while
    the block is open; a closed block builds it when it is opened.

    Args:
        call_id: the provider's id of the call (a new item is made for it)...
        name: ...and the tool's name; or
        item: the history item to show.
    """

    ALLOW_MAXIMIZE = True
    # Textual's Collapsible, then what a tool call changes (Collapsible's Contents
    # padding is the body's).
    DEFAULT_CSS = """
    ToolCallBlock {
        width: 1fr;
        height: auto;
        background: $surface;
        margin: 0 0 1 0;
        padding: 0;
        border-left: thick $accent 60%;

        &:focus-within {
            background-tint: $foreground 5%;
        }
        &.-collapsed > .body {
            display: none;
        }
        &:ansi {
            border-top: hkey ansi_blue;
            background: $panel;
        }
        & > .body {
            width: 100%;
            height: auto;
            padding: 0 0 0 2;
        }
    }
    ToolCallBlock.-ok { border-left: thick $success; }
    ToolCallBlock.-error { border-left: thick $error; }
    ToolCallBlock.-denied { border-left: thick $warning; }
    ToolCallBlock.-pending { border-left: thick $warning; background: $warning 10%; }
    """

    def __init__(self, call_id: str = "", name: str = "", *, item: ToolCallItem | None = None) -> None:
        self.item = item if item is not None else ToolCallItem(call_id, name)
        item = self.item
        self._collapsed = item.collapsed
        self._shown_status = item.status
        self._body_stale = True  # the body is built when shown (see _show_body)
        self._result: Content | None = None  # the result as shown, once there is one
        self._body_variables: dict[str, str] | None = None  # the theme's, when it was built
        self._sync_queued = False
        classes = f"-{item.status}" + (" -collapsed" if self._collapsed else "")
        super().__init__(classes=classes)
        self._title = ToolCallTitle(item.title, self._collapsed)
        self._body = Static(classes="body", markup=False)
        if not self._collapsed:
            self._show_body()

    def compose(self) -> ComposeResult:
        yield self._title
        yield self._body

    # The state, read from the item (the widget may be rebuilt at any time).
    call_id = property(lambda self: self.item.call_id)
    tool = property(lambda self: self.item.name)
    status = property(lambda self: self.item.status)
    arguments = property(lambda self: self.item.arguments)
    raw_arguments = property(lambda self: self.item.raw_arguments)
    result_text = property(lambda self: self.item.result_text)

    @property
    def title(self) -> str:
        """The title line as shown (without the open/closed symbol)."""
        return self._title.label

    @property
    def body_text(self) -> str:
        """The body as shown (plain text): the arguments, the decision and the result,
        one after the other; empty until the block was first open."""
        content = self._body.content
        return content.plain if isinstance(content, Content) else str(content)

    @property
    def collapsed(self) -> bool:
        """Only the title line is shown; setting it opens or closes the block (and the
        item remembers the choice: it outlives this widget)."""
        return self._collapsed

    @collapsed.setter
    def collapsed(self, collapsed: bool) -> None:
        self.item.collapsed = collapsed
        if collapsed != self._collapsed:
            self._set_collapsed(collapsed)
            self._title.show(self._title.label, collapsed)

    def _set_collapsed(self, collapsed: bool, *, restyle: bool = True) -> None:
        # Unlike Textual's Collapsible, no scroll here: a scroll releases the transcript's
        # anchor, so an edit's diff opening by itself would stop the view from following
        # the answer. The user's toggle scrolls (see toggle).
        self._collapsed = collapsed
        if not collapsed and self._body_stale:
            self._show_body()
        self.set_class(collapsed, "-collapsed", update=restyle)

    def toggle(self) -> None:
        """The user opens or closes the block (an opened block is scrolled into view whole,
        which stops the transcript from following the end)."""
        self.collapsed = not self.collapsed
        if self.is_mounted and not self.collapsed:
            self.call_after_refresh(self.scroll_visible)

    def _show_body(self) -> None:
        item = self.item
        try:
            variables = active_app.get().theme_variables
        except LookupError:  # (built outside an app: the theme's colours by name)
            variables = {}
        self._body_variables = variables
        parts = [item.args_content.stylize_before(_text_colour("text", variables))]
        if item.decision is not None:
            colour = _text_colour("text-warning" if item.denied else "text-muted", variables)
            parts.append(Content.styled(item.decision, colour))
        if item.result_text is not None:
            if self._result is None:  # a result does not change once it came
                self._result = item.result_content
            assert self._result is not None
            parts.append(self._result.stylize_before(_text_colour("text-error", variables)) if item.result_is_error else self._result)
        self._body.update(Content("\n").join(parts))
        self._body_stale = False

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._body_variables is not None and self._body_variables is not self.app.theme_variables:
            # Another theme: the body's automatic colours are chosen again (see _text_colour).
            if self._collapsed:
                self._body_stale = True
            else:
                self._show_body()

    def request_sync(self) -> None:
        """Show the item's state once the events queued now are handled: the changes of
        a call that arrive together (its arguments, decision and result) cost one update
        and at most one restyle of the block, not one each."""
        if self._sync_queued:
            return
        if not self.is_attached:
            self.sync()
            return
        self._sync_queued = True
        self.call_later(self._queued_sync)

    def _queued_sync(self) -> None:
        self._sync_queued = False
        self.sync()

    def sync(self) -> None:
        """Show the item's current state."""
        item = self.item
        # One restyle of the block's subtree for the changes (status, opened), not one each.
        new_status = item.status != self._shown_status
        if new_status:
            self.remove_class(f"-{self._shown_status}", update=False)
        if item.collapsed != self._collapsed:
            self._set_collapsed(item.collapsed, restyle=not new_status)  # (builds the body)
        elif self._collapsed:  # hidden while closed: built when opened
            self._body_stale = True
        else:
            self._show_body()
        if new_status:
            self._shown_status = item.status
            self.add_class(f"-{item.status}")
        self._title.show(item.title, self._collapsed)

    # Kept for callers that hold the widget: the same updates, made on the item.
    def args_delta(self, delta: str) -> None:
        self.item.args_delta(delta)

    def ready(self, arguments: dict[str, Any] | None, error: str | None = None) -> None:
        self.item.ready(arguments, error)

    def pending(self) -> None:
        self.item.pending()

    def decided(self, allowed: bool, scope: str, decided_by: str, reason: str | None) -> None:
        self.item.decided(allowed, scope, decided_by, reason)

    def result(self, content: str, is_error: bool) -> None:
        self.item.result(content, is_error)
