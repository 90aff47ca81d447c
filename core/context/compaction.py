"""Compaction: older turns replaced by a summary before the model's context fills up.

How it works:

- :func:`context_usage` estimates what the next request holds: the tokens the provider
  reported for the last turn (its input plus its answer) and a count of what was added
  since (tool results, a new prompt); before the first turn, the whole request counted
  with tiktoken. The window is the model's context from the catalog.
- :meth:`Compactor.should_compact` is true once that, plus room for the answer, passes
  ``threshold`` of the window (``context.compact_at`` in settings, default 0.8).
- :func:`cut_index` chooses what stays as it was: the last ``keep_turns`` prompts and
  everything after them, and always the last assistant message with its tool results
  while they wait for the model; a session with fewer turns is cut inside the current
  one. Everything before the cut is summarised by the session's model (or
  ``context.compact_model``) with no tools; the summary becomes the first message.
- The session stores the new history after everything said so far and records the
  compaction (see ``AgentSession.replace_history``), so the whole transcript stays in
  the store and a resumed session continues from the compacted one.
- The summary request counts like any model turn: its tokens and cost join the session's
  totals and the store (``AgentSession.record_usage``), also when it is then rejected.
  Only an answer that ends normally with text is a summary; a tool call, an answer cut
  off at max_tokens or a provider error leave the conversation as it was, with a notice.
- A provider that refuses a request as too long (:func:`is_context_overflow`) is
  answered by compacting and retrying once (``AgentSession.send``).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Protocol

import orjson

from agentic_flow.core.events import (
    ContextCompacted,
    Event,
    Notice,
    ProviderFailed,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    TurnEnded,
    Usage,
)
from agentic_flow.core.messages import (
    AssistantMessage,
    ChatRequest,
    Message,
    ToolResultMessage,
    UserMessage,
)
from agentic_flow.core.models.tokens import count_request_tokens, count_tokens

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.providers.base import Provider

__all__ = [
    "CompactionPolicy",
    "Compactor",
    "ContextUsage",
    "SUMMARY_HEADER",
    "context_usage",
    "cut_index",
    "is_context_overflow",
    "is_summary",
    "summary_request",
    "transcript_for_summary",
]

SUMMARY_HEADER = "[Summary of the earlier conversation, written to save context]"

Trigger = Literal["auto", "manual", "overflow"]

SUMMARY_SYSTEM = (
    "You summarise the earlier part of a conversation between a user and a coding agent, so the agent "
    "can continue the work with less context. Keep: every request and decision of the user (quote "
    "short requests word for word), what was done and why, files read or changed (with their paths) "
    "and what changed in them, commands run and their outcome, errors met and how they were solved, "
    "and what remains to do. Leave out pleasantries and anything the agent can read again. Write in "
    "the same language as the conversation, as a concise list under short headings."
)

#: Phrases providers use when a request does not fit the model's context window.
_OVERFLOW = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|input is too long|"
    r"too many tokens|exceeds the (?:model'?s? )?(?:maximum|context)|reduce the length|"
    r"request too large|max_tokens.*exceed|tokens? (?:limit|exceed)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class CompactionPolicy:
    """When and how to compact (``context:`` in settings)."""

    auto: bool = True
    """Compact on its own before the window fills up."""
    threshold: float = 0.8
    """Compact once the request would fill this share of the window."""
    keep_turns: int = 2
    """Prompts (with all that followed them) kept as they were."""
    model: str | None = None
    """``provider:model`` that writes summaries (None: the session's own model)."""


@dataclass(frozen=True)
class ContextUsage:
    """How full the model's context is: ``used`` of ``window`` tokens (window None: unknown)."""

    used: int
    window: int | None
    estimated: bool = True

    @property
    def fraction(self) -> float | None:
        return None if not self.window else self.used / self.window


class RecordedUsage(Protocol):
    """What recording a request's usage gives back (a session's ``TurnStats``, priced)."""

    input_tokens: int
    output_tokens: int
    cost: float | None


class CompactingSession(Protocol):
    """What compaction needs of an :class:`~core.session.AgentSession`."""

    messages: list[Message]
    system: str | None
    model_id: str
    provider: "Provider"
    context_tokens: int
    context_mark: int

    @property
    def wire_model(self) -> str: ...

    def request(self) -> ChatRequest: ...

    def replace_history(self, messages: list[Message], record: dict[str, Any]) -> None: ...

    def record_usage(
        self, model_id: str, usage: Usage, *, stop_reason: str, ttft_s: float | None, total_s: float
    ) -> RecordedUsage: ...


def is_summary(message: Message) -> bool:
    return isinstance(message, UserMessage) and message.content.startswith(SUMMARY_HEADER)


def is_context_overflow(event: ProviderFailed) -> bool:
    """The provider refused the request because it does not fit the model's context."""
    if event.kind not in ("bad_request", "provider_error", "server_error") and event.status not in (400, 413, 422):
        return False
    return bool(_OVERFLOW.search(event.message))


def context_usage(session: CompactingSession, window: int | None) -> ContextUsage:
    """What the next request to the model holds, estimated (see the module docstring)."""
    if session.context_tokens > 0 and session.context_mark <= len(session.messages):
        added = session.messages[session.context_mark :]
        extra = count_request_tokens(added, None, (), session.wire_model) if added else 0
        return ContextUsage(session.context_tokens + extra, window)
    request = session.request()
    return ContextUsage(count_request_tokens(request.messages, request.system, request.tools, request.model), window)


def cut_index(messages: list[Message], keep_turns: int) -> int | None:
    """Where the kept part of the history starts (None: nothing worth summarising).

    The kept part never starts with a tool result (results follow their call), and it
    always holds the last assistant message when its tool results still wait for the
    model. When keeping ``keep_turns`` prompts would leave nothing older, fewer are kept;
    a conversation that is one long turn is cut inside it, before its last answer.
    """
    if not messages:
        return None
    prompts = [i for i, m in enumerate(messages) if isinstance(m, UserMessage) and not is_summary(m)]
    limit = len(messages)
    if isinstance(messages[-1], ToolResultMessage) or (
        isinstance(messages[-1], AssistantMessage) and messages[-1].tool_calls
    ):
        last_call = max(i for i, m in enumerate(messages) if isinstance(m, AssistantMessage))
        limit = last_call
    if keep_turns <= 0:
        cut = limit
    else:  # keep fewer turns when keeping them all would leave nothing to summarise
        keep = min(keep_turns, len(prompts))
        cut = prompts[-keep] if keep else 0
        while cut <= 0 and keep > 1:
            keep -= 1
            cut = prompts[-keep]
    cut = min(cut, limit)
    if cut <= 0:  # one long turn: cut inside it, before its pending call or its last answer
        answers = [i for i, m in enumerate(messages) if isinstance(m, AssistantMessage)]
        cut = limit if limit < len(messages) else (answers[-1] if answers else 0)
    older = messages[:cut]
    if len(older) <= 1:  # a lone prompt or summary: nothing gained by summarising it
        return None
    return cut


def transcript_for_summary(messages: list[Message], max_chars: int = 200_000, result_chars: int = 2_000) -> str:
    """The messages as plain text for the summariser; long tool results and the oldest
    text are cut so the summary request itself fits."""
    lines: list[str] = []
    for message in messages:
        if isinstance(message, UserMessage):
            lines.append(f"USER: {message.content}")
        elif isinstance(message, AssistantMessage):
            if message.content:
                lines.append(f"AGENT: {message.content}")
            for call in message.tool_calls:
                args = orjson.dumps(call.arguments).decode()
                lines.append(f"AGENT CALLS {call.name}: {args[:result_chars]}")
        elif isinstance(message, ToolResultMessage):
            content = message.content
            if len(content) > result_chars:
                content = content[:result_chars] + f"\n[... {len(message.content) - result_chars} more characters]"
            lines.append(f"RESULT of {message.name}{' (error)' if message.is_error else ''}: {content}")
    text = "\n\n".join(lines)
    if len(text) > max_chars:
        text = "[... the oldest part is left out]\n" + text[-max_chars:]
    return text


def summary_request(wire_model: str, messages: list[Message], instructions: str | None, window: int | None) -> ChatRequest:
    """The request that asks for the summary (no tools)."""
    budget = 200_000 if not window else max(4_000, int(window * 0.6) * 3)  # ~3 characters per token
    prompt = (
        "Summarise this conversation so far, following the system instructions.\n"
        + (f"Also: {instructions.strip()}\n" if instructions and instructions.strip() else "")
        + "\n<conversation>\n"
        + transcript_for_summary(messages, max_chars=budget)
        + "\n</conversation>"
    )
    return ChatRequest(
        model=wire_model,
        messages=[UserMessage(content=prompt)],
        system=SUMMARY_SYSTEM,
        max_tokens=min(4096, max(512, (window or 32_000) // 8)),
    )


def _rejected(stop: str | None, called: bool, summary: str) -> str | None:
    """Why an answer to the summary request is no summary (None: it is one)."""
    if called or stop == "tool_use":
        return "the model answered with a tool call instead of a summary"
    if stop == "max_tokens":
        return "the summary was cut off at the token limit (max_tokens)"
    if stop not in ("end_turn", "stop_sequence"):
        return f"the answer did not finish ({stop or 'no finish reason'})"
    if not summary:
        return "the model returned no text"
    return None


class Compactor:
    """Decides when a session compacts, and does it.

    Args:
        policy: the settings.
        summary_provider / summary_model: who writes summaries when the policy names a
            model of its own (None: the session's provider and model at the time).
    """

    def __init__(
        self,
        policy: CompactionPolicy = CompactionPolicy(),
        *,
        summary_provider: "Provider | None" = None,
        summary_model: str | None = None,
    ) -> None:
        self.policy = policy
        self.summary_provider = summary_provider
        self.summary_model = summary_model
        self.count = 0
        """Compactions done in this session (shown by ``/cost``)."""

    def should_compact(self, usage: ContextUsage, reserve: int) -> bool:
        if not self.policy.auto or not usage.window:
            return False
        return usage.used + reserve > self.policy.threshold * usage.window

    async def compact(
        self,
        session: CompactingSession,
        trigger: Trigger,
        *,
        window: int | None,
        instructions: str | None = None,
    ) -> AsyncIterator[Event]:
        """Summarise the older part of ``session``'s history; yields a ``ContextCompacted``
        event when it did, a ``Notice`` saying why when it could not."""
        keep = self.policy.keep_turns if trigger != "overflow" else min(self.policy.keep_turns, 1)
        messages = list(session.messages)
        cut = cut_index(messages, keep)
        if cut is None:
            yield Notice(message="Nothing to compact yet: the conversation is only its latest turn.", level="warning")
            return
        before = context_usage(session, window).used
        provider = self.summary_provider or session.provider
        model_id = self.summary_model or session.model_id
        wire = model_id.split(":", 1)[1] if ":" in model_id else model_id
        request = summary_request(wire, messages[:cut], instructions, window)
        parts: list[str] = []
        failure: str | None = None
        usage: Usage | None = None
        stop: str | None = None
        called = False
        started = time.perf_counter()
        ttft: float | None = None
        try:
            async for event in provider.stream(request):
                if isinstance(event, TextDelta):
                    if ttft is None:
                        ttft = time.perf_counter() - started
                    parts.append(event.text)
                elif isinstance(event, (ToolCallStarted, ToolCallReady)):
                    called = True
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, TurnEnded):
                    stop = event.stop_reason
                elif isinstance(event, ProviderFailed):
                    failure = event.message
        except (asyncio.CancelledError, GeneratorExit):
            stop = "cancelled"
            raise
        finally:  # the summary request is paid for like any turn, whatever became of it
            if usage is None and stop == "cancelled":
                usage = Usage(
                    input_tokens=count_request_tokens(request.messages, request.system, request.tools, request.model),
                    output_tokens=count_tokens("".join(parts), request.model),
                    estimated=True,
                )
            recorded = None
            if usage is not None:
                recorded = session.record_usage(
                    model_id, usage, stop_reason=stop or "cut_off", ttft_s=ttft, total_s=time.perf_counter() - started
                )
        summary = "".join(parts).strip()
        if failure is None:
            failure = _rejected(stop, called, summary)
        if failure is not None:
            yield Notice(message=f"Could not compact the conversation ({model_id}: {failure}); it is unchanged.", level="warning")
            return
        head = UserMessage(content=f"{SUMMARY_HEADER}\n\n{summary}")
        new_history: list[Message] = [head, *messages[cut:]]
        after = count_request_tokens(new_history, session.system, (), session.wire_model)
        record = {
            "trigger": trigger,
            "summarised": cut,
            "kept": len(messages) - cut,
            "tokens_before": before,
            "tokens_after": after,
            "model": model_id,
            "summary": summary,
            "cut": cut,
        }
        session.replace_history(new_history, record)
        self.count += 1
        yield ContextCompacted(
            trigger=trigger,
            summarised=cut,
            kept=len(messages) - cut,
            tokens_before=before,
            tokens_after=after,
            model=model_id,
            summary=summary,
            input_tokens=recorded.input_tokens if recorded is not None else 0,
            output_tokens=recorded.output_tokens if recorded is not None else 0,
            cost=recorded.cost if recorded is not None else None,
        )
