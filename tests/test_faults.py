"""Fault injection against real local servers and real processes.

What ``test_providers.py`` (429/500 retry, FIN mid-stream, no final event, invalid JSON,
401/404, read timeout, HTML at the provider level), ``test_mcp_client.py`` (crashy
server at the manager level), ``test_audit.py`` (two processes appending) and
``test_store_errors.py`` (read-only / full database at the store level) already cover
is not repeated. Here the faults go through the whole stack a user runs:

* a connection reset (TCP RST) mid-stream, through the session: partial answer kept in
  memory and in the store;
* a storm of 429 / 529 with ``Retry-After`` through the CLI, within and beyond ``--retry``;
* invalid UTF-8 inside a stream, and a single 10 MB ``data:`` line, through the session;
* an HTML page instead of an event stream, through the CLI;
* an MCP server killed (SIGKILL) while a tool call is in flight, through the session;
* SIGINT and SIGTERM to a running ``python -m core.cli run``: partial answer printed and
  saved, the right exit code, no orphaned ``sleep`` from a bash tool, a session that can
  be resumed afterwards;
* two ``agentic-flow run`` processes writing one store and audit log at once;
* a read-only and a full data dir: a clear error, an exit code, nothing corrupted.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentic_flow.core import events as ev
from agentic_flow.core.cli import main
from agentic_flow.core.messages import AssistantMessage, ToolResultMessage, UserMessage
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401

SERVERS = Path(__file__).parent / "mcp_servers"
MODEL = "llamacpp:test-model"


def opts(server, workspace, kind="openai", **kw):
    if kind == "openai":
        return RunOptions(model=MODEL, base_url=server.openai_url, workspace=str(workspace), **kw)
    return RunOptions(model="anthropic:claude-test", base_url=server.anthropic_url, workspace=str(workspace), **kw)


async def run(runtime, task):
    try:
        return [e async for e in runtime.session.send(task)]
    finally:
        await runtime.aclose()


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


def text_of(events) -> str:
    return "".join(e.text for e in of(events, ev.TextDelta))


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != b"Z"


def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def anthropic_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-123456")


@pytest.fixture
def cli(llm_server, tmp_path, monkeypatch, capsys):
    """The CLI in-process against the scripted server, in a temp workspace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def invoke(*argv, model=MODEL, url=None):
        code = main(["run", "--model", model, "--base-url", url or llm_server.openai_url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


# --------------------------------------------------------------------------- network faults


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_connection_reset_mid_stream_keeps_partial_answer_in_store(llm_server, tmp_path, kind, anthropic_key):
    words = [f"w{i} " for i in range(40)]
    llm_server.enqueue(Reply.text(words, cut_after=14, cut_reset=True, delay_per_chunk=0.02))
    runtime = await Runtime.open(opts(llm_server, tmp_path, kind, no_tools=True))
    events = await run(runtime, "talk")
    text = text_of(events)
    assert text.startswith("w0 w1 w2 ") and "".join(words).startswith(text) and "w39" not in text
    (error,) = of(events, ev.ProviderFailed)
    assert error.kind == "cut_off" and "reset" in error.message.lower()  # an RST, not a clean FIN
    assert of(events, ev.TurnEnded)[-1].stop_reason == "cut_off"
    last = runtime.session.messages[-1]
    assert isinstance(last, AssistantMessage) and last.content == text
    stored = Store().load_messages(runtime.session.session_id)
    assert [type(m) for m in stored] == [UserMessage, AssistantMessage] and stored[-1].content == text
    (turn,) = runtime.session.totals.turns
    assert turn.stop_reason == "cut_off" and turn.output_tokens > 0


@pytest.mark.parametrize(("status", "flavor_kw"), [(429, {}), (529, {"model": "anthropic:claude-test"})])
def test_storm_with_retry_after_then_success(cli, llm_server, anthropic_key, status, flavor_kw):
    storm = [Reply.error(status, "slow down", retry_after=0.05)] * 4
    llm_server.enqueue(*storm, Reply.text("finally through"))
    url = llm_server.anthropic_url if flavor_kw else None
    code, out, err = cli("--task", "x", "--retry", "5", "--no-tools", "--json", url=url, **flavor_kw)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    retries = [line for line in lines if line["type"] == "retrying"]
    assert [r["attempt"] for r in retries] == [1, 2, 3, 4]
    assert all(r["delay"] == 0.05 for r in retries)  # the server's Retry-After, not our backoff
    assert "".join(line["text"] for line in lines if line["type"] == "text") == "finally through"
    assert len(llm_server.requests) == 5


def test_storm_longer_than_retry_budget_fails_cleanly(cli, llm_server):
    llm_server.enqueue(*[Reply.error(429, "rate limit exceeded", retry_after=0.01)] * 6)
    code, out, err = cli("--task", "x", "--retry", "2", "--no-tools")
    assert code == 4 and out == ""
    assert err.count("retrying in") == 2 and "rate limited (rate limit exceeded)" in err
    assert "Traceback" not in err
    assert len(llm_server.requests) == 3


INVALID_UTF8_STREAM = [
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"caf\xc3"},'
    b'"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":" \xff\xfe bad \xed\xa0\x80 surrogate "},"finish_reason":null}]}\n\n',
    b"event: \xc0\xaf\ndata: ",  # an invalid event name; the data line is torn across writes
    b'{"choices":[{"index":0,"delta":{"content":"\xe2\x82"},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"\\ud800 lone escape"},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":9}}\n\ndata: [DONE]\n\n',
]


async def test_invalid_utf8_in_stream_becomes_replacement_characters(llm_server, tmp_path):
    llm_server.enqueue(Reply.raw(INVALID_UTF8_STREAM, split="events"))
    runtime = await Runtime.open(opts(llm_server, tmp_path, no_tools=True))
    events = await run(runtime, "hi")
    expected = "caf\ufffd" + " \ufffd\ufffd bad \ufffd\ufffd\ufffd surrogate " + "\ufffd"
    assert text_of(events) == expected
    # A JSON escape of a lone surrogate cannot become text at all: that event is named and skipped.
    (skipped,) = of(events, ev.ProviderFailed)
    assert skipped.kind == "malformed_stream" and "lone escape" in skipped.message
    assert of(events, ev.TurnEnded)[-1].stop_reason == "end_turn"
    stored = Store().load_messages(runtime.session.session_id)[-1]
    assert stored.content == expected  # survives SQLite and JSON unchanged


async def test_ten_megabyte_single_sse_line(llm_server, tmp_path):
    big = ("lorem ipsum dolor sit amet " * 400_000)[: 10 * 1024 * 1024]
    head = json.dumps({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"content": big}}]}).encode()
    tail = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":7}}\n\n'
    llm_server.enqueue(Reply.raw([b"data: " + head + b"\n\n", tail, b"data: [DONE]\n\n"]))
    runtime = await Runtime.open(opts(llm_server, tmp_path, no_tools=True))
    events = await run(runtime, "a lot please")
    deltas = of(events, ev.TextDelta)
    assert len(deltas) == 1 and deltas[0].text == big
    assert not of(events, ev.ProviderFailed) and of(events, ev.TurnEnded)[-1].stop_reason == "end_turn"
    assert Store().load_messages(runtime.session.session_id)[-1].content == big


def test_html_page_instead_of_event_stream(cli, llm_server):
    page = b"<!doctype html><html><head><title>Sign in to the Wi-Fi</title></head><body>portal</body></html>"
    llm_server.enqueue(Reply.raw(page, content_type="text/html; charset=utf-8"))
    code, out, err = cli("--task", "x", "--no-tools")
    assert code == 4 and out == ""
    assert "instead of an event stream" in err and llm_server.openai_url in err  # names the URL to check
    assert "Traceback" not in err and "<html>" not in err
    assert len(llm_server.requests) == 1  # a wrong URL is not retried


def test_html_error_page_from_a_proxy_is_retried_then_explained(cli, llm_server):
    page = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    llm_server.enqueue(*[Reply.raw(page, status=502, content_type="text/html")] * 2)
    code, out, err = cli("--task", "x", "--no-tools", "--retry", "1")
    assert code == 4 and out == ""
    assert "server error" in err and "502 Bad Gateway" in err and "Traceback" not in err
    assert len(llm_server.requests) == 2


# --------------------------------------------------------------------------- MCP


async def test_mcp_server_killed_mid_call_through_the_session(llm_server, tmp_path):
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"crashy": {"command": sys.executable, "args": [str(SERVERS / "crashy_server.py")]}}})
    )
    (tmp_path / "notes.txt").write_text("still readable\n")
    script = iter(
        [
            Reply.tool_calls([("c1", "mcp__crashy__pid", {})]),
            Reply.tool_calls([("c2", "mcp__crashy__hang", {})]),
            Reply.text("The tool server died."),
            Reply.tool_calls([("c3", "mcp__crashy__echo", {"text": "x"}), ("c4", "read", {"path": "notes.txt"})]),
            Reply.text("Carried on."),
        ]
    )
    llm_server.set_handler(lambda req: next(script))
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="auto", trust_mcp=("crashy",)))
    loop = asyncio.get_running_loop()
    pid = None
    events = []
    async for event in runtime.session.send("use the tools"):
        events.append(event)
        if isinstance(event, ev.ToolResult) and event.call_id == "c1":
            pid = int(event.content)
            assert alive(pid)
        if isinstance(event, ev.PermissionDecided) and event.call_id == "c2":
            assert event.allowed
            loop.call_later(1.0, os.kill, pid, signal.SIGKILL)  # while "hang" is in flight
    hang = next(e for e in of(events, ev.ToolResult) if e.call_id == "c2")
    assert hang.is_error and hang.content.startswith("MCP server 'crashy' stopped while running 'hang'")
    assert text_of(events) == "The tool server died."
    assert "stopped while running 'hang'" in llm_server.requests[2].tool_results()[-1][1]  # the model was told
    assert not alive(pid)

    more = [e async for e in runtime.session.send("go on")]  # the session continues
    results = {e.call_id: e for e in of(more, ev.ToolResult)}
    assert results["c3"].is_error and "is not running" in results["c3"].content
    assert not results["c4"].is_error and "still readable" in results["c4"].content
    assert text_of(more) == "Carried on."
    rows = AuditLog(Store()).query(session=runtime.session.session_id)
    assert [(r.tool, r.decision) for r in rows][:2] == [("mcp:crashy/pid", "allow"), ("mcp:crashy/hang", "allow")]
    assert rows[1].result_summary.startswith("error: mcp:crashy/hang failed: MCP server 'crashy' stopped")
    await runtime.aclose()


# --------------------------------------------------------------------------- signals


class Child:
    """``python -m core.cli ...`` with its output collected by reader threads."""

    def __init__(self, args: list[str], cwd: Path, **popen) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentic_flow", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **popen,
        )
        self.out = bytearray()
        self.err = bytearray()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream, sink: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 65536):
            sink.extend(chunk)

    def wait(self, timeout: float = 60.0) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")


SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def _session_id(stderr: str) -> str:
    return stderr.rsplit("session ", 1)[1].split()[0]


@pytest.mark.parametrize(("sig", "exit_code"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_mid_stream_prints_and_saves_the_partial_answer(llm_server, tmp_path, sig, exit_code):
    llm_server.enqueue(Reply.text([f"w{i} " for i in range(400)], delay_per_chunk=0.05))
    child = Child(["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "talk", "--no-tools"], tmp_path)
    wait_until(lambda: b"w5 " in child.out, what="the answer to start streaming")
    child.proc.send_signal(sig)
    code, out, err = child.wait()
    assert code == exit_code, err
    assert out.startswith("w0 w1 w2 w3 w4 w5 ") and "w399" not in out and out.endswith("\n")
    assert "stop cancelled" in err and "Traceback" not in err
    stored = Store().load_messages(_session_id(err))
    assert isinstance(stored[-1], AssistantMessage) and stored[-1].content == out.rstrip("\n")


@pytest.mark.parametrize(("sig", "exit_code"), SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_during_a_command_kills_it_and_leaves_a_resumable_session(llm_server, tmp_path, sig, exit_code):
    command = "echo $$ > sleep.pid; exec sleep 60"
    llm_server.enqueue(Reply.tool_calls([("c1", "bash", {"command": command})]))
    child = Child(
        ["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "wait", "--approve", "auto"], tmp_path
    )
    pid_file = tmp_path / "sleep.pid"
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the command to start")
    pid = int(pid_file.read_text())
    wait_until(lambda: alive(pid) and "sleep" in Path(f"/proc/{pid}/cmdline").read_text(), what="sleep to run")
    child.proc.send_signal(sig)
    code, _, err = child.wait()
    assert code == exit_code, err
    wait_until(lambda: not alive(pid), timeout=5, what=f"the command's process {pid} to be killed")
    session_id = _session_id(err)
    # Audited although it never finished; and the call has a result, so the session resumes.
    (row,) = AuditLog(Store()).query(session=session_id)
    assert row.tool == "bash" and row.decision == "allow" and row.result_summary.startswith("stopped")
    llm_server.enqueue(Reply.text("resumed fine"))
    code, out, err = _run_cli(
        ["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "go on", "--resume", session_id], tmp_path
    )
    assert code == 0 and out == "resumed fine\n", err
    sent = llm_server.requests[-1]
    assert [m["role"] for m in sent.messages if m["role"] != "system"] == ["user", "assistant", "tool", "user"]
    assert sent.tool_results()[0][0] == "c1" and "stopped" in sent.tool_results()[0][1]


def _run_cli(args: list[str], cwd: Path, timeout: float = 60, **popen) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "agentic_flow", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        **popen,
    )
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


# --------------------------------------------------------------------------- the data dir


def test_two_runs_write_one_store_and_audit_log_at_once(llm_server, tmp_path):
    """Two processes, each a session of N tool calls, interleaving their writes."""
    n = 12
    (tmp_path / "f.txt").write_text("content\n")
    both_started = threading.Barrier(2, timeout=60)

    def handler(req):
        done = len(req.tool_results())
        if done == 0:
            both_started.wait()  # neither run gets an answer until both are running
        if done < n:
            return Reply.tool_calls([(f"c{done}", "read", {"path": "f.txt"})], delay_first=0.02)
        return Reply.text(f"read it {n} times")

    llm_server.set_handler(handler)
    base = ["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--approve", "auto"]
    children = [Child([*base, "--task", f"task {i}"], tmp_path) for i in range(2)]
    results = [child.wait(120) for child in children]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    store = Store()
    log = AuditLog(store)
    ids = {_session_id(err) for _, _, err in results}
    assert len(ids) == 2
    spans = []
    for session_id in ids:
        messages = store.load_messages(session_id)
        assert len(messages) == 2 * n + 2  # user, n x (assistant + tool result), final answer
        assert [m.call_id for m in messages if isinstance(m, ToolResultMessage)] == [f"c{i}" for i in range(n)]
        rows = log.query(session=session_id)
        assert len(rows) == n and all(r.result_summary.startswith("read f.txt") for r in rows)
        spans.append((rows[0].id, rows[-1].id))
    assert log.verify().ok and log.verify().checked == 2 * n
    (a0, a1), (b0, b1) = sorted(spans)
    assert b0 < a1, "the two runs did not overlap; the test proves nothing"
    with store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _db_digest(home: Path) -> str:
    return hashlib.sha256((home / "data" / "agentic-flow.db").read_bytes()).hexdigest()


def _unprivileged() -> list[str]:
    """A prefix that makes the child unable to bypass file permissions (root can)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made read-only for root")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def _seed_home(llm_server, tmp_path: Path) -> tuple[Path, str]:
    """A data dir holding one finished session with an audited tool call."""
    (tmp_path / "f.txt").write_text("x\n")
    llm_server.enqueue(Reply.tool_calls([("c1", "read", {"path": "f.txt"})]), Reply.text("seeded"))
    code, out, err = _run_cli(["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "seed"], tmp_path)
    assert code == 0 and out == "seeded\n", err
    return Path(os.environ["AGENTIC_FLOW_HOME"]), _session_id(err)


def _assert_intact(home: Path, session_id: str) -> None:
    store = Store(home / "data" / "agentic-flow.db")
    assert [m.role for m in store.load_messages(session_id)] == ["user", "assistant", "tool", "assistant"]
    assert AuditLog(store).verify().ok
    with store.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


@pytest.mark.parametrize("fresh", [False, True], ids=["existing-db", "empty-home"])
def test_read_only_data_dir_is_a_clear_error(llm_server, tmp_path, monkeypatch, fresh):
    prefix = _unprivileged()
    if fresh:
        home = tmp_path / "ro-home"
        home.mkdir()
        monkeypatch.setenv("AGENTIC_FLOW_HOME", str(home))
    else:
        home, session_id = _seed_home(llm_server, tmp_path)
        before = _db_digest(home)
    folders = [p for p in [home, *home.rglob("*")] if p.is_dir()]
    files = [p for p in home.rglob("*") if p.is_file()]
    for path in files:
        path.chmod(0o444)
    for path in folders:
        path.chmod(0o555)
    requests_before = len(llm_server.requests)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "agentic_flow", "run", "--model", MODEL, "--base-url", llm_server.openai_url,
             "--task", "hello"],
            cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )
    finally:
        for path in folders:
            path.chmod(0o755)
        for path in files:
            path.chmod(0o644)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert "AGENTIC_FLOW_HOME" in proc.stderr and "writable" in proc.stderr
    assert str(home / "data") in proc.stderr
    assert len(llm_server.requests) == requests_before  # failed before spending tokens
    if not fresh:
        assert _db_digest(home) == before
        _assert_intact(home, session_id)


def test_full_disk_mid_session_keeps_the_answer_on_screen_and_the_store_intact(llm_server, tmp_path):
    home, session_id = _seed_home(llm_server, tmp_path)
    words = [f"word{i} " for i in range(60_000)]  # ~0.6 MB answer: more than the disk has left
    llm_server.enqueue(Reply.text(words))

    def small_disk() -> None:  # every file this process writes is capped: a nearly full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (192 * 1024, 192 * 1024))

    code, out, err = _run_cli(
        ["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "write a lot", "--no-tools"],
        tmp_path,
        preexec_fn=small_disk,
    )
    assert code == 1
    assert out == "".join(words)  # everything the model said reached the screen
    assert "Traceback" not in err
    assert "agentic-flow.db" in err and ("free space" in err or "full" in err)
    _assert_intact(home, session_id)
    with sqlite3.connect(home / "data" / "agentic-flow.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 2
