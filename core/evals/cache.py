"""Eval results in SQLite: runs (``eval_runs``) and cells (``eval_cells``), tables made by the
store's migration ``m003_evals``.

A cell is written in its own transaction the moment it is judged, so a killed eval
loses only the cells that were running. Only ``passed``/``failed`` cells are kept: an
``error`` (no key, server down, rate limited to the end) says nothing about the model
and runs again next time. Lookups are by key (see :mod:`.cells`), so any run — this
suite again, or another suite sharing a task — reuses what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from agentic_flow.core.errors import StoreError
from agentic_flow.core.evals.records import CellResult, EvalRun

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = ["EvalStore", "TypeOutcome"]


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _escape_like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class TypeOutcome:
    """Stored cells of one model on one task type, as routing calibration reads them."""

    model_id: str
    task_type: str
    passed: int
    cells: int
    cost: float | None
    """Summed cost of the cells (None when any price was unknown)."""
    eval_ids: tuple[str, ...]

    @property
    def cost_per_solved(self) -> float | None:
        return None if self.cost is None or not self.passed else self.cost / self.passed


class EvalStore:
    """Eval runs and cells in the shared SQLite file."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    # ------------------------------------------------------------------ runs

    def save_run(self, run: EvalRun) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO eval_runs (id, suite_name, suite_path, created_at, updated_at, status, header) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET updated_at = excluded.updated_at, "
                "status = excluded.status, header = excluded.header",
                (run.id, run.suite_name, run.suite_path, _iso(run.created_at), _iso(run.updated_at), run.status,
                 run.model_dump_json()),
            )

    def get_run(self, eval_id: str) -> EvalRun | None:
        with self.store.read() as conn:
            row = conn.execute("SELECT header FROM eval_runs WHERE id = ?", (eval_id,)).fetchone()
        return EvalRun.model_validate_json(row[0]) if row else None

    def resolve_run(self, id_or_prefix: str | None) -> EvalRun:
        """A run by id, unique prefix, or ``None``/``latest`` for the newest.

        Raises:
            StoreError: no such run, or an ambiguous prefix.
        """
        with self.store.read() as conn:
            if not id_or_prefix or id_or_prefix == "latest":
                rows = conn.execute("SELECT header FROM eval_runs ORDER BY updated_at DESC LIMIT 1").fetchall()
                if not rows:
                    raise StoreError("no eval runs yet: run `agentic-flow eval SUITE.yaml --models A,B` first")
            else:
                rows = conn.execute(
                    "SELECT header FROM eval_runs WHERE id LIKE ? ESCAPE '\\' ORDER BY updated_at DESC LIMIT 2",
                    (_escape_like(id_or_prefix),),
                ).fetchall()
                if not rows:
                    raise StoreError(f"no eval run '{id_or_prefix}': `agentic-flow eval list` shows them")
                if len(rows) > 1:
                    raise StoreError(f"eval run id '{id_or_prefix}' is ambiguous; give more characters")
        return EvalRun.model_validate_json(rows[0][0])

    def list_runs(self, limit: int = 30) -> list[EvalRun]:
        with self.store.read() as conn:
            rows = conn.execute("SELECT header FROM eval_runs ORDER BY updated_at DESC LIMIT ?", (limit,)).fetchall()
        return [EvalRun.model_validate_json(r[0]) for r in rows]

    # ------------------------------------------------------------------ cells

    def save_cell(self, cell: CellResult) -> None:
        """Keep a judged cell (``passed``/``failed``); an ``error`` is refused."""
        if cell.status == "error":
            raise ValueError("error cells are not kept: they run again next time")
        run = cell.run
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO eval_cells (key, eval_id, task_id, task_type, model_id, run_index, "
                "fixture_hash, params_hash, status, cost, ttft_ms, wall_ms, input_tokens, output_tokens, created_at, "
                "result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cell.key, cell.eval_id, cell.task_id, cell.task_type, cell.model_id, cell.run_index,
                    cell.fixture_hash, cell.params_hash, cell.status, cell.cost,
                    None if run.ttft_s is None else run.ttft_s * 1000,
                    None if run.total_s is None else run.total_s * 1000,
                    run.input_tokens, run.output_tokens, _iso(cell.finished_at), cell.model_dump_json(),
                ),
            )

    def cells(self, keys: Iterable[str]) -> dict[str, CellResult]:
        """The stored cells among ``keys``."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, CellResult] = {}
        with self.store.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for key, result in conn.execute(f"SELECT key, result FROM eval_cells WHERE key IN ({marks})", chunk):
                    found[key] = CellResult.model_validate_json(result)
        return found

    def done_keys(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        done: set[str] = set()
        with self.store.read() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                done.update(r[0] for r in conn.execute(f"SELECT key FROM eval_cells WHERE key IN ({marks})", chunk))
        return done

    def run_cells(self, run: EvalRun) -> list[CellResult]:
        """The run's cells that are stored, in matrix order."""
        stored = self.cells(run.cell_keys)
        return [stored[k] for k in run.cell_keys if k in stored]

    def type_outcomes(self) -> list[TypeOutcome]:
        """Passes, cells and cost per (model, task type) over every stored cell."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT model_id, task_type, SUM(status = 'passed'), COUNT(*), "
                "CASE WHEN SUM(cost IS NULL) > 0 THEN NULL ELSE SUM(cost) END, GROUP_CONCAT(DISTINCT eval_id) "
                "FROM eval_cells GROUP BY model_id, task_type ORDER BY model_id, task_type"
            ).fetchall()
        return [
            TypeOutcome(m, t, int(p), int(n), c, tuple(sorted(filter(None, (ids or "").split(",")))))
            for m, t, p, n, c, ids in rows
        ]
