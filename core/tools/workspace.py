"""Keep file tools inside the workspace root.

Every path a model passes to a file tool goes through :func:`resolve_in_workspace`
before anything is read, listed or written. The check is done on the *real* path
(symlinks followed, including a dangling final link and symlinked parent directories)
so a link inside the workspace cannot be used to reach ``~/.ssh`` or ``/etc``.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentic_flow.core.errors import ToolError, WorkspaceEscape

__all__ = ["resolve_in_workspace", "relative_display", "is_inside"]

_HINT = "File tools only work inside the workspace; use a path relative to it."


def is_inside(root: Path, path: Path) -> bool:
    """True when ``path`` (already resolved) is ``root`` (already resolved) or below it."""
    return path == root or root in path.parents


def resolve_in_workspace(root: Path, path: str) -> Path:
    """Resolve ``path`` (relative to ``root``, or absolute inside it) to a real path.

    The returned path has every symlink resolved and is guaranteed to lie inside the
    real ``root``; it need not exist (a file about to be written).

    Raises:
        WorkspaceEscape: ``~``, ``..`` or an absolute path leading out of the root, or a
            symlink (the file itself or any parent directory) resolving outside it.
        ToolError: the path contains a NUL byte.
    """
    if "\0" in path:
        raise ToolError(f"Path {path!r} contains a NUL byte.")
    real_root = Path(os.path.realpath(root))
    if path.startswith("~"):
        raise WorkspaceEscape(
            f"Path '{path}' refers to a home directory ('~'), which is outside the workspace {real_root}. {_HINT}"
        )
    given = Path(path)
    if given.is_absolute():
        lexical = Path(os.path.normpath(given))
        if not (is_inside(Path(os.path.normpath(root)), lexical) or is_inside(real_root, lexical)):
            raise WorkspaceEscape(f"Path '{path}' is outside the workspace {real_root}. {_HINT}")
        candidate = given
    else:
        candidate = Path(os.path.normpath(real_root / given))
        if not is_inside(real_root, candidate):
            raise WorkspaceEscape(f"Path '{path}' uses '..' to go outside the workspace {real_root}. {_HINT}")
        candidate = real_root / given
    # normpath collapses "link/.." lexically; realpath re-resolves the original spelling
    # the way the OS would, so "link/../x" cannot slip through.
    resolved = Path(os.path.realpath(candidate))
    if not is_inside(real_root, resolved):
        raise WorkspaceEscape(
            f"Path '{path}' goes through a symlink that points outside the workspace {real_root} "
            f"(it resolves to {resolved}). {_HINT}"
        )
    return resolved


def relative_display(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root`` in POSIX form (``.`` for the root), for messages and logs.

    Paths outside the root are shown as given, so a message never hides where it points.
    """
    real_root = Path(os.path.realpath(root))
    target = Path(path)
    if not target.is_absolute():
        target = real_root / target
    for base in (real_root, Path(os.path.normpath(root))):
        try:
            rel = target.relative_to(base)
        except ValueError:
            continue
        return rel.as_posix() or "."
    return str(path)
