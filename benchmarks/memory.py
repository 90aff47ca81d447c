"""Memory: RSS after a 100,000-token session with 200 tool calls, through the real loop.

A model served from a separate process (benchmarks/_llm_proc.py, scenario ``tool_loop``)
writes ``--words`` words and then calls ``read`` on a small file, ``--calls`` times in
one ``send()``; ``Runtime.open`` with ``--approve auto`` runs every call through the
permission engine, the real ``read`` tool, the audit log and the SQLite store, exactly
as ``agentic-flow run`` does. Every request carries the whole (growing) history.

Reported from /proc/self/status: RSS right after ``Runtime.open`` (the baseline,
measured in the same run), RSS at the end, the peak (VmHWM), and the growth per 1,000
tokens. Target (issue 7): peak under 200 MB. Not a test: nothing asserts.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--words", type=int, default=500, help="text tokens the model writes per turn")
    args = parser.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="af-memory-"))
    (workspace / "notes.md").write_text("".join(f"line {i}: a small file the model reads\n" for i in range(40)))
    rss_start = status_mb("VmRSS")
    with serve("tool_loop", calls=args.calls, words=args.words, path="notes.md") as url:
        f = asyncio.run(session(url, workspace, args.calls))
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


if __name__ == "__main__":
    main()
