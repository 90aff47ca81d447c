"""OpenRouter's *published* per-endpoint latency, stored beside the user's *measured* figures.

``agentic-flow models refresh`` asks ``GET {base}/models/{author}/{slug}/endpoints``
(:func:`core.models.refresh.fetch_published_latency`) for the OpenRouter models a user is
likely to look at — those in the bundled catalog, those they have run, and any named with
``--latency-for`` — and keeps each endpoint's figures with the date they were fetched
(table ``published_latency``, migration ``m004_published_latency``).

What the endpoint publishes, per provider endpoint of a model, over the last 30 minutes:

* ``latency_last_30m`` {p50, p75, p90, p99} — time to first token. The API reference
  says **milliseconds**, while some SDK examples show values such as ``0.25``; a set of
  percentiles whose p99 is under :data:`SECONDS_BELOW` (no network LLM endpoint answers
  in 20 ms) is read as seconds and converted. Stored in ms.
* ``throughput_last_30m`` {p50, …, p99} — output tokens per second; note p99 is the
  *slow* tail (the lowest rate).
* ``uptime_last_30m`` — percent of successful requests.

A model's summary is the median over its endpoints of their p50 (OpenRouter spreads
requests over endpoints, so the typical endpoint is what a run meets) and the best
uptime. These are labelled *published* wherever they are shown; the user's own p50/p95
stay labelled *measured*.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable

from agentic_flow.core.errors import AgenticFlowError
from agentic_flow.core.models.catalog import load_bundled
from agentic_flow.core.models.refresh import (
    OPENROUTER_BASE_URL,
    EndpointLatency,
    Percentiles,
    PublishedLatency,
    fetch_published_latency,
)

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = [
    "SECONDS_BELOW",
    "PublishedSummary",
    "PublishedRefresh",
    "PublishedStore",
    "latency_ms",
    "models_to_fetch",
    "refresh_published",
]

SECONDS_BELOW = 20.0
"""A latency whose p99 is below this is in seconds, not milliseconds (see the module docstring)."""
CONCURRENCY = 6


def latency_ms(p: Percentiles | None) -> Percentiles | None:
    """Published TTFT percentiles in milliseconds, whichever unit the response used."""
    if p is None:
        return None
    values = [v for v in (p.p50, p.p75, p.p90, p.p99) if v is not None]
    if values and max(values) < SECONDS_BELOW:
        return Percentiles(**{k: None if v is None else v * 1000 for k, v in p.model_dump().items()})
    return p


@dataclass(frozen=True)
class PublishedSummary:
    """One model's published figures, as the model tables show them."""

    model_id: str
    endpoints: int
    ttft_ms_p50: float | None
    tps_p50: float | None
    uptime_30m: float | None
    fetched_at: datetime

    @property
    def date(self) -> str:
        return self.fetched_at.strftime("%Y-%m-%d")


@dataclass
class PublishedRefresh:
    """What a refresh of published latency got: models stored, and each failure with its reason."""

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class PublishedStore:
    """Published latency in the shared SQLite file (one row per model endpoint)."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    def save(self, model_id: str, published: PublishedLatency) -> None:
        """Replace ``model_id``'s endpoints with ``published``'s."""
        fetched = published.fetched_at.astimezone(timezone.utc).isoformat()
        rows = []
        for e in published.endpoints:
            lat = latency_ms(e.latency_ms) or Percentiles()
            tps = e.throughput_tps or Percentiles()
            rows.append((
                model_id, e.provider, e.tag or "", e.quantization, lat.p50, lat.p75, lat.p90, lat.p99,
                tps.p50, tps.p75, tps.p90, tps.p99, e.uptime_30m, fetched, published.source,
            ))
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM published_latency WHERE model_id = ?", (model_id,))
            conn.executemany(
                "INSERT OR REPLACE INTO published_latency (model_id, provider, tag, quantization, ttft_ms_p50, "
                "ttft_ms_p75, ttft_ms_p90, ttft_ms_p99, tps_p50, tps_p75, tps_p90, tps_p99, uptime_30m, fetched_at, "
                "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def endpoints(self, model_id: str) -> list[EndpointLatency]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT provider, tag, quantization, ttft_ms_p50, ttft_ms_p75, ttft_ms_p90, ttft_ms_p99, tps_p50, "
                "tps_p75, tps_p90, tps_p99, uptime_30m FROM published_latency WHERE model_id = ? ORDER BY provider",
                (model_id,),
            ).fetchall()
        return [
            EndpointLatency(
                provider=r[0], tag=r[1] or None, quantization=r[2],
                latency_ms=Percentiles(p50=r[3], p75=r[4], p90=r[5], p99=r[6]),
                throughput_tps=Percentiles(p50=r[7], p75=r[8], p90=r[9], p99=r[10]), uptime_30m=r[11],
            )
            for r in rows
        ]

    def summaries(self) -> dict[str, PublishedSummary]:
        """Per model: median of its endpoints' p50 TTFT and throughput, best uptime, fetch date."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT model_id, ttft_ms_p50, tps_p50, uptime_30m, fetched_at FROM published_latency"
            ).fetchall()
        grouped: dict[str, list[tuple[float | None, float | None, float | None, str]]] = {}
        for model_id, ttft, tps, uptime, fetched in rows:
            grouped.setdefault(model_id, []).append((ttft, tps, uptime, fetched))
        out: dict[str, PublishedSummary] = {}
        for model_id, items in grouped.items():
            ttfts = [t for t, _, _, _ in items if t is not None]
            rates = [s for _, s, _, _ in items if s is not None]
            ups = [u for _, _, u, _ in items if u is not None]
            out[model_id] = PublishedSummary(
                model_id=model_id, endpoints=len(items),
                ttft_ms_p50=statistics.median(ttfts) if ttfts else None,
                tps_p50=statistics.median(rates) if rates else None,
                uptime_30m=max(ups) if ups else None,
                fetched_at=datetime.fromisoformat(max(f for *_, f in items)),
            )
        return out


def models_to_fetch(store: "Store | None", extra: Iterable[str] = ()) -> list[str]:
    """OpenRouter models worth asking about: the bundled ones, those the user has run, and ``extra``.

    Asking for every listed model would be hundreds of requests; these are the ones a
    user looks at. ``extra`` may omit the ``openrouter:`` prefix.
    """
    wanted = [info.id for info in load_bundled() if info.provider == "openrouter"]
    if store is not None:
        wanted += [m for m in store.all_latency_stats() if m.startswith("openrouter:")]
    wanted += [m if m.startswith("openrouter:") else f"openrouter:{m}" for m in extra]
    return list(dict.fromkeys(wanted))


async def refresh_published(
    model_ids: Iterable[str],
    store: "Store",
    *,
    base_url: str = OPENROUTER_BASE_URL,
    api_key: str | None = None,
    timeout: float = 15.0,
    concurrency: int = CONCURRENCY,
) -> PublishedRefresh:
    """Fetch and store the published figures of ``model_ids`` (a few requests at a time).

    A model that fails is reported in the result and keeps its earlier figures.
    """
    key = api_key if api_key is not None else os.environ.get("OPENROUTER_API_KEY")
    gate = asyncio.Semaphore(max(1, concurrency))
    outcome = PublishedRefresh()

    async def one(model_id: str) -> None:
        async with gate:
            try:
                published = await fetch_published_latency(model_id, base_url, api_key=key, timeout=timeout)
                await asyncio.to_thread(PublishedStore(store).save, model_id, published)
            except AgenticFlowError as exc:
                outcome.failed.append((model_id, str(exc)))
                return
        outcome.stored.append(model_id)

    await asyncio.gather(*(one(m) for m in dict.fromkeys(model_ids)))
    outcome.stored.sort()
    outcome.failed.sort()
    return outcome
