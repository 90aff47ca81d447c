"""Where the event loop stalls: a watchdog thread that samples the loop thread's stack.

    probe = StallProbe(threshold=0.05)
    probe.start()           # in the event loop's thread, inside the running loop
    ...
    await probe.stop()
    print(probe.report())

A heartbeat task in the loop stamps the time every ``tick`` seconds. A daemon thread
wakes every ``sample`` seconds; while the last stamp is older than ``tick + sample`` it
takes the loop thread's stack (``sys._current_frames()``). A stall longer than
``threshold`` is kept with the stacks seen during it. Full garbage collections are
recorded through ``gc.callbacks`` (a collection holds the GIL, so no sample is taken
during one: the report lists the collections that overlapped each stall).

For profiling runs only: sampling takes the GIL away from the loop now and then.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stall:
    start: float
    end: float
    stacks: collections.Counter[tuple[str, ...]] = field(default_factory=collections.Counter)
    collections_ms: list[tuple[int, float]] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


class StallProbe:
    def __init__(self, threshold: float = 0.05, tick: float = 0.002, sample: float = 0.002, depth: int = 40) -> None:
        self.threshold = threshold
        self.tick = tick
        self.sample = sample
        self.depth = depth
        self.stalls: list[Stall] = []
        self.gcs: list[tuple[float, float, int]] = []  # start, end, generation
        self._beat = time.perf_counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop_thread = threading.get_ident()
        self._gc_start = 0.0

    def _gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gcs.append((self._gc_start, time.perf_counter(), info["generation"]))

    async def _heartbeat(self) -> None:
        while not self._stop.is_set():
            self._beat = time.perf_counter()
            await asyncio.sleep(self.tick)

    def _watch(self) -> None:
        current: Stall | None = None
        while not self._stop.wait(self.sample):
            now = time.perf_counter()
            beat = self._beat
            late = now - beat > self.tick + self.sample
            if late:
                if current is None or current.start != beat:
                    self._close(current)
                    current = Stall(beat, now)
                current.end = now
                frame = sys._current_frames().get(self._loop_thread)
                if frame is not None:
                    stack = tuple(
                        f"{fs.filename.rsplit('site-packages/', 1)[-1]}:{fs.lineno} {fs.name}"
                        for fs in traceback.extract_stack(frame)[-self.depth :]
                    )
                    current.stacks[stack] += 1
            elif current is not None:
                current.end = beat
                self._close(current)
                current = None
        self._close(current)

    def _close(self, stall: Stall | None) -> None:
        if stall is not None and stall.end - stall.start >= self.threshold:
            self.stalls.append(stall)

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        gc.callbacks.append(self._gc_callback)
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        if self._thread is not None:
            self._thread.join()
        if self._gc_callback in gc.callbacks:
            gc.callbacks.remove(self._gc_callback)
        for stall in self.stalls:
            stall.collections_ms = [
                (gen, (e - s) * 1000) for s, e, gen in self.gcs if e > stall.start and s < stall.end
            ]

    def report(self, top: int = 3, worst: int = 10) -> str:
        out: list[str] = []
        full = [(e - s) * 1000 for s, e, g in self.gcs if g == 2]
        young = [(e - s) * 1000 for s, e, g in self.gcs if g < 2]
        out.append(
            f"collections: {len(full)} full, {sum(full):.0f} ms total, worst {max(full, default=0):.1f} ms; "
            f"{len(young)} young, {sum(young):.0f} ms total, worst {max(young, default=0):.1f} ms"
        )
        out.append(f"stalls over {self.threshold * 1000:.0f} ms: {len(self.stalls)}")
        for stall in sorted(self.stalls, key=lambda s: -s.ms)[:worst]:
            gcs = ", ".join(f"gen{g} {ms:.0f} ms" for g, ms in stall.collections_ms)
            out.append(f"\n== stall {stall.ms:.0f} ms ({sum(stall.stacks.values())} samples){' GC: ' + gcs if gcs else ''}")
            for stack, count in stall.stacks.most_common(top):
                out.append(f"  -- {count} samples:")
                out.extend("     " + line for line in stack[-18:])
        return "\n".join(out)
