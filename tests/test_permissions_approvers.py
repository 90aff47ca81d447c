"""Approvers: policies for headless runs, the terminal prompt, and --approve."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import pytest

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.permissions import (
    Answer,
    Approver,
    PermissionEngine,
    PermissionRequest,
    PolicyApprover,
    RuleSet,
    TerminalApprover,
    Verdict,
    choose_approver,
    example_rule,
    format_request,
    mode_and_approver_for,
)

WS = Path("/work/ws/project")


def req(tool: str, **arguments: object) -> PermissionRequest:
    return PermissionRequest(call_id="c1", tool=tool, arguments=dict(arguments), workspace=WS)


MODE_ASK = Verdict("ask", "ask mode: commands need approval", "mode:ask")
DANGER = Verdict("ask", "dangerous: runs a command as another user (sudo)", "dangerous: runs a command as another user (sudo)")
ASK_RULE = Verdict("ask", "rule bash(git push*) asks for approval", "rule:bash(git push*) [/x/settings.yaml]")


# ------------------------------------------------------------------ policy


@pytest.mark.parametrize(
    ("policy", "verdict", "call", "kind", "fragments"),
    [
        ("deny", MODE_ASK, req("bash", command="pytest -x"), "deny",
         ["no person to ask (headless run): denied", "bash(pytest *)", "--approve auto"]),
        ("deny", DANGER, req("bash", command="sudo apt-get update"), "deny",
         ["dangerous operation (runs a command as another user (sudo))", "bash(sudo apt-get update)"]),
        ("deny", ASK_RULE, req("bash", command="git push"), "deny", ["rule bash(git push*) asks", "remove that ask rule"]),
        ("auto", MODE_ASK, req("bash", command="pytest"), "once", ["auto policy"]),
        ("auto", DANGER, req("bash", command="sudo ls"), "deny", ["dangerous operation"]),
        ("auto", ASK_RULE, req("bash", command="git push"), "deny", ["asks"]),
    ],
)
async def test_policy_answers(policy: str, verdict: Verdict, call: PermissionRequest, kind: str, fragments: list[str]) -> None:
    answer = await asyncio.wait_for(PolicyApprover(policy).ask(call, verdict), timeout=1)  # type: ignore[arg-type]
    assert answer.kind == kind
    assert answer.by == f"policy:{policy}"
    for fragment in fragments:
        assert fragment in (answer.reason or ""), answer.reason


async def test_policy_approver_never_blocks_a_headless_run() -> None:
    engine = PermissionEngine("ask", RuleSet(), WS)
    approver = choose_approver("ask", stdin_is_tty=False)
    calls = [req("bash", command=f"make t{i}") for i in range(50)] + [req("write", path="a.py"), req("mcp:s/t")]
    decisions = await asyncio.wait_for(asyncio.gather(*(engine.decide(c, approver) for c in calls)), timeout=2)
    assert all(not d.allowed and d.scope == "policy" for d in decisions)
    assert "edit(a.py)" in (decisions[-2].reason or "")


def test_unknown_policy() -> None:
    with pytest.raises(ConfigError, match="unknown approval policy"):
        PolicyApprover("maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        (req("bash", command="pytest -x tests"), "bash(pytest *)"),
        (req("bash", command="git status --short"), "bash(git status *)"),
        (req("bash", command="npm run test"), "bash(npm run *)"),
        (req("write", path="src/pkg/a.py"), "edit(src/pkg/**)"),
        (req("read", path="/etc/hosts"), "read(/etc/**)"),
        (req("read", path="README.md"), "read(README.md)"),
        (req("mcp:github/create_issue"), "mcp:github/create_issue"),
    ],
)
def test_example_rule(call: PermissionRequest, rule: str) -> None:
    assert example_rule(call) == rule


# ------------------------------------------------------------------ terminal


class FakeTerminal:
    """A scripted ``input_fn``; records prompts and the thread it was called on."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        self.threads.add(threading.get_ident())
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


@pytest.mark.parametrize(
    ("lines", "answer"),
    [
        (["y"], Answer("once")),
        (["Y "], Answer("once")),
        (["s"], Answer("session")),
        (["a"], Answer("always")),
        (["always"], Answer("always")),
        (["n", "use make test instead"], Answer("deny", reason="use make test instead")),
        (["n", ""], Answer("deny")),
        (["n"], Answer("deny")),  # EOF at the reason prompt
        (["what", "", "y"], Answer("once")),
        ([], Answer("deny", reason="no answer (input closed): denied")),
        (["x"] * 10, Answer("deny", reason="no valid answer: denied")),
    ],
)
async def test_terminal_answers(lines: list[str], answer: Answer) -> None:
    out = io.StringIO()
    terminal = FakeTerminal(*lines)
    got = await TerminalApprover(terminal, out).ask(req("bash", command="make"), MODE_ASK)
    assert got == answer
    assert threading.get_ident() not in terminal.threads  # the blocking read ran in a worker thread
    text = out.getvalue()
    assert "Permission needed: bash" in text and "command: make" in text and "why: ask mode" in text
    assert terminal.prompts[0] == "[y] once  [s] this session  [a] always  [n] deny > "


async def test_terminal_asks_one_question_at_a_time() -> None:
    order: list[str] = []
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow_input(prompt: str) -> str:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        threading.Event().wait(0.02)
        with lock:
            active -= 1
        order.append(prompt)
        return "y"

    approver = TerminalApprover(slow_input, io.StringIO())
    answers = await asyncio.gather(*(approver.ask(req("bash", command=f"c{i}"), MODE_ASK) for i in range(4)))
    assert [a.kind for a in answers] == ["once"] * 4
    assert peak == 1


async def test_terminal_does_not_block_the_event_loop() -> None:
    release = threading.Event()

    def waiting_input(prompt: str) -> str:
        release.wait(5)
        return "y"

    task = asyncio.create_task(TerminalApprover(waiting_input, io.StringIO()).ask(req("bash", command="x"), MODE_ASK))
    await asyncio.sleep(0.01)
    assert not task.done()  # still waiting, yet this coroutine runs
    release.set()
    assert (await asyncio.wait_for(task, 2)).kind == "once"


async def test_terminal_without_any_terminal_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    approver = TerminalApprover(output=io.StringIO())
    monkeypatch.setattr(approver, "_io", lambda: None)
    answer = await asyncio.wait_for(approver.ask(req("bash", command="x"), MODE_ASK), 1)
    assert answer == Answer("deny", reason="no terminal to ask on: denied")


def test_format_request_escapes_terminal_tricks() -> None:
    call = req("bash", command="ls\x1b[2K\rrm -rf ~\u202e")
    text = format_request(call, MODE_ASK)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\\u001b[2K\\rrm -rf ~\\u202e" in text


def test_format_request_summarises_long_arguments() -> None:
    call = req("write", path="a.py", content="x\n" * 5000)
    text = format_request(call, MODE_ASK)
    assert "content: 5000 lines, 10000 characters" in text
    long = format_request(req("bash", command="echo " + "y" * 1000), MODE_ASK)
    assert "more characters" in long and len(long) < 700
    multi = format_request(req("bash", command="ls\npwd"), MODE_ASK)
    assert "  command:\n    | ls\n    | pwd" in multi


async def test_terminal_approver_with_the_engine(tmp_path: Path) -> None:
    engine = PermissionEngine("ask", RuleSet(), tmp_path)
    out = io.StringIO()
    approver = TerminalApprover(FakeTerminal("s"), out)
    decision = await engine.decide(PermissionRequest("c", "bash", {"command": "make"}, tmp_path), approver)
    assert (decision.allowed, decision.scope, decision.decided_by) == (True, "session", "person")


# ------------------------------------------------------------------ --approve


@pytest.mark.parametrize(
    ("flag", "interactive", "mode", "approver"),
    [
        (None, True, "ask", TerminalApprover),
        ("ask", True, "ask", TerminalApprover),
        ("ask", False, "ask", PolicyApprover),
        ("auto", True, "auto", TerminalApprover),
        ("auto", False, "auto", PolicyApprover),
        ("accept-edits", True, "accept-edits", TerminalApprover),
        ("accept-edits", False, "accept-edits", PolicyApprover),
        ("read-only", True, "read-only", TerminalApprover),
        ("read-only", False, "read-only", PolicyApprover),
        ("deny", True, "ask", PolicyApprover),
        ("deny", False, "ask", PolicyApprover),
        ("AUTO", False, "auto", PolicyApprover),
    ],
)
def test_mode_and_approver_for(flag: str | None, interactive: bool, mode: str, approver: type) -> None:
    got_mode, got = mode_and_approver_for(flag, interactive)
    assert got_mode == mode
    assert type(got) is approver
    assert isinstance(got, Approver)
    if isinstance(got, PolicyApprover):
        assert got.policy == "deny"


async def test_approve_deny_denies_even_with_a_person() -> None:
    approver = choose_approver("deny", stdin_is_tty=True)
    answer = await approver.ask(req("bash", command="make"), MODE_ASK)
    assert answer.kind == "deny" and "--approve deny" in (answer.reason or "")


@pytest.mark.parametrize("flag", ["yes", "bypass", "plan"])
def test_unknown_approve_value(flag: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown --approve value '{flag}'"):
        mode_and_approver_for(flag, True)


def test_empty_approve_value_means_ask() -> None:
    assert mode_and_approver_for("", True)[0] == "ask"


def test_format_request_names_the_subagent_that_asks() -> None:
    from dataclasses import replace

    call = replace(req("edit", path="a.py", old_string="a", new_string="b"), agent="coder › reviewer")
    assert format_request(call, MODE_ASK).splitlines()[0] == "Permission needed: edit (asked by coder › reviewer)"
    main_agent = replace(call, agent="coder")
    assert format_request(main_agent, MODE_ASK).splitlines()[0] == "Permission needed: edit"
