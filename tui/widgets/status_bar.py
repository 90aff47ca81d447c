"""The session's status line: state, mode, agent and model, tokens, cost, latency, context.

At 80 columns not everything fits: the model name is shortened first, then tokens/s, the
token counts and the agent go; state, mode, cost, time to first token and the context
meter always stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.runtime import Runtime

__all__ = ["StatusBar", "SessionStatus", "format_tokens", "format_cost"]


def format_tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def format_cost(cost: float | None) -> str:
    """``?`` when the price is unknown — never ``$0`` for an unknown price."""
    if cost is None:
        return "?"
    if cost == 0:
        return "$0"
    if cost < 0.01:
        return f"${cost:.4f}"
    return f"${cost:.2f}"


@dataclass(frozen=True)
class SessionStatus:
    """Everything the status line shows; ``state`` is starting|ready|streaming|waiting|stopped|error."""

    agent: str = ""
    model: str = ""
    mode: str = "ask"
    state: str = "starting"
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    cost: float | None = 0.0
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    context_used: int | None = None
    """Tokens the next request holds (estimated), None until known."""
    context_window: int | None = None
    """The model's context window (None: unknown)."""
    queued: int = 0
    """Prompts waiting to be sent after the running answer."""

    @classmethod
    def from_runtime(cls, runtime: "Runtime", state: str, base: "SessionStatus | None" = None) -> "SessionStatus":
        """Read the figures of an open session through the ``Runtime`` facade."""
        totals = runtime.session_totals
        last = totals.turns[-1] if totals.turns else None
        ttft = last.ttft_s if last is not None else None
        tps = last.tokens_per_s if last is not None else None
        if base is not None and last is None:
            ttft, tps = base.ttft_s, base.tokens_per_s
        return cls(
            context_used=base.context_used if base is not None else None,
            context_window=base.context_window if base is not None else None,
            queued=base.queued if base is not None else 0,
            agent=runtime.agent_name or "",
            model=runtime.model_id,
            mode=runtime.mode,
            state=state,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            estimated=totals.estimated,
            cost=totals.cost,
            ttft_s=ttft,
            tokens_per_s=tps,
        )

    def with_(self, **changes: Any) -> "SessionStatus":
        return replace(self, **changes)


_STATE_STYLE = {
    "starting": "$text-warning",
    "ready": "$text-success",
    "streaming": "$text-accent",
    "waiting": "bold $text-warning",
    "stopped": "$text-warning",
    "error": "$text-error",
}


class StatusBar(Widget):
    """One line at the bottom of the session screen (above the footer)."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    status: reactive[SessionStatus] = reactive(SessionStatus, layout=False)

    def render(self) -> Content:
        s = self.status
        width = max(20, self.content_size.width or self.size.width or 120)
        tilde = "~" if s.estimated else ""
        ttft = f"ttft {s.ttft_s * 1000:.0f}ms" if s.ttft_s is not None else "ttft –"
        tps = f" {s.tokens_per_s:.0f} tok/s" if s.tokens_per_s is not None else ""
        cost = f"{tilde if s.cost is not None else ''}{format_cost(s.cost)}"
        tokens = f"in {tilde}{format_tokens(s.input_tokens)} out {tilde}{format_tokens(s.output_tokens)}"
        state = f"● {s.state}" + (f" +{s.queued} queued" if s.queued else "")
        context, context_style = _context(s)
        agent, model = s.agent or "-", s.model or "-"

        def line(model_text: str, show_agent: bool, show_tokens: bool, show_tps: bool) -> list[tuple[str, str]]:
            parts: list[tuple[str, str]] = [(f"{state} ", _STATE_STYLE.get(s.state, "")), ("│", "$text-muted")]
            parts.append((f" {s.mode} ", "bold $text-warning" if s.mode == "auto" else "bold"))
            parts.append(("│", "$text-muted"))
            if show_agent:
                parts += [(f" {agent}", "bold"), ("@", "$text-muted"), (f"{model_text} ", "$text-primary")]
            else:
                parts.append((f" {model_text} ", "$text-primary"))
            parts.append(("│", "$text-muted"))
            if show_tokens:
                parts += [(f" {tokens} ", ""), ("│", "$text-muted")]
            parts += [(f" {cost} ", "bold"), ("│", "$text-muted"), (f" {ttft}{tps if show_tps else ''} ", "")]
            if context:
                parts += [("│", "$text-muted"), (f" {context}", context_style)]
            return parts

        attempts = [
            (True, True, True), (True, True, False), (True, False, False), (False, False, False),
        ]
        for show_agent, show_tokens, show_tps in attempts:
            parts = line(model, show_agent, show_tokens, show_tps)
            used = sum(len(text) for text, _ in parts)
            if used <= width:
                return Content.assemble(*parts)
            room = len(model) - (used - width)
            if room >= 16:
                return Content.assemble(*line(_shorten(model, room), show_agent, show_tokens, show_tps))
        parts = line(model, False, False, False)
        used = sum(len(text) for text, _ in parts)
        return Content.assemble(*line(_shorten(model, max(8, len(model) - (used - width))), False, False, False))


def _shorten(text: str, width: int) -> str:
    """``openrouter:meta-llama/llama-3.1-8b`` → ``openrouter:…3.1-8b`` (the ends tell most)."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    head = max(1, (width - 1) // 2)
    return text[:head] + "…" + text[-(width - 1 - head):]


def _context(s: SessionStatus) -> tuple[str, str]:
    """``ctx 12k/128k 9%`` and its colour (warning past 70%, error past 90%); '' unknown."""
    if s.context_used is None:
        return "", ""
    if not s.context_window:
        return f"ctx {format_tokens(s.context_used)}/?", "$text-muted"
    share = s.context_used / s.context_window
    style = "bold $text-error" if share >= 0.9 else "$text-warning" if share >= 0.7 else "$text-muted"
    return f"ctx {format_tokens(s.context_used)}/{format_tokens(s.context_window)} {share:.0%}", style
