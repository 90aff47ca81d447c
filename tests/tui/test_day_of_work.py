"""The session screen through a day's work (issue 14), with Pilot: type-ahead kept in
order under load and while the session opens, prompts queued while an answer runs,
permission keys in view at 80x24, notices that never split a streamed answer, a model
switched after the answer, tool calls with repeated ids, typing that always reaches the
prompt, ctrl+q that asks, slash commands and ``@`` completion, compaction, undo and
rewind, the context meter; snapshots at 80x24.

Behaviour against the scripted HTTP server (``tests/llm_server.py``) or the scripted
fake session (``session_fakes``) where figures must not move between runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.app import App
from textual.pilot import Pilot

from agentic_flow.core.events import TextDelta, ThinkingDelta, ToolCallReady, ToolCallStarted, ToolResult, TurnEnded
from agentic_flow.core.runtime import RunOptions
from agentic_flow.tui.screens.session import SessionScreen, guarded_quit
from agentic_flow.tui.screens.session_dialogs import ConfirmQuit, ModelPicker, RewindDialog
from agentic_flow.tui.widgets.message import MessageView
from agentic_flow.tui.widgets.prompt_completion import PromptCompletion
from agentic_flow.tui.widgets.status_bar import StatusBar
from agentic_flow.tui.widgets.tool_call import ToolCallBlock, ToolCallTitle
from tests.llm_server import RecordedRequest, Reply, ScriptedLLMServer, llm_server  # noqa: F401
from tests.tui.session_fakes import Ask, Gate, Pause, fake_opener, wait_for

SMALL = (80, 24)


class SessionApp(App[None]):
    """A session screen alone, with the workbench's ctrl+q."""

    def __init__(self, opts: RunOptions, **kwargs: Any) -> None:
        super().__init__()
        self.opts = opts
        self.kwargs = kwargs

    def on_mount(self) -> None:
        self.push_screen(SessionScreen(self.opts, **self.kwargs))

    async def action_quit(self) -> None:
        await guarded_quit(self)


def screen_text(app: App[Any]) -> str:
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


def all_text(screen: SessionScreen) -> str:
    return "\n".join(view.text for view in screen.query(MessageView))


async def opened(pilot: Pilot) -> SessionScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, SessionScreen) and pilot.app.screen, "screen")
    await wait_for(pilot, lambda: screen.runtime is not None, "the runtime to open")
    return screen


async def idle(pilot: Pilot) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, SessionScreen)
    await wait_for(pilot, lambda: not screen.busy and not screen.queue, "the session to be free")
    await pilot.pause()


def _key(ch: str) -> events.Key:
    return events.Key("space" if ch == " " else ch, ch)


def type_burst(app: App[Any], text: str) -> None:
    """What ``tmux send-keys "text" Enter`` does: every key at once, no waiting between."""
    for ch in text:
        app.post_message(_key(ch))
    app.post_message(events.Key("enter", "\r"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha\nbeta\n", encoding="utf-8")
    return ws


def real(server: ScriptedLLMServer, workspace: Path, **kw: Any) -> RunOptions:
    return RunOptions(model="llamacpp:test-model", base_url=server.openai_url, workspace=str(workspace), **kw)


def user_texts(server: ScriptedLLMServer) -> list[str]:
    return [r.last_user_text() for r in server.requests]


# ---------------------------------------------------------------------------- 1: type-ahead


async def test_type_ahead_under_load_keeps_every_prompt_whole_and_in_order(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    words = [f"w{i} " for i in range(40)]
    llm_server.set_handler(lambda request: Reply.text(words, delay_per_chunk=0.005))
    app = SessionApp(real(llm_server, workspace, no_tools=True))
    prompts = [f"short together test {n}" for n in range(6)]
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        for text in prompts:  # bursts while answers stream: the first one is running
            type_burst(app, text)
            await pilot.pause(0.01)
        await wait_for(pilot, lambda: len(llm_server.requests) == len(prompts), "every prompt", timeout=30)
        await idle(pilot)
        assert user_texts(llm_server) == prompts
        assert screen.prompt.text == ""


async def test_typed_while_the_session_opens_is_sent_once_it_is_open(tmp_path: Path) -> None:
    gate = asyncio.Event()
    holder: list[Any] = []
    inner = fake_opener(tmp_path, [[TextDelta(text="Hi."), TurnEnded(stop_reason="end_turn")]], holder)

    async def slow_open(opts: Any, approver: Any, on_notice: Any) -> Any:
        await gate.wait()
        return await inner(opts, approver, on_notice)

    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=slow_open)
    async with app.run_test(size=SMALL) as pilot:
        screen = await wait_for(pilot, lambda: isinstance(app.screen, SessionScreen) and app.screen, "screen")
        type_burst(app, "hello there")
        await wait_for(pilot, lambda: screen.queue == ["hello there"], "the prompt to be queued")
        assert "queued, sent when the session is open" in screen_text(app)
        assert screen.prompt.text == ""  # not cut, not left in the box
        gate.set()
        await wait_for(pilot, lambda: holder and holder[0].session.sent == ["hello there"], "the send")
        await idle(pilot)
        assert "Hi." in all_text(screen)


async def test_a_prompt_sent_while_an_answer_runs_is_queued_and_esc_takes_it_back(tmp_path: Path) -> None:
    first_done, third_done = asyncio.Event(), asyncio.Event()
    slow = [TextDelta(text="Working"), Gate(first_done), TextDelta(text=" done."), TurnEnded(stop_reason="end_turn")]
    quick = [TextDelta(text="Second answer."), TurnEnded(stop_reason="end_turn")]
    third = [TextDelta(text="Working"), Gate(third_done), TurnEnded(stop_reason="end_turn")]
    holder: list[Any] = []
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [slow, quick, third], holder))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"first", "enter")
        await wait_for(pilot, lambda: screen.busy, "the first answer")
        await pilot.press(*"second", "enter")
        assert screen.queue == ["second"] and screen.query_one(StatusBar).status.queued == 1
        assert "queued, sent after this answer: second" in screen_text(app)
        first_done.set()
        await idle(pilot)
        assert holder[0].session.sent == ["first", "second"]
        assert "Second answer." in all_text(screen)
        # Esc stops the running answer and puts what was queued back into the box.
        await pilot.press(*"third", "enter")
        await wait_for(pilot, lambda: screen.busy, "the third answer")
        await pilot.press(*"fourth", "enter")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.busy, "the stop")
        await pilot.pause()
        assert screen.queue == [] and screen.prompt.text == "fourth"
        assert holder[0].session.sent == ["first", "second", "third"]


# ---------------------------------------------------------------------------- 2: permission keys


async def test_permission_keys_and_reason_stay_visible_at_80x24_with_a_500_line_preview(tmp_path: Path) -> None:
    diff = "--- a/big.py\n+++ b/big.py\n@@ -0,0 +1,500 @@\n" + "".join(f"+line {i}\n" for i in range(500))
    script = [Ask("c1", "write", {"path": "big.py", "content": "..."}, preview=diff), TurnEnded(stop_reason="end_turn")]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"write it", "enter")
        await wait_for(pilot, lambda: screen.panel.current, "the panel")
        await pilot.pause()
        text = screen_text(app)
        assert "why: ask mode" in text
        assert "y once" in text and "s session" in text and "n deny" in text and "a always" in text
        assert "+line 0" in text and "+line 499" not in text  # the preview scrolls inside
        await pilot.press("pagedown", "pagedown")
        assert "y once" in screen_text(app)  # still there after scrolling
        await pilot.press("y")
        await idle(pilot)


# ---------------------------------------------------------------------------- 3: notices while streaming


async def test_a_mode_change_mid_answer_does_not_split_it(tmp_path: Path) -> None:
    go_on = asyncio.Event()
    script: list[Any] = [
        TextDelta(text="Here it is:\n\n```python\ndef f():\n"),
        Gate(go_on),
        TextDelta(text="    return 1\n```\n\nDone."),
        TurnEnded(stop_reason="end_turn"),
    ]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"code", "enter")
        await wait_for(pilot, lambda: "def f()" in all_text(screen), "the first half")
        screen.set_focus(None)
        await pilot.press("ctrl+t")  # accept-edits: a notice while the code block streams
        await pilot.pause()
        go_on.set()
        await idle(pilot)
        answers = [v for v in screen.query(MessageView) if v.role == "assistant"]
        assert len(answers) == 1 and "def f():\n    return 1\n```" in answers[0].text
        roles = [(v.role, v.text) for v in screen.query(MessageView)]
        mode = next(i for i, (_, text) in enumerate(roles) if "Permission mode is now accept-edits" in text)
        assert mode > roles.index(("assistant", answers[0].text))  # after the answer, not inside


async def test_a_model_picked_mid_answer_is_used_after_it(tmp_path: Path) -> None:
    go_on = asyncio.Event()
    script: list[Any] = [TextDelta(text="Part one."), Gate(go_on), TextDelta(text=" Part two."), TurnEnded(stop_reason="end_turn")]
    holder: list[Any] = []
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script], holder))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: "Part one." in all_text(screen), "the answer")
        screen.set_focus(None)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker), "the picker")
        await pilot.press(*"model-b", "enter")
        await wait_for(pilot, lambda: app.screen is screen, "back")
        assert screen.busy and holder[0].switched == []
        assert screen.query_one(StatusBar).status.model == "fake:model-a"  # the model still answering
        assert "switches to fake:model-b when this answer ends" in all_text(screen) or screen.transcript.answer
        go_on.set()
        await idle(pilot)
        await wait_for(pilot, lambda: holder[0].switched, "the switch")
        assert holder[0].switched[0][0] == "fake:model-b"
        answers = [v for v in screen.query(MessageView) if v.role == "assistant"]
        assert len(answers) == 1 and answers[0].text == "Part one. Part two."


# ---------------------------------------------------------------------------- 4: repeated tool call ids


async def test_a_tool_call_id_seen_in_an_earlier_turn_gets_a_block_of_its_own(tmp_path: Path) -> None:
    def turn(n: int) -> list[Any]:
        return [
            ToolCallStarted(call_id="call_0", name="bash"),  # a server that numbers calls per turn
            ToolCallReady(call_id="call_0", name="bash", arguments={"command": f"echo {n}"}),
            ToolResult(call_id="call_0", name="bash", content=f"{n}\n"),
            TurnEnded(stop_reason="end_turn"),
        ]

    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [turn(1), turn(2)]))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"one", "enter")
        await idle(pilot)
        await pilot.press(*"two", "enter")
        await idle(pilot)
        calls = [item for item in screen.transcript.items if getattr(item, "call_id", None) == "call_0"]
        assert [c.result_text for c in calls] == ["1\n", "2\n"]  # two calls, two blocks
        assert len(screen.query(ToolCallBlock)) == 2
        assert screen.transcript.tool("call_0") is calls[1]


# ---------------------------------------------------------------------------- 8: reasoning folded


async def test_finished_reasoning_is_folded_and_a_click_shows_it_all(tmp_path: Path) -> None:
    reasoning = "".join(f"Step {i}: think about it.\n\n" for i in range(12))
    script: list[Any] = [ThinkingDelta(text=reasoning), TextDelta(text="The answer."), TurnEnded(stop_reason="end_turn")]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"think", "enter")
        await idle(pilot)
        (view,) = [v for v in screen.query(MessageView) if v.role == "thinking"]
        assert view.has_class("-folded") and view.outer_size.height <= 4
        assert "click to show all" in screen_text(app) and "Step 11" not in screen_text(app)
        await pilot.click(view)
        await pilot.pause()
        assert not view.has_class("-folded") and view.outer_size.height > 12
        assert "Step 11" in screen_text(app)


# ---------------------------------------------------------------------------- 5: focus


async def test_typing_after_shift_tab_into_the_transcript_reaches_the_prompt(tmp_path: Path) -> None:
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, []))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press("shift+tab")
        assert not screen.prompt.has_focus
        await pilot.press(*"abc")
        assert screen.prompt.has_focus and screen.prompt.text == "abc"


async def test_space_on_a_focused_tool_call_toggles_it_and_letters_still_reach_the_prompt(tmp_path: Path) -> None:
    script: list[Any] = [
        ToolCallStarted(call_id="c1", name="bash"),
        ToolCallReady(call_id="c1", name="bash", arguments={"command": "echo hi"}),
        ToolResult(call_id="c1", name="bash", content="hi\n"),
        TurnEnded(stop_reason="end_turn"),
    ]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"run", "enter")
        await idle(pilot)
        block = screen.query_one(ToolCallBlock)
        title = block.query_one(ToolCallTitle)
        title.focus()
        await pilot.pause()
        before = block.collapsed
        await pilot.press("space")
        assert block.collapsed is not before and screen.prompt.text == ""
        assert title.has_focus
        await pilot.press("space")
        assert block.collapsed is before and screen.prompt.text == ""
        # A terminal's alt+x (Esc x) is a shortcut, not typing.
        app.post_message(events.Key("alt+x", "x"))
        await pilot.pause()
        assert screen.prompt.text == "" and title.has_focus
        await pilot.press("x")  # a letter the block does not bind still goes to the prompt
        assert screen.prompt.has_focus and screen.prompt.text == "x"


# ---------------------------------------------------------------------------- 6: quit


async def test_ctrl_q_while_an_answer_runs_asks_first(tmp_path: Path) -> None:
    script: list[Any] = [TextDelta(text="Long"), Pause(30), TurnEnded(stop_reason="end_turn")]
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [script]))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"go", "enter")
        await wait_for(pilot, lambda: screen.busy, "the answer")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuit), "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "back")
        assert screen.busy and app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuit), "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the exit")


# ---------------------------------------------------------------------------- slash commands and mentions


async def test_help_never_reaches_the_model_and_unknown_commands_are_refused(tmp_path: Path) -> None:
    holder: list[Any] = []
    app = SessionApp(RunOptions(workspace=str(tmp_path)), open_runtime=fake_opener(tmp_path, [], holder))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"/help", "enter")
        await pilot.pause()
        text = all_text(screen)
        assert "/compact" in text and "/rewind" in text and "@path" in text
        await pilot.press(*"/frobnicate now", "enter")
        await pilot.pause()
        assert "Unknown command /frobnicate" in all_text(screen)
        assert holder[0].session.sent == []


async def test_slash_and_at_completion(workspace: Path, llm_server: ScriptedLLMServer) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "parser.py").write_text("x = 1\n")
    llm_server.enqueue(Reply.text("Read it."))
    app = SessionApp(real(llm_server, workspace, no_tools=True))
    async with app.run_test(size=SMALL) as pilot:
        screen = await opened(pilot)
        completion = screen.query_one(PromptCompletion)
        await pilot.press("/", "c", "o")
        await wait_for(pilot, lambda: completion.showing, "the dropdown")
        shown = [completion.option_list.get_option_at_index(i).value.split()[0] for i in range(completion.option_list.option_count)]
        assert shown[:2] == ["/compact", "/cost"] or set(shown) >= {"/compact", "/cost"}
        await pilot.press("tab")
        assert screen.prompt.text in ("/compact ", "/cost ") and not completion.showing
        screen.prompt.load_text("")
        await pilot.press(*"look at @sr/pa")
        await wait_for(pilot, lambda: completion.showing, "the file dropdown")
        assert completion.option_list.get_option_at_index(0).value == "@src/parser.py"
        await pilot.press("enter")  # takes the entry, does not send
        assert screen.prompt.text == "look at @src/parser.py " and not screen.busy
        await pilot.press("enter")
        await idle(pilot)
        sent = llm_server.requests[-1].last_user_text()
        assert sent.startswith("look at @src/parser.py") and '<attached-file path="src/parser.py"' in sent
        assert "Attached @src/parser.py" in all_text(screen)


async def test_export_agent_mode_model_and_clear_commands(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.text("First answer."), Reply.text("Reviewed."))
    app = SessionApp(real(llm_server, workspace, no_tools=True))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"first question", "enter")
        await idle(pilot)
        await pilot.press(*"/export notes/chat.md", "enter")
        await wait_for(pilot, lambda: "Conversation written to" in all_text(screen), "the export")
        exported = (workspace / "notes" / "chat.md").read_text()
        assert "## You" in exported and "first question" in exported and "First answer." in exported
        await pilot.press(*"/agent reviewer", "enter")
        await wait_for(pilot, lambda: "Agent switched: coder → reviewer" in all_text(screen), "the agent switch")
        assert screen.runtime.agent_name == "reviewer"
        await pilot.press(*"/mode read-only", "enter")
        await wait_for(pilot, lambda: screen.runtime.mode == "read-only", "the mode")
        await pilot.press(*"/model llamacpp:other-model", "enter")
        await wait_for(pilot, lambda: screen.runtime.model_id == "llamacpp:other-model", "the model")
        await pilot.press(*"review it", "enter")
        await idle(pilot)
        request = llm_server.requests[-1]
        assert request.model == "other-model"
        assert any("reviewer" in str(m.get("content")) for m in request.messages if m["role"] == "system")
        old = screen.runtime.session_id
        await pilot.press(*"/clear", "enter")
        await wait_for(pilot, lambda: screen.runtime.session_id != old, "a new conversation")
        assert screen.runtime.history() == [] and f"{old} stays in /resume" in all_text(screen)
        # The transcript's history starts over too (Home must not bring the old one back),
        # and the status bar drops the old session's figures.
        assert len(screen.transcript.items) == 1  # the notice of the new conversation
        await screen.transcript.scroll_to_start()
        await pilot.pause()
        assert "first question" not in all_text(screen)
        assert screen.query_one(StatusBar).status.ttft_s is None


# ---------------------------------------------------------------------------- compaction, undo, rewind


async def test_compact_undo_rewind_cost_and_the_context_meter(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    llm_server.enqueue(
        Reply.text("Hello."),
        Reply.tool_calls([("c1", "edit", {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"})]),
        Reply.text("Changed."),
        Reply.text("SUMMARY: greeted, changed notes.txt."),
    )
    app = SessionApp(real(llm_server, workspace, approve="accept-edits"))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"hello", "enter")
        await idle(pilot)
        status = screen.query_one(StatusBar).status
        assert status.context_used and status.context_used > 0  # the meter (window unknown here)
        assert "ctx " in str(screen.query_one(StatusBar).render())
        await pilot.press(*"change it", "enter")
        await idle(pilot)
        assert (workspace / "notes.txt").read_text() == "alpha\ngamma\n"
        await pilot.press(*"/undo", "enter")
        await wait_for(pilot, lambda: "Undid the file changes of turn 2" in all_text(screen), "the undo")
        assert (workspace / "notes.txt").read_text() == "alpha\nbeta\n"
        assert "not tracked" in all_text(screen) or "are not, and are not undone" in all_text(screen)
        await pilot.press(*"/cost", "enter")
        await wait_for(pilot, lambda: "model turn(s)" in all_text(screen), "the cost")
        await pilot.press(*"/compact", "enter")
        await wait_for(pilot, lambda: "Context compacted on request" in all_text(screen), "the compaction")
        await idle(pilot)
        await pilot.press(*"/rewind", "enter")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, RewindDialog) and app.screen, "the rewind dialog")
        assert [n for n, _, _ in dialog.turns] == [2]  # turn 1 was summarised
        await pilot.press("enter")  # turn 2
        await pilot.press("v")  # conversation only
        await wait_for(pilot, lambda: "Rewound to before turn 2" in all_text(screen), "the rewind")
        assert screen.runtime.turns() == []


async def test_a_resumed_session_shows_the_prompt_after_an_undo_as_typed(
    llm_server: ScriptedLLMServer, workspace: Path
) -> None:
    """The workbench's note to the model after /undo goes before the next prompt; on
    resume it is a notice, not part of what the user typed."""
    llm_server.enqueue(
        Reply.tool_calls([("c1", "edit", {"path": "notes.txt", "old_string": "beta", "new_string": "gamma"})]),
        Reply.text("Changed."),
        Reply.text("It says beta."),
    )
    app = SessionApp(real(llm_server, workspace, approve="accept-edits"))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"change it", "enter")
        await idle(pilot)
        await pilot.press(*"/undo", "enter")
        await wait_for(pilot, lambda: "Undid the file changes of turn 1" in all_text(screen), "the undo")
        await pilot.press(*"what does it say", "enter")
        await idle(pilot)
        sid = screen.runtime.session_id
    assert user_texts(llm_server)[-1].startswith("[Note from the workbench: the user undid")  # the model was told

    app = SessionApp(real(llm_server, workspace, resume=sid))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await wait_for(pilot, lambda: "Resumed session" in all_text(screen), "the history")
        views = list(screen.query(MessageView))
        assert [v.text for v in views if v.role == "user"] == ["change it", "what does it say"]
        (note,) = [v for v in views if "undid the file changes" in v.text]
        assert note.role == "notice" and "Note from the workbench" not in note.text
        assert views.index(note) == [v.text for v in views].index("what does it say") - 1


# ---------------------------------------------------------------------------- snapshots


def _long_diff_app(tmp_path: Path) -> SessionApp:
    diff = "--- a/src/app.py\n+++ b/src/app.py\n@@ -1,3 +1,240 @@\n" + "".join(
        f"+def handler_{i}(event):\n+    return route(event, {i})\n" for i in range(120)
    )
    script = [Ask("c1", "write", {"path": "src/app.py", "content": "..."}, preview=diff), TurnEnded(stop_reason="end_turn")]
    # workspace "." as shown on screen: the same on every machine
    return SessionApp(RunOptions(model="fake:model-a", workspace="."), open_runtime=fake_opener(tmp_path, [script]))


def test_snapshot_permission_widget_with_a_long_diff_at_80x24(snap_compare, tmp_path: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        screen = await opened(pilot)
        await pilot.press(*"rewrite the app", "enter")
        await wait_for(pilot, lambda: screen.panel.current, "the panel")
        screen.prompt.cursor_blink = False
        await pilot.pause()

    assert snap_compare(_long_diff_app(tmp_path), terminal_size=SMALL, run_before=run_before)


async def test_every_slash_command_is_in_the_command_palette(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.text("First answer."))
    app = SessionApp(real(llm_server, workspace, no_tools=True))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"first question", "enter")
        await idle(pilot)
        commands = {c.name: c for c in screen.palette_commands()}
        for name in ("help", "agent", "compact", "undo", "rewind", "cost", "clear", "resume", "export", "mcp"):
            assert f"Session: /{name}" in commands, name
        await commands["Session: /cost"].callback()  # chosen in the palette: runs as typed
        await wait_for(pilot, lambda: "turn(s)" in all_text(screen), "the cost notice")


async def test_page_keys_in_the_prompt_scroll_the_conversation(llm_server: ScriptedLLMServer, workspace: Path) -> None:
    llm_server.enqueue(Reply.text("\n\n".join(f"Paragraph {i} of a long answer." for i in range(80))))
    app = SessionApp(real(llm_server, workspace, no_tools=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        await pilot.press(*"tell me a lot", "enter")
        await idle(pilot)
        transcript = screen.transcript
        await wait_for(pilot, lambda: transcript.max_scroll_y > 0 and transcript.scroll_y == transcript.max_scroll_y, "the end")
        assert screen.prompt.has_focus
        await pilot.press(*"draft")
        await pilot.press("pageup")
        await wait_for(pilot, lambda: transcript.scroll_y < transcript.max_scroll_y, "a page up")
        assert screen.prompt.text == "draft" and screen.prompt.has_focus
        await pilot.press("pagedown", "pagedown", "pagedown")
        await wait_for(pilot, lambda: transcript.scroll_y == transcript.max_scroll_y, "back at the end")


async def test_the_rewind_choice_follows_the_highlight() -> None:
    results: list[Any] = []

    class DialogApp(App[None]):
        def on_mount(self) -> None:
            turns = [(1, "first", []), (2, "second", ["a.py"]), (3, "third", [])]
            self.push_screen(RewindDialog(turns, "Shell changes are not tracked."), results.append)

    app = DialogApp()
    async with app.run_test(size=(100, 30)) as pilot:
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, RewindDialog) and app.screen, "the dialog")
        await pilot.press("enter")  # the newest, turn 3, listed first
        assert dialog.chosen == 3
        await pilot.press("down")  # turn 2 now: b/c/v act on it, not on turn 3
        assert dialog.chosen == 2 and "before turn 2" in str(dialog.query_one("#rewind-note").render())
        await pilot.press("v")
        await wait_for(pilot, lambda: results, "the answer")
    assert results == [(2, False, True)]
