"""``@path`` mentions: files attached to a prompt, through the permission engine.

``@src/app.py`` attaches the file, ``@src/app.py#L20-45`` (or ``#L20``) only those
lines. A mention counts only when it names a file in the workspace, so ``@property`` in
pasted code or an e-mail address stays text. Each file is read as a ``read`` call would
be: the engine decides (a deny rule such as ``read(**/.env)`` refuses it, a path outside
the workspace asks), the answer is written to the audit log, and only then are its
contents added to the message the model gets, with line numbers like the ``read`` tool.

:func:`workspace_files` lists the files completion offers (hidden ones left out).
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from agentic_flow.core.errors import AgenticFlowError
from agentic_flow.core.permissions import PermissionRequest
from agentic_flow.core.permissions.audit import AuditEntry
from agentic_flow.core.tools.workspace import relative_display, resolve_in_workspace

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions import Approver, PermissionEngine
    from agentic_flow.core.permissions.audit import AuditLog

__all__ = [
    "Mention",
    "Attachment",
    "MentionResult",
    "find_mentions",
    "attach_mentions",
    "workspace_files",
    "MAX_ATTACH_LINES",
    "MAX_ATTACH_BYTES",
]

MAX_ATTACH_LINES = 2_000
MAX_ATTACH_BYTES = 256 * 1024
#: Folders completion never walks into (the rest of the tree is listed).
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".pytest_cache",
     ".ruff_cache", ".tox", ".nox", "dist", "build", ".eggs", ".idea", ".cache"}
)

_MENTION = re.compile(r"(?<![\w@`/\\])@([^\s@#`'\"()\[\]{}<>,;]+)(?:#L(\d+)(?:-L?(\d+))?)?")


@dataclass(frozen=True)
class Mention:
    """``@path`` or ``@path#Lstart-end`` as typed (``start``/``end`` 1-based, inclusive)."""

    raw: str
    path: str
    start: int | None = None
    end: int | None = None

    @property
    def lines(self) -> str:
        if self.start is None:
            return ""
        return f"{self.start}-{self.end}" if self.end is not None and self.end != self.start else str(self.start)


@dataclass(frozen=True)
class Attachment:
    """A file (or part of it) attached to a prompt."""

    path: str
    first: int
    last: int
    total: int
    text: str

    @property
    def label(self) -> str:
        whole = self.first == 1 and self.last == self.total
        return self.path if whole else f"{self.path}#L{self.first}-{self.last}"


@dataclass
class MentionResult:
    """The prompt for the model (mentions kept, contents appended) and what happened."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def find_mentions(text: str, workspace: Path) -> list[Mention]:
    """Mentions in ``text`` that name a file in ``workspace`` (each path once)."""
    found: dict[tuple[str, int | None, int | None], Mention] = {}
    for match in _MENTION.finditer(text):
        path = match.group(1).rstrip(".:!?")
        start = int(match.group(2)) if match.group(2) else None
        end = int(match.group(3)) if match.group(3) else start
        try:
            exists = resolve_in_workspace(Path(workspace), path).is_file()
        except (AgenticFlowError, OSError):  # outside the workspace: not a mention
            exists = False
        if exists:
            key = (path, start, end)
            raw = match.group(0) if path == match.group(1) else "@" + path
            found.setdefault(key, Mention(raw, path, start, end))
    return list(found.values())


async def attach_mentions(
    text: str,
    workspace: Path,
    engine: "PermissionEngine",
    approver: "Approver",
    *,
    audit: "AuditLog | None" = None,
    session_id: str | None = None,
    agent: str | None = None,
    model: str | None = None,
) -> MentionResult:
    """Read every mentioned file the engine allows; append their contents to ``text``."""
    result = MentionResult(text)
    mentions = find_mentions(text, workspace)
    blocks: list[str] = []
    for n, mention in enumerate(mentions, 1):
        request = PermissionRequest(
            call_id=f"mention-{n}",
            tool="read",
            arguments={"path": mention.path},
            workspace=Path(workspace),
            session_id=session_id,
            agent=agent,
            model=model,
        )
        decision = await engine.decide(request, approver)
        summary = ""
        if not decision.allowed:
            result.problems.append(f"@{mention.path} was not attached: {decision.reason or 'denied'}")
            summary = "not attached (denied)"
        else:
            try:
                attachment = await asyncio.to_thread(_read, Path(workspace), mention)
            except AgenticFlowError as exc:
                result.problems.append(f"@{mention.path} was not attached: {exc}")
                summary = f"error: {exc}"
            else:
                result.attachments.append(attachment)
                blocks.append(_block(attachment))
                summary = f"attached {attachment.label} to the prompt (@ mention)"
        if audit is not None:
            audit.append(
                AuditEntry(
                    session_id=session_id,
                    agent=agent,
                    model=model,
                    tool="read",
                    arguments={"path": mention.path, **({"lines": mention.lines} if mention.lines else {})},
                    decision="allow" if decision.allowed else "deny",
                    scope=decision.scope,
                    decided_by=decision.decided_by,
                    reason=decision.reason,
                    result_summary=summary,
                )
            )
    if blocks:
        result.text = text + "\n\n" + "\n\n".join(blocks)
    return result


def _block(attachment: Attachment) -> str:
    lines = attachment.text.split("\n")
    numbered = "\n".join(f"{attachment.first + i:>6}\t{line}" for i, line in enumerate(lines))
    return (
        f'<attached-file path="{attachment.path}" lines="{attachment.first}-{attachment.last}" '
        f'of="{attachment.total}">\n{numbered}\n</attached-file>'
    )


def _read(workspace: Path, mention: Mention) -> Attachment:
    path = resolve_in_workspace(workspace, mention.path)
    rel = relative_display(workspace, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AgenticFlowError(f"cannot read it ({exc.strerror or exc})") from exc
    if b"\0" in data[:8192]:
        raise AgenticFlowError("it is a binary file")
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    total = len(lines)
    first = max(1, mention.start or 1)
    last = min(total, mention.end if mention.end is not None else total)
    if total and first > total:
        raise AgenticFlowError(f"it has {total} lines; line {first} is past the end")
    if last - first + 1 > MAX_ATTACH_LINES:
        last = first + MAX_ATTACH_LINES - 1
    chosen = lines[first - 1 : last]
    body = "\n".join(chosen)
    if len(body.encode("utf-8")) > MAX_ATTACH_BYTES:
        body = body.encode("utf-8")[:MAX_ATTACH_BYTES].decode("utf-8", errors="ignore")
        last = first + body.count("\n")
    return Attachment(rel, first, max(first, last) if total else 0, total, body)


def workspace_files(workspace: Path, hidden: Callable[[str], bool] | None = None, limit: int = 20_000) -> list[str]:
    """Files under ``workspace`` (relative, ``/``-separated) for completion, sorted by
    depth then name; heavy folders (``.git``, ``node_modules``, ...) and files a deny rule
    hides are left out."""
    root = Path(workspace)
    out: list[str] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info"))
        rel_dir = os.path.relpath(current, root)
        for name in sorted(files):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if hidden is not None and hidden(rel):
                continue
            out.append(rel)
            if len(out) >= limit:
                return sorted(out, key=lambda p: (p.count("/"), p))
    return sorted(out, key=lambda p: (p.count("/"), p))
