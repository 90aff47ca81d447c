"""The scripted LLM server (tests/llm_server.py) in a child process, for benchmarks.

Benchmarks that time the client must not share its interpreter (and GIL) with the
server's writer threads: this runs the server in its own process, on 127.0.0.1.

    with serve("raw", file="/tmp/stream.bin", group=10, delay=0.0005) as base_url:
        ...  # base_url + "/v1/chat/completions"

Scenarios (``serve(name, **params)``):
  raw        the bytes of ``file`` (a recorded-shape SSE body), ``group`` events per
             write, ``delay`` seconds before each write after the first
  tool_loop  a model that writes ``words`` words and calls ``read`` on ``path``, until
             the request holds ``calls`` tool results; then a short answer
  text       ``chunks`` text deltas (``tok<i> ``) as fast as the socket takes them, then
             the usage chunk (``stream_options.include_usage``, as the core asks)
  session    ``calls`` tool calls (edit / bash / read in turn, see ``_content.py``),
             each after ``words`` tokens of Markdown; then a last answer of ``words`` tokens
  per_model  ``chunks`` text deltas; model ``m<K>`` waits ``base + step * K`` seconds
             before each (so m8 is the slowest of m1..m8)

Run as a script by :func:`serve` only: ``python _llm_proc.py SCENARIO JSON``; it prints
``PORT <n>`` and serves until its stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def serve(scenario: str, **params: object) -> Iterator[str]:
    """Start the server process; yield its base URL (``http://127.0.0.1:PORT``)."""
    errfile = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), scenario, json.dumps(params)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errfile,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.startswith("PORT "):
            proc.wait(10)
            errfile.seek(0)
            err = errfile.read().decode(errors="replace")
            missing = [ln for ln in err.splitlines() if "ModuleNotFoundError" in ln]
            if missing:
                raise SystemExit(
                    f"the scripted server needs the test install ({missing[-1].strip()}): "
                    "run `pip install -e '.[test]'` in the repository root"
                )
            raise RuntimeError(f"LLM server process did not start: {line!r}\n{err[-2000:]}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        errfile.close()


def _grouped_events(data: bytes, group: int) -> list[bytes]:
    events = [e + b"\n\n" for e in data.split(b"\n\n") if e.strip()]
    return [b"".join(events[i : i + group]) for i in range(0, len(events), group)]


def _server(scenario: str, params: dict):  # noqa: ANN202 - runs in the child only
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tests.llm_server import Reply, ScriptedLLMServer

    if scenario == "raw":
        chunks = _grouped_events(Path(params["file"]).read_bytes(), int(params["group"]))
        return ScriptedLLMServer(default=Reply.raw(chunks, delay_per_chunk=float(params["delay"])))
    if scenario == "tool_loop":
        calls, words, path = int(params["calls"]), int(params["words"]), str(params["path"])
        text = [f" w{i}" for i in range(words)]

        def tool_loop(req):  # noqa: ANN001, ANN202
            done = len(req.tool_results())
            if done < calls:
                return Reply.tool_calls(
                    [(f"call_{done}", "read", {"path": path})],
                    text_before=text,
                    input_tokens=1000,
                    output_tokens=words + 20,
                )
            return Reply.text("All files read.", input_tokens=1000, output_tokens=4)

        server = ScriptedLLMServer()
        server.set_handler(tool_loop)
        return server
    if scenario == "text":
        deltas = [f"tok{i % 97} " for i in range(int(params["chunks"]))]
        return ScriptedLLMServer(default=Reply.text(deltas))
    if scenario == "session":
        from _content import session_call, session_text

        calls, words = int(params["calls"]), int(params["words"])

        def session(req):  # noqa: ANN001, ANN202
            done = len(req.tool_results())
            text = session_text(done, words)
            if done < calls:
                name, args = session_call(done)
                return Reply.tool_calls([(f"call_{done}", name, args)], text_before=text, input_tokens=1000,
                                        output_tokens=words + 20)
            return Reply.text(text, input_tokens=1000, output_tokens=words)

        server = ScriptedLLMServer()
        server.set_handler(session)
        return server
    if scenario == "per_model":
        chunks, base, step = int(params["chunks"]), float(params["base"]), float(params["step"])
        deltas = [f" t{i}" for i in range(chunks)]

        def per_model(req):  # noqa: ANN001, ANN202
            k = int((req.model or "m1").lstrip("m") or 1)
            return Reply.text(deltas, delay_per_chunk=base + step * k, input_tokens=20, output_tokens=chunks)

        server = ScriptedLLMServer()
        server.set_handler(per_model)
        return server
    raise SystemExit(f"unknown scenario {scenario!r}")


def _main() -> None:
    scenario, params = sys.argv[1], json.loads(sys.argv[2])
    server = _server(scenario, params).start()
    try:
        sys.stdout.write(f"PORT {server.port}\n")
        sys.stdout.flush()
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        server.stop()


if __name__ == "__main__":
    _main()
