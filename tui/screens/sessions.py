"""The session picker: stored sessions to resume, rename or delete.

Opened by ``agentic-flow -r`` (no id), ``/resume`` in a session and the palette. It lists
this workspace's sessions, newest first — age, agent, model, cost, first message —
and all workspaces' with ctrl+a. Type to filter (words in the title, agent, model or
id); up/down move; enter resumes (dismisses with the session id); ctrl+e renames;
ctrl+d deletes (asks first; the audit rows stay, the log is append-only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from agentic_flow.core.errors import StoreError
from agentic_flow.core.models.catalog import format_cost
from agentic_flow.core.store.database import SessionRow, Store
from agentic_flow.tui.widgets.row_table import RowTable

__all__ = ["SessionPicker", "RenameSession", "ConfirmDelete", "format_age"]


def format_age(when: datetime, now: datetime) -> str:
    """``45s``, ``12m``, ``3h``, ``5d``, ``7w`` ago."""
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _cost(row: SessionRow) -> str:
    if row.unpriced_turns:
        return "?" if not row.cost else f"≥{format_cost(row.cost)}"
    return format_cost(row.cost) if row.cost else "$0"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_model(model: str | None, width: int = 22) -> str:
    text = model or "?"
    return text if len(text) <= width else text[: width - 1] + "…"


class RenameSession(ModalScreen["str | None"]):
    """A new title for a session (enter saves, esc cancels)."""

    DEFAULT_CSS = """
    RenameSession { align: center middle; }
    RenameSession > Vertical {
        width: 70; max-width: 95%; height: auto; border: heavy $primary; background: $surface; padding: 1 2;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Rename the session (enter: save · esc: cancel)")
            yield Input(value=self.title_text, id="rename-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDelete(ModalScreen[bool]):
    """Delete a stored session? (y / n)."""

    DEFAULT_CSS = """
    ConfirmDelete { align: center middle; }
    ConfirmDelete > Vertical {
        width: 66; max-width: 95%; height: auto; border: heavy $error; background: $surface; padding: 1 2;
    }
    """
    BINDINGS = [Binding("y", "answer(True)", "Delete"), Binding("n,escape", "answer(False)", "Keep")]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Content.assemble(
                    ("Delete this session?\n\n", "bold $text-error"),
                    f"{self.what}\n\nIts messages, turns and checkpoints are removed; its audit rows stay.\n\n",
                    ("y", "bold $text-accent"), " delete  ", ("n", "bold $text-accent"), " / ",
                    ("esc", "bold $text-accent"), " keep",
                )
            )

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SessionPicker(Screen["str | None"]):
    """Stored sessions; dismisses with the id of the one to resume (None: back).

    Args:
        workspace: whose sessions are listed first (ctrl+a: all workspaces).
        store: the store (default: the user's).
        now: the clock ages are measured against (tests pass a fixed one).
        exclude: a session not to offer (the one open now).
    """

    DEFAULT_CSS = """
    SessionPicker #sessions-summary { padding: 0 1; color: $text-muted; }
    SessionPicker #sessions-filter { margin: 0 1; }
    SessionPicker DataTable { height: 1fr; margin: 0 1; }
    SessionPicker #sessions-detail { padding: 0 1; height: 2; color: $text-muted; }
    """
    SUB_TITLE = "Sessions"
    AUTO_FOCUS = "#sessions-filter"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "resume", "Resume", priority=True),
        Binding("ctrl+e", "rename", "Rename", priority=True),  # before the filter's end-of-line
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+a", "toggle_all", "All workspaces", priority=True),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("pageup", "move(-10)", show=False),
    ]

    def __init__(
        self,
        workspace: Path,
        *,
        store: Store | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        exclude: str | None = None,
    ) -> None:
        super().__init__()
        self.workspace = Path(workspace)
        self._store = store
        self._now = now
        self.exclude = exclude
        self.all_workspaces = False
        self.rows: list[SessionRow] = []
        self.shown: list[SessionRow] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="sessions-summary")
        yield Input(placeholder="Filter sessions (words in the first message, agent, model, id)…", id="sessions-filter")
        table: DataTable[str] = RowTable(cursor_type="row", zebra_stripes=True, id="sessions-table")
        yield table
        yield Static(id="sessions-detail")
        yield Footer()

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#sessions-table", DataTable)

    def on_mount(self) -> None:
        self.table.add_columns("Age", "Agent", "Model", "Cost", "First message")
        self._summary("reading the sessions…")
        self.load()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store()
        return self._store

    @work(exclusive=True, group="sessions-load")
    async def load(self) -> None:
        workspace = None if self.all_workspaces else self.workspace
        try:
            rows = await asyncio.to_thread(self.store.list_sessions, 500, workspace=workspace)
        except StoreError as exc:
            self._summary(f"cannot read the sessions: {exc}")
            return
        self.rows = [r for r in rows if r.id != self.exclude]
        self.loaded = True
        self._fill()

    def _summary(self, text: str) -> None:
        where = "all workspaces" if self.all_workspaces else str(self.workspace)
        self.query_one("#sessions-summary", Static).update(
            Content.assemble(("Sessions of ", "$text-muted"), (where, "bold"), ("  ·  ", "$text-muted"), text)
        )

    def _fill(self) -> None:
        words = self.query_one("#sessions-filter", Input).value.lower().split()
        table = self.table
        keep = self.highlighted.id if self.highlighted is not None else None
        table.clear()
        now = self._now()
        self.shown = []
        # The first message gets what the other columns leave (no sideways scrolling at 80).
        room = max(16, (table.size.width or self.app.size.width) - 50)
        for row in self.rows:
            haystack = f"{row.title} {row.agent} {row.model} {row.id}".lower()
            if not all(w in haystack for w in words):
                continue
            self.shown.append(row)
            table.add_row(
                format_age(row.updated_at, now),
                (row.agent or "?")[:12],
                _short_model(row.model),
                _cost(row),
                _clip(row.title or "(no message)", room),
                key=row.id,
            )
        self._summary(f"{len(self.shown)} session(s)")
        if keep is not None:
            for index, row in enumerate(self.shown):
                if row.id == keep:
                    table.move_cursor(row=index)
        self._detail()

    @property
    def highlighted(self) -> SessionRow | None:
        if not self.shown or not self.is_mounted:
            return None
        index = self.table.cursor_row
        return self.shown[index] if 0 <= index < len(self.shown) else None

    def _detail(self) -> None:
        row = self.highlighted
        detail = self.query_one("#sessions-detail", Static)
        if row is None:
            detail.update("No stored session here yet." if self.loaded else "")
            return
        detail.update(
            Content.assemble(
                (row.id, "bold"),
                f"  {row.model or '?'}  {row.message_count} messages  {row.total_tokens:,} tokens",
                f"\nstarted {row.created_at:%Y-%m-%d %H:%M} UTC  ",
                (row.workspace or "", "$text-muted"),
            )
        )

    @on(Input.Changed, "#sessions-filter")
    def _filter(self) -> None:
        self._fill()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._detail()

    @on(Input.Submitted, "#sessions-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_resume()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_resume()

    def action_move(self, delta: int) -> None:
        table = self.table
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + delta)))

    def action_resume(self) -> None:
        row = self.highlighted
        if row is None:
            self.app.bell()
            return
        self.dismiss(row.id)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_toggle_all(self) -> None:
        self.all_workspaces = not self.all_workspaces
        self.load()

    def action_rename(self) -> None:
        row = self.highlighted
        if row is None:
            return

        def renamed(title: str | None) -> None:
            if not title:
                return
            try:
                self.store.update_session(row.id, title=title)
            except StoreError as exc:
                self.notify(str(exc), severity="error")
                return
            self.load()

        self.app.push_screen(RenameSession(row.title), renamed)

    def action_delete(self) -> None:
        row = self.highlighted
        if row is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.store.delete_session(row.id)
            except StoreError as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"Deleted session {row.id}.")
            self.load()

        self.app.push_screen(ConfirmDelete(f"{row.id} · {row.agent or '?'} · {row.title or '(no message)'}"), answered)
