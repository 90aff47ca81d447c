"""Keep file tools inside the workspace root.

Every path a model passes to a file tool goes through :func:`resolve_in_workspace`
before anything is read, listed or written. The check is done on the *real* path
(symlinks followed, including a dangling final link and symlinked parent directories)
so a link inside the workspace cannot be used to reach ``~/.ssh`` or ``/etc``. The
containment test itself is the program's only one, ``permissions.targets.is_within``
(by path components: ``/ws-evil`` is not inside ``/ws``).
"""

from __future__ import annotations

import os
from pathlib import Path

from agentic_flow.core.errors import ToolError, WorkspaceEscape
from agentic_flow.core.permissions.targets import is_within

__all__ = ["resolve_in_workspace", "relative_display", "refuse_hard_links"]

_HINT = "File tools only work inside the workspace; use a path relative to it."


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
        if not (is_within(os.path.abspath(root), lexical) or is_within(real_root, lexical)):
            raise WorkspaceEscape(f"Path '{path}' is outside the workspace {real_root}. {_HINT}")
        candidate = given
    else:
        candidate = Path(os.path.normpath(real_root / given))
        if not is_within(real_root, candidate):
            raise WorkspaceEscape(f"Path '{path}' uses '..' to go outside the workspace {real_root}. {_HINT}")
        candidate = real_root / given
    # normpath collapses "link/.." lexically; realpath re-resolves the original spelling
    # the way the OS would, so "link/../x" cannot slip through.
    resolved = Path(os.path.realpath(candidate))
    if not is_within(real_root, resolved):
        raise WorkspaceEscape(
            f"Path '{path}' goes through a symlink that points outside the workspace {real_root} "
            f"(it resolves to {resolved}). {_HINT}"
        )
    return resolved


def refuse_hard_links(path: Path, rel: str) -> None:
    """Refuse to write a file that has other hard links.

    A hard link is the same file under another name, maybe outside the workspace (a
    package store, ``~/.bashrc``): writing it here changes it there, and no path check
    can see where the other names are.

    Raises:
        ToolError: the file exists and has more than one link.
    """
    try:
        st = os.stat(path)
    except OSError:
        return
    if not os.path.isdir(path) and st.st_nlink > 1:
        raise ToolError(
            f"{rel} has {st.st_nlink} hard links: it is the same file as another name that may be outside "
            "the workspace, so writing it is refused. Copy it to a new file (or break the link) first."
        )


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
