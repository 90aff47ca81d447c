"""``eval report RUN``: what an eval run found, per model and per cell.

:func:`summarize` turns a run's stored cells into an :class:`EvalReport`: per model the
pass rate with its spread over the runs (each run index's pass rate over the tasks),
the cost per solved task, TTFT p50/p95 and wall time p50/p95, tokens; and the matrix of
tasks × models. It is rendered as Markdown (:func:`to_markdown`), CSV — one row per cell
(:func:`to_csv`) —, JSON (:func:`to_json`) or a self-contained HTML page
(:func:`core.evals.html.to_html`).

Conventions as elsewhere: ``?`` is an unknown price (never $0), ``-`` a figure that was
not measured.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentic_flow.core.cli.output import table
from agentic_flow.core.evals.records import CellResult, EvalRun
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.core.store.database import percentile

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.messages import Message
    from agentic_flow.core.store.database import Store

__all__ = [
    "ModelStats",
    "EvalReport",
    "summarize",
    "to_markdown",
    "to_csv",
    "to_json",
    "to_text",
    "load_transcripts",
    "fmt_seconds",
    "fmt_rate",
    "REPORT_FORMATS",
]

REPORT_FORMATS = ("md", "csv", "json", "html", "text")


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


@dataclass
class ModelStats:
    """One model over the run's cells."""

    model_id: str
    cells: int = 0
    passed: int = 0
    per_run: list[float] = field(default_factory=list)
    """Pass rate of each run index over the tasks (the spread)."""
    cost: float | None = 0.0
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    wall_p50: float | None = None
    wall_p95: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.cells if self.cells else None

    @property
    def spread(self) -> tuple[float, float, float] | None:
        """(min, max, standard deviation) of the per-run pass rates; None with one run."""
        if len(self.per_run) < 2:
            return None
        return min(self.per_run), max(self.per_run), statistics.pstdev(self.per_run)

    @property
    def cost_per_solved(self) -> float | None:
        if self.cost is None or not self.passed:
            return None
        return self.cost / self.passed

    def rate_text(self) -> str:
        rate = fmt_rate(self.pass_rate)
        spread = self.spread
        if spread is None:
            return rate
        return f"{rate} ({fmt_rate(spread[0])}–{fmt_rate(spread[1])}, sd {spread[2] * 100:.0f} pts)"


@dataclass
class EvalReport:
    run: EvalRun
    cells: list[CellResult]
    models: list[ModelStats]
    tasks: list[str]
    missing: int
    """Cells of the matrix with no stored result (not run yet, or ended in an error)."""

    def cell_list(self, task_id: str, model_id: str) -> list[CellResult]:
        return sorted(
            (c for c in self.cells if c.task_id == task_id and c.model_id == model_id), key=lambda c: c.run_index
        )

    def stats(self, model_id: str) -> ModelStats:
        return next(m for m in self.models if m.model_id == model_id)

    def matrix_cell(self, task_id: str, model_id: str) -> str:
        """``2/3 ✓`` (passed of runs), ``-`` when nothing is stored."""
        cells = self.cell_list(task_id, model_id)
        if not cells:
            return "-"
        passed = sum(c.passed for c in cells)
        mark = "✓" if passed == len(cells) else ("✗" if passed == 0 else "~")
        return f"{passed}/{len(cells)} {mark}"


def summarize(run: EvalRun, cells: Iterable[CellResult]) -> EvalReport:
    """Per-model figures and the matrix of ``run`` from its stored ``cells``."""
    cells = list(cells)
    models: list[ModelStats] = []
    for model_id in run.models:
        mine = [c for c in cells if c.model_id == model_id]
        stats = ModelStats(model_id=model_id, cells=len(mine), passed=sum(c.passed for c in mine))
        for index in range(run.runs):
            in_run = [c for c in mine if c.run_index == index]
            if in_run:
                stats.per_run.append(sum(c.passed for c in in_run) / len(in_run))
        costs = [c.cost for c in mine]
        stats.cost = None if any(c is None for c in costs) or not mine else sum(c for c in costs if c is not None)
        ttfts = [c.run.ttft_s for c in mine if c.run.ttft_s is not None]
        walls = [c.run.total_s for c in mine if c.run.total_s is not None]
        stats.ttft_p50, stats.ttft_p95 = percentile(ttfts, 50), percentile(ttfts, 95)
        stats.wall_p50, stats.wall_p95 = percentile(walls, 50), percentile(walls, 95)
        stats.input_tokens = sum(c.run.input_tokens or 0 for c in mine)
        stats.output_tokens = sum(c.run.output_tokens or 0 for c in mine)
        models.append(stats)
    return EvalReport(run=run, cells=cells, models=models, tasks=list(run.tasks),
                      missing=len(run.cell_keys) - len(cells))


def load_transcripts(store: "Store", cells: Iterable[CellResult]) -> dict[str, list["Message"]]:
    """Each cell's session transcript from the store, by session id (missing ones skipped)."""
    # lazy: only reports that show transcripts need the session store's errors
    from agentic_flow.core.errors import StoreError

    out: dict[str, list[Message]] = {}
    for cell in cells:
        sid = cell.run.session_id
        if sid and sid not in out:
            try:
                out[sid] = store.load_messages(sid)
            except StoreError:
                continue
    return out


# ------------------------------------------------------------------------ text formats


def _header(report: EvalReport) -> list[str]:
    run = report.run
    settings = run.settings
    versions = f"agentic-flow {settings.get('agentic_flow', '?')}"
    if settings.get("git_commit"):
        versions += f", commit {str(settings['git_commit'])[:12]}"
    return [
        f"suite {run.suite_name} · run {run.id} · {run.status} · {len(run.tasks)} tasks × {len(run.models)} models "
        f"× {run.runs} run(s) · updated {run.updated_at:%Y-%m-%d %H:%M UTC} · {versions}",
    ]


def _model_rows(report: EvalReport) -> list[list[str]]:
    rows = []
    for m in report.models:
        rows.append([
            m.model_id, m.rate_text(), f"{m.passed}/{m.cells}", format_cost(m.cost) if m.cells else "-",
            format_cost(m.cost_per_solved) if m.passed else "-",
            f"{fmt_seconds(m.ttft_p50)} / {fmt_seconds(m.ttft_p95)}",
            f"{fmt_seconds(m.wall_p50)} / {fmt_seconds(m.wall_p95)}",
            f"{m.input_tokens:,} / {m.output_tokens:,}",
        ])
    return rows


MODEL_COLUMNS = ["Model", "Pass rate", "Solved", "Cost", "Cost / solved", "TTFT p50 / p95", "Wall p50 / p95",
                 "Tokens in / out"]


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(report: EvalReport) -> str:
    lines = [f"### Eval: {_md(report.run.suite_name)}", "", _md(_header(report)[0]), ""]
    lines.append("| " + " | ".join(MODEL_COLUMNS) + " |")
    lines.append("|---|" + "---:|" * (len(MODEL_COLUMNS) - 1))
    for row in _model_rows(report):
        lines.append("| `" + row[0] + "` | " + " | ".join(_md(c) for c in row[1:]) + " |")
    lines += ["", "Pass rate: (min–max over runs, standard deviation). Cost / solved = all cells' cost ÷ tasks solved.",
              "", "| Task | " + " | ".join(f"`{m}`" for m in report.run.models) + " |",
              "|---|" + "---|" * len(report.run.models)]
    for task in report.tasks:
        lines.append(f"| {_md(task)} | " + " | ".join(report.matrix_cell(task, m) for m in report.run.models) + " |")
    failures = [c for c in report.cells if not c.passed]
    if failures:
        lines += ["", "**Failed cells**", ""]
        for c in failures:
            why = "; ".join(f"{x.label}: {x.detail.splitlines()[0] if x.detail else 'failed'}"
                            for x in c.checks if not x.passed) or (c.error or "the run failed")
            lines.append(f"- {c.task_id} × `{c.model_id}` run {c.run_index + 1}: {_md(why)}")
    if report.missing:
        lines += ["", f"{report.missing} cell(s) have no result yet: run the same command again to finish them."]
    return "\n".join(lines) + "\n"


def to_text(report: EvalReport) -> str:
    lines = _header(report) + ["", table(MODEL_COLUMNS, _model_rows(report), right=(2, 3, 4))]
    lines += ["", table(["TASK", *report.run.models], [[t, *(report.matrix_cell(t, m) for m in report.run.models)]
                                                       for t in report.tasks])]
    if report.missing:
        lines.append(f"\n{report.missing} cell(s) have no result yet: run the same command again to finish them.")
    lines.append(f"\nexport: agentic-flow eval report {report.run.id} --html -o report.html (also --md, --csv, --json)")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = [
    "eval", "task", "type", "model", "run", "status", "checks_passed", "checks", "cost_usd", "ttft_s", "wall_s",
    "input_tokens", "output_tokens", "turns", "tool_calls", "files_changed", "stop_reason", "session", "error",
]


def to_csv(report: EvalReport) -> str:
    """One row per stored cell; an unknown cost is an empty cell, never 0."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()

    def num(value: Any, digits: int = 4) -> str:
        return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    for c in report.cells:
        r = c.run
        writer.writerow({
            "eval": report.run.id, "task": c.task_id, "type": c.task_type, "model": c.model_id,
            "run": c.run_index + 1, "status": c.status, "checks_passed": f"{sum(x.passed for x in c.checks)}/{len(c.checks)}",
            "checks": "; ".join(f"{'ok' if x.passed else 'FAIL'} {x.label}" for x in c.checks),
            "cost_usd": num(c.cost, 8), "ttft_s": num(r.ttft_s), "wall_s": num(r.total_s),
            "input_tokens": num(r.input_tokens), "output_tokens": num(r.output_tokens), "turns": num(r.turns),
            "tool_calls": r.tool_calls_summary if r.tool_calls else "", "files_changed": len(r.changed),
            "stop_reason": r.stop_reason, "session": r.session_id or "", "error": c.error or "",
        })
    return out.getvalue()


def to_json(report: EvalReport) -> str:
    doc = {
        "run": json.loads(report.run.model_dump_json()),
        "models": [
            {
                "model": m.model_id, "cells": m.cells, "passed": m.passed, "pass_rate": m.pass_rate,
                "pass_rate_per_run": m.per_run, "cost": m.cost, "cost_per_solved": m.cost_per_solved,
                "ttft_s_p50": m.ttft_p50, "ttft_s_p95": m.ttft_p95, "wall_s_p50": m.wall_p50, "wall_s_p95": m.wall_p95,
                "input_tokens": m.input_tokens, "output_tokens": m.output_tokens,
            }
            for m in report.models
        ],
        "cells": [json.loads(c.model_dump_json()) for c in report.cells],
        "missing_cells": report.missing,
    }
    return json.dumps(doc, indent=2) + "\n"
