"""The compare screen against real local test servers, plus the model table's measured latency.

Pilot tests point each model at its own scripted server (one fast with correct code, one
slow with a syntax error, one failing with 500s), through keyless OpenAI-compatible
providers in the settings — the same path a user's custom provider takes. The snapshot
uses a scripted comparison with fixed figures, so timing never changes the picture.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import HorizontalScroll
from textual.widgets import Input, Static

from agentic_flow.core.agents.catalog import AgentCatalog, load_catalog
from agentic_flow.core.compare.codecheck import CheckReport, check_blocks, extract_blocks
from agentic_flow.core.compare.result import CompareResult, ModelRun, ModelSummary
from agentic_flow.core.compare.runner import LiveMeter, RunFinished, RunStarted
from agentic_flow.core.config import LoadedSettings, ProviderSettings, Settings
from agentic_flow.core.events import TextDelta
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.paths import data_dir
from agentic_flow.core.store.database import Store
from agentic_flow.tui.app import WorkbenchApp
from agentic_flow.tui.screens.compare import CompareScreen, column_layout
from agentic_flow.tui.screens.models import ModelsScreen
from agentic_flow.tui.screens.save_dialog import SaveDialog
from agentic_flow.tui.state import WorkbenchState
from agentic_flow.tui.widgets.answer_view import AnswerView
from agentic_flow.tui.widgets.model_table import ModelTable
from tests.llm_server import Reply, llm_server_factory  # noqa: F401

SIZE = (80, 24)
TASK = "write a python function that reverses a string"

GOOD_CODE = "Here it is:\n\n```python\ndef reverse(s):\n    return s[::-1]\n```\n\nSlicing with a negative step."
BAD_CODE = (
    "Sure. This one walks the string from the end:\n\n```python\ndef reverse(s):\n    return s[::-1\n```\n\n"
    + " ".join(f"word{i}" for i in range(40))
)

FAST, SLOW, BROKEN = "fast:m-fast", "slow:m-slow", "broken:m-err"


def _model(model_id: str, price_in: float | None, price_out: float | None) -> ModelInfo:
    provider, _, name = model_id.partition(":")
    return ModelInfo(
        id=model_id,
        name=name,
        provider=provider,
        price_in=price_in,
        price_out=price_out,
        context=131072,
        max_output=None,
        tools=True,
        tier="small",
        price_date=date(2025, 1, 1),
        price_source="test fixture",
    )


CATALOG = [_model(FAST, 1.0, 2.0), _model(SLOW, 0.1, 0.2), _model(BROKEN, 0.5, 0.5)]


def agent_catalog(workspace: Path) -> AgentCatalog:
    folder = workspace / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha.md").write_text("---\nname: alpha\ndescription: Writes code.\n---\nYou are alpha.\n")
    full = load_catalog(folder, cwd=workspace)
    agents = {n: a for n, a in full.agents.items() if a.path.is_relative_to(folder)}
    return AgentCatalog(agents=agents, problems=[], dirs=[(folder, "agents-dir")])


def settings_for(workspace: Path, **servers) -> LoadedSettings:
    """One keyless OpenAI-compatible provider per server, named as given."""
    settings = Settings(
        providers={
            name: ProviderSettings(kind="openai", base_url=server.openai_url, needs_key=False)
            for name, server in servers.items()
        }
    )
    return LoadedSettings(
        merged=settings,
        user=settings,
        project=Settings(),
        user_file=workspace / "user-settings.yaml",
        project_file=workspace / ".agentic-flow" / "settings.yaml",
    )


def make_app(workspace: Path, settings: LoadedSettings | None = None, **kwargs) -> WorkbenchApp:
    return WorkbenchApp(
        workspace=workspace,
        settings=settings if settings is not None else settings_for(workspace),
        agent_catalog=agent_catalog(workspace),
        model_catalog=ModelCatalog(CATALOG),
        state=WorkbenchState.load(workspace / "state" / "tui-state.json"),
        **{"load_latency": False, "discover_models": False, **kwargs},
    )


@pytest.fixture
def servers(llm_server_factory):
    fast = llm_server_factory(
        default=Reply.text(GOOD_CODE, input_tokens=20, output_tokens=30, split="events", delay_per_chunk=0.01)
    )
    slow = llm_server_factory(
        default=Reply.text(
            BAD_CODE, input_tokens=20, output_tokens=60, split="events", delay_first=0.6, delay_per_chunk=0.03
        )
    )
    broken = llm_server_factory(default=Reply.error(500, "upstream exploded", retry_after=0))
    return {"fast": fast, "slow": slow, "broken": broken}


async def wait_until(pilot, condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def record_notifications(app) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *args, severity="information", **kwargs):
        seen.append((str(message), severity))
        return original(message, *args, severity=severity, **kwargs)

    app.notify = notify
    return seen


async def open_compare(pilot, models, **kwargs) -> CompareScreen:
    """The compare screen in text mode unless ``tools=True`` (agent mode: tests/tui/test_compare_agent.py)."""
    await pilot.pause()
    screen = CompareScreen(models, **{"tools": False, **kwargs})
    await pilot.app.push_screen(screen)
    await pilot.pause()
    return screen


def text_of(widget: Static) -> str:
    return str(widget.render())


# ---------------------------------------------------------------------------- live runs


async def test_columns_stream_side_by_side_errors_stay_isolated_and_the_summary_ranks(tmp_path, servers):
    app = make_app(tmp_path, settings_for(tmp_path, **servers))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, [FAST, SLOW, BROKEN], task=TASK)
        await pilot.press("enter")  # the task input has focus
        assert screen.running
        fast, slow, broken = (screen.column(m) for m in (FAST, SLOW, BROKEN))

        # The fast model finishes and the broken one fails while the slow one still streams.
        await wait_until(pilot, lambda: fast.run is not None and broken.run is not None, what="fast and broken")
        await wait_until(pilot, lambda: "walks the string" in slow.answer.text, what="slow text")
        assert slow.run is None and screen.running
        assert slow.state == "streaming"
        timing = text_of(slow.query_one(".compare-figures", Static))
        assert "TTFT" in timing and "ms" in timing  # live TTFT of the slow model (>= 600 ms)

        await wait_until(pilot, lambda: not screen.running, what="the end")
        await pilot.pause()

        # Each column: the answer, its figures and its verdict.
        assert fast.answer.text == GOOD_CODE and slow.answer.text == BAD_CODE
        assert fast.state == "done" and slow.state == "done" and broken.state == "failed"
        assert fast.verdict_text() == ("✓ python ok", "ok")
        slow_verdict, kind = slow.verdict_text()
        assert kind == "error" and slow_verdict.startswith("✗ python #1 line 2:")
        broken_verdict, kind = broken.verdict_text()
        assert kind == "error" and "server_error" in broken_verdict and "upstream exploded" in broken_verdict
        figures = text_of(fast.query_one(".compare-figures", Static))
        assert "tokens 20 in / 30 out" in figures and "$0.00008" in figures  # 20×$1/M + 30×$2/M
        assert "end_turn" in fast.border_subtitle

        # The summary ranks by cost, speed and checks; the failure is listed apart.
        summary = screen.query_one("#compare-summary", Static)
        assert summary.display
        text = text_of(summary)
        assert f"1. {SLOW}" in text.splitlines()[0] and f"2. {FAST}" in text.splitlines()[0]  # slow is cheaper
        speed = next(line for line in text.splitlines() if line.startswith("Speed"))
        assert speed.index(FAST) < speed.index(SLOW)
        checks = next(line for line in text.splitlines() if line.startswith("Checks"))
        assert f"1. {FAST} 1/1 ok" in checks and f"2. {SLOW} 0/1 ok" in checks
        assert f"{BROKEN} (server_error)" in text
        assert screen.result is not None and screen.result.complete
        assert "done" in text_of(screen.query_one("#compare-status", Static))

        # Every server was asked for exactly its model.
        assert {r.model for r in servers["fast"].requests} == {"m-fast"}
        assert {r.model for r in servers["slow"].requests} == {"m-slow"}

    # Finished runs were recorded as latency samples for the model table.
    with Store() as store:
        stats = store.all_latency_stats()
    assert stats[FAST].count == 1 and stats[SLOW].count == 1 and BROKEN not in stats
    assert stats[SLOW].ttft_p50 >= 600


async def test_export_asks_where_and_writes_markdown_csv_and_json_there(tmp_path, servers):
    app = make_app(tmp_path, settings_for(tmp_path, **servers))
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        screen = await open_compare(pilot, [FAST, BROKEN], task=TASK)
        await pilot.press("ctrl+s")  # nothing to export before a run
        assert any("Nothing to export yet" in m and s == "warning" for m, s in seen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not screen.running, what="the end")
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SaveDialog)
        field = dialog.query_one("#save-path", Input)
        suggested = Path(field.value)
        assert suggested.parent == data_dir() / "exports" and suggested.suffix == ".md"
        assert not suggested.is_relative_to(tmp_path)  # never the workspace by itself
        await pilot.press("enter")
        await pilot.pause()
        md = screen.last_export
        assert md == suggested and md.is_file()
        assert any(m == f"Markdown written to {md}" for m, _ in seen)
        text = md.read_text()
        assert "### Model comparison" in text and f"| `{FAST}` | ok |" in text and "upstream exploded" in text

        # the path is the user's to change; Esc writes nothing
        await pilot.press("ctrl+s")
        await pilot.pause()
        field = app.screen.query_one("#save-path", Input)
        field.value = str(tmp_path / "out" / "mine.md")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.last_export == tmp_path / "out" / "mine.md" and screen.last_export.is_file()
        await pilot.press("ctrl+s")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.last_export == tmp_path / "out" / "mine.md"

        csv_path = screen.export_to(tmp_path / "r.csv", "csv")
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
        assert [(r["model"], r["status"]) for r in rows] == [(FAST, "ok"), (BROKEN, "failed")]
        json_path = screen.export_to(tmp_path / "r.json", "json")
        assert json.loads(json_path.read_text())["models"] == [FAST, BROKEN]
        assert any(m == f"CSV written to {csv_path}" for m, _ in seen)


async def test_escape_cancels_a_running_comparison_and_goes_back(tmp_path, llm_server_factory):
    slow = llm_server_factory(default=Reply.text("never seen", delay_first=10))
    fast = llm_server_factory(default=Reply.text("quick"))
    app = make_app(tmp_path, settings_for(tmp_path, slow=slow, fast=fast))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, ["fast:a", "slow:b"], task="hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.column("fast:a").run is not None, what="fast:a")
        worker = screen._worker
        began = time.monotonic()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        await wait_until(pilot, lambda: worker.is_finished, timeout=3, what="the worker to stop")
        assert worker.is_cancelled
        assert time.monotonic() - began < 3  # not the 10 s the slow model would take
        assert screen.comparison.result is not None and not screen.comparison.result.complete


async def test_stop_keeps_partial_results_that_can_be_exported(tmp_path, llm_server_factory):
    slow = llm_server_factory(default=Reply.text("never seen", delay_first=10))
    fast = llm_server_factory(default=Reply.text("quick answer"))
    app = make_app(tmp_path, settings_for(tmp_path, slow=slow, fast=fast))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, ["fast:a", "slow:b"], task="hi")
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.column("fast:a").run is not None, what="fast:a")
        screen.action_stop()
        await wait_until(pilot, lambda: not screen.running, timeout=3, what="the stop")
        await pilot.pause()
        assert screen.column("slow:b").state == "cancelled"
        assert screen.result is not None and not screen.result.complete
        assert "stopped" in text_of(screen.query_one("#compare-status", Static))
        path = screen.export_to(tmp_path / "partial.md", "md")
        assert "interrupted: partial results" in path.read_text()


async def test_marked_models_open_the_compare_screen_from_the_model_table(tmp_path, servers):
    app = make_app(tmp_path, settings_for(tmp_path, **servers))
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        models = app.screen
        assert isinstance(models, ModelsScreen)
        table = models.table
        await pilot.press("tab")
        table.select_model(FAST)
        await pilot.press("space")
        table.select_model(BROKEN)
        await pilot.press("space")
        table.select_model(SLOW)  # highlighted, not marked: two are marked, so it is not added
        await pilot.press("ctrl+t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert set(screen.models) == {FAST, BROKEN} and screen.agent.name == "alpha"
        assert isinstance(app.focused, Input) and app.focused.id == "compare-task"
        assert screen.tools  # agent mode by default; this test compares answers
        await pilot.press("ctrl+o")
        assert not screen.tools
        await pilot.press(*"hello", "enter")
        await wait_until(pilot, lambda: not screen.running, what="the end")
        assert servers["fast"].requests[0].last_user_text() == "hello"
        assert "You are alpha." in json.dumps(servers["fast"].requests[0].body["messages"][0])  # the agent's prompt
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is models

        # With one model marked the highlighted one joins it; with none, a hint.
        table.toggle_mark(FAST)  # BROKEN stays marked
        table.select_model(SLOW)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen) and app.screen.models == [BROKEN, SLOW]
        await pilot.press("escape")
        await pilot.pause()
        models.action_clear_marks()
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen is models
        assert any("Mark two or more models" in m for m, _ in seen)


async def test_palette_command_compares_the_marked_models(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.marked_models.update({FAST, SLOW})
        names = [c.name for c in app.palette_commands(app.screen)]
        assert "Compare: the marked models" in names
        command = next(c for c in app.palette_commands(app.screen) if c.name == "Compare: the marked models")
        command.callback()
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen) and set(app.screen.models) == {FAST, SLOW}
        names = [c.name for c in app.palette_commands(app.screen)]
        assert {"Compare: export as Markdown", "Compare: export as CSV", "Compare: export as JSON",
                "Compare: apply a diff", "Compare: view a diff", "Compare: charts"} <= set(names)


async def test_eighty_columns_show_every_model_sharing_the_width(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, [FAST, SLOW, BROKEN], task=TASK)
        columns = screen.query_one("#compare-columns", HorizontalScroll)
        assert [c.outer_size.width for c in screen.columns] == [26, 26, 26]
        assert columns.max_scroll_x == 0  # all three in view, nothing to scroll
        await pilot.press("tab")  # the columns
        assert app.focused is columns
        await pilot.press("tab", "tab", "tab")  # the third column's answer
        assert app.focused is screen.columns[2].answer


async def test_seven_models_at_eighty_columns_scroll_past_the_sixth(tmp_path):
    app = make_app(tmp_path)
    models = [FAST, SLOW, BROKEN, "four:m-4", "five:m-5", "six:m-6", "seven:m-7"]
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(pilot, models, task=TASK)
        columns = screen.query_one("#compare-columns", HorizontalScroll)
        assert {c.outer_size.width for c in screen.columns} == {13}
        assert columns.max_scroll_x == 7 * 13 - 80  # only the seventh is out of view
        await pilot.press("tab")
        await pilot.press("right")
        await wait_until(pilot, lambda: columns.scroll_x > 0, timeout=3, what="the scroll right")


def test_column_layout_shares_the_width_up_to_six():
    assert column_layout(80, 3) == (3, 26)
    assert column_layout(80, 5) == (5, 16)
    assert column_layout(80, 1) == (1, 80)
    assert column_layout(80, 7) == (6, 13)
    assert column_layout(200, 8) == (6, 33)
    assert column_layout(10, 2) == (1, 10)


# ---------------------------------------------------------------------------- snapshot


def _run(model_id: str, answer: str, **figures) -> ModelRun:
    return ModelRun(
        model_id=model_id,
        answer=answer,
        checks=CheckReport(blocks=check_blocks(extract_blocks(answer))),
        **figures,
    )


SCRIPT = {
    FAST: _run(
        FAST, GOOD_CODE, status="ok", ttft_s=0.42, total_s=1.25, tokens_per_s=36.1, input_tokens=20,
        output_tokens=30, cost=0.00008, stop_reason="end_turn",
    ),
    SLOW: _run(
        SLOW, BAD_CODE, status="ok", ttft_s=1.31, total_s=3.02, tokens_per_s=35.5, input_tokens=20,
        output_tokens=60, estimated=True, cost=0.000014, stop_reason="end_turn",
    ),
    BROKEN: _run(
        BROKEN, "", status="failed", error="broken: HTTP 500: upstream exploded (after 3 retries)",
        error_kind="server_error", stop_reason="error", retries=3,
    ),
}


class ScriptedComparison:
    """Plays fixed runs through the screen (same interface as core.compare.Comparison)."""

    def __init__(self, task: str, models, script: dict[str, ModelRun]) -> None:
        self.task = task
        self.models = list(models)
        self.script = script
        self.live = {m: LiveMeter() for m in self.models}
        self.result: CompareResult | None = None

    async def stream(self):
        for m in self.models:
            yield m, RunStarted(model_id=m, run_index=0)
        for m in self.models:
            answer = self.script[m].answer
            for i in range(0, len(answer), 16):
                yield m, TextDelta(text=answer[i : i + 16])
            yield m, RunFinished(model_id=m, run=self.script[m])
        self.result = CompareResult(
            id="snapshot0001",
            created_at=datetime(2025, 9, 1, 12, 0, tzinfo=timezone.utc),
            task=self.task,
            models=self.models,
            runs=1,
            wall_s=3.05,
            summaries=[ModelSummary.of(m, [self.script[m]]) for m in self.models],
        )


async def test_a_scripted_comparison_shows_fixed_figures(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_compare(
            pilot, [FAST, SLOW, BROKEN], task=TASK, record=False, autorun=True,
            factory=lambda task, models, store: ScriptedComparison(task, models, SCRIPT),
        )
        await wait_until(pilot, lambda: screen.result is not None, what="the scripted run")
        await pilot.pause()
        slow = screen.column(SLOW)
        assert text_of(slow.query_one(".compare-figures", Static)).splitlines() == [
            "TTFT 1.31s · 35.5 tok/s · 3.02s",
            "tokens ~20 in / ~60 out · $0.000014",
        ]


async def _finished_scripted_comparison(pilot) -> None:
    await pilot.pause()
    screen = CompareScreen(
        [FAST, SLOW, BROKEN], task=TASK, record=False, autorun=True, tools=False,
        factory=lambda task, models, store: ScriptedComparison(task, models, SCRIPT),
    )
    await pilot.app.push_screen(screen)
    await wait_until(pilot, lambda: screen.result is not None and not screen.running, what="the scripted run")
    screen.query_one("#compare-task", Input).cursor_blink = False
    for column in screen.columns:
        column.answer.scroll_home(animate=False)
    await pilot.pause()


def test_snapshot_finished_comparison(snap_compare, tmp_path):
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=_finished_scripted_comparison)


# ---------------------------------------------------------------------------- model table latency


async def test_model_table_shows_measured_p50_p95_and_the_run_count(tmp_path):
    with Store() as store:
        for ttft, tps in ((400.0, 80.0), (600.0, 60.0), (500.0, 70.0), (1500.0, 20.0)):
            store.record_latency(FAST, ttft_ms=ttft, tokens_per_s=tps, source="compare")
        store.record_latency(SLOW, ttft_ms=2500.0, tokens_per_s=40.0)
    app = make_app(tmp_path, load_latency=True)
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table: ModelTable = app.screen.table

        def cell(model_id: str, column: str) -> str:
            return table.get_cell(model_id, column).plain

        # FAST: p50 of 400/500/600/1500 = 550, p95 = 1500 - 0.15*(1500-600) = 1365
        assert (cell(FAST, "ttft"), cell(FAST, "ttft95"), cell(FAST, "tps"), cell(FAST, "runs")) == (
            "550ms", "1.4s", "65", "4 runs",
        )
        assert (cell(SLOW, "ttft"), cell(SLOW, "ttft95"), cell(SLOW, "runs")) == ("2.5s", "2.5s", "1 run")
        assert (cell(BROKEN, "ttft"), cell(BROKEN, "ttft95"), cell(BROKEN, "tps")) == ("–", "–", "–")
        assert cell(BROKEN, "runs") == "not measured"
        titles = [str(c.label.plain).strip() for c in table.ordered_columns]
        assert "TTFT p50" in titles and "p95" in titles and "Measured" in titles
        table.select_model(FAST)
        await pilot.pause()
        detail = text_of(app.screen.query_one("#model-detail", Static))
        assert "4 run(s): TTFT p50 550ms p95 1.4s" in detail
        table.select_model(BROKEN)
        await pilot.pause()
        assert "not measured" in text_of(app.screen.query_one("#model-detail", Static))


# ---------------------------------------------------------------------------- the answer view


class AnswerApp(App[None]):
    CSS = "AnswerView { width: 21; height: 6; }"  # 20 columns of text + the scrollbar gutter

    def compose(self) -> ComposeResult:
        yield AnswerView()


async def test_answer_view_wraps_appended_text_and_follows_the_end():
    app = AnswerApp()
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(AnswerView)
        view.append("hello wor")
        view.append("ld, this line wraps\tat twenty\x07 cells\r\n")
        view.append("next")
        await pilot.pause()
        assert view.text == "hello world, this line wraps    at twenty cells\nnext"
        assert [view._rows[i] for i in range(view.row_count)] == [
            "hello world, this",
            "line wraps    at",
            "twenty cells",
            "next",
        ]
        assert view.scroll_offset.y == 0
        for i in range(20):
            view.append(f"\nline {i}")
        await pilot.pause()
        assert view.scroll_offset.y > 0  # followed the end
        shown = view.scroll_offset.y + view.scrollable_content_region.height
        assert view.scroll_offset.y <= view.row_count - 1 < shown  # the last row is on screen
        view.scroll_home(animate=False)
        await pilot.pause()
        view.append("\nmore")
        await pilot.pause()
        assert view.scroll_offset.y == 0  # scrolled up by the reader: it stays put
        view.settle()
        assert view.virtual_size.height == view.row_count
        view.clear()
        await pilot.pause()
        assert view.text == "" and view.row_count == 1
