"""What a tool call touches: its kind, and the path or command rules are matched against.

Paths are resolved before any decision, and there is ONE confinement check for the
whole program: ``is_within`` (component-wise, so ``/ws-evil`` is never inside ``/ws``).
``resolve_path`` gives both the path as written (lexically normalised: ``..`` collapsed)
and the real path (every symlink followed, the way the OS will open it). A call is
inside the workspace only if both are; deny rules match either spelling, allow rules
match the real one, so ``config.txt -> .env`` is ``.env`` and ``cfg -> .claude`` makes
``cfg/settings.local.json`` a Claude settings file. Resolving reads file metadata only
(``lstat``/``readlink``/``stat``), never contents.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "is_within",
    "real_path",
    "ToolKind",
    "BUILTIN_TOOLS",
    "Target",
    "tool_kind",
    "canonical_tool",
    "target_for",
    "resolve_path",
    "MCP_NAME",
]

ToolKind = Literal["read", "edit", "execute", "mcp", "delegate", "other"]

BUILTIN_TOOLS: dict[str, ToolKind] = {
    "read": "read",
    "glob": "read",
    "grep": "read",
    "ls": "read",
    "write": "edit",
    "edit": "edit",
    "bash": "execute",
    # Handing a task to a subagent touches nothing; each of the subagent's calls is decided.
    "agent": "delegate",
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


def is_within(root: str | Path, path: str | Path) -> bool:
    """True when ``path`` is ``root`` or below it. Both must be absolute and normalised
    (``os.path.normpath`` / ``realpath``); the comparison is by path components."""
    root_s, path_s = os.fspath(root), os.fspath(path)
    if not (os.path.isabs(root_s) and os.path.isabs(path_s)):
        return False
    try:
        return os.path.commonpath([root_s, path_s]) == os.path.normpath(root_s)
    except ValueError:  # different drives (Windows)
        return False


def real_path(path: str | Path) -> str:
    """The path the OS opens: symlinks followed (also a dangling last link), ``..``
    applied after each link, missing tail components kept. A path the OS cannot open
    at all (a NUL byte in it) is returned lexically normalised."""
    try:
        return os.path.realpath(os.fspath(path))
    except (ValueError, OSError):
        return os.path.normpath(os.fspath(path))


@dataclass(frozen=True)
class Target:
    """The argument rules match, in every form they may need.

    Attributes:
        raw: the argument as the model sent it (command, path, pattern) or ``""``.
        rel: for paths: workspace-relative ``/``-path when inside, else the absolute path.
        abs: for paths: the absolute, lexically normalised path.
        inside: for paths: whether both the path as written and the real path stay inside.
        is_path: whether this is a file-system path (read/edit tools).
        real_abs / real_rel: the real path (symlinks followed), absolute and relative to
            the real workspace (absolute when outside it).
        links: the hard-link count of an existing file (``st_nlink``), else 1.
    """

    raw: str
    rel: str = ""
    abs: str = ""
    inside: bool = True
    is_path: bool = False
    real_abs: str = ""
    real_rel: str = ""
    links: int = 1

    @property
    def spellings(self) -> tuple[str, ...]:
        """The relative-or-absolute forms rules are matched against (as written, real)."""
        return tuple(dict.fromkeys(s for s in (self.rel, self.real_rel) if s))

    @property
    def through_link(self) -> bool:
        return bool(self.real_abs) and self.real_abs != self.abs


def _home() -> str:
    return os.path.expanduser("~")


def expand_home(raw: str) -> str | None:
    """``~``, ``~/x``, ``$HOME/x`` and ``${HOME}/x`` to an absolute path; else None."""
    for prefix in ("${HOME}", "$HOME", "~"):
        if raw == prefix or raw.startswith(prefix + "/"):
            return _home() + raw[len(prefix) :]
    return None


def _relative(path: str, root: str) -> str | None:
    if not is_within(root, path):
        return None
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return "." if rel == "." else rel


def resolve_path(raw: str, workspace: Path | str, cwd: str | None = None, *, real: bool = True) -> Target:
    """Resolve ``raw`` against ``cwd`` (default: the workspace root).

    ``..`` is collapsed before deciding whether the path is inside, so ``src/../../x``
    is outside; with ``real`` the symlinks are followed too (``real=False``: lexical
    only, for paths on another machine or not yet meaningful). ``~user`` forms are
    treated as outside (we cannot know where they are).
    """
    ws = os.path.normpath(os.path.abspath(os.fspath(workspace)))
    base = cwd if cwd is not None else ws
    text = raw.strip()
    expanded = expand_home(text)
    if expanded is None and text.startswith("~"):
        return Target(raw=raw, rel=text, abs=text, inside=False, is_path=True, real_abs=text, real_rel=text)
    path = expanded if expanded is not None else text
    joined = os.path.join(base, path) if path else base
    absolute = os.path.normpath(joined).replace(os.sep, "/")
    rel = _relative(absolute, ws)
    inside = rel is not None
    real_abs, real_rel, links = absolute, rel or absolute, 1
    if real:
        real_abs = real_path(joined)
        real_ws = real_path(ws)
        real_relative = _relative(real_abs, real_ws)
        if real_relative is None and is_within(ws, real_abs):
            real_relative = _relative(real_abs, ws)  # the workspace path itself has a link in it
        real_rel = real_relative if real_relative is not None else real_abs
        inside = inside and real_relative is not None
        try:
            st = os.stat(real_abs)
            links = st.st_nlink if not os.path.isdir(real_abs) else 1
        except (OSError, ValueError):
            links = 1
    return Target(raw=raw, rel=rel if rel is not None else absolute, abs=absolute, inside=inside, is_path=True,
                  real_abs=real_abs, real_rel=real_rel, links=links)


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
