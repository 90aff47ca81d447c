"""The ``agent`` tool: hand a task to another agent of the catalog.

The tool itself only describes the call (which agents can be called, and the arguments);
the delegating :class:`~core.session.AgentSession` runs it, because the subagent's events
join the parent's event stream live and several calls of one turn run at once. What a
session may delegate to, and how a subagent is made, is :mod:`core.agents.delegation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentic_flow.core.errors import ToolError
from agentic_flow.core.tools.base import Tool, ToolContext, ToolOutput

__all__ = ["AGENT_TOOL", "AgentArgs", "AgentTool", "DESCRIPTION_LIMIT"]

AGENT_TOOL = "agent"
#: Characters of each agent's description shown to the model (catalogs can be large).
DESCRIPTION_LIMIT = 300


class AgentArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, description="A short (3-6 word) title for the task, shown to the user.")
    prompt: str = Field(
        min_length=1,
        description="The task, complete and self-contained: the agent sees none of this conversation.",
    )
    subagent_type: str = Field(min_length=1, description="Name of the agent to run (one of those listed).")
    model: str | None = Field(
        None,
        description="Optional model for this run: provider:model, an alias (haiku, sonnet, opus), auto "
        "(chosen for the task) or inherit (yours). Leave it out to use the agent's own.",
    )


class AgentTool(Tool):
    """Offered to an agent whose ``tools:`` name ``agent`` (or ``agent(reviewer, tester)``).

    Args:
        agents: ``(name, description)`` of every agent this one may call, listed in the
            tool's description so the model can choose by description.
    """

    name = AGENT_TOOL
    kind = "agent"
    args_model = AgentArgs

    def __init__(self, agents: Sequence[tuple[str, str]]) -> None:
        self.agents = list(agents)
        lines = [
            "Delegate a task to a specialised agent. It starts with a fresh context: it sees only your "
            "`prompt` (none of this conversation), works with its own tools, and returns its final message "
            "to you. Several agent calls in one reply run at the same time, so split independent work.",
            "",
            "Agents you can call (subagent_type):",
        ]
        for name, description in self.agents:
            text = " ".join(description.split())
            if len(text) > DESCRIPTION_LIMIT:
                text = text[: DESCRIPTION_LIMIT - 1].rstrip() + "…"
            lines.append(f"- {name}: {text or '(no description)'}")
        self.description = "\n".join(lines)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.agents]

    def render_preview(self, args: Any, ctx: ToolContext) -> str | None:
        model = f" on {args.model}" if args.model else ""
        return f"{args.subagent_type}{model}: {args.description}"

    async def execute(self, args: Any, ctx: ToolContext) -> ToolOutput:
        # A delegation streams the subagent's events into the parent's stream, so only
        # an AgentSession can run it (it never calls this).
        raise ToolError("the agent tool runs inside an agent session, not on its own")
