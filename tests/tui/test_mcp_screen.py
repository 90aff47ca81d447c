"""MCP in the workbench: the elicitation form (Pilot), answered against a real eliciting
MCP server through the TUI approver, and the MCP screen (status, tools, errors, restart)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input, Select, Static, Switch

from agentic_flow.core import paths
from agentic_flow.core.mcp.client import McpManager
from agentic_flow.core.mcp.config import parse_mcp_servers
from agentic_flow.core.tools.base import ToolContext
from agentic_flow.tui.approver import TuiApprover
from agentic_flow.tui.screens.elicitation import ElicitationScreen
from agentic_flow.tui.screens.mcp import McpScreen
from tests.mcp_servers.elicit_server import DEFAULTS_SCHEMA, PROFILE_SCHEMA
from tests.tui.test_catalog_screens import make_app

SERVER = {"command": sys.executable, "args": [str(Path(__file__).parents[1] / "mcp_servers" / "elicit_server.py")]}
SIZE = (100, 40)


class FormApp(App[None]):
    """Shows one elicitation form and keeps the answer."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__()
        self.schema = schema
        self.answers: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(ElicitationScreen("el", "Tell me about you", self.schema), self.answers.append)


async def until(pilot, check, what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if check():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_form_has_a_widget_per_field_with_defaults_filled_in():
    app = FormApp(PROFILE_SCHEMA)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ElicitationScreen)
        labels = [str(s.render()) for s in form.query(".elicit-label").results(Static)]
        assert labels == ["Your name *", "How many *", "Ratio", "Confirm", "Colour"]
        assert form.query_one("#field-name", Input).value == ""
        assert form.query_one("#field-count", Input).value == "3"
        assert form.query_one("#field-confirm", Switch).value is False
        assert form.query_one("#field-color", Select).value == "g"


async def test_accept_checks_the_answer_and_sends_it_typed_with_defaults():
    app = FormApp(PROFILE_SCHEMA)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        form = app.screen
        await pilot.click("#elicit-accept")
        await pilot.pause()
        assert app.screen is form and app.answers == []  # a required field is empty
        assert "Your name: required" in str(form.query_one("#elicit-error", Static).render())
        form.query_one("#field-name", Input).value = "Ada"
        form.query_one("#field-count", Input).value = "11"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "must be at most 10" in str(form.query_one("#elicit-error", Static).render())
        form.query_one("#field-count", Input).value = "5"
        form.query_one("#field-confirm", Switch).value = True
        form.query_one("#field-color", Select).value = "b"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.answers == [("accept", {"name": "Ada", "count": 5, "confirm": True, "color": "b"})]


async def test_decline_and_cancel():
    for button, expected in (("#elicit-decline", ("decline", None)), (None, ("cancel", None))):
        app = FormApp(DEFAULTS_SCHEMA)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if button:
                await pilot.click(button)
            else:
                await pilot.press("escape")
            await pilot.pause()
        assert app.answers == [expected]


async def test_a_form_of_defaults_accepted_as_is_sends_every_default():
    app = FormApp(DEFAULTS_SCHEMA)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#elicit-accept")
        await pilot.pause()
    assert app.answers == [
        ("accept", {"name": "John Doe", "age": 30, "score": 95.5, "status": "active", "verified": True})
    ]


class SessionLike(Screen[None]):
    """Stands in for the session screen the approver posts to."""


async def test_a_real_server_question_is_answered_with_the_form(tmp_path):
    """TuiApprover.elicit (what the runtime hands the MCP client in the workbench)."""
    app = App[None]()
    servers, _ = parse_mcp_servers({"el": SERVER})
    async with app.run_test(size=SIZE) as pilot:
        target = SessionLike()
        await app.push_screen(target)
        approver = TuiApprover(target)
        async with McpManager(servers, elicitation_handler=approver.elicit) as manager:
            tool = manager.tools()["mcp__el__profile"]
            call = asyncio.create_task(tool.run({}, ToolContext(workspace=tmp_path)))
            await until(
                pilot, lambda: isinstance(app.screen, ElicitationScreen) and bool(app.screen.query("#field-name")),
                "the form",
            )
            form = app.screen
            assert "Tell me about you" in str(form.query_one(".elicit-message", Static).render())
            form.query_one("#field-name", Input).value = "Grace"
            await pilot.press("ctrl+s")
            out = await asyncio.wait_for(call, 30)
    assert json.loads(out.content) == {
        "action": "accept",
        "content": {"name": "Grace", "count": 3, "confirm": False, "color": "g"},
    }


async def test_with_no_screen_to_ask_on_the_approver_declines():
    approver = TuiApprover(None)
    assert await approver.elicit("el", "q?", DEFAULTS_SCHEMA) == ("decline", None)


# ---------------------------------------------------------------------------- the MCP screen


def write_servers(servers: dict[str, Any]) -> None:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"mcpServers": servers}))


def rows(screen: McpScreen) -> dict[str, tuple[str, str, str]]:
    return {s.name: (s.transport, s.status.split(":")[0], str(len(s.tools))) for s in screen.statuses()}


async def test_the_palette_opens_the_configured_servers_which_start_on_s(tmp_path):
    write_servers({"el": SERVER, "bad": {"command": str(tmp_path / "no-such-command")}})
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        command = next(c for c in app.palette_commands(app.screen) if c.name.startswith("MCP:"))
        command.callback()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, McpScreen)
        assert rows(screen) == {"el": ("stdio", "not started", "0"), "bad": ("stdio", "not started", "0")}
        assert "s starts them now" in str(screen.query_one("#mcp-summary", Static).render())
        await pilot.press("s")
        await until(pilot, lambda: screen._own is not None and not screen.busy, "the servers to start")
        await pilot.pause()
        assert rows(screen) == {"el": ("stdio", "ready", "3"), "bad": ("stdio", "failed", "0")}
        summary = str(screen.query_one("#mcp-summary", Static).render())
        assert "2 server(s) · 1 ready · 1 failed" in summary
        order = [status.name for status in screen.statuses()]
        table = screen.query_one("#mcp-servers")
        table.move_cursor(row=order.index("bad"))  # its last error is shown
        await pilot.pause()
        shown = str(screen.query_one("#mcp-detail", Static).render())
        assert "last error" in shown and "not found" in shown
        table.move_cursor(row=order.index("el"))
        await pilot.pause()
        assert "defaults, token, profile" in str(screen.query_one("#mcp-detail", Static).render())
        await pilot.press("r")
        await until(pilot, lambda: not screen.busy, "the restart")
        await pilot.pause()
        assert rows(screen)["el"] == ("stdio", "ready", "3")
        own = screen._own
        await pilot.press("escape")
        await pilot.pause()
        assert screen._own is None and own is not None
        assert all(s.status == "stopped" for s in own.servers if s.name == "el")  # closed with the screen


async def test_with_a_session_open_its_servers_are_shown(tmp_path):
    servers, _ = parse_mcp_servers({"el": SERVER})
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        async with McpManager(servers) as manager:
            session = SessionLike()
            session.runtime = type("RuntimeLike", (), {"mcp": manager})()  # type: ignore[attr-defined]
            await app.push_screen(session)
            app.open_mcp()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, McpScreen) and screen.manager is manager
            assert rows(screen) == {"el": ("stdio", "ready", "3")}
            assert "this session's servers" in str(screen.query_one("#mcp-summary", Static).render())
