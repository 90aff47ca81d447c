"""The agent loop: user message → provider stream → tool calls → permission → results.

One :class:`AgentSession` holds a conversation in the provider-neutral form of
:mod:`core.messages`, so the model (even the provider kind) can change between turns.
``send()`` is an async iterator of the same typed events the providers yield, plus the
permission and tool-result events, so every front end (TUI, CLI, tests) consumes one
stream. Nothing said is ever lost: cancelled or cut-off turns keep their partial text in
the history and in the store.

Delegation: a call of the ``agent`` tool runs another catalog agent as a child session
(fresh context, its own tools and model, see :mod:`core.agents.delegation`). Its events
join this stream live, marked with its ``agent_id``; several delegation calls of one
turn run at once (at most ``max_parallel`` of them), while the turn's other tool calls
run one after another beside them. Only the child's final message comes back, as the
tool result. Stopping the run stops every child, each keeping what it produced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncGenerator, AsyncIterator, Callable, cast

from agentic_flow.core.context.long_session import LongSession
from agentic_flow.core.errors import AgenticFlowError, StoreError
from agentic_flow.core.events import (
    AGENT_PATH_SEPARATOR,
    MAIN_AGENT_ID,
    ContextCompacted,
    Event,
    MessageStarted,
    Notice,
    PermissionDecided,
    PermissionRequested,
    ProviderFailed,
    StopReason,
    SubagentFinished,
    SubagentStarted,
    SubagentUpdated,
    TextDelta,
    ThinkingDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    TurnEnded,
    Usage,
    as_agent,
)
from agentic_flow.core.messages import (
    AssistantMessage,
    ChatRequest,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.core.models.tokens import count_request_tokens, count_tokens
from agentic_flow.core.permissions import PermissionRequest
from agentic_flow.core.permissions.audit import AuditEntry
from agentic_flow.core.redact import redact, redact_obj
from agentic_flow.core.streams import merge
from agentic_flow.core.tools.agent import AgentArgs, AgentTool
from agentic_flow.core.tools.base import ToolContext

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.delegation import Delegation
    from agentic_flow.core.permissions import Approver, Decision, PermissionEngine
    from agentic_flow.core.permissions.audit import AuditLog
    from agentic_flow.core.providers.base import Provider
    from agentic_flow.core.sandbox import Sandbox
    from agentic_flow.core.store.database import LatencySource, Store
    from agentic_flow.core.tools.base import Tool

__all__ = [
    "TurnStats",
    "SessionTotals",
    "SessionOptions",
    "SessionRecord",
    "Lineage",
    "Pricing",
    "AgentSession",
    "DEFAULT_MAX_TURNS",
]

DEFAULT_MAX_TURNS = 25

logger = logging.getLogger(__name__)


@dataclass
class TurnStats:
    """Figures of one provider turn, measured from the stream's timing."""

    model: str
    reported_model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    cost: float | None = None
    ttft_s: float | None = None
    total_s: float = 0.0
    stop_reason: str = ""
    ended: float = 0.0
    """``time.monotonic()`` when the turn was recorded (orders the turns of parallel subagents)."""

    @property
    def tokens_per_s(self) -> float | None:
        if self.ttft_s is None or self.output_tokens <= 0:
            return None
        gen = self.total_s - self.ttft_s
        return self.output_tokens / gen if gen > 0 else None


@dataclass
class SessionTotals:
    input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False
    cost: float | None = 0.0
    turns: list[TurnStats] = field(default_factory=list)

    def add(self, turn: TurnStats) -> None:
        self.turns.append(turn)
        self.input_tokens += turn.input_tokens
        self.output_tokens += turn.output_tokens
        self.estimated = self.estimated or turn.estimated
        if self.cost is not None:
            self.cost = None if turn.cost is None else self.cost + turn.cost

    def merged(self, others: list["SessionTotals"]) -> "SessionTotals":
        """These totals plus ``others`` (a session and its subagents), turns in time order."""
        out = SessionTotals()
        for turn in sorted([*self.turns, *(t for o in others for t in o.turns)], key=lambda t: t.ended):
            out.add(turn)
        return out


Pricing = Callable[[str, int, int], "float | None"]
"""``(model_id, input_tokens, output_tokens) -> cost in USD, or None when unknown``."""


@dataclass(frozen=True)
class SessionOptions:
    """How the agent talks: its system prompt, sampling and the loop's turn limit."""

    system: str | None = None
    agent_name: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    max_turns: int = DEFAULT_MAX_TURNS


@dataclass(frozen=True)
class Lineage:
    """Where a session sits in a tree of delegations; the defaults are the main agent.

    Attributes:
        agent_id: this agent's id in the run's events (``main``, ``main.1``, ``main.1.2``).
        parent_id: the delegating agent's id.
        path: agent names from the main agent down to this one (``coder``, ``reviewer``).
        parent_session_id: the delegating session's stored id (links the transcripts).
    """

    agent_id: str = MAIN_AGENT_ID
    parent_id: str | None = None
    path: tuple[str, ...] = ()
    parent_session_id: str | None = None

    @property
    def depth(self) -> int:
        """0 for the main agent, 1 for its subagents, ..."""
        return max(len(self.path) - 1, 0)


@dataclass(frozen=True)
class SessionRecord:
    """Where a session is kept: the store (messages, turns, latency), the audit log,
    the session id to continue (None: a new one), and the prices its cost is figured with."""

    store: "Store | None" = None
    audit: "AuditLog | None" = None
    session_id: str | None = None
    pricing: Pricing | None = None
    latency_source: "LatencySource" = "session"


class AgentSession(LongSession):
    """A conversation with one agent, its tools and its permission engine.

    Args:
        provider: the provider to stream from (switch with :meth:`switch_model`).
        model_id: ``provider:model`` — the model named in the request is the part after
            the first colon, exactly as chosen.
        tools: the tools offered (already limited by the agent's ``tools:``).
        engine / approver: decide every tool call; only "ask" reaches the approver.
        options: the agent's prompt, sampling and loop limit.
        record: where the session, its turns and its decisions are kept, and its prices.
        messages: the history to continue (a resumed session).
        sandbox: the command sandbox commands run in (None: each gets a default one).
        lineage: where it sits in a tree of delegations (default: the main agent).
        delegation: what its ``agent`` tool may delegate to (None: it cannot).
        cancel_event: shared with the parent for a subagent (one Esc stops them all).
    """

    def __init__(
        self,
        *,
        provider: "Provider",
        model_id: str,
        workspace: Path,
        engine: "PermissionEngine",
        approver: "Approver",
        tools: dict[str, "Tool"] | None = None,
        options: SessionOptions = SessionOptions(),
        record: SessionRecord = SessionRecord(),
        messages: list[Message] | None = None,
        sandbox: "Sandbox | None" = None,
        lineage: Lineage = Lineage(),
        delegation: "Delegation | None" = None,
        cancel_event: asyncio.Event | None = None,
    ) -> None:
        self.provider = provider
        self.model_id = model_id
        self.workspace = workspace
        self.engine = engine
        self.approver = approver
        self.tools: dict[str, Tool] = dict(tools or {})
        self.system = options.system
        self.agent_name = options.agent_name
        self.max_tokens = options.max_tokens
        self.temperature = options.temperature
        self.max_turns = options.max_turns
        self.store = record.store
        self.audit = record.audit
        self.pricing = record.pricing
        self.latency_source = record.latency_source
        self.messages: list[Message] = list(messages or [])
        self.sandbox = sandbox
        self.totals = SessionTotals()
        self.cancel_event = cancel_event if cancel_event is not None else asyncio.Event()
        self.lineage = lineage
        self.delegation = delegation
        self.children: list[AgentSession] = []
        """Every subagent this session started (their totals count in :meth:`all_totals`)."""
        self.last_stop = ""
        self.last_error: str | None = None
        self.session_id = record.session_id
        self._init_long_session(resumed=record.session_id is not None)  # see core.context.long_session
        if self.store is not None and self.session_id is None:
            self.session_id = self.store.create_session(
                agent=self.agent_name or "",
                model=model_id,
                workspace=str(workspace),
                parent_id=lineage.parent_session_id,
            )

    # -- public API -----------------------------------------------------------------
    @property
    def agent_id(self) -> str:
        return self.lineage.agent_id

    @property
    def parent_id(self) -> str | None:
        return self.lineage.parent_id

    @property
    def agent_path(self) -> str:
        """``coder`` for the main agent, ``coder › reviewer`` for its subagent."""
        if self.lineage.path:
            return AGENT_PATH_SEPARATOR.join(self.lineage.path)
        return self.agent_name or ""

    def all_totals(self) -> SessionTotals:
        """This session's figures plus every subagent's below it (what the run cost)."""
        if not self.children:
            return self.totals
        return self.totals.merged([child.all_totals() for child in self.children])

    def final_text(self) -> str:
        """The last thing the agent said (a subagent's answer to its parent)."""
        for message in reversed(self.messages):
            if isinstance(message, AssistantMessage) and message.content.strip():
                return message.content
        return ""

    @property
    def wire_model(self) -> str:
        return self.model_id.split(":", 1)[1] if ":" in self.model_id else self.model_id

    def switch_model(self, provider: "Provider", model_id: str) -> None:
        """Use another model from the next turn on; the history is kept as is."""
        self.provider = provider
        self.model_id = model_id
        if self.store is not None and self.session_id:
            self.store.update_session(self.session_id, model=model_id)

    def request(self) -> ChatRequest:
        by_wire = {tool.wire_name: tool for tool in self.tools.values()}
        return ChatRequest(
            model=self.wire_model,
            messages=list(self.messages),
            system=self.system,
            tools=[tool.spec() for tool in by_wire.values()],
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )

    async def send(self, text: str, *, clear_cancel: bool = True) -> AsyncGenerator[Event, None]:
        """Add a user message and run the loop until the model stops.

        A subagent's own events are marked with its ``agent_id`` / ``parent_id``; events
        of its own subagents pass through as they come (already marked).
        ``clear_cancel=False`` for a subagent: its stop signal is its parent's.
        """
        if clear_cancel:
            self.cancel_event.clear()
        if self.parent_id is None:
            async for event in self._loop(text):
                yield event
            return
        agent_id, parent_id = self.agent_id, self.parent_id
        async for event in self._loop(text):
            yield as_agent(event, agent_id, parent_id) if event.agent_id == MAIN_AGENT_ID else event

    async def _loop(self, text: str) -> AsyncIterator[Event]:
        text = self._prompt_text(text)
        self._append(UserMessage(content=text))
        self._turn_started(text)
        turns = 0
        retried = False
        while True:
            if turns >= self.max_turns:
                yield Notice(
                    message=f"stopped after {self.max_turns} model turns (the max_turns setting, or run --max-turns); "
                    "send another message to continue",
                    level="warning",
                )
                self.last_stop = "max_turns"
                yield TurnEnded(stop_reason="max_turns", model=None)
                return
            turns += 1
            async for event in self._make_room():  # compaction before the window fills
                yield event
            ended: TurnEnded | None = None
            ready: list[ToolCallReady] = []
            overflow: list[Event] = []  # a "too long" refusal, held while it may be retried
            async for event in self._one_turn():
                if overflow or (isinstance(event, ProviderFailed) and not retried and self._overflowed(event)):
                    overflow.append(event)
                    continue
                if isinstance(event, ToolCallReady):
                    ready.append(event)
                elif isinstance(event, TurnEnded):
                    ended = event
                    self.last_stop = event.stop_reason
                elif isinstance(event, ProviderFailed):
                    self.last_error = event.message
                yield event
            if overflow:  # compact and retry once; else show the refusal after all
                retried = True
                compacted = False
                yield Notice(
                    message=f"The request was too long for {self.model_id}: compacting the conversation "
                    "and retrying once.",
                    level="warning",
                )
                async for event in self.compact("overflow"):
                    compacted = compacted or isinstance(event, ContextCompacted)
                    yield event
                if compacted:
                    turns -= 1
                    continue
                for event in overflow:
                    if isinstance(event, TurnEnded):
                        self.last_stop = event.stop_reason
                    elif isinstance(event, ProviderFailed):
                        self.last_error = event.message
                    yield event
                return
            if self.parent_id is not None:  # the parent shows a subagent's running figures
                total = self.all_totals()
                yield SubagentUpdated(
                    turns=len(total.turns),
                    input_tokens=total.input_tokens,
                    output_tokens=total.output_tokens,
                    cost=total.cost,
                    estimated=total.estimated,
                )
            if ended is None or not ready:
                return
            if ended.stop_reason not in ("tool_use", "max_tokens", "end_turn"):
                return
            async for event in self._run_tools(ready):
                yield event

    # -- one provider turn ----------------------------------------------------------
    async def _one_turn(self) -> AsyncIterator[Event]:
        request = self.request()
        stats = TurnStats(model=self.model_id)
        text: list[str] = []
        thinking: list[str] = []
        signature: str | None = None
        calls: list[ToolCall] = []
        started = time.perf_counter()
        finished = False
        try:
            async for event in self.provider.stream(request):
                if isinstance(event, TextDelta):
                    if stats.ttft_s is None:
                        stats.ttft_s = time.perf_counter() - started
                    text.append(event.text)
                elif isinstance(event, ThinkingDelta):
                    if stats.ttft_s is None and event.text:
                        stats.ttft_s = time.perf_counter() - started
                    thinking.append(event.text)
                    if event.signature:
                        signature = event.signature
                elif isinstance(event, ToolCallStarted):
                    if stats.ttft_s is None:
                        stats.ttft_s = time.perf_counter() - started
                elif isinstance(event, ToolCallReady):
                    calls.append(ToolCall(id=event.call_id, name=event.name, arguments=event.arguments or {}))
                elif isinstance(event, MessageStarted):
                    stats.reported_model = event.model
                elif isinstance(event, Usage):
                    stats.input_tokens = event.input_tokens
                    stats.output_tokens = event.output_tokens
                    stats.estimated = event.estimated
                elif isinstance(event, TurnEnded):
                    stats.stop_reason = event.stop_reason
                    finished = True
                yield event
        except (asyncio.CancelledError, GeneratorExit):
            stats.stop_reason = "cancelled"
            raise
        finally:
            stats.total_s = time.perf_counter() - started
            if not finished and not stats.stop_reason:
                stats.stop_reason = "cancelled"
            if stats.stop_reason == "cancelled" and stats.input_tokens == 0:
                self._estimate_usage(stats, request, "".join(text))
            self._finish_turn(stats, "".join(text), "".join(thinking), signature, calls)

    def _estimate_usage(self, stats: TurnStats, request: ChatRequest, text: str) -> None:
        """A stopped turn got no usage from the server: count it, marked as estimated."""

        stats.input_tokens = count_request_tokens(request.messages, request.system, request.tools, request.model)
        stats.output_tokens = count_tokens(text, request.model)
        stats.estimated = True

    def _finish_turn(
        self, stats: TurnStats, text: str, thinking: str, signature: str | None, calls: list[ToolCall]
    ) -> None:
        """Keep what was said, whatever way the turn ended, and record its figures."""
        stats.ended = time.monotonic()
        if text or calls or thinking:
            self._append(
                AssistantMessage(
                    content=text,
                    tool_calls=calls,
                    thinking=thinking,
                    thinking_signature=signature,
                    model=stats.reported_model or self.model_id,
                )
            )
        self._context_taken(stats.input_tokens, stats.output_tokens)
        self._record_turn(stats)

    def record_usage(
        self, model_id: str, usage: Usage, *, stop_reason: str, ttft_s: float | None, total_s: float
    ) -> TurnStats:
        """A request made for the session besides its turns (a compaction's summary): its
        tokens and cost count in the totals and the store like a turn's (returned, priced)."""
        stats = TurnStats(
            model=model_id,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            estimated=usage.estimated,
            ttft_s=ttft_s,
            total_s=total_s,
            stop_reason=stop_reason,
            ended=time.monotonic(),
        )
        self._record_turn(stats, latency=False)
        return stats

    def _record_turn(self, stats: TurnStats, *, latency: bool = True) -> None:
        """Price the turn, add it to the totals and keep it in the store."""
        if self.pricing is not None:
            stats.cost = self.pricing(stats.model, stats.input_tokens, stats.output_tokens)
        else:
            stats.cost = None
        self.totals.add(stats)
        if self.store is not None and self.session_id:
            try:
                self.store.record_turn(
                    session_id=self.session_id,
                    model=stats.model,
                    input_tokens=stats.input_tokens,
                    output_tokens=stats.output_tokens,
                    estimated=stats.estimated,
                    cost=stats.cost,
                    ttft_ms=None if stats.ttft_s is None else stats.ttft_s * 1000,
                    tokens_per_s=stats.tokens_per_s,
                    total_ms=stats.total_s * 1000,
                    stop_reason=stats.stop_reason,
                )
                if latency and stats.ttft_s is not None and stats.stop_reason not in ("error", "cancelled"):
                    self.store.record_latency(
                        model_id=stats.model,
                        ttft_ms=stats.ttft_s * 1000,
                        tokens_per_s=stats.tokens_per_s,
                        output_tokens=stats.output_tokens,
                        source=self.latency_source,
                    )
            except StoreError as exc:  # the store must never lose the answer on screen
                logger.warning("could not record the turn of session %s: %s", self.session_id, exc)

    # -- tools ------------------------------------------------------------------------
    async def _run_tools(self, ready: list[ToolCallReady]) -> AsyncIterator[Event]:
        """Decide and run each call; a stopped run still answers every call in the history.

        Providers refuse a conversation in which a tool call has no result, so when the
        run is cancelled (Esc, Ctrl-C, SIGTERM) mid-tools, the calls left without one get
        an error result saying so, and the session can be continued or resumed.
        """
        try:
            async for event in self._decide_and_run(ready):
                yield event
        except (asyncio.CancelledError, GeneratorExit):
            self._answer_unanswered(ready)
            raise

    def _answer_unanswered(self, ready: list[ToolCallReady]) -> None:
        answered: set[str] = set()
        for message in reversed(self.messages):  # the results follow their assistant message
            if not isinstance(message, ToolResultMessage):
                break
            answered.add(message.call_id)
        for call in ready:
            if call.call_id in answered:
                continue
            stopped = ToolResultMessage(
                call_id=call.call_id,
                name=call.name,
                content="not completed: the user stopped the run before this tool call finished",
                is_error=True,
            )
            try:
                self._append(stopped)
            except StoreError as exc:  # never mask the cancellation with a store error
                logger.warning("could not store the stopped call %s: %s", call.call_id, exc)

    def _tool_context(self) -> ToolContext:
        return ToolContext(
            workspace=self.workspace,
            cancel_event=self.cancel_event,
            hidden=lambda rel: self.engine.path_denied("read", rel) is not None,
            sandbox=self.sandbox,
            mode=self.engine.mode,
        )

    async def _decide_and_run(self, ready: list[ToolCallReady]) -> AsyncIterator[Event]:
        by_wire = {tool.wire_name: tool for tool in self.tools.values()}
        ctx = self._tool_context()
        delegations = [
            call for call in ready
            if isinstance(by_wire.get(call.name), AgentTool) and call.arguments is not None and not call.error
        ]
        if not delegations or self.delegation is None:
            for call in ready:
                async for event in self._one_call(call, by_wire, ctx):
                    yield event
            return
        others = [call for call in ready if call not in delegations]
        slots = asyncio.Semaphore(self.delegation.max_parallel)

        async def one_by_one() -> AsyncIterator[Event]:
            for call in others:
                async for event in self._one_call(call, by_wire, ctx):
                    yield event

        sources = [one_by_one(), *(self._delegate(call, by_wire[call.name], slots) for call in delegations)]
        async for event in merge(sources):
            yield event

    async def _one_call(self, call: ToolCallReady, by_wire: dict[str, "Tool"], ctx: ToolContext) -> AsyncIterator[Event]:
        tool = by_wire.get(call.name)
        display = tool.name if tool else call.name
        if call.error or call.arguments is None:
            async for event in self._result(call, display, call.error or "invalid arguments", True):
                yield event
            return
        if tool is None:
            names = ", ".join(sorted(by_wire)) or "none"
            message = f"unknown tool {call.name!r}; the tools available are: {names}"
            if call.name == "agent" and self.delegation is not None and self.delegation.refusal:
                message = f"delegation refused: {self.delegation.refusal}. Do the work yourself."
            async for event in self._result(call, display, message, True):
                yield event
            return
        allowed: list["Decision"] = []
        async for event in self._permit(call, tool, ctx, allowed):
            yield event
        if not allowed:
            return
        decision = allowed[0]
        if self.checkpoints is not None:  # keep the file's pre-image (see core.context.checkpoints)
            self.checkpoints.before_tool(tool.kind, call.arguments)
        began = time.perf_counter()
        try:
            output = await tool.run(call.arguments, ctx)
        except asyncio.CancelledError:  # it ran (part way): the audit log must say so
            stopped = "stopped: the run was cancelled while the tool was running"
            self._audit(call, tool.name, decision, stopped, time.perf_counter() - began)
            raise
        duration = time.perf_counter() - began
        summary = output.summary or (output.content.splitlines()[0][:120] if output.content else "")
        self._audit(call, tool.name, decision, ("error: " if output.is_error else "") + summary, duration)
        async for event in self._result(call, tool.name, output.content, output.is_error):
            yield event

    async def _permit(
        self, call: ToolCallReady, tool: "Tool", ctx: ToolContext, allowed: list["Decision"]
    ) -> AsyncIterator[Event]:
        """Ask the engine (and through it the approver) about one call.

        Appends the decision to ``allowed`` when the call may run; a denied call is
        audited and answered here.
        """
        arguments = call.arguments or {}
        request = PermissionRequest(
            call_id=call.call_id,
            tool=tool.name,
            arguments=arguments,
            workspace=self.workspace,
            session_id=self.session_id,
            agent=self.agent_path,
            model=self.model_id,
            agent_id=self.agent_id,
        )
        verdict = self.engine.evaluate(request)
        if verdict.outcome == "ask":
            yield PermissionRequested(
                call_id=call.call_id,
                tool=tool.name,
                arguments=arguments,
                reason=verdict.reason,
                preview=tool.preview(arguments, ctx),
            )
        decision = await self.engine.decide(request, self.approver)
        yield PermissionDecided(
            call_id=call.call_id,
            tool=tool.name,
            allowed=decision.allowed,
            scope=decision.scope,
            decided_by=decision.decided_by,
            reason=decision.reason,
        )
        if decision.rule_written:
            yield Notice(message=f"saved rule {decision.rule_written} to {decision.rule_file}")
        if decision.allowed:
            allowed.append(decision)
            return
        why = decision.reason or "denied"
        message = f"permission denied for {tool.name}: {why}. Do not retry the same call; ask the user or try another approach."
        self._audit(call, tool.name, decision, "not executed (denied)", 0.0)
        async for event in self._result(call, tool.name, message, True):
            yield event

    # -- delegation -------------------------------------------------------------------
    async def _delegate(self, call: ToolCallReady, tool: "Tool", slots: asyncio.Semaphore) -> AsyncIterator[Event]:
        """Run one ``agent`` call: the subagent's events, then its final message as the result."""
        assert self.delegation is not None
        allowed: list["Decision"] = []
        async for event in self._permit(call, tool, self._tool_context(), allowed):
            yield event
        if not allowed:
            return
        decision = allowed[0]
        began = time.perf_counter()
        try:
            args = tool.parse_arguments(call.arguments)
            assert isinstance(args, AgentArgs)
            child, choice = await self.delegation.open_child(self, args, call.call_id)
        except AgenticFlowError as exc:  # refused (unknown agent, cycle, depth, model) or no provider
            self._audit(call, tool.name, decision, f"refused: {exc.message.splitlines()[0][:200]}", 0.0)
            async for event in self._result(call, tool.name, f"delegation refused: {exc.message}", True):
                yield event
            return
        if self.checkpoints is not None:  # a subagent's file changes count in this turn
            child.checkpoints = self.checkpoints.for_subagent()
        for note in choice.notes:
            yield Notice(message=note, level="warning")
        async with slots:
            began = time.perf_counter()
            yield as_agent(
                SubagentStarted(
                    call_id=call.call_id,
                    agent=child.agent_name or "",
                    path=child.agent_path,
                    model=child.model_id,
                    model_reason=choice.reason,
                    description=args.description,
                    subagent_session_id=child.session_id,
                    depth=child.lineage.depth,
                ),
                child.agent_id,
                self.agent_id,
            )
            stream = child.send(args.prompt, clear_cancel=False)
            try:
                async for event in stream:
                    yield event
            except (asyncio.CancelledError, GeneratorExit):
                # Keep what the subagent produced: its transcript is stored (closing its
                # stream ends its turn now), and its partial answer is this call's result
                # in the parent's history.
                await stream.aclose()
                content = _delegated_result(child, stopped=True)[0]
                self._audit(call, tool.name, decision, f"stopped: {child.agent_path} was cancelled", time.perf_counter() - began)
                self._append(ToolResultMessage(call_id=call.call_id, name=call.name, content=redact(content), is_error=True))
                raise
            total = child.all_totals()
            yield as_agent(
                SubagentFinished(
                    call_id=call.call_id,
                    stop_reason=cast(StopReason, child.last_stop or "end_turn"),
                    turns=len(total.turns),
                    input_tokens=total.input_tokens,
                    output_tokens=total.output_tokens,
                    cost=total.cost,
                    estimated=total.estimated,
                    duration_s=time.perf_counter() - began,
                    error=child.last_error if child.last_stop == "error" else None,
                ),
                child.agent_id,
                self.agent_id,
            )
        content, is_error = _delegated_result(child)
        summary = f"{child.agent_path} on {child.model_id}: {child.last_stop or 'end_turn'}, {_stats(child)}"
        self._audit(call, tool.name, decision, ("error: " if is_error else "") + summary, time.perf_counter() - began)
        async for event in self._result(call, tool.name, content, is_error):
            yield event

    async def _result(self, call: ToolCallReady, name: str, content: str, is_error: bool) -> AsyncIterator[Event]:
        content = redact(content)
        self._append(ToolResultMessage(call_id=call.call_id, name=call.name, content=content, is_error=is_error))
        yield ToolResult(call_id=call.call_id, name=name, content=content, is_error=is_error)

    def _audit(self, call: ToolCallReady, tool: str, decision: Any, summary: str, duration: float) -> None:
        if self.audit is None:
            return

        self.audit.append(
            AuditEntry(
                session_id=self.session_id,
                agent=self.agent_path,
                model=self.model_id,
                tool=tool,
                arguments=call.arguments or {},
                decision="allow" if decision.allowed else "deny",
                scope=decision.scope,
                decided_by=decision.decided_by,
                reason=decision.reason,
                result_summary=summary,
                duration_ms=round(duration * 1000),
            )
        )

    def _append(self, message: Message) -> None:
        self.messages.append(message)
        if self.store is not None and self.session_id:
            self.store.append_message(self.session_id, _for_store(message))

    def _persist(self, message: Message) -> int:
        """Store one message (secrets masked) without adding it to the live history."""
        assert self.store is not None and self.session_id is not None
        return self.store.append_message(self.session_id, _for_store(message))


def _stats(child: AgentSession) -> str:
    total = child.all_totals()
    est = "~" if total.estimated else ""
    turns = len(total.turns)
    return (
        f"{turns} turn{'s' if turns != 1 else ''}, {est}{total.input_tokens + total.output_tokens:,} tokens, "
        f"cost {format_cost(total.cost)}"
    )


def _delegated_result(child: AgentSession, *, stopped: bool = False) -> tuple[str, bool]:
    """What a subagent's parent gets back: its final message and a short stats line."""
    text = child.final_text().strip()
    stats = f"[{child.agent_name} · {child.model_id} · {_stats(child)}]"
    if stopped:
        return (
            f"{child.agent_name} was stopped by the user before it finished. What it had produced:\n"
            f"{text or '(nothing yet)'}\n\n{stats}",
            True,
        )
    stop = child.last_stop
    if stop == "error":
        return f"{child.agent_name} failed: {child.last_error or 'provider error'}\n{text}\n\n{stats}".replace("\n\n\n", "\n\n"), True
    if not text:
        return f"{child.agent_name} finished ({stop or 'no answer'}) without a final message.\n\n{stats}", True
    if stop in ("max_turns", "max_tokens", "cut_off"):
        why = {"max_turns": "its turn limit", "max_tokens": "the token limit", "cut_off": "a cut-off stream"}[stop]
        return f"{text}\n\n(note: {child.agent_name} stopped at {why}; this may be incomplete)\n{stats}", False
    return f"{text}\n\n{stats}", False


def _for_store(message: Message) -> Message:
    """The message as it is written to disk: secrets masked (see :mod:`core.redact`).

    Tool results are masked before the model sees them; a key can still be in what the
    user typed or in a tool call the model made with it (``write .env``). The live
    conversation keeps them (the call ran with the real value); the stored transcript
    does not. Signed thinking is kept as is: its signature covers the text.
    """
    if isinstance(message, UserMessage):
        return message.model_copy(update={"content": redact(message.content)})
    if isinstance(message, AssistantMessage):
        update: dict[str, Any] = {
            "content": redact(message.content),
            "tool_calls": [call.model_copy(update={"arguments": redact_obj(call.arguments)}) for call in message.tool_calls],
        }
        if not message.thinking_signature:
            update["thinking"] = redact(message.thinking)
        return message.model_copy(update=update)
    return message

