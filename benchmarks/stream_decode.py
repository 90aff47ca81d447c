"""Stream decode: events/s of the core's SSE decoder + provider mapping vs a raw baseline.

Serves one recorded-shape OpenAI stream of N chunks from 127.0.0.1 (tests/llm_server.py)
and reads it three ways in the same run:

  baseline   httpx ``aiter_lines()`` + ``json.loads`` per ``data:`` line (events only, untyped)
  core       ``OpenAIProvider.stream()``: HTTP boundary, SSE decoder, orjson, typed events
  decoder    the SSE decoder + orjson alone on the same bytes held in memory

Prints events/s for each and the ratio core/baseline (issue target: >= 0.8; goal >= 1.0).
Run: python benchmarks/stream_decode.py [--chunks 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("AGENTIC_FLOW_HOME", tempfile.mkdtemp(prefix="af-bench-"))

import httpx  # noqa: E402
import orjson  # noqa: E402

from agentic_flow.core.events import TextDelta  # noqa: E402
from agentic_flow.core.messages import ChatRequest, UserMessage  # noqa: E402
from agentic_flow.core.providers.base import ProviderConfig  # noqa: E402
from agentic_flow.core.providers.registry import create_provider  # noqa: E402
from agentic_flow.core.providers.sse import SSEDecoder  # noqa: E402
from tests.llm_server import Reply, ScriptedLLMServer  # noqa: E402


async def baseline(url: str, body: dict) -> int:
    n = 0
    async with httpx.AsyncClient(timeout=60) as client:
        async with client.stream("POST", url + "/chat/completions", json=body) as resp:
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


def decoder_only(raw: bytes, chunk: int = 4096) -> int:
    dec = SSEDecoder()
    n = 0
    for i in range(0, len(raw), chunk):
        for ev in dec.feed(raw[i : i + chunk]):
            if ev.data != "[DONE]":
                orjson.loads(ev.data)
                n += 1
    return n


def best_rate(fn, repeat: int) -> tuple[float, int]:
    best = 0.0
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn()
        rate = count / (time.perf_counter() - start)
        best = max(best, rate)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    deltas = [f"tok{i % 97} " for i in range(args.chunks)]
    with ScriptedLLMServer(default=Reply.text(deltas, usage=False)) as server:
        body = {"model": "bench", "messages": [{"role": "user", "content": "go"}], "stream": True}
        raw = httpx.post(server.openai_url + "/chat/completions", json=body, timeout=60).content
        base, n_base = best_rate(lambda: asyncio.run(baseline(server.openai_url, body)), args.repeat)
        ours, n_ours = best_rate(lambda: asyncio.run(core_stream(server.openai_url)), args.repeat)
        dec, n_dec = best_rate(lambda: decoder_only(raw), args.repeat)
    print(f"stream of {args.chunks} chunks from 127.0.0.1, best of {args.repeat}")
    print(f"  baseline httpx aiter_lines + json.loads : {base:>10,.0f} events/s ({n_base} events)")
    print(f"  core provider stream (typed events)     : {ours:>10,.0f} events/s ({n_ours} text events)")
    print(f"  SSE decoder + orjson, in memory         : {dec:>10,.0f} events/s ({n_dec} events)")
    print(f"ratio core/baseline: {ours / base:.2f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
