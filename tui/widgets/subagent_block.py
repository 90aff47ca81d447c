"""A subagent in the transcript: live status on top, its own transcript inside.

The header says who works on what and how far it got — agent path, model, state, the
tool it is running, turns, tokens, cost — and updates as the subagent's events arrive,
independently of any other block. Enter (or a click) expands the block to the
subagent's full transcript: a :class:`~tui.widgets.transcript.Transcript` of its own, fed
the same way as the main one, so its messages and tool calls look the same. While
collapsed the inner transcript is still fed (hidden), so expanding shows everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from agentic_flow.tui.widgets.status_bar import format_cost, format_tokens
from agentic_flow.tui.widgets.transcript import Transcript

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.events import SubagentFinished, SubagentStarted, SubagentUpdated

__all__ = ["SubagentBlock"]

_STATE_MARK = {
    "running": ("●", "$text-accent"),
    "done": ("✓", "$text-success"),
    "failed": ("✗", "$text-error"),
    "stopped": ("■", "$text-warning"),
}


class SubagentBlock(Widget, can_focus=True):
    """One delegated agent run.

    Args:
        started: the ``SubagentStarted`` event (its ``agent_id`` names the block).
    """

    DEFAULT_CSS = """
    SubagentBlock {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 0 0 1;
        border-left: thick $accent;
        background: $boost;
    }
    SubagentBlock:focus { background: $accent 12%; }
    SubagentBlock.-done { border-left: thick $success; }
    SubagentBlock.-failed { border-left: thick $error; }
    SubagentBlock.-stopped { border-left: thick $warning; }
    SubagentBlock > .sub-task { color: $text-muted; }
    SubagentBlock > Transcript {
        display: none;
        height: auto;
        max-height: 24;
        margin: 1 0 0 0;
        background: $background;
    }
    SubagentBlock.-expanded > Transcript { display: block; }
    """

    BINDINGS = [
        Binding("enter", "toggle_expanded", "Expand", show=False),
        Binding("space", "toggle_expanded", "Expand", show=False),
    ]

    expanded: reactive[bool] = reactive(False)

    class Toggled(Message):
        """The block was expanded or collapsed."""

        def __init__(self, block: "SubagentBlock") -> None:
            super().__init__()
            self.block = block

        @property
        def control(self) -> "SubagentBlock":
            return self.block

    def __init__(self, started: "SubagentStarted") -> None:
        super().__init__(classes="-running")
        self.agent_id = started.agent_id
        self.call_id = started.call_id
        self.agent = started.agent
        self.path = started.path
        self.model = started.model
        self.model_reason = started.model_reason
        self.description = started.description
        self.state = "running"
        self.tool: str | None = None
        self.turns = 0
        self.tokens = 0
        self.cost: float | None = 0.0
        self.estimated = False
        self.error: str | None = None
        self._head = Static("", classes="sub-head", markup=False)
        self._brief = Static(Content(f"  {started.description}  ·  {started.model_reason}"), classes="sub-task")
        self._transcript = Transcript(max_items=200, max_lines=4000)
        self._render_head()

    def compose(self) -> ComposeResult:
        yield self._head
        yield self._brief
        yield self._transcript

    @property
    def transcript(self) -> Transcript:
        """Where the subagent's own events are shown."""
        return self._transcript

    # -- live status ------------------------------------------------------------------
    def header_text(self) -> str:
        """The header as plain text (what the figures say right now)."""
        return self._header().plain

    def _header(self) -> Content:
        mark, style = _STATE_MARK.get(self.state, ("●", ""))
        arrow = "▾" if self.expanded else "▸"
        tilde = "~" if self.estimated else ""
        doing = f"running {self.tool}" if self.tool and self.state == "running" else self.state
        if self.error and self.state == "failed":
            doing = f"failed: {self.error[:60]}"
        figures = (
            f"{self.turns} turn{'s' if self.turns != 1 else ''} · {tilde}{format_tokens(self.tokens)} tokens · "
            f"{tilde if self.cost is not None else ''}{format_cost(self.cost)}"
            if self.turns
            else "first turn…"
        )
        return Content.assemble(
            (f"{arrow} ", "$text-muted"),
            (f"{mark} ", style),
            (self.path, "bold"),
            " ",
            (self.model, "$text-primary"),
            (" · ", "$text-muted"),
            (doing, style if self.state != "running" else "$text-accent"),
            (" · ", "$text-muted"),
            figures,
        )

    def _render_head(self) -> None:
        self._head.update(self._header())

    def tool_started(self, name: str) -> None:
        self.tool = name
        self._render_head()

    def tool_done(self) -> None:
        self.tool = None
        self._render_head()

    def updated(self, event: "SubagentUpdated") -> None:
        self.turns = event.turns
        self.tokens = event.input_tokens + event.output_tokens
        self.cost = event.cost
        self.estimated = event.estimated
        self._render_head()

    def finished(self, event: "SubagentFinished") -> None:
        self.turns = event.turns
        self.tokens = event.input_tokens + event.output_tokens
        self.cost = event.cost
        self.estimated = event.estimated
        self.error = event.error
        failed = event.stop_reason in ("error", "cut_off") or event.error is not None
        self._set_state("failed" if failed else "stopped" if event.stop_reason == "cancelled" else "done")

    def stopped(self) -> None:
        """The run was stopped (Esc) before this subagent finished."""
        if self.state == "running":
            self._set_state("stopped")

    def _set_state(self, state: str) -> None:
        self.remove_class(f"-{self.state}")
        self.state = state
        self.tool = None
        self.add_class(f"-{state}")
        self._render_head()

    # -- expanding --------------------------------------------------------------------
    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(expanded, "-expanded")
        self._render_head()
        self.post_message(self.Toggled(self))

    def action_toggle_expanded(self) -> None:
        self.expanded = not self.expanded

    def on_click(self, event: events.Click) -> None:
        if event.widget is self._head or event.widget is self._brief:
            event.stop()
            self.action_toggle_expanded()
