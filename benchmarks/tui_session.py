"""A long agent session in the TUI vs the same session in the core alone.

    python benchmarks/tui_session.py [--calls 200] [--words 500] [--rounds 3] [--size 120x40] [--probe]

The scripted model (tests/llm_server.py, in its own process via ``_llm_proc.py``,
scenario ``session``) writes ``--words`` tokens of Markdown (prose, lists, headings,
code fences) before each of ``--calls`` tool calls — an ``edit`` with a diff, a
``bash`` command with 30–50 lines of output, a ``read`` of a 60-line file, in turn — and
a last answer: 100,000 tokens over 200 tool calls by default. Every call runs for real
(``--approve auto``: the permission engine, the sandboxed bash tool, the audit log and
the SQLite store).

Each round runs two fresh child processes, in alternating order:

  core   ``Runtime.open`` + ``Runtime.send``, events consumed and dropped (the floor)
  tui    the real ``SessionScreen`` (``Runtime.open`` inside it) under ``App.run_test``;
         the prompt is sent as the screen sends it, events become widgets

and reports, per child: wall time of ``send()`` to the last event, worst and p99
event-loop stall (a 5 ms sleeper's overshoot), RSS growth from just before the prompt
to the end and the peak (VmHWM). The TUI child then checks what the transcript holds
and what it renders when scrolled to the top: every answer's text and every tool call.

Figures are the median (min–max) over the rounds; the ratio is TUI wall / core wall.
``--probe`` also samples the loop thread's stack during each stall over 50 ms and lists
the full collections (``_stall_probe.py``) and prints, per child, where the worst
stalls were (the sampling itself costs a little wall time).
Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import StallMonitor, med, require_test_install, status_mib  # noqa: E402

TARGETS = {"ratio": 1.5, "stall_ms": 50.0, "rss_growth_mib": 60.0}


def _workspace(calls: int) -> Path:
    from _content import session_files

    ws = Path(tempfile.mkdtemp(prefix="af-tui-session-"))
    for rel, text in session_files(calls).items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    return ws


def _opts(url: str, ws: Path, calls: int) -> Any:
    from agentic_flow.core.runtime import RunOptions

    return RunOptions(model="llamacpp:bench", base_url=url + "/v1", workspace=str(ws), approve="auto",
                      max_turns=calls + 5)


PROMPT = "work through the values file, run the checks and read the notes"


# ------------------------------------------------------------------ children


_PROFILE: str | None = None  # --profile: where the child writes its cProfile stats


def _probe_start(probe: bool) -> Any:
    if _PROFILE:
        import cProfile

        global _PROFILER
        _PROFILER = cProfile.Profile()
        _PROFILER.enable()
    if not probe:
        return None
    from _stall_probe import StallProbe

    p = StallProbe()
    p.start()
    return p


_PROFILER: Any = None


async def _probe_stop(probe: Any, out: dict[str, Any]) -> None:
    if _PROFILER is not None:
        _PROFILER.disable()
        _PROFILER.dump_stats(_PROFILE)
    if probe is not None:
        await probe.stop()
        out["probe"] = probe.report()


async def _core(url: str, ws: Path, calls: int, probe: bool = False) -> dict[str, Any]:
    from agentic_flow.core.events import TextDelta, ToolResult
    from agentic_flow.core.runtime import Runtime

    runtime = await Runtime.open(_opts(url, ws, calls))
    gc.collect()
    rss0 = status_mib("VmRSS")
    monitor = StallMonitor()
    monitor.start()
    stall_probe = _probe_start(probe)
    await asyncio.sleep(0.05)
    text = tools = errors = 0
    started = time.perf_counter()
    try:
        async for event in runtime.send(PROMPT):
            if type(event) is TextDelta:
                text += 1
            elif type(event) is ToolResult:
                tools += 1
                errors += event.is_error
    finally:
        wall = time.perf_counter() - started
        await monitor.stop()
        out: dict[str, Any] = {}
        await _probe_stop(stall_probe, out)
        await runtime.aclose()
    return {"wall": wall, "worst_ms": monitor.worst_ms, "p99_ms": monitor.p99_ms, "rss_growth": status_mib("VmRSS") - rss0,
            "rss_peak": status_mib("VmHWM"), "text_events": text, "tool_results": tools, "tool_errors": errors, **out}


async def _tui(url: str, ws: Path, calls: int, words: int, size: tuple[int, int], probe: bool = False) -> dict[str, Any]:
    from _content import make_tokens, session_call, session_text
    from textual.app import App

    from agentic_flow.tui.screens.session import SessionScreen
    from agentic_flow.tui.widgets.transcript import Transcript

    class SessionApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(SessionScreen(_opts(url, ws, calls)))

    del make_tokens
    app = SessionApp()
    out: dict[str, Any] = {}
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        while not isinstance(screen, SessionScreen) or screen.runtime is None:
            await pilot.pause(0.01)
            screen = app.screen
        await pilot.pause(0.1)
        gc.collect()
        rss0 = status_mib("VmRSS")
        monitor = StallMonitor()
        monitor.start()
        stall_probe = _probe_start(probe)
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        worker = await screen.send(PROMPT)
        await worker.wait()
        await pilot.pause()  # one more frame: what was flushed is on screen
        wall = time.perf_counter() - started
        await monitor.stop()
        await _probe_stop(stall_probe, out)
        gc.collect()
        out.update(wall=wall, worst_ms=monitor.worst_ms, p99_ms=monitor.p99_ms,
                   rss_growth=status_mib("VmRSS") - rss0, rss_peak=status_mib("VmHWM"))
        transcript = screen.query_one(Transcript)
        if not hasattr(transcript, "items"):  # the transcript before the history was kept
            out["problems"] = ["(no check: this transcript keeps no history)"]
            out["mounted_items"] = len(transcript.children)
            return out
        out["mounted_items"] = transcript.mounted_count
        out["items"] = len(transcript.items)
        # What was shown: every answer and every tool call, in order, in the history...
        expected_text = ["".join(session_text(k, words)) for k in range(calls + 1)]
        answers: list[str] = []
        for item in transcript.items:
            if getattr(item, "role", None) == "assistant":
                if getattr(item, "continues", False):
                    answers[-1] += item.text  # a long answer continued in a new item
                else:
                    answers.append(item.text)
        calls_seen = [item for item in transcript.items if getattr(item, "kind", None) == "tool"]
        problems: list[str] = []
        if answers != expected_text:
            problems.append(f"answers differ: {len(answers)} shown, {len(expected_text)} sent")
        if [c.name for c in calls_seen] != [session_call(k)[0] for k in range(calls)]:
            problems.append("tool calls differ")
        if any(c.status != "ok" for c in calls_seen):
            problems.append(f"{sum(c.status != 'ok' for c in calls_seen)} tool calls did not end ok")
        # ...and on screen, scrolled back to the very top.
        await transcript.scroll_to_start()
        await pilot.pause()
        first = transcript.render_text()
        if "work through the values file" not in first:
            problems.append("scrolled to the top, the first prompt is not on screen")
        out["problems"] = problems
    return out


def _child(mode: str, url: str, calls: int, words: int, size: tuple[int, int], probe: bool) -> None:
    os.environ["AGENTIC_FLOW_HOME"] = tempfile.mkdtemp(prefix="af-bench-home-")
    ws = _workspace(calls)
    if mode == "core":
        result = asyncio.run(_core(url, ws, calls, probe))
    else:
        result = asyncio.run(_tui(url, ws, calls, words, size, probe))
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------ parent


def _run_child(mode: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--url", url, "--calls", str(args.calls),
           "--words", str(args.words), "--size", args.size] + (["--probe"] if args.probe else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"the {mode} child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--words", type=int, default=500, help="tokens of Markdown before each tool call")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", default="120x40", help="terminal size, WxH")
    parser.add_argument("--probe", action="store_true", help="report where the worst event-loop stalls were")
    parser.add_argument("--profile", metavar="PATH", help=argparse.SUPPRESS)  # a child's cProfile stats of send()
    parser.add_argument("--child", choices=("core", "tui"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.child:
        global _PROFILE
        _PROFILE = args.profile
        _child(args.child, args.url, args.calls, args.words, (width, height), args.probe)
        return 0
    require_test_install()
    from _llm_proc import serve

    core: list[dict[str, Any]] = []
    tui: list[dict[str, Any]] = []
    with serve("session", calls=args.calls, words=args.words) as url:
        for r in range(args.rounds):
            order = ("core", "tui") if r % 2 == 0 else ("tui", "core")
            for mode in order:
                result = _run_child(mode, url, args)
                (core if mode == "core" else tui).append(result)
                print(f"  round {r + 1} {mode:<4}: {result['wall']:7.2f} s, worst stall {result['worst_ms']:6.1f} ms, "
                      f"RSS +{result['rss_growth']:.1f} MiB (peak {result['rss_peak']:.0f} MiB)", flush=True)
                if "probe" in result:
                    print("    " + result["probe"].replace("\n", "\n    "), flush=True)
    tokens = args.words * (args.calls + 1)
    print(f"\n{tokens:,} tokens of Markdown over {args.calls} tool calls, terminal {width}x{height}, "
          f"{args.rounds} rounds (median (min–max))")
    print(f"  core only : wall {med([c['wall'] for c in core])} s   worst stall {med([c['worst_ms'] for c in core])} ms   "
          f"RSS +{med([c['rss_growth'] for c in core])} MiB, peak {med([c['rss_peak'] for c in core])} MiB")
    print(f"  TUI       : wall {med([t['wall'] for t in tui])} s   worst stall {med([t['worst_ms'] for t in tui])} ms   "
          f"p99 {med([t['p99_ms'] for t in tui])} ms   RSS +{med([t['rss_growth'] for t in tui])} MiB, "
          f"peak {med([t['rss_peak'] for t in tui])} MiB")
    ratios = [t["wall"] / c["wall"] for t, c in zip(tui, core)]
    print(f"  ratio TUI / core wall: {med(ratios)}   (target <= {TARGETS['ratio']})")
    worst = statistics.median([t["worst_ms"] for t in tui])
    growth = statistics.median([t["rss_growth"] for t in tui])
    print(f"  worst stall {worst:.0f} ms (target <= {TARGETS['stall_ms']:.0f}), RSS growth {growth:.0f} MiB "
          f"(target < {TARGETS['rss_growth_mib']:.0f})")
    last = tui[-1]
    print(f"  transcript: {last.get('items')} items in the history, {last.get('mounted_items')} mounted at the end")
    problems = sorted({p for t in tui for p in t.get("problems", [])})
    print("  check: " + ("what was sent is in the transcript and on screen" if not problems else "; ".join(problems)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
