"""What a comparison found: per-run figures, their spread, per-model summaries, the result.

Plain data (pydantic models), shared by the runner that produces it, the store that
keeps it (:mod:`.results`) and the exports that render it (:mod:`.export`).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any, Literal, Sequence

from pydantic import BaseModel, Field

from agentic_flow.core.compare.codecheck import CheckReport
from agentic_flow.core.store.database import percentile

__all__ = ["OK_STOPS", "ChangedFile", "ModelRun", "Spread", "ModelSummary", "CompareResult"]

OK_STOPS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use"})
"""Stop reasons of a run that finished (``max_tokens`` is shown, but is not a failure)."""


# --------------------------------------------------------------------------- figures


class ChangedFile(BaseModel):
    """A file an agent run changed in its copy; ``added`` is None for a binary file."""

    path: str
    added: int | None = None
    removed: int | None = None
    status: Literal["added", "modified", "deleted"] = "modified"


class ModelRun(BaseModel):
    """One run of one model. ``None`` figures were not measured (no token arrived).

    An agent run (``compare --agent``, the default) adds its turns, tool calls by tool,
    the diff it made in its isolated copy and the session holding its transcript; its
    figures cover the whole run (tokens and cost summed over turns, TTFT of the first
    turn, ``total_s`` the wall time until the agent stopped, before the check).
    """

    model_id: str
    run_index: int = 0
    status: Literal["ok", "failed"]
    error: str | None = None
    error_kind: str | None = None
    warnings: list[str] = []
    reported_model: str | None = None
    ttft_s: float | None = None
    total_s: float | None = None
    tokens_per_s: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: bool = False
    cost: float | None = None
    stop_reason: str = ""
    retries: int = 0
    answer: str = ""
    checks: CheckReport = Field(default_factory=CheckReport)
    turns: int | None = None
    tool_calls: dict[str, int] = Field(default_factory=dict)
    diff: str = ""
    changed: list[ChangedFile] = Field(default_factory=list)
    session_id: str | None = None
    copy_path: str | None = None
    """The isolated copy, when it was kept (``--keep``)."""

    @property
    def check_passed(self) -> bool | None:
        """The ``--check`` command's verdict (None: no check ran)."""
        command = self.checks.command
        if command is None or not command.allowed:
            return None
        return command.ok

    @property
    def diff_summary(self) -> str:
        if not self.changed:
            return "no changes"
        plus = sum(f.added or 0 for f in self.changed)
        minus = sum(f.removed or 0 for f in self.changed)
        n = len(self.changed)
        return f"{n} file{'s' if n != 1 else ''} +{plus} -{minus}"

    @property
    def tool_calls_summary(self) -> str:
        if not self.tool_calls:
            return "none"
        return ", ".join(f"{name} {count}" for name, count in sorted(self.tool_calls.items(), key=lambda kv: (-kv[1], kv[0])))


class Spread(BaseModel):
    """Median, min/max and quartiles of one figure over several runs."""

    median: float
    min: float
    max: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Spread | None:
        known = sorted(v for v in values if v is not None)
        if not known:
            return None

        return cls(
            median=statistics.median(known),
            min=known[0],
            max=known[-1],
            q1=percentile(known, 25) or known[0],
            q3=percentile(known, 75) or known[-1],
            n=len(known),
        )

    def fmt(self, one: Any) -> str:
        """``one(median)``, with ``(min–max)`` when the runs differ."""
        if self.n <= 1 or self.min == self.max:
            return one(self.median)
        return f"{one(self.median)} ({one(self.min)}–{one(self.max)})"


class ModelSummary(BaseModel):
    """A model's runs and their figures (medians over the runs that finished)."""

    model_id: str
    runs: list[ModelRun]
    ok_runs: int
    ttft_s: Spread | None = None
    tokens_per_s: Spread | None = None
    total_s: Spread | None = None
    input_tokens: Spread | None = None
    output_tokens: Spread | None = None
    cost: Spread | None = None
    """``None`` when any finished run's price was unknown."""
    estimated: bool = False
    turns: Spread | None = None
    checks_passed: int = 0
    checks_total: int = 0
    stop_reasons: list[str] = []
    errors: list[str] = []

    @property
    def status(self) -> Literal["ok", "failed", "partial"]:
        if self.ok_runs == len(self.runs):
            return "ok"
        return "failed" if self.ok_runs == 0 else "partial"

    @property
    def checks_summary(self) -> str:
        if len(self.runs) == 1:
            return self.runs[0].checks.summary()
        if self.checks_total == 0:
            return "no code checked"
        return f"{self.checks_passed}/{self.checks_total} runs passed"

    @classmethod
    def of(cls, model_id: str, runs: list[ModelRun]) -> ModelSummary:
        ok = [r for r in runs if r.status == "ok"]
        costs = [r.cost for r in ok]
        checked = [r.checks.ok for r in runs if r.checks.ok is not None]
        return cls(
            model_id=model_id,
            runs=runs,
            ok_runs=len(ok),
            ttft_s=Spread.of([r.ttft_s for r in ok]),
            tokens_per_s=Spread.of([r.tokens_per_s for r in ok]),
            total_s=Spread.of([r.total_s for r in ok]),
            input_tokens=Spread.of([r.input_tokens for r in ok]),
            output_tokens=Spread.of([r.output_tokens for r in ok]),
            cost=None if not ok or any(c is None for c in costs) else Spread.of(costs),
            estimated=any(r.estimated for r in ok),
            turns=Spread.of([r.turns for r in runs if r.turns is not None]),
            checks_passed=sum(1 for c in checked if c),
            checks_total=len(checked),
            stop_reasons=list(dict.fromkeys(r.stop_reason for r in runs if r.stop_reason)),
            errors=list(dict.fromkeys(r.error for r in runs if r.error)),
        )


class CompareResult(BaseModel):
    """A finished comparison (rendered as Markdown, CSV, JSON or a table by :mod:`core.compare_export`)."""

    id: str
    created_at: datetime
    task: str
    agent: str | None = None
    models: list[str]
    runs: int
    wall_s: float
    check_cmd: str | None = None
    complete: bool = True
    summaries: list[ModelSummary]
    mode: Literal["text", "agent"] = "text"
    """``agent``: each model ran the agent with its tools in an isolated copy."""
    workspace: str | None = None
    """The real workspace the copies were made from (agent mode); ``compare apply`` writes here."""
    approve: str | None = None
    """The headless policy the agents ran under (agent mode)."""

    @property
    def all_runs(self) -> list[ModelRun]:
        return [run for s in self.summaries for run in s.runs]

    def summary(self, model_id: str) -> ModelSummary:
        for s in self.summaries:
            if s.model_id == model_id:
                return s
        raise KeyError(model_id)

    def ranking(self) -> dict[str, list[str]]:
        """Model ids best first by cost, first token, total time and code checks.

        Only figures that were measured rank: a model with no finished run, or whose
        price is unknown, is left out of that list (an unknown cost is never "cheapest").
        """
        done = [s for s in self.summaries if s.ok_runs]

        def by(key: Any) -> list[str]:
            known = [s for s in done if key(s) is not None]
            return [s.model_id for s in sorted(known, key=key)]

        checks = [s for s in self.summaries if s.checks_total]
        return {
            "cost": by(lambda s: s.cost.median if s.cost else None),
            "ttft": by(lambda s: s.ttft_s.median if s.ttft_s else None),
            "total": by(lambda s: s.total_s.median if s.total_s else None),
            "checks": [
                s.model_id for s in sorted(checks, key=lambda s: (-s.checks_passed / s.checks_total, -s.checks_passed))
            ],
        }

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)
