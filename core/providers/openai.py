"""The ``openai`` provider kind: the Chat Completions streaming wire format.

Spoken by OpenAI, OpenRouter, Ollama, vLLM, LM Studio, llama.cpp's server and many
more. Quirks handled here: usage only in a final chunk with empty ``choices`` (and only
when ``stream_options.include_usage`` is honoured), ``: OPENROUTER PROCESSING``
keep-alives, tool calls sent whole in one chunk (Ollama), missing tool call ids,
``finish_reason: "stop"`` after tool calls, reasoning in ``reasoning``/``reasoning_content``,
and errors sent inside a 200 stream.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from agentic_flow.core.events import (
    Event,
    MessageStarted,
    ProviderFailed,
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

__all__ = ["OpenAIProvider", "to_openai_messages"]

_FINISH: dict[str, StopReason] = {
    "stop": "end_turn",
    "eos": "end_turn",
    "end_turn": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "max_tokens": "max_tokens",
    "content_filter": "content_filter",
    "stop_sequence": "stop_sequence",
}


def to_openai_messages(request: ChatRequest) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": request.system})
    for msg in request.messages:
        if isinstance(msg, UserMessage):
            out.append({"role": "user", "content": msg.content})
        elif isinstance(msg, AssistantMessage):
            item: dict[str, Any] = {"role": "assistant", "content": msg.content or None}
            if msg.tool_calls:
                item["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
                    }
                    for call in msg.tool_calls
                ]
            elif not msg.content:
                item["content"] = ""
            out.append(item)
        elif isinstance(msg, ToolResultMessage):
            content = msg.content if not msg.is_error else f"ERROR: {msg.content}"
            out.append({"role": "tool", "tool_call_id": msg.call_id, "content": content})
    return out


class _Call:
    __slots__ = ("id", "name", "args", "announced")

    def __init__(self, id: str, name: str) -> None:
        self.id = id
        self.name = name
        self.args: list[str] = []
        self.announced = False


class OpenAIProvider(Provider):
    kind = "openai"

    def endpoint(self) -> str:
        return self.config.base_url.rstrip("/") + "/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        headers.update(self.config.headers)
        return headers

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": to_openai_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens is not None:
            # OpenAI's own API wants max_completion_tokens (required by o-series models);
            # every other compatible server knows max_tokens.
            key = "max_completion_tokens" if self.name == "openai" else "max_tokens"
            body[key] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
                }
                for t in request.tools
            ]
        return body

    def map_wire_event(self, sse: SSEEvent, state: TurnState, request: ChatRequest) -> list[Event]:
        data = sse.data
        if data == "[DONE]":
            state.done = True
            return []
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return [self.malformed(sse, exc, request)]
        if not isinstance(obj, dict):
            return [self.malformed(sse, ValueError("not a JSON object"), request)]
        out: list[Event] = []
        if state.model is None:
            state.model = text_or_none(obj.get("model")) or request.model
            out.append(
                MessageStarted(
                    provider=self.name,
                    model=state.model,
                    requested_model=request.model,
                    response_id=text_or_none(obj.get("id")),
                )
            )
        error = obj.get("error")
        if error:
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            out.append(
                ProviderFailed(
                    provider=self.name,
                    model=request.model,
                    message=f"the server reported an error mid-stream: {message}",  # who: the event says
                    kind="server_error",
                )
            )
            state.stop_reason = "error"
            return out
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta") or choice.get("message") or {}
            text = text_or_none(delta.get("content"))
            if text:
                state.output_started = True
                state.text_parts.append(text)
                out.append(TextDelta(text=text))
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning and isinstance(reasoning, str):
                state.output_started = True
                out.append(ThinkingDelta(text=reasoning))
            calls = delta.get("tool_calls")
            if calls:
                self._tool_deltas(calls, state, out)
            finish = choice.get("finish_reason")
            if finish:
                reason = _FINISH.get(finish, "end_turn")
                if reason == "end_turn" and state.calls:
                    reason = "tool_use"  # Ollama and others say "stop" after tool calls
                state.stop_reason = reason
        usage = obj.get("usage")
        if usage:
            details = usage.get("prompt_tokens_details") or {}
            state.usage = Usage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                cache_read_tokens=int(details.get("cached_tokens") or 0),
            )
        return out

    def _tool_deltas(self, deltas: list[dict[str, Any]], state: TurnState, out: list[Event]) -> None:
        calls: dict[int, _Call] = state.calls
        for pos, delta in enumerate(deltas):
            index = delta.get("index", pos)
            if not isinstance(index, int) or isinstance(index, bool):
                index = pos
            fn = delta.get("function") or {}
            call_id, name = text_or_none(delta.get("id")), text_or_none(fn.get("name"))
            call = calls.get(index)
            if call is None:
                # Some servers send no id: make one that no other turn of the session has,
                # or a later call would be taken for an earlier one (and its result).
                call = _Call(call_id or f"call_{secrets.token_hex(6)}_{index}", name or "")
                calls[index] = call
            elif call_id and not call.announced:
                call.id = call_id
            if name and not call.name:
                call.name = name
            if not call.announced and call.name:
                call.announced = True
                state.output_started = True
                out.append(ToolCallStarted(call_id=call.id, name=call.name, index=index))
            args = fn.get("arguments")
            if args:
                if not isinstance(args, str):  # Ollama sends an object
                    args = orjson.dumps(args).decode()
                call.args.append(args)
                state.tool_args.append(args)
                if call.announced:
                    out.append(ToolCallArgsDelta(call_id=call.id, delta=args))

    def finish(self, state: TurnState, request: ChatRequest) -> list[Event]:
        calls: dict[int, _Call] = state.calls
        out: list[Event] = []
        cut = state.stop_reason == "max_tokens"
        for index in sorted(calls):
            call = calls[index]
            raw = "".join(call.args)
            arguments, error = parse_tool_arguments(raw, cut)
            if not call.name:
                arguments, error = None, "the tool call had no tool name; it was not executed"
            out.append(ToolCallReady(call_id=call.id, name=call.name, arguments=arguments, raw_arguments=raw, error=error))
        if calls and state.stop_reason == "end_turn":
            state.stop_reason = "tool_use"
        return out

