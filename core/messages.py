"""The conversation in a provider-neutral form.

Sessions store these; each provider kind converts them to its wire format on every
request. That is what lets a user switch from an Anthropic model to an OpenAI-compatible
one mid-session without losing tool calls or their results.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter

__all__ = [
    "ToolCall",
    "UserMessage",
    "AssistantMessage",
    "ToolResultMessage",
    "Message",
    "ToolSpec",
    "ChatRequest",
    "messages_to_json",
    "messages_from_json",
]


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class UserMessage(BaseModel):
    role: Literal["user"] = "user"
    content: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    thinking: str = ""
    # Anthropic requires the signed thinking block back when tools are used.
    thinking_signature: str | None = None
    model: str | None = None


class ToolResultMessage(BaseModel):
    role: Literal["tool"] = "tool"
    call_id: str
    name: str
    content: str
    is_error: bool = False


Message = Annotated[Union[UserMessage, AssistantMessage, ToolResultMessage], Field(discriminator="role")]

_MESSAGES: TypeAdapter[list[Any]] = TypeAdapter(list[Message])


class ToolSpec(BaseModel):
    """A tool offered to the model. ``name`` is the wire name (``^[a-zA-Z0-9_-]{1,64}$``)."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ChatRequest(BaseModel):
    """One request to a provider: everything the wire formats need."""

    model: str
    messages: list[Message]
    system: str | None = None
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None


def messages_to_json(messages: list[Any]) -> bytes:
    return _MESSAGES.dump_json(messages)


def messages_from_json(data: str | bytes) -> list[Any]:
    return _MESSAGES.validate_json(data)
