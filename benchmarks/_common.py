"""Shared pieces of the benchmarks: the install check, the stall monitor, RSS, statistics."""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import time
from dataclasses import dataclass, field

#: What the benchmarks import beyond the package itself, and the extra that brings it.
_NEEDS = {"pytest": "test", "textual": "(core dependency)", "httpx": "(core dependency)", "orjson": "(core dependency)"}


def require_test_install(*extra_modules: str) -> None:
    """Exit with the install command when the README's test install is missing."""
    missing = [m for m in (*_NEEDS, *extra_modules) if importlib.util.find_spec(m) is None]
    if importlib.util.find_spec("agentic_flow") is None:
        missing.insert(0, "agentic_flow")
    if missing:
        raise SystemExit(
            f"the benchmarks need the test install (missing: {', '.join(missing)}). From the repository root run:\n"
            "    python -m venv .venv && .venv/bin/pip install -e '.[test]'\n"
            "then run the benchmark with .venv/bin/python."
        )


@dataclass
class StallMonitor:
    """Sleeps ``interval`` seconds in a loop; records how late each wake-up is.

    The worst overshoot is the longest time the event loop could not react to a key.
    """

    interval: float = 0.005
    overshoots: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _stop: bool = False

    async def _run(self) -> None:
        while not self._stop:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.overshoots.append(time.perf_counter() - start - self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            await self._task

    @property
    def worst_ms(self) -> float:
        return max(self.overshoots, default=0.0) * 1000

    @property
    def p99_ms(self) -> float:
        if len(self.overshoots) < 2:
            return self.worst_ms
        return statistics.quantiles(self.overshoots, n=100)[98] * 1000

    def over(self, ms: float) -> int:
        return sum(1 for o in self.overshoots if o * 1000 > ms)


def status_mib(field_name: str) -> float:
    """A figure of /proc/self/status (VmRSS, VmHWM) in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def med(values: list[float]) -> str:
    """``median (min–max)`` of one figure over the rounds."""
    if not values:
        return "-"
    m = statistics.median(values)
    lo, hi = min(values), max(values)
    return f"{_fmt(m)} ({_fmt(lo)}–{_fmt(hi)})"


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"
