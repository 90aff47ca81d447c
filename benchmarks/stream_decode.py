"""Stream decode: the core's SSE decoder and provider stream vs the simplest alternatives.

    python benchmarks/stream_decode.py [--chunks 100000] [--rounds 5] [--long 1,10,50]

Part 1, a recorded-shape OpenAI stream of ``--chunks`` text deltas served from 127.0.0.1
by the scripted server in its own process (``_llm_proc.py``, scenario ``text``), read in
interleaved rounds:

  baseline   httpx ``aiter_lines()`` + ``json.loads`` per ``data:`` line (untyped dicts)
  core       ``OpenAIProvider.stream()``: the HTTP boundary, the SSE decoder, orjson,
             the OpenAI mapping, typed events
  and, on the same bytes held in memory, fed in the chunks the socket delivered:
  decoder    ``SSEDecoder`` + ``orjson.loads``
  splitter   ``bytes.split(b"\\n")`` + ``orjson.loads`` (the fastest hand-written reader,
             with none of the spec's rules: no CR, comments, multi-line data)

Part 2, one event whose ``data:`` line is 1, 10, 50 MB, fed in 64 KiB chunks:
``SSEDecoder`` vs raw lines (a list-of-chunks line splitter, the floor). Linear means
the time per MB stays flat as the line grows.

Prints events/s (median (min–max) over the rounds) and the ratios core/baseline
(target >= 1.0) and decoder/raw lines at 10 MB (target <= 1.2). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

from _common import med, require_test_install  # noqa: E402

require_test_install()

import httpx  # noqa: E402
import orjson  # noqa: E402
from _llm_proc import serve  # noqa: E402

from agentic_flow.core.events import TextDelta  # noqa: E402
from agentic_flow.core.messages import ChatRequest, UserMessage  # noqa: E402
from agentic_flow.core.providers.base import ProviderConfig  # noqa: E402
from agentic_flow.core.providers.registry import create_provider  # noqa: E402
from agentic_flow.core.providers.sse import SSEDecoder  # noqa: E402

BODY = {"model": "bench", "messages": [{"role": "user", "content": "go"}], "stream": True,
        "stream_options": {"include_usage": True}}


async def baseline(url: str) -> int:
    n = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", url + "/chat/completions", json=BODY) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
    return n


async def core_stream(url: str) -> int:
    provider = create_provider(ProviderConfig(name="bench", kind="openai", base_url=url, needs_key=False))
    n = 0
    async for event in provider.stream(ChatRequest(model="bench", messages=[UserMessage(content="go")])):
        if type(event) is TextDelta:
            n += 1
    await provider.http.aclose()
    return n


async def recorded_chunks(url: str) -> list[bytes]:
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", url + "/chat/completions", json=BODY) as resp:
            return [chunk async for chunk in resp.aiter_raw()]


def decoder_only(chunks: list[bytes]) -> int:
    dec = SSEDecoder()
    n = 0
    for chunk in chunks:
        for ev in dec.feed(chunk):
            if ev.data != "[DONE]":
                orjson.loads(ev.data)
                n += 1
    return n


def splitter_only(chunks: list[bytes]) -> int:
    buf = b""
    n = 0
    for chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                orjson.loads(line[6:])
                n += 1
    return n


def raw_lines(chunks: list[bytes]) -> int:
    """The floor for long lines: text lines, as ``aiter_lines`` gives them (CR, LF and CRLF
    end a line), done the fastest way (the unfinished line kept as a list, joined at its
    newline, decoded once)."""
    parts: list[bytes] = []
    n = 0
    for chunk in chunks:
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in chunk:
            parts.append(chunk)
            continue
        lines = chunk.split(b"\n")
        parts.append(lines[0])
        lines[0] = b"".join(parts)
        parts = [lines.pop()]
        n += sum(len(line.decode("utf-8", "replace")) for line in lines)
    return n


def timed(fn) -> tuple[float, int]:  # noqa: ANN001
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def timed_cpu(fn) -> tuple[float, float, int]:  # noqa: ANN001
    """Wall and this process's CPU seconds (the server's process is not counted)."""
    start, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return time.perf_counter() - start, time.process_time() - cpu, count


def long_line(mb: int, chunk: int = 64 * 1024) -> list[bytes]:
    text = ("0123456789abcdef" * (mb * 65536))[: mb * 1024 * 1024]
    event = b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}) + b"\n\n"
    return [event[i : i + chunk] for i in range(0, len(event), chunk)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--long", default="1,10,50", help="sizes in MB of the single long line")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"baseline": [], "core": [], "decoder": [], "splitter": []}
    cpu_rates: dict[str, list[float]] = {"baseline": [], "core": []}
    counts: dict[str, int] = {}
    with serve("text", chunks=args.chunks) as url:
        url += "/v1"
        chunks = asyncio.run(recorded_chunks(url))
        runs = {
            "baseline": lambda: asyncio.run(baseline(url)),
            "core": lambda: asyncio.run(core_stream(url)),
            "decoder": lambda: decoder_only(chunks),
            "splitter": lambda: splitter_only(chunks),
        }
        for r in range(args.rounds):
            names = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in names:
                seconds, cpu, counts[name] = timed_cpu(runs[name])
                rates[name].append(counts[name] / seconds)
                if name in cpu_rates:
                    cpu_rates[name].append(counts[name] / cpu)
    print(f"stream of {args.chunks:,} text deltas from 127.0.0.1 (server in its own process), "
          f"{args.rounds} interleaved rounds, events/s median (min–max)")
    print(f"  baseline httpx aiter_lines + json.loads : {med(rates['baseline'])}  ({counts['baseline']} events)")
    print(f"  core provider stream (typed events)     : {med(rates['core'])}  ({counts['core']} text events)")
    print(f"  in memory, {len(chunks):,} chunks as received:")
    print(f"    SSEDecoder + orjson                   : {med(rates['decoder'])}")
    print(f"    bytes.split + orjson splitter         : {med(rates['splitter'])}")
    print("  per CPU second of the client process (the server's CPU not counted):")
    print(f"    baseline                              : {med(cpu_rates['baseline'])}")
    print(f"    core                                  : {med(cpu_rates['core'])}")
    ratios = [c / b for c, b in zip(rates["core"], rates["baseline"])]
    cpu_ratios = [c / b for c, b in zip(cpu_rates["core"], cpu_rates["baseline"])]
    print(f"ratio core/baseline: wall {med(ratios)}, CPU {med(cpu_ratios)}  (target >= 1.0)")
    print(f"ratio decoder/splitter: {med([d / s for d, s in zip(rates['decoder'], rates['splitter'])])}")

    print("\none event with a long data: line, 64 KiB chunks, ms median (min–max)")
    per_mb: dict[int, tuple[float, float]] = {}
    for mb in (int(x) for x in args.long.split(",")):
        body = long_line(mb)
        ours, floor = [], []
        for r in range(args.rounds):
            pair = [("ours", lambda: _decode_all(body)),
                    ("floor", lambda: raw_lines(body))]
            for name, fn in (pair if r % 2 == 0 else pair[::-1]):
                (ours if name == "ours" else floor).append(timed(fn)[0] * 1000)
        per_mb[mb] = (statistics.median(ours) / mb, statistics.median(floor) / mb)
        ratio = [o / f for o, f in zip(ours, floor)]
        print(f"  {mb:>3} MB  SSEDecoder {med(ours)} ms   raw lines {med(floor)} ms   ratio {med(ratio)}"
              f"   ({statistics.median(ours) / mb:.2f} ms/MB)")
    sizes = sorted(per_mb)
    if len(sizes) > 1:
        lo, hi = per_mb[sizes[0]], per_mb[sizes[-1]]
        print(f"growth of ms per MB from {sizes[0]} to {sizes[-1]} MB: SSEDecoder {hi[0] / lo[0]:.2f}x, "
              f"raw lines {hi[1] / lo[1]:.2f}x (equal = as linear as the floor; allocation of big buffers "
              "costs both alike)")


def _decode_all(chunks: list[bytes]) -> int:
    dec = SSEDecoder()
    events = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    events.extend(dec.flush())
    assert len(events) == 1 and len(events[0].data) > len(chunks) * 1000
    return len(events)


if __name__ == "__main__":
    main()
