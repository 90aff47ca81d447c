"""Comparison results in SQLite, next to sessions and latency samples.

The tables are created by the store's migration ``m002_compare``
(:mod:`agentic_flow.core.store.migrations`).
``compare_runs`` keeps each whole result as JSON (for export
and the compare screen); ``compare_results`` keeps one row per model run, which is what
``agentic-flow route calibrate`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from agentic_flow.core.compare.result import CompareResult
from agentic_flow.core.errors import StoreError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import Store

__all__ = ["Outcome", "CompareStore"]

@dataclass(frozen=True)
class Outcome:
    """One stored model run, as calibration reads it. ``checks_ok`` None: no code checked."""

    compare_id: str
    model_id: str
    status: str
    checks_ok: bool | None
    ttft_ms: float | None
    tokens_per_s: float | None
    cost: float | None
    created_at: str

    @property
    def success(self) -> bool:
        return self.status == "ok" and self.checks_ok is not False


class CompareStore:
    """Comparison results in the shared SQLite file, next to sessions and latency."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    def save(self, result: CompareResult) -> None:
        created = result.created_at.isoformat(timespec="microseconds")
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO compare_runs (id, created_at, task, agent, models, runs, wall_ms, check_cmd, "
                "result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    result.id, created, result.task, result.agent, orjson.dumps(result.models).decode(), result.runs,
                    result.wall_s * 1000, result.check_cmd, result.model_dump_json(),
                ),
            )
            conn.execute("DELETE FROM compare_results WHERE compare_id = ?", (result.id,))
            conn.executemany(
                "INSERT INTO compare_results (compare_id, model_id, run_index, status, error_kind, ttft_ms, "
                "tokens_per_s, total_ms, input_tokens, output_tokens, estimated, cost, stop_reason, checks_ok, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        result.id, r.model_id, r.run_index, r.status, r.error_kind,
                        None if r.ttft_s is None else r.ttft_s * 1000, r.tokens_per_s,
                        None if r.total_s is None else r.total_s * 1000, r.input_tokens, r.output_tokens,
                        int(r.estimated), r.cost, r.stop_reason,
                        None if r.checks.ok is None else int(r.checks.ok), created,
                    )
                    for r in result.all_runs
                ],
            )

    def load(self, compare_id: str) -> CompareResult:
        """A stored result by id or unique id prefix."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT result FROM compare_runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 2",
                (compare_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        if not rows:
            raise StoreError(f"no stored comparison '{compare_id}'")
        if len(rows) > 1:
            raise StoreError(f"comparison id '{compare_id}' is ambiguous; give more characters")
        return CompareResult.model_validate_json(rows[0][0])

    def recent(self, limit: int = 20) -> list[CompareResult]:
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT result FROM compare_runs ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [CompareResult.model_validate_json(r[0]) for r in rows]

    def outcomes(self) -> list[Outcome]:
        """Every stored model run, oldest first."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT compare_id, model_id, status, checks_ok, ttft_ms, tokens_per_s, cost, created_at "
                "FROM compare_results ORDER BY id"
            ).fetchall()
        return [
            Outcome(cid, m, s, None if c is None else bool(c), t, tps, cost, at)
            for cid, m, s, c, t, tps, cost, at in rows
        ]
