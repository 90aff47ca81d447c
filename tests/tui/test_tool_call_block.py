"""A tool call's block: how it looks in each state, and how the user opens and closes it.

The snapshots show one block per state (running, pending, allowed with its result, an
error, denied, a diff that opened by itself, bad arguments, streaming arguments), half
built from a finished item and half updated while mounted, with one title focused and
another hovered; in the dark and in the light theme.
"""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.theme import Theme

from agentic_flow.tui.widgets.tool_call import ToolCallBlock, ToolCallItem
from tests.tui.session_fakes import EDIT_DIFF

SIZE = (100, 70)
LONG_COMMAND = "grep -rn 'def greet' src tests docs examples | sort | uniq -c | head -n 40 && echo 'a long command that wraps'"


def _running() -> ToolCallItem:
    item = ToolCallItem("c1", "bash")
    item.args_delta('{"command": "git sta')
    return item


def _pending() -> ToolCallItem:
    item = ToolCallItem("c2", "bash")
    item.ready({"command": "git push"})
    item.pending()
    return item


def _allowed(open_: bool = True) -> ToolCallItem:
    item = ToolCallItem("c3", "bash")
    item.ready({"command": LONG_COMMAND, "timeout": 30})
    item.decided(True, "once", "you", None)
    item.result("src/app.py:1: def greet(name):\ntests/test_app.py:3: def greet_test():\n", False)
    item.collapsed = not open_
    return item


def _error() -> ToolCallItem:
    item = ToolCallItem("c4", "read")
    item.ready({"path": "missing.py"})
    item.decided(True, "session", "mode:accept-edits", None)
    item.result("No such file: missing.py", True)
    item.collapsed = False
    return item


def _denied() -> ToolCallItem:
    item = ToolCallItem("c5", "bash")
    item.ready({"command": "rm -rf build"})
    item.decided(False, "once", "you", "not now")
    item.result("permission denied: not now", True)
    item.collapsed = False
    return item


def _diff() -> ToolCallItem:
    item = ToolCallItem("c6", "edit")
    item.ready({"path": "src/app.py", "old": "Hello", "new": "Hello,"})
    item.result("Edited src/app.py\n" + EDIT_DIFF, False)
    return item


def _bad_args() -> ToolCallItem:
    item = ToolCallItem("c7", "write")
    item.args_delta('{"path": "a.py", "content": ')
    item.ready(None, "the arguments are not valid JSON: Expecting value at column 29")
    item.collapsed = False
    return item


def _streaming_open() -> ToolCallItem:
    item = ToolCallItem("c8", "write")
    item.collapsed = False
    item.args_delta('{"path": "notes.md", "content": "# Notes\\n')
    return item


BUILDERS = [_running, _pending, _allowed, lambda: _allowed(open_=False), _error, _denied, _diff, _bad_args, _streaming_open]


class BlocksApp(App[None]):
    def __init__(self, theme: str | None = None) -> None:
        super().__init__()
        if theme:
            self.theme = theme
        self.items: list[ToolCallItem] = []

    def compose(self) -> ComposeResult:
        yield VerticalScroll()


def _title_of(block: ToolCallBlock) -> Any:
    return next(w for w in block.walk_children() if w.focusable)


async def _show_all_states(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, BlocksApp)
    scroll = app.query_one(VerticalScroll)
    # Built from finished items (as when the transcript builds them again)...
    finished = [build() for build in BUILDERS]
    # ...and the same states reached by updates while mounted.
    live = [ToolCallItem(f"l{i}", item.name) for i, item in enumerate(finished)]
    shown = finished[::2] + live[1::2]
    for item in shown:
        item.view = item.build()
    await scroll.mount_all([item.view for item in shown if item.view is not None])
    await pilot.pause()
    for i in range(1, len(finished), 2):
        source, item = finished[i], live[i]
        if source.raw_arguments:
            item.args_delta(source.raw_arguments)
        if source.mark:
            item.ready(source.arguments, source.args_error)
        if source.status == "pending":
            item.pending()
        if source.decision is not None:
            item.decision = source.decision
            item.denied = source.denied
            item._set_status("denied" if source.denied else "running", "denied" if source.denied else "running")
            item._changed()
        if source.result_text is not None:
            item.result(source.result_text, source.result_is_error)
        item.collapsed = source.collapsed
        assert isinstance(item.view, ToolCallBlock)
        item.view.sync()
    await pilot.pause()
    blocks = list(app.query(ToolCallBlock))
    _title_of(blocks[4]).focus()
    await pilot.pause()
    target = blocks[2]
    await pilot.hover(offset=(target.region.x + 4, target.region.y))
    await pilot.pause()


def test_snapshot_every_state(snap_compare: Any) -> None:
    assert snap_compare(BlocksApp(), terminal_size=SIZE, run_before=_show_all_states)


def test_snapshot_every_state_light_theme(snap_compare: Any) -> None:
    assert snap_compare(BlocksApp("textual-light"), terminal_size=SIZE, run_before=_show_all_states)


async def test_click_and_enter_on_the_title_toggle_and_the_choice_outlives_the_widget() -> None:
    app = BlocksApp()
    async with app.run_test(size=(80, 24)) as pilot:
        scroll = app.query_one(VerticalScroll)
        item = _allowed(open_=False)
        block = item.build()
        await scroll.mount(block)
        await pilot.pause()
        body = block.query_one(".body")
        assert block.collapsed and not body.display and block.body_text == ""
        title = _title_of(block)
        await pilot.click(title)
        await pilot.pause()
        assert not block.collapsed and not item.collapsed and body.display
        assert "src/app.py:1: def greet(name):" in block.body_text and "allowed (once) by you" in block.body_text
        assert "▼ ⚙ bash" in str(title.render())
        title.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert block.collapsed and item.collapsed and not body.display
        assert "▶ ⚙ bash" in str(title.render())
        await pilot.press("space")
        await pilot.pause()
        assert not block.collapsed and body.display
        # Unmounted and built again from its item (as the transcript does on scroll-back):
        # still open, the same body.
        shown = block.body_text
        await block.remove()
        rebuilt = item.build()
        await scroll.mount(rebuilt)
        await pilot.pause()
        assert not rebuilt.collapsed and rebuilt.query_one(".body").display and rebuilt.body_text == shown
        await pilot.click(_title_of(rebuilt))
        await pilot.pause()
        await rebuilt.remove()
        again = item.build()
        await scroll.mount(again)
        await pilot.pause()
        assert again.collapsed and not again.query_one(".body").display


async def test_an_open_block_takes_the_colours_of_a_new_theme() -> None:
    # The body's parts are coloured by the theme's $text / $text-muted, which the body
    # resolves itself: after a switch it must look as a block built in the new theme.
    app = BlocksApp()
    async with app.run_test(size=(80, 30)) as pilot:
        app.register_theme(Theme(name="orange-muted", primary="#0178D4", dark=True, variables={"text-muted": "#ff8800"}))
        scroll = app.query_one(VerticalScroll)
        first = _allowed().build()
        await scroll.mount(first)
        await pilot.pause()

        def decision_colour(block: ToolCallBlock) -> Any:
            body = block.query_one(".body")
            row = next(y for y in range(body.size.height) if "allowed" in body.render_line(y).text)
            return next(s.style.color for s in body.render_line(row) if s.text.strip())

        old = decision_colour(first)
        app.theme = "orange-muted"
        await pilot.pause()
        after = _allowed()
        after.call_id = "c9"
        fresh = after.build()
        await scroll.mount(fresh)
        await pilot.pause()
        assert decision_colour(fresh).triplet.hex == "#ff8800" != old.triplet.hex
        assert decision_colour(first) == decision_colour(fresh)


async def test_a_diff_that_opens_its_block_restyles_it_once_and_does_not_scroll() -> None:
    # The status and the open state change together: one restyle of the block's subtree.
    # And an edit's diff opening by itself must not scroll (that would stop the transcript
    # from following the answer).
    app = BlocksApp()
    async with app.run_test(size=(80, 12)) as pilot:
        scroll = app.query_one(VerticalScroll)
        await scroll.mount_all([_allowed().build() for _ in range(3)])
        item = ToolCallItem("c6", "edit")
        block = item.view = item.build()
        await scroll.mount(block)
        await pilot.pause()
        scroll.scroll_home(animate=False)
        await pilot.pause()
        restyles: list[str] = []
        real = block.update_node_styles

        def counting(*args: Any, **kwargs: Any) -> None:
            restyles.append(" ".join(sorted(block.classes)))
            real(*args, **kwargs)

        block.update_node_styles = counting  # type: ignore[method-assign]
        item.ready({"path": "src/app.py"})
        item.result("Edited src/app.py\n" + EDIT_DIFF, False)
        await pilot.pause()
        await pilot.pause()
        assert not block.collapsed and block.has_class("-ok") and not block.has_class("-collapsed")
        assert restyles == ["-ok"]
        assert scroll.scroll_y == 0
        # The user opening a block scrolls it into view.
        block.collapsed = True
        await pilot.pause()
        assert scroll.scroll_y == 0
        _title_of(block).action_toggle_block()  # what a click or enter on the title does
        await pilot.pause()
        await pilot.pause()
        assert scroll.scroll_y > 0
