"""``--model auto``: an explainable choice of model for a task.

Not a keyword lookup over a price table: every usable catalog model gets a score made
of named parts, and the explanation prints them.

1. **Task features** (:func:`task_features`): length in tokens, code signals, design and
   debugging keywords, steps, whether the agent offers tools, and from those the
   context and the tokens a run is expected to need. Each feature that raises the
   task's complexity is recorded with its points; the complexity gives the quality
   *tier* the task needs (small < medium < large < frontier; tiny base models are
   never enough on their own).
2. **Hard limits** remove models, each with its reason: provider not usable (no key;
   a local server that is not there), the settings' ``router`` policy (``local_only``,
   ``min_tier``, ``budget_per_task`` against the estimated cost of the task), no tool
   support when the agent needs tools, a context window smaller than the task needs.
3. **Score** of the rest, higher is better::

       - quality  x tiers below the need       (too weak costs most)
       - overkill x tiers above the need       (paying for capability not needed)
       - cost     x log10(1 + est. cost / $0.001)
       - latency  x log2(1 + expected seconds)  (measured TTFT + output / tokens-per-s)
       + preferred                              (provider in preferred_providers)
       + reliability x (measured success - average)   (only once calibrated)
       + evals x (eval pass rate on this task type - 0.5)   (models with eval evidence)

   Latency comes from the user's own runs in the store (p50); a model not measured is
   given the median of those measured (it neither wins nor loses on latency).
4. **Calibration** (:mod:`core.routing_weights`, ``agentic-flow route calibrate``)
   reads stored comparison results: how much more often higher tiers succeeded
   (finished, code checks passed) scales the quality weight, and each model's measured
   success rate becomes its reliability term. The weights are written to
   ``data_dir()/router-weights.json``; the explanation says whether they were used.
5. **Eval evidence** (also from ``route calibrate``): stored eval cells grouped by task
   type (:func:`task_type_of`: design, debug, code, general — or a suite's ``type:``).
   For a task of a type with evidence, a model *proven* on it (≥ 80 % of ≥ 2 cells
   passed) has its tier gap waived, so the cheapest proven model wins unless a limit
   excludes it; ``route --explain`` names the eval runs and pass counts it used.
"""

from __future__ import annotations

import math
import re
import socket
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from agentic_flow.core.config import LoadedSettings, RouterPolicy, Settings
from agentic_flow.core.errors import UnknownModel
from agentic_flow.core.models.catalog import (
    ModelCatalog,
    ModelInfo,
    Tier,
    cost,
    format_context,
    format_cost,
)
from agentic_flow.core.models.tokens import count_tokens
from agentic_flow.core.routing.weights import (
    DEFAULT_WEIGHTS,
    TIER_INDEX,
    WEIGHTS_FILE,
    Calibration,
    CalibrationError,
    EvalEvidence,
    Weights,
    calibrate,
    load_calibration,
    weights_path,
)

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.store.database import LatencyStats, Store

__all__ = [
    "Weights",
    "DEFAULT_WEIGHTS",
    "WEIGHTS_FILE",
    "TaskFeatures",
    "ProviderAccess",
    "Candidate",
    "Excluded",
    "Calibration",
    "EvalEvidence",
    "RouteDecision",
    "NoModelAvailable",
    "CalibrationError",
    "task_features",
    "task_type_of",
    "TASK_TYPES",
    "provider_access",
    "route",
    "choose_auto",
    "calibrate",
    "load_calibration",
    "weights_path",
]

TOOL_SCHEMA_TOKENS = 1500
"""Tokens the built-in tool definitions add to every request (measured order of magnitude)."""
TURN_GROWTH_TOKENS = 2000
"""Tokens each further agent turn adds to the conversation (tool results, earlier answers)."""
UNKNOWN_PRICE_COST = 3.0
"""Cost term (in decades) for a model whose price is unknown: treated as expensive."""
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}




# --------------------------------------------------------------------------- features

_CODE = [
    ("code block", r"```"),
    ("inline code", r"`[^`\n]+`"),
    (
        "code words",
        r"\b(?:function|method|class|def|implement\w*|refactor\w*|code|script|snippet|regex|unit tests?|compile\w*)\b",
    ),
    (
        "a language",
        r"\b(?:python|javascript|typescript|rust|golang|java|kotlin|swift|c\+\+|c#|ruby|php|sql|bash|html|css)\b",
    ),
    ("file names", r"\b[\w./-]+\.(?:py|js|ts|tsx|rs|go|java|c|cpp|h|rb|php|sh|sql|json|ya?ml|toml)\b"),
]
_DESIGN = (
    r"\b(?:architect\w*|system design|design\w*|scal(?:able|ability|e out)|trade-?offs?|micro-?services?|distributed|"
    r"schema|data model|api design|migrat\w+|concurren\w+|consisten\w+|fault[- ]toleran\w+|high availability|"
    r"event sourcing|protocol|sharding|replication|caching strategy|load balanc\w+)\b"
)
_DEBUG = (
    r"\b(?:debug\w*|bugs?|errors?|exceptions?|traceback|stack ?trace|crash\w*|segfault|fail(?:s|ing|ure)?|broken|"
    r"regression|race conditions?|deadlocks?|memory leaks?|leak\w*|flaky|hangs?|not working|doesn'?t work|fix\w*)\b"
)
_STEPS = r"(?m)^\s*(?:\d+[.)]|[-*])\s+\S|\b(?:then|after that|finally|step \d+)\b"


@dataclass(frozen=True)
class TaskFeatures:
    """What the task asks for, and the tier it needs (``drivers`` say why)."""

    chars: int
    tokens: int
    code: tuple[str, ...]
    design: tuple[str, ...]
    debug: tuple[str, ...]
    steps: int
    tools: bool
    tools_note: str
    system_tokens: int
    turns: int
    input_tokens: int
    output_tokens: int
    context_needed: int
    complexity: int
    need_tier: Tier
    drivers: tuple[str, ...]

    def describe(self) -> str:
        parts = [f"{self.tokens} tokens"]
        if self.code:
            parts.append("code (" + ", ".join(self.code) + ")")
        if self.design:
            parts.append("design: " + ", ".join(self.design))
        if self.debug:
            parts.append("debugging: " + ", ".join(self.debug))
        if self.steps >= 2:
            parts.append(f"{self.steps} steps")
        parts.append(f"tools: {self.tools_note}")
        parts.append(f"context ~{format_context(self.context_needed)} tokens over ~{self.turns} turn(s)")
        return " · ".join(parts)


def _found(pattern: str, text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(0).lower() for m in re.finditer(pattern, text, re.IGNORECASE)))


def _tier_for(complexity: int) -> Tier:
    # Never "tiny": tiny models (a 270M base model) are not instruction-tuned; they are
    # there to answer offline, and win only when nothing else is allowed or usable.
    if complexity <= 1:
        return "small"
    if complexity == 2:
        return "medium"
    if complexity <= 4:
        return "large"
    return "frontier"


def task_features(task: str, agent: "Agent | None" = None, *, tools: bool | None = None) -> TaskFeatures:
    """Features of ``task`` run by ``agent`` (its prompt and tools count).

    ``tools`` overrides the agent (``False`` for ``--no-tools``). An agent whose
    ``tools`` list is absent offers every tool; an empty list offers none.
    """

    tokens = count_tokens(task)
    system_tokens = count_tokens(agent.prompt) if agent is not None and agent.prompt else 0
    if tools is None:
        tools = agent is not None and (agent.tools is None or len(agent.tools) > 0)
        if agent is None:
            note = "none (no agent)"
        elif agent.tools is None:
            note = f"all tools (agent {agent.name})"
        else:
            note = f"{', '.join(agent.tools) or 'none'} (agent {agent.name})"
    else:
        note = "requested" if tools else "none (--no-tools)"
    code = tuple(label for label, pattern in _CODE if re.search(pattern, task, re.IGNORECASE))
    design = _found(_DESIGN, task)
    debug = _found(_DEBUG, task)
    steps = len(re.findall(_STEPS, task, re.IGNORECASE))
    points = 0
    drivers: list[str] = []

    def add(n: int, why: str) -> None:
        nonlocal points
        points += n
        drivers.append(f"{why} (+{n})")

    if tokens >= 2000:
        add(2, f"long task ({tokens} tokens)")
    elif tokens >= 400:
        add(1, f"longer task ({tokens} tokens)")
    if code:
        add(1, "code: " + ", ".join(code))
    if len(design) >= 3:
        add(3, "design: " + ", ".join(design))
    elif design:
        add(2, "design: " + ", ".join(design))
    if debug:
        add(1, "debugging: " + ", ".join(debug))
    if steps >= 2:
        add(1, f"{steps} steps")
    if tools:
        add(1, "tools requested")
    output = 200 + (600 if code else 0) + (1500 if design else 0) + (400 if debug else 0) + (300 if steps >= 2 else 0)
    turns = 1 if not tools else (3 if points < 3 else 6)
    base = tokens + system_tokens + (TOOL_SCHEMA_TOKENS if tools else 0) + 10
    input_total = turns * base + TURN_GROWTH_TOKENS * turns * (turns - 1) // 2
    context = base + (turns - 1) * TURN_GROWTH_TOKENS + output
    return TaskFeatures(
        chars=len(task),
        tokens=tokens,
        code=code,
        design=design,
        debug=debug,
        steps=steps,
        tools=bool(tools),
        tools_note=note,
        system_tokens=system_tokens,
        turns=turns,
        input_tokens=input_total,
        output_tokens=output * turns if tools else output,
        context_needed=context,
        complexity=points,
        need_tier=_tier_for(points),
        drivers=tuple(drivers) or ("short, no code, design, debugging or tools (0)",),
    )


TASK_TYPES = ("design", "debug", "code", "general")
"""Kinds of task eval evidence is grouped by (an eval task may name its own ``type:``)."""


def task_type_of(task: str, agent: "Agent | None" = None) -> str:
    """The kind of task: ``design``, ``debug``, ``code`` or ``general``, from its features."""
    features = task_features(task, agent)
    if features.design:
        return "design"
    if features.debug:
        return "debug"
    if features.code:
        return "code"
    return "general"


# --------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderAccess:
    """Whether a provider can be called now; ``local`` when it runs on this machine."""

    usable: bool
    local: bool
    note: str


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def provider_access(
    provider: str, settings: Settings, *, probe: Callable[[str, int], bool] | None = _tcp_open
) -> ProviderAccess:
    """Key set (``key_status``), or local and there.

    A keyless provider on this machine (Ollama, llama.cpp, vLLM, LM Studio presets) is
    usable when it is configured under ``providers:`` in settings or its port answers
    (``probe``; None skips the check); the embedded ``local`` model when its extra is
    installed.
    """
    # lazy: `route` explains a choice without loading httpx
    from agentic_flow.core.providers.registry import key_status, resolve_provider_config

    if provider == "local":
        # lazy: `route` explains a choice without loading httpx
        from agentic_flow.core.local.server import local_status

        hint = local_status()
        return ProviderAccess(hint is None, True, "embedded local model" if hint is None else hint)
    try:
        config = resolve_provider_config(provider, settings)
    except UnknownModel as exc:
        return ProviderAccess(False, False, str(exc))
    parts = urlsplit(config.base_url)
    host = parts.hostname or ""
    local = not config.needs_key and host in _LOCAL_HOSTS
    missing = key_status(provider, settings)
    if missing is not None:
        return ProviderAccess(False, local, missing)
    if not local:
        return ProviderAccess(True, False, "key set" if config.needs_key else "no key needed")
    if provider in settings.providers:
        return ProviderAccess(True, True, f"configured local server {config.base_url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if probe is None or probe(host, port):
        return ProviderAccess(True, True, f"local server at {host}:{port}")
    return ProviderAccess(False, True, f"no server answering at {host}:{port}")


# --------------------------------------------------------------------------- scoring


@dataclass
class Candidate:
    """A usable model with its score, the parts of the score and the reasons behind them."""

    model: ModelInfo
    score: float
    parts: dict[str, float]
    reasons: list[str]
    est_cost: float | None
    latency_s: float | None

    @property
    def id(self) -> str:
        return self.model.id


@dataclass(frozen=True)
class Excluded:
    model_id: str
    reason: str
    kind: str


_PART_LABELS = {
    "quality": "tier fit",
    "overkill": "overkill",
    "cost": "cost",
    "latency": "latency",
    "preferred": "preferred provider",
    "reliability": "measured reliability",
    "evals": "eval evidence",
}


@dataclass
class RouteDecision:
    """The chosen model (or why there is none), ranked alternatives and exclusions."""

    features: TaskFeatures
    policy: RouterPolicy
    weights: Weights
    ranked: list[Candidate]
    excluded: list[Excluded]
    calibration: Calibration | None = None
    warnings: list[str] = field(default_factory=list)
    task_type: str = "general"
    evidence: dict[str, EvalEvidence] = field(default_factory=dict)
    """Eval evidence for this task type, per model (from ``route calibrate``)."""

    @property
    def chosen(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    @property
    def model_id(self) -> str | None:
        return self.chosen.id if self.chosen else None

    @property
    def alternatives(self) -> list[Candidate]:
        return self.ranked[1:]

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def margin(self) -> tuple[str, float] | None:
        """The part of the score that most separates the choice from the runner-up."""
        if len(self.ranked) < 2:
            return None
        a, b = self.ranked[0], self.ranked[1]
        diffs = {k: a.parts.get(k, 0.0) - b.parts.get(k, 0.0) for k in set(a.parts) | set(b.parts)}
        key = max(diffs, key=lambda k: diffs[k])
        return (key, diffs[key]) if diffs[key] > 0 else None

    def deciding(self) -> list[str]:
        """The features and limits that decided, most important first."""
        f = self.features
        out = [f"needs tier {f.need_tier}: " + "; ".join(f.drivers)]
        kinds: dict[str, int] = {}
        for e in self.excluded:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        if kinds.get("tools"):
            out.append(f"tools requested ({f.tools_note}): {kinds['tools']} model(s) without tool support excluded")
        if kinds.get("context"):
            out.append(f"context ~{format_context(f.context_needed)} tokens: {kinds['context']} model(s) too small")
        for kind, label in (("budget", "budget_per_task"), ("min_tier", "min_tier"), ("local_only", "local_only")):
            if kinds.get(kind):
                out.append(f"policy {label}: {kinds[kind]} model(s) excluded")
        chosen = self.chosen
        if chosen is not None and TIER_INDEX[chosen.model.tier] < TIER_INDEX[f.need_tier]:
            out.append(
                f"no usable model within the limits reaches tier {f.need_tier}: "
                f"{chosen.id} ({chosen.model.tier}) is the best fit left"
            )
        if self.evidence:
            runs = sorted({i for e in self.evidence.values() for i in e.eval_ids})
            proven = [m for m, e in self.evidence.items() if e.proven]
            line = (
                f"eval evidence for '{self.task_type}' tasks (eval run(s) {', '.join(runs) or '?'}): "
                f"{len(self.evidence)} model(s) tried, {len(proven)} proven"
            )
            chosen_ev = self.evidence.get(chosen.id) if chosen is not None else None
            if chosen is not None and chosen_ev is not None:
                line += f"; {chosen.id} passed {chosen_ev.passed}/{chosen_ev.cells}"
            out.append(line)
        margin = self.margin()
        if margin is not None:
            out.append(
                f"{self.ranked[0].id} beat {self.ranked[1].id} mainly on {_PART_LABELS[margin[0]]} (+{margin[1]:.2f})"
            )
        return out

    @property
    def reason(self) -> str:
        """One line for "using MODEL (reason)"."""
        if self.chosen is None:
            return self.message()
        c = self.chosen
        cal = "calibrated" if self.calibrated else "default weights"
        return (
            f"--model auto: task needs tier {self.features.need_tier}; {c.id} is tier {c.model.tier}, "
            f"est. {format_cost(c.est_cost)}/task ({cal}; `agentic-flow route --explain` says why)"
        )

    def message(self) -> str:
        """Why nothing could be chosen, and what to do."""
        if self.chosen is not None:
            return f"chose {self.chosen.id}"
        if not self.excluded:
            return "no model can be chosen: the model catalog is empty"
        kinds: dict[str, list[Excluded]] = {}
        for e in self.excluded:
            kinds.setdefault(e.kind, []).append(e)
        parts = [f"{len(v)} {_KIND_LABELS[k]}" for k, v in sorted(kinds.items(), key=lambda kv: -len(kv[1]))]
        fixes = []
        if "access" in kinds:
            unlocks: dict[str, int] = {}
            for e in kinds["access"]:
                if e.reason.startswith("set "):
                    unlocks[e.reason] = unlocks.get(e.reason, 0) + 1
            keys = sorted(unlocks, key=lambda k: (-unlocks[k], k))[:3]
            fixes.append("set an API key" + (f" ({', '.join(k.removeprefix('set ') for k in keys)})" if keys else ""))
        if {"budget", "min_tier", "local_only"} & set(kinds):
            fixes.append("relax router: budget_per_task / min_tier / local_only in your config")
        fixes.append("or pass --model PROVIDER:MODEL")
        return (
            f"no model can be chosen for this task: all {len(self.excluded)} catalog models were excluded "
            f"({', '.join(parts)}). To fix: " + "; ".join(fixes)
        )

    def explain(self, top: int = 3, *, all_excluded: bool = False) -> str:
        """The choice, the top alternatives with the reason each lost, and the deciding features."""
        f = self.features
        p = self.policy
        lines = []
        if self.chosen is None:
            lines.append(self.message())
        else:
            lines.append(f"choice: {self.chosen.id}  (score {self.chosen.score:+.2f})")
        lines.append(f"task: {f.describe()}")
        lines.append("deciding:")
        lines += [f"  - {d}" for d in self.deciding()]
        policy = [
            f"budget {format_cost(p.budget_per_task)}/task" if p.budget_per_task is not None else "no budget",
            f"min tier {p.min_tier}" if p.min_tier else "no min tier",
            f"preferred {', '.join(p.preferred_providers)}" if p.preferred_providers else "no preferred providers",
            "local only" if p.local_only else "local and remote",
        ]
        lines.append("policy: " + " · ".join(policy))
        if self.calibration is not None:
            c = self.calibration
            evals = f" and {c.eval_cells} eval cell(s)" if c.eval_cells else ""
            lines.append(
                f"weights: calibrated {c.calibrated_at} from {c.samples} runs in {c.comparisons} comparison(s){evals}"
                + (f" — {c.notes[0]}" if c.notes else "")
            )
        else:
            lines.append("weights: defaults, not calibrated (run `agentic-flow route calibrate` after some compares)")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.chosen is not None:
            lines.append("")
            lines.append(f"1. {self.chosen.id}  score {self.chosen.score:+.2f}")
            lines += [f"     {r}" for r in self.chosen.reasons]
            for n, alt in enumerate(self.alternatives[:top], 2):
                diffs = {k: self.chosen.parts.get(k, 0.0) - alt.parts.get(k, 0.0) for k in self.chosen.parts}
                worst = max(diffs, key=lambda k: diffs[k])
                lost = f"lost on {_PART_LABELS[worst]} ({-diffs[worst]:+.2f})" if diffs[worst] > 0 else "tied"
                lines.append(f"{n}. {alt.id}  score {alt.score:+.2f}  — {lost}")
                lines += [f"     {r}" for r in alt.reasons]
        if self.excluded:
            lines.append("")
            shown = self.excluded if all_excluded else self.excluded[:8]
            lines.append(f"excluded ({len(self.excluded)}):")
            lines += [f"  {e.model_id}: {e.reason}" for e in shown]
            if len(shown) < len(self.excluded):
                lines.append(f"  … and {len(self.excluded) - len(shown)} more (--all lists them)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def cand(c: Candidate) -> dict[str, Any]:
            return {
                "model": c.id, "score": round(c.score, 4), "tier": c.model.tier, "est_cost": c.est_cost,
                "latency_s": c.latency_s, "parts": {k: round(v, 4) for k, v in c.parts.items()}, "reasons": c.reasons,
            }

        return {
            "model": self.model_id,
            "features": asdict(self.features),
            "deciding": self.deciding(),
            "policy": self.policy.model_dump(),
            "weights": asdict(self.weights),
            "calibrated": self.calibrated,
            "calibrated_at": self.calibration.calibrated_at if self.calibration else None,
            "ranked": [cand(c) for c in self.ranked],
            "excluded": [asdict(e) for e in self.excluded],
            "message": None if self.chosen else self.message(),
            "warnings": self.warnings,
            "task_type": self.task_type,
            "eval_evidence": {
                m: {"passed": e.passed, "cells": e.cells, "cost_per_solved": e.cost_per_solved, "proven": e.proven,
                    "eval_ids": list(e.eval_ids)}
                for m, e in self.evidence.items()
            },
        }


_KIND_ORDER = ["tools", "context", "budget", "min_tier", "local_only", "access"]
_KIND_LABELS = {
    "access": "with no usable provider (no key, or no local server)",
    "tools": "without tool support",
    "context": "with too small a context window",
    "budget": "over router.budget_per_task",
    "min_tier": "below router.min_tier",
    "local_only": "not local (router.local_only)",
}


class NoModelAvailable(UnknownModel):
    """``--model auto`` found no usable model; the message says what to change."""


def _expected_seconds(stats: "LatencyStats | None", output_tokens: int) -> float | None:
    if stats is None or stats.ttft_p50 is None:
        return None
    seconds = stats.ttft_p50 / 1000
    if stats.tps_p50:
        seconds += output_tokens / stats.tps_p50
    return seconds


def _merged(settings: LoadedSettings | Settings | None) -> Settings:
    if isinstance(settings, LoadedSettings):
        return settings.merged
    return settings or Settings()


def route(
    task: str,
    *,
    agent: "Agent | None" = None,
    settings: LoadedSettings | Settings | None = None,
    catalog: ModelCatalog | None = None,
    store: "Store | None" = None,
    tools: bool | None = None,
    weights: Weights | None = None,
    calibration_path: Path | None = None,
    use_calibration: bool = True,
    probe: Callable[[str, int], bool] | None = _tcp_open,
) -> RouteDecision:
    """Score every catalog model for ``task``; see the module docstring."""
    merged = _merged(settings)
    policy = merged.router
    catalog = catalog or ModelCatalog.load()
    features = task_features(task, agent, tools=tools)
    warnings: list[str] = []
    calibration = None
    if weights is None:
        if use_calibration:
            calibration, warning = load_calibration(calibration_path)
            if warning:
                warnings.append(warning)
        weights = calibration.weights if calibration else DEFAULT_WEIGHTS
    latency = store.all_latency_stats() if store is not None else {}
    access: dict[str, ProviderAccess] = {}
    excluded: list[Excluded] = []
    fits: list[tuple[ModelInfo, float | None]] = []
    need = TIER_INDEX[features.need_tier]
    floor = TIER_INDEX[policy.min_tier] if policy.min_tier else 0
    for info in catalog:
        if info.provider not in access:
            access[info.provider] = provider_access(info.provider, merged, probe=probe)
        acc = access[info.provider]
        est = cost(info, features.input_tokens, features.output_tokens)
        reason = kind = None
        if not acc.usable:
            reason, kind = acc.note, "access"
        elif policy.local_only and not acc.local:
            reason, kind = "not local (router.local_only)", "local_only"
        elif TIER_INDEX[info.tier] < floor:
            reason, kind = f"tier {info.tier} is below router.min_tier {policy.min_tier}", "min_tier"
        elif features.tools and not info.tools:
            reason, kind = "no tool support; the agent needs tools", "tools"
        elif info.context is not None and features.context_needed > info.context:
            reason = f"context {format_context(info.context)} < ~{format_context(features.context_needed)} needed"
            kind = "context"
        elif policy.budget_per_task is not None and est is None:
            reason, kind = "price unknown, so router.budget_per_task cannot be checked", "budget"
        elif policy.budget_per_task is not None and est is not None and est > policy.budget_per_task:
            reason = f"est. {format_cost(est)}/task > budget {format_cost(policy.budget_per_task)}"
            kind = "budget"
        if reason is not None and kind is not None:
            excluded.append(Excluded(info.id, reason, kind))
        else:
            fits.append((info, est))
    ttype = task_type_of(task, agent)
    evidence = dict(calibration.evals.get(ttype, {})) if calibration is not None else {}
    expected = {info.id: _expected_seconds(latency.get(info.id), features.output_tokens) for info, _ in fits}
    measured = [s for s in expected.values() if s is not None]
    typical = statistics.median(measured) if measured else None
    mean_rate = calibration.mean_rate() if calibration else 0.5
    ranked = [
        _score(info, est, features, need, weights, latency.get(info.id), expected[info.id], typical, policy,
               calibration, mean_rate, access[info.provider], evidence.get(info.id), ttype)
        for info, est in fits
    ]
    ranked.sort(key=lambda c: (-c.score, c.est_cost if c.est_cost is not None else math.inf, c.id))
    excluded.sort(key=lambda e: _KIND_ORDER.index(e.kind))
    return RouteDecision(features, policy, weights, ranked, excluded, calibration, warnings, ttype, evidence)


def _score(
    info: ModelInfo,
    est: float | None,
    features: TaskFeatures,
    need: int,
    w: Weights,
    stats: "LatencyStats | None",
    seconds: float | None,
    typical: float | None,
    policy: RouterPolicy,
    calibration: Calibration | None,
    mean_rate: float,
    acc: ProviderAccess,
    evidence: EvalEvidence | None = None,
    task_type: str = "general",
) -> Candidate:
    gap = need - TIER_INDEX[info.tier]
    parts: dict[str, float] = {}
    reasons: list[str] = []
    parts["quality"] = -w.quality * max(0, gap)
    parts["overkill"] = -w.overkill * max(0, -gap)
    if gap > 0:
        reasons.append(
            f"tier {info.tier}: {gap} below the {features.need_tier} the task needs ({parts['quality']:+.2f})"
        )
    elif gap < 0:
        reasons.append(f"tier {info.tier}: {-gap} above the need, more than required ({parts['overkill']:+.2f})")
    else:
        reasons.append(f"tier {info.tier}: exactly what the task needs")
    if est is None:
        parts["cost"] = -w.cost * UNKNOWN_PRICE_COST
        reasons.append(f"price unknown: counted as expensive ({parts['cost']:+.2f})")
    else:
        parts["cost"] = -w.cost * math.log10(1 + est / 0.001)
        reasons.append(
            f"est. {format_cost(est)}/task (~{features.input_tokens} in + {features.output_tokens} out tokens, "
            f"prices of {info.price_date}) ({parts['cost']:+.2f})"
        )
    if seconds is not None and stats is not None:
        parts["latency"] = -w.latency * math.log2(1 + seconds)
        tps = f", {stats.tps_p50:.0f} tok/s" if stats.tps_p50 else ""
        reasons.append(
            f"measured TTFT p50 {stats.ttft_p50:.0f} ms{tps} (n={stats.count}) → ~{seconds:.1f} s "
            f"({parts['latency']:+.2f})"
        )
    elif typical is not None:
        parts["latency"] = -w.latency * math.log2(1 + typical)
        reasons.append(f"latency not measured: assumed typical ~{typical:.1f} s ({parts['latency']:+.2f})")
    else:
        parts["latency"] = 0.0
        reasons.append("latency not measured (no model is yet): not counted")
    parts["preferred"] = w.preferred if info.provider in policy.preferred_providers else 0.0
    if parts["preferred"]:
        reasons.append(f"preferred provider {info.provider} ({parts['preferred']:+.2f})")
    parts["reliability"] = 0.0
    if calibration is not None:
        rate = calibration.rate(info.id)
        if rate is not None:
            s, n = calibration.models[info.id]
            parts["reliability"] = w.reliability * (rate - mean_rate)
            reasons.append(f"succeeded {s}/{n} in comparisons ({parts['reliability']:+.2f})")
    parts["evals"] = 0.0
    if evidence is not None and evidence.cells:
        parts["evals"] = w.evals * (evidence.rate - 0.5)
        runs = ", ".join(evidence.eval_ids) or "?"
        note = (
            f"eval evidence: passed {evidence.passed}/{evidence.cells} '{task_type}' tasks (eval run(s) {runs}), "
            f"{format_cost(evidence.cost_per_solved)} per solved task ({parts['evals']:+.2f})"
        )
        if evidence.proven and parts["quality"] < 0:
            note += f"; proven on such tasks, so the tier gap is waived (was {parts['quality']:+.2f})"
            parts["quality"] = 0.0
        reasons.append(note)
    if acc.local:
        reasons.append(f"runs locally ({acc.note})")
    return Candidate(info, sum(parts.values()), parts, reasons, est, seconds)


def choose_auto(
    task: str,
    agent: "Agent | None",
    settings: LoadedSettings | Settings | None,
    catalog: ModelCatalog | None = None,
    store: "Store | None" = None,
    *,
    tools: bool | None = None,
) -> RouteDecision:
    """The decision for ``--model auto``; raises :class:`NoModelAvailable` when there is none."""
    decision = route(task, agent=agent, settings=settings, catalog=catalog, store=store, tools=tools)
    if decision.chosen is None:
        raise NoModelAvailable(decision.message())
    return decision
