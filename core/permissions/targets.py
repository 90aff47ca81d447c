"""What a tool call touches: its kind and the argument rules are matched against.

Everything here is lexical (no file-system access) so that ``PermissionEngine.evaluate``
stays pure and cheap. Symlinks are the file tools' job: they resolve the real path and
raise ``WorkspaceEscape``; this module only has to classify what the model asked for.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ToolKind",
    "BUILTIN_TOOLS",
    "Target",
    "tool_kind",
    "canonical_tool",
    "target_for",
    "resolve_path",
    "MCP_NAME",
]

ToolKind = Literal["read", "edit", "execute", "mcp", "other"]

BUILTIN_TOOLS: dict[str, ToolKind] = {
    "read": "read",
    "glob": "read",
    "grep": "read",
    "ls": "read",
    "write": "edit",
    "edit": "edit",
    "bash": "execute",
}

#: ``mcp:server/tool`` as users see MCP tools.
# Any tool name a server sends: everything after the first "/" (server names have none).
MCP_NAME = re.compile(r"^mcp:(?P<server>[^/]+)/(?P<tool>.*)\Z", re.DOTALL)


def canonical_tool(name: str) -> str:
    """Built-in names are case-insensitive (``Bash`` is ``bash``); MCP names are kept exactly
    (a server's ``delete `` with a trailing space is not its ``delete``)."""
    low = name.strip().lower()
    return low if low in BUILTIN_TOOLS else name


def tool_kind(name: str) -> ToolKind:
    """The kind that modes reason about; unknown tools are ``other`` (treated like commands)."""
    name = canonical_tool(name)
    if name in BUILTIN_TOOLS:
        return BUILTIN_TOOLS[name]
    if MCP_NAME.match(name):
        return "mcp"
    return "other"


@dataclass(frozen=True)
class Target:
    """The argument rules match, in every form they may need.

    Attributes:
        raw: the argument as the model sent it (command, path, pattern) or ``""``.
        rel: for paths: workspace-relative ``/``-path when inside, else the absolute path.
        abs: for paths: the absolute, lexically normalised path.
        inside: for paths: whether it stays inside the workspace root.
        is_path: whether this is a file-system path (read/edit tools).
    """

    raw: str
    rel: str = ""
    abs: str = ""
    inside: bool = True
    is_path: bool = False


def _home() -> str:
    return os.path.expanduser("~")


def expand_home(raw: str) -> str | None:
    """``~``, ``~/x``, ``$HOME/x`` and ``${HOME}/x`` to an absolute path; else None."""
    for prefix in ("${HOME}", "$HOME", "~"):
        if raw == prefix or raw.startswith(prefix + "/"):
            return _home() + raw[len(prefix) :]
    return None


def resolve_path(raw: str, workspace: Path | str, cwd: str | None = None) -> Target:
    """Lexically resolve ``raw`` against ``cwd`` (default: the workspace root).

    ``..`` is collapsed before deciding whether the path is inside, so ``src/../../x``
    is outside. ``~user`` forms are treated as outside (we cannot know where they are).
    """
    ws = os.path.normpath(str(workspace))
    base = cwd if cwd is not None else ws
    text = raw.strip()
    expanded = expand_home(text)
    if expanded is None and text.startswith("~"):
        return Target(raw=raw, rel=text, abs=text, inside=False, is_path=True)
    path = expanded if expanded is not None else text
    absolute = os.path.normpath(os.path.join(base, path)) if path else base
    absolute = absolute.replace(os.sep, "/")
    ws_posix = ws.replace(os.sep, "/")
    inside = absolute == ws_posix or absolute.startswith(ws_posix.rstrip("/") + "/")
    if inside:
        rel = os.path.relpath(absolute, ws_posix).replace(os.sep, "/") if absolute != ws_posix else "."
    else:
        rel = absolute
    return Target(raw=raw, rel=rel, abs=absolute, inside=inside, is_path=True)


def _argument(arguments: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def target_for(tool: str, arguments: dict[str, Any], workspace: Path | str) -> Target:
    """The argument a rule pattern is matched against for this call.

    bash: ``command``; read/write/edit: ``path`` (``file_path`` accepted too); ls:
    ``path`` or the root; glob/grep: ``path``, else ``pattern``; MCP: nothing.
    """
    name = canonical_tool(tool)
    if name == "bash":
        return Target(raw=_argument(arguments, "command") or "")
    if name in ("read", "write", "edit"):
        return resolve_path(_argument(arguments, "path", "file_path") or "", workspace)
    if name == "ls":
        return resolve_path(_argument(arguments, "path") or ".", workspace)
    if name in ("glob", "grep"):
        return resolve_path(_argument(arguments, "path") or _argument(arguments, "pattern") or ".", workspace)
    return Target(raw="")
