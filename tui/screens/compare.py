"""The compare screen: one task on N models side by side, streaming live.

Reached from the model table (mark models with Space, press Ctrl+T) or the palette
("Compare: the marked models"). Type the task, Enter runs it on every model at once —
each model an isolated run, so one failing shows its error in its own column and never
stops the others.

* **Agent mode** (the default; Ctrl+O switches): each model runs the agent with its
  tools in its own copy of the workspace (:class:`core.compare.agentic.AgenticComparison`:
  a git worktree at HEAD plus uncommitted changes, or a temp copy), under the headless
  policy shown in the mode line (Ctrl+G cycles accept-edits, auto, deny, read-only). The
  optional check command (second input, e.g. ``pytest -q``) runs in each copy after its
  run. Columns show the answer and the tool calls; the verdict line gives the check,
  the diff stats, turns and tool calls. Ctrl+R shows one model's diff; Ctrl+Y (or ``a``
  in the diff) applies it to the real workspace **through the permission engine** — the
  files it would ask about are listed in one confirmation. Nothing touches the workspace
  before that.
* **Text mode**: the prompt alone, no tools (:class:`core.compare.Comparison`); code in
  the answers is checked (Python parsed with ``ast``).
* Columns: two side by side at 80 columns, up to four on a wide terminal, the rest
  reached by scrolling sideways (Tab walks the columns and scrolls to each).
* Live: one ``@work`` worker iterates the comparison's ``stream()`` and hands each event
  to its column, which only queues text; a 20 Hz timer flushes the queues and reads each
  run's :class:`~core.compare.LiveMeter`. Posting a message per token would cost more
  than the tokens themselves.
* When every run ended: the summary panel ranks the models, and the charts (Ctrl+L;
  shown at once on tall terminals) plot cost against pass rate, latency and tokens.
* Ctrl+S (or the palette) exports the result as Markdown, CSV or JSON to a path the save
  dialog shows and lets you change — never silently into the workspace.
* Esc cancels a running comparison (the worker, hence every model's run) and goes back.

Runs are recorded in the store (latency samples for the model table's p50/p95 — it
shows them when you go back —, usage, the result). ``factory`` replaces how the
comparison is built (tests inject a scripted one so a snapshot's figures are fixed).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static
from textual.worker import Worker

from agentic_flow.core.compare.agentic import HEADLESS_POLICIES, AgenticComparison
from agentic_flow.core.compare.apply import apply_requests, apply_run
from agentic_flow.core.compare.export import render
from agentic_flow.core.compare.options import CallOptions, CheckOptions
from agentic_flow.core.compare.result import CompareResult, ModelRun
from agentic_flow.core.compare.runner import Comparison, LiveMeter
from agentic_flow.core.config import load_settings
from agentic_flow.core.errors import AgenticFlowError, StoreError
from agentic_flow.core.events import Event
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.core.permissions import PermissionEngine
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.store.database import Store
from agentic_flow.tui.commands import PaletteCommand
from agentic_flow.tui.screens.compare_dialogs import DialogApprover, DiffScreen, RunPicker
from agentic_flow.tui.screens.save_dialog import SaveDialog, default_export_path
from agentic_flow.tui.widgets.charts import ChartsPanel, points_from_compare
from agentic_flow.tui.widgets.compare_column import CompareColumn, format_seconds

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import Store

__all__ = [
    "CompareScreen",
    "ComparisonLike",
    "ComparisonFactory",
    "EXPORT_FORMATS",
    "MIN_COLUMN_WIDTH",
    "MAX_VISIBLE_COLUMNS",
    "column_layout",
    "summary_content",
]

logger = logging.getLogger(__name__)

MIN_COLUMN_WIDTH = 13
"""Narrowest column: 80 terminal columns show six side by side (they share the width)."""
MAX_VISIBLE_COLUMNS = 6
"""More models than this scroll sideways however wide the terminal."""
TICK_HZ = 20
"""How often streamed text and live figures are drawn."""
EXPORT_FORMATS: dict[str, tuple[str, str]] = {"md": ("md", "Markdown"), "csv": ("csv", "CSV"), "json": ("json", "JSON")}
"""Format -> (file extension, name)."""
_NAME_WIDTH = 26
TALL_ENOUGH_FOR_CHARTS = 40
"""Terminal rows from which the charts open by themselves when a comparison ends."""


class ComparisonLike(Protocol):
    """What the screen needs of :class:`core.compare.Comparison`."""

    live: dict[str, LiveMeter]
    result: CompareResult | None

    def stream(self) -> Any: ...  # AsyncIterator[tuple[str, Event]]


ComparisonFactory = Callable[[str, Sequence[str], "Store | None"], ComparisonLike]
"""``(task, model_ids, store) -> comparison`` (``store`` is ``None`` when not recording)."""


def column_layout(width: int, models: int) -> tuple[int, int]:
    """``(visible columns, column width)`` for a terminal ``width`` wide.

    As many columns as fit at :data:`MIN_COLUMN_WIDTH`, at most six, never more than
    there are models; they share the width.
    """
    visible = max(1, min(models, MAX_VISIBLE_COLUMNS, width // MIN_COLUMN_WIDTH))
    return visible, max(MIN_COLUMN_WIDTH if width >= MIN_COLUMN_WIDTH else width, width // visible)


def _short(model_id: str) -> str:
    return model_id if len(model_id) <= _NAME_WIDTH else model_id[: _NAME_WIDTH - 1] + "…"


def summary_content(result: CompareResult) -> Content:
    """The ranking panel: cost, speed (total time, first token) and code checks, best first.

    A model whose price is unknown is never ranked cheapest; failed runs are listed apart.
    """
    rank = result.ranking()
    label_style = "bold $text-primary"
    lines: list[Content] = []

    def line(label: str, parts: list[str]) -> None:
        lines.append(Content.assemble((f"{label:<8}", label_style), "  ".join(parts)))

    if rank["cost"]:
        costs = []
        for i, m in enumerate(rank["cost"], 1):
            s = result.summary(m)
            costs.append(f"{i}. {_short(m)} {format_cost(s.cost.median if s.cost else None)}")
        unpriced = [s.model_id for s in result.summaries if s.ok_runs and s.cost is None]
        costs += [f"? {_short(m)}" for m in unpriced]
        line("Cost", costs)
    if rank["total"]:
        speed = []
        for i, m in enumerate(rank["total"], 1):
            s = result.summary(m)
            total = format_seconds(s.total_s.median if s.total_s else None)
            ttft = format_seconds(s.ttft_s.median if s.ttft_s else None)
            speed.append(f"{i}. {_short(m)} {total} (TTFT {ttft})")
        line("Speed", speed)
    if rank["checks"]:
        checks = []
        for i, m in enumerate(rank["checks"], 1):
            s = result.summary(m)
            checks.append(f"{i}. {_short(m)} {s.checks_passed}/{s.checks_total} ok")
        line("Checks", checks)
    else:
        line("Checks", ["no code to check in any answer"])
    failed = [s for s in result.summaries if s.status != "ok"]
    if failed:
        parts = []
        for s in failed:
            kinds = sorted({r.error_kind or "error" for r in s.runs if r.status == "failed"})
            parts.append(f"{_short(s.model_id)} ({', '.join(kinds)})")
        lines.append(Content.assemble((f"{'Failed':<8}", "bold $text-error"), "  ".join(parts)))
    return Content("\n").join(lines)


class CompareScreen(Screen[None]):
    """Run one task on ``models`` side by side."""

    CSS_PATH = "compare.tcss"
    SUB_TITLE = "Compare models"
    AUTO_FOCUS = "#compare-task"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "export('md')", "Export"),
        Binding("ctrl+o", "toggle_tools", "Agent/text"),
        Binding("ctrl+g", "cycle_policy", "Policy", show=False),
        Binding("ctrl+r", "view_diff", "Diff"),
        Binding("ctrl+y", "apply", "Apply"),
        Binding("ctrl+l", "toggle_charts", "Charts"),
    ]

    def __init__(
        self,
        models: Sequence[str],
        *,
        task: str = "",
        agent: Agent | None = None,
        catalog: ModelCatalog | None = None,
        workspace: str | Path | None = None,
        factory: ComparisonFactory | None = None,
        record: bool = True,
        autorun: bool = False,
        tools: bool = True,
        check: str = "",
        approve: str = "accept-edits",
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        """
        Args:
            models: ``provider:model`` ids, one column each, in this order.
            task: the prompt to start with (editable).
            agent: whose system prompt every model gets (``None``: no system prompt).
            catalog: prices for the live cost (default: the app's ``model_catalog``).
            workspace: where exports are written (default: the app's workspace).
            factory: builds the comparison (default: a :class:`core.compare.Comparison`
                with the app's settings and ``--base-url``).
            record: keep latency samples and the result in the store.
            autorun: start as soon as the screen opens (needs ``task``).
            tools: agent mode (the agent with its tools, each model in its own copy of
                the workspace); ``False`` compares plain answers.
            check: the check command run in each copy after its run (agent mode).
            approve: the headless policy of agent runs (one of ``HEADLESS_POLICIES``).
        """
        super().__init__(name=name, id=id)
        self.models = list(dict.fromkeys(models))
        self.agent = agent
        self._initial_task = task
        self._catalog = catalog
        self._workspace = Path(workspace) if workspace is not None else None
        self._factory = factory
        self._record = record
        self._autorun = autorun
        self.comparison: ComparisonLike | None = None
        """The comparison running or last run."""
        self.result: CompareResult | None = None
        """The last finished (or stopped) comparison's result."""
        self.last_export: Path | None = None
        """The file the last export wrote."""
        self._worker: Worker[None] | None = None
        self._active = False
        self._began = 0.0
        self.tools = tools
        self._initial_check = check
        if approve not in HEADLESS_POLICIES:
            raise ValueError(f"approve must be one of {', '.join(HEADLESS_POLICIES)}")
        self.approve = approve
        self.last_apply: str | None = None
        """The message of the last apply (applied, refused, or why nothing changed)."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            self._initial_task,
            placeholder="Task for every model — Enter runs it",
            compact=True,
            id="compare-task",
        )
        yield Input(
            self._initial_check,
            placeholder="Check command run in each copy afterwards (agent mode), e.g. pytest -q",
            compact=True,
            id="compare-check",
        )
        yield Static(id="compare-mode")
        yield Static(id="compare-status")
        with HorizontalScroll(id="compare-columns"):
            catalog = self.catalog
            estimate = self._input_estimate(self._initial_task)
            for index, model_id in enumerate(self.models):
                yield CompareColumn(
                    model_id,
                    cost_of=functools.partial(catalog.cost, model_id) if catalog is not None else None,
                    input_estimate=estimate,
                    id=f"compare-column-{index}",
                )
        yield Static(id="compare-summary")
        yield ChartsPanel(id="compare-charts")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Compare {len(self.models)} models" + (f" · agent {self.agent.name}" if self.agent else "")
        self._ticker = self.set_interval(1 / TICK_HZ, self._tick, pause=True)
        self.query_one("#compare-summary", Static).display = False
        self.charts.display = False
        self._layout_columns(self.app.size.width)
        self._show_mode()
        self._show_status()
        if self._autorun and self._initial_task.strip():
            self.call_after_refresh(self.action_run)

    def on_resize(self, event: Resize) -> None:
        self._layout_columns(event.size.width)

    def _layout_columns(self, width: int) -> None:
        _, column_width = column_layout(width, len(self.models))
        for column in self.columns:
            column.styles.width = column_width

    # ------------------------------------------------------------------ properties

    @property
    def columns(self) -> list[CompareColumn]:
        return list(self.query(CompareColumn))

    def column(self, model_id: str) -> CompareColumn:
        return self.query_one(f"#compare-column-{self.models.index(model_id)}", CompareColumn)

    @property
    def catalog(self) -> ModelCatalog | None:
        return self._catalog if self._catalog is not None else getattr(self.app, "model_catalog", None)

    @property
    def workspace(self) -> Path:
        if self._workspace is not None:
            return self._workspace
        return Path(getattr(self.app, "workspace", None) or Path.cwd())

    @property
    def charts(self) -> ChartsPanel:
        return self.query_one("#compare-charts", ChartsPanel)

    @property
    def check_text(self) -> str:
        return self.query_one("#compare-check", Input).value.strip()

    @property
    def running(self) -> bool:
        """A comparison is streaming (from Enter until every run ended or it was stopped)."""
        return self._active

    @property
    def task_text(self) -> str:
        return self.query_one("#compare-task", Input).value

    def _input_estimate(self, task: str) -> int:
        """Input tokens before the server says (≈ 4 characters a token)."""
        system = self.agent.prompt if self.agent is not None else ""
        return max(1, round((len(task) + len(system)) / 4)) if task else 0

    # ------------------------------------------------------------------ running

    def _default_factory(self, task: str, models: Sequence[str], store: Store | None) -> ComparisonLike:
        if self.tools:
            return AgenticComparison(
                task,
                models,
                workspace=self.workspace,
                agent=self.agent.name if self.agent is not None else None,
                agents_dir=str(agents_dir) if (agents_dir := getattr(self.app, "agents_dir", None)) else None,
                approve=self.approve,
                call=CallOptions(base_url=getattr(self.app, "base_url", None)),
                check=CheckOptions(self.check_text or None),
                store=store,
                catalog=self.catalog,
            )
        return Comparison(
            task,
            models,
            agent=self.agent,
            settings=getattr(self.app, "settings", None),
            catalog=self.catalog,
            store=store,
            call=CallOptions(base_url=getattr(self.app, "base_url", None)),
        )

    @work(exclusive=True, group="compare", exit_on_error=False)
    async def _compare(self, task: str) -> None:
        store = await asyncio.to_thread(self._open_store) if self._record else None
        factory = self._factory or self._default_factory
        completed = False
        try:
            comparison = factory(task, self.models, store)
            self.comparison = comparison
            columns = {c.model_id: c for c in self.columns}
            self._ticker.resume()
            event: Event
            async for model_id, event in comparison.stream():
                column = columns.get(model_id)
                if column is not None:
                    column.observe(event)
            completed = True
        except AgenticFlowError as exc:
            self.notify(str(exc), title="Compare", severity="error", timeout=10)
        except Exception as exc:  # the screen survives a bug in a run; the log has the trace
            logger.exception("compare screen: the comparison failed")
            self.notify(f"The comparison failed: {exc!r}", title="Compare", severity="error", timeout=10)
        finally:
            self._active = False
            self._ticker.pause()
            if store is not None:
                store.close()
            if self.is_attached:
                self._ended(completed)

    def _open_store(self) -> Store | None:

        try:
            return Store()
        except (StoreError, OSError) as exc:
            logger.warning("compare: not recording, the store did not open: %s", exc)
            return None

    def _tick(self) -> None:
        comparison = self.comparison
        live = comparison.live if comparison is not None else {}
        for column in self.columns:
            column.flush(live.get(column.model_id))
        self._show_status()

    def _ended(self, completed: bool) -> None:
        comparison = self.comparison
        live = comparison.live if comparison is not None else {}
        for column in self.columns:
            column.flush(live.get(column.model_id))
            if not completed:
                column.cancel()
        self.result = comparison.result if comparison is not None else None
        summary = self.query_one("#compare-summary", Static)
        if self.result is not None and completed:
            summary.update(summary_content(self.result))
            summary.border_title = "Ranking (best first)"
            summary.display = True
        if self.result is not None:
            self.charts.set_points(points_from_compare(self.result))
            if completed and self.app.size.height >= TALL_ENOUGH_FOR_CHARTS:
                self.charts.display = True
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#compare-status", Static)
        n = len(self.models)
        muted = "$text-muted"
        if self.running:
            done = sum(1 for c in self.columns if c.run is not None)
            elapsed = time.perf_counter() - self._began
            status.update(
                Content.assemble(("● running ", "bold $text-warning"), f"{done} of {n} done · {elapsed:.1f}s",
                                 ("  Esc cancels", muted)),
                layout=False,  # one line, always: a repaint is enough
            )
        elif self.result is not None:
            r = self.result
            failed = sum(1 for s in r.summaries if s.status != "ok")
            state = ("● done ", "bold $text-success") if r.complete else ("● stopped ", "bold $text-warning")
            status.update(
                Content.assemble(
                    state,
                    f"{n} models in {format_seconds(r.wall_s)}",
                    (f" · {failed} failed" if failed else "", "$text-error"),
                    ("  ctrl+s export · ctrl+l charts" + (" · ctrl+r diff · ctrl+y apply" if r.mode == "agent" else "")
                     + " · Enter: run again", muted),
                )
            )
        else:
            agent = f" · agent {self.agent.name}" if self.agent is not None else ""
            status.update(Content.assemble(f"{n} models{agent}", ("  Type the task, Enter runs it", muted)))

    # ------------------------------------------------------------------ events and actions

    @on(Input.Submitted, "#compare-task")
    @on(Input.Submitted, "#compare-check")
    def _task_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        """Run the task in the input on every model (again, if it ran before)."""
        if self.running:
            self.notify("A comparison is already running; Esc cancels it.", severity="warning")
            return
        task = self.task_text
        if not task.strip():
            self.notify("Type the task to send to every model first.", severity="warning")
            return
        if not self.models:
            self.notify("No models to compare: mark some in the model table.", severity="warning")
            return
        estimate = self._input_estimate(task)
        for column in self.columns:
            column.reset()
            column.input_estimate = estimate
        self.result = None
        self.comparison = None
        self.query_one("#compare-summary", Static).display = False
        self._began = time.perf_counter()
        self._active = True
        self._worker = self._compare(task)
        self._show_status()

    def action_stop(self) -> None:
        """Cancel the running comparison and stay (its partial result can be exported)."""
        if self._worker is not None and self.running:
            self._worker.cancel()
            self.notify("Comparison stopped; what arrived is kept.", timeout=3)

    def action_back(self) -> None:
        """Cancel a running comparison and go back."""
        if self.running:
            assert self._worker is not None
            self._worker.cancel()
            self.notify("Comparison cancelled.", timeout=3)
        self.dismiss(None)

    def _show_mode(self) -> None:
        mode = self.query_one("#compare-mode", Static)
        muted = "$text-muted"
        agent = self.agent.name if self.agent is not None else "the default agent"
        if self.tools:
            mode.update(Content.assemble(
                ("agent mode ", "bold $text-accent"), f"{agent} with its tools, each model in its own copy of ",
                (str(self.workspace), "bold"), " · policy ", (self.approve, "bold"),
                ("  ctrl+o text mode · ctrl+g policy", muted),
            ))
        else:
            mode.update(Content.assemble(
                ("text mode ", "bold $text-accent"), f"the prompt only ({agent}'s system prompt), no tools",
                ("  ctrl+o agent mode", muted),
            ))
        self.query_one("#compare-check", Input).display = self.tools

    def action_toggle_tools(self) -> None:
        """Agent mode (tools, isolated copies) or text mode (answers only)."""
        if self.running:
            self.notify("Wait for the comparison to end (or Esc) before switching modes.", severity="warning")
            return
        self.tools = not self.tools
        self._show_mode()

    def action_cycle_policy(self) -> None:
        """Next headless policy for agent runs: accept-edits, auto, deny, read-only."""
        policies = list(HEADLESS_POLICIES)
        self.approve = policies[(policies.index(self.approve) + 1) % len(policies)]
        self._show_mode()

    def action_toggle_charts(self) -> None:
        if self.result is None:
            self.notify("Run the comparison first: the charts plot its results.", severity="warning")
            return
        self.charts.display = not self.charts.display

    # ------------------------------------------------------------------ diffs and apply

    def _agent_runs(self, what: str) -> list[ModelRun] | None:
        result = self.result
        if result is None or result.mode != "agent":
            reason = "Run it in agent mode first (ctrl+o)." if result is not None else "Run the comparison first."
            self.notify(f"No diffs to {what}. {reason}", severity="warning")
            return None
        return result.all_runs

    def action_view_diff(self) -> None:
        """Pick a model and show its diff (``a`` there applies it)."""
        runs = self._agent_runs("show")
        if runs is None:
            return
        assert self.result is not None
        rounds = self.result.runs

        def picked(run: ModelRun | None) -> None:
            if run is not None:
                self.app.push_screen(DiffScreen(run, runs=rounds), lambda apply: self._apply(run) if apply else None)

        self.app.push_screen(RunPicker("Whose diff?", runs, rounds=rounds), picked)

    def action_apply(self) -> None:
        """Pick a model and apply its diff to the workspace, through the permission engine."""
        runs = self._agent_runs("apply")
        if runs is None:
            return
        assert self.result is not None
        self.app.push_screen(
            RunPicker("Apply whose diff to the workspace?", runs, rounds=self.result.runs),
            lambda run: self._apply(run) if run is not None else None,
        )

    def _apply(self, run: ModelRun) -> None:
        self._apply_worker(run)

    @work(exclusive=True, group="compare-apply", exit_on_error=False)
    async def _apply_worker(self, run: ModelRun) -> None:
        result = self.result
        workspace = Path(result.workspace) if result is not None and result.workspace else self.workspace
        try:
            settings = load_settings(workspace)
            engine, warnings = PermissionEngine.from_settings(
                workspace, "ask", user_settings=settings.user_file, project_settings=settings.project_file
            )
            for message in warnings:
                self.notify(message, severity="warning")
            asked = [
                str(r.arguments["path"]) for r in apply_requests(run, workspace) if engine.evaluate(r).outcome == "ask"
            ]
            approver = DialogApprover(self, run, str(workspace), asked)
            store = await asyncio.to_thread(self._open_store) if self._record else None
            try:
                outcome = await apply_run(
                    run, workspace, engine=engine, approver=approver,
                    audit=AuditLog(store) if store is not None else None,
                    compare_id=result.id if result is not None else None,
                )
            finally:
                if store is not None:
                    store.close()
        except AgenticFlowError as exc:
            self.last_apply = str(exc)
            self.notify(str(exc), title="Apply", severity="error", timeout=10)
            return
        self.last_apply = outcome.message
        self.notify(outcome.message, title="Apply", severity="information" if outcome.applied else "warning",
                    timeout=10)

    # ------------------------------------------------------------------ export

    def action_export(self, fmt: str = "md") -> None:
        """Ask where to write the result (the save dialog shows a path), then write it."""
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"unknown export format {fmt!r}")
        result = self.result
        if result is None:
            message = "The comparison is still running." if self.running else "Run the comparison first."
            self.notify(f"Nothing to export yet. {message}", severity="warning")
            return
        ext, label = EXPORT_FORMATS[fmt]
        stamp = result.created_at.strftime("%Y%m%d-%H%M%S")
        suggested = default_export_path(f"compare-{stamp}-{result.id[:8]}.{ext}")

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_to(path, fmt)

        self.app.push_screen(SaveDialog(f"Export the comparison as {label}", suggested), chosen)

    def export_to(self, path: Path, fmt: str = "md") -> Path | None:
        """Write the result to ``path`` in ``fmt``; the full path is notified."""
        result = self.result
        if result is None:
            return None
        _, label = EXPORT_FORMATS[fmt]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(result, fmt), encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc}", title="Export", severity="error", timeout=10)
            return None
        self.last_export = path
        self.notify(f"{label} written to {path}", title="Export", timeout=8)
        return path

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield PaletteCommand("Compare: run the task", "Send the task to every model (again)", self.action_run)
        for fmt, (_, label) in EXPORT_FORMATS.items():
            yield PaletteCommand(
                f"Compare: export as {label}", f"Write the result to a .{fmt} file (you choose where)",
                functools.partial(self.action_export, fmt),
            )
        yield PaletteCommand(
            "Compare: agent mode / text mode", "Run the agent with tools in copies, or compare answers only",
            self.action_toggle_tools,
        )
        yield PaletteCommand("Compare: next policy", "accept-edits, auto, deny, read-only", self.action_cycle_policy)
        yield PaletteCommand("Compare: view a diff", "One model's changes in its copy", self.action_view_diff)
        yield PaletteCommand(
            "Compare: apply a diff", "Apply one model's changes to the workspace (asks first)", self.action_apply
        )
        yield PaletteCommand("Compare: charts", "Cost vs pass rate, latency, tokens", self.action_toggle_charts)
        if self.running:
            yield PaletteCommand("Compare: stop", "Cancel every model's run and keep what arrived", self.action_stop)
        yield PaletteCommand("Compare: back", "Close the compare screen (cancels a running comparison)", self.action_back)
