"""Several async streams as one, each source in its own task (the parallel subagents).

:func:`merge` keeps what a single generator guarantees: a source resumes only once the
consumer took its last item, so nothing runs ahead of what the consumer has shown (a
permission request is on screen before the person is asked), and stopping the consumer
stops every source, each getting the chance to record what it had done (it is closed, ``aclose()``, before
:func:`merge` returns).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["merge"]

E = TypeVar("E")

_DONE = object()


async def merge(sources: list[AsyncIterator[E]]) -> AsyncIterator[E]:
    """The events of several sources as they come, each source in its own task.

    A source goes on only once its event was taken by the consumer (as with one plain
    generator), so a ``PermissionRequested`` is shown before the approver is asked, and
    no source runs ahead of what the consumer can show. If the consumer stops
    (cancelled, closed), every source is cancelled and awaited before this returns, so
    each can record what it had done. An exception in a source is raised here.
    """
    queue: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def pump(source: AsyncIterator[E]) -> None:
        try:
            async for event in source:
                taken: asyncio.Future[None] = loop.create_future()
                queue.put_nowait((event, taken))
                await taken
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, which raises it
            queue.put_nowait(_Failed(exc))
        finally:
            # A source parked at its yield (the consumer stopped before taking the item)
            # is closed now, so its own clean-up runs before this stream ends, not at GC.
            try:
                close = getattr(source, "aclose", None)
                if close is not None:
                    await close()
            except Exception as exc:  # a clean-up that failed is still reported
                queue.put_nowait(_Failed(exc))
            finally:
                queue.put_nowait(_DONE)

    tasks = [asyncio.create_task(pump(source)) for source in sources]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Failed):
                raise item.exc
            else:
                event, taken = item
                yield event
                taken.set_result(None)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class _Failed:
    exc: BaseException
