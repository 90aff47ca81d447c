"""Search tools: ``glob`` (find files by name) and ``grep`` (find lines by regex).

Both walk the tree themselves instead of using :mod:`glob` / :meth:`Path.glob` so that
they can skip ``.git``, never descend into symlinked directories, drop symlinks that
point outside the workspace, stop early on cancel, and give the same ``**`` semantics
(zero or more directories) on every Python version.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentic_flow.core.errors import ToolError
from agentic_flow.core.permissions.targets import is_within
from agentic_flow.core.tools.base import Tool, ToolContext, ToolOutput
from agentic_flow.core.tools.files import is_binary
from agentic_flow.core.tools.workspace import relative_display, resolve_in_workspace

__all__ = [
    "GlobTool",
    "GrepTool",
    "compile_glob",
    "MAX_GLOB_RESULTS",
    "MAX_GREP_RESULTS",
    "MAX_GREP_FILE_BYTES",
]

MAX_GLOB_RESULTS = 1000
MAX_GREP_RESULTS = 1000
MAX_GREP_FILE_BYTES = 8 * 1024 * 1024
_GREP_LINE_CHARS = 300
_OUTPUT_CHARS = 60_000
_SKIP_DIRS = frozenset({".git"})


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ glob patterns


def _expand_braces(pattern: str) -> list[str]:
    """``*.{ts,tsx}`` -> ``[*.ts, *.tsx]`` (models write these all the time)."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    for end in range(start, len(pattern)):
        if pattern[end] == "{":
            depth += 1
        elif pattern[end] == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return [pattern]  # unbalanced: treat literally
    options, depth, part = [], 0, ""
    for ch in pattern[start + 1 : end]:
        if ch == "," and depth == 0:
            options.append(part)
            part = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        part += ch
    options.append(part)
    head, tail = pattern[:start], pattern[end + 1 :]
    return [expanded for opt in options for expanded in _expand_braces(head + opt + tail)]


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            close = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^") else i + 1)
            if close < 0:
                out.append(re.escape(ch))
            else:
                body = segment[i + 1 : close]
                negate = body[:1] in ("!", "^")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{'^' if negate else ''}{body}]")
                i = close
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a glob over POSIX relative paths.

    ``*`` and ``?`` stay within one path segment; a ``**`` segment matches zero or
    more directories (``**/*.py`` also matches ``a.py``); ``[abc]``, ``[!abc]`` and
    ``{a,b}`` work as in the shell.
    """
    alternatives: list[str] = []
    for expanded in _expand_braces(pattern):
        parts: list[str] = []
        segments = [s for s in expanded.split("/") if s not in ("", ".")]
        for idx, segment in enumerate(segments):
            last = idx == len(segments) - 1
            if segment == "**":
                parts.append(".*" if last else "(?:[^/]+/)*")
            else:
                parts.append(_segment_regex(segment) + ("" if last else "/"))
        alternatives.append("".join(parts))
    return re.compile("(?:" + "|".join(alternatives) + r")\Z")


def _glob_depth(pattern: str) -> int | None:
    """How deep a pattern can match (``None``: unbounded), so the walk can stop early."""
    depth = 0
    for expanded in _expand_braces(pattern):
        segments = [s for s in expanded.split("/") if s not in ("", ".")]
        if "**" in segments:
            return None
        depth = max(depth, len(segments))
    return depth


def _check_pattern(pattern: str, what: str) -> None:
    if pattern.startswith(("/", "~")) or ".." in pattern.split("/"):
        raise ToolError(
            f"{what} '{pattern}' must be relative and stay inside the directory searched; "
            "pass the directory as path instead."
        )


# ------------------------------------------------------------------------ walking


def _walk(root: Path, base: Path, max_depth: int | None, ctx: ToolContext) -> Iterator[tuple[Path, bool]]:
    """Yield ``(path, is_dir)`` below ``base`` in sorted order, skipping ``.git`` and escapes."""
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        if ctx.cancelled:
            return
        current = Path(dirpath)
        depth = len(current.relative_to(base).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        if max_depth is not None and depth + 1 >= max_depth:
            children_dirs = list(dirnames)
            dirnames[:] = []  # entries at the next level can still match; do not descend
        else:
            children_dirs = list(dirnames)
        for name in sorted(children_dirs + filenames):
            path = current / name
            if path.is_symlink() and not is_within(root, os.path.realpath(path)):
                continue
            if ctx.is_hidden(path):
                if name in dirnames:
                    dirnames.remove(name)
                continue
            yield path, name in children_dirs


# --------------------------------------------------------------------------- glob


class GlobArgs(_Args):
    pattern: str = Field(min_length=1, description="Glob such as '**/*.py' or 'src/*.{ts,tsx}'.")
    path: str = Field(".", description="Directory to search in, relative to the workspace root.")


class GlobTool(Tool):
    name = "glob"
    kind = "read"
    description = (
        "Find files by name pattern. '*' matches within one directory, '**/' any number of "
        "directories. Paths are printed relative to the workspace root, sorted; .git is skipped; "
        f"at most {MAX_GLOB_RESULTS} results."
    )
    args_model = GlobArgs

    async def execute(self, args: GlobArgs, ctx: ToolContext) -> ToolOutput:
        _check_pattern(args.pattern, "Pattern")
        base = resolve_in_workspace(ctx.workspace, args.path)
        rel_base = relative_display(ctx.workspace, base)
        if not base.is_dir():
            raise ToolError(f"{rel_base} is not a directory.")
        matches = await asyncio.to_thread(self._find, args.pattern, base, ctx)
        if ctx.cancelled:
            raise ToolError("glob was cancelled.")
        if not matches:
            return ToolOutput(
                content=f"No files match '{args.pattern}' in {rel_base}.", summary=f"glob {args.pattern}: 0 matches"
            )
        shown = matches[:MAX_GLOB_RESULTS]
        content = "\n".join(shown)
        if len(matches) > len(shown):
            content += (
                f"\n\n[{len(matches) - len(shown)} more matches not shown; use a narrower pattern or path.]"
            )
        return ToolOutput(content=content, summary=f"glob {args.pattern}: {len(matches)} matches")

    @staticmethod
    def _find(pattern: str, base: Path, ctx: ToolContext) -> list[str]:
        root = Path(os.path.realpath(ctx.workspace))
        regex = compile_glob(pattern)
        found: list[str] = []
        for path, is_dir in _walk(root, base, _glob_depth(pattern), ctx):
            if regex.match(path.relative_to(base).as_posix()):
                found.append(relative_display(root, path) + ("/" if is_dir else ""))
        found.sort()
        return found


# --------------------------------------------------------------------------- grep


class GrepArgs(_Args):
    pattern: str = Field(min_length=1, description="Regular expression (Python syntax) to search for.")
    path: str = Field(".", description="File or directory to search, relative to the workspace root.")
    glob: str | None = Field(
        None, description="Only search files matching this glob, e.g. '*.py' (file name) or 'src/**/*.ts' (path)."
    )
    case_insensitive: bool = Field(False, description="Ignore case.")
    max_results: int = Field(100, ge=1, le=MAX_GREP_RESULTS, description="Stop after this many matching lines.")


class GrepTool(Tool):
    name = "grep"
    kind = "read"
    description = (
        "Search file contents with a regular expression. Prints 'file:line: text' for each "
        "matching line; binary files, files over 8 MiB and .git are skipped."
    )
    args_model = GrepArgs

    async def execute(self, args: GrepArgs, ctx: ToolContext) -> ToolOutput:
        try:
            regex = re.compile(args.pattern, re.IGNORECASE if args.case_insensitive else 0)
        except re.error as exc:
            raise ToolError(f"Invalid regular expression {args.pattern!r}: {exc}.") from exc
        if args.glob:
            _check_pattern(args.glob, "glob")
        base = resolve_in_workspace(ctx.workspace, args.path)
        rel_base = relative_display(ctx.workspace, base)
        if not base.exists():
            raise ToolError(f"{rel_base} does not exist.")
        results, skipped, truncated = await asyncio.to_thread(self._search, regex, base, args, ctx)
        if ctx.cancelled:
            raise ToolError("grep was cancelled.")
        notes: list[str] = []
        if truncated:
            notes.append(
                f"[Stopped after {len(results)} matches; narrow the pattern, path or glob, or raise max_results.]"
            )
        if skipped:
            notes.append(f"[{skipped} file(s) over {MAX_GREP_FILE_BYTES // (1024 * 1024)} MiB were skipped.]")
        summary = f"grep /{args.pattern}/ in {rel_base}: {len(results)} matches" + ("+" if truncated else "")
        if not results:
            content = f"No matches for /{args.pattern}/ in {rel_base}."
        else:
            content = "\n".join(results)
            if len(content) > _OUTPUT_CHARS:
                content = content[:_OUTPUT_CHARS].rsplit("\n", 1)[0]
                notes.insert(0, "[Output cut; narrow the search to see the rest.]")
        if notes:
            content += "\n\n" + "\n".join(notes)
        return ToolOutput(content=content, summary=summary)

    @staticmethod
    def _search(regex: re.Pattern[str], base: Path, args: GrepArgs, ctx: ToolContext) -> tuple[list[str], int, bool]:
        root = Path(os.path.realpath(ctx.workspace))
        file_filter = compile_glob(args.glob) if args.glob else None
        by_path = bool(args.glob and "/" in args.glob)
        if base.is_file():
            files: Iterator[Path] = iter([base])
        else:
            files = (p for p, is_dir in _walk(root, base, None, ctx) if not is_dir)
        results: list[str] = []
        skipped = 0
        for path in files:
            if ctx.cancelled:
                break
            if file_filter is not None and path != base:
                subject = path.relative_to(base).as_posix() if by_path else path.name
                if not file_filter.match(subject):
                    continue
            try:
                if not path.is_file():
                    continue
                if path.stat().st_size > MAX_GREP_FILE_BYTES:
                    skipped += 1
                    continue
                with open(path, "rb") as handle:
                    if is_binary(handle.read(8192)):
                        continue
                    handle.seek(0)
                    rel = relative_display(root, path)
                    for lineno, raw in enumerate(handle, 1):
                        text = raw.decode("utf-8", "replace").rstrip("\r\n")
                        if regex.search(text):
                            if len(text) > _GREP_LINE_CHARS:
                                text = text[:_GREP_LINE_CHARS] + " [...]"
                            results.append(f"{rel}:{lineno}: {text}")
                            if len(results) >= args.max_results:
                                return results, skipped, True
            except OSError:
                continue  # unreadable file (permissions, vanished): skip like grep -s
        return results, skipped, False
