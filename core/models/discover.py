"""Models of your own servers: ``GET {base_url}/models`` on OpenAI-compatible providers.

Asked: the keyless presets (Ollama, llama.cpp, vLLM, LM Studio) and every provider in
settings that speaks the ``openai`` wire format and is not a hosted preset (OpenRouter,
OpenAI, ... have hundreds of models and their own prices). Each gets a short timeout and
all are asked at once, so a server that is not running costs a refused connection.

What a server lists becomes catalog entries marked ``discovered``, their price unknown
(``?``, never a false ``$0``: a server on this machine may well be a gateway to a paid
API) unless the user's ``models:`` settings give one; context when the listing says it
(``context_length``, vLLM's ``max_model_len``, ...). Answers are cached per provider in
``discovered-models.json`` so ``cost``, ``run`` and the workbench know them offline; a
provider that cannot be reached keeps what it listed last time.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson

from agentic_flow.core import paths
from agentic_flow.core.config import Settings
from agentic_flow.core.errors import StoreError, UnknownModel
from agentic_flow.core.models.catalog import DISCOVERED_FILENAME, DISCOVERED_FORMAT, ModelInfo, guess_tier
from agentic_flow.core.providers.presets import PRESETS
from agentic_flow.core.providers.registry import resolve_provider_config

__all__ = [
    "DISCOVERY_TIMEOUT",
    "Discovery",
    "discoverable_providers",
    "discover_models",
    "models_from_listing",
]

DISCOVERY_TIMEOUT = 1.5
"""Seconds a server gets to answer ``GET /models`` (connect and read)."""
_CONTEXT_FIELDS = ("context_length", "max_model_len", "context_window", "max_context_length")


@dataclass(frozen=True)
class Discovery:
    """What one provider's server answered: its models, or why there are none."""

    provider: str
    base_url: str
    models: list[ModelInfo] = field(default_factory=list)
    error: str | None = None
    configured: bool = False
    """The provider is in the user's settings (so an error is worth showing)."""


@dataclass(frozen=True)
class _Target:
    provider: str
    base_url: str
    headers: dict[str, str]
    configured: bool


def discoverable_providers(settings: Settings, only: Iterable[str] | None = None) -> list[str]:
    """Providers whose servers are asked for their models (see the module docstring)."""
    configured = {name.lower() for name in settings.providers}
    names = [name for name, preset in PRESETS.items() if preset.key_env is None and preset.kind == "openai"]
    for name in sorted(configured):
        preset = PRESETS.get(name)
        if name in names or name == "local" or (preset is not None and preset.key_env is not None):
            continue
        custom = settings.providers.get(name) or next(v for k, v in settings.providers.items() if k.lower() == name)
        if (custom.kind or (preset.kind if preset else "openai")) == "openai":
            names.append(name)
    wanted = {p.lower() for p in only} if only is not None else None
    return [n for n in names if wanted is None or n in wanted]


def _targets(settings: Settings, only: Iterable[str] | None) -> list[_Target]:
    configured = {name.lower() for name in settings.providers}
    targets = []
    for name in discoverable_providers(settings, only):
        try:
            config = resolve_provider_config(name, settings)
        except UnknownModel:
            continue
        headers = {"Accept": "application/json", **config.headers}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        targets.append(_Target(name, config.base_url, headers, name in configured))
    return targets


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return None


def models_from_listing(provider: str, doc: Any, *, source: str, today: date | None = None) -> list[ModelInfo]:
    """Catalog entries for what a ``GET /models`` answer lists (prices unknown: a listing
    gives none, and the user's ``models:`` settings override them).

    Raises:
        ValueError: the answer has no ``data`` list (not an OpenAI-compatible listing).
    """
    entries = doc.get("data") if isinstance(doc, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("the answer has no 'data' list of models")
    found: dict[str, ModelInfo] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        model = entry.get("id")
        if not isinstance(model, str) or not model.strip() or any(ch.isspace() for ch in model):
            continue
        context = next((c for f in _CONTEXT_FIELDS if (c := _positive_int(entry.get(f))) is not None), None)
        found[model] = ModelInfo(
            id=f"{provider}:{model}",
            name=model,
            provider=provider,
            price_in=None,
            price_out=None,
            context=context,
            max_output=None,
            tools=None,
            tier=guess_tier(None),
            price_date=today or date.today(),
            price_source=f"listed by {source} (no price given: set one under providers.{provider}.models)",
            origin="discovered",
        )
    return list(found.values())


def _result(target: _Target, *, models: list[ModelInfo] | None = None, error: str | None = None) -> Discovery:
    return Discovery(target.provider, target.base_url, models or [], error, target.configured)


async def _ask(client: httpx.AsyncClient, target: _Target, timeout: float) -> Discovery:
    url = f"{target.base_url.rstrip('/')}/models"
    try:
        response = await client.get(url, headers=target.headers, timeout=timeout)
    except httpx.TimeoutException:
        return _result(target, error=f"{url} did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return _result(target, error=f"{url} is not reachable ({type(exc).__name__})")
    if response.status_code >= 400:
        hint = " (check its key)" if response.status_code in (401, 403) else ""
        return _result(target, error=f"GET {url} answered HTTP {response.status_code}{hint}")
    try:
        models = models_from_listing(target.provider, orjson.loads(response.content), source=url)
    except (orjson.JSONDecodeError, ValueError) as exc:
        return _result(target, error=f"GET {url} did not list models: {exc}")
    return _result(target, models=models)


async def discover_models(
    settings: Settings,
    *,
    providers: Iterable[str] | None = None,
    timeout: float = DISCOVERY_TIMEOUT,
    cache_dir: Path | None = None,
) -> list[Discovery]:
    """Ask every discoverable server (or ``providers``) at once; cache what they list.

    Never raises for a server that is down or answers nonsense: that is a
    :class:`Discovery` with ``error`` set, and the provider's cached listing is kept.
    """
    targets = _targets(settings, providers)
    if not targets:
        return []
    async with httpx.AsyncClient(follow_redirects=True) as client:
        found = await asyncio.gather(*(_ask(client, t, timeout) for t in targets))
    answered = [d for d in found if d.error is None]
    if answered:
        try:
            _update_cache(answered, cache_dir)
        except StoreError:
            pass  # the listing still reaches the caller; only the offline copy is lost
    return list(found)


def _update_cache(found: list[Discovery], cache_dir: Path | None) -> None:
    path = (cache_dir if cache_dir is not None else paths.cache_dir()) / DISCOVERED_FILENAME
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        doc = {}
    providers = doc.get("providers") if isinstance(doc, dict) and doc.get("format") == DISCOVERED_FORMAT else None
    providers = dict(providers) if isinstance(providers, dict) else {}
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    for item in found:
        providers[item.provider] = {
            "base_url": item.base_url,
            "fetched_at": now,
            "models": [m.model_dump(mode="json") for m in item.models],
        }
    data = orjson.dumps({"format": DISCOVERED_FORMAT, "providers": providers}, option=orjson.OPT_INDENT_2)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            tmp = handle.name
            handle.write(data)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise StoreError(f"could not write the discovered-model cache {path}: {exc}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
