"""The transcript keeps the whole history and mounts only a window of it.

Behaviour, never timings: what leaves the screen is kept (as items), comes back whole
when the user scrolls to it, and a long answer is carried over several items.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from textual.app import App, ComposeResult

from agentic_flow.tui.widgets import transcript as transcript_module
from agentic_flow.tui.widgets.message import FrozenMarkdown, MessageItem, MessageView
from agentic_flow.tui.widgets.tool_call import ToolCallBlock
from agentic_flow.tui.widgets.transcript import MOUNT_SECONDS, Transcript
from tests.tui.session_fakes import EDIT_DIFF, wait_for

SIZE = (80, 24)


class TranscriptApp(App[None]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.kwargs = kwargs

    def compose(self) -> ComposeResult:
        yield Transcript(**self.kwargs)


def message_texts(transcript: Transcript) -> list[str]:
    return [view.text for view in transcript.query(MessageView)]


async def test_old_items_leave_the_screen_and_scrolling_back_shows_them_all() -> None:
    app = TranscriptApp(max_items=6, max_lines=30)
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        for i in range(80):
            await transcript.add_notice(f"notice {i}")
        await pilot.pause()
        await transcript.add_notice("notice 80")  # pruned by the heights laid out above
        await wait_for(pilot, lambda: transcript.hidden_count > 0, "old items to be unmounted")
        assert transcript.mounted_count < 81
        assert transcript.virtual_size.height >= 2 * transcript.size.height  # room to scroll up
        # Gone from the screen, not from the history:
        assert [item.text for item in transcript.items] == [f"notice {i}" for i in range(81)]  # type: ignore[attr-defined]
        assert "notice 0" not in message_texts(transcript)
        assert f"{transcript.hidden_count} earlier items" in str(transcript.children[0].render())
        # Home: the whole history is mounted again, in order, and the start is on screen.
        await transcript.scroll_to_start()
        await pilot.pause()
        await pilot.pause()
        assert transcript.hidden_count == 0
        assert message_texts(transcript) == [f"notice {i}" for i in range(81)]
        assert "notice 0" in transcript.render_text()


async def test_what_is_rebuilt_after_unmounting_is_what_was_shown() -> None:
    app = TranscriptApp(max_items=4, max_lines=20)
    async with app.run_test(size=(100, 30)) as pilot:
        transcript = app.query_one(Transcript)
        await transcript.add_user("please fix the greeting")
        # A streamed answer, cut into several frozen pieces...
        await transcript.text_delta("".join(f"Paragraph {i} with *some* words.\n\n" for i in range(80)))
        await transcript.flush()
        answer_item = transcript.answer.item  # type: ignore[union-attr]
        # ...a tool call the user opened, with its decision and result...
        await transcript.tool_started("c1", "bash")
        await transcript.tool_ready("c1", "bash", {"command": "ls -la"}, None)
        await transcript.tool_decided("c1", "bash", True, "once", "you", None)
        await transcript.tool_result("c1", "bash", "a.py\nb.py\n", False)
        await transcript.flush()  # (tool calls get their widget on the next frame)
        block = transcript.tool("c1").view
        assert isinstance(block, ToolCallBlock)
        block.collapsed = False  # as a click on its title does
        # ...an edit whose diff opened by itself...
        await transcript.tool_started("c2", "edit")
        await transcript.tool_ready("c2", "edit", {"path": "src/app.py"}, None)
        await transcript.tool_result("c2", "edit", "Edited src/app.py\n" + EDIT_DIFF, False)
        # ...and an answer the user stopped.
        await transcript.text_delta("Half an answ")
        await transcript.finish_streams(stopped=True)
        stopped_item = transcript.items[-1]
        seen = {
            "pieces": list(answer_item.pieces),
            "c1": (transcript.tool("c1").status, transcript.tool("c1").collapsed),
        }
        assert len(seen["pieces"]) > 1 and seen["c1"] == ("ok", False)

        for i in range(30):  # push all of it out of the mounted window
            await transcript.add_notice(f"later {i}\n" * 4)
            await pilot.pause()
        assert answer_item.view is None and transcript.tool("c1").view is None and stopped_item.view is None

        await transcript.scroll_to_start()
        await pilot.pause()
        # Built again from the items: the same pieces, the same states, the user's choice.
        answer_view = answer_item.view
        assert isinstance(answer_view, MessageView) and answer_view.finished
        assert answer_view.query_one(FrozenMarkdown).pieces == seen["pieces"]
        c1 = transcript.tool("c1").view
        assert isinstance(c1, ToolCallBlock) and not c1.collapsed and c1.has_class("-ok")
        assert "⚙ bash $ ls -la · ✓" in str(c1.title)
        assert "a.py" in c1.body_text
        assert "allowed (once) by you" in c1.body_text
        c2 = transcript.tool("c2").view
        assert isinstance(c2, ToolCallBlock) and not c2.collapsed  # diffs are shown
        assert '+    return f"Hello, {name}!"' in c2.body_text
        stopped_view = stopped_item.view
        assert isinstance(stopped_view, MessageView) and stopped_view.has_class("-stopped")
        assert stopped_view.text == "Half an answ"
        assert "stopped" in " ".join(str(label.render()) for label in stopped_view.query(".label"))


async def test_scrolling_up_builds_the_previous_items_and_keeps_the_view_still() -> None:
    app = TranscriptApp(max_items=6, max_lines=30, batch_size=4)
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        for i in range(30):
            await transcript.add_notice(f"notice {i}\nsecond line")
            await pilot.pause()
        await wait_for(pilot, lambda: transcript.hidden_count > 0, "old items to be unmounted")
        hidden = transcript.hidden_count
        first = transcript.items[hidden]
        assert first.view is not None
        transcript.scroll_to(y=0, animate=False, immediate=True)  # the user scrolls to the top
        marker_height = 2  # "… N earlier items" and the blank line under it
        await wait_for(pilot, lambda: transcript.hidden_count == hidden - 4, "the previous batch")
        await pilot.pause()
        await pilot.pause()
        # What was at the top is still where the user saw it; the new batch is above it.
        assert first.view is not None
        assert first.view.region.y == transcript.region.y + marker_height
        assert transcript.render_text().splitlines()[marker_height].strip() == f"notice {hidden}"
        assert message_texts(transcript)[:5] == [f"notice {i}\nsecond line" for i in range(hidden - 4, hidden + 1)]


async def test_a_long_answer_is_carried_over_items_of_bounded_size(monkeypatch: Any) -> None:
    monkeypatch.setattr(MessageView, "MAX_VIEW_CHARS", 2000)
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        text = "".join(f"Paragraph {i}: " + "word " * 30 + "\n\n" for i in range(60))
        for start in range(0, len(text), 700):  # arriving over many frames...
            await transcript.text_delta(text[start : start + 700])
            await transcript.flush()
            await pilot.pause()
        await transcript.text_delta("```python\n" + "x = 1\n" * 2000 + "```\n\nThe end.")  # ...then a burst
        await transcript.finish_streams()
        await pilot.pause()
        items = [item for item in transcript.items if isinstance(item, MessageItem)]
        assert len(items) >= 4 and not items[0].continues and all(item.continues for item in items[1:])
        # Each item holds its part exactly once, in order, and is static once finished.
        assert "".join(item.text for item in items) == text + "```python\n" + "x = 1\n" * 2000 + "```\n\nThe end."
        assert all(item.finished for item in items)
        for item in items:
            # (checked once a frame: at most a frame's text and one piece more)
            assert sum(len(piece) for piece in item.pieces) <= 2000 + MessageView.FRAME_BUDGET + MessageView.HARD_LIMIT
        assert transcript.live_markdown_count == 0


def test_segmenter_cuts_a_burst_into_pieces_near_the_hard_limit() -> None:
    """A whole backlog given at once (an answer finished faster than frames) is cut into
    pieces of at most ``hard`` characters (plus a closing fence), each renderable alone."""
    from agentic_flow.tui.widgets.message import Segmenter

    code = "".join(f"line_{i} = {i}\n" for i in range(3000))
    text = "Intro.\n\n```python\n" + code + "```\n\nThe end.\n\n"
    seg = Segmenter(soft=500, hard=2000)
    seg.add(text)
    pieces = []
    while (piece := seg.take()) is not None:
        pieces.append(piece)
    pieces.append(seg.text)
    assert len(pieces) > 10
    assert all(len(piece) <= 2000 + len("```python\n") + len("```\n") for piece in pieces)
    # Every piece of code opens and closes its fence; the code is all there, in order.
    inner = [p for p in pieces if p.startswith("```python\n")]
    assert all(p.rstrip("\n").endswith("```") for p in inner)
    joined = "".join(p.removeprefix("```python\n").split("```")[0] for p in inner)
    assert joined == code
    assert pieces[0] == "Intro.\n\n" and "The end." in pieces[-1] + pieces[-2]


async def test_changes_of_a_call_that_arrive_together_update_its_block_once() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        item = await transcript.tool_started("c1", "bash")
        await transcript.flush()  # (its widget comes with the next frame)
        block = item.view
        assert isinstance(block, ToolCallBlock)
        await pilot.pause()
        syncs: list[str] = []
        real_sync = block.sync

        def counting_sync() -> None:
            syncs.append(item.status)
            real_sync()

        block.sync = counting_sync  # type: ignore[method-assign]
        # The whole call, with no chance for the app to run in between:
        await transcript.tool_args("c1", '{"command": ')
        await transcript.tool_args("c1", '"ls"}')
        await transcript.tool_ready("c1", "bash", {"command": "ls"}, None)
        await transcript.tool_decided("c1", "bash", True, "once", "policy", None)
        await transcript.tool_result("c1", "bash", "a.txt\nb.txt", False)
        await pilot.pause()
        assert syncs == ["ok"]  # one update, showing the final state
        assert block.has_class("-ok") and not block.has_class("-running")
        assert "bash $ ls · ✓" in str(block.title)
        # (closed: its body is built when it is opened)
        block.collapsed = False
        assert syncs == ["ok"]
        assert block.body_text == "$ ls\nallowed (once) by policy\na.txt\nb.txt"


async def test_what_ends_before_its_first_frame_is_built_finished() -> None:
    # A fast agent: the answer and the call are over before the next frame. They get
    # their widgets with that frame, already finished: no live Markdown, no running block.
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        await pilot.pause()
        mounted: list[Any] = []
        real_mount_all = transcript.mount_all

        def recording_mount_all(widgets: Any, **kwargs: Any) -> Any:
            widgets = list(widgets)
            mounted.append([(type(w).__name__, getattr(w, "streaming", None), getattr(w, "status", None)) for w in widgets])
            return real_mount_all(widgets, **kwargs)

        transcript.mount_all = recording_mount_all  # type: ignore[method-assign]
        await transcript.text_delta("Reading the file.\n\nThen ")
        await transcript.text_delta("editing it.")
        await transcript.tool_started("c1", "read")
        await transcript.tool_ready("c1", "read", {"path": "a.py"}, None)
        await transcript.tool_result("c1", "read", "x = 1\n", False)
        assert transcript.answer is None and transcript.tool("c1").view is None  # not before the frame
        await transcript.flush()  # the frame
        assert mounted == [[("MessageView", False, None), ("ToolCallBlock", None, "ok")]]
        answer = transcript.items[0].view
        assert isinstance(answer, MessageView) and answer.finished and not answer.has_live_markdown
        assert answer.text == "Reading the file.\n\nThen editing it."
        block = transcript.tool("c1").view
        assert isinstance(block, ToolCallBlock) and block.has_class("-ok")
        # An answer still streaming at its first frame is built live and goes on streaming.
        await transcript.text_delta("Done: ")
        await transcript.flush()
        live = transcript.answer
        assert isinstance(live, MessageView) and live.streaming
        await transcript.text_delta("all good.")
        await transcript.finish_streams()
        await pilot.pause()
        assert live.text == "Done: all good." and live.finished and transcript.live_markdown_count == 0


async def test_more_than_the_window_in_one_frame_builds_only_the_newest() -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        await transcript.add_user("go")
        await pilot.pause()
        # 40 turns in one frame, each an answer and a call (a backlog the screen catches up on).
        for i in range(40):
            await transcript.text_delta(f"Step {i}: " + "word " * 40 + "\n\nMore.")
            await transcript.tool_started(f"c{i}", "bash")
            await transcript.tool_ready(f"c{i}", "bash", {"command": f"echo {i}"}, None)
            await transcript.tool_result(f"c{i}", "bash", f"{i}\n", False)
        await transcript.flush()
        await pilot.pause()
        built = [item for item in transcript.items if item.view is not None]
        assert len(transcript.items) == 81
        assert 0 < len(built) < 20 and built[-1] is transcript.items[-1]  # only the newest, the window's worth
        assert transcript.hidden_count == 81 - len(built)
        assert transcript.virtual_size.height >= transcript.size.height  # the screen is full
        # Nothing lost: scrolling back builds the rest, in order, as it was said.
        await transcript.scroll_to_start()
        await pilot.pause()
        await pilot.pause()
        assert transcript.hidden_count == 0 and all(item.view is not None for item in transcript.items)
        answers = [view.text for view in transcript.query(MessageView) if view.role == "assistant"]
        assert answers == [f"Step {i}: " + "word " * 40 + "\n\nMore." for i in range(40)]
        assert [block.item.call_id for block in transcript.query(ToolCallBlock)] == [f"c{i}" for i in range(40)]
        assert all(block.has_class("-ok") for block in transcript.query(ToolCallBlock))
        assert "go" in transcript.render_text()


async def test_a_burst_of_finished_items_is_mounted_once_per_interval_and_a_live_answer_at_once(monkeypatch: Any) -> None:
    # The frames' clock is the transcript's own: held still here, so that the 30 Hz
    # timer running in the background decides exactly as the explicit ticks below.
    clock = [1000.0]
    monkeypatch.setattr(transcript_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)

        async def turn(i: int) -> None:  # an answer and a call, both over before the frame
            await transcript.text_delta(f"Step {i}.")
            await transcript.tool_started(f"c{i}", "bash")
            await transcript.tool_ready(f"c{i}", "bash", {"command": f"echo {i}"}, None)
            await transcript.tool_result(f"c{i}", "bash", f"{i}\n", False)

        await turn(0)
        await transcript._tick()  # nothing mounted lately: at once
        assert transcript.tool("c0").view is not None
        await turn(1)
        await transcript._tick()  # within the interval: held, kept in the history
        assert transcript.tool("c1").view is None and len(transcript.items) == 4
        clock[0] += MOUNT_SECONDS
        await transcript._tick()
        assert transcript.tool("c1").view is not None
        # An answer that is still streaming is not held, nor is what came before it.
        await turn(2)
        await transcript.text_delta("Now ")
        await transcript._tick()
        assert transcript.tool("c2").view is not None
        live = transcript.answer
        assert isinstance(live, MessageView) and live.streaming
        await transcript.text_delta("done.")
        await transcript.finish_streams()
        # Not following (the user scrolled up): nothing is held.
        transcript.release_anchor()
        await turn(3)
        await transcript._tick()
        assert transcript.tool("c3").view is not None
        await pilot.pause()
        assert [view.text for view in transcript.query(MessageView)] == ["Step 0.", "Step 1.", "Step 2.", "Now done.", "Step 3."]


async def test_a_long_answer_that_ends_before_its_frame_is_cut_like_a_streamed_one(monkeypatch: Any) -> None:
    monkeypatch.setattr(MessageView, "MAX_VIEW_CHARS", 2000)
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        text = "".join(f"Paragraph {i}: " + "word " * 30 + "\n\n" for i in range(40)) + "The end."
        await transcript.text_delta(text)
        await transcript.finish_streams(stopped=True)
        await transcript.flush()
        await pilot.pause()
        items = [item for item in transcript.items if isinstance(item, MessageItem)]
        assert len(items) >= 3 and not items[0].continues and all(item.continues for item in items[1:])
        assert "".join(item.text for item in items) == text
        assert all("".join(item.pieces) == item.text and len(item.pieces) > 1 for item in items[:-1])
        assert all(sum(len(p) for p in item.pieces) <= 2000 + MessageView.SOFT_LIMIT * 3 for item in items)
        assert [item.stopped for item in items] == [False] * (len(items) - 1) + [True]  # marked once, at the end
        assert transcript.live_markdown_count == 0


async def test_text_arriving_while_a_long_answer_is_continued_is_shown(monkeypatch: Any) -> None:
    monkeypatch.setattr(MessageView, "MAX_VIEW_CHARS", 2000)
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        real_finish = MessageView.finish
        arrived: list[str] = []

        async def finish_while_text_arrives(self: MessageView, **kwargs: Any) -> Any:
            if not arrived:  # the first item is finished as the answer goes on
                arrived.append("late words ")
                await transcript.text_delta("late words ")
            return await real_finish(self, **kwargs)

        monkeypatch.setattr(MessageView, "finish", finish_while_text_arrives)
        text = "".join(f"Paragraph {i}: " + "word " * 30 + "\n\n" for i in range(30))
        for start in range(0, len(text), 700):
            await transcript.text_delta(text[start : start + 700])
            await transcript.flush()
            await pilot.pause()
        await transcript.finish_streams()
        await pilot.pause()
        items = [item for item in transcript.items if isinstance(item, MessageItem)]
        assert arrived and len(items) >= 2
        assert "".join(item.text for item in items).count("late words") == 1
        # What each item shows (its frozen pieces) is all it holds: nothing only in the data.
        assert all("".join(item.pieces) == item.text for item in items)
