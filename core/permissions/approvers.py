"""Who answers when the engine says "ask": a person at a terminal, or a policy.

How ``--approve`` maps onto a mode and an approver (``mode_and_approver_for``)::

    --approve        mode           with a person (TTY)          headless (no TTY)
    ask (default)    ask            prompt                       deny what would ask
    accept-edits     accept-edits   prompt                       deny what would ask
    auto             auto           prompt (dangerous, ask rules) deny what would ask
    read-only        read-only      prompt (reads outside)       deny what would ask
    deny             ask            deny what would ask          deny what would ask

Headless runs never wait: ``PolicyApprover`` answers at once with a reason that says
how to allow the call next time, and that reason goes into the transcript. The TUI
has its own approver (the permission widget) implementing the same protocol.
"""

from __future__ import annotations

import asyncio
import json
import sys
import unicodedata
from collections.abc import Callable
from typing import Literal, Protocol, TextIO, runtime_checkable

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.events import AGENT_PATH_SEPARATOR
from agentic_flow.core.permissions.engine import (
    Answer,
    PermissionRequest,
    Verdict,
    exact_rule,
)
from agentic_flow.core.permissions.modes import Mode, parse_mode
from agentic_flow.core.permissions.shell import analyze_command
from agentic_flow.core.permissions.targets import canonical_tool, target_for, tool_kind
from agentic_flow.core.permissions.workspace_trust import UNTRUSTED_RULE_HINT

__all__ = [
    "Approver",
    "PolicyApprover",
    "TerminalApprover",
    "APPROVE_VALUES",
    "choose_approver",
    "mode_and_approver_for",
    "format_request",
    "example_rule",
]

APPROVE_VALUES = ("ask", "auto", "accept-edits", "read-only", "deny")
Policy = Literal["deny", "auto"]


@runtime_checkable
class Approver(Protocol):
    """Answers the engine's questions. Implementations must not block the event loop."""

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer: ...


def example_rule(request: PermissionRequest) -> str:
    """A rule a person would plausibly write to allow calls like this one."""
    name = canonical_tool(request.tool)
    kind = tool_kind(name)
    target = target_for(name, request.arguments or {}, request.workspace)
    if name == "bash":
        parts = analyze_command(target.raw).parts
        words = parts[0].words if parts else ()
        if not words:
            return "bash(pytest *)"
        head = words[0]
        if len(words) > 1 and words[1].isalpha():
            head += " " + words[1]
        return f"bash({head} *)"
    if kind in ("read", "edit"):
        path = target.rel if target.inside else target.abs
        folder = path.rsplit("/", 1)[0] if "/" in path.strip("/") else ""
        rule_tool = "edit" if kind == "edit" else "read"
        return f"{rule_tool}({folder}/**)" if folder else f"{rule_tool}({path})"
    return name


class PolicyApprover:
    """Answers without a person, immediately.

    Policies:
        deny: deny everything that would ask.
        auto: approve (once) what only the mode asks about; still deny dangerous
            operations and calls an ask rule covers (those need a person).
    """

    def __init__(self, policy: Policy = "deny", *, context: str = "headless run") -> None:
        if policy not in ("deny", "auto"):
            raise ConfigError(f"unknown approval policy '{policy}'; use deny or auto")
        self.policy: Policy = policy
        self.context = context

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        by = f"policy:{self.policy}"
        if self.policy == "auto" and verdict.decided_by.startswith("mode:"):
            return Answer("once", reason="approved by the auto policy", by=by)
        lead = f"no person to ask ({self.context}): denied"
        if verdict.decided_by.startswith("dangerous") and UNTRUSTED_RULE_HINT in verdict.reason:
            reason = f"{lead} a dangerous operation ({verdict.decided_by.removeprefix('dangerous: ')}): {UNTRUSTED_RULE_HINT}"
        elif verdict.decided_by.startswith("dangerous"):
            reason = (
                f"{lead} a dangerous operation ({verdict.decided_by.removeprefix('dangerous: ')}). "
                f"Dangerous operations need a person or a rule that names them exactly, "
                f"such as {_exact_or_example(request)}"
            )
        elif verdict.decided_by.startswith("parser:"):
            reason = (
                f"{lead}: {verdict.reason}. Only a person can approve it; or write it as plain commands "
                "(a script file run with `bash script.sh` is one)"
            )
        elif verdict.from_ask_rule:
            reason = f"{lead}: {verdict.reason}. Run interactively, or remove that ask rule"
        elif verdict.decided_by.startswith("sandbox:"):
            reason = f"{lead}: {verdict.reason}. Run interactively, or allow it with a rule such as {_exact_or_example(request)}"
        elif "allow rules cover only" in verdict.reason:
            reason = f"{lead}: {verdict.reason}"
        else:
            reason = f"{lead}. Allow it with a rule such as {example_rule(request)} or run with --approve auto"
        return Answer("deny", reason=reason, by=by)


def _exact_or_example(request: PermissionRequest) -> str:
    return exact_rule(request) or example_rule(request)


# ------------------------------------------------------------------ terminal


def _printable(text: str) -> str:
    """Escape control and invisible characters so a command cannot repaint the prompt."""
    out: list[str] = []
    for ch in text:
        if ch == "\n" or (ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zl", "Zp")):
            out.append(ch)
        else:
            out.append(json.dumps(ch)[1:-1] if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    return "".join(out)


def _short(value: object, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = _printable(text)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def format_request(request: PermissionRequest, verdict: Verdict) -> str:
    """What a person needs to decide: the tool, its arguments (escaped), and why it asks."""
    lines = [f"Permission needed: {_printable(request.tool)}"]
    if request.agent and AGENT_PATH_SEPARATOR in request.agent:  # a subagent's call
        lines[0] += f" (asked by {_printable(request.agent)})"
    args = request.arguments or {}
    for key, value in args.items():
        if key == "content" and isinstance(value, str):
            lines.append(f"  {key}: {len(value.splitlines())} lines, {len(value)} characters")
            continue
        text = _short(value)
        if "\n" in text:
            lines.append(f"  {key}:")
            lines.extend("    | " + line for line in text.split("\n"))
        else:
            lines.append(f"  {key}: {text}")
    lines.append(f"  why: {_printable(verdict.reason)}")
    return "\n".join(lines)


_KEYS: dict[str, Literal["once", "session", "always", "deny"]] = {
    "y": "once",
    "yes": "once",
    "once": "once",
    "s": "session",
    "session": "session",
    "a": "always",
    "always": "always",
    "n": "deny",
    "no": "deny",
    "deny": "deny",
}


class TerminalApprover:
    """Asks on the controlling terminal: y once, s session, a always, n deny (+ reason).

    Args:
        input_fn: ``prompt -> line`` (raises EOFError at end of input); default reads
            ``/dev/tty``, or stdin when it is a terminal.
        output: where the question is printed; default the terminal, or stderr.

    The blocking read runs in a worker thread (``asyncio.to_thread``); questions from
    parallel tool calls are asked one after another. If no terminal can be opened the
    call is denied with that reason rather than waiting forever.
    """

    def __init__(self, input_fn: Callable[[str], str] | None = None, output: TextIO | None = None) -> None:
        self._input_fn = input_fn
        self._output = output
        self._lock: asyncio.Lock | None = None
        self._tty: TextIO | None = None

    async def ask(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await asyncio.to_thread(self._ask_blocking, request, verdict)

    def close(self) -> None:
        """Close ``/dev/tty`` if this approver opened it."""
        if self._tty is not None:
            self._tty.close()
            self._tty = None

    # ------------------------------------------------------------ blocking side

    def _io(self) -> tuple[Callable[[str], str], TextIO] | None:
        if self._input_fn is not None:
            return self._input_fn, self._output or sys.stderr
        if self._tty is None:
            try:
                self._tty = open("/dev/tty", "r+", encoding="utf-8", errors="replace")  # noqa: SIM115
            except OSError:
                self._tty = None
        if self._tty is not None:
            tty = self._tty
            return self._reader(tty, self._output or tty), self._output or tty
        if sys.stdin is not None and sys.stdin.isatty():
            out = self._output or sys.stderr
            return self._reader(sys.stdin, out), out
        return None

    @staticmethod
    def _reader(stream: TextIO, out: TextIO) -> Callable[[str], str]:
        def read(prompt: str) -> str:
            out.write(prompt)
            out.flush()
            line = stream.readline()
            if not line:
                raise EOFError
            return line.rstrip("\n")

        return read

    def _ask_blocking(self, request: PermissionRequest, verdict: Verdict) -> Answer:
        io = self._io()
        if io is None:
            return Answer("deny", reason="no terminal to ask on: denied")
        read, out = io
        out.write("\n" + format_request(request, verdict) + "\n")
        out.flush()
        prompt = "[y] once  [s] this session  [a] always  [n] deny > "
        for _ in range(10):
            try:
                key = read(prompt).strip().lower()
            except EOFError:
                return Answer("deny", reason="no answer (input closed): denied")
            kind = _KEYS.get(key)
            if kind is None:
                out.write("Please answer y, s, a or n.\n")
                out.flush()
                continue
            if kind != "deny":
                return Answer(kind)
            try:
                why = read("Reason for the model (optional, Enter to skip): ").strip()
            except EOFError:
                why = ""
            return Answer("deny", reason=why or None)
        return Answer("deny", reason="no valid answer: denied")


# ------------------------------------------------------------------ --approve


def _check_flag(flag: str | None) -> str:
    value = (flag or "ask").strip().lower()
    if value not in APPROVE_VALUES:
        raise ConfigError(f"unknown --approve value '{flag}'; use one of: {', '.join(APPROVE_VALUES)}", key="--approve")
    return value


def choose_approver(approve_flag: str | None, stdin_is_tty: bool) -> Approver:
    """The approver for a run: a terminal prompt when a person is there, else a policy."""
    value = _check_flag(approve_flag)
    if value == "deny":
        return PolicyApprover("deny", context="--approve deny")
    if not stdin_is_tty:
        return PolicyApprover("deny", context="headless run")
    return TerminalApprover()


def mode_and_approver_for(flag: str | None, interactive: bool) -> tuple[Mode, Approver]:
    """``--approve`` value -> (engine mode, approver); see the table in the module docstring."""
    value = _check_flag(flag)
    mode: Mode = "ask" if value == "deny" else parse_mode(value)
    return mode, choose_approver(value, interactive)
