"""The agent loop end to end: real local LLM server, real tools, real permission engine."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from agentic_flow.core import events as ev
from agentic_flow.core.messages import AssistantMessage, ToolResultMessage
from agentic_flow.core.permissions import Answer
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.store.database import Store
from tests.llm_server import Reply, llm_server  # noqa: F401


def opts(server, workspace, kind="openai", **kw):
    if kind == "openai":
        return RunOptions(model="llamacpp:test-model", base_url=server.openai_url, workspace=str(workspace), **kw)
    return RunOptions(model="anthropic:claude-test", base_url=server.anthropic_url, workspace=str(workspace), **kw)


async def run(runtime, task):
    try:
        return [e async for e in runtime.session.send(task)]
    finally:
        await runtime.aclose()


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


class Approve:
    """An approver standing in for a person: answers from a script, records what it saw."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.seen = []

    async def ask(self, request, verdict):
        self.seen.append((request, verdict))
        return self.answers.pop(0)


def tool_then_text(calls, final="All done."):
    """A model that asks for ``calls`` once, then answers after seeing the results."""

    def handler(req):
        return Reply.text(final) if req.tool_results() else Reply.tool_calls(calls)

    return handler


@pytest.fixture
def anthropic_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-123456")


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_read_round_trip(llm_server, tmp_path, kind, anthropic_key):
    (tmp_path / "a.py").write_text("print('hi')\n")
    llm_server.set_handler(tool_then_text([("call_1", "read", {"path": "a.py"})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path, kind))
    events = await run(runtime, "what does a.py do?")
    (result,) = of(events, ev.ToolResult)
    assert "print('hi')" in result.content and not result.is_error
    assert of(events, ev.PermissionDecided)[0].decided_by == "mode:ask"  # reads are allowed in ask mode
    second = llm_server.requests[1]
    assert "print('hi')" in second.tool_results()[0][1]
    assert "".join(e.text for e in of(events, ev.TextDelta)) == "All done."
    msgs = runtime.session.messages
    assert [m.role for m in msgs] == ["user", "assistant", "tool", "assistant"]


async def test_edit_allowed_by_accept_edits_and_audited(llm_server, tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    llm_server.set_handler(tool_then_text([("c1", "edit", {"path": "m.py", "old_string": "x = 1", "new_string": "x = 2"})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="accept-edits"))
    events = await run(runtime, "bump x")
    assert (tmp_path / "m.py").read_text() == "x = 2\n"
    assert "+x = 2" in of(events, ev.ToolResult)[0].content
    rows = AuditLog(Store()).query(session=runtime.session.session_id)
    assert [(r.tool, r.decision, r.decided_by) for r in rows] == [("edit", "allow", "mode:accept-edits")]
    assert "m.py" in rows[0].result_summary


async def test_headless_command_is_denied_and_model_told(llm_server, tmp_path):
    llm_server.set_handler(tool_then_text([("c1", "bash", {"command": "touch pwned"})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="accept-edits"), interactive=False)
    events = await run(runtime, "run it")
    assert not (tmp_path / "pwned").exists()
    req = of(events, ev.PermissionRequested)[0]
    assert req.tool == "bash" and req.preview == "touch pwned"
    decided = of(events, ev.PermissionDecided)[0]
    assert not decided.allowed and decided.decided_by.startswith("policy:")
    sent_back = llm_server.requests[1].tool_results()[0][1]
    assert "permission denied" in sent_back and "headless" in sent_back
    (row,) = AuditLog(Store()).query(session=runtime.session.session_id)
    assert row.decision == "deny" and row.tool == "bash"


async def test_person_denies_with_reason_sent_back(llm_server, tmp_path):
    llm_server.set_handler(tool_then_text([("c1", "bash", {"command": "ls"})]))
    approver = Approve(Answer("deny", reason="use the ls tool instead"))
    runtime = await Runtime.open(opts(llm_server, tmp_path), approver=approver)
    await run(runtime, "list")
    assert "use the ls tool instead" in llm_server.requests[1].tool_results()[0][1]
    assert approver.seen[0][0].tool == "bash"


async def test_always_writes_project_rule_and_next_call_is_not_asked(llm_server, tmp_path):
    llm_server.enqueue(
        Reply.tool_calls([("c1", "bash", {"command": "echo one"})]),
        Reply.tool_calls([("c2", "bash", {"command": "echo one"})]),
        Reply.text("ok"),
    )
    approver = Approve(Answer("always"))
    runtime = await Runtime.open(opts(llm_server, tmp_path), approver=approver)
    events = await run(runtime, "echo twice")
    assert len(approver.seen) == 1  # the second identical call matched the saved rule
    settings = (tmp_path / ".agentic-flow" / "settings.yaml").read_text()
    assert "bash(echo one)" in settings
    notices = [n.message for n in of(events, ev.Notice)]
    assert any("settings.yaml" in n for n in notices)
    assert [r.content.strip().splitlines()[0] for r in of(events, ev.ToolResult)] == ["one", "one"]


async def test_cut_off_tool_call_is_not_executed_and_model_told(llm_server, tmp_path):
    llm_server.enqueue(Reply.tool_calls([("c1", "write", '{"path": "x.txt", "content": "aaa')], finish_reason="length"))
    llm_server.enqueue(Reply.text("Sorry, retrying later."))
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="auto"))
    events = await run(runtime, "write x")
    assert not (tmp_path / "x.txt").exists()
    assert "cut off" in llm_server.requests[1].tool_results()[0][1]
    assert of(events, ev.ToolResult)[0].is_error


async def test_parallel_calls_all_answered(llm_server, tmp_path):
    (tmp_path / "a.txt").write_text("AAA")
    (tmp_path / "b.txt").write_text("BBB")
    llm_server.set_handler(tool_then_text([("c1", "read", {"path": "a.txt"}), ("c2", "read", {"path": "b.txt"})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    await run(runtime, "read both")
    results = dict(llm_server.requests[1].tool_results())
    assert "AAA" in results["c1"] and "BBB" in results["c2"]


async def test_max_turns_stops_a_looping_model(llm_server, tmp_path):
    llm_server.set_handler(lambda req: Reply.tool_calls([(f"c{len(llm_server.requests)}", "ls", {"path": "."})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path, max_turns=3))
    events = await run(runtime, "loop")
    assert len(llm_server.requests) == 3
    assert events[-1] == ev.TurnEnded(stop_reason="max_turns")


async def test_workspace_escape_refused_through_the_loop(llm_server, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    llm_server.set_handler(tool_then_text([("c1", "read", {"path": "../secret.txt"})]))
    runtime = await Runtime.open(opts(llm_server, ws, approve="auto"))
    events = await run(runtime, "read it")
    result = of(events, ev.ToolResult)[0]
    assert result.is_error and "TOP SECRET" not in result.content


async def test_cancel_keeps_partial_text_in_history_and_store(llm_server, tmp_path):
    llm_server.enqueue(Reply.text(["word "] * 100, split="events", delay_per_chunk=0.03))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    seen = []

    async def consume():
        async for e in runtime.session.send("talk"):
            if isinstance(e, ev.TextDelta):
                seen.append(e.text)

    task = asyncio.create_task(consume())
    while len(seen) < 5:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = runtime.session.messages[-1]
    assert isinstance(last, AssistantMessage) and last.content.startswith("word word")
    (turn,) = runtime.session.totals.turns
    assert turn.stop_reason == "cancelled" and turn.estimated and turn.output_tokens >= 5 and turn.input_tokens > 0
    stored = Store().load_messages(runtime.session.session_id)
    assert stored[-1].content == last.content
    await runtime.aclose()


async def test_model_switch_across_wire_formats_keeps_history(llm_server, tmp_path, anthropic_key):
    (tmp_path / "a.py").write_text("A = 1\n")
    llm_server.enqueue(Reply.tool_calls([("call_x", "read", {"path": "a.py"})]), Reply.text("It sets A."))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    async for _ in runtime.session.send("what is in a.py"):
        pass
    runtime.switch_model("anthropic:claude-test", base_url=llm_server.anthropic_url)
    llm_server.enqueue(Reply.text("Yes, A is 1."))
    events = await run(runtime, "and A's value?")
    last = llm_server.requests[-1]
    assert last.wire == "anthropic" and last.model == "claude-test"
    blocks = [b["type"] for m in last.messages for b in m["content"]]
    assert blocks == ["text", "tool_use", "tool_result", "text", "text"]
    assert "".join(e.text for e in of(events, ev.TextDelta)) == "Yes, A is 1."


async def test_resume_continues_with_full_history(llm_server, tmp_path):
    llm_server.enqueue(Reply.text("First answer."))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    await run(runtime, "first question")
    sid = runtime.session.session_id
    llm_server.enqueue(Reply.text("Second answer."))
    resumed = await Runtime.open(opts(llm_server, tmp_path, resume=sid[:6]))
    await run(resumed, "second question")
    contents = [m["content"] for m in llm_server.requests[-1].messages if m["role"] != "system"]
    assert contents == ["first question", "First answer.", "second question"]
    assert resumed.session.session_id == sid


async def test_turn_figures_are_recorded(llm_server, tmp_path):
    llm_server.enqueue(Reply.text(["a", "b", "c"], split="events", delay_first=0.1, input_tokens=5, output_tokens=3))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    await run(runtime, "hi")
    (turn,) = runtime.session.totals.turns
    assert turn.ttft_s >= 0.1 and turn.input_tokens == 5 and turn.output_tokens == 3
    stats = Store().latency_stats("llamacpp:test-model")
    assert stats.count == 1 and stats.ttft_p50 >= 100


async def test_mcp_tool_through_the_loop(llm_server, tmp_path):
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"time": {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}}})
    )
    llm_server.set_handler(tool_then_text([("c1", "mcp__time__get_current_time", {"timezone": "UTC"})]))
    # A project server (.mcp.json) starts only when trusted: here for this run, as --trust-mcp does.
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="auto", trust_mcp=("time",)))
    assert "mcp__time__get_current_time" in [t.name for t in runtime.session.request().tools]
    events = await run(runtime, "what time is it")
    result = of(events, ev.ToolResult)[0]
    assert result.name == "mcp:time/get_current_time" and "UTC" in result.content and not result.is_error
    (row,) = AuditLog(Store()).query(session=runtime.session.session_id)
    assert row.tool == "mcp:time/get_current_time" and row.decided_by == "mode:auto"


async def test_tool_results_are_redacted(llm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-abcdefabcdefabcdef0123456789")
    (tmp_path / "env.txt").write_text("KEY=sk-or-v1-abcdefabcdefabcdef0123456789\n")
    llm_server.set_handler(tool_then_text([("c1", "read", {"path": "env.txt"})]))
    runtime = await Runtime.open(opts(llm_server, tmp_path))
    events = await run(runtime, "read")
    assert "abcdefabcdef" not in of(events, ev.ToolResult)[0].content
    assert "abcdefabcdef" not in json.dumps(llm_server.requests[1].json)


def test_tool_result_message_keeps_wire_name():
    msg = ToolResultMessage(call_id="c", name="mcp__s__t", content="x")
    assert msg.name == "mcp__s__t"


async def test_deny_rule_hides_files_from_searches(llm_server, tmp_path):
    (tmp_path / ".agentic-flow").mkdir()
    (tmp_path / ".agentic-flow" / "settings.yaml").write_text("permissions:\n  deny: ['read(**/.env)']\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".env").write_text("TOKEN=hunter2\n")
    (tmp_path / "app" / "main.py").write_text("TOKEN = load()\n")
    llm_server.set_handler(
        tool_then_text([("c1", "grep", {"pattern": "TOKEN"}), ("c2", "glob", {"pattern": "**/*"})])
    )
    runtime = await Runtime.open(opts(llm_server, tmp_path, approve="auto"))
    events = await run(runtime, "find the token")
    grep_out, glob_out = (r.content for r in of(events, ev.ToolResult))
    assert "main.py" in grep_out and "hunter2" not in grep_out and ".env" not in grep_out
    assert "main.py" in glob_out and ".env" not in glob_out


async def test_failed_open_stops_mcp_servers_it_started(llm_server, tmp_path):
    from agentic_flow.core.errors import StoreError

    server = Path(__file__).parent / "mcp_servers" / "crashy_server.py"
    pid_file = tmp_path / "mcp.pid"
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"crashy": {"command": sys.executable, "args": [str(server), "--pid-file", str(pid_file)]}}})
    )
    # A stored session whose messages cannot be read: the resume fails after the MCP
    # server started (an unknown id fails before anything starts).
    with Store() as store:
        broken = store.create_session("coder", "llamacpp:test-model", tmp_path)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO messages (session_id, seq, role, json, created_at) VALUES (?, 0, 'user', '{}', 'x')",
                (broken,),
            )
    with pytest.raises(StoreError):
        await Runtime.open(opts(llm_server, tmp_path, resume=broken, trust_mcp=("crashy",)))
    pid = int(pid_file.read_text())  # it did start: open got as far as the resume

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/status").exists() and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()

    deadline = asyncio.get_running_loop().time() + 10
    while alive() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert not alive(), f"MCP server {pid} outlived the failed open"
