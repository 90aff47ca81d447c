"""The session screen end to end: Pilot against the scripted HTTP model server, snapshots.

Behaviour tests open a real ``Runtime`` (llamacpp preset, no key) pointed at
``tests/llm_server.py`` in a temp workspace; they wait for states, never for times.
The snapshot uses ``session_fakes`` so TTFT, tokens/s and ids are the same every run.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

from agentic_flow.core.events import TextDelta, ThinkingDelta, ToolCallReady, ToolCallStarted, ToolResult, TurnEnded
from agentic_flow.core.messages import AssistantMessage
from agentic_flow.core.runtime import RunOptions
from agentic_flow.core.session import TurnStats
from agentic_flow.tui.screens.audit import AuditScreen
from agentic_flow.tui.screens.session import SessionScreen
from agentic_flow.tui.screens.session_dialogs import ConfirmAutoMode, ModelPicker
from agentic_flow.tui.widgets.message import FrozenMarkdown, MessageView, Segmenter
from agentic_flow.tui.widgets.status_bar import StatusBar
from agentic_flow.tui.widgets.tool_call import ToolCallBlock
from agentic_flow.tui.widgets.transcript import Transcript
from tests.llm_server import Reply, ScriptedLLMServer, llm_server  # noqa: F401  (fixture)
from tests.tui.session_fakes import EDIT_DIFF, Ask, Gate, Pause, fake_opener, wait_for

SIZE = (100, 40)


class SessionApp(App[None]):
    """The smallest app that shows a session screen."""

    def __init__(self, opts: RunOptions, **kwargs: Any) -> None:
        super().__init__()
        self.opts = opts
        self.kwargs = kwargs

    def on_mount(self) -> None:
        self.push_screen(SessionScreen(self.opts, **self.kwargs))


def screen_of(app: App[Any]) -> SessionScreen:
    screen = app.screen
    assert isinstance(screen, SessionScreen), screen
    return screen


async def open_session(pilot: Pilot) -> SessionScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionScreen) and pilot.app.screen, "screen")
    await wait_for(pilot, lambda: screen.runtime is not None, "the runtime to open")
    return screen


async def send(pilot: Pilot, text: str) -> None:
    screen = screen_of(pilot.app)
    screen.prompt.focus()
    screen.prompt.load_text(text)
    before = screen._turn
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen._turn is not before, "the turn to start")


async def idle(pilot: Pilot) -> None:
    screen = screen_of(pilot.app)
    await wait_for(pilot, lambda: not screen.busy, "the turn to end")
    await pilot.pause()


def all_text(screen: SessionScreen) -> str:
    return "\n".join(view.text for view in screen.query(MessageView))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    return ws


def opts_for(server: ScriptedLLMServer, workspace: Path, **kw: Any) -> RunOptions:
    return RunOptions(model="llamacpp:test-model", base_url=server.openai_url, workspace=str(workspace), **kw)


EDIT = {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"}


def script_read_then_edit(server: ScriptedLLMServer, final: str = "All done.") -> None:
    server.enqueue(Reply.tool_calls([("call_1", "read", {"path": "notes.txt"})], text_before="Reading **notes**."))
    server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
    server.enqueue(Reply.text(final))


# --------------------------------------------------------------------------- end to end


async def test_stream_tool_call_and_approve_once(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    script_read_then_edit(llm_server, "All done: beta became *gamma*.")
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        assert screen.query_one(StatusBar).status.model == "llamacpp:test-model"
        await send(pilot, "change beta")
        panel = screen.panel
        pending = await wait_for(pilot, lambda: panel.current, "the permission panel")
        # The read ran without asking (ask mode allows reads in the workspace)...
        read_block = screen.transcript.tool("call_1")
        assert read_block is not None and read_block.status == "ok"
        assert "alpha" in (read_block.result_text or "")
        assert "Reading notes." in all_text(screen) or "Reading **notes**." in all_text(screen)
        # ...the edit asks, with its diff and the reason.
        assert pending.tool == "edit" and "-beta" in (pending.preview or "") and "+gamma" in (pending.preview or "")
        assert "ask mode" in pending.why
        assert pending.always_rule == "edit(notes.txt)"
        assert panel.has_focus
        assert screen.query_one(StatusBar).status.state == "waiting"
        assert screen.transcript.tool("call_2").status == "pending"
        await pilot.press("h", "i")  # answers nothing: not typed anywhere, and said so once
        await pilot.pause()
        hints = [n for n in app._notifications if "waits for your answer" in n.message]
        assert len(hints) == 1 and screen.prompt.text == "" and not pending.future.done()
        await pilot.press("y")
        await idle(pilot)
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n"
        edit_block = screen.transcript.tool("call_2")
        assert edit_block.status == "ok" and not edit_block.collapsed  # diffs are shown
        assert "All done: beta became *gamma*." in all_text(screen)
        assert screen.transcript.live_markdown_count == 0  # finished messages are static
        assert screen.prompt.has_focus
        status = screen.query_one(StatusBar).status
        assert status.state == "ready" and status.input_tokens > 0 and status.output_tokens > 0
        assert status.ttft_s is not None
    assert screen.closed  # the runtime was closed on unmount


async def test_deny_with_reason_reaches_the_model(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
    llm_server.enqueue(Reply.text("Understood, I will not touch it."))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "change beta")
        await wait_for(pilot, lambda: screen.panel.current, "the permission panel")
        await pilot.press("n")
        reason_input = screen.panel.query_one("#perm-input")
        assert reason_input.has_focus
        await pilot.press(*"keep beta as it is")
        await pilot.press("enter")
        await idle(pilot)
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"
        block = screen.transcript.tool("call_2")
        assert block.status == "denied"
        results = llm_server.requests[-1].tool_results()
        assert any("keep beta as it is" in str(content) for _, content in results)
        assert "Understood" in all_text(screen)


async def test_deny_input_escape_goes_back_to_the_choices(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
    llm_server.enqueue(Reply.text("ok"))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "change beta")
        await wait_for(pilot, lambda: screen.panel.current, "the permission panel")
        await pilot.press("n")
        await pilot.press("escape")  # back to the choices, the answer keeps running
        assert screen.busy and screen.panel.current is not None and screen.panel.has_focus
        await pilot.press("s")
        await idle(pilot)
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n"
        assert "edit(notes.txt)" in [r.text for r in screen.runtime.session.engine.session_rules]


async def test_always_saves_the_rule_in_project_settings(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
    llm_server.enqueue(Reply.text("Saved."))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "change beta")
        pending = await wait_for(pilot, lambda: screen.panel.current, "the permission panel")
        assert pending.settings_file == str(Path(".agentic-flow") / "settings.yaml")
        await pilot.press("a")
        await idle(pilot)
        settings = workspace / ".agentic-flow" / "settings.yaml"
        assert "edit(notes.txt)" in settings.read_text()
        assert "saved rule edit(notes.txt)" in all_text(screen)  # the Notice event, shown inline
        assert str(settings) in all_text(screen)


async def test_mode_cycles_and_auto_needs_confirmation(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        engine = screen.runtime.session.engine
        assert engine.mode == "ask"
        await pilot.press("ctrl+t")
        assert engine.mode == "accept-edits"
        assert screen.query_one(StatusBar).status.mode == "accept-edits"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAutoMode), "the confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "the session screen")
        assert engine.mode == "accept-edits"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmAutoMode), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: engine.mode == "auto", "auto mode")
        assert screen.query_one(StatusBar).status.mode == "auto"
        await pilot.press("ctrl+t")
        assert engine.mode == "read-only"
        await pilot.press("ctrl+t")
        assert engine.mode == "ask"
        # In accept-edits the same edit runs without the panel.
        screen.set_mode("accept-edits")
        llm_server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
        llm_server.enqueue(Reply.text("done"))
        await send(pilot, "change beta")
        await idle(pilot)
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n"
        assert screen.approver.asked == 0


async def test_model_switch_keeps_the_conversation(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.text("The first answer."))
    llm_server.enqueue(Reply.text("The second answer."))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "first question")
        await idle(pilot)
        await pilot.press("ctrl+o")
        picker = await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker) and app.screen, "the model picker")
        assert "llamacpp:test-model" in picker.model_ids
        await pilot.press(*"llamacpp:other-model")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.runtime.session.model_id == "llamacpp:other-model", "the switch")
        assert screen.query_one(StatusBar).status.model == "llamacpp:other-model"
        await send(pilot, "second question")
        await idle(pilot)
        last = llm_server.requests[-1]
        assert last.model == "other-model"
        contents = [str(m.get("content")) for m in last.messages]
        assert any("first question" in c for c in contents)
        assert any("The first answer." in c for c in contents)
        assert "Model switched: llamacpp:test-model → llamacpp:other-model" in all_text(screen)


async def test_switching_to_a_model_without_its_key_says_so_at_once(
    llm_server: ScriptedLLMServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await screen.switch_model("anthropic:claude-haiku-4-5").wait()
        await wait_for(pilot, lambda: "cannot answer yet" in all_text(screen), "the warning")
        assert "ANTHROPIC_API_KEY" in all_text(screen)
        await screen.switch_model("llamacpp:other-model").wait()  # no key needed: nothing said
        await wait_for(pilot, lambda: "→ llamacpp:other-model" in all_text(screen), "the second switch")
        assert all_text(screen).count("cannot answer yet") == 1


async def test_escape_stops_the_answer_and_keeps_the_partial_text(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    words = [f"word{i} " for i in range(200)]
    llm_server.enqueue(Reply.text(words, delay_per_chunk=0.05))
    llm_server.enqueue(Reply.text("Continuing."))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "count slowly")
        await wait_for(pilot, lambda: "word3" in all_text(screen), "some text")
        await pilot.press("escape")
        await pilot.press("escape")  # a second esc while it stops: still one stop notice
        await idle(pilot)
        assert screen.query_one(StatusBar).status.state == "stopped"
        stopped = [v for v in screen.query(MessageView) if v.has_class("-stopped")]
        assert len(stopped) == 1 and "word3" in stopped[0].text and "word199" not in stopped[0].text
        # The stopped answer says so itself; no second "Stopped." notice below it.
        assert "Stopped." not in all_text(screen)
        kept = [m for m in screen.runtime.session.messages if isinstance(m, AssistantMessage)]
        assert kept and "word3" in kept[-1].content
        await send(pilot, "go on")
        await idle(pilot)
        contents = " ".join(str(m.get("content")) for m in llm_server.requests[-1].messages)
        assert "word3" in contents  # the partial answer is part of the conversation


async def test_escape_while_a_permission_is_pending_withdraws_it(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.tool_calls([("call_2", "edit", EDIT)]))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "change beta")
        await wait_for(pilot, lambda: screen.panel.current, "the permission panel")
        await pilot.press("escape")
        await idle(pilot)
        assert screen.panel.current is None and not screen.panel.has_class("-active")
        assert screen.prompt.has_focus
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"


async def test_retry_notice_and_provider_error_are_shown(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.error(503, "overloaded", retry_after=0))
    llm_server.enqueue(Reply.text("Recovered."))
    llm_server.enqueue(Reply.error(400, "bad request: context too long"))
    app = SessionApp(opts_for(llm_server, workspace, retry=1))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "hello")
        await idle(pilot)
        text = all_text(screen)
        assert "Retrying" in text and "Recovered." in text
        await send(pilot, "again")
        await idle(pilot)
        errors = [v for v in screen.query(MessageView) if v.role == "error"]
        assert errors and "context too long" in errors[-1].text and "400" in errors[-1].text


async def test_audit_screen_shows_the_decisions(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.tool_calls([("call_1", "edit", EDIT)]))
    llm_server.enqueue(Reply.tool_calls([("call_2", "edit", {**EDIT, "new_string": "delta"})]))
    llm_server.enqueue(Reply.text("ok"))
    app = SessionApp(opts_for(llm_server, workspace))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "edit twice")
        await wait_for(pilot, lambda: screen.panel.current, "the first approval")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.panel.current and screen.panel.current.call_id == "call_2", "the second")
        await pilot.press("n", "enter")
        await idle(pilot)
        screen.prompt.blur()
        await pilot.press("ctrl+r")
        audit = await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and app.screen, "the audit screen")
        await wait_for(pilot, lambda: len(audit.rows) >= 2, "the audit rows")
        decisions = [(r.tool, r.decision, r.decided_by) for r in audit.rows]
        assert ("edit", "allow", "person") in decisions and ("edit", "deny", "person") in decisions
        assert audit.verify_result.ok
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back to the session")


# --------------------------------------------------------------------------- widgets


async def test_prompt_history_and_newlines(tmp_path: Path) -> None:
    scripts: list[list[Any]] = [[TextDelta(text="one"), TurnEnded(stop_reason="end_turn")]] * 3
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, list(scripts)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        prompt = screen.prompt
        await pilot.press(*"line one", "ctrl+j", *"line two")
        assert prompt.text == "line one\nline two"
        await pilot.press("enter")
        await idle(pilot)
        assert screen.runtime.session.sent == ["line one\nline two"]
        await pilot.press(*"second", "enter")
        await idle(pilot)
        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt.text == "second"
        await pilot.press("up")
        assert prompt.text == "line one\nline two"
        assert prompt.cursor_location[0] == 0
        await pilot.press("down")  # first line of a two-line entry: moves the cursor
        assert prompt.text == "line one\nline two"
        await pilot.press("down")
        assert prompt.text == "second"
        await pilot.press("down")
        assert prompt.text == "draft"


async def test_fake_session_with_edit_diff_and_status(tmp_path: Path) -> None:
    holder: list[Any] = []
    script = [
        TextDelta(text="Fixing the greeting.\n\n"),
        ToolCallStarted(call_id="c1", name="edit"),
        ToolCallReady(call_id="c1", name="edit", arguments={"path": "src/app.py"}),
        Ask("c1", "edit", {"path": "src/app.py", "old_string": "a", "new_string": "b"}, preview=EDIT_DIFF),
        ToolResult(call_id="c1", name="edit", content="Edited src/app.py (+1 -1).\n\n" + EDIT_DIFF),
        TurnStats(model="fake:model-a", input_tokens=1500, output_tokens=42, estimated=True, cost=None, ttft_s=0.25, total_s=1.0),
        TurnEnded(stop_reason="end_turn"),
    ]
    thresholds = gc.get_threshold()
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script], holder))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "fix it")
        await wait_for(pilot, lambda: screen.panel.current, "the panel")
        assert gc.get_threshold()[2] > thresholds[2]  # no full collections while a model turn streams
        await pilot.press("y")
        await idle(pilot)
        assert gc.get_threshold() == thresholds  # ...and the hold ends with the turn
        status = screen.query_one(StatusBar).status
        assert status.estimated and status.cost is None and status.input_tokens == 1500
        rendered = str(screen.query_one(StatusBar).render())
        assert "~1.5k" in rendered and "?" in rendered and "ttft 250ms" in rendered
        block = screen.query_one(ToolCallBlock)
        assert block.status == "ok" and not block.collapsed
    assert holder[0].closed
    assert gc.get_threshold() == thresholds  # given back when the screen closed


async def test_a_question_asked_ahead_of_the_screen_waits_for_what_came_before(tmp_path: Path) -> None:
    # The agent runs ahead of the transcript (its events are read in a task of their own):
    # here it reaches the question before the screen showed any of the 30 calls before
    # it. The panel must not come up before the call it asks about, nor without its diff.
    script: list[Any] = [TextDelta(text="Reading everything first.\n\n")]
    for i in range(30):
        script += [
            ToolCallStarted(call_id=f"r{i}", name="read"),
            ToolCallReady(call_id=f"r{i}", name="read", arguments={"path": f"src/m{i}.py"}),
            ToolResult(call_id=f"r{i}", name="read", content=f"line {i}\n" * 5),
        ]
    script += [
        ToolCallStarted(call_id="c1", name="edit"),
        ToolCallReady(call_id="c1", name="edit", arguments={"path": "src/app.py"}),
        Ask("c1", "edit", {"path": "src/app.py", "old_string": "a", "new_string": "b"}, preview=EDIT_DIFF),
        ToolResult(call_id="c1", name="edit", content="Edited src/app.py (+1 -1).\n\n" + EDIT_DIFF),
        TurnEnded(stop_reason="end_turn"),
    ]
    seen: dict[str, Any] = {}
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        original = screen._show_approval

        def show(message: Any) -> None:  # what the screen had shown when the panel came up
            seen["calls"] = [item.call_id for item in screen.transcript.items if getattr(item, "kind", "") == "tool"]
            seen["status"] = screen.transcript.tool("c1").status if screen.transcript.tool("c1") else None
            original(message)

        screen._show_approval = show  # type: ignore[method-assign]
        await send(pilot, "fix it")
        pending = await wait_for(pilot, lambda: screen.panel.current, "the panel")
        assert seen["calls"] == [f"r{i}" for i in range(30)] + ["c1"]
        assert seen["status"] == "pending"
        assert pending.preview == EDIT_DIFF
        await pilot.press("y")
        await idle(pilot)
        assert screen.transcript.tool("c1").status == "ok"


async def test_stopped_while_the_screen_lags_shows_all_the_agent_said(tmp_path: Path) -> None:
    # Esc while the agent is ahead of the transcript: what it had said (and recorded) is
    # shown all the same, in order, and the answer is marked stopped.
    never = asyncio.Event()
    script: list[Any] = [TextDelta(text="Looking around.\n\n")]
    for i in range(20):
        script += [
            ToolCallStarted(call_id=f"r{i}", name="read"),
            ToolCallReady(call_id=f"r{i}", name="read", arguments={"path": f"src/m{i}.py"}),
            ToolResult(call_id=f"r{i}", name="read", content=f"line {i}\n"),
        ]
    script += [TextDelta(text="Now the last "), TextDelta(text="words"), Gate(never)]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        handle = screen.handle_event

        async def stop_at_the_first_call(event: Any) -> None:
            await handle(event)
            if isinstance(event, ToolCallStarted) and event.call_id == "r0":
                assert screen._reader is not None and screen._reader.waiting > 10  # the agent is ahead
                screen.action_stop()

        screen.handle_event = stop_at_the_first_call  # type: ignore[method-assign]
        await send(pilot, "look")
        await idle(pilot)
        calls = [item for item in screen.transcript.items if getattr(item, "kind", "") == "tool"]
        assert [c.call_id for c in calls] == [f"r{i}" for i in range(20)]
        assert all(c.status == "ok" for c in calls)
        answers = [v for v in screen.query(MessageView) if v.role == "assistant"]
        assert answers[-1].text == "Now the last words" and answers[-1].item.stopped


async def test_thinking_is_shown_apart_and_finished_before_the_answer(tmp_path: Path) -> None:
    script: list[Any] = [
        ThinkingDelta(text="The user wants a greeting. "),
        ThinkingDelta(text="Keep it short."),
        TextDelta(text="Hello!"),
        TurnEnded(stop_reason="end_turn"),
    ]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await send(pilot, "hi")
        await idle(pilot)
        views = [v for v in screen.query(MessageView) if v.role in ("thinking", "assistant")]
        assert [(v.role, v.text) for v in views] == [
            ("thinking", "The user wants a greeting. Keep it short."),
            ("assistant", "Hello!"),
        ]
        assert all(v.finished and not v.has_live_markdown for v in views)


async def test_long_answer_keeps_few_live_markdown_blocks(tmp_path: Path) -> None:
    paragraph = "Streaming tokens into the pane, one *small* piece at a time. " * 4 + "\n\n"
    words = (paragraph * 80).split(" ")
    first_shown = asyncio.Event()
    script: list[Any] = []
    for i, word in enumerate(words):
        script.append(TextDelta(text=word + " "))
        if i == 20:
            script.append(Gate(first_shown))  # a trickle first: it streams through the live widget
        if i % 40 == 0:
            script.append(Pause(0.005))  # a network read: frames run in between
    script.append(TurnEnded(stop_reason="end_turn"))
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_session(pilot)
        await screen.send("write a lot")  # not a key press: Pilot would wait for the stream to end

        def live_blocks() -> int:
            answer = screen.transcript.answer
            return len(answer._live.children) if answer is not None and answer._live is not None else 0

        most_live_blocks = await wait_for(pilot, live_blocks, "the first words in the live widget")
        first_shown.set()
        while screen.busy:
            answer = screen.transcript.answer
            if answer is not None and answer._live is not None:
                most_live_blocks = max(most_live_blocks, len(answer._live.children))
            await pilot.pause(0.01)
        await idle(pilot)
        answer = [v for v in screen.query(MessageView) if v.role == "assistant"][-1]
        assert answer.text == "".join(word + " " for word in words)
        frozen = answer.query_one(FrozenMarkdown)
        assert len(frozen.pieces) > 3 and frozen.text == answer.text  # finished: all static
        assert list(answer.children) == [frozen]
        assert 0 < most_live_blocks <= 40  # the live document stays a few blocks
        assert screen.transcript.live_markdown_count == 0


def test_segmenter_cuts_at_blank_lines_outside_fences() -> None:
    seg = Segmenter(soft=20, hard=60)
    seg.add("First paragraph here.\n\nSecond one")
    piece = seg.take()
    assert piece == "First paragraph here.\n\n"
    assert seg.text == "Second one"
    seg = Segmenter(soft=10, hard=1000)
    seg.add("```py\nx = 1\n\ny = 2\n")
    assert seg.take() is None  # the blank line is inside the fence
    seg.add("```\n\nafter")
    assert seg.take() == "```py\nx = 1\n\ny = 2\n```\n\n"


def test_segmenter_splits_a_long_fence_and_reopens_it() -> None:
    seg = Segmenter(soft=10, hard=40)
    seg.add("```python\n" + "".join(f"line_{i} = {i}\n" for i in range(10)))
    piece = seg.take()
    assert piece is not None and piece.startswith("```python\n") and piece.endswith("```\n")
    assert seg.text.startswith("```python\n")
    joined_code = piece.removesuffix("```\n").removeprefix("```python\n") + seg.text.removeprefix("```python\n")
    assert joined_code == "".join(f"line_{i} = {i}\n" for i in range(10))


# --------------------------------------------------------------------------- snapshots


def _pending_edit_app(tmp_path: Path) -> SessionApp:
    script = [
        TextDelta(text="I will fix the **greeting** in `src/app.py`.\n"),
        ToolCallStarted(call_id="c1", name="edit"),
        ToolCallReady(call_id="c1", name="edit", arguments={"path": "src/app.py"}),
        Ask("c1", "edit", {"path": "src/app.py", "old_string": "a", "new_string": "b"}, preview=EDIT_DIFF),
    ]
    return SessionApp(RunOptions(model="fake:model-a", workspace="."), open_runtime=fake_opener(tmp_path, [script]))


def test_snapshot_pending_permission_with_edit_diff(snap_compare: Any, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        screen = await open_session(pilot)
        screen.runtime.session.totals.add(
            TurnStats(model="fake:model-a", input_tokens=2048, output_tokens=96, cost=0.0031, ttft_s=0.38, total_s=1.4)
        )
        await send(pilot, "Please make the greeting friendlier")
        await wait_for(pilot, lambda: screen.panel.current, "the panel")
        await pilot.pause()

    assert snap_compare(_pending_edit_app(tmp_path), terminal_size=(80, 24), run_before=run_before)
