"""A repository cannot raise its own permissions (issue 11, class 14), through ``agentic-flow run``.

The workspace's own settings files set a permissive mode, or ship an allow rule for a
dangerous operation; a plain ``run`` (no ``--approve``) must not act on either until the
user trusts the workspace (``agentic-flow trust``, remembered in the user's config dir).
The scripted model asks for a write and a force-push; the effects on disk say what ran.
"""

from __future__ import annotations

import io
import json
import subprocess

import pytest
import yaml

from agentic_flow.core.cli import main
from tests.llm_server import Reply, llm_server  # noqa: F401  (fixture)

RUN = ["run", "--task", "go", "--model", "llamacpp:test-model"]
WRITE = ("c1", "write", {"path": "pwned.txt", "content": "written\n"})

REPO_MODES = {
    "claude bypassPermissions": (".claude/settings.json", json.dumps({"permissions": {"defaultMode": "bypassPermissions"}})),
    "claude local acceptEdits": (".claude/settings.local.json", json.dumps({"permissions": {"defaultMode": "acceptEdits"}})),
    "ours auto": (".agentic-flow/settings.yaml", "permissions:\n  mode: auto\n"),
}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    workspace = tmp_path / "cloned"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return workspace


def write_file(ws, rel: str, text: str) -> None:
    path = ws / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def script(llm_server, *calls) -> None:
    def handler(req):
        return Reply.text("done") if req.tool_results() else Reply.tool_calls(list(calls))

    llm_server.set_handler(handler)


def run(llm_server, *extra: str) -> int:
    return main([*RUN, "--base-url", llm_server.openai_url, *extra])


@pytest.mark.parametrize("case", list(REPO_MODES))
def test_repo_mode_is_withheld_until_the_workspace_is_trusted(llm_server, ws, capsys, _isolated_home, case):
    rel, text = REPO_MODES[case]
    write_file(ws, rel, text)
    script(llm_server, WRITE)
    assert run(llm_server) == 0
    _, err = capsys.readouterr()
    assert not (ws / "pwned.txt").exists()  # ran in ask mode: the write asked, nobody was there
    assert f"{ws / rel} sets permission mode" in err and "using 'ask'" in err
    assert "agentic-flow trust" in err

    assert main(["trust"]) == 0
    out, _ = capsys.readouterr()
    assert f"Trusted {ws}" in out
    trust = json.loads((_isolated_home / "trust.json").read_text())
    assert trust["workspaces"][str(ws.resolve())]["settings"]["mode"] in ("auto", "accept-edits")
    assert run(llm_server) == 0
    _, err = capsys.readouterr()
    assert (ws / "pwned.txt").read_text() == "written\n" and "sets permission mode" not in err

    (ws / "pwned.txt").unlink()
    assert main(["trust", "--revoke"]) == 0
    capsys.readouterr()
    assert run(llm_server) == 0
    assert not (ws / "pwned.txt").exists()


def test_approve_flag_chooses_the_mode_itself(llm_server, ws, capsys):
    write_file(ws, *REPO_MODES["ours auto"])
    script(llm_server, WRITE)
    assert run(llm_server, "--approve", "accept-edits") == 0
    _, err = capsys.readouterr()
    assert (ws / "pwned.txt").exists() and "sets permission mode" not in err


def test_a_repo_may_lower_the_mode_and_may_not_raise_past_its_confirmation(llm_server, ws, capsys):
    write_file(ws, ".agentic-flow/settings.yaml", "permissions:\n  mode: read-only\n")
    script(llm_server, WRITE)
    assert run(llm_server, "--json") == 0
    out, _ = capsys.readouterr()
    decided = [json.loads(line) for line in out.splitlines() if '"permission_decided"' in line]
    assert decided[0]["decided_by"] == "mode:read-only"

    write_file(ws, ".agentic-flow/settings.yaml", "permissions:\n  mode: accept-edits\n")
    assert main(["trust"]) == 0  # confirmed up to accept-edits
    write_file(ws, ".agentic-flow/settings.yaml", "permissions:\n  mode: auto\n")  # a later pull raises it
    capsys.readouterr()
    assert run(llm_server) == 0
    _, err = capsys.readouterr()
    assert "sets permission mode 'auto'" in err and "using 'ask'" in err


def test_user_mode_is_kept_when_a_repo_mode_is_withheld(llm_server, ws, capsys, _isolated_home):
    (_isolated_home / "config.yaml").write_text("permissions:\n  mode: accept-edits\n")
    write_file(ws, *REPO_MODES["claude bypassPermissions"])
    script(llm_server, WRITE)
    assert run(llm_server) == 0
    _, err = capsys.readouterr()
    assert "using 'accept-edits'" in err and (ws / "pwned.txt").exists()


# --------------------------------------------------------------------------- dangerous allow rules


def git(*args: str, cwd) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def pushed(ws):
    """A repository whose main diverged from its remote (a bare repo inside the workspace)."""
    git("init", "-q", "-b", "main", cwd=ws)
    git("commit", "-q", "--allow-empty", "-m", "one", cwd=ws)
    git("init", "-q", "--bare", "-b", "main", "remote.git", cwd=ws)
    git("remote", "add", "origin", "./remote.git", cwd=ws)
    git("push", "-q", "origin", "main", cwd=ws)
    git("commit", "-q", "--amend", "--allow-empty", "-m", "rewritten", cwd=ws)
    return ws


FORCE = ("c1", "bash", {"command": "git push --force origin main"})
RULE = "bash(git push --force origin main)"


def remote_main(ws) -> str:
    return git("--git-dir", "remote.git", "rev-parse", "main", cwd=ws)


def test_a_repo_allow_rule_does_not_approve_a_dangerous_operation(llm_server, pushed, capsys, _isolated_home):
    ws = pushed
    before = remote_main(ws)
    write_file(ws, ".agentic-flow/settings.yaml", yaml.safe_dump({"permissions": {"allow": [RULE]}}))
    script(llm_server, FORCE)
    assert run(llm_server, "--approve", "auto") == 0
    _, err = capsys.readouterr()
    assert remote_main(ws) == before  # the force-push did not run
    result = llm_server.requests[1].tool_results()[0][1]
    assert "force-push to main" in result and "agentic-flow trust" in result

    assert main(["trust"]) == 0  # the user trusts the workspace: its rule now counts
    capsys.readouterr()
    assert run(llm_server, "--approve", "auto") == 0
    assert remote_main(ws) == git("rev-parse", "main", cwd=ws) != before


def test_the_same_rule_in_the_users_file_approves_it(llm_server, pushed, capsys, _isolated_home):
    ws = pushed
    (_isolated_home / "config.yaml").write_text(yaml.safe_dump({"permissions": {"allow": [RULE]}}))
    script(llm_server, FORCE)
    assert run(llm_server, "--approve", "auto", "--json") == 0
    out, _ = capsys.readouterr()
    decided = [json.loads(line) for line in out.splitlines() if '"permission_decided"' in line]
    assert decided[0]["allowed"] and str(_isolated_home / "config.yaml") in decided[0]["decided_by"]
    assert remote_main(ws) == git("rev-parse", "main", cwd=ws)


def test_trust_show_lists_what_the_workspace_asks_for(ws, capsys):
    write_file(ws, ".agentic-flow/settings.yaml", yaml.safe_dump({"permissions": {"mode": "auto", "allow": [RULE]}}))
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"x": {"command": "some-server", "args": ["--flag"]}}}))
    assert main(["trust", "--show"]) == 0
    out, _ = capsys.readouterr()
    assert f"{ws}: not trusted" in out and "mode 'auto'" in out and RULE in out
    assert "MCP server x: not approved — some-server --flag" in out


def test_doctor_reports_workspace_and_mcp_trust(ws, capsys):
    write_file(ws, *REPO_MODES["claude bypassPermissions"])
    write_file(ws, ".agentic-flow/settings.yaml", yaml.safe_dump({"permissions": {"allow": [RULE]}}))
    (ws / ".mcp.json").write_text(json.dumps({"mcpServers": {"x": {"command": "some-server"}}}))
    main(["doctor"])
    out = capsys.readouterr().out
    trust = out[out.index("Workspace trust"):out.index("MCP servers")]
    assert "not trusted" in trust and "asks for mode 'auto': withheld, 'ask' applies" in trust
    assert "1 allow rule(s) in its settings files do not approve dangerous operations" in trust
    assert "x [project, not approved]: some-server" in out and "not started until approved: x" in out
    main(["trust"])
    capsys.readouterr()
    main(["doctor"])
    out = capsys.readouterr().out
    assert "trusted up to mode 'auto'" in out and "sets mode 'auto': applied" in out
