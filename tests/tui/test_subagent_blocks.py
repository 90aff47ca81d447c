"""Subagents in the session screen: live blocks, expansion, permission label, Esc.

A real ``Runtime`` against the scripted server; the subagents' replies wait on events
the test sets, so "both running at once" and "one finished, the other still running"
are states the test creates, not timings it hopes for.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from agentic_flow.core.runtime import RunOptions
from agentic_flow.tui.widgets.message import MessageView
from agentic_flow.tui.widgets.status_bar import StatusBar
from agentic_flow.tui.widgets.subagent_block import SubagentBlock
from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401  (fixture)
from tests.subagent_script import delegate, who, write_agents
from tests.tui.session_fakes import wait_for
from tests.tui.test_session_screen import SessionApp, idle, open_session, send

SIZE = (120, 50)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.py").write_text("x = 1\n", encoding="utf-8")
    write_agents(tmp_path / "agents")
    return workspace


def lead_opts(server: ScriptedLLMServer, ws: Path) -> RunOptions:
    return RunOptions(
        model="llamacpp:test-model", agent="lead", agents_dir=str(ws.parent / "agents"), base_url=server.openai_url,
        workspace=str(ws),
    )


def blocks(screen: Any) -> dict[str, SubagentBlock]:
    return {block.agent: block for block in screen.subagents.values()}


async def test_two_parallel_subagent_blocks_update_independently_and_one_expands(llm_server, ws):
    release = {"reviewer": threading.Event(), "tester": threading.Event()}

    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("Both reported.") if req.tool_results() else delegate(
                ("c1", "reviewer", "review a.py"), ("c2", "tester", "test a.py")
            )
        if agent == "reviewer" and not req.tool_results():
            return Reply.tool_calls([("r1", "read", {"path": "a.py"})], text_before="Reading a.py.")
        release[agent].wait(timeout=20)
        return Reply.text(f"**{agent}** report: fine.")

    llm_server.set_handler(handler)
    app = SessionApp(lead_opts(llm_server, ws))
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_session(pilot)
            await send(pilot, "review and test a.py")
            found = await wait_for(pilot, lambda: len(screen.subagents) == 2 and blocks(screen), "two subagent blocks")
            reviewer, tester = found["reviewer"], found["tester"]
            # both at work at once: the reviewer already past its read, the tester waiting
            await wait_for(pilot, lambda: reviewer.turns == 1, "the reviewer's first turn")
            assert reviewer.state == tester.state == "running"
            assert "lead › reviewer" in reviewer.header_text() and "llamacpp:model-b" in reviewer.header_text()
            assert "llamacpp:model-c" in tester.header_text() and "first turn…" in tester.header_text()
            # the tester finishes while the reviewer keeps running: each block on its own
            release["tester"].set()
            await wait_for(pilot, lambda: tester.state == "done", "the tester to finish")
            assert reviewer.state == "running" and "1 turn " in tester.header_text()
            assert "✓" in tester.header_text()
            release["reviewer"].set()
            await wait_for(pilot, lambda: reviewer.state == "done", "the reviewer to finish")
            await idle(pilot)
            assert "2 turns" in reviewer.header_text()
            # the status bar counts every agent's tokens
            runtime = screen.runtime
            status = screen.query_one(StatusBar).status
            assert status.input_tokens == runtime.totals.input_tokens
            assert status.input_tokens > runtime.session.totals.input_tokens > 0
            # collapsed, the blocks take two lines each; enter expands one
            assert not reviewer.expanded and reviewer.transcript.region.height == 0
            reviewer.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert reviewer.expanded and not tester.expanded
            await wait_for(pilot, lambda: reviewer.transcript.region.height > 0, "the reviewer's transcript")
            assert tester.transcript.region.height == 0
            inner = reviewer.transcript
            read = inner.tool("r1")
            assert read is not None and read.status == "ok" and "x = 1" in (read.result_text or "")
            texts = [v.text for v in inner.query(MessageView)]
            assert "Reading a.py." in texts and "**reviewer** report: fine." in texts
            # the subagents' words stay in their blocks, not in the main transcript
            main_texts = [v.text for v in screen.transcript.query(MessageView) if v.parent is screen.transcript]
            assert "Both reported." in main_texts and not any("report: fine" in t for t in main_texts)
            await pilot.press("enter")
            await pilot.pause()
            assert not reviewer.expanded
    finally:
        release["reviewer"].set()
        release["tester"].set()


async def test_a_subagents_edit_asks_in_the_panel_labelled_with_its_path(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return Reply.text("done") if req.tool_results() else delegate(("c1", "tester", "bump x"))
        if req.tool_results():
            return Reply.text("bumped")
        return Reply.tool_calls([("e1", "edit", {"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"})])

    llm_server.set_handler(handler)
    app = SessionApp(lead_opts(llm_server, ws))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "bump x")
        pending = await wait_for(pilot, lambda: screen.panel.current, "the permission panel")
        assert pending.tool == "edit" and pending.agent == "lead › tester"
        assert "+x = 2" in (pending.preview or "")  # the subagent's preview found its request
        assert "asked by lead › tester" in screen.panel.border_title
        block = blocks(screen)["tester"]
        assert block.state == "running" and block.transcript.tool("e1").status == "pending"
        await pilot.press("y")
        await idle(pilot)
        assert (ws / "a.py").read_text() == "x = 2\n"
        assert block.state == "done" and block.transcript.tool("e1").status == "ok"


async def test_escape_stops_the_main_agent_and_every_subagent(llm_server, ws):
    def handler(req):
        agent = who(req)
        if agent == "lead":
            return delegate(("c1", "reviewer", "r"), ("c2", "tester", "t"))
        return Reply.text(["partial ", f"{agent} ", "work ", "never ", "sent"], stall_after=4, stall_seconds=60,
                          keepalive_interval=0.05)

    llm_server.set_handler(handler)
    app = SessionApp(lead_opts(llm_server, ws))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "go")

        def both_talking() -> bool:
            found = blocks(screen)
            return len(found) == 2 and all(
                any("work" in v.text for v in b.transcript.query(MessageView)) or b.transcript.answer is not None
                for b in found.values()
            )

        await wait_for(pilot, both_talking, "both subagents to stream")
        await pilot.press("escape")
        await idle(pilot)
        found = blocks(screen)
        assert {b.state for b in found.values()} == {"stopped"}
        assert all("■" in b.header_text() for b in found.values())
        assert screen.query_one(StatusBar).status.state == "stopped"
        # what they produced is kept (stored and in the parent's history)
        session = screen.runtime.session
        results = [m for m in session.messages if m.role == "tool"]
        assert len(results) == 2 and all("stopped by the user" in m.content and "partial" in m.content for m in results)


# --------------------------------------------------------------------------- snapshot


def _delegating_app(tmp_path: Path) -> Any:
    from agentic_flow.core import events as ev
    from agentic_flow.core.session import TurnStats
    from tests.tui.session_fakes import Pause, fake_opener
    from tests.tui.test_session_screen import SessionApp as App

    def sub(agent_id: str, event: Any) -> Any:
        return ev.as_agent(event, agent_id, "main")

    review = {"description": "review the diff", "prompt": "Review src/app.py", "subagent_type": "reviewer"}
    tests = {"description": "test greet()", "prompt": "Add tests for greet", "subagent_type": "tester"}
    script = [
        ev.TextDelta(text="Two independent parts: review and tests, in parallel.\n"),
        ev.ToolCallStarted(call_id="c1", name="agent"),
        ev.ToolCallStarted(call_id="c2", name="agent", index=1),
        ev.ToolCallReady(call_id="c1", name="agent", arguments=review),
        ev.ToolCallReady(call_id="c2", name="agent", arguments=tests),
        ev.TurnEnded(stop_reason="tool_use"),
        sub("main.1", ev.SubagentStarted(call_id="c1", agent="reviewer", path="coder › reviewer",
                                        model="anthropic:claude-haiku-4-5", description="review the diff",
                                        model_reason="agent reviewer's model: haiku = anthropic:claude-haiku-4-5")),
        sub("main.2", ev.SubagentStarted(call_id="c2", agent="tester", path="coder › tester",
                                        model="anthropic:claude-sonnet-4-5", description="test greet()",
                                        model_reason="inherited: the parent's model")),
        sub("main.1", ev.ToolCallStarted(call_id="r1", name="read")),
        sub("main.1", ev.ToolCallReady(call_id="r1", name="read", arguments={"path": "src/app.py"})),
        sub("main.1", ev.PermissionDecided(call_id="r1", tool="read", allowed=True, scope="mode", decided_by="mode:ask")),
        sub("main.1", ev.ToolResult(call_id="r1", name="read", content="def greet(name):\n    return 'Hello ' + name")),
        sub("main.1", ev.TextDelta(text="One issue: `greet` has no test for an empty name.")),
        sub("main.1", ev.TurnEnded(stop_reason="end_turn")),
        sub("main.1", ev.SubagentUpdated(turns=2, input_tokens=5200, output_tokens=140, cost=0.0059)),
        sub("main.1", ev.SubagentFinished(call_id="c1", stop_reason="end_turn", turns=2, input_tokens=5200,
                                         output_tokens=140, cost=0.0059)),
        sub("main.2", ev.ToolCallStarted(call_id="t1", name="write")),
        sub("main.2", ev.SubagentUpdated(turns=1, input_tokens=3100, output_tokens=410, cost=0.0155)),
        sub("main.2", ev.ToolCallReady(call_id="t1", name="write", arguments={"path": "tests/test_app.py"})),
        Pause(60),
    ]
    stats = TurnStats(model="fake:model-a", input_tokens=2048, output_tokens=96, cost=0.0031, ttft_s=0.38, total_s=1.4)
    return App(RunOptions(model="fake:model-a", workspace="."), open_runtime=fake_opener(tmp_path, [[stats, *script]]))


def test_snapshot_two_subagents_one_expanded(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Any) -> None:
        screen = await open_session(pilot)
        await send(pilot, "Make the greeting friendlier, reviewed and tested")
        found = await wait_for(pilot, lambda: len(screen.subagents) == 2 and blocks(screen), "two blocks")
        await wait_for(pilot, lambda: found["reviewer"].state == "done" and found["tester"].tool == "write", "states")
        found["reviewer"].focus()
        await pilot.press("enter")
        await pilot.pause()
        # the tool call titles (changed while the worker streamed) are laid out in full
        # A tool call's title changed right after its block was mounted can keep the width
        # of its first label (a Textual layout quirk of the existing ToolCallBlock, seen
        # only when events arrive back to back): lay the titles out again before the shot.
        titles = [t for t in screen.transcript.query("ToolCallTitle") if t.region.width]
        for title in titles:
            title.refresh(layout=True)
        await wait_for(pilot, lambda: all(t.region.width >= cell_len(str(t.label)) + 4 for t in titles), "titles")

    assert snap_compare(_delegating_app(tmp_path), terminal_size=(100, 34), run_before=run_before)
