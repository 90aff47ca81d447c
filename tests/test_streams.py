"""``core.streams.merge``: several sources at once, none ahead of the consumer, stopped together."""

from __future__ import annotations

import asyncio

import pytest

from agentic_flow.core.streams import merge


async def test_sources_interleave_and_wait_for_the_consumer():
    log: list[str] = []
    gate = asyncio.Event()

    async def slow():
        log.append("slow start")
        await gate.wait()
        yield "slow"

    async def fast():
        for i in range(3):
            log.append(f"fast {i} produced")
            yield f"fast {i}"

    got = []

    async def consume() -> None:
        async for item in merge([slow(), fast()]):
            got.append(item)
            log.append(f"took {item}")
            if item == "fast 2":
                gate.set()

    await asyncio.wait_for(consume(), 5)  # one source at a time would wait for the gate forever
    assert got == ["fast 0", "fast 1", "fast 2", "slow"]  # the slow source did not hold the fast one up
    # a source produces its next item only after the consumer took the previous one
    assert log.index("took fast 0") < log.index("fast 1 produced") < log.index("took fast 1")


async def test_a_failing_source_stops_the_others_and_raises():
    cancelled = asyncio.Event()

    async def forever():
        try:
            yield 1
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async def broken():
        yield 2
        raise ValueError("boom")

    async def consume() -> None:
        async for _ in merge([forever(), broken()]):
            pass

    with pytest.raises(ValueError, match="boom"):
        await asyncio.wait_for(consume(), 5)
    assert cancelled.is_set()


async def test_a_stopped_consumer_stops_every_source():
    stopped: list[str] = []

    async def endless(name: str):
        try:
            while True:
                yield name
                await asyncio.sleep(0)
        finally:
            stopped.append(name)

    async def consume():
        async for _ in merge([endless("a"), endless("b")]):
            pass

    task = asyncio.create_task(consume())
    for _ in range(20):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(stopped) == ["a", "b"]
