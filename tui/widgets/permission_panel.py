"""The permission panel: an explicit, keyboard-first approval for each tool call that needs one.

It is docked above the prompt, outside the scrolling transcript, so a pending approval
is never pushed out of sight by output; several pending approvals queue up and are
answered in order. Its reason line (top) and answer keys (bottom) are docked inside it,
so they stay visible however long the preview is: at 80x24 a 500-line diff scrolls in
the middle (up/down, pgup/pgdn) between them. The keys are in the footer too. It shows
the tool (and which subagent asks, by agent path), its arguments (the full command for ``bash``, a
coloured diff for edits), why it asks (the mode or the rule), the current mode, and
what "always" would save where.

Keys (while the panel has focus):
    y  allow once          s  allow for this session
    a  always allow        r  always allow, with a rule you type (prefilled)
    n  deny (an input asks for an optional reason that goes back to the model)

Editing a call's arguments is not offered: the engine's answer protocol
(``core.permissions.Answer``) carries a kind, a reason and a rule, not new arguments.

The panel does not know the core: it resolves each request's future with a
:class:`PanelAnswer`; :class:`tui.approver.TuiApprover` turns that into the engine's
``Answer``.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from typing import Any, Literal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Static

from agentic_flow.tui.widgets.tool_call import (
    format_arguments,
    looks_like_diff,
    render_diff,
)

__all__ = ["PermissionPanel", "PendingApproval", "PanelAnswer", "AnswerKind"]

AnswerKind = Literal["once", "session", "always", "deny"]


@dataclass(frozen=True)
class PanelAnswer:
    """What the person chose; ``rule`` is set when they typed their own rule."""

    kind: AnswerKind
    reason: str | None = None
    rule: str | None = None


@dataclass(eq=False)
class PendingApproval:
    """One tool call waiting for a person.

    Attributes:
        why: the verdict's reason (``ask mode: commands need approval``).
        decided_by: what asked (``mode:ask``, ``rule:bash(git push*) [file]``, ``dangerous: …``).
        preview: a diff for edits, a command preview for bash (from ``PermissionRequested``).
        always_rule: the exact rule "always" / "session" would add.
        settings_file: where "always" writes it.
        example_rule: a broader rule to prefill the custom-rule input.
        agent: the agent path of a subagent's call (``coder › reviewer``); None for the main agent.
        future: resolved with a :class:`PanelAnswer`.
    """

    call_id: str
    tool: str
    arguments: dict[str, Any]
    why: str
    future: "asyncio.Future[PanelAnswer]"
    decided_by: str = ""
    preview: str | None = None
    always_rule: str | None = None
    settings_file: str | None = None
    example_rule: str | None = None
    dangers: tuple[str, ...] = field(default_factory=tuple)
    agent: str | None = None


class PermissionPanel(Widget, can_focus=True):
    """Queue of pending approvals; shows the first and answers it from the keyboard."""

    DEFAULT_CSS = """
    PermissionPanel {
        height: auto;
        max-height: 65%;
        display: none;
        border: heavy $warning;
        border-title-color: $text-warning;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $warning 8%;
        padding: 0 1;
    }
    PermissionPanel.-active {
        display: block;
    }
    PermissionPanel:focus-within {
        border: heavy $warning;
        background: $warning 14%;
    }
    PermissionPanel > #perm-why {
        dock: top;
        color: $text;
        max-height: 3;
    }
    PermissionPanel > #perm-why.-danger {
        color: $text-error;
        text-style: bold;
    }
    PermissionPanel > #perm-body {
        height: auto;
        max-height: 30;
        background: $surface;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    PermissionPanel > #perm-keys {
        dock: bottom;
        color: $text-muted;
    }
    PermissionPanel > Input {
        dock: bottom;
        display: none;
        margin: 0;
    }
    PermissionPanel > Input.-shown {
        display: block;
    }
    """

    # In the footer too (the panel's own key line says more about each).
    BINDINGS = [
        Binding("y", "answer('once')", "Once"),
        Binding("s", "answer('session')", "Session"),
        Binding("a", "answer('always')", "Always"),
        Binding("r", "custom_rule", "Own rule", show=False),
        Binding("n", "deny", "Deny"),
        Binding("up", "scroll_body(-1)", show=False),
        Binding("down", "scroll_body(1)", show=False),
        Binding("pageup", "scroll_body(-10)", show=False),
        Binding("pagedown", "scroll_body(10)", show=False),
    ]

    mode: reactive[str] = reactive("ask")

    class Answered(Message):
        """A pending approval was answered (the future is already resolved)."""

        def __init__(self, panel: "PermissionPanel", pending: PendingApproval, answer: PanelAnswer) -> None:
            super().__init__()
            self.panel = panel
            self.pending = pending
            self.answer = answer

        @property
        def control(self) -> "PermissionPanel":
            return self.panel

    class Emptied(Message):
        """The last pending approval was answered or withdrawn."""

        def __init__(self, panel: "PermissionPanel") -> None:
            super().__init__()
            self.panel = panel

        @property
        def control(self) -> "PermissionPanel":
            return self.panel

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.queue: list[PendingApproval] = []
        self._input_for: Literal["deny", "rule"] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="perm-why", markup=False)
        with VerticalScroll(id="perm-body", can_focus=False):
            yield Static("", id="perm-args", markup=False)
        yield Static("", id="perm-keys", markup=False)
        yield Input(placeholder="", id="perm-input")

    # -- queue ---------------------------------------------------------------------------
    @property
    def current(self) -> PendingApproval | None:
        return self.queue[0] if self.queue else None

    def add(self, pending: PendingApproval) -> None:
        """Queue a request; it is withdrawn by itself if its future is cancelled."""
        self.queue.append(pending)
        pending.future.add_done_callback(functools.partial(self._withdrawn_when_done, pending))
        self._show()

    def _withdrawn_when_done(self, pending: PendingApproval, _future: object) -> None:
        self._withdrawn(pending)

    def _withdrawn(self, pending: PendingApproval) -> None:
        # Answered requests are popped before their future resolves; whatever is still
        # queued here was cancelled (the answer was stopped) or resolved elsewhere.
        if pending in self.queue:
            self.queue.remove(pending)
            self._show()

    def withdraw_all(self) -> None:
        """Cancel every pending request (the answer was stopped)."""
        for pending in list(self.queue):
            if not pending.future.done():
                pending.future.cancel()
        self.queue.clear()
        self._show()

    def _show(self) -> None:
        if not self.is_mounted or not self.is_attached or not self.children:
            return  # not composed yet, or being torn down (the app is closing)
        pending = self.current
        self.set_class(pending is not None, "-active")
        self._hide_input()
        if pending is None:
            self.post_message(self.Emptied(self))
            return
        count = f"  ·  1 of {len(self.queue)} pending" if len(self.queue) > 1 else ""
        who = f" · asked by {pending.agent}" if pending.agent else ""
        self.border_title = f"⚠ Permission needed: {pending.tool}{who}{count}"
        self.border_subtitle = f"mode {self.mode}  ·  ctrl+t switch mode"
        why = self.query_one("#perm-why", Static)
        asker = _asker(pending.decided_by)
        why.update(Content.assemble(("why: ", "bold"), pending.why, (f"  ({asker})" if asker else "", "$text-muted")))
        why.set_class(bool(pending.dangers) or pending.decided_by.startswith("dangerous"), "-danger")
        self.query_one("#perm-args", Static).update(_body(pending))
        self.query_one("#perm-body", VerticalScroll).scroll_home(animate=False)
        self.query_one("#perm-keys", Static).update(_keys(pending))

    def watch_mode(self, mode: str) -> None:
        if self.current is not None:
            self.border_subtitle = f"mode {mode}  ·  ctrl+t switch mode"

    # -- answering -----------------------------------------------------------------------
    def resolve(self, answer: PanelAnswer) -> None:
        """Answer the current request."""
        pending = self.current
        if pending is None:
            return
        self.queue.pop(0)
        if not pending.future.done():
            pending.future.set_result(answer)
        self.post_message(self.Answered(self, pending, answer))
        self._show()

    def action_answer(self, kind: AnswerKind) -> None:
        if self.current is not None:
            self.resolve(PanelAnswer(kind))

    def action_deny(self) -> None:
        if self.current is not None:
            self._ask_input("deny", "reason for the model (optional) — enter: deny · esc: back", "")

    def action_custom_rule(self) -> None:
        pending = self.current
        if pending is not None:
            prefill = pending.example_rule or pending.always_rule or ""
            where = pending.settings_file or "project settings"
            self._ask_input("rule", f"rule to save to {where} — enter: allow always · esc: back", prefill)

    def action_scroll_body(self, lines: int) -> None:
        self.query_one("#perm-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def _ask_input(self, purpose: Literal["deny", "rule"], placeholder: str, value: str) -> None:
        field_ = self.query_one("#perm-input", Input)
        self._input_for = purpose
        field_.placeholder = placeholder
        field_.value = value
        field_.add_class("-shown")
        field_.focus()
        # A prefilled field hides its placeholder: the keys line says what the keys do.
        self.query_one("#perm-keys", Static).update(Content.styled(placeholder, "$text-muted"))

    def _hide_input(self) -> None:
        field_ = self.query_one("#perm-input", Input)
        had_focus = field_.has_focus
        field_.remove_class("-shown")
        field_.value = ""
        self._input_for = None
        if self.current is not None:
            self.query_one("#perm-keys", Static).update(_keys(self.current))
        if had_focus and self.current is not None:
            self.focus()

    @on(Input.Submitted, "#perm-input")
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        purpose = self._input_for
        was_focused = self.query_one("#perm-input", Input).has_focus
        if purpose == "deny":
            self.resolve(PanelAnswer("deny", reason=text or None))
        elif purpose == "rule":
            self.resolve(PanelAnswer("always", rule=text or None))
        if was_focused and self.current is not None:
            self.focus()

    def on_mount(self) -> None:
        self._show()  # requests queued before the panel was composed

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self._input_for is not None:
            event.stop()
            event.prevent_default()
            self._hide_input()
            self.focus()


def _asker(decided_by: str) -> str:
    if decided_by.startswith("rule:"):
        return "asked by " + decided_by.removeprefix("rule:").strip()
    if decided_by.startswith("mode:"):
        return "asked by the " + decided_by.removeprefix("mode:") + " mode"
    if decided_by.startswith("dangerous"):
        return "dangerous operations always ask"
    return decided_by


def _body(pending: PendingApproval) -> Content:
    args = pending.arguments or {}
    parts: list[Content] = []
    if pending.tool == "bash" and isinstance(args.get("command"), str):
        parts.append(Content.assemble(("$ ", "bold $text-accent"), (args["command"], "bold")))
        rest = {k: v for k, v in args.items() if k != "command"}
        if rest:
            parts.append(Content(format_arguments("other", rest)))
        if pending.preview and pending.preview.strip() != args["command"].strip():
            parts.append(Content(pending.preview))
    elif pending.preview and (looks_like_diff(pending.preview) or pending.tool == "write"):
        # A write's preview is its diff, or a note that nothing would change: either
        # says more than the content it would write (which can be 500 lines long).
        brief = {k: v for k, v in args.items() if k in ("path", "file_path", "replace_all")}
        if brief:
            parts.append(Content(format_arguments(pending.tool, brief)))
        is_diff = looks_like_diff(pending.preview)
        parts.append(render_diff(pending.preview) if is_diff else Content(pending.preview))
    else:
        parts.append(Content(format_arguments(pending.tool, args)))
        if pending.preview:
            parts.append(Content(pending.preview))
    for danger in pending.dangers:
        parts.append(Content.assemble(("⚠ ", "$text-error"), (danger, "$text-error")))
    return Content("\n").join(parts)


def _keys(pending: PendingApproval) -> Content:
    key = "bold $text-accent"
    always = "always"
    if pending.always_rule:
        where = pending.settings_file or "project settings"
        always = f"always: {pending.always_rule} → {where}"
    return Content.assemble(
        ("y", key), " once  ",
        ("s", key), " session  ",
        ("a", key), f" {always}  ",
        ("r", key), " own rule  ",
        ("n", key), " deny",
    )
