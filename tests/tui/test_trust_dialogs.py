"""The workbench asks before a workspace's MCP servers start or its settings raise the mode.

Real ``Runtime`` (scripted model server, a real MCP server over stdio) in a temp
workspace; the answers land in ``$AGENTIC_FLOW_HOME/trust.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Checkbox

from agentic_flow.core.runtime import RunOptions
from agentic_flow.tui.screens.session import SessionScreen
from agentic_flow.tui.screens.trust_dialogs import McpTrustDialog, WorkspaceModeDialog
from agentic_flow.tui.widgets.message import MessageView
from tests.llm_server import ScriptedLLMServer, llm_server  # noqa: F401  (fixture)
from tests.tui.session_fakes import wait_for

SIZE = (110, 40)
TIME_SERVER = {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


class SessionApp(App[None]):
    def __init__(self, opts: RunOptions) -> None:
        super().__init__()
        self.opts = opts

    def on_mount(self) -> None:
        self.push_screen(SessionScreen(self.opts))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def opts_for(server: ScriptedLLMServer, workspace: Path) -> RunOptions:
    return RunOptions(model="llamacpp:test-model", base_url=server.openai_url, workspace=str(workspace))


def session_of(app: App[Any]) -> SessionScreen:
    return next(s for s in app.screen_stack if isinstance(s, SessionScreen))


def trust_file(home: Path) -> dict[str, Any]:
    path = home / "trust.json"
    return json.loads(path.read_text()) if path.exists() else {}


def notices(screen: SessionScreen) -> str:
    return "\n".join(view.text for view in screen.query(MessageView))


async def test_mcp_dialog_lists_servers_and_approves_checked_ones(
    llm_server: ScriptedLLMServer, workspace: Path, _isolated_home: Path
) -> None:
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('started')"
    mark = workspace.parent / "evil-started"
    servers = {"time": TIME_SERVER, "evil": {"command": sys.executable, "args": ["-c", code, str(mark)]}}
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, McpTrustDialog) and app.screen, "the MCP dialog")
        assert [r.name for r in dialog.requests] == ["time", "evil"]
        assert "mcp_server_time" in dialog.requests[0].shown and str(mark) in dialog.requests[1].shown
        screen = session_of(app)
        assert screen.runtime is None  # nothing runs before the answer
        await wait_for(pilot, lambda: dialog.focused is not None, "the dialog to take focus")
        box = dialog.query_one("#mcp-time", Checkbox)
        box.focus()
        await pilot.pause()
        await pilot.press("space")
        await wait_for(pilot, lambda: box.value, "the box to be checked")
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.runtime is not None, "the runtime to open")
        assert "mcp:time/get_current_time" in screen.runtime.session.tools
        assert not [name for name in screen.runtime.session.tools if name.startswith("mcp:evil")]
        await wait_for(pilot, lambda: "project MCP server 'evil' was not started (you declined it)" in notices(screen),
                       "the notice")
    assert not mark.exists()
    answers = trust_file(_isolated_home)["workspaces"][str(workspace.resolve())]["mcp"]
    assert (answers["time"]["approved"], answers["evil"]["approved"]) == (True, False)


async def test_escape_starts_nothing_and_remembers_nothing(
    llm_server: ScriptedLLMServer, workspace: Path, _isolated_home: Path
) -> None:
    (workspace / ".mcp.json").write_text(json.dumps({"mcpServers": {"time": TIME_SERVER}}))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, McpTrustDialog), "the MCP dialog")
        await pilot.press("escape")
        screen = session_of(app)
        await wait_for(pilot, lambda: screen.runtime is not None, "the runtime to open")
        assert not [name for name in screen.runtime.session.tools if name.startswith("mcp:")]
        await wait_for(pilot, lambda: "agentic-flow mcp trust time" in notices(screen), "the notice")
    assert trust_file(_isolated_home) == {}


@pytest.mark.parametrize(("key", "mode"), [("t", "auto"), ("n", "ask")])
async def test_workspace_mode_dialog(
    llm_server: ScriptedLLMServer, workspace: Path, _isolated_home: Path, key: str, mode: str
) -> None:
    (workspace / ".claude").mkdir()
    (workspace / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"defaultMode": "bypassPermissions"}}))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, WorkspaceModeDialog) and app.screen, "the mode dialog"
        )
        assert (dialog.request.mode, dialog.request.applied) == ("auto", "ask")
        await pilot.press(key)
        screen = session_of(app)
        await wait_for(pilot, lambda: screen.runtime is not None, "the runtime to open")
        assert screen.runtime.mode == mode
        if mode == "ask":
            await wait_for(pilot, lambda: "agentic-flow trust" in notices(screen), "the notice")
    settings = trust_file(_isolated_home).get("workspaces", {}).get(str(workspace.resolve()), {}).get("settings")
    assert (settings or {}).get("mode") == ("auto" if key == "t" else None)
