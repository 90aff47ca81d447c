"""glob and grep: matching rules, ordering, caps, skipped files."""

from __future__ import annotations

import asyncio
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from agentic_flow.core.tools.base import ToolContext
from agentic_flow.core.tools.search import MAX_GLOB_RESULTS, GlobTool, GrepTool, compile_glob


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    files = {
        "a.py": "import os\nprint('Hello')\n",
        "b.txt": "hello world\nnothing\n",
        "src/app.py": "def main():\n    print('hello')\n",
        "src/app.ts": "const hello = 1;\n",
        "src/ui/view.tsx": "export const Hello = 2;\n",
        "src/deep/er/x.py": "HELLO = 3\n",
        ".git/config": "hello from git\n",
        ".git/objects/ab.py": "hello\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "blob.bin").write_bytes(b"hello\x00\x01\x02")
    return root


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return ToolContext(workspace=ws)


# -------------------------------------------------------------------- compile_glob


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "src/deep/a.py", True),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "lib/a.py", False),
        ("src/**", "src/a/b.txt", True),
        ("src/*.{ts,tsx}", "src/a.tsx", True),
        ("src/*.{ts,tsx}", "src/a.js", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file10.txt", False),
        ("[ab].txt", "a.txt", True),
        ("[!ab].txt", "a.txt", False),
        ("[!ab].txt", "c.txt", True),
        ("a+b(1).txt", "a+b(1).txt", True),
        ("./src/*.py", "src/a.py", True),
    ],
)
def test_compile_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_glob(pattern).match(path)) is matches


@given(
    pattern=st.text(alphabet="ab.*?", min_size=1, max_size=6),
    name=st.text(alphabet="ab.", min_size=1, max_size=6),
)
def test_single_segment_glob_agrees_with_fnmatch(pattern: str, name: str) -> None:
    assume(name not in (".", ".."))  # never a file name a walk yields
    assert bool(compile_glob(pattern).match(name)) == fnmatchcase(name, pattern)


# --------------------------------------------------------------------------- glob


async def test_glob_recursive_sorted_and_skips_git(ctx: ToolContext) -> None:
    out = await GlobTool().run({"pattern": "**/*.py"}, ctx)
    assert out.content.splitlines() == ["a.py", "src/app.py", "src/deep/er/x.py"]
    assert out.summary == "glob **/*.py: 3 matches"


async def test_glob_top_level_only_and_braces(ctx: ToolContext) -> None:
    top = await GlobTool().run({"pattern": "*.py"}, ctx)
    assert top.content.splitlines() == ["a.py"]
    ts = await GlobTool().run({"pattern": "**/*.{ts,tsx}"}, ctx)
    assert ts.content.splitlines() == ["src/app.ts", "src/ui/view.tsx"]


async def test_glob_relative_to_path_prints_workspace_paths(ctx: ToolContext) -> None:
    out = await GlobTool().run({"pattern": "*", "path": "src"}, ctx)
    assert out.content.splitlines() == ["src/app.py", "src/app.ts", "src/deep/", "src/ui/"]


async def test_glob_no_match_is_not_an_error(ctx: ToolContext) -> None:
    out = await GlobTool().run({"pattern": "**/*.rs"}, ctx)
    assert not out.is_error
    assert "No files match" in out.content


async def test_glob_refuses_patterns_that_leave_the_path(ctx: ToolContext) -> None:
    for pattern in ("../*", "/etc/*", "src/../../*", "~/*"):
        out = await GlobTool().run({"pattern": pattern}, ctx)
        assert out.is_error, pattern
        assert "relative" in out.content


async def test_glob_cap(ws: Path, ctx: ToolContext) -> None:
    many = ws / "many"
    many.mkdir()
    for i in range(MAX_GLOB_RESULTS + 7):
        (many / f"f{i:05}.log").write_text("")
    out = await GlobTool().run({"pattern": "many/*.log"}, ctx)
    lines = out.content.splitlines()
    assert lines[0] == "many/f00000.log"
    assert len([line for line in lines if line.endswith(".log")]) == MAX_GLOB_RESULTS
    assert "7 more matches" in out.content


async def test_glob_stops_when_cancelled(ctx: ToolContext) -> None:
    event = asyncio.Event()
    event.set()
    out = await GlobTool().run({"pattern": "**/*"}, ToolContext(workspace=ctx.workspace, cancel_event=event))
    assert out.is_error and "cancelled" in out.content


# --------------------------------------------------------------------------- grep


async def test_grep_output_format_and_skips(ctx: ToolContext) -> None:
    out = await GrepTool().run({"pattern": "hello"}, ctx)
    assert out.content.splitlines() == [
        "b.txt:1: hello world",
        "src/app.py:2:     print('hello')",
        "src/app.ts:1: const hello = 1;",
    ]
    # .git and the binary file both contain "hello" and are skipped.


async def test_grep_case_insensitive(ctx: ToolContext) -> None:
    out = await GrepTool().run({"pattern": "hello", "case_insensitive": True}, ctx)
    files = [line.split(":")[0] for line in out.content.splitlines()]
    assert files == ["a.py", "b.txt", "src/app.py", "src/app.ts", "src/deep/er/x.py", "src/ui/view.tsx"]


async def test_grep_glob_filter_by_name_and_by_path(ctx: ToolContext) -> None:
    by_name = await GrepTool().run({"pattern": "(?i)hello", "glob": "*.py"}, ctx)
    assert [line.split(":")[0] for line in by_name.content.splitlines()] == ["a.py", "src/app.py", "src/deep/er/x.py"]
    by_path = await GrepTool().run({"pattern": "(?i)hello", "glob": "src/**/*.ts*"}, ctx)
    assert [line.split(":")[0] for line in by_path.content.splitlines()] == ["src/app.ts", "src/ui/view.tsx"]


async def test_grep_single_file_and_regex(ctx: ToolContext) -> None:
    out = await GrepTool().run({"pattern": r"^\s+print\(", "path": "src/app.py"}, ctx)
    assert out.content == "src/app.py:2:     print('hello')"


async def test_grep_no_match_and_bad_regex(ctx: ToolContext) -> None:
    none = await GrepTool().run({"pattern": "zzz"}, ctx)
    assert not none.is_error and "No matches" in none.content
    bad = await GrepTool().run({"pattern": "(unclosed"}, ctx)
    assert bad.is_error and "Invalid regular expression" in bad.content


async def test_grep_max_results_cap(ws: Path, ctx: ToolContext) -> None:
    (ws / "many.txt").write_text("match\n" * 50)
    out = await GrepTool().run({"pattern": "match", "path": "many.txt", "max_results": 10}, ctx)
    hits = [line for line in out.content.splitlines() if line.startswith("many.txt:")]
    assert len(hits) == 10
    assert hits[-1] == "many.txt:10: match"
    assert "Stopped after 10 matches" in out.content
    too_many = await GrepTool().run({"pattern": "m", "max_results": 100_000}, ctx)
    assert too_many.is_error and "max_results" in too_many.content


async def test_grep_long_lines_are_shortened(ws: Path, ctx: ToolContext) -> None:
    (ws / "long.txt").write_text("needle" + "z" * 5000 + "\n")
    out = await GrepTool().run({"pattern": "needle", "path": "long.txt"}, ctx)
    assert len(out.content) < 400
    assert out.content.endswith("[...]")


async def test_grep_missing_path(ctx: ToolContext) -> None:
    out = await GrepTool().run({"pattern": "x", "path": "nope"}, ctx)
    assert out.is_error and "does not exist" in out.content
