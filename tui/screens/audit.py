"""Audit review: every tool call and permission decision, filterable, with chain status.

The top line says whether the hash chain verifies (``AuditLog.verify``). The table lists
the rows (newest last) and is filtered by what you type after ``/``: words match any
column; ``tool:bash``, ``decision:deny``, ``session:1a2b``, ``who:person``,
``agent:reviewer`` (the agent path a call came from: ``coder › reviewer`` for a
subagent's), ``since:2025-01-01``, ``until:…`` narrow the query itself. Enter opens one entry; ``j`` /
``c`` export the rows shown to a JSON / CSV file at a path the save dialog shows first
(:mod:`tui.screens.save_dialog`; never silently into the workspace).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from agentic_flow.tui.screens.save_dialog import SaveDialog, default_export_path
from agentic_flow.tui.widgets.row_table import RowTable

__all__ = ["AuditScreen", "AuditEntryScreen", "parse_filter", "MAX_ROWS"]

MAX_ROWS = 5000
_QUERY_KEYS = ("tool", "decision", "session", "since", "until")


def parse_filter(text: str) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Split filter text into query filters, free words, and client-side key filters.

    >>> parse_filter("tool:bash deny who:person")
    ({'tool': 'bash'}, ['deny'], {'who': 'person'})
    """
    query: dict[str, str] = {}
    words: list[str] = []
    local: dict[str, str] = {}
    for token in text.split():
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and value and key in _QUERY_KEYS:
            query[key] = value
        elif sep and value and key in ("who", "scope", "agent", "model"):
            local[key] = value.lower()
        else:
            words.append(token.lower())
    return query, words, local


def _row_text(row: Any) -> str:
    return " ".join(
        str(v)
        for v in (
            row.session_id, row.agent, row.model, row.tool, row.decision, row.scope,
            row.decided_by, row.reason, row.result_summary, json.dumps(row.arguments, ensure_ascii=False),
        )
        if v
    ).lower()


def _matches(row: Any, words: list[str], local: dict[str, str]) -> bool:
    text = _row_text(row)
    if any(word not in text for word in words):
        return False
    fields = {"who": row.decided_by, "scope": row.scope, "agent": row.agent, "model": row.model}
    return all(value in str(fields[key] or "").lower() for key, value in local.items())


RESULT_WIDTH = 36
"""Characters of the result shown in the table (enter shows it whole)."""


def _when(ts: datetime) -> str:
    try:
        return ts.astimezone().strftime("%m-%d %H:%M:%S")
    except (ValueError, OSError):
        return str(ts)


class AuditEntryScreen(ModalScreen[None]):
    """Every field of one audit row."""

    DEFAULT_CSS = """
    AuditEntryScreen {
        align: center middle;
    }
    AuditEntryScreen > Vertical {
        width: 90%;
        height: 85%;
        border: heavy $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    AuditEntryScreen VerticalScroll {
        height: 1fr;
    }
    """

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]

    def __init__(self, row: Any) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        label = "bold $text-accent"
        lines: list[Content] = []
        fields = [
            ("id", str(row.id)),
            ("time", _when(row.ts)),
            ("session", row.session_id or ""),
            ("agent", row.agent or ""),
            ("model", row.model or ""),
            ("tool", row.tool),
            ("decision", row.decision),
            ("scope", row.scope),
            ("decided by", row.decided_by),
            ("reason", row.reason or ""),
            ("result", row.result_summary or ""),
            ("duration", f"{row.duration_ms} ms" if row.duration_ms is not None else ""),
        ]
        for name, value in fields:
            lines.append(Content.assemble((f"{name:>10}  ", label), value))
        lines.append(Content.assemble(("arguments", label)))
        lines.append(Content(json.dumps(row.arguments, indent=2, ensure_ascii=False)))
        lines.append(Content.assemble(("prev hash  ", label), (row.prev_hash, "$text-muted")))
        lines.append(Content.assemble(("     hash  ", label), (row.hash, "$text-muted")))
        with Vertical() as box:
            box.border_title = f"Audit entry {row.id}"
            box.border_subtitle = "esc close"
            with VerticalScroll():
                yield Static(Content("\n").join(lines), id="entry-detail")

    def action_close(self) -> None:
        self.dismiss(None)


class AuditScreen(Screen[None]):
    """The audit log as a table.

    Args:
        store: the ``core.store.Store`` (default: the user's store).
        workspace: the project folder (exports go where the save dialog says).
        session_id: the current session; ``s`` toggles showing only its rows.
    """

    DEFAULT_CSS = """
    AuditScreen {
        layout: vertical;
    }
    AuditScreen > #audit-verify {
        height: auto;
        padding: 0 1;
        background: $success 15%;
        color: $text-success;
        text-style: bold;
    }
    AuditScreen > #audit-verify.-bad {
        background: $error 20%;
        color: $text-error;
    }
    AuditScreen > #audit-verify.-pending {
        background: $panel;
        color: $text-muted;
    }
    AuditScreen > #audit-filter {
        margin: 0 0;
    }
    AuditScreen > DataTable {
        height: 1fr;
    }
    AuditScreen > #audit-info {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("j", "export('json')", "JSON"),
        Binding("c", "export('csv')", "CSV"),
        Binding("s", "toggle_session", "This session"),
        Binding("v", "reload", "Verify"),
    ]

    def __init__(
        self,
        store: Any = None,
        *,
        workspace: Path | str | None = None,
        session_id: str | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self._store = store
        self._own_store = False
        self.workspace = Path(workspace or ".").resolve()
        self.session_id = session_id
        self.only_session = False
        self.rows: list[Any] = []
        self.verify_result: Any = None
        self.last_export: Path | None = None

    def compose(self) -> ComposeResult:
        yield Static("Verifying the audit chain…", id="audit-verify", classes="-pending")
        yield Input(
            placeholder="/ filter: words, tool:bash decision:deny session:ID agent:reviewer who:person since:2025-01-01",
            id="audit-filter",
        )
        table: DataTable[Any] = RowTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="audit-info")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # What was decided and what came of it first: at 80 columns the result stays in
        # view; who decided, the agent, the scope and the session follow (scroll right, or enter).
        table.add_column("id", key="id")
        table.add_column("time", key="time")
        table.add_column("tool", key="tool")
        table.add_column("decision", key="decision")
        table.add_column("result", key="result")
        table.add_column("decided by", key="who")
        table.add_column("agent", key="agent")
        table.add_column("scope", key="scope")
        table.add_column("session", key="session")
        table.focus()
        self.reload()

    async def on_unmount(self) -> None:
        if self._own_store and self._store is not None:
            self._store.close()

    def _log(self) -> Any:
        # lazy: the core's heavy imports load after the first frame
        from agentic_flow.core.permissions.audit import AuditLog

        if self._store is None:
            # lazy: the core's heavy imports load after the first frame
            from agentic_flow.core.store.database import Store

            self._store = Store()
            self._own_store = True
        return AuditLog(self._store)

    # -- loading ----------------------------------------------------------------------
    @work(exclusive=True, group="audit-load", exit_on_error=False)
    async def reload(self) -> None:
        """Query (in a thread: SQLite blocks) with the filter typed; verify the chain."""
        text = self.query_one("#audit-filter", Input).value
        query, words, local = parse_filter(text)
        if self.only_session and self.session_id:
            query["session"] = self.session_id
        status = self.query_one("#audit-verify", Static)
        try:
            log = await asyncio.to_thread(self._log)
            rows = await asyncio.to_thread(log.query, limit=MAX_ROWS, **query)
            if self.verify_result is None or not text:
                self.verify_result = await asyncio.to_thread(log.verify)
        except Exception as exc:  # StoreError, bad since/until: say it, keep the screen
            status.update(Content(f"✗ {exc}"))
            status.set_classes("-bad")
            return
        self.rows = [row for row in rows if _matches(row, words, local)]
        result = self.verify_result
        status.set_class(not result.ok, "-bad")
        status.remove_class("-pending")
        mark = "✓" if result.ok else "✗"
        status.update(Content(f"{mark} chain: {result.message}"))
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        variables = self.app.theme_variables
        deny_style = f"bold {variables.get('text-error', 'red')}"
        allow_style = variables.get("text-success", "green")
        for row in self.rows:
            # Text, not str: DataTable parses strings as markup ("[file]" would vanish).
            table.add_row(
                Text(str(row.id)),
                Text(_when(row.ts)),
                Text(row.tool),
                Text(row.decision, style=deny_style if row.decision == "deny" else allow_style),
                Text((row.result_summary or row.reason or "")[:RESULT_WIDTH]),
                Text(row.decided_by),
                Text(row.agent or ""),
                Text(row.scope),
                Text((row.session_id or "")[:8]),
                key=str(row.id),
            )
        if table.row_count:
            table.move_cursor(row=table.row_count - 1)  # the newest decision, as a log is read
        scope = f"session {self.session_id[:8]}" if self.only_session and self.session_id else "all sessions"
        info = f"{len(self.rows)} rows · {scope} · enter details · j/c export JSON/CSV · s this session · / filter"
        if self.last_export is not None:
            info += f"\nexported to {self.last_export}"
        self.query_one("#audit-info", Static).update(Content(info))

    @on(Input.Submitted, "#audit-filter")
    def _filter_submitted(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    @on(Input.Changed, "#audit-filter")
    def _filter_changed(self) -> None:
        self.reload()

    # -- actions --------------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        row = next((r for r in self.rows if str(r.id) == key), None)
        if row is not None:
            self.app.push_screen(AuditEntryScreen(row))

    def action_focus_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def action_back(self) -> None:
        filt = self.query_one("#audit-filter", Input)
        if filt.has_focus:
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)

    def action_reload(self) -> None:
        """Verify the chain again and reload the rows."""
        self.verify_result = None
        self.reload()

    def action_toggle_session(self) -> None:
        if not self.session_id:
            self.notify("No current session to filter on.", severity="warning")
            return
        self.only_session = not self.only_session
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Single-letter keys belong to the filter box while it has focus.
        if action in ("export", "toggle_session", "reload", "focus_filter"):
            return not self.query_one("#audit-filter", Input).has_focus
        return True

    @work(exclusive=True, group="audit-export", exit_on_error=False)
    async def action_export(self, fmt: str) -> None:
        """Ask where (the dialog shows a path), then write the rows shown there."""
        # lazy: the core's heavy imports load after the first frame
        from agentic_flow.core.permissions.audit import export_csv, export_json

        rows = list(self.rows)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        suggested = default_export_path(f"audit-export-{stamp}.{fmt}")
        path = await self.app.push_screen_wait(SaveDialog(f"Export {len(rows)} audit rows as {fmt.upper()}", suggested))
        if path is None:
            return
        text = export_json(rows) if fmt == "json" else export_csv(rows)
        try:
            await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Could not write {path}: {exc.strerror or exc}", severity="error")
            return
        self.last_export = path
        self.notify(f"Exported {len(rows)} rows to {path}", title="Audit export")
        self._fill()
