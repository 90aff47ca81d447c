"""Stream 20,000 tokens into the session pane and report throughput and event-loop stalls.

    python benchmarks/tui_stream.py [--tokens 20000] [--turns 1] [--size 120x40]

Headless (``App.run_test``), a fake event source (a runtime whose ``send()`` yields
``TextDelta`` events of realistic Markdown — paragraphs, lists, headings, code fences —
letting the loop run between tokens, as reads from a socket do), the real
``SessionScreen``. A monitor task sleeps 5 ms in a loop and records how late it wakes
up: the worst overshoot is the longest time the UI could not react to a key.

Baseline, measured in the same run: the same tokens written one by one to a plain
``Log`` widget (the cheapest text widget Textual has). The ratio says how much the
Markdown pane costs compared to it. Targets (DESIGN.md): >= 5,000 tokens/s, no stall
over 50 ms, independent of session length (``--turns 2`` streams a second answer after
the first, so the second turn runs with a long transcript).

Not a test: timings depend on the machine; nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import Log  # noqa: E402

from agentic_flow.core.events import TextDelta, TurnEnded  # noqa: E402
from agentic_flow.core.runtime import RunOptions  # noqa: E402
from agentic_flow.core.session import SessionTotals  # noqa: E402
from agentic_flow.tui.screens.session import SessionScreen  # noqa: E402

TARGET_TOKENS_PER_S = 5000
TARGET_STALL_MS = 50

_WORDS = (
    "the model streams tokens into a pane while the user reads code and prose about "
    "permissions providers latency throughput session transcript widget layout frame"
).split()


def make_tokens(n: int, seed: int = 7) -> list[str]:
    """``n`` word-sized tokens of Markdown: mostly prose, some code, lists and headings."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        roll = rnd.random()
        if roll < 0.06:
            out += ["\n\n```python\n", "def", " handler", "(event", "):\n", "    return", " event", ".text", "\n", "```\n\n"]
        elif roll < 0.10:
            out += ["\n\n## ", rnd.choice(_WORDS).title(), " ", rnd.choice(_WORDS), "\n\n"]
        elif roll < 0.16:
            for _ in range(3):
                out += ["\n- ", rnd.choice(_WORDS)] + [" " + rnd.choice(_WORDS) for _ in range(5)]
            out.append("\n\n")
        else:
            out += [" " + rnd.choice(_WORDS) for _ in range(rnd.randint(8, 20))]
            out.append(rnd.choice([".", ".", ". **Note**:", ".\n\n", ", `code`,"]))
    return out[:n]


# --------------------------------------------------------------------- measurement


@dataclass
class StallMonitor:
    """Sleeps ``interval`` seconds in a loop; records how late each wake-up is."""

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


@dataclass
class Result:
    name: str
    tokens: int
    seconds: float
    worst_ms: float
    p99_ms: float
    stalls_over_target: int

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else float("inf")

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.tokens_per_s:>10,.0f} tok/s   worst stall {self.worst_ms:6.1f} ms   "
            f"p99 {self.p99_ms:5.1f} ms   stalls > {TARGET_STALL_MS} ms: {self.stalls_over_target}"
        )


# --------------------------------------------------------------------- the fake runtime


class _Engine:
    mode = "ask"
    project_settings_path = Path(".agentic-flow/settings.yaml")

    def suggest_rule(self, request: Any) -> None:
        return None


class _Session:
    """Just enough of ``core.session.AgentSession`` for the session screen."""

    def __init__(self, source: Callable[[], AsyncIterator[Any]]) -> None:
        self.source = source
        self.model_id = "bench:fake-model"
        self.agent_name = "bench"
        self.session_id = "bench"
        self.store = None
        self.engine = _Engine()
        self.totals = SessionTotals()
        self.cancel_event = asyncio.Event()
        self.messages: list[Any] = []

    def send(self, text: str) -> AsyncIterator[Any]:
        return self.source()


class _Runtime:
    def __init__(self, session: _Session) -> None:
        self.session = session
        self.catalog: list[Any] = []
        self.warnings: list[str] = []
        self.model_reason = "--model"

    # the Runtime facade the session screen talks to
    model_id = property(lambda self: self.session.model_id)
    agent_name = property(lambda self: self.session.agent_name)
    session_id = property(lambda self: self.session.session_id)
    store = property(lambda self: None)
    totals = property(lambda self: self.session.totals)
    mode = property(lambda self: "ask")

    def send(self, text: str) -> AsyncIterator[Any]:
        return self.session.send(text)

    def cancel(self) -> None:
        self.session.cancel_event.set()

    def switch_model(self, model_id: str, base_url: str | None = None) -> None:
        self.session.model_id = model_id

    async def aclose(self) -> None:
        pass


def token_source(tokens: list[str]) -> Callable[[], AsyncIterator[Any]]:
    async def events() -> AsyncIterator[Any]:
        for token in tokens:
            yield TextDelta(text=token)
            await asyncio.sleep(0)  # a socket read per token: the loop runs in between
        yield TurnEnded(stop_reason="end_turn")

    return events


class PaneApp(App[None]):
    def __init__(self, screen: SessionScreen) -> None:
        super().__init__()
        self._session_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._session_screen)


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Log()


# --------------------------------------------------------------------- runs


async def run_session_pane(tokens: list[str], size: tuple[int, int], turns: int) -> list[Result]:
    session = _Session(token_source(tokens))

    async def opener(opts: Any, approver: Any, on_notice: Any) -> _Runtime:
        return _Runtime(session)

    screen = SessionScreen(RunOptions(workspace="."), open_runtime=opener)
    app = PaneApp(screen)
    results: list[Result] = []
    async with app.run_test(size=size) as pilot:
        while screen.runtime is None:
            await pilot.pause(0.01)
        await pilot.pause(0.1)
        for turn in range(1, turns + 1):
            gc.collect()
            monitor = StallMonitor()
            monitor.start()
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            worker = await screen.send(f"turn {turn}: write a long answer")
            await worker.wait()
            await pilot.pause()  # one more frame: what was flushed is on screen
            elapsed = time.perf_counter() - started
            await monitor.stop()
            answer = screen.transcript.query("MessageView.-assistant").last()
            shown = len(answer.text)  # type: ignore[attr-defined]
            expected = len("".join(tokens))
            if shown != expected:
                raise SystemExit(f"the pane shows {shown} characters, expected {expected}")
            name = "session pane" + (f" (turn {turn})" if turns > 1 else "")
            results.append(
                Result(name, len(tokens), elapsed, monitor.worst_ms, monitor.p99_ms, monitor.over(TARGET_STALL_MS))
            )
    return results


async def run_log_baseline(tokens: list[str], size: tuple[int, int]) -> Result:
    app = LogApp()
    async with app.run_test(size=size) as pilot:
        log = app.query_one(Log)
        await pilot.pause(0.1)
        gc.collect()
        monitor = StallMonitor()
        monitor.start()
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        for token in tokens:
            log.write(token)
            await asyncio.sleep(0)
        await pilot.pause()
        elapsed = time.perf_counter() - started
        await monitor.stop()
    return Result("baseline: plain Log widget", len(tokens), elapsed, monitor.worst_ms, monitor.p99_ms,
                  monitor.over(TARGET_STALL_MS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--turns", type=int, default=1, help="answers streamed one after the other")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    tokens = make_tokens(args.tokens)

    baseline = asyncio.run(run_log_baseline(tokens, (width, height)))
    pane = asyncio.run(run_session_pane(tokens, (width, height), args.turns))

    print(f"{args.tokens:,} tokens ({len(''.join(tokens)):,} characters of Markdown), terminal {width}x{height}")
    print(baseline.line())
    for result in pane:
        print(result.line())
    worst = max(r.worst_ms for r in pane)
    slowest = min(r.tokens_per_s for r in pane)
    print(f"ratio session pane / Log: {slowest / baseline.tokens_per_s:.2f}x throughput, "
          f"stall {worst:.1f} ms vs {baseline.worst_ms:.1f} ms")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB")
    ok = slowest >= TARGET_TOKENS_PER_S and worst <= TARGET_STALL_MS
    print(f"target >= {TARGET_TOKENS_PER_S:,} tok/s and no stall > {TARGET_STALL_MS} ms: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
