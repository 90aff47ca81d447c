"""Memory: RSS after a 100,000-token session with 200 tool calls, core alone and in the TUI.

A model served from a separate process (benchmarks/_llm_proc.py, scenario ``tool_loop``)
writes ``--words`` words and then calls ``read`` on a small file, ``--calls`` times in
one ``send()``; ``Runtime.open`` with ``--approve auto`` runs every call through the
permission engine, the real ``read`` tool, the audit log and the SQLite store, exactly
as ``agentic-flow run`` does. Every request carries the whole (growing) history.

Reported from /proc/self/status: RSS right after ``Runtime.open`` (the baseline,
measured in the same run), RSS at the end, the peak (VmHWM), and the growth per 1,000
tokens. Target (issue 7): peak under 200 MB.

The same session is then run in a fresh process through the real session screen
(``SessionScreen`` under ``App.run_test``, 120x40), which opens the runtime itself: RSS
once it is open, at the end, the peak, and how many transcript items are mounted at the
end against how many the history holds (issue 12: growth under 60 MiB, bounded by what
is shown). Not a test: nothing asserts.

Run: python benchmarks/memory.py [--calls 200] [--words 500]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

from _common import require_test_install  # noqa: E402
from _llm_proc import serve  # noqa: E402

from agentic_flow.core.events import TextDelta, ToolResult  # noqa: E402
from agentic_flow.core.runtime import RunOptions, Runtime  # noqa: E402

TARGET_MB = 200


def status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


async def session(url: str, workspace: Path, calls: int) -> dict[str, float]:
    runtime = await Runtime.open(
        RunOptions(model="llamacpp:bench", base_url=url + "/v1", workspace=str(workspace), approve="auto",
                   max_turns=calls + 5)
    )
    gc.collect()
    figures = {"rss_open": status_mb("VmRSS")}
    tokens = results = errors = 0
    started = time.perf_counter()
    try:
        async for event in runtime.session.send("read the notes, again and again"):
            if type(event) is TextDelta:
                tokens += 1
            elif type(event) is ToolResult:
                results += 1
                errors += event.is_error
    finally:
        await runtime.aclose()
    figures.update(
        seconds=time.perf_counter() - started,
        text_events=tokens,
        tool_results=results,
        tool_errors=errors,
        output_tokens=runtime.session.totals.output_tokens,
        messages=len(runtime.session.messages),
    )
    gc.collect()
    figures["rss_end"] = status_mb("VmRSS")
    figures["rss_peak"] = status_mb("VmHWM")
    return figures


async def tui_session(url: str, workspace: Path, calls: int) -> dict[str, float]:
    from textual.app import App

    from agentic_flow.tui.screens.session import SessionScreen
    from agentic_flow.tui.widgets.transcript import Transcript

    opts = RunOptions(model="llamacpp:bench", base_url=url + "/v1", workspace=str(workspace), approve="auto",
                      max_turns=calls + 5)

    class SessionApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(SessionScreen(opts))

    app = SessionApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        while not isinstance(screen, SessionScreen) or screen.runtime is None:
            await pilot.pause(0.01)
            screen = app.screen
        await pilot.pause(0.1)
        gc.collect()
        figures = {"rss_open": status_mb("VmRSS")}
        started = time.perf_counter()
        worker = await screen.send("read the notes, again and again")
        await worker.wait()
        await pilot.pause()
        figures["seconds"] = time.perf_counter() - started
        transcript = screen.query_one(Transcript)
        figures.update(items=len(transcript.items), mounted=transcript.mounted_count)
        gc.collect()
        figures["rss_end"] = status_mb("VmRSS")
        figures["rss_peak"] = status_mb("VmHWM")
    return figures


def _tui_child(url: str, calls: int) -> None:
    import json

    workspace = Path(tempfile.mkdtemp(prefix="af-memory-tui-"))
    (workspace / "notes.md").write_text("".join(f"line {i}: a small file the model reads\n" for i in range(40)))
    print("RESULT " + json.dumps(asyncio.run(tui_session(url, workspace, calls))), flush=True)


def run_tui_child(url: str, calls: int) -> dict[str, float]:
    import json
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--tui-child", url, "--calls", str(calls)], capture_output=True,
                          text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"the TUI child failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--words", type=int, default=500, help="text tokens the model writes per turn")
    parser.add_argument("--tui-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tui_child:
        _tui_child(args.tui_child, args.calls)
        return
    require_test_install()
    workspace = Path(tempfile.mkdtemp(prefix="af-memory-"))
    (workspace / "notes.md").write_text("".join(f"line {i}: a small file the model reads\n" for i in range(40)))
    rss_start = status_mb("VmRSS")
    with serve("tool_loop", calls=args.calls, words=args.words, path="notes.md") as url:
        f = asyncio.run(session(url, workspace, args.calls))
        t = run_tui_child(url, args.calls)
    grown = f["rss_end"] - f["rss_open"]
    print(f"session: {f['text_events']:,.0f} streamed text tokens, {f['tool_results']:.0f} tool calls "
          f"({f['tool_errors']:.0f} failed), {f['messages']:.0f} messages, "
          f"{f['output_tokens']:,.0f} output tokens reported, {f['seconds']:.1f} s")
    print(f"  RSS after imports           : {rss_start:7.1f} MB")
    print(f"  RSS after Runtime.open      : {f['rss_open']:7.1f} MB   (baseline)")
    print(f"  RSS after the session       : {f['rss_end']:7.1f} MB   (+{grown:.1f} MB, "
          f"{grown / max(f['text_events'], 1) * 1000 * 1024:.0f} KB per 1,000 tokens)")
    print(f"  peak RSS (VmHWM)            : {f['rss_peak']:7.1f} MB   target < {TARGET_MB} MB: "
          f"{'met' if f['rss_peak'] < TARGET_MB else 'NOT met'} (ratio {f['rss_peak'] / TARGET_MB:.2f})")
    print(f"ratio end/baseline RSS: {f['rss_end'] / f['rss_open']:.2f}")
    tg = t["rss_end"] - t["rss_open"]
    print(f"the same session in the TUI (a fresh process, SessionScreen under run_test, 120x40), {t['seconds']:.1f} s:")
    print(f"  RSS once the session is open: {t['rss_open']:7.1f} MB   (baseline)")
    print(f"  RSS after the session       : {t['rss_end']:7.1f} MB   (+{tg:.1f} MB; target < 60)")
    print(f"  peak RSS (VmHWM)            : {t['rss_peak']:7.1f} MB")
    print(f"  transcript: {t['items']:.0f} items in the history, {t['mounted']:.0f} mounted at the end")


if __name__ == "__main__":
    main()
