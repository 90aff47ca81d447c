"""The typed event stream every front end consumes.

A run (one provider stream, or a whole agent session) is an async iterator of these
events. The TUI turns them into widgets, ``agentic-flow run`` prints text deltas (or,
with ``--json``, every event as one JSON line), tests assert on them. Providers never
raise mid-stream for things the user should see: they yield ``ProviderFailed`` and end
with ``TurnEnded``, so text already received is never lost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Event",
    "MessageStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallStarted",
    "ToolCallArgsDelta",
    "ToolCallReady",
    "PermissionRequested",
    "PermissionDecided",
    "ToolResult",
    "Usage",
    "TurnEnded",
    "ProviderFailed",
    "Retrying",
    "Notice",
    "SubagentStarted",
    "SubagentUpdated",
    "SubagentFinished",
    "MAIN_AGENT_ID",
    "AGENT_PATH_SEPARATOR",
    "as_agent",
    "ContextCompacted",
    "StopReason",
    "AnyEvent",
    "event_to_json",
]

StopReason = Literal[
    "end_turn",  # the model finished
    "tool_use",  # the model wants tool results
    "max_tokens",  # the token limit was reached
    "stop_sequence",
    "content_filter",
    "cut_off",  # the stream ended without a finish reason
    "cancelled",  # the user stopped it (Esc, Ctrl-C)
    "error",  # a provider error ended the turn
    "max_turns",  # the agent loop reached --max-turns
]


MAIN_AGENT_ID = "main"
#: Between the names of an agent path: ``coder › reviewer``.
AGENT_PATH_SEPARATOR = " › "


class Event(BaseModel):
    """Base of all events.

    ``agent_id`` says which agent of a run the event is about: ``main`` for the agent the
    user talks to, ``main.1``, ``main.2``, ... for the subagents it delegated to (in start
    order), ``main.1.1`` for theirs. ``parent_id`` is the delegating agent's id (None for
    ``main``). Providers and the main loop leave the defaults; a subagent's session sets
    them with :func:`as_agent`.
    """

    model_config = ConfigDict(frozen=True)

    agent_id: str = MAIN_AGENT_ID
    parent_id: str | None = None


class MessageStarted(Event):
    """The server accepted the request; ``model`` is the id it reports back."""

    type: Literal["message_started"] = "message_started"
    provider: str
    model: str
    requested_model: str
    response_id: str | None = None


class TextDelta(Event):
    type: Literal["text"] = "text"
    text: str


class ThinkingDelta(Event):
    """Reasoning text. ``signature`` carries Anthropic's signed-thinking token."""

    type: Literal["thinking"] = "thinking"
    text: str
    signature: str | None = None


class ToolCallStarted(Event):
    type: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str
    index: int = 0


class ToolCallArgsDelta(Event):
    type: Literal["tool_call_args"] = "tool_call_args"
    call_id: str
    delta: str


class ToolCallReady(Event):
    """A tool call whose arguments are complete.

    ``error`` is set (and ``arguments`` is None) when the arguments were cut off or are
    not a JSON object; such a call must not be executed.
    """

    type: Literal["tool_call_ready"] = "tool_call_ready"
    call_id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""
    error: str | None = None


class PermissionRequested(Event):
    type: Literal["permission_requested"] = "permission_requested"
    call_id: str
    tool: str
    arguments: dict[str, Any]
    reason: str
    preview: str | None = None


class PermissionDecided(Event):
    type: Literal["permission_decided"] = "permission_decided"
    call_id: str
    tool: str
    allowed: bool
    scope: Literal["once", "session", "always", "rule", "mode", "policy"] = "once"
    decided_by: str
    reason: str | None = None


class ToolResult(Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    content: str
    is_error: bool = False


class Usage(Event):
    """Token usage of one provider turn. ``estimated`` when counted locally."""

    type: Literal["usage"] = "usage"
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    estimated: bool = False


class TurnEnded(Event):
    type: Literal["turn_ended"] = "turn_ended"
    stop_reason: StopReason
    model: str | None = None


class ProviderFailed(Event):
    """A provider failure shown to the user; never a traceback.

    ``message`` says what happened and what to do, without the provider, model and HTTP
    status, which are fields of their own: a front end names them once.
    """

    type: Literal["provider_error"] = "provider_error"
    provider: str
    model: str
    message: str
    kind: str = "provider_error"
    status: int | None = None
    retryable: bool = False


class Retrying(Event):
    type: Literal["retrying"] = "retrying"
    provider: str
    model: str
    attempt: int
    max_attempts: int
    delay: float
    reason: str
    status: int | None = None
    """The HTTP status that caused the retry (429: rate limited), when there was one."""


class Notice(Event):
    """Something the user should know that is not an error (start-up progress, ...)."""

    type: Literal["notice"] = "notice"
    message: str
    level: Literal["info", "warning"] = "info"


class SubagentStarted(Event):
    """A delegated agent started (``agent_id`` is the subagent, ``parent_id`` who delegated).

    ``call_id`` is the parent's ``agent`` tool call; ``path`` the chain of agent names
    (``coder › reviewer``); ``subagent_session_id`` the subagent's stored transcript, if any
    (``agentic-flow sessions show`` prints it).
    """

    type: Literal["subagent_started"] = "subagent_started"
    call_id: str
    agent: str
    path: str
    model: str
    model_reason: str
    description: str = ""
    subagent_session_id: str | None = None
    depth: int = 1


class SubagentUpdated(Event):
    """A subagent's running totals, after each of its model turns."""

    type: Literal["subagent_updated"] = "subagent_updated"
    turns: int
    input_tokens: int
    output_tokens: int
    cost: float | None = None
    estimated: bool = False


class SubagentFinished(Event):
    """A subagent ended; its final message went back to the parent as the tool result."""

    type: Literal["subagent_finished"] = "subagent_finished"
    call_id: str
    stop_reason: StopReason
    turns: int
    input_tokens: int
    output_tokens: int
    cost: float | None = None
    estimated: bool = False
    duration_s: float = 0.0
    error: str | None = None


class ContextCompacted(Event):
    """Older turns were replaced by a summary to make room in the model's context.

    ``trigger`` is ``auto`` (the window was filling up), ``manual`` (``/compact``) or
    ``overflow`` (the provider refused the request as too long; it is retried once).
    """

    type: Literal["context_compacted"] = "context_compacted"
    trigger: Literal["auto", "manual", "overflow"]
    summarised: int
    """Messages replaced by the summary."""
    kept: int
    """Recent messages kept as they were."""
    tokens_before: int
    tokens_after: int
    model: str
    """The model that wrote the summary."""
    summary: str
    input_tokens: int = 0
    output_tokens: int = 0
    """What the summary request used (it counts in the session's totals like a turn)."""
    cost: float | None = None
    """What it cost (None: the price is unknown)."""


AnyEvent = Annotated[
    Union[
        MessageStarted,
        TextDelta,
        ThinkingDelta,
        ToolCallStarted,
        ToolCallArgsDelta,
        ToolCallReady,
        PermissionRequested,
        PermissionDecided,
        ToolResult,
        Usage,
        TurnEnded,
        ProviderFailed,
        Retrying,
        Notice,
        SubagentStarted,
        SubagentUpdated,
        SubagentFinished,
        ContextCompacted,
    ],
    Field(discriminator="type"),
]

E = TypeVar("E", bound=Event)


def as_agent(event: E, agent_id: str, parent_id: str | None) -> E:
    """``event`` as told by agent ``agent_id`` (the one place events get their agent)."""
    return event.model_copy(update={"agent_id": agent_id, "parent_id": parent_id})


def event_to_json(event: Event) -> str:
    """One JSON line for ``--json`` output."""
    return event.model_dump_json()

