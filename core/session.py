"""The agent loop: user message → provider stream → tool calls → permission → results.

One :class:`AgentSession` holds a conversation in the provider-neutral form of
:mod:`core.messages`, so the model (even the provider kind) can change between turns.
``send()`` is an async iterator of the same typed events the providers yield, plus the
permission and tool-result events, so every front end (TUI, CLI, tests) consumes one
stream. Nothing said is ever lost: cancelled or cut-off turns keep their partial text in
the history and in the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from agentic_flow.core.errors import StoreError
from agentic_flow.core.events import (
    Event,
    MessageStarted,
    Notice,
    PermissionDecided,
    PermissionRequested,
    TextDelta,
    ThinkingDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolResult,
    TurnEnded,
    Usage,
)
from agentic_flow.core.messages import (
    AssistantMessage,
    ChatRequest,
    Message,
    ToolCall,
    ToolResultMessage,
    UserMessage,
)
from agentic_flow.core.models.tokens import count_request_tokens, count_tokens
from agentic_flow.core.permissions import PermissionRequest
from agentic_flow.core.permissions.audit import AuditEntry
from agentic_flow.core.redact import redact, redact_obj
from agentic_flow.core.tools.base import ToolContext

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions import Approver, PermissionEngine
    from agentic_flow.core.permissions.audit import AuditLog
    from agentic_flow.core.providers.base import Provider
    from agentic_flow.core.sandbox import Sandbox
    from agentic_flow.core.store.database import LatencySource, Store
    from agentic_flow.core.tools.base import Tool

__all__ = ["TurnStats", "SessionTotals", "SessionOptions", "SessionRecord", "Pricing", "AgentSession", "DEFAULT_MAX_TURNS"]

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
class SessionRecord:
    """Where a session is kept: the store (messages, turns, latency), the audit log,
    the session id to continue (None: a new one), and the prices its cost is figured with."""

    store: "Store | None" = None
    audit: "AuditLog | None" = None
    session_id: str | None = None
    pricing: Pricing | None = None
    latency_source: "LatencySource" = "session"


class AgentSession:
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
        self.cancel_event = asyncio.Event()
        self.session_id = record.session_id
        if self.store is not None and self.session_id is None:
            self.session_id = self.store.create_session(
                agent=self.agent_name or "", model=model_id, workspace=str(workspace)
            )

    # -- public API -----------------------------------------------------------------
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

    async def send(self, text: str) -> AsyncIterator[Event]:
        """Add a user message and run the loop until the model stops."""
        self.cancel_event.clear()
        self._append(UserMessage(content=text))
        turns = 0
        while True:
            if turns >= self.max_turns:
                yield Notice(
                    message=f"stopped after {self.max_turns} model turns (--max-turns); "
                    "send another message to continue",
                    level="warning",
                )
                yield TurnEnded(stop_reason="max_turns", model=None)
                return
            turns += 1
            ended: TurnEnded | None = None
            ready: list[ToolCallReady] = []
            async for event in self._one_turn():
                if isinstance(event, ToolCallReady):
                    ready.append(event)
                if isinstance(event, TurnEnded):
                    ended = event
                yield event
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
        if self.pricing is not None:
            stats.cost = self.pricing(self.model_id, stats.input_tokens, stats.output_tokens)
        else:
            stats.cost = None
        self.totals.add(stats)
        if self.store is not None and self.session_id:
            try:
                self.store.record_turn(
                    session_id=self.session_id,
                    model=self.model_id,
                    input_tokens=stats.input_tokens,
                    output_tokens=stats.output_tokens,
                    estimated=stats.estimated,
                    cost=stats.cost,
                    ttft_ms=None if stats.ttft_s is None else stats.ttft_s * 1000,
                    tokens_per_s=stats.tokens_per_s,
                    total_ms=stats.total_s * 1000,
                    stop_reason=stats.stop_reason,
                )
                if stats.ttft_s is not None and stats.stop_reason not in ("error", "cancelled"):
                    self.store.record_latency(
                        model_id=self.model_id,
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

    async def _decide_and_run(self, ready: list[ToolCallReady]) -> AsyncIterator[Event]:

        by_wire = {tool.wire_name: tool for tool in self.tools.values()}
        ctx = ToolContext(
            workspace=self.workspace,
            cancel_event=self.cancel_event,
            hidden=lambda rel: self.engine.path_denied("read", rel) is not None,
            sandbox=self.sandbox,
            mode=self.engine.mode,
        )
        for call in ready:
            tool = by_wire.get(call.name)
            display = tool.name if tool else call.name
            if call.error or call.arguments is None:
                async for event in self._result(call, display, call.error or "invalid arguments", True):
                    yield event
                continue
            if tool is None:
                names = ", ".join(sorted(by_wire)) or "none"
                message = f"unknown tool {call.name!r}; the tools available are: {names}"
                async for event in self._result(call, display, message, True):
                    yield event
                continue
            request = PermissionRequest(
                call_id=call.call_id,
                tool=tool.name,
                arguments=call.arguments,
                workspace=self.workspace,
                session_id=self.session_id,
                agent=self.agent_name,
                model=self.model_id,
            )
            verdict = self.engine.evaluate(request)
            if verdict.outcome == "ask":
                yield PermissionRequested(
                    call_id=call.call_id,
                    tool=tool.name,
                    arguments=call.arguments,
                    reason=verdict.reason,
                    preview=tool.preview(call.arguments, ctx),
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
            if not decision.allowed:
                why = decision.reason or "denied"
                message = f"permission denied for {tool.name}: {why}. Do not retry the same call; ask the user or try another approach."
                self._audit(call, tool.name, decision, "not executed (denied)", 0.0)
                async for event in self._result(call, tool.name, message, True):
                    yield event
                continue
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
                agent=self.agent_name,
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

