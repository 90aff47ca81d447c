"""A scripted fake LLM server that speaks the real wire formats over real HTTP.

Used by provider tests, agent-loop tests, TUI tests and benchmarks. It is a genuine
HTTP/1.1 server on ``127.0.0.1`` (ephemeral port) running in a background thread, so it
works from sync code, from any asyncio event loop and from other processes.

Endpoints
    POST ``…/chat/completions``   OpenAI Chat Completions (also OpenRouter, Ollama, llama.cpp)
    POST ``…/messages``           Anthropic Messages
    GET  ``…/models``             model list (Anthropic shape when ``anthropic-version`` is sent)
    anything registered with :meth:`ScriptedLLMServer.set_route`

Every request is recorded (:class:`RecordedRequest`). Each POST to a chat endpoint takes
the next scripted :class:`Reply` from the queue, else asks the handler set with
:meth:`ScriptedLLMServer.set_handler`, else answers ``"Hello from the test server."``.
Replies are rendered per request, in the wire format of the endpoint that was called,
echoing the requested ``model`` unless the reply overrides it.

Wire shapes (checked against the public API docs and recorded streams):

OpenAI ``stream: true``::

    data: {"id":"chatcmpl-…","object":"chat.completion.chunk","created":…,"model":"m",
           "choices":[{"index":0,"delta":{"role":"assistant","content":""},…,"finish_reason":null}]}
    data: {… "delta":{"content":"Hel"} …}
    data: {… "delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",
                                      "function":{"name":"read","arguments":""}}]} …}
    data: {… "delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"pa"}}]} …}
    data: {… "delta":{},"finish_reason":"tool_calls"}]}
    data: {… "choices":[],"usage":{"prompt_tokens":…}}   # only with stream_options.include_usage
    data: [DONE]

Anthropic ``stream: true``: ``message_start`` (usage.input_tokens), ``ping``,
``content_block_start``/``content_block_delta`` (text_delta, thinking_delta,
signature_delta, input_json_delta)/``content_block_stop`` per block, ``message_delta``
(stop_reason, usage.output_tokens), ``message_stop``; each as ``event: X`` + ``data: {…}``.

Errors: OpenAI ``{"error":{"message","type","param","code"}}``, OpenRouter
``{"error":{"code":429,"message","metadata":{}}}``, Anthropic
``{"type":"error","error":{"type","message"},"request_id"}``; ``Retry-After`` when asked.

Flavors of the OpenAI wire (``flavor=``):
    ``openai``      as above; ``"usage": null`` on every chunk when usage was requested.
    ``openrouter``  ``: OPENROUTER PROCESSING`` comments before the first event, ``provider``
                    and ``native_finish_reason`` fields, usage chunk always sent (usage=True),
                    reasoning in ``delta.reasoning``, mid-stream errors as a chunk with an
                    ``error`` object and ``finish_reason: "error"``.
    ``ollama``      role on every delta, tool calls arrive whole in one chunk, ``finish_reason``
                    is ``"stop"`` even after tool calls, never any usage.
    ``llamacpp``    usage and ``timings`` ride on the finish chunk itself (no separate usage
                    chunk, sent whether or not usage was requested), reasoning in
                    ``delta.reasoning_content``.

Usage example::

    from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # fixture

    def test_tool_call(llm_server):
        llm_server.enqueue(Reply.tool_calls([("call_1", "read", {"path": "a.py"})]))
        llm_server.enqueue(Reply.text("Done.", cut_after=2))
        ...  # point a provider at llm_server.openai_url / llm_server.anthropic_url
        assert llm_server.requests[0].model == "gpt-test"
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import orjson
import pytest

__all__ = [
    "DEFAULT_TEXT",
    "HandlerError",
    "RecordedRequest",
    "Reply",
    "ScriptedLLMServer",
    "StreamOptions",
    "ToolCall",
    "llm_server",
    "llm_server_factory",
]

DEFAULT_TEXT = "Hello from the test server."
KEEPALIVE_COMMENT = b": OPENROUTER PROCESSING"

Wire = Literal["openai", "anthropic"]
Flavor = Literal["openai", "openrouter", "ollama", "llamacpp"]

_FLAVORS = ("openai", "openrouter", "ollama", "llamacpp")
_TO_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_TO_OPENAI_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                     "stop_sequence": "stop"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_ERRORS = {  # status -> (type, code)
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_PH = "@@PLACEHOLDER@@"
_PH_JSON = orjson.dumps(_PH)
_WRITE_BLOCK = 64 * 1024


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class _Template:
    """``obj`` serialised once around a placeholder; calling it fills in one value fast."""

    __slots__ = ("pre", "suf")

    def __init__(self, obj: Any) -> None:
        pre, found, suf = _dumps(obj).partition(_PH_JSON)
        if not found:
            raise AssertionError("placeholder missing from template")
        self.pre, self.suf = pre, suf

    def __call__(self, value: Any) -> bytes:
        return b"%b%b%b" % (self.pre, orjson.dumps(value), self.suf)


_template = _Template


def _split_text(text: str | Sequence[str], chunks: int | None, chunk_size: int | None) -> list[str]:
    if not isinstance(text, str):
        return [str(t) for t in text]
    if text == "":
        return []
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    if chunks is not None:
        if chunks < 1:
            raise ValueError("chunks must be >= 1")
        n = min(chunks, len(text))
        q, r = divmod(len(text), n)
        out, pos = [], 0
        for i in range(n):
            size = q + (1 if i < r else 0)
            out.append(text[pos : pos + size])
            pos += size
        return out
    # Default: word-like tokens, leading whitespace attached (" world"), like real streams.
    return re.findall(r"\s*\S+|\s+", text)


def _split_n(s: str, n: int) -> list[str]:
    if n <= 1 or len(s) <= 1:
        return [s]
    return _split_text(s, n, None)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request the server received."""

    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case keys
    body: Any  # parsed JSON, or None when the body was empty / not JSON
    raw: bytes = b""
    query: str = ""

    @property
    def json(self) -> Any:
        return self.body

    @property
    def wire(self) -> Wire | None:
        return _wire_for(self.path) if self.method == "POST" else None

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream")) if isinstance(self.body, dict) else False

    @property
    def include_usage(self) -> bool:
        if not isinstance(self.body, dict):
            return False
        opts = self.body.get("stream_options") or {}
        return bool(isinstance(opts, dict) and opts.get("include_usage"))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    def tool_results(self) -> list[tuple[str, Any]]:
        """``(tool_call_id, content)`` for every tool result in the conversation, either wire."""
        out: list[tuple[str, Any]] = []
        for msg in self.messages:
            if msg.get("role") == "tool":
                out.append((msg.get("tool_call_id", ""), msg.get("content")))
            content = msg.get("content")
            if isinstance(content, list):
                for block in content:
                    if isinstance(block, dict) and block.get("type") == "tool_result":
                        out.append((block.get("tool_use_id", ""), block.get("content")))
        return out

    def last_user_text(self) -> str:
        """Text of the last user message (string content or text blocks)."""
        for msg in reversed(self.messages):
            if msg.get("role") != "user":
                continue
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(
                    b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
                )
        return ""


def _wire_for(path: str) -> Wire | None:
    path = path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    return None


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] | str  # a str is sent verbatim (may be invalid JSON on purpose)

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)

    @property
    def input_obj(self) -> Any:
        if isinstance(self.arguments, str):
            try:
                return json.loads(self.arguments)
            except ValueError:
                return {}
        return self.arguments


@dataclass(frozen=True)
class StreamOptions:
    """Timing and fault options for streamed replies (all off by default).

    Event counts below count SSE events (``data:`` records, ``[DONE]`` included),
    never keep-alive comments.
    """

    split: None | Literal["every-byte", "events"] | int = None
    """None: write in large buffers; "events": one write+flush per event;
    "every-byte": one write (and HTTP chunk) per byte; int n: n-byte writes."""
    cut_after: int | None = None
    """Send at most N events (never a terminal one), then drop the connection."""
    cut_reset: bool = False
    """With cut_after: close with a TCP RST instead of a FIN."""
    no_final: bool = False
    """End the stream cleanly but without finish reason / [DONE] / message_delta+message_stop."""
    stall_after: int | None = None
    """After N events, send nothing for ``stall_seconds`` (then carry on)."""
    stall_seconds: float = 0.0
    delay_headers: float = 0.0
    """Seconds before the status line is sent."""
    delay_first: float = 0.0
    """Seconds between the headers and the first body byte (time to first token)."""
    delay_per_chunk: float = 0.0
    """Seconds before each later event."""
    keepalive_comments: bool | int | None = None
    """``: OPENROUTER PROCESSING`` comment lines before the first event (True = 2, int = n).
    None: on for flavor="openrouter", off otherwise."""
    keepalive_interval: float | None = None
    """While delaying or stalling after the headers, send a keep-alive comment every S seconds."""
    invalid_json_at: int | None = None
    """0-based index of an event whose JSON is truncated (broken)."""
    newline: str = "\n"
    """Line ending: "\\n", "\\r\\n" or "\\r"."""
    crlf: bool = False
    """Shorthand for newline="\\r\\n"."""
    bom: bool = False
    """Start the body with a UTF-8 byte order mark."""
    multiline_data: bool = False
    """Spread each JSON payload over several ``data:`` lines (valid SSE)."""
    framing: Literal["chunked", "close"] = "chunked"
    """HTTP/1.1 chunked body, or an EOF-delimited body with ``Connection: close``."""
    error_after: int | None = None
    """After N events, send the wire's in-stream error event and end the stream."""
    error_type: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if self.newline not in ("\n", "\r\n", "\r"):
            raise ValueError("newline must be \\n, \\r\\n or \\r")
        if isinstance(self.split, str) and self.split not in ("every-byte", "events"):
            raise ValueError(f"unknown split mode {self.split!r}")
        if isinstance(self.split, int) and self.split < 1:
            raise ValueError("split must be >= 1")
        if self.framing not in ("chunked", "close"):
            raise ValueError(f"unknown framing {self.framing!r}")

    @property
    def line_end(self) -> bytes:
        return b"\r\n" if self.crlf else self.newline.encode()

    @property
    def per_event(self) -> bool:
        return bool(
            self.split is not None
            or self.delay_first
            or self.delay_per_chunk
            or self.stall_after is not None
            or self.cut_after is not None
        )


_STREAM_FIELDS = frozenset(f.name for f in fields(StreamOptions))


@dataclass(frozen=True)
class _Content:
    text: str | tuple[str, ...] = ""
    thinking: str | tuple[str, ...] | None = None
    signature: str = "sig-test-0001"
    tool_calls: tuple[ToolCall, ...] = ()
    chunks: int | None = None
    chunk_size: int | None = None
    args_chunks: int = 3
    interleave: bool = False
    finish_reason: str | None = None
    ping: bool = True


@dataclass(frozen=True)
class Reply:
    """A scripted response. Build with the class methods; render happens per request."""

    kind: Literal["message", "error", "raw", "json"]
    content: _Content | None = None
    status: int = 200
    model: str | None = None
    usage: bool = True
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    flavor: Flavor = "openai"
    headers: tuple[tuple[str, str], ...] = ()
    # error
    message: str = ""
    error_type: str | None = None
    code: str | int | None = None
    retry_after: float | str | None = None
    # raw / json
    chunks: tuple[bytes, ...] = ()
    content_type: str = "text/event-stream"
    payload: Any = None
    stream: StreamOptions = field(default_factory=StreamOptions)

    # ----------------------------------------------------------------- builders
    @classmethod
    def text(
        cls,
        text: str | Sequence[str] = DEFAULT_TEXT,
        *,
        chunks: int | None = None,
        chunk_size: int | None = None,
        finish_reason: str | None = None,
        **kw: Any,
    ) -> Reply:
        """A text answer. ``text`` may be a list of exact deltas."""
        return cls.message(text=text, chunks=chunks, chunk_size=chunk_size, finish_reason=finish_reason, **kw)

    @classmethod
    def tool_calls(
        cls,
        calls: Sequence[tuple[str, str, dict[str, Any] | str] | ToolCall],
        *,
        text_before: str | Sequence[str] = "",
        thinking: str | Sequence[str] | None = None,
        args_chunks: int = 3,
        interleave: bool = False,
        **kw: Any,
    ) -> Reply:
        """One or more (parallel) tool calls, arguments streamed in ``args_chunks`` pieces."""
        return cls.message(
            text=text_before,
            thinking=thinking,
            tool_calls=calls,
            args_chunks=args_chunks,
            interleave=interleave,
            **kw,
        )

    @classmethod
    def thinking(
        cls,
        thinking: str | Sequence[str],
        text: str | Sequence[str] = DEFAULT_TEXT,
        *,
        signature: str = "sig-test-0001",
        tool_calls: Sequence[tuple[str, str, dict[str, Any] | str] | ToolCall] = (),
        **kw: Any,
    ) -> Reply:
        """Reasoning then text (and optional tool calls). Anthropic: a thinking block with a
        signature_delta; OpenAI wire: ``reasoning_content`` (``reasoning`` on OpenRouter/Ollama)."""
        return cls.message(text=text, thinking=thinking, signature=signature, tool_calls=tool_calls, **kw)

    @classmethod
    def message(
        cls,
        *,
        text: str | Sequence[str] = "",
        thinking: str | Sequence[str] | None = None,
        signature: str = "sig-test-0001",
        tool_calls: Sequence[tuple[str, str, dict[str, Any] | str] | ToolCall] = (),
        chunks: int | None = None,
        chunk_size: int | None = None,
        args_chunks: int = 3,
        interleave: bool = False,
        finish_reason: str | None = None,
        ping: bool = True,
        usage: bool = True,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cost: float | None = None,
        flavor: Flavor = "openai",
        headers: dict[str, str] | None = None,
        status: int = 200,
        **stream_opts: Any,
    ) -> Reply:
        """General form: optional thinking, text, tool calls, in that order."""
        if flavor not in _FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}; one of {_FLAVORS}")
        calls = tuple(c if isinstance(c, ToolCall) else ToolCall(*c) for c in tool_calls)
        content = _Content(
            text=text if isinstance(text, str) else tuple(text),
            thinking=thinking if thinking is None or isinstance(thinking, str) else tuple(thinking),
            signature=signature,
            tool_calls=calls,
            chunks=chunks,
            chunk_size=chunk_size,
            args_chunks=args_chunks,
            interleave=interleave,
            finish_reason=finish_reason,
            ping=ping,
        )
        return cls(
            kind="message",
            content=content,
            status=status,
            model=model,
            usage=usage,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            flavor=flavor,
            headers=tuple((headers or {}).items()),
            stream=_stream_options(stream_opts),
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "Scripted error",
        *,
        retry_after: float | str | None = None,
        error_type: str | None = None,
        code: str | int | None = None,
        flavor: Flavor = "openai",
        headers: dict[str, str] | None = None,
        **stream_opts: Any,
    ) -> Reply:
        """An HTTP error with the wire's real error body (and ``Retry-After`` when given)."""
        return cls(
            kind="error",
            status=status,
            message=message,
            error_type=error_type,
            code=code,
            retry_after=retry_after,
            flavor=flavor,
            headers=tuple((headers or {}).items()),
            stream=_stream_options(stream_opts),
        )

    @classmethod
    def raw(
        cls,
        chunks: Sequence[bytes] | bytes,
        *,
        status: int = 200,
        content_type: str = "text/event-stream",
        headers: dict[str, str] | None = None,
        **stream_opts: Any,
    ) -> Reply:
        """Exact bytes. Each chunk is one write+flush (one HTTP chunk); fault options that
        count events count chunks here."""
        if isinstance(chunks, (bytes, bytearray)):
            chunks = [bytes(chunks)]
        return cls(
            kind="raw",
            status=status,
            chunks=tuple(bytes(c) for c in chunks),
            content_type=content_type,
            headers=tuple((headers or {}).items()),
            stream=_stream_options(stream_opts),
        )

    @classmethod
    def json(
        cls, payload: Any, *, status: int = 200, headers: dict[str, str] | None = None, **stream_opts: Any
    ) -> Reply:
        """A plain JSON response (e.g. for :meth:`ScriptedLLMServer.set_route`)."""
        return cls(
            kind="json",
            status=status,
            payload=payload,
            headers=tuple((headers or {}).items()),
            stream=_stream_options(stream_opts),
        )

    def with_options(self, **changes: Any) -> Reply:
        """A copy with other stream options (or reply fields such as ``model``, ``usage``)."""
        stream_changes = {k: v for k, v in changes.items() if k in _STREAM_FIELDS}
        other = {k: v for k, v in changes.items() if k not in _STREAM_FIELDS}
        return replace(self, stream=replace(self.stream, **stream_changes), **other)

    # ----------------------------------------------------------------- rendering
    def render(self, request: RecordedRequest, wire: Wire | None) -> _Rendered:
        wire = wire or "openai"
        if self.kind == "raw":
            events = [_Ev(None, c, False, raw=True) for c in self.chunks]
            return _Rendered(self.status, self._headers(self.content_type), events=events)
        if self.kind == "json":
            return _Rendered(self.status, self._headers("application/json"), body=_dumps(self.payload))
        if self.kind == "error":
            return self._render_error(request, wire)
        return _MessageRenderer(self, request, wire).render()

    def _headers(self, content_type: str) -> list[tuple[str, str]]:
        return [("Content-Type", content_type), *self.headers]

    def _render_error(self, request: RecordedRequest, wire: Wire) -> _Rendered:
        status = self.status
        if wire == "anthropic":
            etype = self.error_type or _ANTHROPIC_ERROR_TYPES.get(
                status, "api_error" if status >= 500 else "invalid_request_error"
            )
            body = {
                "type": "error",
                "error": {"type": etype, "message": self.message},
                "request_id": f"req_test{next(_ids):06d}",
            }
        elif self.flavor == "openrouter":
            body = {"error": {"code": self.code if self.code is not None else status,
                              "message": self.message, "metadata": {}}}
        else:
            etype, code = _OPENAI_ERRORS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
            body = {"error": {"message": self.message, "type": self.error_type or etype,
                              "param": None, "code": self.code if self.code is not None else code}}
        headers = self._headers("application/json")
        if self.retry_after is not None:
            ra = self.retry_after
            if isinstance(ra, float) and ra.is_integer():
                ra = int(ra)
            headers.append(("Retry-After", str(ra)))
        return _Rendered(status, headers, body=_dumps(body))


def _stream_options(opts: dict[str, Any]) -> StreamOptions:
    unknown = set(opts) - _STREAM_FIELDS
    if unknown:
        raise TypeError(f"unknown reply option(s): {', '.join(sorted(unknown))}")
    return StreamOptions(**opts)


_ids = itertools.count(1)


@dataclass(slots=True)
class _Ev:
    """One SSE event (or, for raw replies, one byte chunk)."""

    name: bytes | None
    data: bytes
    terminal: bool
    raw: bool = False


@dataclass(slots=True)
class _Run:
    """Many events sharing one template (the bulk of a stream), expanded only when a fault
    option needs to address single events; otherwise framed in one pass."""

    name: bytes | None
    template: _Template
    parts: list[str]
    terminal: bool = False
    raw: bool = False

    def expand(self) -> list[_Ev]:
        fill, name = self.template, self.name
        return [_Ev(name, fill(p), False) for p in self.parts]

    def frame(self) -> bytes:
        if not self.parts:
            return b""
        head = (b"event: " + self.name + b"\ndata: " if self.name is not None else b"data: ") + self.template.pre
        tail = self.template.suf + b"\n\n"
        dumps = orjson.dumps
        return head + (tail + head).join([dumps(p) for p in self.parts]) + tail


@dataclass
class _Rendered:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None  # a complete (non-streamed) body
    events: list[_Ev | _Run] | None = None  # a streamed body
    wire: Wire = "openai"
    flavor: Flavor = "openai"


class _MessageRenderer:
    """Turns a message reply into wire events (or a non-streaming JSON body) for one request."""

    def __init__(self, reply: Reply, request: RecordedRequest, wire: Wire) -> None:
        self.reply = reply
        self.req = request
        self.wire = wire
        c = reply.content
        assert c is not None
        self.c = c
        self.model = reply.model or request.model or "test-model"
        self.text_parts = _split_text(c.text, c.chunks, c.chunk_size)
        self.thinking_parts = [] if c.thinking is None else _split_text(c.thinking, c.chunks, c.chunk_size)
        self.arg_parts = [_split_n(tc.arguments_json, c.args_chunks) for tc in c.tool_calls]
        n = next(_ids)
        self.msg_id = f"msg_test{n:06d}" if wire == "anthropic" else f"chatcmpl-test{n:06d}"
        self.created = int(time.time())

    # counts -------------------------------------------------------------------
    def input_tokens(self) -> int:
        if self.reply.input_tokens is not None:
            return self.reply.input_tokens
        body = self.req.body if isinstance(self.req.body, dict) else {}
        parts = {k: body.get(k) for k in ("system", "messages", "tools") if body.get(k) is not None}
        return max(1, len(_dumps(parts)) // 4)

    def output_tokens(self) -> int:
        if self.reply.output_tokens is not None:
            return self.reply.output_tokens
        return max(1, len(self.text_parts) + len(self.thinking_parts) + sum(len(p) for p in self.arg_parts))

    def reasoning_tokens(self) -> int:
        return len(self.thinking_parts)

    def finish_reason(self) -> str:
        fr = self.c.finish_reason
        if self.wire == "anthropic":
            if fr is None:
                return "tool_use" if self.c.tool_calls else "end_turn"
            return _TO_ANTHROPIC_STOP.get(fr, fr)
        if fr is None:
            if self.c.tool_calls and self.reply.flavor != "ollama":
                return "tool_calls"
            return "stop"
        return _TO_OPENAI_FINISH.get(fr, fr)

    def openai_usage(self) -> dict[str, Any]:
        p, o = self.input_tokens(), self.output_tokens()
        usage: dict[str, Any] = {"prompt_tokens": p, "completion_tokens": o, "total_tokens": p + o}
        if self.reply.flavor in ("openai", "openrouter"):
            usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
            usage["completion_tokens_details"] = {
                "reasoning_tokens": self.reasoning_tokens(),
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        if self.reply.flavor == "openrouter" and self.reply.cost is not None:
            usage["cost"] = self.reply.cost
        return usage

    # dispatch -----------------------------------------------------------------
    def render(self) -> _Rendered:
        r = self.reply
        if not self.req.stream:
            body = self.anthropic_body() if self.wire == "anthropic" else self.openai_body()
            return _Rendered(r.status, r._headers("application/json"), body=_dumps(body),
                             wire=self.wire, flavor=r.flavor)
        if self.wire == "anthropic":
            events = self.anthropic_events()
            headers = r._headers("text/event-stream; charset=utf-8")
            headers += [("Cache-Control", "no-cache"), ("request-id", f"req_test{next(_ids):06d}")]
        else:
            events = self.openai_events()
            ctype = "text/event-stream" if r.flavor == "ollama" else "text/event-stream; charset=utf-8"
            headers = r._headers(ctype) + [("Cache-Control", "no-cache"), ("x-request-id", f"req_test{next(_ids):06d}")]
        return _Rendered(r.status, headers, events=events, wire=self.wire, flavor=r.flavor)

    # OpenAI -------------------------------------------------------------------
    def _chunk_base(self) -> dict[str, Any]:
        flavor = self.reply.flavor
        base: dict[str, Any] = {"id": self.msg_id, "object": "chat.completion.chunk",
                                "created": self.created, "model": self.model}
        if flavor == "openai":
            base["system_fingerprint"] = "fp_test"
        elif flavor == "openrouter":
            base["provider"] = "TestProvider"
        elif flavor == "ollama":
            base["system_fingerprint"] = "fp_ollama"
        elif flavor == "llamacpp":
            base["system_fingerprint"] = "b0000-test"
        return base

    def _choice(self, delta: Any, finish: str | None = None) -> dict[str, Any]:
        flavor = self.reply.flavor
        ch: dict[str, Any] = {"index": 0, "delta": delta}
        if flavor == "openai":
            ch["logprobs"] = None
        ch["finish_reason"] = finish
        if flavor == "openrouter":
            ch["native_finish_reason"] = finish
            ch["logprobs"] = None
        return ch

    def openai_events(self) -> list[_Ev]:
        r, c, flavor = self.reply, self.c, self.reply.flavor
        base = self._chunk_base()
        usage_requested = self.req.include_usage
        if flavor == "openai" and usage_requested:
            base["usage"] = None  # OpenAI puts "usage": null on every chunk when asked for usage

        def chunk(delta: Any, finish: str | None = None, **extra: Any) -> bytes:
            return _dumps({**base, "choices": [self._choice(delta, finish)], **extra})

        def delta_template(delta: dict[str, Any]) -> _Template:
            return _template({**base, "choices": [self._choice(delta)]})

        role_each = flavor in ("ollama", "openrouter")
        role = {"role": "assistant"} if role_each else {}
        events: list[_Ev] = []
        add = events.append

        if flavor in ("openai", "llamacpp"):
            first: dict[str, Any] = {"role": "assistant", "content": "" if (self.text_parts or not c.tool_calls) else None}
            if flavor == "openai":
                first["refusal"] = None
            add(_Ev(None, chunk(first), False))

        if self.thinking_parts:
            key = "reasoning_content" if flavor in ("openai", "llamacpp") else "reasoning"
            extra = {"content": ""} if flavor == "ollama" else {}
            events.append(_Run(None, delta_template({**role, **extra, key: _PH}), self.thinking_parts))

        if self.text_parts:
            events.append(_Run(None, delta_template({**role, "content": _PH}), self.text_parts))

        if c.tool_calls:
            if flavor == "ollama":  # whole calls, all in one chunk
                calls = [
                    {**({"id": tc.id} if tc.id else {}), "index": i, "type": "function",
                     "function": {"name": tc.name, "arguments": tc.arguments_json}}
                    for i, tc in enumerate(c.tool_calls)
                ]
                add(_Ev(None, chunk({**role, "content": "", "tool_calls": calls}), False))
            else:
                for i, piece in self._arg_sequence():
                    tc = c.tool_calls[i]
                    if piece is None:  # header: id + name
                        # An empty id is left out, as some servers do.
                        d = {**role, "tool_calls": [{"index": i, **({"id": tc.id} if tc.id else {}), "type": "function",
                                                     "function": {"name": tc.name, "arguments": ""}}]}
                    else:
                        d = {**role, "tool_calls": [{"index": i, "function": {"arguments": piece}}]}
                    add(_Ev(None, chunk(d), False))

        finish = self.finish_reason()
        final_delta: dict[str, Any] = {"role": "assistant", "content": ""} if flavor == "ollama" else {}
        if flavor == "llamacpp":
            extra: dict[str, Any] = {"timings": self._timings()}
            if r.usage:
                extra["usage"] = self.openai_usage()
            add(_Ev(None, chunk(final_delta, finish, **extra), True))
        else:
            add(_Ev(None, chunk(final_delta, finish), True))
            send_usage = r.usage and (
                (flavor == "openai" and usage_requested) or flavor == "openrouter"
            )
            if send_usage:
                add(_Ev(None, _dumps({**base, "choices": [], "usage": self.openai_usage()}), True))
        add(_Ev(None, b"[DONE]", True))
        return events

    def _arg_sequence(self) -> Iterator[tuple[int, str | None]]:
        """(call index, piece) in emission order; piece None is the call's header chunk."""
        if not self.c.interleave:
            for i, parts in enumerate(self.arg_parts):
                yield i, None
                for p in parts:
                    yield i, p
            return
        for i in range(len(self.arg_parts)):
            yield i, None
        for round_ in range(max((len(p) for p in self.arg_parts), default=0)):
            for i, parts in enumerate(self.arg_parts):
                if round_ < len(parts):
                    yield i, parts[round_]

    def _timings(self) -> dict[str, Any]:
        p, o = self.input_tokens(), self.output_tokens()
        return {"prompt_n": p, "prompt_ms": 1.0, "predicted_n": o, "predicted_ms": float(o),
                "predicted_per_second": 1000.0}

    def openai_body(self) -> dict[str, Any]:
        c = self.c
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(self.text_parts) or (None if c.tool_calls else "")}
        if self.reply.flavor == "openai":
            msg["refusal"] = None
        if self.thinking_parts:
            key = "reasoning_content" if self.reply.flavor in ("openai", "llamacpp") else "reasoning"
            msg[key] = "".join(self.thinking_parts)
        if c.tool_calls:
            msg["tool_calls"] = [
                {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments_json}}
                for tc in c.tool_calls
            ]
        body: dict[str, Any] = {**self._chunk_base(), "object": "chat.completion",
                                "choices": [{"index": 0, "message": msg, "logprobs": None,
                                             "finish_reason": self.finish_reason()}]}
        if self.reply.usage and self.reply.flavor != "ollama":
            body["usage"] = self.openai_usage()
        return body

    # Anthropic ----------------------------------------------------------------
    def anthropic_events(self) -> list[_Ev]:
        r, c = self.reply, self.c
        events: list[_Ev] = []
        add = events.append
        message: dict[str, Any] = {"id": self.msg_id, "type": "message", "role": "assistant",
                                   "model": self.model, "content": [], "stop_reason": None,
                                   "stop_sequence": None}
        if r.usage:
            message["usage"] = {"input_tokens": self.input_tokens(), "cache_creation_input_tokens": 0,
                                "cache_read_input_tokens": 0, "output_tokens": 1}
        add(_Ev(b"message_start", _dumps({"type": "message_start", "message": message}), False))
        if c.ping:
            add(_Ev(b"ping", b'{"type":"ping"}', False))

        index = 0

        def block(start: dict[str, Any], delta_type: str, key: str, parts: list[str], extra: list[bytes] = ()) -> None:
            nonlocal index
            add(_Ev(b"content_block_start",
                    _dumps({"type": "content_block_start", "index": index, "content_block": start}), False))
            fill = _template({"type": "content_block_delta", "index": index,
                              "delta": {"type": delta_type, key: _PH}})
            events.append(_Run(b"content_block_delta", fill, parts))
            events.extend(_Ev(b"content_block_delta", e, False) for e in extra)
            add(_Ev(b"content_block_stop", _dumps({"type": "content_block_stop", "index": index}), False))
            index += 1

        if c.thinking is not None:
            sig = _dumps({"type": "content_block_delta", "index": index,
                          "delta": {"type": "signature_delta", "signature": c.signature}})
            block({"type": "thinking", "thinking": "", "signature": ""}, "thinking_delta", "thinking",
                  self.thinking_parts, [sig])
        if self.text_parts or not (c.tool_calls or c.thinking is not None):
            block({"type": "text", "text": ""}, "text_delta", "text", self.text_parts)
        if c.tool_calls and c.interleave:
            raise ValueError("interleave=True has no Anthropic equivalent (blocks never interleave)")
        for tc, parts in zip(c.tool_calls, self.arg_parts):
            block({"type": "tool_use", "id": tc.id, "name": tc.name, "input": {}},
                  "input_json_delta", "partial_json", ["", *parts])

        delta_msg: dict[str, Any] = {"type": "message_delta",
                                     "delta": {"stop_reason": self.finish_reason(), "stop_sequence": None}}
        if r.usage:
            delta_msg["usage"] = {"output_tokens": self.output_tokens()}
        add(_Ev(b"message_delta", _dumps(delta_msg), True))
        add(_Ev(b"message_stop", b'{"type":"message_stop"}', True))
        return events

    def anthropic_body(self) -> dict[str, Any]:
        c = self.c
        content: list[dict[str, Any]] = []
        if c.thinking is not None:
            content.append({"type": "thinking", "thinking": "".join(self.thinking_parts), "signature": c.signature})
        if self.text_parts or not (c.tool_calls or c.thinking is not None):
            content.append({"type": "text", "text": "".join(self.text_parts)})
        for tc in c.tool_calls:
            content.append({"type": "tool_use", "id": tc.id, "name": tc.name, "input": tc.input_obj})
        body: dict[str, Any] = {"id": self.msg_id, "type": "message", "role": "assistant", "model": self.model,
                                "content": content, "stop_reason": self.finish_reason(), "stop_sequence": None}
        if self.reply.usage:
            body["usage"] = {"input_tokens": self.input_tokens(), "cache_creation_input_tokens": 0,
                             "cache_read_input_tokens": 0, "output_tokens": self.output_tokens()}
        return body


def _stream_error_event(rendered: _Rendered, opts: StreamOptions, base_event: _Ev | None) -> _Ev:
    if rendered.wire == "anthropic":
        payload = {"type": "error", "error": {"type": opts.error_type or "overloaded_error",
                                              "message": opts.error_message or "Overloaded"}}
        return _Ev(b"error", _dumps(payload), True)
    message = opts.error_message or "The server had an error while processing your request."
    if rendered.flavor == "openrouter":
        # A normal chunk carrying an error object and finish_reason "error".
        base: dict[str, Any] = {}
        if base_event is not None and not base_event.raw:
            try:
                obj = orjson.loads(base_event.data)
                base = {k: obj[k] for k in ("id", "object", "created", "model", "provider") if k in obj}
            except orjson.JSONDecodeError:
                base = {}
        payload = {**base, "error": {"code": opts.error_type or "server_error", "message": message},
                   "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error",
                                "native_finish_reason": "error"}]}
        return _Ev(None, _dumps(payload), True)
    payload = {"error": {"message": message, "type": opts.error_type or "server_error", "param": None, "code": None}}
    return _Ev(None, _dumps(payload), True)


# --------------------------------------------------------------------------- server


class HandlerError(AssertionError):
    """A scripted handler or reply raised inside the server thread."""


class _Cut(Exception):
    """Internal: the connection was dropped on purpose (or the server is stopping)."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: ScriptedLLMServer) -> None:
        self.app = app
        self._conn_lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.workers: set[threading.Thread] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def process_request(self, request: Any, client_address: Any) -> None:
        t = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                             name="llm-server-conn", daemon=True)
        with self._conn_lock:
            self.connections.add(request)
            self.workers.add(t)
        t.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self.connections.discard(request)
                self.workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ValueError, _Cut)):  # client went away / socket closed
            return
        self.app._record_error(exc)

    def close_all(self) -> None:
        with self._conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._conn_lock:
                workers = [t for t in self.workers if t.is_alive()]
            if not workers or time.monotonic() > deadline:
                return
            workers[0].join(max(0.0, min(0.1, deadline - time.monotonic())))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.server.app._dispatch(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET


class ScriptedLLMServer:
    """A real HTTP server on 127.0.0.1 that plays scripted LLM replies.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, *, default: Reply | None = None, models: Sequence[str | dict[str, Any]] | None = None) -> None:
        self.default = default or Reply.text(DEFAULT_TEXT)
        self.models: list[str | dict[str, Any]] = list(models) if models is not None else ["test-model", "test-model-large"]
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Reply | Callable[[RecordedRequest], Reply]] = deque()
        self._requests: list[RecordedRequest] = []
        self._handler: Callable[[RecordedRequest], Reply | None] | None = None
        self._routes: dict[tuple[str, str], Reply | Callable[[RecordedRequest], Reply]] = {}
        self._errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> ScriptedLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="llm-server", daemon=True)
        self._thread.start()
        return self

    @property
    def open_connections(self) -> int:
        """Client connections the server still holds open (a closed stream leaves this set)."""
        if self._httpd is None:
            return 0
        with self._httpd._conn_lock:
            return len(self._httpd.connections)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, drop open connections (stalled streams included) and join threads."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.close_all()
        httpd.join_workers(timeout)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop()
        if exc_type is None:
            self.check()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_url(self) -> str:
        return self.base_url

    # ---------------------------------------------------------------- scripting
    def enqueue(self, *replies: Reply | Callable[[RecordedRequest], Reply]) -> None:
        """Queue replies for the next chat POSTs (a callable is called with the request)."""
        for reply in replies:
            if not isinstance(reply, Reply) and not callable(reply):
                raise TypeError(f"expected a Reply or a callable, got {type(reply).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def set_handler(self, handler: Callable[[RecordedRequest], Reply | None] | None) -> None:
        """Dynamic script for chat POSTs when the queue is empty; returning None means the default."""
        with self._lock:
            self._handler = handler

    def set_route(self, method: str, path: str, reply: Reply | Callable[[RecordedRequest], Reply] | None) -> None:
        """Serve ``reply`` for an exact method + path (checked before the built-in endpoints)."""
        with self._lock:
            key = (method.upper(), path)
            if reply is None:
                self._routes.pop(key, None)
            else:
                self._routes[key] = reply

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Forget recorded requests, queued replies, the handler and errors."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._handler = None
            self._errors.clear()

    # ---------------------------------------------------------------- inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise AssertionError("the server has received no request")
            return self._requests[-1]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``n`` requests were received (sync code / other threads only)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests, got {len(self._requests)}")
                self._cond.wait(left)
            return list(self._requests)

    @property
    def errors(self) -> list[BaseException]:
        with self._lock:
            return list(self._errors)

    def check(self) -> None:
        """Raise :class:`HandlerError` if a handler or reply raised in the server thread."""
        errors = self.errors
        if errors:
            raise HandlerError(f"{len(errors)} error(s) in the scripted server: {errors[0]!r}") from errors[0]

    def _record_error(self, exc: BaseException | None) -> None:
        if exc is not None:
            with self._lock:
                self._errors.append(exc)

    # ---------------------------------------------------------------- serving
    def _dispatch(self, h: _Handler) -> None:
        method = h.command
        path, _, query = h.path.partition("?")
        raw = _read_body(h)
        headers: dict[str, str] = {}
        for k, v in h.headers.items():
            k = k.lower()
            headers[k] = f"{headers[k]}, {v}" if k in headers else v
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = None
        req = RecordedRequest(method=method, path=path, headers=headers, body=body, raw=raw, query=query)
        with self._cond:
            self._requests.append(req)
            self._cond.notify_all()
            route = self._routes.get((method, path))
        wire = req.wire
        try:
            reply = self._choose(req, route, wire)
            rendered = reply.render(req, wire)
        except Exception as exc:  # a broken script must fail the test, not hang it
            self._record_error(exc)
            err = _dumps({"error": {"message": f"scripted server error: {exc!r}", "type": "server_error",
                                    "param": None, "code": None}})
            _send_body(h, 500, [("Content-Type", "application/json")], err)
            return
        try:
            self._send(h, rendered, reply.stream)
        except _Cut:
            h.close_connection = True

    def _choose(self, req: RecordedRequest, route: Any, wire: Wire | None) -> Reply:
        if route is not None:
            return route if isinstance(route, Reply) else route(req)
        if req.method == "POST" and wire is not None:
            with self._lock:
                item = self._queue.popleft() if self._queue else None
                handler = self._handler
            if item is not None:
                return item if isinstance(item, Reply) else item(req)
            if handler is not None:
                reply = handler(req)
                if reply is not None:
                    return reply
            return self.default
        if req.method == "GET" and req.path.rstrip("/").endswith("/models"):
            return Reply.json(self._models_payload(req))
        if wire is None:
            return Reply.error(404, f"No route for {req.method} {req.path}", error_type="not_found")
        return Reply.error(405, f"Method {req.method} not allowed", error_type="invalid_request_error")

    def _models_payload(self, req: RecordedRequest) -> dict[str, Any]:
        if "anthropic-version" in req.headers:
            data = [m if isinstance(m, dict) else
                    {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                    for m in self.models]
            ids = [d.get("id") for d in data]
            return {"data": data, "has_more": False, "first_id": ids[0] if ids else None,
                    "last_id": ids[-1] if ids else None}
        data = [m if isinstance(m, dict) else {"id": m, "object": "model", "created": 0, "owned_by": "test"}
                for m in self.models]
        return {"object": "list", "data": data}

    def _pause(self, h: _Handler, seconds: float, opts: StreamOptions, write: Callable[[bytes], None] | None) -> None:
        """Sleep without blocking shutdown; optionally send keep-alive comments meanwhile."""
        if seconds <= 0:
            return
        deadline = time.monotonic() + seconds
        interval = opts.keepalive_interval if write is not None else None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            step = min(left, interval) if interval else left
            if self._stopping.wait(step):
                _abort(h)
                raise _Cut
            if interval and deadline - time.monotonic() > 0:
                write(KEEPALIVE_COMMENT + opts.line_end + opts.line_end)

    def _send(self, h: _Handler, r: _Rendered, opts: StreamOptions) -> None:
        self._pause(h, opts.delay_headers, opts, None)
        if r.events is None:  # a complete body
            self._pause(h, opts.delay_first, opts, None)
            _send_body(h, r.status, r.headers, r.body or b"")
            return
        if h.command == "HEAD":
            _send_body(h, r.status, r.headers, b"")
            return

        chunked = opts.framing == "chunked"
        h.send_response(r.status)
        for k, v in r.headers:
            h.send_header(k, v)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        wfile = h.wfile

        if chunked:
            def write(data: bytes) -> None:
                if data:
                    wfile.write(b"%X\r\n%b\r\n" % (len(data), data))
        else:
            def write(data: bytes) -> None:
                if data:
                    wfile.write(data)

        try:
            blob = _fast_blob(r, opts)  # raw chunks and fault options go the per-event way
            cut = opts.cut_after is not None
            if blob is not None:
                for i in range(0, len(blob), _WRITE_BLOCK):
                    write(blob[i : i + _WRITE_BLOCK])
            else:
                units, cut = _stream_units(r, opts)
                split = opts.split
                events_written = 0
                first = True
                for is_event, unit in units:
                    if is_event:
                        if opts.stall_after is not None and events_written == opts.stall_after:
                            self._pause(h, opts.stall_seconds, opts, write)
                        if first:
                            self._pause(h, opts.delay_first, opts, write)
                            first = False
                        else:
                            self._pause(h, opts.delay_per_chunk, opts, write)
                    if split == "every-byte":
                        for i in range(len(unit)):
                            write(unit[i : i + 1])
                    elif isinstance(split, int) and not isinstance(split, bool):
                        for i in range(0, len(unit), split):
                            write(unit[i : i + split])
                    else:
                        write(unit)
                    if is_event:
                        events_written += 1
                if opts.stall_after is not None and events_written == opts.stall_after:
                    self._pause(h, opts.stall_seconds, opts, write)
            if cut:
                _abort(h, reset=opts.cut_reset)
                raise _Cut
            if chunked:
                wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def _keepalive_count(r: _Rendered, opts: StreamOptions) -> int:
    keep = opts.keepalive_comments
    if keep is None:
        keep = r.flavor == "openrouter" and r.wire == "openai" and not _is_raw(r)
    return 2 if keep is True else int(keep or 0)


def _is_raw(r: _Rendered) -> bool:
    return bool(r.events) and r.events[0].raw


def _fast_blob(r: _Rendered, opts: StreamOptions) -> bytes | None:
    """The whole body in one pass when no option needs per-event handling, else None."""
    if (
        opts.per_event
        or opts.keepalive_interval
        or opts.no_final
        or opts.error_after is not None
        or opts.invalid_json_at is not None
        or opts.multiline_data
        or opts.line_end != b"\n"
        or _is_raw(r)
    ):
        return None
    out = [b"\xef\xbb\xbf"] if opts.bom else []
    out.extend([KEEPALIVE_COMMENT + b"\n\n"] * _keepalive_count(r, opts))
    for e in r.events or ():
        if isinstance(e, _Run):
            out.append(e.frame())
        elif e.name is None:
            out.append(b"data: " + e.data + b"\n\n")
        else:
            out.append(b"event: " + e.name + b"\ndata: " + e.data + b"\n\n")
    return b"".join(out)


def _stream_units(r: _Rendered, opts: StreamOptions) -> tuple[list[tuple[bool, bytes]], bool]:
    """Apply the fault options to the rendered events; return (is_event, bytes) units and
    whether the connection must be dropped at the end."""
    events: list[_Ev] = []
    for e in r.events or ():
        if isinstance(e, _Run):
            events.extend(e.expand())
        else:
            events.append(e)
    cut = opts.cut_after is not None
    if opts.no_final or cut:
        events = [e for e in events if not e.terminal]
    if opts.error_after is not None:
        kept = [e for e in events if not e.terminal][: opts.error_after]
        events = kept + [_stream_error_event(r, opts, kept[-1] if kept else None)]
    if cut:
        events = events[: opts.cut_after]
    if opts.invalid_json_at is not None and 0 <= opts.invalid_json_at < len(events):
        e = events[opts.invalid_json_at]
        broken = e.data[: max(1, len(e.data) // 2)]
        if broken == e.data or _parses(broken):
            broken = e.data + b"}{"
        events[opts.invalid_json_at] = _Ev(e.name, broken, e.terminal, e.raw)

    nl = opts.line_end
    units: list[tuple[bool, bytes]] = []
    comment = KEEPALIVE_COMMENT + nl + nl
    units.extend((False, comment) for _ in range(_keepalive_count(r, opts)))

    if events and events[0].raw:
        units.extend((True, e.data) for e in events)
    elif not opts.multiline_data and nl == b"\n":  # fast path
        units.extend([
            (True, b"data: " + e.data + b"\n\n") if e.name is None
            else (True, b"event: " + e.name + b"\ndata: " + e.data + b"\n\n")
            for e in events
        ])
    else:
        for e in events:
            lines = []
            if e.name is not None:
                lines.append(b"event: " + e.name)
            if opts.multiline_data and _parses(e.data):
                text = json.dumps(json.loads(e.data), indent=1, ensure_ascii=False).encode()
                lines.extend(b"data: " + ln for ln in text.split(b"\n"))
            else:
                lines.append(b"data: " + e.data)
            units.append((True, nl.join(lines) + nl + nl))
    if opts.bom:
        if units:
            is_event, first = units[0]
            units[0] = (is_event, b"\xef\xbb\xbf" + first)
        else:
            units.append((False, b"\xef\xbb\xbf"))
    return units, cut


def _parses(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def _read_body(h: _Handler) -> bytes:
    if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
        out = bytearray()
        while True:
            line = h.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += h.rfile.read(size)
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length > 0 else b""


def _send_body(h: _Handler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    h.send_response(status)
    for k, v in headers:
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


def _abort(h: _Handler, reset: bool = False) -> None:
    """Drop the connection mid-response: FIN (default) or RST."""
    h.close_connection = True
    conn = h.connection
    try:
        if reset:
            import struct

            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.rfile.close()
            h.wfile.close()
            conn.close()
        else:
            conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    """A started :class:`ScriptedLLMServer`, stopped (and checked for script errors) after the test."""
    server = ScriptedLLMServer().start()
    try:
        yield server
    finally:
        server.stop()
    server.check()


@pytest.fixture
def llm_server_factory() -> Iterator[Callable[..., ScriptedLLMServer]]:
    """``make(**kwargs) -> ScriptedLLMServer`` for tests that need several servers."""
    servers: list[ScriptedLLMServer] = []

    def make(**kwargs: Any) -> ScriptedLLMServer:
        server = ScriptedLLMServer(**kwargs).start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for s in servers:
            s.stop()
    for s in servers:
        s.check()
