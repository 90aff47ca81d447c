"""The eval results screen: one eval run's matrix, its charts, and a drill-down to each cell.

Opened from the palette ("Evals: latest results" / "Evals: choose a run"). The matrix is
a table of tasks (rows) × models (columns); a cell reads ``2/3 ✓`` (runs passed of runs;
✓ all, ✗ none, ~ some). Enter on a cell opens :class:`EvalCellScreen`: every run of that
task on that model with its checks (and why one failed), figures, diff and the agent's
transcript from the store. Below the matrix the charts plot the models' cost against
pass rate, latency and tokens (:mod:`tui.widgets.charts`). The run is read from the store
in a worker; ``report`` hands one over directly (tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from rich.syntax import Syntax
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from agentic_flow.core.errors import StoreError
from agentic_flow.core.evals.cache import EvalStore
from agentic_flow.core.evals.records import CellResult, EvalRun
from agentic_flow.core.evals.reports import EvalReport, fmt_seconds, summarize
from agentic_flow.core.messages import Message
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.core.store.database import Store
from agentic_flow.tui.commands import PaletteCommand
from agentic_flow.tui.widgets.charts import ChartsPanel, points_from_eval

__all__ = ["EvalResultsScreen", "EvalCellScreen", "EvalRunPicker", "load_report"]

TRANSCRIPT_LIMIT = 3000


def load_report(run_id: str | None) -> EvalReport:
    """The report of ``run_id`` (None: the latest run) from the user's store (runs in a thread)."""
    with Store() as store:
        evals = EvalStore(store)
        run = evals.resolve_run(run_id)
        return summarize(run, evals.run_cells(run))


def _load_messages(session_ids: Iterable[str]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    with Store() as store:
        for sid in session_ids:
            try:
                out[sid] = store.load_messages(sid)
            except StoreError:
                continue
    return out


class EvalRunPicker(ModalScreen["str | None"]):
    """Choose one of the stored eval runs (newest first)."""

    DEFAULT_CSS = """
    EvalRunPicker {
        align: center middle;
    }
    EvalRunPicker > Vertical {
        width: 96;
        max-width: 95%;
        height: auto;
        max-height: 80%;
        border: heavy $primary;
        background: $surface;
        padding: 1 2;
    }
    EvalRunPicker OptionList {
        height: auto;
        max-height: 18;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, runs: list[EvalRun]) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.assemble(("Eval runs", "bold $text-primary")))
            yield OptionList(
                *(
                    Option(
                        f"{r.id}  {r.updated_at:%Y-%m-%d %H:%M}  {r.suite_name}  {r.status}  "
                        f"{len(r.tasks)} tasks × {len(r.models)} models × {r.runs}",
                        id=r.id,
                    )
                    for r in self.runs
                ),
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class EvalResultsScreen(Screen[None]):
    """One eval run: the summary per model, the matrix (Enter drills down) and the charts."""

    DEFAULT_CSS = """
    EvalResultsScreen #eval-summary {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $surface;
    }
    EvalResultsScreen #eval-matrix {
        height: 1fr;
        min-height: 5;
    }
    EvalResultsScreen #eval-charts {
        height: 14;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+l", "toggle_charts", "Charts"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, run_id: str | None = None, *, report: EvalReport | None = None,
                 name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.run_id = run_id
        self.report: EvalReport | None = report

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Content("Reading the eval run…"), id="eval-summary")
        yield DataTable(cursor_type="cell", zebra_stripes=True, id="eval-matrix")
        yield ChartsPanel(id="eval-charts")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Eval results"
        if self.report is not None:
            self._show(self.report)
        else:
            self._load()

    @property
    def matrix(self) -> DataTable[str]:
        return self.query_one("#eval-matrix", DataTable)

    @property
    def charts(self) -> ChartsPanel:
        return self.query_one("#eval-charts", ChartsPanel)

    @work(exclusive=True, group="eval-results", exit_on_error=False)
    async def _load(self) -> None:
        try:
            report = await asyncio.to_thread(load_report, self.run_id)
        except StoreError as exc:
            self.query_one("#eval-summary", Static).update(Content(str(exc)))
            self.notify(str(exc), title="Eval results", severity="error", timeout=10)
            return
        self._show(report)

    def _show(self, report: EvalReport) -> None:
        self.report = report
        run = report.run
        self.sub_title = f"Eval {run.suite_name} · {run.id}"
        lines = [
            Content.assemble(
                (f"{run.suite_name} ", "bold $text-accent"),
                f"run {run.id} · {run.status} · {len(run.tasks)} tasks × {len(run.models)} models × {run.runs} run(s)",
                (f" · {report.missing} cell(s) without a result" if report.missing else "", "$text-warning"),
            )
        ]
        for m in report.models:
            lines.append(
                Content.assemble(
                    (f"{m.model_id:<34}", "bold"),
                    f" pass {m.rate_text():<24} solved {m.passed}/{m.cells}  cost {format_cost(m.cost) if m.cells else '-'}"
                    f" ({format_cost(m.cost_per_solved) if m.passed else '-'}/solved)  TTFT p50 {fmt_seconds(m.ttft_p50)}"
                    f"  wall p50 {fmt_seconds(m.wall_p50)}",
                )
            )
        self.query_one("#eval-summary", Static).update(Content("\n").join(lines))
        table = self.matrix
        table.clear(columns=True)
        table.add_column("Task", key="task")
        for model in run.models:
            table.add_column(model, key=model)
        for task in report.tasks:
            table.add_row(task, *(report.matrix_cell(task, m) for m in run.models), key=task)
        if run.models:
            table.move_cursor(row=0, column=1)
        self.charts.set_points(points_from_eval(report))
        table.focus()

    @on(DataTable.CellSelected, "#eval-matrix")
    def _cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        self.open_cell(str(event.cell_key.row_key.value), str(event.cell_key.column_key.value))

    def open_cell(self, task_id: str, model_id: str) -> None:
        """Drill down to the runs of ``task_id`` on ``model_id``."""
        if self.report is None or model_id == "task":
            return
        cells = self.report.cell_list(task_id, model_id)
        if not cells:
            self.notify(f"No result stored for {task_id} on {model_id} yet.", severity="warning")
            return
        self.app.push_screen(EvalCellScreen(cells))

    def action_back(self) -> None:
        self.dismiss(None)

    def action_toggle_charts(self) -> None:
        self.charts.display = not self.charts.display

    def action_reload(self) -> None:
        if self.report is not None:
            self.run_id = self.report.run.id
        self._load()

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Evals: reload this run", "Read the run again from the store", self.action_reload)
        yield PaletteCommand("Evals: charts", "Show or hide the charts", self.action_toggle_charts)
        yield PaletteCommand("Evals: back", "Close the eval results", self.action_back)


class EvalCellScreen(Screen[None]):
    """Every run of one task on one model: checks, figures, diff and transcript."""

    DEFAULT_CSS = """
    EvalCellScreen #cell-body {
        height: 1fr;
        padding: 0 1;
    }
    EvalCellScreen .cell-head {
        margin-top: 1;
        text-style: bold;
    }
    """

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, cells: list[CellResult], *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.cells = cells

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="cell-body"):
            for cell in self.cells:
                yield from self._cell_widgets(cell)
        yield Footer()

    def on_mount(self) -> None:
        first = self.cells[0]
        self.sub_title = f"{first.task_id} × {first.model_id}"
        self._load_transcripts()

    def _cell_widgets(self, cell: CellResult) -> Iterable[Static]:
        r = cell.run
        mark = ("✓ passed", "bold $text-success") if cell.passed else ("✗ failed", "bold $text-error")
        yield Static(Content.assemble(mark, f"  run {cell.run_index + 1} of {cell.task_id} on {cell.model_id}"),
                     classes="cell-head")
        yield Static(Content(
            f"{r.turns or 0} turn(s) · tools {r.tool_calls_summary} · tokens {r.input_tokens or 0:,} in / "
            f"{r.output_tokens or 0:,} out · cost {format_cost(cell.cost)} · TTFT {fmt_seconds(r.ttft_s)} · "
            f"wall {fmt_seconds(r.total_s)} · stop {r.stop_reason} · diff {r.diff_summary}"
            + (f"\nerror: {cell.error}" if cell.error else "")
        ))
        checks = [
            Content.assemble(("✓ " if c.passed else "✗ ", "$text-success" if c.passed else "$text-error"), c.label,
                             ("  " + c.detail.strip().splitlines()[0] if c.detail.strip() else "", "$text-muted"))
            for c in cell.checks
        ] or [Content("no checks")]
        yield Static(Content("\n").join(checks), classes="cell-checks")
        if r.diff.strip():
            yield Static(Syntax(r.diff, "diff", word_wrap=True, theme="ansi_dark"), classes="cell-diff")
        else:
            yield Static(Content("No changes."), classes="cell-diff")
        yield Static(Content("transcript: reading…"), classes="cell-transcript",
                     id=f"transcript-{cell.key[:16]}")

    @work(exclusive=True, group="eval-cell", exit_on_error=False)
    async def _load_transcripts(self) -> None:
        ids = [c.run.session_id for c in self.cells if c.run.session_id]
        try:
            found = await asyncio.to_thread(_load_messages, ids)
        except StoreError as exc:
            found = {}
            self.notify(f"Transcripts unavailable: {exc}", severity="warning")
        for cell in self.cells:
            widget = self.query_one(f"#transcript-{cell.key[:16]}", Static)
            widget.update(_transcript_content(found.get(cell.run.session_id or "")))

    def action_back(self) -> None:
        self.dismiss(None)


def _transcript_content(messages: list[Message] | None) -> Content:
    if not messages:
        return Content.assemble(("transcript: none stored for this run", "$text-muted"))
    parts = [Content.assemble(("transcript", "bold $text-primary"))]
    for message in messages:
        role = getattr(message, "role", "?")
        if role == "tool":
            body = getattr(message, "content", "")
            body = body if len(body) <= TRANSCRIPT_LIMIT else body[:TRANSCRIPT_LIMIT] + " …"
            parts.append(Content.assemble((f"tool result ({getattr(message, 'name', '')}): ", "bold"), body))
            continue
        text = getattr(message, "content", "") or ""
        calls = " ".join(f"→ {c.name}({', '.join(f'{k}=' + repr(v)[:40] for k, v in c.arguments.items())})"
                         for c in getattr(message, "tool_calls", []))
        parts.append(Content.assemble((f"{role}: ", "bold"), text[:TRANSCRIPT_LIMIT], (f" {calls}" if calls else "", "$text-accent")))
    return Content("\n").join(parts)

