"""Does a model fit an agent? Tool support and context size, said before the first turn.

The model table warns on pick and the runtime warns when a session opens: an agent with
tools on a model the catalog marks ``tools: false`` gets no tools (the model would
answer with text that looks like calls, or the server would refuse the request), and a
system prompt that takes most of the model's context leaves no room for the work.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelFit", "model_fit", "PROMPT_SHARE_LIMIT"]

#: A system prompt over this share of the context window is flagged.
PROMPT_SHARE_LIMIT = 0.5


@dataclass(frozen=True)
class ModelFit:
    """What does not fit; empty when all is well."""

    drop_tools: bool = False
    """The model cannot use tools: offer it none."""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.warnings


def _k(tokens: int) -> str:
    return f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)


def model_fit(
    model_id: str,
    *,
    tools: bool | None,
    context: int | None,
    agent: str | None,
    agent_tools: int,
    prompt_tokens: int | None,
) -> ModelFit:
    """Check ``model_id`` (its catalog ``tools`` and ``context``) against an agent that
    has ``agent_tools`` tools and a system prompt of ``prompt_tokens`` tokens."""
    warnings: list[str] = []
    who = f"agent {agent}" if agent else "the agent"
    drop = False
    if tools is False and agent_tools:
        drop = True
        warnings.append(
            f"{model_id} cannot use tools (catalog: Tools no): {who}'s {agent_tools} tool(s) are not offered to it, "
            "so it can only answer in text. Pick a model with tools for work on files and commands."
        )
    if context and prompt_tokens:
        if prompt_tokens >= context:
            warnings.append(
                f"{who}'s prompt ({_k(prompt_tokens)} tokens) is larger than {model_id}'s context "
                f"({_k(context)} tokens): it cannot be read whole. Pick a model with a larger context."
            )
        elif prompt_tokens > context * PROMPT_SHARE_LIMIT:
            warnings.append(
                f"{who}'s prompt ({_k(prompt_tokens)} tokens) takes {prompt_tokens / context:.0%} of {model_id}'s "
                f"context ({_k(context)} tokens), leaving little room for the work."
            )
    return ModelFit(drop, tuple(warnings))
