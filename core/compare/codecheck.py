"""Checks on the code in a model's answer: fenced blocks, parsed, optionally run.

* :func:`extract_blocks` finds fenced code blocks (```` ``` ```` and ``~~~`` fences,
  CommonMark rules: up to three spaces of indent, a closing fence of the same character
  at least as long). A block still open at the end of the answer (a cut-off stream) is
  kept and marked ``closed=False``.
* :func:`check_blocks` parses every ```` ```python ```` block with :mod:`ast` (syntax only,
  nothing is executed) and every ```` ```json ```` block with :mod:`json`; an error names
  its line both inside the block and in the answer. Other languages are listed as not
  checked. Doctest-style blocks (``>>> ``) are checked on their prompt lines.
* :func:`run_check_command` (``--check CMD``) writes the blocks to a temporary folder and
  runs CMD there with a timeout, *through the permission engine*: the command is a
  ``bash`` tool call that rules, the mode and the approver decide, like any other. In a
  headless run nothing is executed unless a rule or ``--approve auto`` allows it. An
  allowed command runs in the command sandbox (``core/sandbox``) with the temporary
  folder as its workspace: it cannot write anywhere else, has no network, and every
  process it starts is killed when it ends.

``CMD`` may name the files: ``{file}`` is the first code block's file (a Python one when
there is one), ``{files}`` all of them, ``{dir}`` the folder; each is shell-quoted. Files
are ``block1.py``, ``block2.json``, … (numbered as the blocks appear) and ``answer.md``.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from agentic_flow.core.permissions import PermissionRequest
from agentic_flow.core.permissions.audit import AuditEntry
from agentic_flow.core.sandbox import Sandbox
from agentic_flow.core.tools.shell import kill_process_group

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.config import SandboxSettings
    from agentic_flow.core.permissions import Approver, PermissionEngine

__all__ = [
    "CodeBlock",
    "BlockCheck",
    "CommandCheck",
    "CheckReport",
    "extract_blocks",
    "check_block",
    "check_blocks",
    "check_answer",
    "write_blocks",
    "run_check_command",
    "DEFAULT_CHECK_TIMEOUT",
]

DEFAULT_CHECK_TIMEOUT = 30.0
OUTPUT_LIMIT = 4000

_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_PY = {"python", "py", "python3", "py3", "pycon", "ipython"}
_JSON = {"json"}
_EXT = {
    "python": "py",
    "json": "json",
    "javascript": "js",
    "js": "js",
    "typescript": "ts",
    "ts": "ts",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "rust": "rs",
    "go": "go",
    "c": "c",
    "cpp": "cpp",
    "java": "java",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "sql": "sql",
    "html": "html",
    "css": "css",
}


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block. ``start_line`` is the answer line (1-based) of its first code line."""

    index: int
    lang: str
    info: str
    code: str
    start_line: int
    closed: bool = True

    @property
    def extension(self) -> str:
        return _EXT.get(self.lang, "txt")


class BlockCheck(BaseModel):
    """The verdict on one block: ``ok``, ``error`` (with where) or ``skipped`` (not checked)."""

    index: int
    lang: str
    status: Literal["ok", "error", "skipped"]
    message: str = ""
    line: int | None = None
    """Line of the error inside the block (1-based)."""
    answer_line: int | None = None
    """The same line counted in the whole answer."""
    closed: bool = True


class CommandCheck(BaseModel):
    """What became of ``--check CMD`` on one answer."""

    command: str
    allowed: bool
    decided_by: str
    reason: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    output: str = ""
    duration_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.allowed and not self.timed_out and self.exit_code == 0

    def summary(self) -> str:
        if not self.allowed:
            return f"not run ({self.reason or 'denied'})"
        if self.timed_out:
            return f"timed out after {self.duration_s or 0:.0f} s"
        return "passed" if self.exit_code == 0 else f"failed (exit {self.exit_code})"


class CheckReport(BaseModel):
    """All checks on one answer."""

    blocks: list[BlockCheck] = []
    command: CommandCheck | None = None

    @property
    def checked(self) -> list[BlockCheck]:
        return [b for b in self.blocks if b.status != "skipped"]

    @property
    def ok(self) -> bool | None:
        """True when everything checked passed, False when anything failed, None if nothing was checked."""
        results = [b.status == "ok" for b in self.checked]
        if self.command is not None and self.command.allowed:
            results.append(self.command.ok)
        if not results:
            return None
        return all(results)

    def summary(self) -> str:
        """One line for a table cell: ``python ok, json ok`` / ``python: line 3: invalid syntax``."""
        if not self.blocks:
            return "no code"
        parts: list[str] = []
        for block in self.blocks:
            if block.status == "ok":
                parts.append(f"{block.lang} ok")
            elif block.status == "error":
                where = f" line {block.line}" if block.line is not None else ""
                parts.append(f"{block.lang} #{block.index}{where}: {block.message}")
        if not parts:
            langs = sorted({b.lang or "untagged" for b in self.blocks})
            parts.append(f"{len(self.blocks)} block(s) not checked ({', '.join(langs)})")
        if any(not b.closed for b in self.blocks):
            parts.append("unclosed fence")
        if self.command is not None:
            parts.append(f"check {self.command.summary()}")
        return "; ".join(parts)


def _normalise_lang(info: str) -> str:
    word = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    word = word.strip("{}.").lower()
    if word in _PY:
        return "python"
    return word


def extract_blocks(text: str) -> list[CodeBlock]:
    """Fenced code blocks in the order they appear; an unclosed last block is kept."""
    blocks: list[CodeBlock] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None or (match.group(2)[0] == "`" and "`" in match.group(3)):
            i += 1
            continue
        indent, fence, info = len(match.group(1)), match.group(2), match.group(3).strip()
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            line = lines[j]
            stripped = line.lstrip(" ")
            if len(line) - len(stripped) <= 3 and stripped.startswith(fence[0] * len(fence)):
                rest = stripped.lstrip(fence[0])
                if not rest.strip():
                    closed = True
                    break
            # Content lines lose up to the opening fence's indent (CommonMark).
            drop = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[drop:])
            j += 1
        blocks.append(
            CodeBlock(
                index=len(blocks) + 1,
                lang=_normalise_lang(info),
                info=info,
                code="\n".join(body) + ("\n" if body else ""),
                start_line=i + 2,
                closed=closed,
            )
        )
        i = j + 1
    return blocks


def _doctest_source(code: str) -> tuple[str, list[int]] | None:
    """The prompt lines of a ``>>>`` session and their block line numbers, or None."""
    lines = code.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if not first.lstrip().startswith(">>>"):
        return None
    source: list[str] = []
    numbers: list[int] = []
    for n, line in enumerate(lines, 1):
        s = line.lstrip()
        if s.startswith(">>> ") or s == ">>>" or s.startswith("... ") or s == "...":
            source.append(s[4:])
            numbers.append(n)
    return "\n".join(source) + "\n", numbers


def check_block(block: CodeBlock) -> BlockCheck:
    """Parse one block: Python with ``ast`` (never executed), JSON with ``json``."""

    def verdict(status: Literal["ok", "error", "skipped"], message: str = "", line: int | None = None) -> BlockCheck:
        return BlockCheck(
            index=block.index,
            lang=block.lang or "",
            closed=block.closed,
            status=status,
            message=message,
            line=line,
            answer_line=None if line is None else block.start_line + line - 1,
        )

    if block.lang == "python":
        source, numbers = block.code, None
        doctest = _doctest_source(block.code)
        if doctest is not None:
            source, numbers = doctest
        try:
            ast.parse(source, filename=f"block{block.index}.py")
        except SyntaxError as exc:
            line = exc.lineno
            if line is not None and numbers is not None:
                line = numbers[min(max(line, 1), len(numbers)) - 1] if numbers else None
            return verdict("error", f"SyntaxError: {exc.msg}", line)
        except (ValueError, RecursionError, MemoryError) as exc:
            return verdict("error", f"cannot parse: {exc}")
        return verdict("ok")
    if block.lang in _JSON:
        try:
            json.loads(block.code)
        except json.JSONDecodeError as exc:
            return verdict("error", f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
        return verdict("ok")
    what = f"{block.lang} is not checked" if block.lang else "no language tag; not checked"
    return verdict("skipped", what)


def check_blocks(blocks: list[CodeBlock]) -> list[BlockCheck]:
    return [check_block(b) for b in blocks]


def check_answer(text: str) -> CheckReport:
    """Extract and parse the answer's code blocks (no command is run)."""
    return CheckReport(blocks=check_blocks(extract_blocks(text)))


# ----------------------------------------------------------------------- --check CMD


def write_blocks(folder: Path, text: str, blocks: list[CodeBlock]) -> list[Path]:
    """``block1.py``, ``block2.json``, … and ``answer.md`` in ``folder``; returns the block files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "answer.md").write_text(text, encoding="utf-8")
    files = []
    for block in blocks:
        path = folder / f"block{block.index}.{block.extension}"
        path.write_text(block.code, encoding="utf-8")
        files.append(path)
    return files


def expand_command(command: str, folder: Path, files: list[Path], blocks: list[CodeBlock]) -> str:
    """Fill ``{file}``, ``{files}`` and ``{dir}`` (shell-quoted, relative to ``folder``)."""
    names = [f.name for f in files]
    first = next((f.name for f, b in zip(files, blocks) if b.lang == "python"), names[0] if names else "")
    out = command.replace("{files}", " ".join(shlex.quote(n) for n in names))
    out = out.replace("{file}", shlex.quote(first) if first else "")
    return out.replace("{dir}", shlex.quote(str(folder)))


async def _execute(command: str, cwd: Path, timeout: float, sandbox: Sandbox, mode: str) -> tuple[int | None, bool, str, float]:
    """Run ``bash -c command`` in the sandbox, in its own process group; kill it all on timeout."""

    started = time.perf_counter()
    prepared = sandbox.prepare(["bash", "-c", command], mode=mode, workspace=cwd)
    proc = await asyncio.create_subprocess_exec(
        *prepared.argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        env=prepared.env,
    )
    timed_out = False
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except asyncio.TimeoutError:
        timed_out = True
        await kill_process_group(proc, grace=prepared.stop_grace)
        out = b""
    finally:
        if proc.returncode is None:
            await asyncio.shield(kill_process_group(proc, grace=prepared.stop_grace))
    text = out.decode("utf-8", "replace")
    if len(text) > OUTPUT_LIMIT:
        text = "…" + text[-OUTPUT_LIMIT:]
    return (None if timed_out else proc.returncode), timed_out, text, time.perf_counter() - started


async def run_check_command(
    command: str,
    text: str,
    *,
    engine: "PermissionEngine",
    approver: "Approver",
    timeout: float = DEFAULT_CHECK_TIMEOUT,
    blocks: list[CodeBlock] | None = None,
    model: str | None = None,
    audit: object | None = None,
    sandbox_settings: "SandboxSettings | None" = None,
    cwd: Path | None = None,
    agent: str = "compare --check",
) -> CommandCheck:
    """Run ``command`` on an answer's code, or in a workspace, if permitted.

    Without ``cwd``, the answer's blocks are written to a temp folder and ``command``
    runs there. With ``cwd`` (an agent run's isolated copy of the workspace) it runs in
    that folder as it is, and ``{file}``/``{files}`` are left empty.

    The call is presented to ``engine`` as a ``bash`` tool call whose workspace is that
    folder; only an allowed call runs, inside the command sandbox (the user's
    ``sandbox_settings``). ``audit`` (a :class:`core.audit.AuditLog`) records the decision
    and the outcome like any tool call, as made by ``agent``.
    """

    blocks = extract_blocks(text) if blocks is None and cwd is None else (blocks or [])
    with tempfile.TemporaryDirectory(prefix="af-check-") as tmp:
        folder = Path(cwd) if cwd is not None else Path(tmp)
        sandbox = Sandbox(folder, sandbox_settings)
        if not sandbox.status.available and engine.sandbox_unavailable is None:
            engine.sandbox_unavailable = sandbox.status.reason  # then auto mode asks for it
        files = write_blocks(folder, text, blocks) if cwd is None else []
        expanded = expand_command(command, folder, files, blocks)
        request = PermissionRequest(
            call_id=f"check-{time.monotonic_ns()}",
            tool="bash",
            arguments={"command": expanded, "timeout": timeout},
            workspace=folder,
            agent=agent,
            model=model,
        )
        decision = await engine.decide(request, approver)
        if not decision.allowed:
            result = CommandCheck(
                command=expanded, allowed=False, decided_by=decision.decided_by, reason=decision.reason
            )
        else:
            try:
                code, timed_out, output, took = await _execute(expanded, folder, timeout, sandbox, engine.mode)
            finally:
                sandbox.close()
            result = CommandCheck(
                command=expanded,
                allowed=True,
                decided_by=decision.decided_by,
                reason=decision.reason,
                exit_code=code,
                timed_out=timed_out,
                output=output,
                duration_s=round(took, 3),
            )
        _audit(audit, request, decision, result, agent)
    return result


def _audit(audit: object | None, request: object, decision: object, result: CommandCheck, agent: str) -> None:
    if audit is None:
        return

    entry = AuditEntry(
        tool="bash",
        arguments=dict(request.arguments),  # type: ignore[attr-defined]
        decision="allow" if result.allowed else "deny",
        scope=decision.scope,  # type: ignore[attr-defined]
        decided_by=result.decided_by,
        agent=agent,
        model=request.model,  # type: ignore[attr-defined]
        reason=result.reason,
        result_summary=result.summary() if result.allowed else "not executed (denied)",
        duration_ms=None if result.duration_s is None else round(result.duration_s * 1000),
    )
    audit.append(entry)  # type: ignore[attr-defined]
