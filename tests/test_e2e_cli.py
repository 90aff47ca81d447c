"""The issue's "done when" scenario, end to end through the CLI."""

from __future__ import annotations

import io
import json
import sys

import pytest

from agentic_flow.core.cli import main
from tests.llm_server import Reply, llm_server  # noqa: F401


def scripted_fixer(calls):
    """Turn n of the model makes calls[n]; after the last, it answers in text."""

    def handler(req):
        n = sum(1 for m in req.messages if m["role"] == "assistant")
        if n < len(calls):
            return Reply.tool_calls([calls[n]])
        return Reply.text("Fixed the off-by-one in add().")

    return handler


def test_fix_failing_test_headless_then_audit(llm_server, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b + 1\n")
    (tmp_path / "test_calc.py").write_text("from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    llm_server.set_handler(
        scripted_fixer(
            [
                ("c1", "read", {"path": "calc.py"}),
                ("c2", "edit", {"path": "calc.py", "old_string": "a + b + 1", "new_string": "a + b"}),
                ("c3", "bash", {"command": "python -m pytest -q"}),
            ]
        )
    )
    code = main(
        ["run", "--agent", "coder", "--task", "fix the failing test in this repo", "--model", "llamacpp:test-model",
         "--base-url", llm_server.openai_url, "--approve", "accept-edits"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (tmp_path / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "Fixed the off-by-one" in out
    assert "denied" in err  # the command asked, and with no person it was denied
    bash_result = llm_server.requests[3].tool_results()[-1][1]
    assert "permission denied" in bash_result

    assert main(["audit", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["tool"], r["decision"], r["decided_by"]) for r in rows] == [
        ("read", "allow", "mode:accept-edits"),
        ("edit", "allow", "mode:accept-edits"),
        ("bash", "deny", rows[2]["decided_by"]),
    ]
    assert rows[2]["decided_by"].startswith("policy:")
    assert main(["audit", "verify"]) == 0
    assert "verified" in capsys.readouterr().out


def test_same_with_an_mcp_tool(llm_server, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    (tmp_path / ".mcp.json").write_text(json.dumps(
        {"mcpServers": {"time": {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}}}
    ))
    llm_server.set_handler(scripted_fixer([("c1", "mcp__time__get_current_time", {"timezone": "UTC"})]))
    assert main(["mcp", "trust", "time"]) == 0  # a project server starts once approved
    assert "Approved project MCP server 'time'" in capsys.readouterr().out
    code = main(["run", "--task", "what time is it in UTC?", "--model", "llamacpp:test-model",
                 "--base-url", llm_server.openai_url, "--approve", "accept-edits"])
    out, err = capsys.readouterr()
    assert code == 0
    # accept-edits does not cover MCP tools: headless, the call is denied and audited.
    assert "permission denied" in llm_server.requests[1].tool_results()[0][1]
    assert main(["audit", "--tool", "mcp:time/*", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["tool"] == "mcp:time/get_current_time" and row["decision"] == "deny"

    code = main(["run", "--task", "again", "--model", "llamacpp:test-model",
                 "--base-url", llm_server.openai_url, "--approve", "auto"])
    capsys.readouterr()
    assert "UTC" in llm_server.requests[-1].tool_results()[0][1]
    assert main(["audit", "--tool", "mcp:time/*", "--decision", "allow", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["decided_by"] == "mode:auto"


def test_audit_anchor_catches_a_truncated_log_after_runs(llm_server, tmp_path, monkeypatch, capsys):
    """Issue 11, class 12: delete the newest rows, reset the counter, put the triggers back."""
    import sqlite3

    from agentic_flow.core.paths import data_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    (tmp_path / "a.txt").write_text("a\n")
    llm_server.set_handler(scripted_fixer([("c1", "read", {"path": "a.txt"}), ("c2", "bash", {"command": "rm a.txt"})]))
    run = ["run", "--task", "tidy up", "--model", "llamacpp:test-model", "--base-url", llm_server.openai_url]
    assert main(run) == 0
    capsys.readouterr()
    assert main(["audit", "anchor"]) == 0
    head, note = capsys.readouterr()
    head = head.strip()
    assert head.startswith("2:") and "audit verify --anchor" in note
    assert main(run) == 0  # two more rows; the printed head stays valid
    capsys.readouterr()
    assert main(["audit", "verify", "--anchor", head]) == 0

    db = sqlite3.connect(data_dir() / "agentic-flow.db", isolation_level=None)
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE id > 1")  # hide both denied rm calls
    db.execute("UPDATE sqlite_sequence SET seq = 1 WHERE name = 'audit'")
    db.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'x'); END")
    db.close()
    assert main(["audit", "verify"]) == 1
    assert "were deleted from the end of the log" in capsys.readouterr().out
    assert main(["audit", "verify", "--anchor", head]) == 1
    capsys.readouterr()
    assert main(["audit", "verify", "--anchor", "not-a-head"]) == 3
    assert "not an audit head" in capsys.readouterr().err
    assert main(["audit", "anchor"]) == 1  # no head is printed for a log that does not verify
    assert main(["audit", "anchor", "--reset"]) == 0
    assert capsys.readouterr().out.strip().startswith("1:")


@pytest.mark.parametrize("argv", [[], ["--agent", "coder"]], ids=["bare", "with-options"])
def test_workbench_without_a_terminal_exits_2_with_a_hint(tmp_path, argv):
    """Issue 11, class 13: no TTY (a pipe, CI, cron) must not start the TUI and wait forever."""
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "agentic_flow", *argv], cwd=tmp_path, env=dict(os.environ),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "needs a terminal" in done.stderr and "agentic-flow run --task" in done.stderr
    assert done.stdout == ""
