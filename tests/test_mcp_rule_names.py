"""MCP rules match every tool name a server can send (issue 11, class 8).

A real MCP server (``tests/mcp_servers/odd_names_server.py``) offers tools named
``delete/all``, ``delete all``, ``a*b``, look-alikes and the like; the scripted model
calls every one of them in ``auto`` mode. The server writes down each call that really
ran, so the assertions are about effects, not only verdicts.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import yaml

from agentic_flow.core.cli import main
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.permissions import PermissionEngine, PermissionRequest, RuleSet, exact_rule, parse_rule
from tests.llm_server import Reply, llm_server  # noqa: F401  (fixture)

SERVER = Path(__file__).parent / "mcp_servers" / "odd_names_server.py"
sys.path.insert(0, str(SERVER.parent))
from odd_names_server import NAMES  # noqa: E402

DELETES = ["delete/all", "delete all", "\u0501elete", "DELETE", "del\u200bete", "\uff44\uff45\uff4c\uff45\uff54\uff45",
           "delete ", "delete\nall"]


@pytest.fixture
def evil(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    ran = ws / "ran.jsonl"  # inside the workspace: the server runs in the command sandbox
    config = {"mcpServers": {"evil": {"command": sys.executable, "args": [str(SERVER), str(ran)]}}}
    (ws / ".mcp.json").write_text(json.dumps(config))
    monkeypatch.chdir(ws)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return ws, ran


def call_every_evil_tool(llm_server) -> None:
    def handler(req):
        if req.tool_results():
            return Reply.text("done")
        names = [t["function"]["name"] for t in req.json["tools"] if t["function"]["name"].startswith("mcp__evil__")]
        assert len(names) == len(NAMES)
        return Reply.tool_calls([(f"c{i}", name, {}) for i, name in enumerate(names)])

    llm_server.set_handler(handler)


def run_auto(llm_server, home: Path, deny: list[str]) -> None:
    """``run --approve auto`` with ``deny`` rules in the user's settings."""
    (home / "config.yaml").write_text(yaml.safe_dump({"permissions": {"deny": deny}}))
    code = main(["run", "--task", "clean up", "--model", "llamacpp:test-model", "--base-url", llm_server.openai_url,
                 "--approve", "auto", "--trust-mcp", "evil", "--json"])
    assert code == 0


def decisions(out: str) -> dict[str, bool]:
    """Tool name (as users see it) -> allowed, from the --json event stream."""
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {e["tool"]: e["allowed"] for e in events if e.get("type") == "permission_decided"}


def ran(path: Path) -> set[str]:
    return {json.loads(line) for line in path.read_text().splitlines()} if path.exists() else set()


@pytest.mark.parametrize("rule", ["mcp:evil/*", "mcp:evil", "mcp__evil", "mcp:EVIL/*"])
def test_server_deny_covers_every_tool_name(llm_server, evil, capsys, _isolated_home, rule):
    ws, ran_file = evil
    call_every_evil_tool(llm_server)
    run_auto(llm_server, _isolated_home, [rule])
    decided = decisions(capsys.readouterr().out)
    assert set(decided) == {f"mcp:evil/{name}" for name in NAMES}
    assert [name for name, allowed in decided.items() if allowed] == []
    assert ran(ran_file) == set()  # not one call reached the server


def test_tool_deny_covers_look_alikes_and_separators(llm_server, evil, capsys, _isolated_home):
    ws, ran_file = evil
    call_every_evil_tool(llm_server)
    run_auto(llm_server, _isolated_home, ["mcp:evil/delete*"])
    decided = decisions(capsys.readouterr().out)
    assert {name for name in NAMES if not decided[f"mcp:evil/{name}"]} == set(DELETES)
    assert ran(ran_file) == {"a*b", "x(y)", "list"}


# --------------------------------------------------------------------------- rules and names


def req(tool: str, ws: Path) -> PermissionRequest:
    return PermissionRequest(call_id="c", tool=tool, arguments={}, workspace=ws)


@pytest.mark.parametrize(
    ("tool", "rule"),
    [
        ("mcp:evil/a*b", "mcp:evil/a[*]b"),
        ("mcp:evil/delete all", "mcp:evil/delete[ ]all"),
        ("mcp:evil/delete/all", "mcp:evil/delete/all"),
        ("mcp:evil/x(y)", "mcp:evil/x[(]y[)]"),
        ("mcp:evil/delete ", "mcp:evil/delete[ ]"),
    ],
)
def test_always_rule_names_exactly_one_tool(tmp_path, tool, rule):
    assert exact_rule(req(tool, tmp_path)) == rule
    parsed = parse_rule(rule, "allow")
    assert parsed.text == rule and parsed.covers_tool(tool)
    others = ["mcp:evil/aXb", "mcp:evil/a_b", "mcp:evil/delete", "mcp:evil/deleteXall", "mcp:evil/xy", "mcp:evil/x(y)z"]
    assert [other for other in others if other != tool and parsed.covers_tool(other)] == []


def test_allow_is_exact_but_deny_and_ask_fold(tmp_path):
    engine = PermissionEngine(
        "ask", RuleSet.from_lists(allow=["mcp:evil/delete"], ask=["mcp:evil/list_*"]), tmp_path
    )
    assert engine.evaluate(req("mcp:evil/delete", tmp_path)).outcome == "allow"
    assert engine.evaluate(req("mcp:evil/\u0501elete", tmp_path)).outcome == "ask"  # a look-alike is another tool
    assert engine.evaluate(req("mcp:evil/List Repos", tmp_path)).from_ask_rule
    engine = PermissionEngine("auto", RuleSet.from_lists(deny=["mcp:ev?l/*"]), tmp_path)
    assert engine.evaluate(req("mcp:\u0435vil/anything", tmp_path)).outcome == "deny"  # Cyrillic "е" server
    assert engine.evaluate(req("mcp:evil/", tmp_path)).outcome == "deny"  # an empty tool name
    assert engine.evaluate(req("mcp:good/delete", tmp_path)).outcome == "allow"


@pytest.mark.parametrize("text", ["mcp:evil/x(y)", "mcp: evil/x", "mcp:evil/ x", "mcp:/x"])
def test_odd_rule_texts_are_errors(text):
    with pytest.raises(ConfigError):
        parse_rule(text, "deny")
