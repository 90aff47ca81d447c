"""What an eval keeps: each cell's outcome (:class:`CellResult`) and each run's header (:class:`EvalRun`).

Plain data shared by the runner that makes them, the store that keeps them
(:mod:`.cache`), the reports and the TUI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from agentic_flow.core.compare.result import ModelRun

__all__ = ["CheckResult", "CellResult", "CellStatus", "EvalRun", "TRANSIENT_KINDS"]

CellStatus = Literal["passed", "failed", "error"]
"""``passed``/``failed``: the model's result (kept and reused); ``error``: the run could not
be judged (no key, server down, rate limited to the end) — not kept, run again next time."""

TRANSIENT_KINDS = frozenset(
    {"rate_limited", "server_error", "connect_error", "needs_key", "auth_failed", "model_not_found", "internal",
     "IsolationError", "provider_error", "NeedsKey", "UnknownModel", "ConfigError", "AgentDefinitionError"}
)
"""Error kinds that say nothing about the model's ability: such a cell is an ``error``."""


class CheckResult(BaseModel):
    """One check on a cell: what it was, whether it passed, and why."""

    kind: str
    label: str
    passed: bool
    detail: str = ""
    cost: float | None = None
    """What a judge model's verdict cost (None for other checks, or an unknown price)."""
    could_not_run: bool = False
    """The check itself could not be made (a judge without its key, its server down):
    the cell is an error, run again next time, not a failed task."""


class CellResult(BaseModel):
    """One (task, model, run) of an eval, with the agent run's figures, diff and checks."""

    key: str
    task_id: str
    task_type: str
    model_id: str
    run_index: int
    fixture_hash: str
    params_hash: str
    status: CellStatus
    run: ModelRun
    checks: list[CheckResult] = Field(default_factory=list)
    error: str | None = None
    attempts: int = 1
    started_at: datetime
    finished_at: datetime
    eval_id: str = ""
    """The eval run that produced it (a later run may reuse it)."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def cost(self) -> float | None:
        """The agent run's cost plus any judge's (None when any part is unknown)."""
        parts = [self.run.cost, *(c.cost for c in self.checks if c.kind == "judge")]
        if self.run.input_tokens is None:
            return None
        if any(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None)

    @property
    def wall_s(self) -> float | None:
        return self.run.total_s


class EvalRun(BaseModel):
    """An eval run: the suite, the models, and the keys of its cells (in matrix order)."""

    id: str
    suite_name: str
    suite_path: str | None
    created_at: datetime
    updated_at: datetime
    models: list[str]
    runs: int
    tasks: list[str]
    cell_keys: list[str]
    status: Literal["running", "complete", "incomplete", "interrupted"] = "running"
    """``incomplete``: some cells ended in an error (they run again next time)."""
    settings: dict[str, object] = Field(default_factory=dict)
    """Options it ran with (max concurrency, base URL, ...) and the versions (agentic-flow, git commit)."""
