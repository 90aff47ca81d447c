"""The model catalog: price, context window and tool support for every ``provider:model``.

Sources, merged at load time (later ones win for the same id):

* the bundled ``catalog.yaml`` (works with no network, prices carry their date and source);
* the cache that :func:`core.models.refresh.refresh_from_openrouter` writes from
  OpenRouter's public models list. Cached entries add or update ``openrouter:*`` models
  only; the bundled entries of every other provider stay as they are;
* the embedded local models (:mod:`core.local.models`): the default always, others when
  their packages are installed;
* with settings: what OpenAI-compatible servers listed at ``GET /models`` the last time
  they were asked (:mod:`core.models.discover`, cached, marked ``discovered``), and the
  ``models:`` the user wrote under a provider, which override everything else.

Unknown prices are ``None`` end to end and render as ``?`` — a model whose price we do not
know must never look free. A broken cache file is reported (logged and kept in
:attr:`ModelCatalog.warnings`) and the bundled catalog is used, so a bad download can never
stop the workbench from starting.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentic_flow.core import paths
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.local.models import LocalModel, available_local_models
from agentic_flow.core.providers.presets import PRESETS

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.config import Settings

__all__ = [
    "Tier",
    "TIERS",
    "Origin",
    "SortKey",
    "ModelInfo",
    "ModelCatalog",
    "CachedModels",
    "CACHE_FILENAME",
    "CACHE_FORMAT",
    "DISCOVERED_FILENAME",
    "DISCOVERED_FORMAT",
    "read_discovered",
    "local_model_entries",
    "settings_model_entries",
    "load_bundled",
    "read_cache",
    "merge_models",
    "sort_models",
    "split_model_id",
    "cost",
    "format_price",
    "format_cost",
    "format_context",
    "format_latency",
    "format_tools",
    "guess_tier",
    "catalog_columns",
    "catalog_rows",
]

logger = logging.getLogger(__name__)

Tier = Literal["tiny", "small", "medium", "large", "frontier"]
TIERS: tuple[Tier, ...] = ("tiny", "small", "medium", "large", "frontier")
SortKey = Literal["price", "context", "latency", "name"]
Origin = Literal["bundled", "openrouter", "local", "settings", "discovered", "typed"]
"""Where an entry comes from: the bundled file, OpenRouter's list, the embedded models,
the user's ``models:`` settings, a server's ``GET /models``, or an id typed by the user."""

CACHE_FILENAME = "openrouter-models.json"
"""File name of the refreshed OpenRouter list inside :func:`core.paths.cache_dir`."""
CACHE_FORMAT = 1
"""Bumped when the cache layout changes; other formats are ignored with a warning."""
DISCOVERED_FILENAME = "discovered-models.json"
"""What OpenAI-compatible servers listed, per provider, inside :func:`core.paths.cache_dir`."""
DISCOVERED_FORMAT = 1

BUNDLED_RESOURCE = "catalog.yaml"

_NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_PosInt = Annotated[int, Field(gt=0)]


class ModelInfo(BaseModel):
    """What the workbench knows about one model.

    Prices are USD per million tokens; ``None`` means unknown (shown as ``?``), ``0`` means
    genuinely free. Every price carries the date it was true and where it came from, so a
    table can say how stale it is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=3, description="provider:model, e.g. anthropic:claude-sonnet-4-5")
    name: str = Field(min_length=1)
    provider: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    price_in: _NonNegFloat | None = Field(description="USD per million input tokens")
    price_out: _NonNegFloat | None = Field(description="USD per million output tokens")
    context: _PosInt | None = Field(description="context window in tokens (None: unknown)")
    max_output: _PosInt | None = Field(description="most tokens one reply may have")
    tools: bool | None = Field(description="accepts tool definitions and returns tool calls (None: unknown)")
    tier: Tier
    price_date: date
    price_source: str = Field(min_length=1, description="URL or description of the price's origin")
    origin: Origin = "bundled"

    @model_validator(mode="after")
    def _id_names_provider(self) -> ModelInfo:
        provider, _, rest = self.id.partition(":")
        if not rest:
            raise ValueError(f"id {self.id!r} must look like 'provider:model'")
        if provider != self.provider:
            raise ValueError(f"id {self.id!r} does not start with its provider {self.provider!r}")
        return self

    @property
    def api_model(self) -> str:
        """The model name sent on the wire (the id without its ``provider:`` prefix)."""
        return self.id.partition(":")[2]

    @property
    def price_known(self) -> bool:
        return self.price_in is not None and self.price_out is not None

    @property
    def blended_price(self) -> float | None:
        """Input and output price blended 3:1, the usual mix of a coding turn.

        Sorting by input price alone would rank a model with cheap input and very dear
        output first; the blend is what "cheapest" means to a user.
        """
        if self.price_in is None or self.price_out is None:
            return None
        return (3 * self.price_in + self.price_out) / 4


def split_model_id(model_id: str) -> tuple[str, str]:
    """``"openrouter:meta-llama/x"`` -> ``("openrouter", "meta-llama/x")``.

    Raises:
        ValueError: the id has no ``provider:`` prefix.
    """
    provider, sep, rest = model_id.partition(":")
    if not sep or not provider or not rest:
        raise ValueError(f"model id {model_id!r} must look like 'provider:model'")
    return provider, rest


# ---------------------------------------------------------------------------- loading


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[ModelInfo, ...]:
    resource = resources.files("agentic_flow.core.models").joinpath(BUNDLED_RESOURCE)
    where = str(resource)
    try:
        raw = yaml.load(resource.read_text(encoding="utf-8"), Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        raise ConfigError(f"the bundled model catalog is not valid YAML: {exc}", path=where) from exc
    entries = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("the bundled model catalog has no 'models' list", path=where)
    models: list[ModelInfo] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        try:
            info = ModelInfo.model_validate(entry)
        except ValidationError as exc:
            ident = entry.get("id") if isinstance(entry, dict) else None
            raise ConfigError(
                f"bundled model #{index} ({ident or 'no id'}) is invalid: {exc}", path=where, key="models"
            ) from exc
        if info.id in seen:
            raise ConfigError(f"bundled model {info.id} is listed twice", path=where, key="models")
        seen.add(info.id)
        models.append(info)
    return tuple(models)


def _yaml_loader() -> type[yaml.SafeLoader]:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_bundled() -> list[ModelInfo]:
    """The catalog shipped with the package, validated (a bad file is a bug: ConfigError)."""
    return list(_bundled())


@dataclass
class CachedModels:
    """What :func:`read_cache` found: usable models, when they were fetched, and problems."""

    models: list[ModelInfo] = field(default_factory=list)
    fetched_at: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None


def read_cache(path: Path) -> CachedModels:
    """Read the refreshed OpenRouter list; never raises for a bad file.

    A missing file is normal (never refreshed) and gives an empty result with no warning.
    A file that cannot be used at all gives an empty result and one warning; single bad
    entries are skipped and counted in one warning, so one odd model never hides the rest.
    """
    result = CachedModels(path=path)
    fix = "the bundled catalog is used; run `agentic-flow models refresh` to rebuild it"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return result
    except OSError as exc:
        result.warnings.append(f"model cache {path} cannot be read ({exc}); {fix}")
        return result
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        result.warnings.append(f"model cache {path} is not valid JSON ({exc}); {fix}")
        return result
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), list):
        result.warnings.append(f"model cache {path} has no 'models' list; {fix}")
        return result
    if doc.get("format") != CACHE_FORMAT:
        result.warnings.append(
            f"model cache {path} has format {doc.get('format')!r}, expected {CACHE_FORMAT}; {fix}"
        )
        return result
    result.fetched_at = _parse_time(doc.get("fetched_at"))
    source = doc.get("source")
    result.source = source if isinstance(source, str) else None
    bad: list[str] = []
    for index, entry in enumerate(doc["models"]):
        try:
            info = ModelInfo.model_validate(entry)
        except ValidationError as exc:
            ident = entry.get("id") if isinstance(entry, dict) else None
            bad.append(f"{ident or f'#{index}'}: {exc.errors()[0]['msg']}")
            continue
        if info.provider != "openrouter":
            bad.append(f"{info.id}: only openrouter models may come from this cache")
            continue
        result.models.append(info.model_copy(update={"origin": "openrouter"}))
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        result.warnings.append(f"model cache {path}: skipped {len(bad)} invalid entries ({shown})")
    return result


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def merge_models(bundled: Iterable[ModelInfo], refreshed: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Bundled models, with refreshed ``openrouter:*`` entries updating or adding to them.

    A refreshed entry replaces the bundled one's price, context, name and tool flag (it is
    newer and dated), but keeps the bundled ``tier`` — a person chose it, the refresh only
    guesses from price — and the bundled ``max_output`` when OpenRouter does not give one.
    Order: bundled order, then new models in the order the refresh listed them.
    """
    merged: dict[str, ModelInfo] = {m.id: m for m in bundled}
    for new in refreshed:
        if new.provider != "openrouter":
            continue
        old = merged.get(new.id)
        if old is not None:
            new = new.model_copy(
                update={"tier": old.tier, "max_output": new.max_output or old.max_output}
            )
        merged[new.id] = new
    return list(merged.values())


def local_model_entries(models: Iterable[LocalModel] | None = None) -> list[ModelInfo]:
    """Catalog entries of the embedded local models (free: they run on this machine)."""
    return [
        ModelInfo(
            id=m.id,
            name=m.label,
            provider=m.id.partition(":")[0],
            price_in=0,
            price_out=0,
            context=m.context,
            max_output=m.max_output,
            tools=False,
            tier="tiny",
            price_date=date.today(),
            price_source="runs on your machine: no per-token charge",
            origin="local",
        )
        for m in (available_local_models() if models is None else models)
    ]


def settings_model_entries(settings: Settings) -> list[ModelInfo]:
    """The ``models:`` listed under providers in settings, as catalog entries.

    A price left out is unknown (``?``), never free; the tier, when not given, is
    guessed from the output price like OpenRouter-only models'.
    """
    entries = []
    for provider, config in settings.providers.items():
        for model in config.models:
            price_out = model.price_out
            entries.append(
                ModelInfo(
                    id=f"{provider.lower()}:{model.id}",
                    name=model.name or model.id,
                    provider=provider.lower(),
                    price_in=model.price_in,
                    price_out=price_out,
                    context=model.context,
                    max_output=model.max_output,
                    tools=model.tools,
                    tier=model.tier or guess_tier(price_out),
                    price_date=date.today(),
                    price_source=f"your settings (providers.{provider}.models)",
                    origin="settings",
                )
            )
    return entries


def guess_tier(price_out: float | None) -> Tier:
    """A coarse tier for a model only its price is known of (never ``tiny``).

    Only a guess — a hand-picked tier (bundled, or ``tier:`` in settings) wins.
    """
    if price_out is None:
        return "medium"
    if price_out < 1.0:
        return "small"
    if price_out < 5.0:
        return "medium"
    if price_out < 30.0:
        return "large"
    return "frontier"


def read_discovered(path: Path) -> tuple[dict[str, list[ModelInfo]], list[str]]:
    """What servers listed the last time they were asked: models per provider, and problems.

    Like :func:`read_cache`, never raises: a missing file is empty, a bad one is a warning.
    """
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}, []
    except (OSError, orjson.JSONDecodeError) as exc:
        return {}, [f"discovered-model cache {path} cannot be used ({exc}); it is rebuilt on the next look-up"]
    providers = doc.get("providers") if isinstance(doc, dict) and doc.get("format") == DISCOVERED_FORMAT else None
    if not isinstance(providers, dict):
        return {}, [f"discovered-model cache {path} has an unknown layout; it is rebuilt on the next look-up"]
    found: dict[str, list[ModelInfo]] = {}
    skipped = 0
    for provider, entry in providers.items():
        models = entry.get("models") if isinstance(entry, dict) else None
        for raw in models if isinstance(models, list) else []:
            try:
                info = ModelInfo.model_validate(raw)
            except ValidationError:
                skipped += 1
                continue
            if info.provider != provider:
                continue
            if info.price_in is not None or info.price_out is not None:  # older caches said 0 for local servers
                info = info.model_copy(
                    update={"price_in": None, "price_out": None, "tier": guess_tier(None), "price_source": "no price given"}
                )
            found.setdefault(provider, []).append(info.model_copy(update={"origin": "discovered"}))
    warnings = [f"discovered-model cache {path}: skipped {skipped} invalid entries"] if skipped else []
    return found, warnings


# ---------------------------------------------------------------------------- catalog


class ModelCatalog:
    """All known models, looked up by id, searched, sorted and priced.

    Build one with :meth:`load`; the constructor takes ready models (tests, other sources).
    """

    def __init__(
        self,
        models: Iterable[ModelInfo],
        *,
        cache_fetched_at: datetime | None = None,
        cache_path: Path | None = None,
        warnings: Iterable[str] = (),
    ) -> None:
        self._models: dict[str, ModelInfo] = {}
        for info in models:
            self._models[info.id] = info
        self.cache_fetched_at = cache_fetched_at
        """When the OpenRouter entries were fetched; ``None`` when only bundled data is used."""
        self.cache_path = cache_path
        self.warnings: list[str] = list(warnings)
        """Problems met while loading (a malformed cache...), for the UI to show."""

    @classmethod
    def load(cls, cache_dir: Path | str | None = None, *, settings: Settings | None = None) -> ModelCatalog:
        """Bundled catalog merged with the refreshed OpenRouter cache and the local models;
        with ``settings``, also what servers listed (cached) and the user's own models.

        Args:
            cache_dir: folder holding ``openrouter-models.json`` and
                ``discovered-models.json``; defaults to :func:`core.paths.cache_dir`.
            settings: the merged settings; their ``providers.*.models`` win over every
                other source, and servers are only listed for providers still configured.
        """
        directory = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
        cached = read_cache(directory / CACHE_FILENAME)
        warnings = list(cached.warnings)
        usable = bool(cached.models)
        models = merge_models(_bundled(), cached.models) + local_model_entries()
        if settings is not None:
            discovered, problems = read_discovered(directory / DISCOVERED_FILENAME)
            warnings += problems
            known = {m.id for m in models}
            for provider, found in discovered.items():
                if _still_discoverable(provider, settings):
                    models += [m for m in found if m.id not in known]
            models += settings_model_entries(settings)
        for message in warnings:
            logger.warning("%s", message)
        return cls(
            models,
            cache_fetched_at=cached.fetched_at if usable else None,
            cache_path=cached.path if usable else None,
            warnings=warnings,
        )

    def with_models(self, models: Iterable[ModelInfo]) -> ModelCatalog:
        """A copy with ``models`` added; an entry already here (bundled or from settings)
        is kept, so a server's listing never hides a price the user wrote down."""
        added = [m for m in models if m.id not in self._models]
        return ModelCatalog(
            [*self._models.values(), *added],
            cache_fetched_at=self.cache_fetched_at,
            cache_path=self.cache_path,
            warnings=self.warnings,
        )

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def get(self, model_id: str) -> ModelInfo | None:
        """The model with exactly this ``provider:model`` id, or ``None``."""
        return self._models.get(model_id)

    def all(self) -> list[ModelInfo]:
        return list(self._models.values())

    def providers(self) -> list[str]:
        """Provider names in catalog order, each once."""
        return list(dict.fromkeys(m.provider for m in self._models.values()))

    def search(self, text: str) -> list[ModelInfo]:
        """Models whose id, name, provider or tier contain every word of ``text``.

        Case-insensitive; an empty query returns everything. Words are ANDed so
        ``"llama 70b"`` narrows rather than widens.
        """
        words = text.lower().split()
        if not words:
            return self.all()
        found = []
        for info in self._models.values():
            haystack = f"{info.id} {info.name} {info.provider} {info.tier}".lower()
            if all(word in haystack for word in words):
                found.append(info)
        return found

    def sorted_by(
        self,
        key: SortKey,
        latency_of: Callable[[ModelInfo], float | None] | None = None,
        *,
        reverse: bool = False,
        models: Iterable[ModelInfo] | None = None,
    ) -> list[ModelInfo]:
        """The catalog (or ``models``) sorted best first; see :func:`sort_models`."""
        return sort_models(self.all() if models is None else models, key, latency_of, reverse=reverse)

    def cost(self, model: ModelInfo | str, input_tokens: int, output_tokens: int) -> float | None:
        """USD cost of a call; ``None`` when the model or a needed price is unknown."""
        info = self.get(model) if isinstance(model, str) else model
        if info is None:
            return None
        return cost(info, input_tokens, output_tokens)


def _still_discoverable(provider: str, settings: Settings) -> bool:
    """A provider's cached listing counts while it is configured or a keyless preset."""
    preset = PRESETS.get(provider)
    return provider in {p.lower() for p in settings.providers} or (preset is not None and preset.key_env is None)


def sort_models(
    models: Iterable[ModelInfo],
    key: SortKey,
    latency_of: Callable[[ModelInfo], float | None] | None = None,
    *,
    reverse: bool = False,
) -> list[ModelInfo]:
    """Sort best first: cheapest (3:1 blended price), largest context, fastest, A to Z.

    Models whose value is unknown (no price, no latency) always go last, in id order, also
    when ``reverse`` is set — an unknown price must never pass for the cheapest. Ties keep
    a stable id order so tables do not shuffle between refreshes.

    Args:
        key: ``price``, ``context``, ``latency`` or ``name``.
        latency_of: seconds (e.g. time to first token) for a model, or ``None`` when not
            measured; required for ``latency``.
        reverse: worst first instead.

    Raises:
        ValueError: unknown key, or ``latency`` without ``latency_of``.
    """
    value: Callable[[ModelInfo], Any]
    if key == "price":
        value = lambda m: m.blended_price  # noqa: E731
    elif key == "context":
        value = lambda m: -m.context if m.context is not None else None  # noqa: E731 - largest first
    elif key == "name":
        value = lambda m: m.name.casefold()  # noqa: E731
    elif key == "latency":
        if latency_of is None:
            raise ValueError("sorting by latency needs latency_of (seconds per model, or None)")
        value = latency_of
    else:
        raise ValueError(f"cannot sort models by {key!r}; use price, context, latency or name")
    known: list[tuple[Any, ModelInfo]] = []
    unknown: list[ModelInfo] = []
    for info in models:
        v = value(info)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            unknown.append(info)
        else:
            known.append((v, info))
    known.sort(key=lambda pair: pair[1].id)
    known.sort(key=lambda pair: pair[0], reverse=reverse)
    unknown.sort(key=lambda m: m.id)
    return [info for _, info in known] + unknown


# ---------------------------------------------------------------------------- money


def cost(
    model: ModelInfo | str,
    input_tokens: int,
    output_tokens: int,
    *,
    catalog: ModelCatalog | None = None,
) -> float | None:
    """USD cost of ``input_tokens`` in and ``output_tokens`` out.

    ``None`` when a price that is needed is unknown (a price that is not needed — output
    price for zero output tokens — does not matter), or when a model id is not in the
    catalog. An id is looked up in ``catalog``, or in a freshly loaded one.

    Raises:
        ValueError: a negative token count.
    """
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    if isinstance(model, str):
        info = (catalog or ModelCatalog.load()).get(model)
        if info is None:
            return None
    else:
        info = model
    total = 0.0
    for tokens, price in ((input_tokens, info.price_in), (output_tokens, info.price_out)):
        if tokens == 0:
            continue
        if price is None:
            return None
        total += tokens * price / 1_000_000
    return total


def _money(amount: float) -> str:
    if amount == 0:
        return "$0.00"
    if amount >= 0.1:
        return f"${amount:,.2f}"
    # Small amounts keep two significant digits: $0.02, $0.038, $0.00015.
    decimals = max(2, 1 - math.floor(math.log10(amount)))
    text = f"{amount:.{decimals}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${whole}.{frac}"


def format_price(price: float | None) -> str:
    """A per-million price for a table: ``?`` when unknown, ``$0.15``, ``$15.00``, ``$0.038``."""
    return "?" if price is None else _money(price)


def format_cost(amount: float | None) -> str:
    """A call's cost: ``?`` when unknown; small costs keep two significant digits."""
    return "?" if amount is None else _money(amount)


def format_context(tokens: int | None) -> str:
    """``131072`` -> ``128K``, ``200000`` -> ``200K``, ``1048576`` and ``1047576`` -> ``1M``.

    Round decimal numbers stay decimal (128000 -> 128K); power-of-two multiples are shown
    in binary K, as vendors quote them (131072 -> 128K); anything else in decimal.
    """
    if tokens is None:
        return "?"
    if tokens >= 1_000_000:
        # Within 1% of a whole binary million (1,047,576 and 1,048,576 are both "1M", as
        # vendors say): binary; else decimal. Never a smaller window shown as the larger.
        binary = tokens / 1_048_576
        value = round(binary) if round(binary) >= 1 and abs(binary - round(binary)) < 0.01 else tokens / 1_000_000
        return f"{value:.2f}".rstrip("0").rstrip(".") + "M"
    base = 1024 if tokens % 1000 != 0 and tokens % 1024 == 0 else 1000
    if tokens >= base:
        value = tokens / base
        return f"{value:.1f}".rstrip("0").rstrip(".") + "K"
    return str(tokens)


def format_tools(tools: bool | None) -> str:
    """``yes``, ``no``, or ``?`` when a server did not say."""
    return "?" if tools is None else ("yes" if tools else "no")


def format_latency(seconds: float | None) -> str:
    """``0.42`` -> ``420 ms``, ``2.5`` -> ``2.50 s``; ``?`` when not measured."""
    if seconds is None:
        return "?"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


# ---------------------------------------------------------------------------- table


def catalog_columns(*, with_cost: bool = False, with_latency: bool = False) -> list[str]:
    """Column titles matching the keys of :func:`catalog_rows`, in display order."""
    columns = ["Model", "Name", "In $/M", "Out $/M", "Context", "Max out", "Tools", "Tier"]
    if with_latency:
        columns.append("Latency")
    if with_cost:
        columns.append("Est. cost")
    columns.append("Price as of")
    return columns


def catalog_rows(
    models: Iterable[ModelInfo],
    *,
    input_tokens: int | None = None,
    output_tokens: int = 0,
    latency_of: Callable[[ModelInfo], float | None] | None = None,
) -> list[dict[str, str]]:
    """One dict of display strings per model, keyed by :func:`catalog_columns`.

    Args:
        input_tokens: when given, adds ``Est. cost`` for this many input tokens plus
            ``output_tokens`` out (e.g. the current prompt and an expected reply).
        latency_of: when given, adds ``Latency`` (seconds, ``None`` shown as ``?``). The
            caller labels its source (published or measured) in the table title.
    """
    rows = []
    for info in models:
        row = {
            "Model": info.id,
            "Name": info.name,
            "In $/M": format_price(info.price_in),
            "Out $/M": format_price(info.price_out),
            "Context": format_context(info.context),
            "Max out": format_context(info.max_output),
            "Tools": format_tools(info.tools),
            "Tier": info.tier,
        }
        if latency_of is not None:
            row["Latency"] = format_latency(latency_of(info))
        if input_tokens is not None:
            row["Est. cost"] = format_cost(cost(info, input_tokens, output_tokens))
        row["Price as of"] = info.price_date.isoformat()
        rows.append(row)
    return rows

