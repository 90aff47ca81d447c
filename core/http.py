"""The one place provider code touches an HTTP client.

Providers ask for a streamed POST and get status, headers and an async iterator of raw
byte chunks; every httpx exception is mapped here to the error tree in ``core.errors``.
Keeping this surface small is what lets the client stack (httpx today, httpx2 which
``mcp`` already pulls in, or a raw socket reader) be swapped after measuring.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Mapping

import httpx

from agentic_flow.core import errors

__all__ = ["Timeouts", "DEFAULT_TIMEOUTS", "StreamResponse", "HttpClient"]


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout, and read timeout = longest silence allowed between bytes."""

    connect: float = 10.0
    read: float = 120.0


DEFAULT_TIMEOUTS = Timeouts()


class StreamResponse:
    """A response whose body has not been read yet."""

    def __init__(self, response: httpx.Response, provider: str, model: str, timeouts: Timeouts) -> None:
        self._response = response
        self._provider = provider
        self._model = model
        self._timeouts = timeouts
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def body(self, limit: int = 1 << 20) -> bytes:
        """Read a (small) non-streamed body, e.g. an error document."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            chunks.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
        return b"".join(chunks)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Raw body chunks as they arrive. Mid-stream failures raise ``StreamCutOff``/``ProviderTimeout``."""
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.ReadTimeout as exc:
            raise errors.ProviderTimeout(
                f"the server stopped sending data for {self._timeouts.read:g}s (read timeout). "
                "Raise it with --timeout or check the server.",
                provider=self._provider,
                model=self._model,
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.NetworkError) as exc:
            raise errors.StreamCutOff(
                f"the connection was dropped mid-stream ({type(exc).__name__}: {_detail(exc)})",
                provider=self._provider,
                model=self._model,
            ) from exc


def _detail(exc: BaseException) -> str:
    """The first non-empty message down the exception chain.

    httpx's ``ReadError`` for a connection reset has an empty message; the
    ``ConnectionResetError`` it wraps says what happened.
    """
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        text = str(seen).strip()
        if text:
            return text
        seen = seen.__cause__ or seen.__context__
    return "no detail"


class HttpClient:
    """A pooled async HTTP client shared by the providers of one process."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    @staticmethod
    def _build() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            http2=False,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            trust_env=True,
        )

    async def _get(self) -> httpx.AsyncClient:
        """The pooled client, built on first use in a worker thread.

        Building it loads httpcore and certifi and creates the SSL context (~50-120 ms
        of CPU): in the event loop's thread that stalled the UI at the first request.
        Nothing in the construction binds to a loop (httpcore sets its locks up on first
        use). Two first requests at once may both build one; the first stored is kept
        and the other, never opened, is dropped.
        """
        if self._client is None:
            built = await asyncio.to_thread(self._build)
            if self._client is None:
                self._client = built
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @asynccontextmanager
    async def stream_post(
        self,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes,
        timeouts: Timeouts,
        provider: str,
        model: str,
    ) -> AsyncIterator[StreamResponse]:
        timeout = httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=timeouts.connect)
        client = await self._get()
        request = client.build_request("POST", url, headers=dict(headers), content=content, timeout=timeout)
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectTimeout as exc:
            raise errors.ProviderTimeout(
                f"could not connect to {url} within {timeouts.connect:g}s; is the server up?",
                provider=provider,
                model=model,
            ) from exc
        except httpx.ReadTimeout as exc:
            raise errors.ProviderTimeout(
                f"no response from {url} within {timeouts.read:g}s (read timeout); raise it with --timeout",
                provider=provider,
                model=model,
            ) from exc
        except httpx.ConnectError as exc:
            raise errors.ProviderConnectError(
                f"cannot connect to {url} ({str(exc) or 'connection refused'}); check that the server is running "
                "and the base URL is right",
                provider=provider,
                model=model,
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise errors.ProviderConnectError(
                f"the connection to {url} failed before a response ({type(exc).__name__}: {exc})",
                provider=provider,
                model=model,
            ) from exc
        except httpx.InvalidURL as exc:
            raise errors.ConfigError(f"invalid base URL {url!r}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise errors.ProviderConnectError(
                f"request to {url} failed: {type(exc).__name__}: {exc}", provider=provider, model=model
            ) from exc
        try:
            yield StreamResponse(response, provider, model, timeouts)
        finally:
            await response.aclose()
