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

from textual.content import Content
from textual.widgets import Collapsible, Static

from agentic_flow.tui.widgets.transcript_item import TranscriptItem

__all__ = ["ToolCallBlock", "ToolCallItem", "render_diff", "looks_like_diff", "format_arguments", "summarize_call"]

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


class ToolCallBlock(Collapsible):
    """The widget of one :class:`ToolCallItem`: title line, arguments, decision, result.

    Args:
        call_id: the provider's id of the call (a new item is made for it)...
        name: ...and the tool's name; or
        item: the history item to show.
    """

    DEFAULT_CSS = """
    ToolCallBlock {
        margin: 0 0 1 0;
        padding: 0;
        border-top: none;
        border-left: thick $accent 60%;
        background: $surface;
    }
    ToolCallBlock.-ok { border-left: thick $success; }
    ToolCallBlock.-error { border-left: thick $error; }
    ToolCallBlock.-denied { border-left: thick $warning; }
    ToolCallBlock.-pending { border-left: thick $warning; background: $warning 10%; }
    ToolCallBlock Contents { padding: 0 0 0 2; }
    ToolCallBlock .section { color: $text-muted; text-style: bold; }
    ToolCallBlock .args { color: $text; }
    ToolCallBlock .decision { color: $text-muted; }
    ToolCallBlock .decision.-denied { color: $text-warning; }
    ToolCallBlock .result.-error { color: $text-error; }
    """

    def __init__(self, call_id: str = "", name: str = "", *, item: ToolCallItem | None = None) -> None:
        self.item = item if item is not None else ToolCallItem(call_id, name)
        item = self.item
        self._args = Static(item.args_content, classes="args", markup=False)
        self._decision = Static(item.decision or "", classes="decision", markup=False)
        self._result = Static(item.result_content or "", classes="result", markup=False)
        self._shown_status = item.status
        self._args_stale = False
        self._sync_queued = False
        super().__init__(
            self._args, self._decision, self._result, title=item.title, collapsed=item.collapsed,
            classes=f"-{item.status}",
        )
        self._decision.display = item.decision is not None
        self._decision.set_class(item.denied, "-denied")
        self._result.display = item.result_text is not None
        self._result.set_class(item.result_is_error, "-error")

    # The state, read from the item (the widget may be rebuilt at any time).
    call_id = property(lambda self: self.item.call_id)
    tool = property(lambda self: self.item.name)
    status = property(lambda self: self.item.status)
    arguments = property(lambda self: self.item.arguments)
    raw_arguments = property(lambda self: self.item.raw_arguments)
    result_text = property(lambda self: self.item.result_text)

    def _on_collapsible_title_toggle(self, event: Any) -> None:
        event.stop()
        self.collapsed = not self.collapsed
        if self.is_mounted:  # the user opened it: show it whole (this stops following the end)
            self.call_after_refresh(self.scroll_visible)

    def _watch_collapsed(self, collapsed: bool) -> None:
        # Not Collapsible's watcher: it scrolls the block into view on every change, and a
        # scroll releases the transcript's anchor, so an edit's diff opening by itself
        # would stop the view from following the answer.
        self._update_collapsed(collapsed)
        self.post_message(self.Collapsed(self) if collapsed else self.Expanded(self))
        self.item.collapsed = collapsed  # the user's choice outlives this widget
        if not collapsed and self._args_stale:
            self._args_stale = False
            self._args.update(self.item.args_content)

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
        if not self.collapsed or item.args_error is not None or item.mark:
            self._args.update(item.args_content)
        else:  # hidden while collapsed: shown when opened (see _watch_collapsed)
            self._args_stale = True
        if item.decision is not None:
            self._decision.update(Content(item.decision))
            self._decision.display = True
            self._decision.set_class(item.denied, "-denied")
        result = item.result_content if item.result_text is not None and not self._result.display else None
        if result is not None:
            self._result.update(result)
            self._result.display = True
            self._result.set_class(item.result_is_error, "-error")
        if item.status != self._shown_status:
            # One restyle of the block's subtree for the change, not one per class.
            self.remove_class(f"-{self._shown_status}", update=False)
            self._shown_status = item.status
            self.add_class(f"-{item.status}")
        self.title = item.title
        if self.collapsed != item.collapsed:
            self.collapsed = item.collapsed

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
