"""Where the command sandbox is unavailable (old kernel, macOS, turned off): said once,
and auto mode asks for every command (denied headless). ``AGENTIC_FLOW_NO_SANDBOX``
makes this machine behave like one without Landlock."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from agentic_flow.core.cli import main
from agentic_flow.core.permissions import PermissionEngine, PermissionRequest
from agentic_flow.core.runtime import RunOptions, Runtime
from agentic_flow.core.sandbox import DISABLE_ENV
from tests.llm_server import Reply, llm_server  # noqa: F401

MODEL = "llamacpp:test-model"


@pytest.fixture
def no_sandbox(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DISABLE_ENV, "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return tmp_path


def once_then_text(calls):
    def handler(req):
        return Reply.text("done") if req.tool_results() else Reply.tool_calls(calls)

    return handler


def test_auto_mode_denies_commands_headless_and_says_why_once(llm_server, no_sandbox, capsys):
    llm_server.set_handler(once_then_text([("c1", "bash", {"command": "echo ran > ran.txt"})]))
    code = main(["run", "--model", MODEL, "--base-url", llm_server.openai_url, "--task", "go", "--approve", "auto"])
    err = capsys.readouterr().err
    assert code == 0
    assert not (no_sandbox / "ran.txt").exists()
    assert err.count("no command sandbox") == 1 and DISABLE_ENV in err
    assert "denied" in err and "without a sandbox" in err


def test_a_person_is_asked_and_an_allow_rule_still_allows(no_sandbox):
    engine = PermissionEngine("auto", workspace=no_sandbox)
    engine.sandbox_unavailable = "no Landlock"
    request = PermissionRequest(call_id="1", tool="bash", arguments={"command": "ls"}, workspace=no_sandbox)
    verdict = engine.evaluate(request)
    assert verdict.outcome == "ask" and "without a sandbox" in verdict.reason
    assert verdict.decided_by == "sandbox: unavailable"  # not "mode:", so no auto policy waves it through
    engine.allow_for_session("bash(ls)")
    assert engine.evaluate(request).outcome == "allow"
    read = PermissionRequest(call_id="2", tool="read", arguments={"path": "a.txt"}, workspace=no_sandbox)
    assert engine.evaluate(read).outcome == "allow"  # only commands lose the sandbox


async def test_runtime_exposes_the_status_for_the_tui(llm_server, no_sandbox):
    runtime = await Runtime.open(RunOptions(model=MODEL, base_url=llm_server.openai_url, workspace=str(no_sandbox)))
    try:
        status = runtime.sandbox_status
        assert status is not None and not status.available
        assert status.summary().startswith("no command sandbox:") and DISABLE_ENV in status.summary()
        assert any("no command sandbox" in w for w in runtime.warnings)
    finally:
        await runtime.aclose()


def test_doctor_says_the_sandbox_is_unavailable(no_sandbox, capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "status: UNAVAILABLE" in out and DISABLE_ENV in out
    assert "auto mode asks for every command" in out


def test_commands_still_leave_nothing_behind_without_landlock(no_sandbox):
    import asyncio

    from agentic_flow.core.tools.base import ToolContext
    from agentic_flow.core.tools.shell import BashTool

    if not sys.platform.startswith("linux"):
        pytest.skip("the launcher's cleanup is Linux-only")
    out = asyncio.run(BashTool().run({"command": "setsid sleep 100 & echo $! > pid"}, ToolContext(workspace=no_sandbox)))
    pid = int((no_sandbox / "pid").read_text())
    assert "stopped 1 background process" in out.content
    assert not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1][:3]
