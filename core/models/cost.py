"""Monthly cost projection: "what would 10M tokens a month cost me?".

From catalog prices (each with the date it was true): a volume of tokens a month split
into input and output by ``input_share``, costed per model and for a mix of models.
From history (``--from-history``): the user's own stored usage (``Store.usage_totals``)
gives the real input share and the per-model mix, each model with its own input share,
and — when no volume is given — the volume itself (the last ``days`` scaled to 30). It
also breaks the window's usage down per agent and model (subagents apart), costed at
catalog prices, next to what the same tokens would have cost all on the priciest model
used: the real hybrid mix against the all-strong-model figure.

Parsing is strict: ``10M``, ``500k``, ``1.5B``, ``2,000,000`` and plain integers are
volumes; anything else is a :class:`ValueError` whose message shows the accepted forms.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo, cost

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = [
    "DEFAULT_INPUT_SHARE",
    "MONTH_DAYS",
    "parse_tokens",
    "parse_share",
    "parse_mix",
    "CostLine",
    "AgentLine",
    "AgentBreakdown",
    "History",
    "Projection",
    "project",
    "read_history",
    "project_from_history",
]

DEFAULT_INPUT_SHARE = 0.7
"""Typical of coding agents: long prompts and tool results in, shorter answers out."""
MONTH_DAYS = 30

_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000, "g": 1_000_000_000}
_TOKENS_RE = re.compile(r"^\s*(\d+(?:[.,_]\d+)*|\d*\.\d+)\s*([kmbg]?)\s*(?:tokens?|tok)?\s*$", re.IGNORECASE)


def parse_tokens(text: str) -> int:
    """``"10M"`` → 10,000,000; ``"500k"``, ``"1.5B"``, ``"2,000,000"``, ``"1_000"``, ``"42"``."""
    match = _TOKENS_RE.match(str(text))
    bad = ValueError(
        f"cannot read {text!r} as a number of tokens; write e.g. 10M, 500k, 1.5B or 2000000"
    )
    if match is None:
        raise bad
    number, suffix = match.group(1), match.group(2).lower()
    if "," in number or "_" in number:
        groups = re.split(r"[,_]", number)
        if any(len(g) != 3 for g in groups[1:]) or "." in number:
            raise bad
        number = "".join(groups)
    try:
        value = float(number) * _SUFFIX[suffix]
    except ValueError:
        raise bad from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"the number of tokens must be more than 0 (got {text!r})")
    if not value.is_integer() and (not suffix or value < 1):
        raise ValueError(f"{text!r} is not a whole number of tokens; write e.g. 1500 or 1.5k")
    return int(round(value))


def parse_share(text: str | float, what: str = "--input-share") -> float:
    """A fraction in [0, 1]: ``0.7`` or ``70%``."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(
            f"{what} must be a number between 0 and 1 (like 0.7) or a percentage (70%), not {text!r}"
        ) from None
    if not 0 <= value <= 1 or math.isnan(value):
        raise ValueError(f"{what} must be between 0 and 1 (or 0% and 100%), not {text!r}")
    return value


def parse_mix(text: str, catalog: ModelCatalog | None = None) -> dict[str, float]:
    """``"a:x=0.3,b:y=0.7"`` (or ``30%``) → shares that must add up to 1 (±0.001).

    With a catalog, every model must be in it (its price is the only price known).
    """
    mix: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        model, sep, share = item.rpartition("=")
        model = model.strip()
        if not sep or not model:
            raise ValueError(f"--mix entry {item!r} must look like PROVIDER:MODEL=SHARE, e.g. openai:gpt-4o-mini=0.7")
        if model in mix:
            raise ValueError(f"--mix names {model} twice")
        if catalog is not None and catalog.get(model) is None:
            close = difflib.get_close_matches(model, [m.id for m in catalog], n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(close)}?" if close else "; `agentic-flow models` lists them"
            raise ValueError(f"--mix: {model} is not in the model catalog, so its price is unknown{hint}")
        mix[model] = parse_share(share, f"--mix share of {model}")
    if not mix:
        raise ValueError(
            '--mix is empty; write e.g. "anthropic:claude-sonnet-4-5=0.3,openrouter:deepseek/deepseek-chat=0.7"'
        )
    total = sum(mix.values())
    if abs(total - 1) > 0.001:
        raise ValueError(f"--mix shares add up to {total:g}; they must add up to 1 (or 100%)")
    return mix


@dataclass(frozen=True)
class CostLine:
    """One model's part of the projection. ``monthly`` is None when a needed price is unknown."""

    model_id: str
    input_tokens: int
    output_tokens: int
    monthly: float | None
    share: float = 1.0
    info: ModelInfo | None = None

    @property
    def price_date(self) -> str | None:
        return self.info.price_date.isoformat() if self.info else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "share": self.share,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "monthly_usd": self.monthly,
            "price_in": self.info.price_in if self.info else None,
            "price_out": self.info.price_out if self.info else None,
            "price_date": self.price_date,
            "price_source": self.info.price_source if self.info else None,
        }


@dataclass(frozen=True)
class AgentLine:
    """One agent's tokens on one model over the window; ``cost`` at catalog prices (None: unknown)."""

    agent: str
    subagent: bool
    model_id: str
    turns: int
    input_tokens: int
    output_tokens: int
    cost: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "subagent": self.subagent,
            "model": self.model_id,
            "turns": self.turns,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost,
        }


@dataclass(frozen=True)
class AgentBreakdown:
    """The window's usage per agent and model, and the same tokens on the priciest model used."""

    lines: list[AgentLine]
    strongest: str | None
    all_strongest: float | None

    @property
    def total(self) -> float | None:
        if not self.lines or any(line.cost is None for line in self.lines):
            return None
        return sum(line.cost for line in self.lines if line.cost is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agents": [line.to_dict() for line in self.lines],
            "total_usd": self.total,
            "strongest_model": self.strongest,
            "all_on_strongest_usd": self.all_strongest,
        }


def agent_breakdown(store: "Store", days: int | None, catalog: ModelCatalog) -> AgentBreakdown:
    """Usage per agent and model over the last ``days``, costed at catalog prices."""
    since = None if days is None else datetime.now(timezone.utc) - timedelta(days=days)
    lines: list[AgentLine] = []
    for row in store.usage_by_agent(since=since):
        u = row.usage
        info = catalog.get(u.model)
        lines.append(
            AgentLine(
                row.agent or "(no agent)", row.subagent, u.model, u.turns, u.input_tokens, u.output_tokens,
                None if info is None else cost(info, u.input_tokens, u.output_tokens),
            )
        )
    priced = [(catalog.get(line.model_id), line.model_id) for line in lines]
    known = [(info, model) for info, model in priced if info is not None and info.price_known]
    if not known:
        return AgentBreakdown(lines, None, None)
    info, strongest = max(known, key=lambda pair: ((pair[0].price_in or 0) + (pair[0].price_out or 0), pair[1]))
    tin = sum(line.input_tokens for line in lines)
    tout = sum(line.output_tokens for line in lines)
    return AgentBreakdown(lines, strongest, cost(info, tin, tout))


@dataclass(frozen=True)
class History:
    """Stored usage over a window: per model ``(input, output)`` tokens."""

    usage: dict[str, tuple[int, int]]
    days: int | None

    @property
    def total(self) -> int:
        return sum(i + o for i, o in self.usage.values())

    @property
    def input_share(self) -> float | None:
        total = self.total
        return None if total == 0 else sum(i for i, _ in self.usage.values()) / total

    @property
    def mix(self) -> dict[str, float]:
        total = self.total
        return {m: (i + o) / total for m, (i, o) in self.usage.items() if i + o} if total else {}

    def monthly_tokens(self) -> int | None:
        if self.days is None or self.total == 0:
            return None
        return round(self.total * MONTH_DAYS / self.days)


@dataclass
class Projection:
    """Monthly cost per model (each taking all the volume) and for the mix."""

    tokens: int
    input_share: float
    lines: list[CostLine]
    mix: list[CostLine] = field(default_factory=list)
    source: str = "catalog prices"
    history: History | None = None
    notes: list[str] = field(default_factory=list)
    agents: AgentBreakdown | None = None

    @property
    def mix_total(self) -> float | None:
        if not self.mix or any(line.monthly is None for line in self.mix):
            return None
        return sum(line.monthly for line in self.mix if line.monthly is not None)

    def price_dates(self) -> tuple[str, str] | None:
        dates = sorted({line.price_date for line in self.lines + self.mix if line.price_date})
        return (dates[0], dates[-1]) if dates else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens_per_month": self.tokens,
            "input_share": self.input_share,
            "source": self.source,
            "models": [line.to_dict() for line in self.lines],
            "mix": [line.to_dict() for line in self.mix] or None,
            "mix_monthly_usd": self.mix_total,
            "history_days": self.history.days if self.history else None,
            "by_agent": self.agents.to_dict() if self.agents is not None else None,
            "notes": self.notes,
        }


def _line(catalog: ModelCatalog, model_id: str, tokens: float, input_share: float, share: float = 1.0) -> CostLine:
    tin = round(tokens * share * input_share)
    tout = round(tokens * share) - tin
    info = catalog.get(model_id)
    monthly = None if info is None else cost(info, tin, tout)
    return CostLine(model_id, tin, tout, monthly, share, info)


def _sorted(lines: list[CostLine]) -> list[CostLine]:
    return sorted(lines, key=lambda c: (c.monthly is None, c.monthly or 0.0, c.model_id))


def project(
    tokens: int,
    *,
    input_share: float = DEFAULT_INPUT_SHARE,
    catalog: ModelCatalog | None = None,
    models: list[str] | None = None,
    mix: dict[str, float] | None = None,
) -> Projection:
    """``tokens`` a month, ``input_share`` of them input, on each model and on ``mix``.

    ``models`` defaults to the mix's models, else every catalog model with a known price.
    """
    if tokens <= 0:
        raise ValueError("the number of tokens must be more than 0")
    parse_share(input_share)
    catalog = catalog or ModelCatalog.load()
    if models is None:
        models = list(mix) if mix else [m.id for m in catalog if m.price_known]
    lines = _sorted([_line(catalog, m, tokens, input_share) for m in models])
    mix_lines = [_line(catalog, m, tokens, input_share, share) for m, share in (mix or {}).items()]
    notes = [f"{line.model_id}: price unknown (?)" for line in lines if line.monthly is None]
    return Projection(tokens, input_share, lines, mix_lines, notes=notes)


def read_history(store: "Store", days: int | None = MONTH_DAYS) -> History:
    """Usage of the last ``days`` (all of it when None) from the store's turns."""
    since = None if days is None else datetime.now(timezone.utc) - timedelta(days=days)
    return History(store.usage_totals(since=since), days)


def project_from_history(
    store: "Store",
    *,
    tokens: int | None = None,
    days: int | None = MONTH_DAYS,
    input_share: float | None = None,
    mix: dict[str, float] | None = None,
    catalog: ModelCatalog | None = None,
) -> Projection:
    """The projection from the user's own usage.

    Volume: ``tokens``, else the window's usage scaled to 30 days. Input share and mix:
    as stored (each model keeps its own input share), unless given explicitly.
    """
    catalog = catalog or ModelCatalog.load()
    history = read_history(store, days)
    if history.total == 0:
        window = f"in the last {days} days" if days is not None else "at all"
        raise ValueError(
            f"no stored usage {window}: run some tasks first, or drop --from-history and give --tokens"
        )
    volume = tokens or history.monthly_tokens() or history.total
    share = input_share if input_share is not None else history.input_share
    assert share is not None
    notes = []
    if tokens is None:
        notes.append(f"volume: {history.total:,} tokens in the last {days} days, scaled to {MONTH_DAYS} days")
    lines = _sorted([_line(catalog, m, volume, share) for m in history.usage])
    if mix is not None:
        mix_lines = [_line(catalog, m, volume, share, s) for m, s in mix.items()]
    else:
        mix_lines = []
        for m, s in history.mix.items():
            i, o = history.usage[m]
            own = input_share if input_share is not None else i / (i + o)
            mix_lines.append(_line(catalog, m, volume, own, s))
    notes += [f"{line.model_id}: not in the catalog, price unknown (?)" for line in lines if line.info is None]
    return Projection(
        volume, share, lines, mix_lines, source="your stored usage", history=history, notes=notes,
        agents=agent_breakdown(store, days, catalog),
    )
