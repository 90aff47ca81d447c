"""Stream 20,000 tokens into the session pane and report throughput and event-loop stalls.

    python benchmarks/tui_stream.py [--tokens 20000] [--turns 1] [--rounds 3] [--size 120x40] [--probe]
                                    [--log-writes frame|token]

Headless (``App.run_test``), a fake event source (a runtime whose ``send()`` yields
``TextDelta`` events of realistic Markdown — paragraphs, lists, headings, code fences —
letting the loop run between tokens, as reads from a socket do), the real
``SessionScreen``. A monitor task sleeps 5 ms in a loop and records how late it wakes
up: the worst overshoot is the longest time the UI could not react to a key.

Baseline, measured in the same run (rounds interleaved, median (min–max)): the same
tokens written to a ``RichLog`` (the fastest stock widget for appended text), batched
the way the pane batches them: one ``write`` per frame (30 Hz) of what arrived since. The ratio says how the Markdown pane compares to it
(``--log-writes token``: one ``write`` per token, a far slower baseline). Targets (DESIGN.md):
>= 5,000 tokens/s, no stall over 50 ms, independent of session length (``--turns 2``
streams a second answer after the first, so the second turn runs with a long
transcript); issue 12: stall <= 50 ms at 100,000 tokens in one answer (``--tokens 100000``).

Correctness is checked on what was rendered, not on what was received: the words of
the answer's rendered lines (every piece of its frozen Markdown, rendered as it is
painted) must be the words of the tokens sent, in order; likewise for the RichLog's
lines.

``--probe`` samples the loop thread's stack during each stall of the pane over 50 ms and
lists the full collections (``_stall_probe.py``), and prints where the worst were.

Not a test: timings depend on the machine; nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import StallMonitor, med, require_test_install  # noqa: E402

require_test_install()

from _content import make_tokens  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import RichLog  # noqa: E402

from agentic_flow.core.events import TextDelta, TurnEnded  # noqa: E402
from agentic_flow.core.runtime import RunOptions  # noqa: E402
from agentic_flow.core.session import SessionTotals  # noqa: E402
from agentic_flow.tui.screens.session import SessionScreen  # noqa: E402
from agentic_flow.tui.widgets.message import FrozenMarkdown  # noqa: E402

TARGET_TOKENS_PER_S = 5000
TARGET_STALL_MS = 50

_WORD = re.compile(r"[A-Za-z0-9_]+")


_FENCE_INFO = re.compile(r"```\w*")


def words(text: str) -> list[str]:
    """The words of a text; a code fence's info string (``python``) is not shown, so not counted."""
    return _WORD.findall(_FENCE_INFO.sub(" ", text))


# --------------------------------------------------------------------- measurement


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
    session_totals = property(lambda self: self.session.totals)  # (no turns before this session)
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
        yield RichLog(wrap=True)


# --------------------------------------------------------------------- runs


async def run_session_pane(tokens: list[str], size: tuple[int, int], turns: int, probe: bool = False) -> list[Result]:
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
            stall_probe = None
            if probe:
                from _stall_probe import StallProbe

                stall_probe = StallProbe()
                stall_probe.start()
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            worker = await screen.send(f"turn {turn}: write a long answer")
            await worker.wait()
            await pilot.pause()  # one more frame: what was flushed is on screen
            elapsed = time.perf_counter() - started
            await monitor.stop()
            if stall_probe is not None:
                await stall_probe.stop()
                print(f"-- probe, session pane turn {turn}:\n" + stall_probe.report(), flush=True)
            # The answer's items (a long one is continued over several), each built
            # and rendered as scrolling back to it would.
            rendered = await rendered_answer(screen, pilot)
            if words(rendered) != words("".join(tokens)):
                raise SystemExit("the pane's rendered lines do not hold the words sent, in order")
            name = "session pane" + (f" (turn {turn})" if turns > 1 else "")
            results.append(
                Result(name, len(tokens), elapsed, monitor.worst_ms, monitor.p99_ms, monitor.over(TARGET_STALL_MS))
            )
    return results


async def rendered_answer(screen: SessionScreen, pilot: Any) -> str:
    """The last answer's text as painted: every piece of every item it spans, rendered."""
    transcript = screen.transcript
    items = transcript.items
    last = max(i for i, item in enumerate(items) if getattr(item, "role", None) == "assistant"
               and not getattr(item, "continues", False))
    parts = [items[last]] + [it for it in items[last + 1 :] if getattr(it, "continues", False)]
    await transcript.scroll_to_start()  # every item mounted: what the user can scroll back to
    await pilot.pause()
    lines: list[str] = []
    for item in parts:
        frozen = item.view.query_one(FrozenMarkdown)
        width = frozen.size.width
        for i in range(len(frozen.pieces)):
            lines += ["".join(seg.text for seg in line) for line in frozen._render_piece(i, width)]
    return "\n".join(lines)


async def run_log_baseline(tokens: list[str], size: tuple[int, int], per_token: bool = False) -> Result:
    app = LogApp()
    async with app.run_test(size=size) as pilot:
        log = app.query_one(RichLog)
        await pilot.pause(0.1)
        gc.collect()
        monitor = StallMonitor()
        monitor.start()
        await asyncio.sleep(0.05)
        pending: list[str] = []

        def flush() -> None:  # the same batching as the pane: one write per frame
            if pending:
                log.write("".join(pending))
                pending.clear()

        timer = log.set_interval(1 / 30, flush)
        started = time.perf_counter()
        for token in tokens:
            pending.append(token)
            if per_token:  # the naive use: one write (a new line) per token
                flush()
            await asyncio.sleep(0)
        flush()
        timer.stop()
        await pilot.pause()
        elapsed = time.perf_counter() - started
        await monitor.stop()
        rendered = "\n".join(strip.text for strip in log.lines)
        if words(rendered) != words("".join(tokens)):
            raise SystemExit("the RichLog's lines do not hold the words sent, in order")
    return Result("baseline: RichLog" + (" per token" if per_token else ""), len(tokens), elapsed, monitor.worst_ms, monitor.p99_ms,
                  monitor.over(TARGET_STALL_MS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--turns", type=int, default=1, help="answers streamed one after the other")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of pane and baseline")
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument("--probe", action="store_true", help="report where the pane's worst event-loop stalls were")
    parser.add_argument("--log-writes", choices=("frame", "token"), default="frame",
                        help="the RichLog is written once per frame (the pane's batching, the default) or once "
                        "per token (the naive use of it)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    tokens = make_tokens(args.tokens)
    base: list[Result] = []
    pane: list[list[Result]] = []
    for r in range(args.rounds):
        order = ("base", "pane") if r % 2 == 0 else ("pane", "base")
        for which in order:
            if which == "base":
                base.append(asyncio.run(run_log_baseline(tokens, (width, height), args.log_writes == "token")))
            else:
                pane.append(asyncio.run(run_session_pane(tokens, (width, height), args.turns, args.probe)))

    print(f"{args.tokens:,} tokens ({len(''.join(tokens)):,} characters of Markdown), terminal {width}x{height}, "
          f"{args.rounds} interleaved rounds, median (min–max)")
    print(f"  {base[0].name:<28} {med([b.tokens_per_s for b in base])} tok/s   "
          f"worst stall {med([b.worst_ms for b in base])} ms   p99 {med([b.p99_ms for b in base])} ms")
    for turn in range(args.turns):
        results = [p[turn] for p in pane]
        name = "session pane" + (f" (turn {turn + 1})" if args.turns > 1 else "")
        print(f"  {name:<28} {med([x.tokens_per_s for x in results])} tok/s   "
              f"worst stall {med([x.worst_ms for x in results])} ms   p99 {med([x.p99_ms for x in results])} ms   "
              f"stalls > {TARGET_STALL_MS} ms: {med([float(x.stalls_over_target) for x in results])}")
    slowest = [min(x.tokens_per_s for x in p) for p in pane]
    worst = [max(x.worst_ms for x in p) for p in pane]
    ratio = [s / b.tokens_per_s for s, b in zip(slowest, base)]
    print(f"ratio session pane / RichLog throughput: {med(ratio)}   worst stall {med(worst)} ms")
    ok = statistics.median(slowest) >= TARGET_TOKENS_PER_S and statistics.median(worst) <= TARGET_STALL_MS
    print(f"target >= {TARGET_TOKENS_PER_S:,} tok/s and no stall > {TARGET_STALL_MS} ms: {'met' if ok else 'NOT met'}")
    print("check: the rendered lines hold the words sent, in order (pane and RichLog)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
