"""Live data from OpenRouter: the public models list, and published per-endpoint latency.

``GET {base}/models`` needs no key. Its shape (checked against OpenRouter's models API
docs)::

    {"data": [{"id": "openai/gpt-4o-mini", "name": "OpenAI: GPT-4o-mini",
               "context_length": 128000,
               "pricing": {"prompt": "0.00000015", "completion": "0.0000006", ...},
               "top_provider": {"context_length": 128000, "max_completion_tokens": 16384, ...},
               "supported_parameters": ["tools", "temperature", ...], "created": 1721260800,
               ...}]}

Prices are USD **per token**, as decimal strings; ``"-1"`` marks a router whose price
depends on where it routes (``openrouter/auto``) — that, like a missing price, becomes
``None`` (unknown), never 0.

``GET {base}/models/{author}/{slug}/endpoints`` lists each provider endpoint of a model
under ``data.endpoints[]`` with ``latency_last_30m`` / ``throughput_last_30m`` as
``{"p50", "p75", "p90", "p99"}``, and ``uptime_last_5m`` / ``uptime_last_30m`` /
``uptime_last_1d`` in percent. OpenRouter's schema documents latency as time to first
token in **milliseconds** and says it is ``null`` for requests without an API key;
throughput is taken to be tokens per second (the schema reuses one percentile type and
does not say). Older responses carried a bare number instead of the percentile object;
that is read as the p50. Anything else unexpected is read as "not published".
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from agentic_flow.core import paths
from agentic_flow.core.errors import (
    AuthFailed,
    ModelNotFound,
    ProviderConnectError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
    StoreError,
    UnknownModel,
)
from agentic_flow.core.models.catalog import (
    CACHE_FILENAME,
    CACHE_FORMAT,
    ModelInfo,
    guess_tier,
    load_bundled,
    read_cache,
)

__all__ = [
    "OPENROUTER_BASE_URL",
    "RefreshResult",
    "Percentiles",
    "EndpointLatency",
    "PublishedLatency",
    "refresh_from_openrouter",
    "fetch_published_latency",
    "model_from_openrouter",
    "per_million",
    "guess_tier",
    "fallback_note",
]

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
_PROVIDER = "openrouter"
_HEADERS = {"Accept": "application/json", "User-Agent": "agentic-flow-workbench"}


class RefreshResult(BaseModel):
    """Outcome of a successful refresh: what was cached, where, and what was left out."""

    model_config = ConfigDict(frozen=True)

    models: tuple[ModelInfo, ...]
    fetched_at: datetime
    path: Path
    source: str
    skipped: tuple[str, ...] = ()
    """One line per listed model that could not be used, with the reason."""


# ---------------------------------------------------------------------------- conversion


def per_million(per_token: Any) -> float | None:
    """OpenRouter's per-token price string -> USD per million tokens.

    ``Decimal`` keeps ``"0.000003"`` at exactly 3.0 instead of 2.9999999999999996.
    Negative (``"-1"``: variable), missing or non-numeric prices are unknown: ``None``.
    """
    if per_token is None or isinstance(per_token, bool):
        return None
    try:
        value = Decimal(str(per_token).strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return float(value * 1_000_000)


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return None


def model_from_openrouter(entry: Mapping[str, Any], *, fetched_on: date, source: str) -> ModelInfo:
    """One ``data[]`` item of the models list -> a ``ModelInfo`` (``openrouter:<id>``).

    Raises:
        ValueError: the entry has no usable id or context length (pydantic's
            ``ValidationError`` is a ``ValueError`` too).
    """
    slug = entry.get("id")
    if not isinstance(slug, str) or not slug.strip():
        raise ValueError("no id")
    top = entry.get("top_provider")
    top = top if isinstance(top, Mapping) else {}
    context = _positive_int(entry.get("context_length")) or _positive_int(top.get("context_length"))
    if context is None:
        raise ValueError("no context_length")
    pricing = entry.get("pricing")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    price_in = per_million(pricing.get("prompt"))
    price_out = per_million(pricing.get("completion"))
    params = entry.get("supported_parameters")
    name = entry.get("name")
    return ModelInfo(
        id=f"{_PROVIDER}:{slug}",
        name=name if isinstance(name, str) and name.strip() else slug,
        provider=_PROVIDER,
        price_in=price_in,
        price_out=price_out,
        context=context,
        max_output=_positive_int(top.get("max_completion_tokens")),
        tools=isinstance(params, list) and "tools" in params,
        tier=guess_tier(price_out),
        price_date=fetched_on,
        price_source=source,
        origin="openrouter",
    )


# ---------------------------------------------------------------------------- HTTP boundary


def fallback_note(cache_dir: Path | None = None) -> str:
    """What the catalog falls back on, for error messages: the cache and its date, or bundled."""
    directory = cache_dir if cache_dir is not None else paths.cache_dir()
    cached = read_cache(directory / CACHE_FILENAME)
    if cached.models:
        when = cached.fetched_at.strftime("%Y-%m-%d %H:%M UTC") if cached.fetched_at else "an unknown date"
        return f"using the cached model list from {when} ({len(cached.models)} OpenRouter models)"
    newest = max((m.price_date for m in load_bundled()), default=None)
    as_of = f" (prices as of {newest.isoformat()} at the latest)" if newest else ""
    reason = "the cached model list is unreadable" if cached.warnings else "no cached model list yet"
    return f"{reason}; using the bundled catalog{as_of}"


def _raise_for_response(response: httpx.Response, url: str, note: str, model: str = "") -> None:
    """Map a non-2xx answer to the error tree; the message says what is used instead."""
    status = response.status_code
    if status < 400:
        return
    detail = response.text[:200].strip() or response.reason_phrase
    message = f"GET {url} failed: {detail}; {note}"
    if status == 404:
        raise ModelNotFound(message, provider=_PROVIDER, model=model, status=status)
    if status in (401, 403):
        raise AuthFailed(
            message + ". Check OPENROUTER_API_KEY", provider=_PROVIDER, model=model, status=status
        )
    if status == 429:
        raise RateLimited(
            message, provider=_PROVIDER, model=model, status=status, retry_after=_retry_after(response)
        )
    if status >= 500:
        raise ServerError(message, provider=_PROVIDER, model=model, status=status)
    raise ProviderError(message, provider=_PROVIDER, model=model, status=status)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


async def _get_json(
    url: str, *, timeout: float, headers: Mapping[str, str], note: str, model: str = ""
) -> Any:
    """GET ``url`` and decode JSON, with every httpx failure mapped to the error tree."""
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=dict(headers)) as client:
            response = await client.get(url)
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(
            f"GET {url} timed out after {timeout:g} s; {note}", provider=_PROVIDER, model=model
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderConnectError(
            f"could not reach {url} ({exc.__class__.__name__}: {exc or 'no detail'}); {note}",
            provider=_PROVIDER,
            model=model,
        ) from exc
    _raise_for_response(response, url, note, model)
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            f"GET {url} did not return JSON ({exc}); {note}", provider=_PROVIDER, model=model
        ) from exc


# ---------------------------------------------------------------------------- models list


async def refresh_from_openrouter(
    base_url: str = OPENROUTER_BASE_URL,
    *,
    timeout: float = 30.0,
    cache_dir: Path | str | None = None,
) -> RefreshResult:
    """Fetch OpenRouter's models list and cache it for :meth:`ModelCatalog.load`.

    The cache is replaced atomically (temp file + rename), and only after the answer has
    been fully read and converted, so a failed refresh leaves the previous cache intact.

    Raises:
        ProviderConnectError: offline / refused; the message says which list is used instead.
        ProviderTimeout, ServerError, RateLimited, ProviderError: other failures, same message.
        StoreError: the cache file cannot be written.
    """
    directory = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    url = f"{base_url.rstrip('/')}/models"
    note = fallback_note(directory)
    doc = await _get_json(url, timeout=timeout, headers=_HEADERS, note=note)
    entries = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ProviderError(
            f"GET {url} returned no 'data' list; {note}", provider=_PROVIDER
        )
    fetched_at = datetime.now(timezone.utc).replace(microsecond=0)
    models: dict[str, ModelInfo] = {}
    skipped: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            skipped.append(f"#{index}: not an object")
            continue
        try:
            info = model_from_openrouter(entry, fetched_on=fetched_at.date(), source=url)
        except ValidationError as exc:
            skipped.append(f"{entry.get('id') or f'#{index}'}: {exc.errors()[0]['msg']}")
            continue
        except ValueError as exc:
            skipped.append(f"{entry.get('id') or f'#{index}'}: {exc}")
            continue
        models[info.id] = info
    if entries and not models:
        raise ProviderError(
            f"GET {url} listed {len(entries)} models but none could be read "
            f"(first problem: {skipped[0]}); {note}",
            provider=_PROVIDER,
        )
    path = directory / CACHE_FILENAME
    _write_cache(path, models.values(), fetched_at=fetched_at, source=url)
    return RefreshResult(
        models=tuple(models.values()), fetched_at=fetched_at, path=path, source=url, skipped=tuple(skipped)
    )


def _write_cache(path: Path, models: Iterable[ModelInfo], *, fetched_at: datetime, source: str) -> None:
    """Write the cache atomically: readers see the old file or the new one, never half."""
    doc = {
        "format": CACHE_FORMAT,
        "source": source,
        "fetched_at": fetched_at.isoformat(),
        "models": [m.model_dump(mode="json") for m in models],
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            tmp_name = handle.name
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        raise StoreError(f"could not write the model cache {path}: {exc}") from exc
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


# ---------------------------------------------------------------------------- latency


class Percentiles(BaseModel):
    """p50…p99 of one measure over OpenRouter's last 30 minutes; any may be missing."""

    model_config = ConfigDict(frozen=True)

    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    p99: float | None = None


class EndpointLatency(BaseModel):
    """One provider endpoint serving the model, with what OpenRouter publishes about it."""

    model_config = ConfigDict(frozen=True)

    provider: str
    tag: str | None = None
    quantization: str | None = None
    latency_ms: Percentiles | None = None
    """Time to first token, milliseconds (``None`` without an API key)."""
    throughput_tps: Percentiles | None = None
    """Output tokens per second."""
    uptime_5m: float | None = None
    uptime_30m: float | None = None
    uptime_1d: float | None = None


class PublishedLatency(BaseModel):
    """OpenRouter's published numbers for one model, labelled as such for the tables."""

    model_config = ConfigDict(frozen=True)

    model: str
    """``author/slug`` as asked for."""
    endpoints: tuple[EndpointLatency, ...]
    fetched_at: datetime
    source: Literal["published"] = "published"

    def typical_ttft_s(self) -> float | None:
        """Median over endpoints of their p50 time to first token, in seconds.

        The median, not the best: OpenRouter spreads requests over endpoints, so the
        typical endpoint is what a run meets.
        """
        values = [e.latency_ms.p50 for e in self.endpoints if e.latency_ms and e.latency_ms.p50 is not None]
        return statistics.median(values) / 1000 if values else None

    def typical_tokens_per_s(self) -> float | None:
        """Median over endpoints of their p50 throughput (tokens/s)."""
        values = [
            e.throughput_tps.p50 for e in self.endpoints if e.throughput_tps and e.throughput_tps.p50 is not None
        ]
        return statistics.median(values) if values else None

    def best_uptime_30m(self) -> float | None:
        values = [e.uptime_30m for e in self.endpoints if e.uptime_30m is not None]
        return max(values) if values else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _percentiles(value: Any) -> Percentiles | None:
    if isinstance(value, Mapping):
        stats = Percentiles(**{k: _number(value.get(k)) for k in ("p50", "p75", "p90", "p99")})
        return None if stats == Percentiles() else stats
    single = _number(value)
    return Percentiles(p50=single) if single is not None else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _endpoint_path(model: str) -> tuple[str, str]:
    """``openrouter:meta-llama/x:free`` -> (``meta-llama/x``, URL path part).

    The variant suffix (``:free``, ``:nitro``...) is dropped: endpoints are listed per
    base model.
    """
    slug = model.removeprefix(f"{_PROVIDER}:")
    author, sep, name = slug.partition("/")
    name = name.split(":", 1)[0]
    if not sep or not author or not name or "/" in name or any(c.isspace() for c in slug):
        raise UnknownModel(
            f"{model!r} is not an OpenRouter model slug; expected 'author/model' "
            "(for example 'meta-llama/llama-3.1-8b-instruct')"
        )
    return f"{author}/{name}", f"{quote(author, safe='')}/{quote(name, safe='')}"


async def fetch_published_latency(
    model_slug: str,
    base_url: str = OPENROUTER_BASE_URL,
    *,
    api_key: str | None = None,
    timeout: float = 15.0,
) -> PublishedLatency:
    """Per-endpoint latency, throughput and uptime OpenRouter publishes for a model.

    Args:
        model_slug: ``author/slug``, with or without ``openrouter:`` and a ``:variant``.
        api_key: sent as a bearer token; defaults to ``OPENROUTER_API_KEY``. Without one
            OpenRouter returns latency and throughput as null and only uptime is known.

    Raises:
        UnknownModel: not an ``author/slug``.
        ModelNotFound: OpenRouter does not list the model.
        ProviderConnectError, ProviderTimeout, ...: the request failed.
    """
    slug, path = _endpoint_path(model_slug)
    url = f"{base_url.rstrip('/')}/models/{path}/endpoints"
    key = api_key if api_key is not None else os.environ.get("OPENROUTER_API_KEY")
    headers = dict(_HEADERS)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    note = "no published latency for this model"
    doc = await _get_json(url, timeout=timeout, headers=headers, note=note, model=slug)
    data = doc.get("data") if isinstance(doc, dict) else None
    raw_endpoints = data.get("endpoints") if isinstance(data, dict) else None
    endpoints: list[EndpointLatency] = []
    for raw in raw_endpoints if isinstance(raw_endpoints, list) else []:
        if not isinstance(raw, Mapping):
            continue
        endpoints.append(
            EndpointLatency(
                provider=_text(raw.get("provider_name")) or _text(raw.get("name")) or "?",
                tag=_text(raw.get("tag")),
                quantization=_text(raw.get("quantization")),
                latency_ms=_percentiles(raw.get("latency_last_30m")),
                throughput_tps=_percentiles(raw.get("throughput_last_30m")),
                uptime_5m=_number(raw.get("uptime_last_5m")),
                uptime_30m=_number(raw.get("uptime_last_30m")),
                uptime_1d=_number(raw.get("uptime_last_1d")),
            )
        )
    return PublishedLatency(
        model=slug, endpoints=tuple(endpoints), fetched_at=datetime.now(timezone.utc).replace(microsecond=0)
    )
