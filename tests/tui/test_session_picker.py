"""The session picker (resume, rename, delete), ``-c`` / ``-r`` in the workbench, ``/resume``,
and the 80-column snapshots of the picker and of a five-model comparison."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

from agentic_flow.core.messages import AssistantMessage, UserMessage
from agentic_flow.core.models.catalog import ModelCatalog
from agentic_flow.core.store.database import SessionNotFound, Store
from agentic_flow.tui.app import WorkbenchApp
from agentic_flow.tui.screens.compare import CompareScreen
from agentic_flow.tui.screens.session import SessionScreen
from agentic_flow.tui.screens.sessions import ConfirmDelete, RenameSession, SessionPicker, format_age
from agentic_flow.tui.widgets.message import MessageView
from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401
from tests.tui import test_compare_screen as compare_fixtures
from tests.tui.session_fakes import wait_for

SMALL = (80, 24)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def stored_session(store: Store, workspace: Path, *, agent: str, model: str, prompt: str, answer: str,
                   age: timedelta, cost: float | None = 0.0123, session_id: str | None = None) -> str:
    sid = store.create_session(agent, model, workspace, session_id=session_id)
    store.append_message(sid, UserMessage(content=prompt))
    store.append_message(sid, AssistantMessage(content=answer))
    store.record_turn(sid, model=model, input_tokens=1200, output_tokens=300, cost=cost)
    when = (NOW - age).isoformat(timespec="microseconds")
    with store.transaction() as conn:
        conn.execute("UPDATE sessions SET created_at = ?, updated_at = ? WHERE id = ?", (when, when, sid))
    return sid


def sessions(workspace: Path) -> list[str]:
    with Store() as store:
        other = workspace.parent / "elsewhere"
        return [
            stored_session(store, workspace, agent="coder", model="llamacpp:test-model", prompt="Add a --verbose flag to the CLI",
                           answer="Done: --verbose prints each step.", age=timedelta(minutes=12), session_id="5e55101a2b3c"),
            stored_session(store, workspace, agent="reviewer", model="openrouter:deepseek/deepseek-chat",
                           prompt="Review the parser changes for edge cases", answer="Three issues found.",
                           age=timedelta(hours=3), cost=None),
            stored_session(store, workspace, agent="tester", model="anthropic:claude-sonnet-4-5",
                           prompt="Write tests for the session store", answer="Added 12 tests.", age=timedelta(days=2)),
            stored_session(store, other, agent="coder", model="openai:gpt-4o-mini", prompt="Another project entirely",
                           answer="ok", age=timedelta(minutes=1)),
        ]


class PickerApp(App[None]):
    def __init__(self, workspace: Path) -> None:
        super().__init__()
        self.workspace = workspace
        self.picked: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(SessionPicker(self.workspace, now=lambda: NOW), self.picked.append)


async def loaded(pilot: Pilot) -> SessionPicker:
    picker = await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionPicker) and pilot.app.screen, "picker")
    await wait_for(pilot, lambda: picker.loaded, "the sessions")
    await pilot.pause()
    return picker


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def test_format_age() -> None:
    assert [format_age(NOW - d, NOW) for d in (timedelta(seconds=5), timedelta(minutes=3), timedelta(hours=5),
                                                timedelta(days=3), timedelta(days=20))] == ["5s", "3m", "5h", "3d", "2w"]


async def test_picker_lists_this_workspace_then_all_filters_renames_deletes_and_resumes(workspace: Path) -> None:
    ids = sessions(workspace)
    app = PickerApp(workspace)
    async with app.run_test(size=SMALL) as pilot:
        picker = await loaded(pilot)
        assert [r.id for r in picker.shown] == ids[:3]  # newest first, this workspace only
        row = [str(c) for c in picker.table.get_row_at(1)]
        assert row[:4] == ["3h", "reviewer", "openrouter:deepseek/d…", "?"]
        assert row[4].startswith("Review the parser changes") and row[4].endswith("…")  # fits 80 columns
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: len(picker.shown) == 4, "all workspaces")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: len(picker.shown) == 3, "this workspace again")
        await pilot.press(*"tests")
        await wait_for(pilot, lambda: [r.id for r in picker.shown] == [ids[2]], "the filter")
        await pilot.press("ctrl+e")
        rename = await wait_for(pilot, lambda: isinstance(app.screen, RenameSession) and app.screen, "rename")
        rename.query_one("#rename-input").value = "Store tests"
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.rows and any(r.title == "Store tests" for r in picker.rows), "the new title")
        picker.query_one("#sessions-filter").value = ""
        await wait_for(pilot, lambda: len(picker.shown) == 3, "no filter")
        await pilot.press("down")  # the second newest now (the renamed one moved to the top)
        doomed = picker.highlighted
        assert doomed is not None
        await pilot.press("ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDelete), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(picker.shown) == 2, "the deletion")
        with Store() as store, pytest.raises(SessionNotFound):
            store.get_session(doomed.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.picked, "the pick")
        assert app.picked == [picker.shown[0].id]


def test_snapshot_session_picker_at_80x24(snap_compare) -> None:
    project = Path("/work/project")  # shown on screen: the same on every machine
    sessions(project)

    async def run_before(pilot: Pilot) -> None:
        picker = await loaded(pilot)
        picker.query_one("#sessions-filter").cursor_blink = False
        await pilot.pause()

    assert snap_compare(PickerApp(project), terminal_size=SMALL, run_before=run_before)


# ---------------------------------------------------------------------------- resuming in the workbench


def workbench(tmp_path: Path, server: ScriptedLLMServer, **kw: Any) -> WorkbenchApp:
    return WorkbenchApp(
        workspace=tmp_path, base_url=server.openai_url, load_latency=False, discover_models=False, **kw
    )


async def test_resume_flag_opens_the_session_with_its_history_and_goes_on(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    with Store() as store:
        sid = stored_session(store, workspace, agent="reviewer", model="llamacpp:test-model",
                             prompt="What does parse() return?", answer="A list of tokens.", age=timedelta(hours=1))
    llm_server.enqueue(Reply.text("It returns an empty list then."))
    app = workbench(workspace, llm_server, resume=sid)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen, "the session")
        await wait_for(pilot, lambda: any("Resumed session" in v.text for v in screen.query(MessageView)), "the history")
        texts = [v.text for v in screen.query(MessageView)]
        assert "What does parse() return?" in texts and "A list of tokens." in texts
        assert any(f"Resumed session {sid}" in t and "agent reviewer" in t for t in texts)
        await pilot.press(*"and for empty input?", "enter")
        await wait_for(pilot, lambda: "It returns an empty list then." in [v.text for v in screen.query(MessageView)], "the answer")
        sent = [m["content"] for m in llm_server.requests[-1].messages if m["role"] != "system"]
        assert sent == ["What does parse() return?", "A list of tokens.", "and for empty input?"]


async def test_resume_without_an_id_opens_the_picker_and_slash_resume_switches(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    with Store() as store:
        first = stored_session(store, workspace, agent="coder", model="llamacpp:test-model", prompt="First topic",
                               answer="First answer.", age=timedelta(hours=2))
        second = stored_session(store, workspace, agent="coder", model="llamacpp:test-model", prompt="Second topic",
                                answer="Second answer.", age=timedelta(hours=1))
    app = workbench(workspace, llm_server, pick_session=True)
    async with app.run_test(size=(100, 30)) as pilot:
        picker = await loaded(pilot)
        assert [r.id for r in picker.shown] == [second, first]
        await pilot.press("down", "enter")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen, "the session")
        await wait_for(pilot, lambda: screen.runtime is not None, "the runtime")
        assert screen.runtime.session_id == first
        await pilot.press(*"/resume", "enter")
        picker = await loaded(pilot)
        assert [r.id for r in picker.shown] == [second]  # not the one open
        await pilot.press("enter")
        resumed = await wait_for(
            pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen is not screen and app.screen, "the switch"
        )
        await wait_for(pilot, lambda: any("Resumed session" in v.text for v in resumed.query(MessageView)), "the history")
        assert resumed.runtime.session_id == second
        assert "Second answer." in [v.text for v in resumed.query(MessageView)]
        assert screen.closed  # the first one's runtime was closed


# ---------------------------------------------------------------------------- compare at 80 columns


def test_snapshot_compare_with_five_models_at_80x24(snap_compare, tmp_path: Path) -> None:
    four, five = "four:m-four", "five:m-five"
    catalog = ModelCatalog([*compare_fixtures.CATALOG, compare_fixtures._model(four, 0.2, 0.4),
                            compare_fixtures._model(five, 2.0, 8.0)])
    script = dict(compare_fixtures.SCRIPT)
    script[four] = compare_fixtures._run(four, "Sure:\n\n```python\ndef reverse(s):\n    return ''.join(reversed(s))\n```",
                                         status="ok", ttft_s=0.61, total_s=1.8, tokens_per_s=30.0, input_tokens=20,
                                         output_tokens=28, cost=0.00002, stop_reason="end_turn")
    script[five] = compare_fixtures._run(five, "Use slicing: `s[::-1]`.", status="ok", ttft_s=0.9, total_s=1.1,
                                         tokens_per_s=12.0, input_tokens=20, output_tokens=9, cost=0.0001,
                                         stop_reason="end_turn")
    models = [compare_fixtures.FAST, compare_fixtures.SLOW, compare_fixtures.BROKEN, four, five]

    async def run_before(pilot: Pilot) -> None:
        await pilot.pause()
        screen = CompareScreen(
            models, task=compare_fixtures.TASK, record=False, autorun=True,
            factory=lambda task, ms, store: compare_fixtures.ScriptedComparison(task, ms, script),
        )
        await pilot.app.push_screen(screen)
        await compare_fixtures.wait_until(pilot, lambda: screen.result is not None and not screen.running, what="run")
        screen.query_one("#compare-task").cursor_blink = False
        for column in screen.columns:
            column.answer.scroll_home(animate=False)
        await pilot.pause()
        assert len(screen.columns) == 5 and all(c.region.right <= 80 for c in screen.columns)  # all in view

    app = compare_fixtures.make_app(tmp_path)
    app.model_catalog = catalog
    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)
