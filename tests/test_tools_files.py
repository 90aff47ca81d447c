"""read, write, edit and ls: behaviour, caps, diffs and previews."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentic_flow.core.tools.base import ToolContext
from agentic_flow.core.tools.files import (
    MAX_LINE_CHARS,
    MAX_LS_ENTRIES,
    MAX_READ_LINES,
    EditTool,
    LsTool,
    ReadTool,
    WriteTool,
    diff_stat,
    unified_diff,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return ToolContext(workspace=ws)


# --------------------------------------------------------------------------- read


async def test_read_numbers_lines_like_cat_n(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("one\ntwo\nthree\n")
    out = await ReadTool().run({"path": "a.py"}, ctx)
    assert not out.is_error
    assert out.content == "     1\tone\n     2\ttwo\n     3\tthree"
    assert out.summary == "read a.py (lines 1-3 of 3)"


async def test_read_offset_and_limit_with_a_note_on_how_to_continue(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = await ReadTool().run({"path": "a.txt", "offset": 4, "limit": 3}, ctx)
    lines = out.content.splitlines()
    assert lines[:3] == ["     4\tline 4", "     5\tline 5", "     6\tline 6"]
    assert "lines 4-6 of 10" in out.content
    assert "offset=7" in out.content


async def test_read_keeps_crlf_out_of_the_text_and_handles_no_final_newline(ws: Path, ctx: ToolContext) -> None:
    (ws / "w.txt").write_bytes(b"a\r\nb")
    out = await ReadTool().run({"path": "w.txt"}, ctx)
    assert out.content == "     1\ta\n     2\tb"


async def test_read_offset_past_the_end_is_an_error(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("x\ny\n")
    out = await ReadTool().run({"path": "a.txt", "offset": 5}, ctx)
    assert out.is_error
    assert "2 lines" in out.content and "offset 5" in out.content


async def test_read_line_cap_with_note(ws: Path, ctx: ToolContext) -> None:
    (ws / "big.txt").write_text("".join(f"{i}\n" for i in range(1, 3001)))
    out = await ReadTool().run({"path": "big.txt", "limit": 5000}, ctx)
    numbered = [line for line in out.content.splitlines() if "\t" in line]
    assert len(numbered) == MAX_READ_LINES
    assert numbered[-1] == f"{MAX_READ_LINES:6}\t{MAX_READ_LINES}"
    assert "of 3000" in out.content
    assert f"offset={MAX_READ_LINES + 1}" in out.content


async def test_read_byte_cap_with_note(ws: Path, ctx: ToolContext) -> None:
    (ws / "wide.txt").write_text(("x" * 1000 + "\n") * 1000)  # ~1 MB in 1000 lines
    out = await ReadTool().run({"path": "wide.txt"}, ctx)
    assert not out.is_error
    assert len(out.content.encode()) <= 256 * 1024 + 500
    assert "256 KiB" in out.content
    shown = [line for line in out.content.splitlines() if "\t" in line]
    assert 200 < len(shown) < 1000
    assert f"offset={len(shown) + 1}" in out.content


async def test_read_cuts_very_long_lines(ws: Path, ctx: ToolContext) -> None:
    (ws / "min.js").write_text("y" * (MAX_LINE_CHARS * 3) + "\nshort\n")
    out = await ReadTool().run({"path": "min.js"}, ctx)
    first = out.content.splitlines()[0]
    assert len(first) < MAX_LINE_CHARS + 100
    assert str(MAX_LINE_CHARS * 3) in first
    assert "     2\tshort" in out.content
    assert "cut" in out.content


async def test_read_refuses_binary_files(ws: Path, ctx: ToolContext) -> None:
    (ws / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    out = await ReadTool().run({"path": "img.png"}, ctx)
    assert out.is_error
    assert "binary" in out.content


async def test_read_empty_missing_and_directory(ws: Path, ctx: ToolContext) -> None:
    (ws / "empty.txt").write_text("")
    (ws / "d").mkdir()
    empty = await ReadTool().run({"path": "empty.txt"}, ctx)
    assert not empty.is_error and "empty" in empty.content
    missing = await ReadTool().run({"path": "nope.txt"}, ctx)
    assert missing.is_error and "does not exist" in missing.content
    directory = await ReadTool().run({"path": "d"}, ctx)
    assert directory.is_error and "ls" in directory.content


async def test_read_shows_invalid_utf8_with_replacement(ws: Path, ctx: ToolContext) -> None:
    (ws / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    out = await ReadTool().run({"path": "latin.txt"}, ctx)
    assert not out.is_error
    assert out.content == "     1\tcaf\ufffd"


# -------------------------------------------------------------------------- write


async def test_write_creates_file_and_parent_dirs(ws: Path, ctx: ToolContext) -> None:
    out = await WriteTool().run({"path": "src/pkg/new.py", "content": "a = 1\nb = 2\n"}, ctx)
    assert not out.is_error, out.content
    assert (ws / "src/pkg/new.py").read_text() == "a = 1\nb = 2\n"
    assert out.content == "Created src/pkg/new.py (2 lines)."
    assert out.summary == "created src/pkg/new.py (+2)"
    assert out.diff is not None
    one = await WriteTool().run({"path": "one.txt", "content": "x\n"}, ctx)
    assert one.content == "Created one.txt (1 line)."
    assert out.diff.startswith("--- /dev/null\n+++ b/src/pkg/new.py\n")
    assert "+a = 1\n+b = 2\n" in out.diff


async def test_write_overwrite_returns_diff_against_old_content(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("keep\nold\n")
    out = await WriteTool().run({"path": "a.txt", "content": "keep\nnew\nmore\n"}, ctx)
    assert (ws / "a.txt").read_text() == "keep\nnew\nmore\n"
    assert out.diff is not None
    assert "--- a/a.txt\n+++ b/a.txt\n" in out.diff
    assert "-old\n" in out.diff and "+new\n" in out.diff and "+more\n" in out.diff
    assert out.summary == "wrote a.txt (+2 -1)"


async def test_write_same_content_reports_no_change(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("same\n")
    out = await WriteTool().run({"path": "a.txt", "content": "same\n"}, ctx)
    assert not out.is_error
    assert out.diff is None
    assert "nothing changed" in out.content


async def test_write_preserves_exact_bytes(ws: Path, ctx: ToolContext) -> None:
    await WriteTool().run({"path": "w.txt", "content": "a\r\nb\x0cc"}, ctx)
    assert (ws / "w.txt").read_bytes() == b"a\r\nb\x0cc"


async def test_write_to_a_directory_is_an_error(ws: Path, ctx: ToolContext) -> None:
    (ws / "d").mkdir()
    out = await WriteTool().run({"path": "d", "content": "x"}, ctx)
    assert out.is_error and "directory" in out.content


async def test_write_under_an_existing_file_is_an_error_not_an_exception(ws: Path, ctx: ToolContext) -> None:
    (ws / "f").write_text("x")
    out = await WriteTool().run({"path": "f/child.txt", "content": "x"}, ctx)
    assert out.is_error
    assert "write failed" in out.content


async def test_write_preview_is_the_diff_and_writes_nothing(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("old\n")
    preview = WriteTool().preview({"path": "a.txt", "content": "new\n"}, ctx)
    assert preview == "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-old\n+new\n"
    assert (ws / "a.txt").read_text() == "old\n"
    new_preview = WriteTool().preview({"path": "dir/b.txt", "content": "x\n"}, ctx)
    assert new_preview is not None and new_preview.startswith("--- /dev/null")
    assert not (ws / "dir").exists()


# --------------------------------------------------------------------------- edit

SOURCE = "def f():\n    return 1\n\n\ndef g():\n    return 1\n"


async def test_edit_replaces_unique_text_and_returns_diff(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    out = await EditTool().run(
        {"path": "m.py", "old_string": "def g():\n    return 1", "new_string": "def g():\n    return 2"}, ctx
    )
    assert not out.is_error, out.content
    assert (ws / "m.py").read_text() == SOURCE.replace("def g():\n    return 1", "def g():\n    return 2")
    assert out.diff is not None
    assert "--- a/m.py\n+++ b/m.py\n" in out.diff
    assert "-    return 1\n+    return 2\n" in out.diff
    assert out.summary == "edited m.py (+1 -1)"
    assert out.diff in out.content  # the model sees what changed


async def test_edit_missing_text_says_so_and_leaves_file(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    out = await EditTool().run({"path": "m.py", "old_string": "return 3", "new_string": "x"}, ctx)
    assert out.is_error
    assert "not found" in out.content
    assert "whitespace" in out.content
    assert (ws / "m.py").read_text() == SOURCE


async def test_edit_non_unique_text_counts_matches_and_suggests_fixes(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    out = await EditTool().run({"path": "m.py", "old_string": "return 1", "new_string": "return 9"}, ctx)
    assert out.is_error
    assert "2 times" in out.content
    assert "replace_all" in out.content
    assert "surrounding" in out.content
    assert (ws / "m.py").read_text() == SOURCE


async def test_edit_replace_all(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    out = await EditTool().run(
        {"path": "m.py", "old_string": "return 1", "new_string": "return 9", "replace_all": True}, ctx
    )
    assert not out.is_error
    assert (ws / "m.py").read_text() == SOURCE.replace("return 1", "return 9")
    assert "2 occurrences" in out.content
    assert out.summary == "edited m.py (+2 -2)"


async def test_edit_identical_strings_and_missing_file(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    same = await EditTool().run({"path": "m.py", "old_string": "f", "new_string": "f"}, ctx)
    assert same.is_error and "identical" in same.content
    missing = await EditTool().run({"path": "n.py", "old_string": "a", "new_string": "b"}, ctx)
    assert missing.is_error and "write" in missing.content


async def test_edit_matches_crlf_files_with_lf_text(ws: Path, ctx: ToolContext) -> None:
    (ws / "w.txt").write_bytes(b"a\r\nb\r\nc\r\n")
    out = await EditTool().run({"path": "w.txt", "old_string": "a\nb", "new_string": "a\nB\nb"}, ctx)
    assert not out.is_error, out.content
    assert (ws / "w.txt").read_bytes() == b"a\r\nB\r\nb\r\nc\r\n"


async def test_edit_refuses_binary_and_non_utf8(ws: Path, ctx: ToolContext) -> None:
    (ws / "b.bin").write_bytes(b"abc\x00def")
    (ws / "l.txt").write_bytes("caf\xe9".encode("latin-1"))
    binary = await EditTool().run({"path": "b.bin", "old_string": "abc", "new_string": "x"}, ctx)
    assert binary.is_error and "binary" in binary.content
    latin = await EditTool().run({"path": "l.txt", "old_string": "caf", "new_string": "x"}, ctx)
    assert latin.is_error and "UTF-8" in latin.content
    assert (ws / "l.txt").read_bytes() == "caf\xe9".encode("latin-1")


async def test_edit_preview_shows_diff_without_writing(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    args = {"path": "m.py", "old_string": "def f():", "new_string": "def f(x):"}
    preview = EditTool().preview(args, ctx)
    assert preview is not None
    assert "-def f():\n+def f(x):\n" in preview
    assert (ws / "m.py").read_text() == SOURCE
    out = await EditTool().run(args, ctx)
    assert out.diff == preview  # what was approved is what was applied


async def test_edit_preview_of_a_failing_edit_says_why(ws: Path, ctx: ToolContext) -> None:
    (ws / "m.py").write_text(SOURCE)
    preview = EditTool().preview({"path": "m.py", "old_string": "return 1", "new_string": "x"}, ctx)
    assert preview is not None and "would fail" in preview and "2 times" in preview


# ----------------------------------------------------------------------------- ls


async def test_ls_sorted_with_dirs_marked(ws: Path, ctx: ToolContext) -> None:
    (ws / "b.txt").write_text("")
    (ws / "a_dir").mkdir()
    (ws / "c.py").write_text("")
    (ws / "link").symlink_to(ws / "a_dir", target_is_directory=True)
    out = await LsTool().run({}, ctx)
    assert out.content.splitlines() == ["a_dir/", "b.txt", "c.py", f"link/ -> {ws / 'a_dir'}"]


async def test_ls_subdir_empty_and_cap(ws: Path, ctx: ToolContext) -> None:
    (ws / "empty").mkdir()
    out = await LsTool().run({"path": "empty"}, ctx)
    assert "empty" in out.content and not out.is_error
    many = ws / "many"
    many.mkdir()
    for i in range(MAX_LS_ENTRIES + 5):
        (many / f"f{i:05}").write_text("")
    capped = await LsTool().run({"path": "many"}, ctx)
    lines = capped.content.splitlines()
    assert lines[0] == "f00000"
    assert f"f{MAX_LS_ENTRIES - 1:05}" in lines
    assert f"f{MAX_LS_ENTRIES:05}" not in lines
    assert "5 more entries" in capped.content


async def test_ls_missing_is_an_error(ctx: ToolContext) -> None:
    out = await LsTool().run({"path": "nope"}, ctx)
    assert out.is_error and "does not exist" in out.content


# -------------------------------------------------------------------------- diffs


def test_unified_diff_marks_missing_final_newline() -> None:
    diff = unified_diff("a\nb", "a\nc", "x.txt")
    assert diff.endswith("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")
    assert diff_stat(diff) == (1, 1)


def test_unified_diff_splits_on_newlines_only() -> None:
    # A form feed inside a line must not split it (str.splitlines would).
    diff = unified_diff("a\x0cb\n", "a\x0cc\n", "x")
    assert diff_stat(diff) == (1, 1)


def test_diff_stat_ignores_headers_but_counts_dash_lines() -> None:
    diff = unified_diff("--- x\n", "+++ y\n", "f")
    assert diff_stat(diff) == (1, 1)
    assert unified_diff("same\n", "same\n", "f") == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
async def test_unreadable_file_is_an_error_output(ws: Path, ctx: ToolContext) -> None:
    secret = ws / "locked.txt"
    secret.write_text("x")
    secret.chmod(0)
    out = await ReadTool().run({"path": "locked.txt"}, ctx)
    assert out.is_error and "read failed" in out.content
