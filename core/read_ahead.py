"""An event stream read ahead of a slower consumer; text deltas joined while it lags.

A screen that shows events spends its time on frames and widgets, while the agent's
own time goes mostly into waiting (a tool's process, the next response). Read event by
event, the two take turns: the agent waits while the screen renders, the screen waits
while the tool runs. :class:`ReadAhead` runs the stream in a task of its own, so the
agent goes on (runs the tool, sends the next request) while the consumer catches up,
and the consumer's work overlaps the agent's waits (``benchmarks/tui_session.py``).

- Order is kept. Consecutive text (or reasoning) deltas of one agent that are still
  waiting are joined into one event when taken: a consumer that is a few frames behind
  makes one append, not hundreds.
- The lead is bounded: at most ``max_items`` events wait (a joined run counts once);
  past that the stream pauses until the consumer takes one.
- Nothing read is dropped: after :meth:`ReadAhead.stop`, :meth:`ReadAhead.drain` gives
  what was waiting (the agent had recorded it already).
- A consumer that must show everything before some outside request (a permission
  question comes after its ``PermissionRequested`` event) compares :attr:`ReadAhead.read`
  at the time of the request with :attr:`ReadAhead.taken`.
- An exception of the stream reaches the consumer after the events before it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from agentic_flow.core.events import Event, TextDelta, ThinkingDelta

__all__ = ["ReadAhead"]


class _Run:
    """Deltas of one kind and one agent, joined when taken."""

    __slots__ = ("first", "parts")

    def __init__(self, first: TextDelta | ThinkingDelta) -> None:
        self.first = first
        self.parts: list[str] = [first.text]

    def joins(self, event: TextDelta | ThinkingDelta) -> bool:
        first = self.first
        if type(event) is not type(first) or event.agent_id != first.agent_id or event.parent_id != first.parent_id:
            return False
        # A signed reasoning block's signature must stay on its own event.
        return not (isinstance(event, ThinkingDelta) and (event.signature or first.signature))  # type: ignore[union-attr]

    def event(self) -> Event:
        if len(self.parts) == 1:
            return self.first
        return self.first.model_copy(update={"text": "".join(self.parts)})


class _End:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ReadAhead:
    """Iterate ``stream`` in its own task, up to ``max_items`` events ahead of the consumer.

    ``async for event in reader`` starts it. Always call :meth:`stop` once done (it ends
    the task and closes the stream); if the consumer stopped early, :meth:`drain` gives
    what was read and not taken.
    """

    def __init__(self, stream: AsyncIterator[Event], *, max_items: int = 64) -> None:
        self._stream = stream
        self.max_items = max(1, max_items)
        self._items: deque[Event | _Run | _End] = deque()
        self._ready = asyncio.Event()  # something is waiting (an event or the end)
        self._room = asyncio.Event()  # fewer than max_items are waiting
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self.read = 0
        """Events read so far (deltas joined into one waiting event count once)."""
        self.taken = 0
        """Events the consumer took so far."""

    # -- the reading task ---------------------------------------------------------------------
    async def _pump(self) -> None:
        items = self._items
        error: BaseException | None = None
        try:
            async for event in self._stream:
                if type(event) is TextDelta or type(event) is ThinkingDelta:
                    last = items[-1] if items else None
                    if type(last) is _Run and last.joins(event):
                        last.parts.append(event.text)
                        continue
                    item: Event | _Run = _Run(event)
                else:
                    item = event
                while len(items) >= self.max_items:
                    self._room.clear()
                    await self._room.wait()
                items.append(item)
                self.read += 1
                self._ready.set()
        except Exception as exc:  # raised to the consumer after what came before it
            error = exc
        finally:
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception as exc:  # a clean-up that failed is still reported
                    error = error or exc
            items.append(_End(error))
            self._ready.set()

    # -- the consumer -----------------------------------------------------------------------
    def __aiter__(self) -> "ReadAhead":
        if self._task is None:
            self._task = asyncio.create_task(self._pump(), name="read-ahead")
        return self

    async def __anext__(self) -> Event:
        items = self._items
        while not items:
            self._ready.clear()
            await self._ready.wait()
        item = items[0]
        if type(item) is _End:
            if item.error is not None:
                error, item.error = item.error, None
                raise error
            raise StopAsyncIteration
        items.popleft()
        self.taken += 1
        self._room.set()
        return item.event() if type(item) is _Run else item  # type: ignore[return-value]

    @property
    def waiting(self) -> int:
        """Events read and not taken yet (a joined run counts once)."""
        return self.read - self.taken

    async def stop(self) -> None:
        """End the reading task (the stream is closed: its clean-up runs) and wait for it."""
        task = self._task
        if task is None:  # never iterated
            close = getattr(self._stream, "aclose", None)
            if close is not None:
                await close()
            return
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def drain(self) -> list[Event]:
        """What was read and not taken (after :meth:`stop`); a stream error is not raised."""
        out: list[Event] = []
        while self._items:
            item = self._items.popleft()
            if type(item) is not _End:
                self.taken += 1
                out.append(item.event() if type(item) is _Run else item)  # type: ignore[arg-type]
        return out
