"""Delegation: what an agent may hand to which subagents, and how a subagent is made.

A session whose agent's ``tools:`` name ``agent`` (or ``agent(reviewer, tester)``) gets a
:class:`Delegation`: it offers the ``agent`` tool listing the agents it may call, and
makes the child session for each call (:meth:`Delegation.open_child`):

- **context**: fresh — the subagent's system prompt and the delegated prompt only;
- **tools**: the subagent's own ``tools:``, never more than its parent's;
- **model**: by the precedence of :func:`core.agents.models.subagent_model`;
- **permissions**: the parent's engine and approver (same rules, same mode, the same
  person asked), each request and audit row labelled with the agent path;
- **limits**: no agent already on the chain (no cycles, not itself), and no deeper than
  ``max_agent_depth`` (default 2: the main agent's subagents may delegate once more).

The session runs the child (:meth:`core.session.AgentSession._delegate`); everything that
needs the runtime (providers, the router, MCP tools) comes in a :class:`DelegationContext`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from agentic_flow.core.agents.models import AUTO, ModelChoice, subagent_model
from agentic_flow.core.errors import AgentDefinitionError, DelegationRefused
from agentic_flow.core.events import AGENT_PATH_SEPARATOR
from agentic_flow.core.session import AgentSession, Lineage, SessionOptions, SessionRecord
from agentic_flow.core.tools.agent import AGENT_TOOL, AgentArgs, AgentTool
from agentic_flow.core.tools.registry import ALL_AGENTS, tools_for_agent

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent, AgentCatalog
    from agentic_flow.core.config import LoadedSettings
    from agentic_flow.core.providers.base import Provider
    from agentic_flow.core.tools.base import Tool

__all__ = [
    "DEFAULT_MAX_PARALLEL_AGENTS",
    "DEFAULT_MAX_AGENT_DEPTH",
    "DelegationContext",
    "Delegation",
    "subagent_system_prompt",
]

DEFAULT_MAX_PARALLEL_AGENTS = 4
DEFAULT_MAX_AGENT_DEPTH = 2


@dataclass
class DelegationContext:
    """What every delegation of one run shares (made once by ``core.runtime``).

    Attributes:
        agents: the catalog subagents come from.
        settings: ``subagent_model``, ``model_aliases`` and the limits are read here.
        open_provider: ``model_id -> Provider`` (timeouts, retries, base URL as for the run).
        prepare_model: awaited before a model's first request (starts the local server).
        route: ``(task, agent) -> (model_id, reason)`` for ``auto``.
        max_tokens: ``model_id -> max_tokens`` for a subagent's requests.
        temperature: ``model_id -> temperature`` (the run's, else the model's default).
        fit: ``(model_id, system, tools, max_tokens) -> (system, tools, notes)``: what the
            model can take (the embedded model: no tools, a trimmed prompt).
        extra_tools: MCP tools, for subagents that list them.
    """

    agents: "AgentCatalog"
    settings: "LoadedSettings"
    open_provider: Callable[[str], "Provider"]
    prepare_model: Callable[[str], Awaitable[None]]
    route: Callable[[str, "Agent"], tuple[str, str]]
    max_tokens: Callable[[str], int | None] = lambda model_id: None
    temperature: Callable[[str], float | None] = lambda model_id: None
    fit: Callable[[str, str | None, dict[str, "Tool"], int | None], tuple[str | None, dict[str, "Tool"], list[str]]] = (
        lambda model_id, system, tools, max_tokens: (system, tools, [])
    )
    extra_tools: Mapping[str, "Tool"] = field(default_factory=dict)

    @property
    def max_parallel(self) -> int:
        return self.settings.merged.max_parallel_agents or DEFAULT_MAX_PARALLEL_AGENTS

    @property
    def max_depth(self) -> int:
        return self.settings.merged.max_agent_depth or DEFAULT_MAX_AGENT_DEPTH


def subagent_system_prompt(agent: "Agent", parent_path: str) -> str:
    """The subagent's own prompt, plus what it needs to know about being one."""
    note = (
        f"You are working as a subagent: {parent_path} gave you the task in the next message. "
        "It sees only your final message, not your tool calls, so end with a complete, "
        "self-contained answer: what you found or changed, and anything left open."
    )
    return f"{agent.prompt.rstrip()}\n\n{note}" if agent.prompt.strip() else note


class Delegation:
    """What one session may delegate to.

    Args:
        context: shared by the whole run.
        allowed: agent names from ``tools:`` (``*`` = any agent of the catalog).
        path: agent names from the main agent down to this session's agent.
    """

    def __init__(self, context: DelegationContext, *, allowed: frozenset[str], path: tuple[str, ...]) -> None:
        self.context = context
        self.allowed = allowed
        self.path = path
        self.refusal: str | None = None
        """Why this session cannot delegate at all (then it is not offered the tool)."""
        depth = len(path) - 1
        choices = self.callable_agents()
        if depth >= context.max_depth:
            self.refusal = (
                f"the delegation depth limit is reached ({AGENT_PATH_SEPARATOR.join(path)} is {depth} level"
                f"{'s' if depth != 1 else ''} deep; max_agent_depth is {context.max_depth})"
            )
        elif not choices:
            self.refusal = "no agent can be called from here (the agents this one may call are unknown or already on its chain)"
        self.tool = AgentTool([(a.name, a.description) for a in choices]) if self.refusal is None else None

    @property
    def max_parallel(self) -> int:
        return self.context.max_parallel

    def may_call(self, name: str) -> bool:
        return ALL_AGENTS in self.allowed or name in self.allowed

    def callable_agents(self) -> list["Agent"]:
        """Agents this session may delegate to: allowed by ``tools:``, not on its chain."""
        return [a for a in self.context.agents if self.may_call(a.name) and a.name not in self.path]

    def _agent(self, name: str) -> "Agent":
        callable_names = ", ".join(a.name for a in self.callable_agents()) or "none"
        try:
            agent = self.context.agents.get(name)
        except AgentDefinitionError as exc:
            raise DelegationRefused(f"{exc.message} Agents you can call: {callable_names}.") from exc
        chain = AGENT_PATH_SEPARATOR.join(self.path)
        if agent.name in self.path:
            who = "itself" if agent.name == self.path[-1] else f"{agent.name}, which is already running in this chain"
            raise DelegationRefused(f"{chain} cannot delegate to {who} ({chain} › {agent.name} would be a cycle).")
        if not self.may_call(agent.name):
            raise DelegationRefused(
                f"{self.path[-1]} may not call {agent.name} (its tools: allow agent({', '.join(sorted(self.allowed))})). "
                f"Agents you can call: {callable_names}."
            )
        if self.refusal is not None:
            raise DelegationRefused(self.refusal)
        return agent

    async def open_child(self, parent: AgentSession, args: AgentArgs, call_id: str) -> tuple[AgentSession, ModelChoice]:
        """The child session for one ``agent`` call of ``parent`` (not started yet).

        Raises:
            DelegationRefused: unknown or uncallable agent, a cycle, the depth limit, a
                model that cannot be used. Other :class:`AgenticFlowError` (a missing key)
                pass through; the session reports both to the model.
        """
        agent = self._agent(args.subagent_type.strip())
        context = self.context
        settings = context.settings.merged
        choice = subagent_model(argument=args.model, agent=agent, settings=settings, parent_model=parent.model_id)
        if choice.model == AUTO:
            model_id, why = context.route(args.prompt, agent)
            choice = replace(choice, model=model_id, reason=f"{choice.reason}; the router chose it: {why}")
        await context.prepare_model(choice.model)
        provider = context.open_provider(choice.model)
        provider.check_key(choice.model)

        selection, _ = tools_for_agent(agent.tools, context.extra_tools)
        parent_tools = {name for name in parent.tools if name != AGENT_TOOL}
        tools: dict[str, "Tool"] = {name: tool for name, tool in selection.items() if name in parent_tools}
        notes = list(choice.notes)
        left_out = [name for name in selection if name not in parent_tools]
        if left_out:
            notes.append(
                f"{agent.name}: {', '.join(left_out)} left out of its tools ({parent.agent_path} may not use them)"
            )
        path = (*self.path, agent.name)
        delegation = None
        if selection.delegates is not None:
            # Which agents it may call is its own tools:' business (delegating gives no
            # tool the parent lacks: each level's tools are cut to its parent's).
            delegation = Delegation(context, allowed=selection.delegates, path=path)
            if delegation.tool is not None:
                tools[AGENT_TOOL] = delegation.tool
        max_tokens = context.max_tokens(choice.model)
        system, tools, fitted = context.fit(
            choice.model, subagent_system_prompt(agent, parent.agent_path), tools, max_tokens
        )
        notes += [f"{agent.name}: {note}" for note in fitted]
        lineage = Lineage(
            agent_id=f"{parent.agent_id}.{len(parent.children) + 1}",
            parent_id=parent.agent_id,
            path=path,
            parent_session_id=parent.session_id,
        )
        child = AgentSession(
            provider=provider,
            model_id=choice.model,
            workspace=parent.workspace,
            engine=parent.engine,
            approver=parent.approver,
            tools=tools,
            options=SessionOptions(
                system=system,
                agent_name=agent.name,
                max_tokens=max_tokens,
                temperature=context.temperature(choice.model),
                max_turns=parent.max_turns,
            ),
            record=SessionRecord(
                store=parent.store, audit=parent.audit, pricing=parent.pricing, latency_source=parent.latency_source
            ),
            lineage=lineage,
            delegation=delegation,
            cancel_event=parent.cancel_event,
            sandbox=parent.sandbox,
        )
        parent.children.append(child)
        return child, replace(choice, notes=tuple(notes))
