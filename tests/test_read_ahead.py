"""ReadAhead: the agent's events read in a task of their own, ahead of a slower consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentic_flow.core.events import Event, TextDelta, ThinkingDelta, ToolCallStarted, TurnEnded
from agentic_flow.core.read_ahead import ReadAhead


class Source:
    """A scripted stream that records how far it got and whether it was closed."""

    def __init__(self, events: list[Any], *, gate: asyncio.Event | None = None) -> None:
        self.events = events
        self.gate = gate
        self.yielded = 0
        self.closed = False

    async def stream(self) -> AsyncIterator[Event]:
        try:
            for event in self.events:
                if isinstance(event, BaseException):
                    raise event
                if event == "gate":
                    assert self.gate is not None
                    await self.gate.wait()
                    continue
                self.yielded += 1
                yield event
        finally:
            self.closed = True


async def settle(condition: Any) -> None:
    """Let the reading task run until ``condition()`` holds (a bounded number of steps)."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the reading task did not get there")


async def test_runs_ahead_and_joins_waiting_text_in_order() -> None:
    source = Source([
        TextDelta(text="Hel"), TextDelta(text="lo "), TextDelta(text="world"),
        ThinkingDelta(text="a"), ThinkingDelta(text="b"),
        ToolCallStarted(call_id="c1", name="read"),
        TextDelta(text="x", agent_id="main.1", parent_id="main"),
        TextDelta(text="y", agent_id="main.2", parent_id="main"), TextDelta(text="z"),
        TurnEnded(stop_reason="end_turn"),
    ])
    reader = ReadAhead(source.stream(), max_items=64)
    it = aiter(reader)
    await settle(lambda: source.closed)  # the whole stream was read before anything was taken
    assert reader.waiting == 7
    got = [event async for event in it]
    await reader.stop()
    assert [(type(e).__name__, getattr(e, "text", None), e.agent_id) for e in got] == [
        ("TextDelta", "Hello world", "main"),
        ("ThinkingDelta", "ab", "main"),
        ("ToolCallStarted", None, "main"),
        ("TextDelta", "x", "main.1"),  # one agent's text is never joined with another's
        ("TextDelta", "y", "main.2"),
        ("TextDelta", "z", "main"),
        ("TurnEnded", None, "main"),
    ]
    assert reader.taken == reader.read == 7


async def test_signed_reasoning_keeps_its_signature_on_its_own_event() -> None:
    source = Source([ThinkingDelta(text="a"), ThinkingDelta(text="", signature="sig"), ThinkingDelta(text="b")])
    reader = ReadAhead(source.stream())
    it = aiter(reader)
    await settle(lambda: source.closed)
    got = [event async for event in it]
    await reader.stop()
    assert [(e.text, e.signature) for e in got] == [("a", None), ("", "sig"), ("b", None)]


async def test_text_taken_as_it_comes_is_not_held_back() -> None:
    gate = asyncio.Event()
    source = Source([TextDelta(text="one"), "gate", TextDelta(text="two")], gate=gate)
    reader = ReadAhead(source.stream())
    it = aiter(reader)
    first = await anext(it)
    assert first.text == "one"  # type: ignore[attr-defined]
    gate.set()
    assert [e.text async for e in it] == ["two"]  # type: ignore[attr-defined]
    await reader.stop()


async def test_the_lead_is_bounded() -> None:
    source = Source([ToolCallStarted(call_id=f"c{i}", name="read") for i in range(50)])
    reader = ReadAhead(source.stream(), max_items=5)
    it = aiter(reader)
    await settle(lambda: reader.read == 5)
    for _ in range(20):
        await asyncio.sleep(0)
    assert reader.read == 5 and source.yielded == 6  # the sixth waits for room
    assert (await anext(it)).call_id == "c0"  # type: ignore[attr-defined]
    await settle(lambda: reader.read == 6)
    assert source.yielded == 7
    await reader.stop()


async def test_stop_closes_the_stream_and_drain_gives_what_was_read() -> None:
    gate = asyncio.Event()
    source = Source([TextDelta(text="a"), ToolCallStarted(call_id="c1", name="bash"), TextDelta(text="b"),
                     TextDelta(text="c"), "gate", TurnEnded(stop_reason="end_turn")], gate=gate)
    reader = ReadAhead(source.stream())
    it = aiter(reader)
    assert (await anext(it)).text == "a"  # type: ignore[attr-defined]
    await settle(lambda: reader.read == 3)
    await reader.stop()  # the consumer stops while the stream waits at the gate
    assert source.closed and source.yielded == 4
    rest = reader.drain()
    assert [(type(e).__name__, getattr(e, "text", None)) for e in rest] == [("ToolCallStarted", None), ("TextDelta", "bc")]
    assert reader.drain() == [] and reader.waiting == 0


async def test_an_error_of_the_stream_comes_after_the_events_before_it() -> None:
    source = Source([TextDelta(text="partial"), ToolCallStarted(call_id="c1", name="read"), RuntimeError("boom")])
    reader = ReadAhead(source.stream())
    got: list[Event] = []
    with pytest.raises(RuntimeError, match="boom"):
        async for event in reader:
            got.append(event)
    await reader.stop()
    assert [type(e).__name__ for e in got] == ["TextDelta", "ToolCallStarted"] and source.closed


async def test_stop_without_reading_closes_the_stream() -> None:
    source = Source([TextDelta(text="a")])
    stream = source.stream()
    await anext(stream)  # started, so that closing it runs its clean-up
    reader = ReadAhead(stream)
    await reader.stop()
    assert source.closed
