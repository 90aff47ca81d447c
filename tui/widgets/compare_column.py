"""One model's column on the compare screen: its answer streaming in, live figures, and
after the run the verdict — the code checks (text mode), or for an agent run the check
command, the diff it made, its turns and tool calls — its stop reason or error.

In agent mode the tool calls appear in the stream as ``→ edit calc.py`` lines (and a
failed or denied call's first line of output after ``✗``).

The column is cheap on purpose — N of them stream at once and answers can be long:

* text arrives through :meth:`CompareColumn.feed`, which only appends to a list; the
  screen calls :meth:`CompareColumn.flush` on a timer (~20 Hz), so the widget changes at
  most once per tick however fast tokens come;
* the answer is an :class:`~tui.widgets.answer_view.AnswerView`: appending re-wraps only
  the last line and only visible rows are drawn, so a 20,000-token answer costs what a
  short one does (a Markdown document re-lays itself out as it grows — DESIGN.md, "The
  TUI"). Code in the answer is shown as written, which is what a comparison wants to see.

Figures while streaming come from the run's :class:`core.compare.LiveMeter`; once the
run ends they come from its :class:`core.compare.ModelRun` (the same numbers the
exports use).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from agentic_flow.core.compare.agentic import AgentMeter
from agentic_flow.core.compare.result import ModelRun
from agentic_flow.core.compare.runner import LiveMeter, RunFinished, RunStarted
from agentic_flow.core.events import Event, Retrying, TextDelta, ThinkingDelta, ToolCallReady, ToolResult
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.tui.widgets.answer_view import AnswerView

__all__ = ["CompareColumn", "ColumnState", "format_seconds", "format_rate"]

ColumnState = Literal["idle", "waiting", "streaming", "done", "failed", "cancelled"]

_STATE_LABEL: dict[str, str] = {
    "idle": "not started",
    "waiting": "waiting for the first token…",
    "streaming": "streaming…",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}

CostOf = Callable[[int, int], "float | None"]


def format_seconds(seconds: float | None) -> str:
    """``0.42`` -> ``420ms``, ``2.5`` -> ``2.50s``, ``None`` -> ``–`` (not measured)."""
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"


def format_rate(tokens_per_s: float | None) -> str:
    """Tokens per second, one decimal; ``–`` when not measured."""
    return "–" if tokens_per_s is None else f"{tokens_per_s:.1f}"


def _call_summary(arguments: dict[str, object] | None) -> str:
    """The argument a person recognises a call by: its path, command or pattern."""
    if not arguments:
        return ""
    for key in ("path", "file_path", "command", "pattern", "url"):
        value = arguments.get(key)
        if isinstance(value, str) and value:
            return value if len(value) <= 60 else value[:59] + "…"
    return ""


class CompareColumn(Vertical):
    """A model's answer and figures; fed by the compare screen's worker."""

    DEFAULT_CSS = """
    CompareColumn {
        height: 1fr;
        width: 40;
        border: round $border-blurred;
        border-title-color: $text-primary;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    CompareColumn:focus-within {
        border: round $border;
    }
    CompareColumn.-done {
        border-subtitle-color: $text-success;
    }
    CompareColumn.-failed {
        border: round $error;
        border-subtitle-color: $text-error;
    }
    CompareColumn .compare-figures {
        height: 2;
        color: $text;
    }
    CompareColumn .compare-answer {
        height: 1fr;
    }
    CompareColumn .compare-verdict {
        height: auto;
        max-height: 4;
        border-top: solid $border-blurred;
    }
    CompareColumn .compare-verdict.-ok {
        color: $text-success;
    }
    CompareColumn .compare-verdict.-error {
        color: $text-error;
    }
    CompareColumn .compare-verdict.-warning {
        color: $text-warning;
    }
    """

    state: reactive[ColumnState] = reactive("idle", init=False)
    """Where the run is; shown in the border subtitle and as a ``-state`` CSS class."""

    def __init__(
        self,
        model_id: str,
        *,
        cost_of: CostOf | None = None,
        input_estimate: int = 0,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """
        Args:
            model_id: the ``provider:model`` id this column shows.
            cost_of: ``(input_tokens, output_tokens) -> USD`` (``None`` = unknown price),
                for the live cost before the run's own figure exists.
            input_estimate: the request's input tokens as estimated before the server
                reports them (the live cost is marked ``~`` while estimated).
        """
        super().__init__(name=name, id=id, classes=classes)
        self.model_id = model_id
        self.cost_of = cost_of
        self.input_estimate = input_estimate
        self.run: ModelRun | None = None
        """The finished run (``None`` while streaming)."""
        self._pending: list[str] = []
        self._retry: Retrying | None = None
        self._retry_shown: Retrying | None = None
        self._thinking = 0
        self._label = ""
        self.border_title = model_id

    def compose(self) -> ComposeResult:
        yield Static(classes="compare-figures")
        yield AnswerView(classes="compare-answer")
        yield Static(classes="compare-verdict")

    def on_mount(self) -> None:
        self._show_state()
        self._show_figures(None)
        self._show_verdict()

    # ------------------------------------------------------------------ feeding

    def observe(self, event: Event) -> None:
        """Take one event of this model's run (cheap: text is only queued)."""
        if isinstance(event, TextDelta):
            if event.text:
                self._pending.append(event.text)
        elif isinstance(event, ThinkingDelta):
            self._thinking += len(event.text)
        elif isinstance(event, RunStarted):
            self.state = "waiting"
        elif isinstance(event, Retrying):
            self._retry = event
        elif isinstance(event, ToolCallReady):
            self._pending.append(f"\n→ {event.name} {_call_summary(event.arguments)}\n")
        elif isinstance(event, ToolResult) and event.is_error:
            first = event.content.strip().splitlines()[0] if event.content.strip() else "failed"
            self._pending.append(f"  ✗ {first[:120]}\n")
        elif isinstance(event, RunFinished):
            self.finish(event.run)

    def feed(self, text: str) -> None:
        """Queue answer text; it appears on the next :meth:`flush`."""
        if text:
            self._pending.append(text)

    def flush(self, meter: LiveMeter | None = None) -> None:
        """Show queued text and the live figures (called by the screen once per tick)."""
        if self._pending:
            chunk = "".join(self._pending)
            self._pending.clear()
            if self.is_mounted:
                self.answer.append(chunk)
            if self.state == "waiting":
                self.state = "streaming"
        if self.run is None and self.is_mounted:
            self._show_figures(meter)
            if self._retry is not self._retry_shown:
                self._retry_shown = self._retry
                self._show_verdict()
            if self.state == "waiting" and self._thinking and self._label != "thinking…":
                self._show_state()

    def finish(self, run: ModelRun) -> None:
        """The run ended: show everything that arrived, its figures and its verdict."""
        self.run = run
        self.flush()
        self.state = "done" if run.status == "ok" else "failed"
        if self.is_mounted:
            self.answer.settle()
            self._show_figures(None)
            self._show_verdict()

    def cancel(self) -> None:
        """The comparison was stopped before this run ended."""
        if self.run is None and self.state in ("waiting", "streaming"):
            self.flush()
            self.state = "cancelled"
            if self.is_mounted:
                self.answer.settle()

    def reset(self) -> None:
        """Empty the column for a new run."""
        self.run = None
        self._pending.clear()
        self._retry = self._retry_shown = None
        self._thinking = 0
        self.state = "idle"
        if self.is_mounted:
            self.answer.clear()
            self._show_figures(None)
            self._show_verdict()

    # ------------------------------------------------------------------ rendering

    @property
    def answer(self) -> AnswerView:
        return self.query_one(".compare-answer", AnswerView)

    def watch_state(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
        self._show_state()

    def _show_state(self) -> None:
        label = _STATE_LABEL[self.state]
        if self.state == "waiting" and self._thinking:
            label = "thinking…"
        run = self.run
        if run is not None and run.stop_reason:
            label = f"{label} · {run.stop_reason}"
        self._label = label
        self.border_subtitle = label

    def figures_text(self, meter: LiveMeter | None = None) -> tuple[str, str]:
        """The two figure lines (timing; tokens and cost), from the run once it ended."""
        run = self.run
        if run is not None:
            tilde = "~" if run.estimated else ""
            shown_in = "–" if run.input_tokens is None else f"{tilde}{run.input_tokens:,}"
            shown_out = "–" if run.output_tokens is None else f"{tilde}{run.output_tokens:,}"
            shown_cost = "–" if run.input_tokens is None else format_cost(run.cost)
            if run.turns is not None:  # an agent run: turns and wall time instead of tokens/s
                return (
                    f"TTFT {format_seconds(run.ttft_s)} · {run.turns} turn{'s' if run.turns != 1 else ''}"
                    f" · {format_seconds(run.total_s)}",
                    f"tokens {shown_in} in / {shown_out} out · {shown_cost}",
                )
            return (
                f"TTFT {format_seconds(run.ttft_s)} · {format_rate(run.tokens_per_s)} tok/s"
                f" · {format_seconds(run.total_s)}",
                f"tokens {shown_in} in / {shown_out} out · {shown_cost}",
            )
        if meter is None or meter.started is None:
            return ("TTFT – · – tok/s · –", "tokens – in / – out · –")
        if isinstance(meter, AgentMeter):
            usage = meter.usage
            tokens_in = usage.input_tokens if usage is not None else self.input_estimate
            out = meter.output_tokens
            tilde = "~" if usage is None or usage.estimated else ""
            cost = self.cost_of(tokens_in, out) if self.cost_of is not None else None
            return (
                f"TTFT {format_seconds(meter.ttft_s)} · turn {meter.turns + 1} · {meter.tool_calls} tool call(s)"
                f" · {format_seconds(meter.elapsed_s)}",
                f"tokens {tilde}{tokens_in:,} in / {tilde}{out:,} out · {tilde}{format_cost(cost)}",
            )
        usage = meter.usage
        out = meter.output_tokens
        if usage is not None:
            tokens_in, estimated = usage.input_tokens, usage.estimated
        else:
            tokens_in, estimated = self.input_estimate, True
        tilde = "~" if estimated or usage is None else ""
        cost = self.cost_of(tokens_in, out) if self.cost_of is not None else None
        return (
            f"TTFT {format_seconds(meter.ttft_s)} · {format_rate(meter.tokens_per_s)} tok/s"
            f" · {format_seconds(meter.elapsed_s)}",
            f"tokens {tilde}{tokens_in:,} in / {tilde}{out:,} out · {tilde}{format_cost(cost)}",
        )

    def _show_figures(self, meter: LiveMeter | None) -> None:
        timing, tokens = self.figures_text(meter)
        # Two lines always (height: 2): no layout pass needed, only a repaint.
        self.query_one(".compare-figures", Static).update(Content(f"{timing}\n{tokens}"), layout=False)

    def verdict_text(self) -> tuple[str, str]:
        """``(text, kind)``: the code checks / error line and ``ok|error|warning|""``."""
        run = self.run
        if run is None:
            if self._retry is not None:
                r = self._retry
                return (f"retrying ({r.attempt}/{r.max_attempts}): {r.reason}", "warning")
            return ("", "")
        if run.turns is not None:  # an agent run
            parts = []
            check = run.check_passed
            if run.checks.command is not None:
                parts.append(("check passed" if check else f"check {run.checks.command.summary()}"))
            if run.status == "failed":
                parts.insert(0, f"{run.error_kind or 'error'}: {run.error or 'the run failed'}")
            parts += [run.diff_summary, f"tools {run.tool_calls_summary}"]
            mark = "✓ " if check else ("✗ " if check is False or run.status == "failed" else "· ")
            kind = "ok" if check else ("error" if check is False or run.status == "failed" else "")
            return (mark + " · ".join(parts), kind)
        if run.status == "failed":
            kind = run.error_kind or "error"
            return (f"✗ {kind}: {run.error or 'the run failed'}", "error")
        ok = run.checks.ok
        summary = run.checks.summary()
        if ok is None:
            return (f"· {summary}", "")
        return (("✓ " if ok else "✗ ") + summary, "ok" if ok else "error")

    def _show_verdict(self) -> None:
        text, kind = self.verdict_text()
        verdict = self.query_one(".compare-verdict", Static)
        verdict.update(Content(text))
        verdict.display = bool(text)
        for name in ("ok", "error", "warning"):
            verdict.set_class(kind == name, f"-{name}")
