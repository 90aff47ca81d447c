"""The audit review screen over a real store (in the test's AGENTIC_FLOW_HOME)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from agentic_flow.core.paths import data_dir
from agentic_flow.core.permissions.audit import AuditEntry, AuditLog
from agentic_flow.core.store.database import Store
from agentic_flow.tui.screens.audit import AuditEntryScreen, AuditScreen, parse_filter
from agentic_flow.tui.screens.save_dialog import SaveDialog
from tests.tui.session_fakes import wait_for

SIZE = (100, 30)


def ts(minute: int) -> datetime:
    return datetime(2025, 3, 14, 9, minute, 0, tzinfo=timezone.utc)


ENTRIES = [
    AuditEntry(tool="read", arguments={"path": "src/app.py"}, decision="allow", scope="mode", decided_by="mode:ask",
               session_id="s1aaaaaaaaaa", agent="coder", model="anthropic:claude-sonnet-4-5",
               result_summary="read src/app.py (40 lines)", duration_ms=3, ts=ts(1)),
    AuditEntry(tool="edit", arguments={"path": "src/app.py", "old_string": "a", "new_string": "b"}, decision="allow",
               scope="once", decided_by="person", session_id="s1aaaaaaaaaa", agent="coder",
               model="anthropic:claude-sonnet-4-5", result_summary="edited src/app.py (+1 -1)", duration_ms=5, ts=ts(2)),
    AuditEntry(tool="bash", arguments={"command": "git push --force"}, decision="deny", scope="once",
               decided_by="person", reason="not on main", session_id="s1aaaaaaaaaa", agent="coder",
               model="anthropic:claude-sonnet-4-5", result_summary="not executed (denied)", ts=ts(3)),
    AuditEntry(tool="bash", arguments={"command": "git status"}, decision="allow", scope="rule",
               decided_by="rule:bash(git status*) [settings.yaml]", session_id="s2bbbbbbbbbb", agent="reviewer",
               model="openrouter:deepseek/deepseek-chat", result_summary="exit 0", duration_ms=12, ts=ts(4)),
]


@pytest.fixture
def store() -> Store:
    s = Store()
    log = AuditLog(s)
    for entry in ENTRIES:
        log.append(entry)
    yield s
    s.close()


class AuditApp(App[None]):
    def __init__(self, store: Any, workspace: Path, session_id: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.workspace = workspace
        self.session_id = session_id

    def on_mount(self) -> None:
        self.push_screen(AuditScreen(self.store, workspace=self.workspace, session_id=self.session_id))


async def loaded(pilot: Pilot, count: int | None = None) -> AuditScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, AuditScreen) and pilot.app.screen, "screen")
    await wait_for(pilot, lambda: screen.verify_result is not None, "verification")
    if count is not None:
        await wait_for(pilot, lambda: len(screen.rows) == count, f"{count} rows")
    await pilot.pause()
    return screen


def test_parse_filter() -> None:
    assert parse_filter("tool:bash deny who:person Since:2025-01-01 x:y") == (
        {"tool": "bash", "since": "2025-01-01"},
        ["deny", "x:y"],
        {"who": "person"},
    )


async def test_table_verify_status_and_filters(store: Store, tmp_path: Path) -> None:
    app = AuditApp(store, tmp_path, session_id="s1aaaaaaaaaa")
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        verify = str(screen.query_one("#audit-verify", Static).render())
        assert "✓" in verify and "All 4 audit rows verified" in verify
        # A row: session, agent (path), tool, decision, who decided (by column, whatever the order).
        keys = [str(column.key.value) for column in table.ordered_columns]

        def cells(index: int) -> dict[str, str]:
            return dict(zip(keys, (str(c) for c in table.get_row_at(index))))

        row = cells(2)
        assert [row[k] for k in ("session", "agent", "tool", "decision", "scope", "who")] == [
            "s1aaaaaa", "coder", "bash", "deny", "once", "person"
        ]
        assert cells(3)["who"] == "rule:bash(git status*) [settings.yaml]"  # not eaten as markup
        # At 80 columns the result is in view, right after the decision.
        assert keys.index("result") == keys.index("decision") + 1
        await pilot.press("slash")
        assert screen.query_one("#audit-filter", Input).has_focus
        await pilot.press(*"tool:bash")
        await wait_for(pilot, lambda: len(screen.rows) == 2, "bash rows")
        await pilot.press("space", *"who:person")
        await wait_for(pilot, lambda: len(screen.rows) == 1, "the person's bash row")
        assert screen.rows[0].reason == "not on main"
        screen.query_one("#audit-filter", Input).value = "decision:allow src/app.py"
        await wait_for(pilot, lambda: [r.tool for r in screen.rows] == ["read", "edit"], "allowed rows on app.py")
        screen.query_one("#audit-filter", Input).value = ""
        await wait_for(pilot, lambda: len(screen.rows) == 4, "all rows")
        await pilot.press("enter")  # leaves the filter for the table
        assert table.has_focus
        await pilot.press("s")  # only this session
        await wait_for(pilot, lambda: len(screen.rows) == 3, "this session's rows")
        await pilot.press("s")
        await wait_for(pilot, lambda: len(screen.rows) == 4, "all sessions")


async def test_opens_at_the_newest_row_and_home_end_go_to_the_first_and_last(store: Store, tmp_path: Path) -> None:
    app = AuditApp(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        table = screen.query_one(DataTable)
        assert table.cursor_row == 3  # the newest decision, as a log is read
        table.focus()
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == 3


async def test_enter_opens_the_entry(store: Store, tmp_path: Path) -> None:
    app = AuditApp(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        table = screen.query_one(DataTable)
        table.move_cursor(row=2)
        await pilot.press("enter")
        detail = await wait_for(pilot, lambda: isinstance(app.screen, AuditEntryScreen) and app.screen, "detail")
        text = str(detail.query_one("#entry-detail", Static).render())
        assert "git push --force" in text and "not on main" in text and detail.row.hash in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the table")


async def test_export_json_and_csv_where_the_save_dialog_says(store: Store, tmp_path: Path) -> None:
    app = AuditApp(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        screen.query_one("#audit-filter", Input).value = "tool:bash"
        await wait_for(pilot, lambda: len(screen.rows) == 2, "bash rows")
        screen.query_one(DataTable).focus()
        await pilot.press("j")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog) and app.screen, "the save dialog")
        suggested = Path(dialog.query_one("#save-path", Input).value)
        assert suggested.parent == data_dir() / "exports" and suggested.suffix == ".json"
        await pilot.press("enter")
        path = await wait_for(pilot, lambda: screen.last_export, "the JSON export")
        assert path == suggested and not path.is_relative_to(tmp_path)
        data = json.loads(path.read_text())
        assert [d["tool"] for d in data] == ["bash", "bash"] and all("hash" in d for d in data)
        assert str(path) in str(screen.query_one("#audit-info", Static).render())
        screen.last_export = None
        await pilot.press("c")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, SaveDialog) and app.screen, "the save dialog")
        dialog.query_one("#save-path", Input).value = str(tmp_path / "mine.csv")
        await pilot.press("enter")
        path = await wait_for(pilot, lambda: screen.last_export, "the CSV export")
        assert path == tmp_path / "mine.csv"
        lines = path.read_text().splitlines()
        assert lines[0].startswith("id,ts,session_id") and len(lines) == 3


async def test_tampering_shows_a_broken_chain(store: Store, tmp_path: Path) -> None:
    conn = sqlite3.connect(store.path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET decision = 'allow' WHERE id = 3")
    conn.commit()
    conn.close()
    app = AuditApp(store, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        status = screen.query_one("#audit-verify", Static)
        assert status.has_class("-bad")
        assert "✗" in str(status.render()) and "row 3" in str(status.render())


async def test_opens_the_default_store_when_none_is_given(store: Store, tmp_path: Path) -> None:
    app = AuditApp(None, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot, 4)
        assert screen._own_store


def test_snapshot_audit_screen(snap_compare: Any, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot, 4)

    try:
        assert snap_compare(AuditApp(store, tmp_path, "s1aaaaaaaaaa"), terminal_size=(80, 24), run_before=run_before)
    finally:
        monkeypatch.undo()
        time.tzset()
