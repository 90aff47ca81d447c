"""MCP servers in the workbench: which are configured, their status, tools, last error.

With a session open the screen shows that session's servers (they started with it) and
``r`` restarts the highlighted one. With none, it lists the servers configured in
``.mcp.json`` and settings that may start (a project's servers only once trusted; the
others are named in a warning) as "not started"; ``s`` starts them (in a worker) to see
their tools and errors, and they are stopped again when the screen closes. The detail
pane shows the highlighted server's transport and command or URL, its tools, its last
error and its latest notices (progress, log lines, questions asked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from agentic_flow.core.config import LoadedSettings
from agentic_flow.core.errors import McpError
from agentic_flow.core.mcp.client import McpManager, ServerStatus
from agentic_flow.core.mcp.config import McpServerConfig
from agentic_flow.core.runtime import trusted_mcp_servers

__all__ = ["McpScreen", "McpServers"]

NOT_STARTED = "not started"


class McpServers(Protocol):
    """What the screen reads and drives (an ``McpManager``)."""

    @property
    def servers(self) -> list[ServerStatus]: ...

    @property
    def notices(self) -> Any: ...

    async def restart(self, name: str) -> ServerStatus: ...


class McpScreen(Screen[None]):
    """The MCP servers of a session (``manager``), or those configured in ``workspace``."""

    DEFAULT_CSS = """
    McpScreen #mcp-summary {
        height: auto;
        padding: 0 1;
    }
    McpScreen #mcp-servers {
        height: 1fr;
        border: round $border;
    }
    McpScreen #mcp-detail {
        height: 12;
        padding: 0 1;
        background: $surface;
    }
    """

    AUTO_FOCUS = "#mcp-servers"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("r", "restart", "Restart"),
        Binding("s", "start", "Start"),
    ]

    def __init__(
        self,
        manager: McpServers | None = None,
        *,
        workspace: Path | None = None,
        settings: LoadedSettings | None = None,
    ) -> None:
        """
        Args:
            manager: a session's servers; without one the screen lists the configured ones.
            workspace / settings: where ``.mcp.json`` lives and the settings (used without
                a manager).
        """
        super().__init__()
        self.manager = manager
        self.workspace = workspace or Path.cwd()
        self.settings = settings
        self._own: McpManager | None = None
        self.configured: dict[str, McpServerConfig] = {}
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="mcp-summary")
        yield DataTable(id="mcp-servers", cursor_type="row", zebra_stripes=True)
        yield Static(id="mcp-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "MCP servers"
        table = self.query_one("#mcp-servers", DataTable)
        for key, title in (("name", "Server"), ("transport", "Transport"), ("status", "Status"), ("tools", "Tools")):
            table.add_column(title, key=key)
        self.refresh_servers()
        if self.manager is None and self.settings is not None:
            self._read_configuration()

    @work(exclusive=True, group="mcp")
    async def _read_configuration(self) -> None:
        """The servers that may start here (no questions asked: untrusted ones are warnings)."""
        assert self.settings is not None
        warnings: list[str] = []
        self.configured = await trusted_mcp_servers(self.workspace, self.settings, warnings)
        self.refresh_servers()
        for warning in warnings:
            self.notify(warning, title="MCP configuration", severity="warning", timeout=10)

    # ------------------------------------------------------------------ data

    @property
    def source(self) -> McpServers | None:
        return self.manager or self._own

    def statuses(self) -> list[ServerStatus]:
        """The servers as shown: live statuses, or the configured ones not started."""
        source = self.source
        if source is not None:
            return list(source.servers)
        return [ServerStatus(name, cfg.transport, NOT_STARTED) for name, cfg in self.configured.items()]

    def refresh_servers(self) -> None:
        table = self.query_one("#mcp-servers", DataTable)
        keep = self.highlighted
        table.clear()
        statuses = self.statuses()
        for status in statuses:
            shown = status.status if not status.status.startswith("failed") else "failed"
            table.add_row(status.name, status.transport, shown, str(len(status.tools)), key=status.name)
        if keep is not None:
            names = [s.name for s in statuses]
            if keep in names:
                table.move_cursor(row=names.index(keep))
        self._update_summary(statuses)
        self._update_detail()

    @property
    def highlighted(self) -> str | None:
        table = self.query_one("#mcp-servers", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - no row under the cursor
            return None

    def _update_summary(self, statuses: list[ServerStatus]) -> None:
        summary = self.query_one("#mcp-summary", Static)
        if not statuses:
            summary.update("No MCP servers configured: add them to .mcp.json or mcpServers in your settings.")
            return
        ready = sum(1 for s in statuses if s.status == "ready")
        failed = sum(1 for s in statuses if s.status.startswith("failed"))
        if self.manager is not None:
            where = "this session's servers · r restarts the highlighted one"
        elif self._own is not None:
            where = "started from this screen (stopped when it closes) · r restarts"
        else:
            where = "configured, not started (they start with a session) · s starts them now"
        summary.update(
            Content.assemble(
                (f"{len(statuses)} server(s)", "bold"),
                f" · {ready} ready · {failed} failed · ",
                (where, "$text-muted"),
            )
        )

    def _update_detail(self) -> None:
        detail = self.query_one("#mcp-detail", Static)
        name = self.highlighted
        status = next((s for s in self.statuses() if s.name == name), None)
        if status is None:
            detail.update("")
            return
        config = self.configured.get(status.name)
        parts: list[str | tuple[str, str]] = [(status.name, "bold"), f"  {status.transport}"]
        if config is not None:
            parts.append((f"  {config.describe()}", "$text-muted"))
        parts += ["\n", ("status ", "$text-muted"), status.status]
        if status.error:
            parts += ["\n", ("last error ", "$text-error"), status.error]
        tools = ", ".join(status.tools) if status.tools else "none listed"
        parts += ["\n", ("tools ", "$text-muted"), tools]
        source = self.source
        notices = [message for server, message in list(source.notices)[-200:] if server == status.name] if source else []
        for message in notices[-4:]:
            parts += ["\n", ("· ", "$text-muted"), message]
        detail.update(Content.assemble(*parts))

    @on(DataTable.RowHighlighted, "#mcp-servers")
    def _row_highlighted(self) -> None:
        self._update_detail()

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.dismiss(None)

    def action_start(self) -> None:
        if self.source is not None or not self.configured or self.busy:
            return
        self._start()

    @work(exclusive=True, group="mcp")
    async def _start(self) -> None:
        self.busy = True
        self.notify(f"Starting {len(self.configured)} MCP server(s)…", timeout=3)
        manager = McpManager(self.configured)
        self._own = manager
        try:
            await manager.start()
        finally:
            self.busy = False
        self.refresh_servers()

    def action_restart(self) -> None:
        name = self.highlighted
        if name is None or self.source is None or self.busy:
            if self.source is None:
                self.notify("Not started: press s to start the servers.", severity="warning")
            return
        self._restart(name)

    @work(exclusive=True, group="mcp")
    async def _restart(self, name: str) -> None:
        assert self.source is not None
        self.busy = True
        self.notify(f"Restarting {name}…", timeout=3)
        try:
            status = await self.source.restart(name)
        except McpError as exc:
            self.notify(str(exc), severity="error")
            return
        finally:
            self.busy = False
        self.refresh_servers()
        severity = "information" if status.status == "ready" else "error"
        self.notify(f"{name}: {status.status}", severity=severity)  # type: ignore[arg-type]

    async def on_unmount(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            await own.aclose()
