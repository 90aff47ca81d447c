"""The ``anthropic`` provider kind: the native Messages API stream.

Event sequence: ``message_start`` (model, input usage) → per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``thinking_delta``,
``signature_delta``, ``input_json_delta``) / ``content_block_stop`` → ``message_delta``
(stop reason, cumulative output usage) → ``message_stop``; ``ping`` keep-alives and
``error`` events (``overloaded_error``) may come at any point.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from agentic_flow.core import errors
from agentic_flow.core.events import (
    Event,
    MessageStarted,
    StopReason,
    TextDelta,
    ThinkingDelta,
    ToolCallArgsDelta,
    ToolCallReady,
    ToolCallStarted,
    Usage,
)
from agentic_flow.core.messages import (
    AssistantMessage,
    ChatRequest,
    ToolResultMessage,
    UserMessage,
)
from agentic_flow.core.providers.base import (
    Provider,
    TurnState,
    parse_tool_arguments,
    text_or_none,
)
from agentic_flow.core.providers.sse import SSEEvent

__all__ = ["AnthropicProvider", "to_anthropic_messages", "ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "pause_turn": "end_turn",
    "refusal": "content_filter",
    "model_context_window_exceeded": "max_tokens",
}
_ID_OK = re.compile(r"^[a-zA-Z0-9_-]+$")


def _tool_id(call_id: str) -> str:
    """Anthropic ids must match ``^[a-zA-Z0-9_-]+$``; ids from other servers may not."""
    if _ID_OK.match(call_id):
        return call_id
    return "toolu_" + re.sub(r"[^a-zA-Z0-9_-]", "_", call_id)


def to_anthropic_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Neutral messages → Messages API turns (tool results ride in user turns)."""
    out: list[dict[str, Any]] = []

    def user_blocks() -> list[dict[str, Any]]:
        if out and out[-1]["role"] == "user":
            return out[-1]["content"]
        out.append({"role": "user", "content": []})
        return out[-1]["content"]

    for msg in request.messages:
        if isinstance(msg, UserMessage):
            user_blocks().append({"type": "text", "text": msg.content or " "})
        elif isinstance(msg, ToolResultMessage):
            user_blocks().append(
                {
                    "type": "tool_result",
                    "tool_use_id": _tool_id(msg.call_id),
                    "content": msg.content or "(no output)",
                    "is_error": msg.is_error,
                }
            )
        elif isinstance(msg, AssistantMessage):
            blocks: list[dict[str, Any]] = []
            if msg.thinking and msg.thinking_signature:
                blocks.append({"type": "thinking", "thinking": msg.thinking, "signature": msg.thinking_signature})
            if msg.content:
                blocks.append({"type": "text", "text": msg.content})
            for call in msg.tool_calls:
                blocks.append({"type": "tool_use", "id": _tool_id(call.id), "name": call.name, "input": call.arguments})
            if not blocks:
                continue  # the API refuses empty assistant turns
            if out and out[-1]["role"] == "assistant":
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": "assistant", "content": blocks})
    return out


class _Block:
    __slots__ = ("kind", "id", "name", "args")

    def __init__(self, kind: str, id: str = "", name: str = "") -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.args: list[str] = []


class AnthropicProvider(Provider):
    kind = "anthropic"

    def endpoint(self) -> str:
        base = self.config.base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        return base + "/v1/messages"

    def headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": ANTHROPIC_VERSION,
        }
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        headers.update(self.config.headers)
        return headers

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": to_anthropic_messages(request),
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools
            ]
        return body

    def map_wire_event(self, sse: SSEEvent, state: TurnState, request: ChatRequest) -> list[Event]:
        kind = sse.event
        if kind == "ping":
            return []
        try:
            obj = orjson.loads(sse.data)
        except orjson.JSONDecodeError as exc:
            return [self.malformed(sse, exc, request)]
        if not isinstance(obj, dict):
            return [self.malformed(sse, ValueError("not a JSON object"), request)]
        if kind == "message" and "type" in obj:
            kind = obj["type"]  # servers that omit the event: line
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                text = text_or_none(delta.get("text"))
                if text:
                    state.output_started = True
                    state.text_parts.append(text)
                    return [TextDelta(text=text)]
                return []
            block: _Block | None = state.calls.get(obj.get("index", 0))
            if dtype == "input_json_delta":
                part = text_or_none(delta.get("partial_json"))
                if block is None or not part:
                    return []
                block.args.append(part)
                state.tool_args.append(part)
                return [ToolCallArgsDelta(call_id=block.id, delta=part)]
            if dtype == "thinking_delta":
                state.output_started = True
                return [ThinkingDelta(text=delta.get("thinking", ""))]
            if dtype == "signature_delta":
                return [ThinkingDelta(text="", signature=delta.get("signature"))]
            return []
        if kind == "content_block_start":
            cb = obj.get("content_block") or {}
            index = obj.get("index", 0)
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"content block index {index!r} is not an integer")
            ctype = text_or_none(cb.get("type")) or ""
            if ctype == "tool_use":
                block = _Block("tool_use", text_or_none(cb.get("id")) or f"toolu_{index}", text_or_none(cb.get("name")) or "")
                state.calls[index] = block
                state.output_started = True
                out: list[Event] = [ToolCallStarted(call_id=block.id, name=block.name, index=index)]
                initial = cb.get("input")
                if initial:  # some servers send the whole input up front
                    raw = orjson.dumps(initial).decode()
                    block.args.append(raw)
                    out.append(ToolCallArgsDelta(call_id=block.id, delta=raw))
                return out
            state.calls[index] = _Block(ctype)
            text = text_or_none(cb.get("text"))
            if ctype == "text" and text:
                state.output_started = True
                state.text_parts.append(text)
                return [TextDelta(text=text)]
            return []
        if kind == "content_block_stop":
            block = state.calls.get(obj.get("index", 0))
            if block is not None and block.kind == "tool_use":
                block.kind = "tool_use_closed"
            return []
        if kind == "message_start":
            message = obj.get("message") or {}
            usage = message.get("usage") or {}
            state.usage = Usage(
                input_tokens=int(usage.get("input_tokens") or 0),
                output_tokens=int(usage.get("output_tokens") or 0),
                cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
                cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
            )
            state.model = text_or_none(message.get("model")) or request.model
            return [
                MessageStarted(
                    provider=self.name,
                    model=state.model,
                    requested_model=request.model,
                    response_id=text_or_none(message.get("id")),
                )
            ]
        if kind == "message_delta":
            delta = obj.get("delta") or {}
            if delta.get("stop_reason"):
                state.stop_reason = _STOP.get(delta["stop_reason"], "end_turn")
            usage = obj.get("usage") or {}
            if usage and state.usage is not None:
                state.usage = state.usage.model_copy(
                    update={
                        "output_tokens": int(usage.get("output_tokens") or state.usage.output_tokens),
                        "input_tokens": int(usage.get("input_tokens") or state.usage.input_tokens),
                    }
                )
            return []
        if kind == "message_stop":
            state.done = True
            return []
        if kind == "error":
            err = obj.get("error") or {}
            etype = err.get("type", "error")
            message = err.get("message", "unknown error")
            cls = errors.ServerError if etype in ("overloaded_error", "api_error") else errors.ProviderError
            if etype == "rate_limit_error":
                cls = errors.RateLimited
            raise cls(f"the server reported {etype} mid-stream: {message}", provider=self.name, model=request.model)
        return []

    def finish(self, state: TurnState, request: ChatRequest) -> list[Event]:
        """Tool calls are released here, once the stop reason is known.

        A block never closed, or the last one when the turn hit max_tokens, may hold
        truncated JSON: it is reported as cut off and never executed.
        """
        out: list[Event] = []
        tool_blocks = [b for _, b in sorted(state.calls.items()) if b.kind.startswith("tool_use")]
        for pos, block in enumerate(tool_blocks):
            raw = "".join(block.args)
            cut = block.kind == "tool_use" or (state.stop_reason == "max_tokens" and pos == len(tool_blocks) - 1)
            arguments, error = parse_tool_arguments(raw, cut_off=cut)
            out.append(ToolCallReady(call_id=block.id, name=block.name, arguments=arguments, raw_arguments=raw, error=error))
        return out
