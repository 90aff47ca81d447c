"""The session's status line: agent, model, mode, tokens, cost, latency, state."""

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

    @classmethod
    def from_runtime(cls, runtime: "Runtime", state: str, base: "SessionStatus | None" = None) -> "SessionStatus":
        """Read the figures of an open session through the ``Runtime`` facade."""
        totals = runtime.totals
        last = totals.turns[-1] if totals.turns else None
        ttft = last.ttft_s if last is not None else None
        tps = last.tokens_per_s if last is not None else None
        if base is not None and last is None:
            ttft, tps = base.ttft_s, base.tokens_per_s
        return cls(
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
        tilde = "~" if s.estimated else ""
        latency = []
        if s.ttft_s is not None:
            latency.append(f"ttft {s.ttft_s * 1000:.0f}ms")
        if s.tokens_per_s is not None:
            latency.append(f"{s.tokens_per_s:.0f} tok/s")
        sep = ("│", "$text-muted")
        cost = format_cost(s.cost)
        parts: list[tuple[str, str] | str] = [
            (f"● {s.state} ", _STATE_STYLE.get(s.state, "")),
            sep,
            (f" {s.mode} ", "bold $text-warning" if s.mode == "auto" else "bold"),
            sep,
            (f" {s.agent or '-'}", "bold"),
            ("@", "$text-muted"),
            (f"{s.model or '-'} ", "$text-primary"),
            sep,
            f" in {tilde}{format_tokens(s.input_tokens)} out {tilde}{format_tokens(s.output_tokens)} ",
            sep,
            f" {tilde if s.cost is not None else ''}{cost} ",
            sep,
            f" {' '.join(latency) or 'ttft –'}",
        ]
        return Content.assemble(*parts)
