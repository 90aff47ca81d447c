"""The permission engine: modes, precedence, injections, dangerous ops, scopes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import agentic_flow.core.permissions as permissions
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.events import PermissionDecided, PermissionRequested
from agentic_flow.core.permissions import (
    Answer,
    PermissionEngine,
    PermissionRequest,
    PolicyApprover,
    RuleSet,
    Verdict,
)
from agentic_flow.core.trust import TrustStore

WS = Path("/work/ws/project")


def req(tool: str, workspace: Path = WS, **arguments: Any) -> PermissionRequest:
    return PermissionRequest(call_id="call-1", tool=tool, arguments=arguments, workspace=workspace)


def engine(mode: str = "ask", allow: tuple[str, ...] = (), ask: tuple[str, ...] = (), deny: tuple[str, ...] = (),
           workspace: Path = WS, settings_path: Path | None = None) -> PermissionEngine:
    rules = RuleSet.from_lists(allow=allow, ask=ask, deny=deny, source=Path("/cfg/settings.yaml"))
    return PermissionEngine(mode, rules, workspace, settings_path)


class ScriptedApprover:
    """Answers from a list and records what it was asked."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[PermissionRequest, Verdict]] = []

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        self.asked.append((request, verdict))
        return self.answers.pop(0)


# ------------------------------------------------------------------ modes x tool kinds

CALLS = {
    "read-in": req("read", path="src/a.py"),
    "glob": req("glob", pattern="src/**/*.py"),
    "grep": req("grep", pattern="TODO", path="src"),
    "ls": req("ls"),
    "read-out": req("read", path="/etc/hosts"),
    "write-in": req("write", path="src/new.py", content="x"),
    "edit-in": req("edit", path="src/a.py", old="a", new="b"),
    "bash": req("bash", command="ls -la"),
    "mcp": req("mcp:github/create_issue", title="x"),
    "unknown": req("telepathy"),
}

MODE_TABLE = {
    #               read-in  glob     grep     ls       read-out write-in edit-in  bash     mcp      unknown
    "ask":          ("allow", "allow", "allow", "allow", "ask",   "ask",   "ask",   "ask",   "ask",   "ask"),
    "accept-edits": ("allow", "allow", "allow", "allow", "ask",   "allow", "allow", "ask",   "ask",   "ask"),
    "auto":         ("allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow", "allow"),
    "read-only":    ("allow", "allow", "allow", "allow", "ask",   "deny",  "deny",  "deny",  "deny",  "deny"),
}


@pytest.mark.parametrize("mode", list(MODE_TABLE))
@pytest.mark.parametrize("call", list(CALLS))
def test_mode_by_tool_kind(mode: str, call: str) -> None:
    expected = MODE_TABLE[mode][list(CALLS).index(call)]
    verdict = engine(mode).evaluate(CALLS[call])
    assert verdict.outcome == expected
    assert verdict.decided_by == f"mode:{mode}"


def test_read_only_reason() -> None:
    verdict = engine("read-only").evaluate(req("bash", command="ls"))
    assert verdict.reason == "read-only mode: no writes or commands"


def test_mode_is_switchable_and_validated() -> None:
    eng = engine("ask")
    call = req("bash", command="ls")
    assert eng.evaluate(call).outcome == "ask"
    eng.mode = "auto"
    assert eng.evaluate(call).outcome == "allow"
    eng.mode = "plan"  # Claude's name for read-only
    assert eng.mode == "read-only"
    with pytest.raises(ConfigError, match="unknown permission mode 'yolo'"):
        eng.mode = "yolo"


# ------------------------------------------------------------------ precedence


@pytest.mark.parametrize(
    ("mode", "allow", "ask", "deny", "outcome", "by"),
    [
        ("ask", ["bash(git *)"], ["bash(git *)"], ["bash(git *)"], "deny", "rule:bash(git *) [/cfg/settings.yaml]"),
        ("ask", ["bash(git *)"], ["bash(git status)"], [], "ask", "rule:bash(git status) [/cfg/settings.yaml]"),
        ("ask", ["bash(git *)"], [], [], "allow", "rule:bash(git *) [/cfg/settings.yaml]"),
        ("auto", [], [], ["bash(git status)"], "deny", "rule:bash(git status) [/cfg/settings.yaml]"),
        ("auto", [], ["bash"], [], "ask", "rule:bash [/cfg/settings.yaml]"),
        ("read-only", ["bash(git status)"], [], [], "deny", "mode:read-only"),
        ("read-only", [], ["bash(git status)"], [], "deny", "mode:read-only"),
        ("read-only", [], [], ["bash"], "deny", "rule:bash [/cfg/settings.yaml]"),
        ("ask", ["*"], [], [], "allow", "rule:* [/cfg/settings.yaml]"),
        ("ask", ["bash"], [], ["*"], "deny", "rule:* [/cfg/settings.yaml]"),
    ],
)
def test_precedence_deny_ask_allow_mode(mode: str, allow: list[str], ask: list[str], deny: list[str], outcome: str, by: str) -> None:
    verdict = engine(mode, tuple(allow), tuple(ask), tuple(deny)).evaluate(req("bash", command="git status"))
    assert (verdict.outcome, verdict.decided_by) == (outcome, by)


def test_read_only_still_evaluates_deny_for_reads() -> None:
    eng = engine("read-only", deny=("read(**/.env)",))
    assert eng.evaluate(req("read", path="config/.env")).outcome == "deny"
    assert eng.evaluate(req("read", path="config/app.yaml")).outcome == "allow"


@pytest.mark.parametrize(
    ("rule", "call", "outcome"),
    [
        ("read(**/.env)", req("read", path=".env"), "deny"),
        ("read(**/.env)", req("read", path="a/b/.env"), "deny"),
        ("read(**/.env)", req("grep", pattern="x", path="a/.env"), "deny"),
        ("read(**/.env)", req("read", path="A/.ENV"), "deny"),  # case-insensitive for deny
        ("read(**/.env)", req("read", path="/home/x/.env"), "deny"),  # also outside the workspace
        ("read(**/.env)", req("read", path=".env.example"), "allow"),
        ("edit(secrets/**)", req("write", path="secrets/k.pem"), "deny"),
        ("write(secrets/**)", req("edit", path="secrets/k.pem"), "deny"),
        ("edit(/work/ws/project/locked/**)", req("edit", path="locked/x"), "deny"),
        ("mcp:github/*", req("mcp:github/delete_repo"), "deny"),
        ("mcp:github/delete_repo", req("mcp:github/list_issues"), "allow"),
    ],
)
def test_deny_rules_on_paths_and_mcp(rule: str, call: PermissionRequest, outcome: str) -> None:
    assert engine("auto", deny=(rule,)).evaluate(call).outcome == outcome


@pytest.mark.parametrize(
    ("rule", "call", "outcome"),
    [
        ("edit(src/**)", req("write", path="src/a/b.py"), "allow"),
        ("edit(src/**)", req("edit", path="src/a.py"), "allow"),
        ("edit(src/**)", req("write", path="tests/a.py"), "ask"),
        ("edit(src/*)", req("write", path="src/a/b.py"), "ask"),
        ("write", req("edit", path="x.py"), "allow"),
        ("mcp:github/*", req("mcp:github/create_issue"), "allow"),
        ("mcp:github/create_issue", req("mcp:github/delete_repo"), "ask"),
        ("read(/etc/**)", req("read", path="/etc/hosts"), "allow"),
        ("read(~/notes/**)", req("read", path="~/notes/a.md"), "allow"),
    ],
)
def test_allow_rules_on_paths_and_mcp(rule: str, call: PermissionRequest, outcome: str) -> None:
    assert engine("ask", allow=(rule,)).evaluate(call).outcome == outcome


# ------------------------------------------------------------------ injections


@pytest.mark.parametrize(
    "command",
    [
        "git status; rm -rf ~",
        "git status && curl x|sh",
        "git status $(curl x|sh)",
        "git status `rm -rf /`",
        "git status\nrm -rf /",
        "git status | sh",
        "ɡit status",  # U+0261 LATIN SMALL LETTER SCRIPT G
        "ｇｉｔ status",  # fullwidth letters: NFKC turns them into "git"
        "git status ＂; rm -rf ~＂",  # fullwidth quotes: NFKC would hide the ';'
        "git status\u200b; x",
        "git status\u202e",
        "git status & rm x",
        "git status || rm x",
        "git status > /etc/passwd",
        "git status; (rm x)",
        "git status <(rm x)",
        "git status \"$(rm x)\"",
        "git status ${x:-$(rm x)}",
        "git status 'unterminated",
        "git status\r\nrm -rf /",
        "git status $'\\n'; rm x",
    ],
)
def test_injection_is_not_allowed_by_a_prefix_rule(command: str) -> None:
    for mode in ("ask", "accept-edits"):
        verdict = engine(mode, allow=("bash(git status*)",)).evaluate(req("bash", command=command))
        assert verdict.outcome != "allow", (mode, verdict)


@settings(max_examples=200)
@given(
    sep=st.sampled_from([";", "&&", "||", "|", "&", "\n", " $(", " `", " <(", ";(", "\r\n"]),
    tail=st.text(alphabet="abc -;|&$()`'\"\\\n", max_size=12),
)
def test_no_separator_smuggles_a_second_command(sep: str, tail: str) -> None:
    command = f"git status{sep}evil{tail}"
    verdict = engine("ask", allow=("bash(git status*)",)).evaluate(req("bash", command=command))
    assert verdict.outcome != "allow"


@pytest.mark.parametrize("command", ["git status", "git status --short", "git  status -s", "(git status)", "git status && git status -s"])
def test_prefix_rule_allows_the_real_thing(command: str) -> None:
    verdict = engine("ask", allow=("bash(git status*)",)).evaluate(req("bash", command=command))
    assert verdict.outcome == "allow"


def test_every_part_must_be_allowed() -> None:
    eng = engine("ask", allow=("bash(git status*)", "bash(pytest *)"))
    allowed = eng.evaluate(req("bash", command="git status && pytest -x"))
    assert allowed.outcome == "allow"
    assert allowed.decided_by == "rule:bash(git status*) [/cfg/settings.yaml] + rule:bash(pytest *) [/cfg/settings.yaml]"
    assert eng.evaluate(req("bash", command="git status && pytest -x && ls")).outcome == "ask"


@pytest.mark.parametrize(
    "command",
    ["'rm' -rf x", 'r"m" -rf x', "\\rm -rf x", "/bin/rm -rf x", "sudo rm -rf x", "env A=1 rm x", "$'\\x72m' -rf x",
     "{rm,-rf,x}", "rm${IFS}-rf${IFS}x", "ｒｍ -rf x", "echo ok; rm x", "echo $(rm x)", "sh -c 'rm x'",
     "find . -exec rm {} \\;", "xargs rm < list", "RM -rf x", "rm", "/bin/r? -rf x", "/???/[r]m -rf x"],
)
def test_quoting_tricks_do_not_dodge_deny(command: str) -> None:
    verdict = engine("auto", allow=("bash",), deny=("bash(rm *)",)).evaluate(req("bash", command=command))
    assert verdict.outcome == "deny", verdict


@pytest.mark.parametrize("allow", ["bash", "*", "bash(*status)", "bash(* status)"])
@pytest.mark.parametrize("command", ["ɡit status", "gіt status", "git\u00a0status", "env ɡit status", "ls && ɡit status"])
def test_non_ascii_executable_never_matches_an_allow_rule(allow: str, command: str) -> None:
    verdict = engine("ask", allow=(allow, "bash(ls)", "bash(env *)")).evaluate(req("bash", command=command))
    assert verdict.outcome == "ask"


@pytest.mark.parametrize("command", ["X=rm; $X -rf x", "$(which rm) -rf x", "`echo rm` x", "sudo $CMD"])
def test_computed_command_names_ask_when_deny_rules_exist(command: str) -> None:
    with_deny = engine("auto", deny=("bash(rm *)",)).evaluate(req("bash", command=command))
    assert with_deny.outcome == "ask"
    assert engine("accept-edits", deny=("bash(rm *)",)).evaluate(req("bash", command=command)).outcome == "ask"
    if not command.startswith("sudo"):  # not plain: no mode approves it, deny rules or not
        verdict = engine("auto").evaluate(req("bash", command=command))
        assert verdict.outcome == "ask" and "not a plain command" in verdict.reason


def test_non_ascii_in_arguments_is_fine() -> None:
    eng = engine("ask", allow=("bash(git commit *)",))
    assert eng.evaluate(req("bash", command='git commit -m "café ✓"')).outcome == "allow"


# ------------------------------------------------------------------ dangerous operations


@pytest.mark.parametrize(
    "command",
    ["rm -rf /", "rm -rf ~", "sudo apt-get update", "curl -fsSL x | sh", ":(){ :|:& };:", "git push --force origin main",
     "echo x > /etc/hosts", "dd if=/dev/zero of=/dev/sda", "shutdown now"],
)
def test_dangerous_asks_even_in_auto_and_with_catch_all_allows(command: str) -> None:
    for allow in ((), ("bash",), ("*",), ("bash(*)",)):
        verdict = engine("auto", allow=allow).evaluate(req("bash", command=command))
        assert verdict.outcome == "ask"
        assert verdict.decided_by.startswith("dangerous: ")
        assert verdict.dangers


@pytest.mark.parametrize(
    ("rule", "command", "outcome"),
    [
        ("bash(sudo apt-get update)", "sudo apt-get update", "allow"),
        ("bash(sudo apt-get *)", "sudo apt-get install -y jq", "allow"),
        ("bash(sudo *)", "sudo ls", "allow"),
        ("bash(sudo apt-get update)", "sudo apt-get update && sudo rm -rf /", "ask"),
        ("bash(git *)", "git push --force origin main", "ask"),  # names git, not the force push
        ("bash(git push *)", "git push --force origin main", "allow"),
        ("bash(rm -rf /tmp/build-cache)", "rm -rf /tmp/build-cache", "allow"),
        ("bash(rm *)", "rm -rf /tmp/other", "allow"),
        ("bash(echo * > /etc/motd)", "echo hi > /etc/motd", "allow"),
        ("bash(echo *>/etc/motd)", "echo hi >/etc/motd", "allow"),
        ("bash(echo *)", "echo hi > /etc/motd", "ask"),  # the rule does not name the target
        # piping into an interpreter is never plain: not even a rule naming the whole line approves it
        ("bash(curl -fsSL https://sh.rustup.rs | sh)", "curl -fsSL https://sh.rustup.rs | sh", "ask"),
        ("bash(curl *)", "curl -fsSL https://sh.rustup.rs | sh", "ask"),
    ],
)
def test_explicit_rule_allows_a_dangerous_op(rule: str, command: str, outcome: str) -> None:
    verdict = engine("ask", allow=(rule, "bash(sh)")).evaluate(req("bash", command=command))
    assert verdict.outcome == outcome, verdict
    if outcome == "allow":
        assert verdict.dangers and "but allowed by" in verdict.reason


@pytest.mark.parametrize(
    ("allow", "outcome"),
    [((), "ask"), (("edit",), "ask"), (("edit(**)",), "ask"), (("*",), "ask"), (("edit(/etc/hosts)",), "allow"),
     (("edit(/etc/**)",), "allow")],
)
def test_writing_outside_the_workspace(allow: tuple[str, ...], outcome: str) -> None:
    verdict = engine("auto", allow=allow).evaluate(req("write", path="/etc/hosts", content="x"))
    assert verdict.outcome == outcome


def test_editing_permission_settings_asks_in_accept_edits() -> None:
    verdict = engine("accept-edits").evaluate(req("edit", path=".agentic-flow/settings.yaml"))
    assert verdict.outcome == "ask"
    assert "agentic-flow's own settings" in verdict.reason


# ------------------------------------------------------------------ decide: scopes


async def test_decide_without_asking_uses_rule_and_mode_scopes() -> None:
    eng = engine("ask", allow=("bash(ls*)",), deny=("read(**/.env)",))
    approver = ScriptedApprover()
    d1 = await eng.decide(req("bash", command="ls"), approver)
    d2 = await eng.decide(req("read", path=".env"), approver)
    d3 = await eng.decide(req("read", path="a.py"), approver)
    assert (d1.allowed, d1.scope) == (True, "rule")
    assert (d2.allowed, d2.scope) == (False, "rule")
    assert (d3.allowed, d3.scope, d3.decided_by) == (True, "mode", "mode:ask")
    assert approver.asked == []


async def test_once_and_deny_answers() -> None:
    eng = engine("ask")
    call = req("bash", command="make")
    approver = ScriptedApprover(Answer("once"), Answer("deny", reason="use the Makefile target test"))
    first = await eng.decide(call, approver)
    second = await eng.decide(call, approver)
    assert (first.allowed, first.scope, first.decided_by) == (True, "once", "person")
    assert (second.allowed, second.scope, second.reason) == (False, "once", "use the Makefile target test")
    assert len(approver.asked) == 2  # "once" is not remembered
    assert approver.asked[0][1].outcome == "ask"


async def test_session_scope_allows_the_exact_call_again() -> None:
    eng = engine("ask")
    approver = ScriptedApprover(Answer("session"))
    decision = await eng.decide(req("bash", command="npm test -- --watch=false"), approver)
    assert (decision.allowed, decision.scope) == (True, "session")
    assert decision.rule_written is None and decision.rule_file is None
    again = eng.evaluate(req("bash", command="npm  test -- --watch=false"))
    assert (again.outcome, again.decided_by) == ("allow", "session")
    assert eng.evaluate(req("bash", command="npm test -- --watch=false; rm x")).outcome == "ask"
    assert eng.evaluate(req("bash", command="npm test")).outcome == "ask"
    assert [r.text for r in eng.session_rules] == ["bash(npm test -- --watch=false)"]
    assert await eng.decide(req("bash", command="npm test -- --watch=false"), approver) == \
        permissions.Decision(True, "session", "session", "allowed by bash(npm test -- --watch=false)")


async def test_session_scope_for_a_compound_command_is_exact_per_part() -> None:
    # One rule per part (issue 14: as Claude Code does); a part with a glob keeps its text.
    eng = engine("ask")
    await eng.decide(req("bash", command="ls *.py && wc -l *.py"), ScriptedApprover(Answer("session")))
    assert [r.text for r in eng.session_rules] == ["bash(ls \\*.py)", "bash(wc -l \\*.py)"]
    assert eng.evaluate(req("bash", command="ls *.py && wc -l *.py")).outcome == "allow"
    assert eng.evaluate(req("bash", command="ls a.py && wc -l *.py")).outcome == "ask"  # "*" stays literal
    assert eng.evaluate(req("bash", command="ls *.py\nwc -l *.py")).outcome == "allow"  # the same two parts
    assert eng.evaluate(req("bash", command="ls *.py && rm -f x.py")).outcome == "ask"  # another part


async def test_session_scope_for_edits_covers_that_path() -> None:
    eng = engine("ask")
    await eng.decide(req("write", path="src/a.py"), ScriptedApprover(Answer("session")))
    assert eng.evaluate(req("edit", path="./src/a.py")).outcome == "allow"
    assert eng.evaluate(req("edit", path="src/b.py")).outcome == "ask"
    assert [r.text for r in eng.session_rules] == ["edit(src/a.py)"]


async def test_session_scope_for_a_dangerous_command() -> None:
    eng = engine("auto")
    call = req("bash", command="sudo systemctl restart nginx")
    await eng.decide(call, ScriptedApprover(Answer("session")))
    assert eng.evaluate(call).outcome == "allow"
    assert eng.evaluate(req("bash", command="sudo systemctl stop nginx")).outcome == "ask"


async def test_person_can_widen_the_rule() -> None:
    eng = engine("ask")
    await eng.decide(req("bash", command="pytest -x tests/a.py"), ScriptedApprover(Answer("session", rule="bash(pytest *)")))
    assert eng.evaluate(req("bash", command="pytest tests/b.py")).outcome == "allow"


async def test_an_invalid_rule_from_the_person_still_allows_once() -> None:
    eng = engine("ask")
    decision = await eng.decide(req("bash", command="ls"), ScriptedApprover(Answer("session", rule="bsh(x)")))
    assert (decision.allowed, decision.scope) == (True, "once")
    assert "bsh(x)" in (decision.reason or "")
    assert eng.session_rules == ()


async def test_ask_rules_keep_asking_after_a_session_answer() -> None:
    eng = engine("ask", ask=("bash(git push*)",))
    approver = ScriptedApprover(Answer("session"), Answer("once"))
    call = req("bash", command="git push")
    first = await eng.decide(call, approver)
    assert (first.allowed, first.scope) == (True, "once")
    assert "every time" in (first.reason or "")
    await eng.decide(call, approver)
    assert len(approver.asked) == 2


async def test_always_appends_to_project_settings_and_keeps_the_rest(tmp_path: Path) -> None:
    settings_path = tmp_path / ".agentic-flow" / "settings.yaml"
    settings_path.parent.mkdir()
    settings_path.write_text(
        "# project settings\nmodel: openrouter:x  # default model\npermissions:\n  deny:\n    - bash(rm *)\n",
        encoding="utf-8",
    )
    eng = engine("ask", workspace=tmp_path, settings_path=settings_path)
    decision = await eng.decide(req("bash", tmp_path, command="pytest -q"), ScriptedApprover(Answer("always")))
    assert (decision.allowed, decision.scope) == (True, "always")
    assert decision.rule_written == "bash(pytest -q)"
    assert decision.rule_file == settings_path
    text = settings_path.read_text(encoding="utf-8")
    assert "# project settings" in text and "# default model" in text
    assert yaml.safe_load(text) == {
        "model": "openrouter:x",
        "permissions": {"deny": ["bash(rm *)"], "allow": ["bash(pytest -q)"]},
    }
    again = eng.evaluate(req("bash", tmp_path, command="pytest -q"))
    assert (again.outcome, again.decided_by) == ("allow", f"rule:bash(pytest -q) [{settings_path}]")
    reloaded, _ = PermissionEngine.from_settings(tmp_path, include_claude=False, project_settings=settings_path)
    assert reloaded.evaluate(req("bash", tmp_path, command="pytest -q")).outcome == "allow"


async def test_always_creates_the_default_settings_file(tmp_path: Path) -> None:
    eng = PermissionEngine("ask", RuleSet(), tmp_path)
    decision = await eng.decide(req("mcp:github/create_issue", tmp_path), ScriptedApprover(Answer("always")))
    expected = tmp_path / ".agentic-flow" / "settings.yaml"
    assert decision.rule_file == expected
    assert yaml.safe_load(expected.read_text()) == {"permissions": {"allow": ["mcp:github/create_issue"]}}


async def test_always_with_a_broken_settings_file_falls_back_to_session(tmp_path: Path) -> None:
    settings_path = tmp_path / "settings.yaml"
    settings_path.write_text("permissions: {allow: [\n", encoding="utf-8")
    eng = engine("ask", workspace=tmp_path, settings_path=settings_path)
    decision = await eng.decide(req("bash", tmp_path, command="make"), ScriptedApprover(Answer("always")))
    assert (decision.allowed, decision.scope, decision.rule_file) == (True, "session", None)
    assert "could not save the rule" in (decision.reason or "")
    assert settings_path.read_text(encoding="utf-8") == "permissions: {allow: [\n"  # untouched
    assert eng.evaluate(req("bash", tmp_path, command="make")).outcome == "allow"


async def test_concurrent_always_answers_are_all_written(tmp_path: Path) -> None:
    eng = PermissionEngine("ask", RuleSet(), tmp_path)
    commands = [f"echo {i}" for i in range(8)]

    class Always:
        async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
            await asyncio.sleep(0)
            return Answer("always")

    await asyncio.gather(*(eng.decide(req("bash", tmp_path, command=c), Always()) for c in commands))
    data = yaml.safe_load((tmp_path / ".agentic-flow" / "settings.yaml").read_text())
    assert sorted(data["permissions"]["allow"]) == sorted(f"bash({c})" for c in commands)


async def test_policy_answers_have_policy_scope() -> None:
    decision = await engine("ask").decide(req("bash", command="make"), PolicyApprover("deny"))
    assert (decision.allowed, decision.scope, decision.decided_by) == (False, "policy", "policy:deny")
    assert "no person to ask" in (decision.reason or "")


# ------------------------------------------------------------------ helpers and API


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        (req("bash", command="ls *.py"), "bash(ls \\*.py)"),
        (req("write", path="src/a.py"), "edit(src/a.py)"),
        (req("edit", path=f"{WS}/b[1].py"), "edit(b[[]1].py)"),
        (req("read", path="/etc/hosts"), "read(/etc/hosts)"),
        (req("grep", pattern="x", path="src"), "grep(src)"),
        (req("mcp:github/create_issue"), "mcp:github/create_issue"),
        (req("telepathy"), None),
        (req("bash", command="   "), None),
    ],
)
def test_suggest_rule(call: PermissionRequest, rule: str | None) -> None:
    eng = engine("ask")
    assert eng.suggest_rule(call) == rule
    if rule is not None:
        eng.allow_for_session(rule)
        assert eng.evaluate(call).outcome == "allow"


def test_path_denied_for_tools_that_list_files() -> None:
    eng = engine("ask", deny=("read(**/.env)",))
    assert eng.path_denied("grep", "config/.env") is not None
    assert eng.path_denied("grep", "config/app.yaml") is None


def test_events() -> None:
    call = req("bash", command="ls")
    verdict = Verdict("ask", "ask mode: commands need approval", "mode:ask")
    requested = verdict.to_event(call, preview="ls")
    assert requested == PermissionRequested(call_id="call-1", tool="bash", arguments={"command": "ls"},
                                            reason="ask mode: commands need approval", preview="ls")
    decided = permissions.Decision(True, "session", "person", "ok").to_event(call)
    assert decided == PermissionDecided(call_id="call-1", tool="bash", allowed=True, scope="session", decided_by="person", reason="ok")


def test_answer_kind_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown answer kind"):
        Answer("maybe")  # type: ignore[arg-type]


def test_from_settings_mode_precedence(tmp_path: Path) -> None:
    project = tmp_path / ".agentic-flow" / "settings.yaml"
    project.parent.mkdir()
    project.write_text("permissions:\n  mode: accept-edits\n", encoding="utf-8")
    eng, warnings = PermissionEngine.from_settings(tmp_path)
    # The workspace's own file cannot raise the mode above ask until the user trusts it.
    assert eng.mode == "ask" and eng.withheld_mode is not None and eng.withheld_mode.mode == "accept-edits"
    assert len(warnings) == 1 and "agentic-flow trust" in warnings[0]
    TrustStore().trust_workspace(tmp_path, "accept-edits")
    eng, warnings = PermissionEngine.from_settings(tmp_path)
    assert (eng.mode, warnings, eng.withheld_mode) == ("accept-edits", [], None)
    assert eng.project_settings_path == project
    eng2, _ = PermissionEngine.from_settings(tmp_path, "auto")
    assert eng2.mode == "auto"


def test_public_api() -> None:
    assert set(permissions.__all__) == {
        "APPROVE_VALUES", "MODES", "Answer", "AnswerKind", "Approver", "Danger", "Decision", "Mode", "Outcome",
        "PermissionEngine", "PermissionRequest", "PolicyApprover", "Rule", "RuleAction", "RuleSet", "Scope",
        "ShellAnalysis", "TerminalApprover", "ToolKind", "Verdict", "analyze_command", "append_allow_rule",
        "choose_approver", "claude_rule_to_ours", "dangerous_reason", "exact_rule", "example_rule", "find_dangers",
        "format_request", "load_claude_rules", "load_rule_sets", "load_settings_rules", "mode_and_approver_for",
        "parse_mode", "parse_rule", "split_command", "tool_kind",
    }
    assert all(hasattr(permissions, name) for name in permissions.__all__)


def test_permissions_never_import_textual() -> None:
    code = "import sys, core.permissions; assert 'textual' not in sys.modules; assert 'mcp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_evaluate_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    eng = engine("ask", allow=("bash(ls*)",), deny=("read(**/.env)",))

    def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError("evaluate touched the file system")

    monkeypatch.setattr("builtins.open", no_io)
    monkeypatch.setattr(Path, "exists", no_io)
    monkeypatch.setattr(Path, "resolve", no_io)
    for call in CALLS.values():
        eng.evaluate(call)
    eng.evaluate(req("bash", command="cd /etc && rm -rf x > /tmp/y"))


@pytest.mark.parametrize(
    "rules,command,allowed",
    [
        (["bash(git status*)"], "git status > src/main.py", False),
        (["bash(git status*)"], "git status >> notes.txt", False),
        (["bash(git status*)"], "git status 2>/dev/null", True),
        (["bash(git status*)"], "git status 2>&1", True),
        (["bash(git status*)", "edit(notes/**)"], "git status > notes/s.txt", True),
        (["bash(git status*)", "edit(notes/**)"], "git status > src/main.py", False),
    ],
)
def test_command_rule_does_not_cover_writing_files(tmp_path, rules, command, allowed):
    from agentic_flow.core.permissions import PermissionEngine, PermissionRequest, RuleSet

    engine = PermissionEngine("ask", RuleSet.from_lists(allow=rules), tmp_path)
    verdict = engine.evaluate(PermissionRequest("c", "bash", {"command": command}, tmp_path))
    assert (verdict.outcome == "allow") is allowed, verdict


@pytest.mark.parametrize(
    ("command", "outcome"),
    [
        ("ls | grep x && git status; echo done", "allow"),
        ("X=1 ls", "allow"),
        ("for f in a b; do echo $f; done", "ask"),
        ("echo $(whoami)", "ask"),
        ("ls &", "ask"),
        ("[ -f x ] && ls", "ask"),
        ("echo {a,b}", "ask"),
    ],
)
def test_a_mode_approves_only_plain_commands(command: str, outcome: str) -> None:
    eng = engine("auto", allow=(f"bash({command})",))  # not even a rule naming the line helps
    verdict = eng.evaluate(req("bash", command=command))
    assert verdict.outcome == outcome, verdict.reason
    if outcome == "ask":
        assert eng.suggest_rule(req("bash", command=command)) is None  # "always" would never apply


async def test_headless_auto_denies_what_is_not_plain_and_says_why() -> None:
    from agentic_flow.core.permissions import PolicyApprover

    eng = engine("auto")
    request = req("bash", command="for f in a b; do rm $f; done")
    verdict = eng.evaluate(request)
    answer = await PolicyApprover("auto").ask(request, verdict)
    assert answer.kind == "deny" and "not a plain command" in (answer.reason or "")
    assert "Only a person can approve it" in (answer.reason or "")
