"""The router's weights, and their calibration from stored comparison and eval results.

:func:`calibrate` (``agentic-flow route calibrate``) reads every stored model run of
``agentic-flow compare`` (a run *succeeded* when it finished and its checks, if any,
passed) and every stored eval cell (it succeeded when it passed). How much more often
higher tiers succeeded (a least-squares slope of success over tier) scales the quality
weight against the slope the defaults assume; each model's own success rate feeds the
reliability term.

Eval cells also become **evidence per task type** (``debug``, ``code``, ``design``,
``general``, or a suite's own ``type:``): per model, the cells passed, the cells run,
their cost and the eval runs they came from. The router uses it for a task of the same
type: a model *proven* on such tasks (at least :data:`PROVEN_MIN_CELLS` cells, at least
:data:`PROVEN_RATE` passed) has its tier gap waived — the evidence beats the tier guess —
so among proven models the cheapest wins; every model with evidence gets the ``evals``
part of the score (its pass rate above or below one half).

The result is written as JSON to ``data_dir()/router-weights.json`` and read back by
:func:`load_calibration`; a missing or broken file means the default weights.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_flow.core.compare.results import CompareStore
from agentic_flow.core.errors import AgenticFlowError
from agentic_flow.core.evals.cache import EvalStore
from agentic_flow.core.models.catalog import TIERS, ModelCatalog
from agentic_flow.core.paths import data_dir

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = [
    "Weights",
    "DEFAULT_WEIGHTS",
    "WEIGHTS_FILE",
    "TIER_INDEX",
    "EXPECTED_TIER_SLOPE",
    "PROVEN_MIN_CELLS",
    "PROVEN_RATE",
    "EvalEvidence",
    "Calibration",
    "CalibrationError",
    "weights_path",
    "load_calibration",
    "calibrate",
]

WEIGHTS_FILE = "router-weights.json"
TIER_INDEX: dict[str, int] = {t: i for i, t in enumerate(TIERS)}
EXPECTED_TIER_SLOPE = 0.15
"""Success-rate gain per tier step the default quality weight assumes."""
PROVEN_MIN_CELLS = 2
PROVEN_RATE = 0.8
"""A model passed at least this share of at least PROVEN_MIN_CELLS eval cells of a task type."""


@dataclass(frozen=True)
class Weights:
    """Multipliers of the score's parts (see the module docstring)."""

    quality: float = 3.0
    overkill: float = 0.6
    cost: float = 1.0
    latency: float = 0.5
    preferred: float = 1.0
    reliability: float = 0.0
    evals: float = 2.0
    """Multiplies (eval pass rate on this task type - 0.5) for models with eval evidence."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Weights:
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in known})


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class EvalEvidence:
    """One model's stored eval cells of one task type."""

    passed: int
    cells: int
    cost: float | None
    """Total cost of those cells (None when any price was unknown)."""
    eval_ids: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.passed / self.cells if self.cells else 0.0

    @property
    def proven(self) -> bool:
        return self.cells >= PROVEN_MIN_CELLS and self.rate >= PROVEN_RATE

    @property
    def cost_per_solved(self) -> float | None:
        return None if self.cost is None or not self.passed else self.cost / self.passed


@dataclass(frozen=True)
class Calibration:
    """Weights fitted from stored comparisons, and what they were fitted on."""

    weights: Weights
    calibrated_at: str
    samples: int
    comparisons: int
    tier_slope: float | None
    models: dict[str, tuple[int, int]]
    """``model_id -> (successes, runs)``."""
    notes: tuple[str, ...] = ()
    path: Path | None = None
    evals: dict[str, dict[str, EvalEvidence]] = field(default_factory=dict)
    """``task type -> model id -> evidence`` from stored eval cells."""
    eval_cells: int = 0

    def rate(self, model_id: str) -> float | None:
        """Smoothed success rate ``(s + 1) / (n + 2)``; None when never compared."""
        got = self.models.get(model_id)
        return None if got is None else (got[0] + 1) / (got[1] + 2)

    def mean_rate(self) -> float:
        rates = [self.rate(m) for m in self.models]
        return statistics.fmean(r for r in rates if r is not None) if rates else 0.5

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("path")
        data["models"] = {m: {"successes": s, "runs": n} for m, (s, n) in self.models.items()}
        data["notes"] = list(self.notes)
        data["evals"] = {
            t: {m: {"passed": e.passed, "cells": e.cells, "cost": e.cost, "eval_ids": list(e.eval_ids)}
                for m, e in by_model.items()}
            for t, by_model in self.evals.items()
        }
        data["version"] = 2
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


class CalibrationError(AgenticFlowError):
    """There is nothing to calibrate from, or the weights file cannot be written."""


def weights_path() -> Path:

    return data_dir() / WEIGHTS_FILE


def load_calibration(path: Path | None = None) -> tuple[Calibration | None, str | None]:
    """The stored calibration, or ``(None, warning)`` when the file is absent or unusable."""
    path = path or weights_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"router weights {path} cannot be read ({exc}); default weights are used"
    try:
        models = {m: (int(v["successes"]), int(v["runs"])) for m, v in data.get("models", {}).items()}
        evals = {
            str(t): {
                str(m): EvalEvidence(
                    int(e["passed"]), int(e["cells"]), None if e.get("cost") is None else float(e["cost"]),
                    tuple(str(i) for i in e.get("eval_ids", ())),
                )
                for m, e in by_model.items()
            }
            for t, by_model in data.get("evals", {}).items()
        }
        return (
            Calibration(
                weights=Weights.from_dict(data["weights"]),
                calibrated_at=str(data["calibrated_at"]),
                samples=int(data["samples"]),
                comparisons=int(data["comparisons"]),
                tier_slope=None if data.get("tier_slope") is None else float(data["tier_slope"]),
                models=models,
                notes=tuple(data.get("notes", ())),
                path=path,
                evals=evals,
                eval_cells=int(data.get("eval_cells", 0)),
            ),
            None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, f"router weights {path} are malformed ({exc!r}); default weights are used"


def _slope(points: list[tuple[int, float]]) -> float | None:
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / var


def calibrate(store: "Store", catalog: ModelCatalog, *, path: Path | None = None) -> Calibration:
    """Fit the weights to the stored comparison and eval results and write them to ``path``.

    A compared run succeeded when it finished and its code checks (if any) passed; an
    eval cell when it passed. The quality weight is scaled by how much success rose per
    tier (against the :data:`EXPECTED_TIER_SLOPE` the defaults assume), clamped to
    0.25×–3×; every model gets its own success rate for the reliability term, and eval
    cells become evidence per task type (see the module docstring).
    """

    outcomes = CompareStore(store).outcomes()
    by_type = EvalStore(store).type_outcomes()
    if not outcomes and not by_type:
        raise CalibrationError(
            "no stored comparison or eval results to calibrate from: run `agentic-flow compare --models A,B --task ...` "
            "or `agentic-flow eval SUITE.yaml --models A,B` first"
        )
    models: dict[str, tuple[int, int]] = {}
    points: list[tuple[int, float]] = []
    for o in outcomes:
        s, n = models.get(o.model_id, (0, 0))
        models[o.model_id] = (s + int(o.success), n + 1)
        info = catalog.get(o.model_id)
        if info is not None:
            points.append((TIER_INDEX[info.tier], 1.0 if o.success else 0.0))
    evals: dict[str, dict[str, EvalEvidence]] = {}
    eval_cells = 0
    for t in by_type:
        evals.setdefault(t.task_type, {})[t.model_id] = EvalEvidence(t.passed, t.cells, t.cost, t.eval_ids)
        eval_cells += t.cells
        s, n = models.get(t.model_id, (0, 0))
        models[t.model_id] = (s + t.passed, n + t.cells)
        info = catalog.get(t.model_id)
        if info is not None:
            points += [(TIER_INDEX[info.tier], 1.0)] * t.passed + [(TIER_INDEX[info.tier], 0.0)] * (t.cells - t.passed)
    slope = _slope(points)
    notes: list[str] = []
    quality = DEFAULT_WEIGHTS.quality
    if slope is None:
        notes.append("all compared catalog models share one tier (or none is in the catalog): quality weight kept")
    else:
        factor = min(3.0, max(0.25, slope / EXPECTED_TIER_SLOPE))
        quality = round(DEFAULT_WEIGHTS.quality * factor, 3)
        notes.append(
            f"success rose {slope:+.2f} per tier step (defaults assume {EXPECTED_TIER_SLOPE:+.2f}): "
            f"quality weight {DEFAULT_WEIGHTS.quality:g} → {quality:g}"
        )
    weights = replace(DEFAULT_WEIGHTS, quality=quality, reliability=2.0)
    result = Calibration(
        weights=weights,
        calibrated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        samples=len(outcomes) + eval_cells,
        comparisons=len({o.compare_id for o in outcomes}),
        tier_slope=None if slope is None else round(slope, 4),
        models=models,
        notes=tuple(notes),
        path=path or weights_path(),
        evals=evals,
        eval_cells=eval_cells,
    )
    target = result.path
    assert target is not None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(result.to_json(), encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        raise CalibrationError(f"cannot write the router weights to {target}: {exc.strerror or exc}") from exc
    return result
