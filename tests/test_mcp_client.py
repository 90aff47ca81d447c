"""The MCP client against real servers: stdio subprocesses and streamable HTTP.

Servers used: ``mcp-server-time`` (stdio, the published package), ``mcp_servers/
http_server.py`` (streamable HTTP under uvicorn, started once per module) and
``mcp_servers/crashy_server.py`` (stdio; crashes, hangs or freezes on request).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_flow.core.mcp.client import McpManager, ServerStatus, default_elicitation_policy
from agentic_flow.core.mcp.config import parse_mcp_servers
from agentic_flow.core.mcp.names import WIRE_NAME_RE
from agentic_flow.core.tools.base import ToolContext

SERVERS = Path(__file__).parent / "mcp_servers"
TIME = {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}
CRASHY = {"command": sys.executable, "args": [str(SERVERS / "crashy_server.py")]}


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run the streamable HTTP test server on a free port; yield its MCP endpoint."""
    log = tmp_path_factory.mktemp("mcp-http") / "server.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(SERVERS / "http_server.py")], stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        assert line.startswith("PORT "), f"server did not start: {line!r} {log.read_text()}"
        base = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("HTTP MCP server never became ready:\n" + log.read_text()) from None
                time.sleep(0.1)
        yield base + "/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def make_manager(entries: dict[str, Any], **kwargs: Any) -> McpManager:
    servers, warnings = parse_mcp_servers(entries)
    assert warnings == []
    return McpManager(servers, **kwargs)


def status(manager: McpManager, name: str) -> ServerStatus:
    return next(server for server in manager.servers if server.name == name)


def ctx(tmp_path: Path, cancel_event: asyncio.Event | None = None) -> ToolContext:
    return ToolContext(workspace=tmp_path, cancel_event=cancel_event)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_importing_the_client_does_not_import_the_sdk() -> None:
    code = (
        "import sys, asyncio\n"
        "import agentic_flow.core.mcp.client as m\n"
        "assert 'mcp' not in sys.modules and 'mcp_types' not in sys.modules, 'SDK imported at import time'\n"
        "async def main():\n"
        "    async with m.McpManager({}) as mgr:\n"
        "        assert mgr.tools() == {} and mgr.servers == []\n"
        "asyncio.run(main())\n"
        "assert 'mcp' not in sys.modules, 'SDK imported with no servers configured'\n"
        "print('clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "clean"


async def test_time_server_over_stdio(tmp_path: Path) -> None:
    async with make_manager({"time": TIME}) as manager:
        assert manager.servers == [
            ServerStatus(name="time", transport="stdio", status="ready", tools=["get_current_time", "convert_time"])
        ]
        tools = manager.tools()
        assert set(tools) == {"mcp__time__get_current_time", "mcp__time__convert_time"}
        tool = tools["mcp__time__get_current_time"]
        assert tool.name == "mcp:time/get_current_time"
        assert tool.kind == "mcp"
        assert tool.description.startswith("[MCP server time] ")
        assert "timezone" in tool.input_schema["properties"]
        spec = tool.spec()
        assert spec.name == "mcp__time__get_current_time"
        assert manager.tool("mcp:time/get_current_time") is tool
        assert manager.tool("mcp__time__get_current_time") is tool
        assert manager.tool("mcp:time/nope") is None

        out = await tool.run({"timezone": "UTC"}, ctx(tmp_path))
        assert not out.is_error, out.content
        answer = json.loads(out.content)
        assert answer["timezone"] == "UTC"
        assert abs(time.time() - _parse_iso(answer["datetime"])) < 120
        assert out.summary.startswith("mcp:time/get_current_time: ")

        bad = await tool.run({"timezone": "Mars/Olympus_Mons"}, ctx(tmp_path))
        assert bad.is_error
        assert "Mars/Olympus_Mons" in bad.content
    assert status(manager, "time").status == "stopped"


def _parse_iso(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


async def test_http_server_tools_and_results(http_url: str, tmp_path: Path) -> None:
    entries = {"web": {"type": "http", "url": http_url, "headers": {"X-Test-Token": "tok-123"}}}
    async with make_manager(entries) as manager:
        assert status(manager, "web").status == "ready"
        tools = manager.tools()
        assert {"mcp__web__echo", "mcp__web__add", "mcp__web__slow", "mcp__web__fail"} <= set(tools)
        add = tools["mcp__web__add"]
        assert add.description == "[MCP server web] Add two integers."
        assert add.input_schema["required"] == ["a", "b"]
        assert add.preview({"a": 1, "b": 2}, ctx(tmp_path)) == 'mcp:web/add\n{\n  "a": 1,\n  "b": 2\n}'

        assert (await add.run({"a": 2, "b": 40}, ctx(tmp_path))).content == "42"
        assert (await tools["mcp__web__echo"].run({"text": "héllo"}, ctx(tmp_path))).content == "héllo"
        assert (await tools["mcp__web__whoami"].run({}, ctx(tmp_path))).content == "tok-123"

        failed = await tools["mcp__web__fail"].run({"reason": "disk on fire"}, ctx(tmp_path))
        assert failed.is_error
        assert "disk on fire" in failed.content
        assert failed.summary.startswith("mcp:web/fail failed: ")

        wrong = await add.run({"a": "not a number"}, ctx(tmp_path))
        assert wrong.is_error

        media = await tools["mcp__web__media"].run({}, ctx(tmp_path))
        assert not media.is_error
        assert media.content.splitlines() == [
            "here you go",
            "[image: image/png, 70 bytes]",
            "[resource: file:///notes.txt, text/plain]",
            "note body",
            "[resource link: big.bin <file:///big.bin>, application/x]",
        ]
        assert status(manager, "web").status == "ready"


async def test_progress_and_log_messages_reach_on_notice(http_url: str, tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    async with make_manager({"web": {"url": http_url}}, on_notice=lambda s, m: seen.append((s, m))) as manager:
        out = await manager.tools()["mcp__web__slow"].run({"seconds": 0.2}, ctx(tmp_path))
        assert out.content == "slept 0.2s"
    assert ("web", "[info] slow: sleeping 0.2s") in seen
    assert ("web", "slow: 0/4 step 1 of 4") in seen
    assert ("web", "slow: 4/4 done") in seen
    assert list(manager.notices) == seen


async def test_elicitation_auto_policy_accepts_defaults_only(http_url: str, tmp_path: Path) -> None:
    policy = default_elicitation_policy(auto=True)
    seen: list[str] = []

    async def on_notice(server: str, message: str) -> None:  # an async callback works too
        seen.append(f"{server}: {message}")

    async with make_manager({"web": {"url": http_url}}, elicitation_handler=policy, on_notice=on_notice) as manager:
        tools = manager.tools()
        assert (await tools["mcp__web__elicit"].run({}, ctx(tmp_path))).content == "accepted: world x2"
        # A required field without a default cannot be answered unattended.
        assert (await tools["mcp__web__elicit_required"].run({}, ctx(tmp_path))).content == "decline"
        await asyncio.sleep(0)
    assert seen == ["web: asked 'How should I greet?': accept", "web: asked 'Please paste a token': decline"]


async def test_elicitation_declined_without_auto(http_url: str, tmp_path: Path) -> None:
    for handler in (None, default_elicitation_policy(auto=False)):
        async with make_manager({"web": {"url": http_url}}, elicitation_handler=handler) as manager:
            out = await manager.tools()["mcp__web__elicit"].run({}, ctx(tmp_path))
            assert out.content == "decline"


async def test_elicitation_handler_sees_the_question_and_answers_it(http_url: str, tmp_path: Path) -> None:
    asked: list[tuple[str, str, dict[str, Any]]] = []
    answers = iter([("accept", {"name": "Ada", "times": 3}), ("cancel", None)])

    async def person(server: str, message: str, schema: dict[str, Any]) -> Any:
        asked.append((server, message, schema))
        await asyncio.sleep(1.5)  # a person takes time; it must not count against the call timeout
        return next(answers)

    async with make_manager({"web": {"url": http_url}}, elicitation_handler=person, call_timeout=1.0) as manager:
        tool = manager.tools()["mcp__web__elicit"]
        assert (await tool.run({}, ctx(tmp_path))).content == "accepted: Ada x3"
        assert (await tool.run({}, ctx(tmp_path))).content == "cancel"
    server, message, schema = asked[0]
    assert (server, message) == ("web", "How should I greet?")
    assert schema["properties"]["name"]["default"] == "world"


async def test_crash_mid_call_and_missing_command(http_url: str, tmp_path: Path) -> None:
    notices: list[tuple[str, str]] = []
    entries = {
        "crashy": CRASHY,
        "web": {"url": http_url},
        "time": TIME,
        "ghost": {"command": "af-no-such-mcp-server-command"},
        "dies": {"command": sys.executable, "args": [str(SERVERS / "crashy_server.py"), "--die-at-start"]},
    }
    async with make_manager(entries, on_notice=lambda s, m: notices.append((s, m))) as manager:
        ghost = status(manager, "ghost")
        assert ghost.status == (
            "failed: command 'af-no-such-mcp-server-command' not found (is it installed and on PATH?)"
        )
        assert ghost.tools == []
        dies = status(manager, "dies").status
        assert dies.startswith("failed: the server exited during start-up")
        assert "missing CRASHY_CONFIG" in dies
        assert ("ghost", f"failed to start: {ghost.error}") in notices
        assert [s.status for s in manager.servers if s.name in ("crashy", "web", "time")] == ["ready"] * 3

        tools = manager.tools()
        assert not any(name.startswith(("mcp__ghost", "mcp__dies")) for name in tools)
        pid = int((await tools["mcp__crashy__pid"].run({}, ctx(tmp_path))).content)
        assert process_alive(pid)

        crashed = await tools["mcp__crashy__crash"].run({}, ctx(tmp_path))
        assert crashed.is_error
        assert crashed.content.startswith("MCP server 'crashy' stopped while running 'crash'")
        assert "exiting mid-call" in crashed.content  # the server's last words, from its stderr
        assert status(manager, "crashy").status.startswith("failed: stopped while running 'crash'")
        assert await wait_gone(pid), "crashed server process was not reaped"

        again = await tools["mcp__crashy__echo"].run({"text": "hi"}, ctx(tmp_path))
        assert again.is_error and "is not running" in again.content
        assert "mcp__crashy__echo" not in manager.tools()

        # The session goes on with the other servers.
        assert (await tools["mcp__web__echo"].run({"text": "still here"}, ctx(tmp_path))).content == "still here"
        assert not (await tools["mcp__time__get_current_time"].run({"timezone": "UTC"}, ctx(tmp_path))).is_error

        restarted = await manager.restart("crashy")
        assert restarted.status == "ready"
        echo = manager.tools()["mcp__crashy__echo"]
        assert (await echo.run({"text": "back"}, ctx(tmp_path))).content == "back"
        new_pid = int((await manager.tools()["mcp__crashy__pid"].run({}, ctx(tmp_path))).content)
    assert await wait_gone(new_pid), "aclose left the restarted server running"


async def test_aclose_leaves_no_server_process(tmp_path: Path) -> None:
    manager = make_manager({"one": CRASHY, "two": CRASHY})
    await manager.start()
    tools = manager.tools()
    pids = [int((await tools[f"mcp__{name}__pid"].run({}, ctx(tmp_path))).content) for name in ("one", "two")]
    assert len(set(pids)) == 2 and all(process_alive(pid) for pid in pids)
    await manager.aclose()
    for pid in pids:
        assert not process_alive(pid), f"server process {pid} outlived aclose()"
    assert [s.status for s in manager.servers] == ["stopped", "stopped"]
    out = await tools["mcp__one__echo"].run({"text": "x"}, ctx(tmp_path))
    assert out.is_error and "is not running (stopped)" in out.content


async def test_start_timeout_fails_the_server_and_kills_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)"
    silent = {"command": sys.executable, "args": ["-c", script, str(pid_file)]}
    manager = make_manager({"silent": silent}, start_timeout=3.0)
    started = time.monotonic()
    async with manager:
        assert time.monotonic() - started < 20
        assert status(manager, "silent").status == "failed: did not start within 3s"
        assert manager.tools() == {}
        pid = int(pid_file.read_text())
        assert await wait_gone(pid), "a server that never started was left running"


async def test_start_failures_say_why(http_url: str, tmp_path: Path) -> None:
    wrong_path = http_url.replace("/mcp", "/not-mcp")
    entries = {
        "down": {"url": "http://127.0.0.1:9/mcp"},
        "wrong-path": {"url": wrong_path},
        "no-dir": {**CRASHY, "cwd": str(tmp_path / "missing")},
        "web": {"url": http_url},
    }
    async with make_manager(entries) as manager:
        assert status(manager, "down").status.startswith("failed: cannot reach http://127.0.0.1:9/mcp: ConnectError")
        assert status(manager, "wrong-path").status == (
            f"failed: {wrong_path} refused the MCP handshake: Not Found (code -32601)"
        )
        assert status(manager, "no-dir").status == f"failed: working directory '{tmp_path / 'missing'}' does not exist"
        assert status(manager, "web").status == "ready"


async def test_slow_call_times_out_but_a_live_server_stays_up(tmp_path: Path) -> None:
    async with make_manager({"crashy": CRASHY}, call_timeout=1.0) as manager:
        tools = manager.tools()
        started = time.monotonic()
        out = await tools["mcp__crashy__hang"].run({}, ctx(tmp_path))
        assert 1.0 <= time.monotonic() - started < 8
        assert out.is_error
        assert out.content == "MCP tool 'hang' on server 'crashy' did not answer within 1s and was cancelled"
        assert status(manager, "crashy").status == "ready"
        assert (await tools["mcp__crashy__echo"].run({"text": "ok"}, ctx(tmp_path))).content == "ok"


async def test_frozen_server_is_marked_failed_and_stopped(tmp_path: Path) -> None:
    async with make_manager({"crashy": CRASHY}, call_timeout=1.0, probe_timeout=1.0) as manager:
        tools = manager.tools()
        pid = int((await tools["mcp__crashy__pid"].run({}, ctx(tmp_path))).content)
        out = await tools["mcp__crashy__freeze"].run({}, ctx(tmp_path))
        assert out.is_error
        assert out.content.startswith("MCP server 'crashy' stopped answering while running 'freeze'")
        assert status(manager, "crashy").status.startswith("failed: stopped while running 'freeze'")
        assert await wait_gone(pid, timeout=15), "frozen server was not killed"


async def test_user_cancel_stops_the_call_not_the_server(http_url: str, tmp_path: Path) -> None:
    async with make_manager({"web": {"url": http_url}}) as manager:
        tools = manager.tools()
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, cancel.set)
        started = time.monotonic()
        out = await tools["mcp__web__slow"].run({"seconds": 30}, ctx(tmp_path, cancel))
        assert time.monotonic() - started < 5
        assert out.is_error and out.content == "The call to mcp:web/slow was cancelled by the user."
        assert (await tools["mcp__web__echo"].run({"text": "next"}, ctx(tmp_path))).content == "next"


async def test_weird_server_names_get_safe_wire_names(http_url: str, tmp_path: Path) -> None:
    entries = {"my.web server": {"url": http_url}, "my_web_server": {"url": http_url}, "wéb" * 30: {"url": http_url}}
    async with make_manager(entries) as manager:
        tools = manager.tools()
        assert len(tools) == 3 * len(status(manager, "my_web_server").tools)
        for wire, tool in tools.items():
            assert WIRE_NAME_RE.match(wire)
            assert manager.wire_names.resolve(wire) == (tool.server, tool.tool)
            assert manager.tool(tool.name) is tool
        # "my.web server" sorts first and keeps the plain name; the other gets a hash suffix.
        assert tools["mcp__my_web_server__echo"].server == "my.web server"
        other = manager.tool("mcp:my_web_server/echo")
        assert other is not None and other.wire_name.startswith("mcp__my_web_server__echo_")
        assert (await other.run({"text": "routed"}, ctx(tmp_path))).content == "routed"


async def test_calling_unknown_or_failed_servers_never_raises(tmp_path: Path) -> None:
    async with make_manager({"ghost": {"command": "af-no-such-mcp-server-command"}}) as manager:
        missing = await manager.call("nobody", "x", {})
        assert missing.is_error and missing.content == "No MCP server named 'nobody' is configured."
        failed = await manager.call("ghost", "x", {})
        assert failed.is_error and "is not running (failed: command" in failed.content


async def test_default_policy_and_schema_defaults() -> None:
    from agentic_flow.core.mcp.client import schema_defaults

    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "default": "x"}, "n": {"type": "integer"}},
        "required": ["name"],
    }
    assert schema_defaults(schema) == {"name": "x"}
    assert schema_defaults({**schema, "required": ["name", "n"]}) is None
    assert schema_defaults({"type": "object"}) == {}
    auto, manual = default_elicitation_policy(auto=True), default_elicitation_policy(auto=False)
    assert await auto("s", "q?", schema) == ("accept", {"name": "x"})
    assert await auto("s", "q?", {**schema, "required": ["n"]}) == ("decline", None)
    assert await manual("s", "q?", schema) == ("decline", None)


def test_rendering_of_every_content_kind() -> None:
    import mcp_types as types

    from agentic_flow.core.mcp.client import render_tool_result

    result = types.CallToolResult(
        content=[
            types.AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
            types.EmbeddedResource(
                type="resource",
                resource=types.BlobResourceContents(uri="file:///a.bin", mime_type="application/zip", blob="AAAAAA=="),
            ),
        ],
        is_error=True,
    )
    assert render_tool_result(result) == (
        "[audio: audio/wav, 3 bytes]\n[resource: file:///a.bin, application/zip, 4 bytes]",
        True,
    )
    structured = types.CallToolResult(content=[], structured_content={"temp": 21})
    assert render_tool_result(structured) == ('{"temp": 21}', False)
    assert render_tool_result(types.CallToolResult(content=[])) == ("(no output)", False)
