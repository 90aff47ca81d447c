"""The compare screen in agent mode, the eval results screen and the chart widgets (Pilot).

Agent mode runs against the scripted server and a real git repository: three models edit
isolated worktrees; the diff of one is viewed and applied from the screen, through the
permission engine's confirmation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from agentic_flow.core.evals.runner import EvalRunner
from agentic_flow.core.evals.suite import load_suite
from agentic_flow.core.models.catalog import ModelCatalog, ModelInfo
from agentic_flow.core.store.database import Store
from agentic_flow.tui.app import WorkbenchApp
from agentic_flow.tui.screens.compare import CompareScreen
from agentic_flow.tui.screens.compare_dialogs import ApplyDialog, DiffScreen, RunPicker
from agentic_flow.tui.screens.eval_results import EvalCellScreen, EvalResultsScreen
from agentic_flow.tui.state import WorkbenchState
from agentic_flow.tui.widgets.charts import ChartsPanel, CostPassChart, ModelPoint, short_names
from tests.llm_server import Reply, llm_server, llm_server_factory  # noqa: F401
from tests.test_compare_agentic import CHECK, make_repo, script, snapshot
from tests.test_evals import FIXES, coder

GOOD, BAD, NONE = "llamacpp:m-good", "llamacpp:m-bad", "llamacpp:m-none"


def priced(model_id: str, price_in: float, price_out: float) -> ModelInfo:
    provider, _, name = model_id.partition(":")
    return ModelInfo(id=model_id, name=name, provider=provider, price_in=price_in, price_out=price_out,
                     context=131072, max_output=None, tools=True, tier="small", price_date=date(2025, 1, 1),
                     price_source="test")


CATALOG = ModelCatalog([priced(GOOD, 1.0, 2.0), priced(BAD, 0.5, 1.0), priced(NONE, 0.1, 0.1)])


def make_app(workspace: Path, tmp_path: Path, base_url: str) -> WorkbenchApp:
    return WorkbenchApp(workspace=workspace, base_url=base_url, model_catalog=CATALOG,
                        state=WorkbenchState.load(tmp_path / "state.json"), load_latency=False)


async def wait_until(pilot, condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def test_agent_mode_runs_three_models_in_copies_then_views_and_applies_a_diff(llm_server, tmp_path):
    repo = make_repo(tmp_path)
    before = snapshot(repo)
    script(llm_server)
    app = make_app(repo, tmp_path, llm_server.openai_url)
    async with app.run_test(size=(120, 44)) as pilot:
        await pilot.pause()
        screen = CompareScreen([GOOD, BAD, NONE], task="make test_calc.py pass", check=CHECK)
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.tools and "agent mode" in str(screen.query_one("#compare-mode", Static).render())
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.result is not None and not screen.running, what="the agents")
        await pilot.pause()
        assert snapshot(repo) == before  # nothing touched the workspace

        good, bad, none = (screen.column(m) for m in (GOOD, BAD, NONE))
        assert good.verdict_text() == ("✓ check passed · 1 file +1 -1 · tools edit 1", "ok")
        text, kind = bad.verdict_text()
        assert kind == "error" and text.startswith("✗ check failed (exit 1) · 1 file +1 -1")
        assert none.verdict_text()[0].startswith("✗ check failed") and "no changes" in none.verdict_text()[0]
        assert "→ edit calc.py" in good.answer.text
        assert str(good.query_one(".compare-figures", Static).render()).startswith("TTFT ")
        assert "2 turns" in str(good.query_one(".compare-figures", Static).render())

        # the charts: tall terminal, so they opened; pass rate is the check's
        charts = screen.query_one("#compare-charts", ChartsPanel)
        assert charts.display
        points = {p.model_id: p for p in charts.charts[0].points}
        assert (points[GOOD].pass_rate, points[BAD].pass_rate, points[NONE].pass_rate) == (1.0, 0.0, 0.0)
        assert points[GOOD].cost == pytest.approx((220 * 1.0 + 23 * 2.0) / 1_000_000)
        await pilot.press("ctrl+l")
        assert not charts.display

        # ctrl+r: pick a model, see its diff; `a` applies it after one confirmation
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, RunPicker)
        await pilot.press("enter")  # the first: m-good
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen)
        assert "+    return a + b" in app.screen.query_one("#diff-text", Static).content.code  # a rich Syntax
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ApplyDialog), what="the confirmation")
        assert "? calc.py  modified +1 -1" in str(app.screen.query_one("#apply-list", Static).render())
        await pilot.press("y")
        await wait_until(pilot, lambda: screen.last_apply is not None, what="the apply")
        assert screen.last_apply.startswith("applied the diff of llamacpp:m-good")
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert subprocess.run(CHECK.split(), cwd=repo, capture_output=True).returncode == 0


async def test_cancelling_the_apply_confirmation_changes_nothing(llm_server, tmp_path):
    repo = make_repo(tmp_path)
    script(llm_server)
    app = make_app(repo, tmp_path, llm_server.openai_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = CompareScreen([GOOD], task="fix it")
        await app.push_screen(screen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.result is not None and not screen.running, what="the agent")
        before = snapshot(repo)
        await pilot.press("ctrl+y")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ApplyDialog), what="the confirmation")
        await pilot.press("n")
        await wait_until(pilot, lambda: screen.last_apply is not None, what="the refusal")
        assert screen.last_apply.startswith("not applied") and "cancelled by the user" in screen.last_apply
    assert snapshot(repo) == before


# ---------------------------------------------------------------------------- eval results


@pytest.fixture
def python_on_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


async def test_eval_results_screen_shows_the_matrix_charts_and_drills_down(llm_server, tmp_path, python_on_path):
    llm_server.set_handler(coder)
    runner = EvalRunner(load_suite(FIXES), "llamacpp:m1,vllm:m2", store=Store(), base_url=llm_server.openai_url)
    header, _ = await runner.run()
    app = WorkbenchApp(workspace=tmp_path, model_catalog=CATALOG, state=WorkbenchState.load(tmp_path / "s.json"),
                       load_latency=False)
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.pause()
        command = next(c for c in app.palette_commands(app.screen) if c.name == "Evals: latest results")
        command.callback()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EvalResultsScreen)
        await wait_until(pilot, lambda: screen.report is not None, what="the report")
        await pilot.pause()
        table = screen.query_one("#eval-matrix", DataTable)
        assert table.get_row("fix-add") == ["fix-add", "1/1 ✓", "0/1 ✗"]
        assert table.get_row("slugify") == ["slugify", "1/1 ✓", "1/1 ✓"]
        summary = str(screen.query_one("#eval-summary", Static).render())
        assert header.id in summary and "llamacpp:m1" in summary and "100%" in summary
        points = {p.model_id: p for p in screen.charts.charts[0].points}
        assert points["llamacpp:m1"].pass_rate == 1.0 and points["vllm:m2"].pass_rate == pytest.approx(1 / 3)

        table.move_cursor(row=0, column=2)  # fix-add on vllm:m2
        await pilot.press("enter")
        await pilot.pause()
        cell = app.screen
        assert isinstance(cell, EvalCellScreen) and cell.cells[0].model_id == "vllm:m2"
        await wait_until(pilot, lambda: "reading" not in str(cell.query_one(".cell-transcript", Static).render()),
                         what="the transcript")
        checks = str(cell.query_one(".cell-checks", Static).render())
        assert "✗ command: python -m pytest" in checks and "✓ python parses" in checks
        assert "+    return a * b" in cell.query_one(".cell-diff", Static).content.code
        assert "tool result (edit)" in str(cell.query_one(".cell-transcript", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


# ---------------------------------------------------------------------------- charts


class ChartsApp(App[None]):
    def __init__(self, points) -> None:
        super().__init__()
        self.points = points

    def compose(self) -> ComposeResult:
        yield ChartsPanel(self.points)


POINTS = [
    ModelPoint("openrouter:meta-llama/llama-3.1-8b", 0.5, 0.004, 0.4, 3.0, 1200, 300),
    ModelPoint("anthropic:claude-sonnet-4-5", 1.0, 0.09, 0.9, 6.0, 2000, 800),
    ModelPoint("local:gemma-3-270m", 0.0, None, 0.1, 1.0, 900, 100),
]


async def test_chart_widgets_draw_every_model_and_redraw_on_new_points():
    app = ChartsApp(POINTS)
    async with app.run_test(size=(150, 20)) as pilot:
        await pilot.pause()
        panel = app.query_one(ChartsPanel)
        cost, latency, tokens = panel.charts
        assert [c.border_title for c in panel.charts] == ["Cost vs pass rate", "Latency (s): TTFT, wall", "Tokens: in, out"]
        drawn = {type(c).__name__: c.render().plain for c in panel.charts}
        assert cost.border_subtitle == "price unknown: gemma-3-270m"  # never plotted at $0
        assert "llama-3.1-8b" in drawn["CostPassChart"] and "claude-sonn…" in drawn["CostPassChart"]
        for name in short_names([p.model_id for p in POINTS]):
            assert name in drawn["LatencyChart"] and name in drawn["TokensChart"]
        panel.set_points(POINTS[:1])
        await pilot.pause()
        assert "claude" not in app.query_one(CostPassChart).render().plain
        panel.set_points([])
        await pilot.pause()
        assert "no results yet" in app.query_one(CostPassChart).render().plain


def test_short_names_are_distinct():
    assert short_names(["a:x/model-one", "b:y/model-one", "c:long-name-of-a-model"]) == [
        "model-one#1", "model-one#2", "long-name-o…",
    ]


# ---------------------------------------------------------------------------- the model table


async def test_the_model_table_shows_a_comparisons_latency_when_you_come_back(tmp_path, llm_server_factory):
    from tests.tui.test_compare_screen import FAST, SLOW, make_app as compare_app, settings_for

    fast = llm_server_factory(default=Reply.text("quick", input_tokens=5, output_tokens=2))
    slow = llm_server_factory(default=Reply.text("slower", input_tokens=5, output_tokens=2))
    app = compare_app(tmp_path, settings_for(tmp_path, fast=fast, slow=slow), load_latency=True)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        models = app.screen
        await app.workers.wait_for_complete()
        assert models.table.get_cell(FAST, "runs").plain == "not measured"
        screen = CompareScreen([FAST, SLOW], task="hi", tools=False, autorun=True)
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.result is not None and not screen.running, what="the comparison")
        await pilot.press("escape")
        await wait_until(pilot, lambda: models.table.get_cell(FAST, "runs").plain == "1 run", what="the new figures")
        assert models.table.get_cell(SLOW, "runs").plain == "1 run"


async def test_the_model_table_shows_published_latency_beside_the_measured(tmp_path):
    from agentic_flow.core.models.published_latency import PublishedStore
    from agentic_flow.core.models.refresh import EndpointLatency, Percentiles, PublishedLatency
    from tests.tui.test_compare_screen import FAST, make_app as compare_app

    with Store() as store:
        PublishedStore(store).save(FAST, PublishedLatency(model="x/y", fetched_at=datetime(2026, 5, 4, tzinfo=timezone.utc),
                                                          endpoints=(EndpointLatency(provider="A", latency_ms=Percentiles(p50=300),
                                                                                     throughput_tps=Percentiles(p50=90), uptime_30m=99.0),)))
        store.record_latency(FAST, ttft_ms=1200, tokens_per_s=30, source="compare")
    app = compare_app(tmp_path, load_latency=True)
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"alpha", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.table
        assert (table.get_cell(FAST, "ttft").plain, table.get_cell(FAST, "pub").plain) == ("1.2s", "300ms")
        assert table.get_cell(FAST, "pubtps").plain == "90"
        titles = [str(c.label.plain).strip() for c in table.ordered_columns]
        assert "Pub. TTFT" in titles and "TTFT p50" in titles
        assert "Pub.: OpenRouter published, last 30 min (as of 2026-05-04)" in str(
            app.screen.query_one("#models-summary", Static).render())
        table.select_model(FAST)
        await pilot.pause()
        detail = str(app.screen.query_one("#model-detail", Static).render())
        assert "1 run(s): TTFT p50 1.2s" in detail and "published (OpenRouter, 1 endpoint(s), 2026-05-04)" in detail
