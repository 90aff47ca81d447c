"""What every provider kind shares: configuration, retries, the turn's bookkeeping.

A provider kind (``openai``, ``anthropic``) only knows its wire format: how to build the
request body and how to map one decoded SSE event to typed events. Everything else —
retrying before the first token, mapping HTTP errors to messages that say what to do,
noticing a stream that ends without a finish reason, estimating usage when the server
sends none — lives here once.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

import orjson

from agentic_flow.core import errors
from agentic_flow.core.events import (
    Event,
    ProviderFailed,
    Retrying,
    StopReason,
    TurnEnded,
    Usage,
)
from agentic_flow.core.http import HttpClient, Timeouts
from agentic_flow.core.messages import ChatRequest
from agentic_flow.core.models.tokens import count_request_tokens, count_tokens
from agentic_flow.core.providers.sse import SSEDecoder, SSEEvent
from agentic_flow.core.redact import redact

__all__ = ["ProviderConfig", "RetryPolicy", "Provider", "TurnState", "parse_tool_arguments", "SHAPE_ERRORS", "text_or_none"]

#: What a mapper raises when an event is valid JSON with the wrong shapes (a list where
#: an object belongs, ``"index": "x"``...): such an event is reported as malformed and
#: skipped, exactly like invalid JSON, instead of ending the run with a traceback.
#: (pydantic's ValidationError and orjson's errors are ValueError / TypeError.)
SHAPE_ERRORS = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def text_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None (wire fields kept in turn state)."""
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class ProviderConfig:
    """A resolved provider: where to send requests and with which key."""

    name: str
    kind: str  # "openai" | "anthropic"
    base_url: str
    api_key: str | None = None
    key_env: str | None = None
    needs_key: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print the key
        return f"ProviderConfig(name={self.name!r}, kind={self.kind!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when the server sends it."""

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * (2**attempt))
        return backoff * (0.5 + random.random() / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_tool_arguments(raw: str, cut_off: bool) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments of a finished tool call, or why they cannot be used."""
    if cut_off:
        return None, (
            "the tool call was cut off before its arguments were complete (max tokens reached); "
            "it was not executed"
        )
    if not raw.strip():
        return {}, None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"the tool call arguments are not valid JSON ({exc}); it was not executed"
    if not isinstance(value, dict):
        return None, "the tool call arguments must be a JSON object; it was not executed"
    return value, None


class TurnState:
    """What one streamed turn has produced so far (for usage estimates and cut-off reports)."""

    __slots__ = ("text_parts", "model", "stop_reason", "usage", "output_started", "tool_args", "done", "calls")

    def __init__(self) -> None:
        self.text_parts: list[str] = []
        self.model: str | None = None
        self.stop_reason: StopReason | None = None
        self.usage: Usage | None = None
        self.output_started = False
        self.tool_args: list[str] = []
        self.done = False
        self.calls: dict[Any, Any] = {}  # tool calls being assembled, keyed by the wire's index


class Provider(ABC):
    """One provider kind speaking its wire format over :mod:`core.http`."""

    kind: str = ""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        http: HttpClient | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.config = config
        self.http = http or HttpClient()
        self.timeouts = timeouts
        self.retry = retry

    @property
    def name(self) -> str:
        return self.config.name

    # -- wire format -------------------------------------------------------------------
    @abstractmethod
    def endpoint(self) -> str: ...

    @abstractmethod
    def headers(self) -> dict[str, str]: ...

    @abstractmethod
    def body(self, request: ChatRequest) -> dict[str, Any]: ...

    def map_event(self, sse: SSEEvent, state: TurnState, request: ChatRequest) -> list[Event]:
        """Typed events for one SSE event; raise ``errors.ProviderError`` for a fatal one.

        An event that is not what the wire format promises (see ``SHAPE_ERRORS``) gives
        one ``ProviderFailed`` event naming it, and the stream goes on.
        """
        try:
            return self.map_wire_event(sse, state, request)
        except SHAPE_ERRORS as exc:
            return [self.malformed(sse, exc, request)]

    @abstractmethod
    def map_wire_event(self, sse: SSEEvent, state: TurnState, request: ChatRequest) -> list[Event]:
        """The wire format's mapping behind :meth:`map_event`; values kept in ``state``
        must be checked (a wrong type there would break ``finish`` later)."""

    @abstractmethod
    def finish(self, state: TurnState, request: ChatRequest) -> list[Event]:
        """Events due when the stream ended cleanly (pending tool calls, ...)."""

    def error_message(self, status: int, body: bytes) -> str:
        """The server's own error text, if its body has one."""
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            text = body.decode("utf-8", "replace").strip()
            return text[:300]
        if isinstance(doc, dict):
            err = doc.get("error", doc)
            if isinstance(err, dict):
                return str(err.get("message") or err.get("type") or err)[:500]
            if isinstance(err, str):
                return err[:500]
        return str(doc)[:300]

    # -- shared machinery --------------------------------------------------------------
    def check_key(self, model: str) -> None:
        if self.config.needs_key and not self.config.api_key:
            env = self.config.key_env or f"{self.name.upper()}_API_KEY"
            raise errors.NeedsKey(
                f"{env} is not set. Export it (export {env}=...) or put api_key under providers.{self.name} "
                "in your config file; `agentic-flow models` shows which providers have keys.",
                provider=self.name,
                model=model,
            )

    def http_error(self, status: int, headers: Mapping[str, str], body: bytes, model: str) -> errors.ProviderError:
        detail = self.error_message(status, body)
        kw: dict[str, Any] = {"provider": self.name, "model": model, "status": status}
        low = detail.lower()
        said = f" ({detail})" if detail.strip() else ""  # what the server said, when it said something
        if status in (401, 403):
            env = self.config.key_env or "the API key"
            return errors.AuthFailed(f"the key was refused{said}. Check {env}.", **kw)
        if status == 404 or ("model" in low and ("not found" in low or "does not exist" in low or "no such" in low)):
            return errors.ModelNotFound(
                f"model not found on this server{said}. `agentic-flow models` lists known ids; "
                "check the spelling or the provider prefix.",
                **kw,
            )
        if status == 429:
            return errors.RateLimited(
                f"rate limited ({detail}).", retry_after=parse_retry_after(headers.get("retry-after")), **kw
            )
        if status >= 500 or status == 529:
            return errors.ServerError(
                f"server error ({detail}).", retry_after=parse_retry_after(headers.get("retry-after")), **kw
            )
        if status in (400, 413, 422):
            return errors.BadRequest(f"the server refused the request: {detail}", **kw)
        return errors.ProviderError(f"unexpected HTTP status: {detail}", **kw)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Stream one turn as typed events. Never raises for provider failures.

        Ends with ``TurnEnded``; failures are a ``ProviderFailed`` event first. Retries
        happen only while nothing has been yielded, so text is never duplicated.
        """
        try:
            self.check_key(request.model)
        except errors.ProviderError as exc:
            yield self._error_event(exc)
            yield TurnEnded(stop_reason="error")
            return
        content = orjson.dumps(self.body(request))
        attempt = 0
        while True:
            state = TurnState()
            try:
                async for batch in self._attempt(request, content, state):
                    for event in batch:
                        yield event
                return
            except errors.ProviderError as exc:
                if exc.retryable and not state.output_started and attempt < self.retry.retries:
                    delay = self.retry.delay(attempt, exc.retry_after)
                    attempt += 1
                    yield Retrying(
                        provider=self.name,
                        model=request.model,
                        attempt=attempt,
                        max_attempts=self.retry.retries,
                        delay=round(delay, 3),
                        reason=redact(exc.detail, [self.config.api_key] if self.config.api_key else []),
                        status=exc.status,
                    )
                    await asyncio.sleep(delay)
                    continue
                yield self._error_event(exc)
                for event in self._usage_if_missing(state, request):
                    yield event
                cut = isinstance(exc, (errors.StreamCutOff, errors.ProviderTimeout, errors.MalformedStream))
                yield TurnEnded(stop_reason="cut_off" if cut and state.output_started else "error", model=state.model)
                return

    async def _attempt(self, request: ChatRequest, content: bytes, state: TurnState) -> AsyncIterator[list[Event]]:
        """One HTTP attempt, yielding the events of each network chunk as a batch.

        Batches keep the per-event cost to a single generator hop (in ``stream``); this
        loop runs once per chunk, not once per token.
        """
        url = self.endpoint()
        async with self.http.stream_post(
            url,
            headers=self.headers(),
            content=content,
            timeouts=self.timeouts,
            provider=self.name,
            model=request.model,
        ) as response:
            if response.status >= 400:
                body = await response.body()
                raise self.http_error(response.status, response.headers, body, request.model)
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype and ("html" in ctype or "json" in ctype):
                body = await response.body(limit=2000)
                raise self._not_a_stream(ctype, body, request.model)
            decoder = SSEDecoder()
            mapper = self.map_event
            async for chunk in response.chunks():
                batch: list[Event] = []
                for sse in decoder.feed(chunk):
                    batch.extend(mapper(sse, state, request))
                    if state.done:
                        break
                if batch:
                    yield batch
                if state.done:
                    break
            else:
                batch = []
                for sse in decoder.flush():
                    batch.extend(mapper(sse, state, request))
                if batch:
                    yield batch
        if state.stop_reason is None:
            kept = "the text received so far is kept" if state.output_started else "nothing had arrived yet"
            raise errors.StreamCutOff(
                f"the stream ended before the model finished (no finish reason); {kept}",
                provider=self.name,
                model=request.model,
            )
        tail = self.finish(state, request)
        tail.extend(self._usage_if_missing(state, request))
        tail.append(TurnEnded(stop_reason=state.stop_reason, model=state.model))
        yield tail

    def _not_a_stream(self, ctype: str, body: bytes, model: str) -> errors.ProviderError:
        if "json" in ctype:
            return errors.MalformedStream(
                f"the server answered with JSON instead of an event stream: {self.error_message(200, body)}",
                provider=self.name,
                model=model,
            )
        return errors.MalformedStream(
            f"the server answered with {ctype or 'no content type'} instead of an event stream "
            f"(is {self.config.base_url} the API base URL?)",
            provider=self.name,
            model=model,
        )

    def _usage_if_missing(self, state: TurnState, request: ChatRequest) -> list[Event]:
        """Reported usage, or an estimate (counted with tiktoken) marked as such.

        A turn that ended without a finish reason has at best a partial count (Anthropic
        reports input tokens first and output tokens last), so its output is estimated.
        """
        if state.usage is not None and state.stop_reason is not None:
            return [state.usage]
        if not state.output_started and state.model is None:
            return []

        out_text = "".join(state.text_parts) + "".join(state.tool_args)
        counted_out = count_tokens(out_text, request.model)
        if state.usage is not None:
            return [
                state.usage.model_copy(
                    update={"output_tokens": max(state.usage.output_tokens, counted_out), "estimated": True}
                )
            ]
        return [
            Usage(
                input_tokens=count_request_tokens(request.messages, request.system, request.tools, request.model),
                output_tokens=counted_out,
                estimated=True,
            )
        ]

    def _error_event(self, exc: errors.ProviderError) -> ProviderFailed:
        """The event for a failure. Its ``message`` is what went wrong and what to do; the
        provider, model and status are fields of their own, so a front end names them once."""
        extra = [self.config.api_key] if self.config.api_key else []
        return ProviderFailed(
            provider=exc.provider or self.name,
            model=exc.model,
            message=redact(exc.detail, extra),
            kind=exc.kind,
            status=exc.status,
            retryable=exc.retryable,
        )

    def malformed(self, sse: SSEEvent, exc: Exception, request: ChatRequest) -> ProviderFailed:
        """An error event naming the event that could not be parsed; the stream goes on."""
        snippet = sse.data[:120]
        return ProviderFailed(
            provider=self.name,
            model=request.model,
            message=f"could not parse a '{sse.event}' event ({exc}): {snippet!r}; it was skipped",
            kind="malformed_stream",
        )
