"""The workspace boundary: every file tool refuses every way out of the root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agentic_flow.core.errors import ToolError, WorkspaceEscape
from agentic_flow.core.tools.base import ToolContext
from agentic_flow.core.tools.registry import builtin_tools
from agentic_flow.core.tools.workspace import relative_display, resolve_in_workspace

SECRET = "TOP-SECRET-CONTENT\n"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with links pointing out of it, and an outside dir holding a secret."""
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (ws / "inside.txt").write_text("hello\n")
    (ws / "sub").mkdir()
    (ws / "link_file").symlink_to(outside / "secret.txt")
    (ws / "link_dir").symlink_to(outside, target_is_directory=True)
    (ws / "dangling").symlink_to(outside / "not-yet.txt")
    return ws, outside


# ------------------------------------------------------------ resolve_in_workspace


def test_relative_and_absolute_paths_inside_are_resolved(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    real = ws.resolve()
    assert resolve_in_workspace(ws, "inside.txt") == real / "inside.txt"
    assert resolve_in_workspace(ws, str(ws / "inside.txt")) == real / "inside.txt"
    assert resolve_in_workspace(ws, "sub/../inside.txt") == real / "inside.txt"
    assert resolve_in_workspace(ws, ".") == real
    assert resolve_in_workspace(ws, "new/dir/file.txt") == real / "new/dir/file.txt"
    # ".." after a link is applied to the link's target, as the OS does.
    assert resolve_in_workspace(ws, "link_dir/../ws/inside.txt") == real / "inside.txt"


def test_link_inside_the_workspace_is_allowed(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    (ws / "alias").symlink_to(ws / "inside.txt")
    assert resolve_in_workspace(ws, "alias") == ws.resolve() / "inside.txt"


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("../outside/secret.txt", "'..'"),
        ("sub/../../outside/secret.txt", "'..'"),
        ("~/.ssh/id_rsa", "'~'"),
        ("~", "'~'"),
        ("/etc/passwd", "is outside the workspace"),
        ("link_file", "symlink"),
        ("link_dir/secret.txt", "symlink"),
        ("link_dir/new.txt", "symlink"),
        ("link_dir", "symlink"),
        ("dangling", "symlink"),
        # Lexically inside (ws/outside/...), but the OS resolves ".." after the link.
        ("link_dir/../outside/secret.txt", "symlink"),
    ],
)
def test_escapes_are_refused_with_a_clear_message(layout: tuple[Path, Path], path: str, fragment: str) -> None:
    ws, _ = layout
    with pytest.raises(WorkspaceEscape) as info:
        resolve_in_workspace(ws, path)
    message = str(info.value)
    assert fragment in message
    assert "outside the workspace" in message
    assert path in message


def test_workspace_escape_is_a_tool_error() -> None:
    assert issubclass(WorkspaceEscape, ToolError)


def test_nul_byte_is_refused(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    with pytest.raises(ToolError, match="NUL"):
        resolve_in_workspace(ws, "a\0b")


def test_workspace_root_given_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("x")
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    assert resolve_in_workspace(alias, "a.txt") == real.resolve() / "a.txt"
    assert resolve_in_workspace(alias, str(alias / "a.txt")) == real.resolve() / "a.txt"
    with pytest.raises(WorkspaceEscape):
        resolve_in_workspace(alias, str(tmp_path / "other.txt"))


def test_relative_display(layout: tuple[Path, Path]) -> None:
    ws, outside = layout
    assert relative_display(ws, ws.resolve() / "sub" / "a.py") == "sub/a.py"
    assert relative_display(ws, ws / "sub" / "a.py") == "sub/a.py"
    assert relative_display(ws, ws) == "."
    assert relative_display(ws, "sub/a.py") == "sub/a.py"
    assert relative_display(ws, outside / "secret.txt") == str(outside / "secret.txt")


# ------------------------------------------------------- every tool, every escape

# (tool, argument builder) for every tool that takes a path.
FILE_TOOL_CALLS: dict[str, Any] = {
    "read": lambda p: {"path": p},
    "write": lambda p: {"path": p, "content": "PWNED"},
    "edit": lambda p: {"path": p, "old_string": "TOP", "new_string": "PWNED"},
    "ls": lambda p: {"path": p},
    "glob": lambda p: {"pattern": "*", "path": p},
    "grep": lambda p: {"pattern": "SECRET", "path": p},
}

ESCAPES = [
    "../outside/secret.txt",
    "OUTSIDE_ABSOLUTE",
    "~/.ssh",
    "~/.ssh/authorized_keys",
    "link_file",
    "link_dir",
    "link_dir/secret.txt",
    "link_dir/new.txt",
    "link_dir/deeper/new.txt",
    "dangling",
]


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("tool_name", sorted(FILE_TOOL_CALLS))
async def test_every_file_tool_refuses_every_escape(layout: tuple[Path, Path], tool_name: str, escape: str) -> None:
    ws, outside = layout
    path = str(outside / "secret.txt") if escape == "OUTSIDE_ABSOLUTE" else escape
    before = _snapshot(outside)
    tool = builtin_tools()[tool_name]
    out = await tool.run(FILE_TOOL_CALLS[tool_name](path), ToolContext(workspace=ws))
    assert out.is_error
    assert "outside the workspace" in out.content
    assert "TOP-SECRET" not in out.content
    assert _snapshot(outside) == before
    assert not (outside / "not-yet.txt").exists()
    assert not (outside / "deeper").exists()


@pytest.mark.parametrize("tool_name", ["read", "ls", "glob", "grep"])
async def test_reading_tools_refuse_system_files(layout: tuple[Path, Path], tool_name: str) -> None:
    # Only the non-mutating tools are pointed at real system paths: if the check ever
    # broke, a write test must not be able to clobber /etc.
    ws, _ = layout
    target = "/etc/passwd" if tool_name in ("read", "grep") else "/etc"
    out = await builtin_tools()[tool_name].run(FILE_TOOL_CALLS[tool_name](target), ToolContext(workspace=ws))
    assert out.is_error
    assert "outside the workspace" in out.content
    assert "root:" not in out.content


@pytest.mark.parametrize("tool_name", ["write", "edit"])
async def test_preview_refuses_escapes_too(layout: tuple[Path, Path], tool_name: str) -> None:
    ws, _ = layout
    preview = builtin_tools()[tool_name].preview(FILE_TOOL_CALLS[tool_name]("link_file"), ToolContext(workspace=ws))
    assert preview is not None
    assert "outside the workspace" in preview
    assert "TOP-SECRET" not in preview


async def test_tree_walks_do_not_follow_links_out(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    ctx = ToolContext(workspace=ws)
    tools = builtin_tools()
    grep = await tools["grep"].run({"pattern": "SECRET"}, ctx)
    assert not grep.is_error
    assert "TOP-SECRET" not in grep.content
    assert "No matches" in grep.content
    glob = await tools["glob"].run({"pattern": "**/*"}, ctx)
    assert "secret.txt" not in glob.content
    assert "link_file" not in glob.content
    assert "inside.txt" in glob.content


async def test_write_through_inner_symlinked_dir_stays_inside(layout: tuple[Path, Path]) -> None:
    ws, _ = layout
    (ws / "alias_sub").symlink_to(ws / "sub", target_is_directory=True)
    out = await builtin_tools()["write"].run({"path": "alias_sub/new.txt", "content": "ok\n"}, ToolContext(workspace=ws))
    assert not out.is_error, out.content
    assert (ws / "sub" / "new.txt").read_text() == "ok\n"
    assert os.path.islink(ws / "alias_sub")
