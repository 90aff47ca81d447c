"""``models refresh`` part two: OpenRouter's published per-endpoint latency (see
:mod:`core.models.published_latency`). Failures are warnings: the model list was updated."""

from __future__ import annotations

import argparse
import asyncio
import sys

from agentic_flow.core.cli.output import warn
from agentic_flow.core.errors import StoreError

__all__ = ["refresh_published_latency"]


def refresh_published_latency(args: argparse.Namespace, base_url: str | None) -> None:
    """Fetch and store published latency for the models worth showing; print what happened."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.published_latency import models_to_fetch, refresh_published
    from agentic_flow.core.models.refresh import OPENROUTER_BASE_URL
    from agentic_flow.core.store.database import Store

    extra = [m.strip() for m in (getattr(args, "latency_for", None) or "").split(",") if m.strip()]
    try:
        store = Store()
        models = models_to_fetch(store, extra)
        print(f"fetching OpenRouter's published latency for {len(models)} model(s)…", file=sys.stderr)
        result = asyncio.run(
            refresh_published(models, store, base_url=base_url or OPENROUTER_BASE_URL, timeout=args.timeout)
        )
    except StoreError as exc:
        warn(f"published latency not stored: {exc}")
        return
    print(f"stored published latency (last 30 min, per endpoint) for {len(result.stored)} model(s); "
          "`agentic-flow models` shows it beside your measured p50/p95")
    for model_id, reason in result.failed:
        warn(f"no published latency for {model_id}: {reason}")
