"""bash: exit codes, output cap, timeout and cancel kill the whole process group."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from agentic_flow.core.tools.base import ToolContext
from agentic_flow.core.tools.shell import MAX_OUTPUT_CHARS, BashTool


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return ToolContext(workspace=ws)


def live_members(pgid: int) -> list[int]:
    """Pids of processes in group ``pgid`` that are not zombies (read from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            pids.append(int(entry))
    return pids


def group_of(output: str) -> int:
    match = re.search(r"PGID=(\d+)", output)
    assert match, output
    return int(match.group(1))


async def wait_until_gone(pgid: int, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (members := live_members(pgid)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return members


async def test_success_exit_code_and_merged_output(ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "echo out; echo err >&2"}, ctx)
    assert not out.is_error
    assert out.content == "out\nerr\nexit code: 0"
    assert out.summary == "ran `echo out; echo err >&2` (exit 0)"


async def test_nonzero_exit_is_an_error_with_the_code(ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "echo failing; exit 3"}, ctx)
    assert out.is_error
    assert out.content.endswith("exit code: 3")
    assert "failing" in out.content


async def test_runs_in_the_workspace_without_stdin(ws: Path, ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "pwd; cat; echo after-cat"}, ctx)
    assert out.content.splitlines()[0] == str(ws.resolve())
    assert "after-cat" in out.content


async def test_runs_in_its_own_process_group(ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "echo PGID=$(ps -o pgid= $$ | tr -d ' ') PID=$$"}, ctx)
    pid = re.search(r"PID=(\d+)", out.content)
    assert pid and group_of(out.content) == int(pid.group(1))
    assert group_of(out.content) != os.getpgid(0)


async def test_output_cap_keeps_the_tail(ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "seq 1 40000"}, ctx)  # ~229k characters
    assert not out.is_error
    assert "output truncated" in out.content
    assert out.content.rstrip().endswith("40000\nexit code: 0")
    assert "\n1\n" not in out.content
    assert len(out.content) < MAX_OUTPUT_CHARS + 300


async def test_timeout_kills_the_whole_process_group(ctx: ToolContext) -> None:
    start = time.monotonic()
    out = await BashTool().run(
        {"command": "echo PGID=$(ps -o pgid= $$ | tr -d ' '); sleep 30 & sleep 30", "timeout": 0.5}, ctx
    )
    elapsed = time.monotonic() - start
    assert out.is_error
    assert "timed out after 0.5 s" in out.content
    assert elapsed < 5
    assert await wait_until_gone(group_of(out.content)) == []


async def test_timeout_kills_processes_that_ignore_sigterm(ctx: ToolContext) -> None:
    out = await BashTool().run(
        {"command": "echo PGID=$(ps -o pgid= $$ | tr -d ' '); trap '' TERM; sleep 30 & wait", "timeout": 0.5}, ctx
    )
    assert "timed out" in out.content
    assert await wait_until_gone(group_of(out.content)) == []


async def test_cancel_event_kills_the_group_and_reports_it(ws: Path) -> None:
    event = asyncio.Event()
    ctx = ToolContext(workspace=ws, cancel_event=event)
    task = asyncio.create_task(
        BashTool().run({"command": "echo PGID=$(ps -o pgid= $$ | tr -d ' '); sleep 30 & sleep 30"}, ctx)
    )
    await asyncio.sleep(0.5)
    event.set()
    out = await asyncio.wait_for(task, timeout=5)
    assert out.is_error
    assert "cancelled" in out.content
    assert await wait_until_gone(group_of(out.content)) == []


async def test_task_cancellation_kills_the_group(ws: Path, ctx: ToolContext) -> None:
    marker = ws / "pgid"
    task = asyncio.create_task(
        BashTool().run({"command": f"ps -o pgid= $$ | tr -d ' ' > {marker}; sleep 30 & sleep 30"}, ctx)
    )
    deadline = time.monotonic() + 5
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    pgid = int(marker.read_text())
    assert live_members(pgid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_until_gone(pgid) == []


async def test_background_process_holding_output_does_not_block(ctx: ToolContext) -> None:
    start = time.monotonic()
    out = await BashTool().run({"command": "echo PGID=$(ps -o pgid= $$ | tr -d ' '); sleep 30 & echo started"}, ctx)
    assert time.monotonic() - start < 5
    assert not out.is_error
    assert "started" in out.content and "exit code: 0" in out.content
    assert "background" in out.content
    assert await wait_until_gone(group_of(out.content)) == []


async def test_killed_by_signal_is_reported(ctx: ToolContext) -> None:
    out = await BashTool().run({"command": "kill -KILL $$"}, ctx)
    assert out.is_error
    assert "exit code: -9 (killed by SIGKILL)" in out.content


async def test_timeout_is_validated(ctx: ToolContext) -> None:
    for bad in (0, 601, "soon"):
        out = await BashTool().run({"command": "true", "timeout": bad}, ctx)
        assert out.is_error
        assert "timeout" in out.content


def test_preview_is_the_full_command(ctx: ToolContext) -> None:
    command = "git status && " + "x" * 500 + "\nrm -rf build"
    assert BashTool().preview({"command": command}, ctx) == command


async def test_background_output_holder_is_gone_when_the_call_returns(ws: Path, ctx: ToolContext) -> None:
    """The sandbox launcher stops what bash left running before the call returns: no
    window in which a backgrounded process still holds the output (or anything else)."""
    marker = ws / "pgid"
    out = await BashTool().run({"command": f"ps -o pgid= $$ | tr -d ' ' > {marker}; sleep 30 & echo started"}, ctx)
    assert "started" in out.content and "stopped 1 background process" in out.content
    assert live_members(int(marker.read_text())) == []
