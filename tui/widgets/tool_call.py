"""A tool call in the transcript: a collapsible block with its arguments, decision and result.

The title line says what was called and how it went (``⚙ read src/a.py · ✓``); the body
holds the arguments (the full command for ``bash``), the permission decision, and the
result — a unified diff (edits) shown with diff colouring. Long results are clipped on
screen (the model got the full text; the session store keeps it).
"""

from __future__ import annotations

import json
from typing import Any

from textual.content import Content
from textual.widgets import Collapsible, Static

__all__ = ["ToolCallBlock", "render_diff", "looks_like_diff", "format_arguments", "summarize_call"]

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
    for key in ("path", "file_path", "pattern", "url", "query"):
        value = arguments.get(key)
        if isinstance(value, str):
            return f"{tool} {value[:60]}"
    return tool


class ToolCallBlock(Collapsible):
    """One tool call; grows as the call streams, is decided and returns.

    Args:
        call_id: the provider's id of the call.
        name: the tool's user-facing name.
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

    def __init__(self, call_id: str, name: str) -> None:
        self._args = Static("", classes="args", markup=False)
        self._decision = Static("", classes="decision", markup=False)
        self._result = Static("", classes="result", markup=False)
        self._decision.display = False
        self._result.display = False
        super().__init__(self._args, self._decision, self._result, title=f"⚙ {name} …", collapsed=True)
        self.call_id = call_id
        self.tool = name
        self.raw_arguments = ""
        self.arguments: dict[str, Any] | None = None
        self.status = "running"
        self.result_text: str | None = None
        self.add_class("-running")

    def _set_status(self, status: str, mark: str = "") -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        summary = summarize_call(self.tool, self.arguments)
        self.title = f"⚙ {summary}" + (f" · {mark}" if mark else "")

    def args_delta(self, delta: str) -> None:
        self.raw_arguments += delta
        raw = self.raw_arguments
        if len(raw) > MAX_STREAMED_ARGS:  # a long write streams its whole file: show the start
            raw = raw[:MAX_STREAMED_ARGS] + f" … ({len(self.raw_arguments):,} characters)"
        self._args.update(Content(raw))

    def ready(self, arguments: dict[str, Any] | None, error: str | None = None) -> None:
        self.arguments = arguments
        if error:
            self._args.update(Content.assemble(self.raw_arguments + "\n", (error, "$text-error")))
            self._set_status("error", "✗ bad arguments")
            return
        self._args.update(Content(format_arguments(self.tool, arguments)))
        self._set_status("running", "…")

    def pending(self) -> None:
        """Waiting for a person (the permission panel shows the details)."""
        self._set_status("pending", "awaiting approval")

    def decided(self, allowed: bool, scope: str, decided_by: str, reason: str | None) -> None:
        verb = "allowed" if allowed else "denied"
        text = f"{verb} ({scope}) by {decided_by}" + (f": {reason}" if reason else "")
        self._decision.update(Content(text))
        self._decision.display = True
        self._decision.set_class(not allowed, "-denied")
        if not allowed:
            self._set_status("denied", "denied")
        else:
            self._set_status("running", "running")

    def result(self, content: str, is_error: bool) -> None:
        self.result_text = content
        if self.status == "denied":
            mark, status = "denied", "denied"
        else:
            mark, status = ("✗", "error") if is_error else ("✓", "ok")
        if looks_like_diff(content) and not is_error:
            self._result.update(render_diff(content, max_lines=MAX_RESULT_LINES))
            self.collapsed = False  # a change to the user's files is shown, not hidden
        else:
            self._result.update(_clip(content))
        self._result.display = True
        self._result.set_class(is_error, "-error")
        self._set_status(status, mark)
