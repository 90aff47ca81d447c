"""Painted lines are freed as they go: no strip holds itself, removed widgets drop them.

What a full garbage collection has to walk is what made the long stalls of a long answer
(see ``tui/textual_fixes.py`` and ``tui/widgets/render_caches.py``); these tests count
the painted lines left as cyclic garbage, never time anything.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from agentic_flow.tui import textual_fixes
from agentic_flow.tui.widgets.message import MessageItem
from agentic_flow.tui.widgets.transcript import Transcript


def test_a_strip_cut_at_its_own_length_does_not_hold_itself() -> None:
    assert textual_fixes.apply()
    assert not textual_fixes.strip_divide_is_cyclic()
    strip = Strip([Segment("hello")], 5)
    assert strip.divide([5]) == [strip]


@pytest.mark.parametrize("cuts", [[11], [3, 11], [5], [6, 11], [0, 11], [2, 4, 8, 11], [20], [11, 20], []])
def test_the_fixed_divide_cuts_as_textual_does(cuts: list[int]) -> None:
    segments = [Segment("hello "), Segment("wörld", Style(bold=True))]

    def shape(strips: list[Strip]) -> list[tuple[int, list[Segment]]]:
        return [(s.cell_length, list(s)) for s in strips]

    ours = textual_fixes._divide(Strip(segments, 11), iter(cuts))  # any iterable, as Textual takes
    theirs = textual_fixes._TEXTUAL_DIVIDE(Strip(segments, 11), iter(cuts))
    assert shape(list(ours)) == shape(list(theirs))


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript(max_items=4, max_lines=20)


@pytest.fixture
def collector_held() -> Iterator[None]:
    """No automatic collection during the test: the garbage is there to be counted."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def cyclic_garbage() -> list[object]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = list(gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)
    return found


async def test_answers_that_leave_the_screen_leave_no_painted_lines_to_collect(collector_held: None) -> None:
    textual_fixes.apply()
    app = TranscriptApp()
    async with app.run_test(size=(80, 24)) as pilot:
        transcript = app.query_one(Transcript)
        await pilot.pause()
        cyclic_garbage()  # what starting the app left
        for i in range(30):
            if i % 3:
                await transcript.add_item(MessageItem("assistant", f"Answer {i}\n\n" + "word " * 200))
            else:  # streamed: painted live first, then frozen (the live widget removed)
                for _ in range(4):
                    await transcript.text_delta(f"Answer {i}\n\n" + "word " * 50)
                    await transcript.flush()
                    await pilot.pause()
                await transcript.finish_streams()
            await transcript.flush()
            await pilot.pause()
        assert transcript.hidden_count > 20  # painted, then removed from the window
        garbage = cyclic_garbage()
        assert sum(1 for obj in garbage if type(obj) is Strip) == 0  # painted lines (~1,000 before)
        # The rendered pieces of the removed answers (~400 segments before; a stray few
        # may come from Textual's own widgets).
        assert sum(1 for obj in garbage if type(obj) is Segment) < 20
