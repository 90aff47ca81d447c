"""``eval --dry-run``: the estimated cost of the whole matrix, before anything runs.

Per cell (task × model × run): input and output tokens are the task's ``estimate:``
when the suite gives one, else the router's estimate for the task with its agent
(:func:`core.routing.router.task_features`: prompt, system prompt and tool definitions
per turn over the expected turns, plus the expected answer). The cost is the model
catalog's price for those tokens; a judge check adds its model's price for
``JUDGE_INPUT_BASE`` + the rubric and task tokens in, ``JUDGE_OUTPUT`` out. Cells already
stored (a resumed run) are counted apart: they cost nothing now.

An unknown price is never $0: the total is then "at least" the known part, and the
models without a price are named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentic_flow.core.evals.cells import Cell
from agentic_flow.core.evals.suite import JudgeCheck, Suite, Task
from agentic_flow.core.models.tokens import count_tokens
from agentic_flow.core.routing.router import task_features

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.models.catalog import ModelCatalog

__all__ = ["CellEstimate", "MatrixEstimate", "estimate_matrix", "task_tokens", "JUDGE_INPUT_BASE", "JUDGE_OUTPUT"]

JUDGE_INPUT_BASE = 2000
"""Tokens of answer and diff a judge is assumed to read, besides the rubric and the task."""
JUDGE_OUTPUT = 100


@dataclass(frozen=True)
class CellEstimate:
    cell: Cell
    input_tokens: int
    output_tokens: int
    cost: float | None
    judge_cost: float | None
    cached: bool

    @property
    def total(self) -> float | None:
        return None if self.cost is None or self.judge_cost is None else self.cost + self.judge_cost


@dataclass
class MatrixEstimate:
    cells: list[CellEstimate] = field(default_factory=list)

    def _sum(self, cached: bool | None) -> tuple[float, list[str]]:
        total = 0.0
        unknown: list[str] = []
        for c in self.cells:
            if cached is not None and c.cached != cached:
                continue
            if c.total is None:
                unknown.append(c.cell.model_id)
            else:
                total += c.total
        return total, sorted(set(unknown))

    @property
    def total(self) -> float:
        """Known cost of every cell (see :attr:`unpriced`)."""
        return self._sum(None)[0]

    @property
    def remaining(self) -> float:
        """Known cost of the cells not stored yet: what running now spends."""
        return self._sum(False)[0]

    @property
    def unpriced(self) -> list[str]:
        """Models (or judges) whose price is unknown: the totals are "at least"."""
        return self._sum(None)[1]

    def by_model(self) -> dict[str, tuple[int, float | None]]:
        out: dict[str, tuple[int, float | None]] = {}
        for c in self.cells:
            n, cost = out.get(c.cell.model_id, (0, 0.0))
            out[c.cell.model_id] = (n + 1, None if cost is None or c.total is None else cost + c.total)
        return out


def task_tokens(suite: Suite, task: Task, agent: "Agent | None") -> tuple[int, int]:
    """Input and output tokens one run of ``task`` is expected to use."""
    if task.estimate is not None:
        return task.estimate.input_tokens, task.estimate.output_tokens
    tools = suite.effective(task)["tools"]
    features = task_features(task.prompt, agent, tools=bool(tools) and (agent is None or agent.tools != []))
    return features.input_tokens, features.output_tokens


def _judge_cost(task: Task, catalog: "ModelCatalog") -> float | None:
    total = 0.0
    for check in task.checks:
        if isinstance(check, JudgeCheck):
            tokens_in = JUDGE_INPUT_BASE + count_tokens(check.judge.rubric) + count_tokens(task.prompt)
            cost = catalog.cost(check.judge.model, tokens_in, JUDGE_OUTPUT)
            if cost is None:
                return None
            total += cost
    return total


def estimate_matrix(
    suite: Suite,
    cells: list[Cell],
    catalog: "ModelCatalog",
    *,
    agents: dict[str | None, "Agent | None"] | None = None,
    cached: set[str] | None = None,
) -> MatrixEstimate:
    """Tokens and cost of every cell; ``cached`` keys are marked (they will not run)."""
    agents = agents or {}
    done = cached or set()
    per_task: dict[str, tuple[int, int, float | None]] = {}
    estimate = MatrixEstimate()
    for cell in cells:
        task = cell.task
        if task.id not in per_task:
            agent = agents.get(suite.effective(task)["agent"])
            tokens_in, tokens_out = task_tokens(suite, task, agent)
            per_task[task.id] = (tokens_in, tokens_out, _judge_cost(task, catalog))
        tokens_in, tokens_out, judge = per_task[task.id]
        estimate.cells.append(
            CellEstimate(
                cell=cell, input_tokens=tokens_in, output_tokens=tokens_out,
                cost=catalog.cost(cell.model_id, tokens_in, tokens_out), judge_cost=judge, cached=cell.key in done,
            )
        )
    return estimate
