"""File tools: ``read``, ``write``, ``edit`` and ``ls``.

All paths go through :func:`~core.tools.workspace.resolve_in_workspace` first. Blocking
file I/O runs in a worker thread so a large file never stalls the event loop (and with
it the TUI). ``write`` and ``edit`` compute their diff with the same code path as
:meth:`~core.tools.base.Tool.preview`, so what the user approves is what gets written.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agentic_flow.core.errors import ToolError
from agentic_flow.core.tools.base import Tool, ToolContext, ToolOutput
from agentic_flow.core.tools.workspace import refuse_hard_links, relative_display, resolve_in_workspace

__all__ = [
    "ReadTool",
    "WriteTool",
    "EditTool",
    "LsTool",
    "unified_diff",
    "diff_stat",
    "MAX_READ_LINES",
    "MAX_READ_BYTES",
    "MAX_LINE_CHARS",
    "MAX_LS_ENTRIES",
]

MAX_READ_LINES = 2000
MAX_READ_BYTES = 256 * 1024
MAX_LINE_CHARS = 2000
MAX_LS_ENTRIES = 1000
#: Past this size ``read`` stops counting lines after the shown window.
_COUNT_LINES_UP_TO = 64 * 1024 * 1024
#: How much of a tool's diff is echoed back to the model (the full diff is in ``ToolOutput.diff``).
_DIFF_IN_CONTENT = 8000
_SNIFF = 8192

_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+\Z")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def is_binary(head: bytes) -> bool:
    """A NUL byte in the first bytes means binary (what git and grep do)."""
    return b"\0" in head[:_SNIFF]


def _split_lines(text: str) -> list[str]:
    # str.splitlines would also split on form feeds and other separators that are
    # ordinary characters inside a source file; diffs must split on "\n" only.
    return _LINE_RE.findall(text)


def unified_diff(old: str, new: str, display_path: str, *, created: bool = False) -> str:
    """A git-style unified diff of ``old`` -> ``new`` (empty when nothing changed)."""
    lines = difflib.unified_diff(
        _split_lines(old),
        _split_lines(new),
        fromfile="/dev/null" if created else f"a/{display_path}",
        tofile=f"b/{display_path}",
    )
    out: list[str] = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def diff_stat(diff: str) -> tuple[int, int]:
    """(added, removed) line counts of a unified diff, ignoring the file headers."""
    added = removed = 0
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            added += 1
        elif in_hunk and line.startswith("-"):
            removed += 1
    return added, removed


def _clip_diff(diff: str) -> str:
    if len(diff) <= _DIFF_IN_CONTENT:
        return diff
    return diff[:_DIFF_IN_CONTENT] + f"\n[diff truncated: {len(diff) - _DIFF_IN_CONTENT} more characters]\n"


def _read_text_for_change(path: Path, rel: str) -> str:
    """Current content of a file about to be changed; refuses what a text edit would corrupt."""
    data = path.read_bytes()
    if is_binary(data):
        raise ToolError(f"{rel} is a binary file; it cannot be edited as text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"{rel} is not valid UTF-8 (byte {exc.start}); editing it as text would corrupt it."
        ) from exc


# --------------------------------------------------------------------------- read


class ReadArgs(_Args):
    path: str = Field(min_length=1, description="File to read, relative to the workspace root.")
    offset: int = Field(1, ge=1, description="First line to show, 1-based.")
    limit: int = Field(
        MAX_READ_LINES, ge=1, description=f"Number of lines to show (at most {MAX_READ_LINES})."
    )


@dataclass
class _Window:
    lines: list[str]
    first: int
    last: int
    total: int | None  # None: the file is too large to count every line
    clipped_lines: int
    hit_byte_cap: bool


def _read_window(path: Path, offset: int, limit: int, rel: str) -> _Window:
    shown: list[str] = []
    size = 0
    lineno = 0
    clipped = 0
    hit_cap = False
    total: int | None = None
    big = path.stat().st_size > _COUNT_LINES_UP_TO
    with open(path, "rb") as handle:
        if is_binary(handle.read(_SNIFF)):
            raise ToolError(f"{rel} is a binary file; read only shows text files.")
        handle.seek(0)
        for raw in handle:
            lineno += 1
            if lineno < offset:
                continue
            if len(shown) >= limit or hit_cap:
                if big:
                    break
                continue
            text = raw.decode("utf-8", "replace").removesuffix("\n").removesuffix("\r")
            if len(text) > MAX_LINE_CHARS:
                text = text[:MAX_LINE_CHARS] + f" [... line cut, {len(text)} characters in all]"
                clipped += 1
            line = f"{lineno:6}\t{text}"
            if size + len(line) + 1 > MAX_READ_BYTES and shown:
                hit_cap = True
                if big:
                    break
                continue
            shown.append(line)
            size += len(line) + 1
        else:
            total = lineno
    return _Window(shown, offset, offset + len(shown) - 1, total, clipped, hit_cap)


class ReadTool(Tool):
    name = "read"
    kind = "read"
    description = (
        "Read a text file in the workspace. Output has line numbers like `cat -n` "
        f"(number, tab, text). Shows up to {MAX_READ_LINES} lines / {MAX_READ_BYTES // 1024} KiB "
        "per call; use offset and limit to read other parts of a long file."
    )
    args_model = ReadArgs

    async def execute(self, args: ReadArgs, ctx: ToolContext) -> ToolOutput:
        path = resolve_in_workspace(ctx.workspace, args.path)
        rel = relative_display(ctx.workspace, path)
        if not path.exists():
            raise ToolError(f"{rel} does not exist.")
        if path.is_dir():
            raise ToolError(f"{rel} is a directory; use ls to list it.")
        limit = min(args.limit, MAX_READ_LINES)
        win = await asyncio.to_thread(_read_window, path, args.offset, limit, rel)
        if win.total == 0:
            return ToolOutput(content=f"({rel} is empty)", summary=f"read {rel} (empty)")
        if not win.lines:
            raise ToolError(f"{rel} has {win.total} lines; offset {args.offset} is past the end.")
        notes: list[str] = []
        more = win.total is None or win.last < win.total
        of_total = f" of {win.total}" if win.total is not None else ""
        if more:
            why = f" (output is capped at {MAX_READ_BYTES // 1024} KiB)" if win.hit_byte_cap else ""
            notes.append(
                f"[Showing lines {win.first}-{win.last}{of_total}{why}. "
                f"To read more, call read with offset={win.last + 1}.]"
            )
        if win.clipped_lines:
            notes.append(f"[{win.clipped_lines} line(s) longer than {MAX_LINE_CHARS} characters were cut.]")
        content = "\n".join(win.lines) + ("\n\n" + "\n".join(notes) if notes else "")
        return ToolOutput(content=content, summary=f"read {rel} (lines {win.first}-{win.last}{of_total})")


# -------------------------------------------------------------------------- write


class WriteArgs(_Args):
    path: str = Field(min_length=1, description="File to create or overwrite, relative to the workspace root.")
    content: str = Field(description="The complete new content of the file.")


@dataclass
class _Change:
    """A planned file change: computed once, used by both preview and execute."""

    path: Path
    rel: str
    old: str | None  # None: the file does not exist yet
    new: str
    diff: str
    replacements: int = 0


class WriteTool(Tool):
    name = "write"
    kind = "edit"
    description = (
        "Create a file or replace its whole content. Parent directories are created. "
        "Prefer edit for changing part of an existing file."
    )
    args_model = WriteArgs

    def _plan(self, args: WriteArgs, ctx: ToolContext) -> _Change:
        path = resolve_in_workspace(ctx.workspace, args.path)
        rel = relative_display(ctx.workspace, path)
        if path.is_dir():
            raise ToolError(f"{rel} is a directory; give a file path.")
        refuse_hard_links(path, rel)
        old: str | None = None
        if path.exists():
            data = path.read_bytes()
            old = "" if is_binary(data) else data.decode("utf-8", "replace")
        return _Change(path, rel, old, args.content, unified_diff(old or "", args.content, rel, created=old is None))

    def render_preview(self, args: WriteArgs, ctx: ToolContext) -> str | None:
        change = self._plan(args, ctx)
        return change.diff or f"(no change: {change.rel} already has this content)"

    async def execute(self, args: WriteArgs, ctx: ToolContext) -> ToolOutput:
        change = await asyncio.to_thread(self._plan, args, ctx)
        await asyncio.to_thread(_write_file, change.path, change.new)
        added, removed = diff_stat(change.diff)
        n_lines = len(_split_lines(change.new))
        if change.old is None:
            content = f"Created {change.rel} ({_lines(n_lines)})."
            summary = f"created {change.rel} (+{added})"
        elif not change.diff:
            content = f"{change.rel} already had this content; nothing changed."
            summary = f"wrote {change.rel} (unchanged)"
        else:
            content = f"Updated {change.rel} (+{added} -{removed}); it now has {_lines(n_lines)}."
            summary = f"wrote {change.rel} (+{added} -{removed})"
        return ToolOutput(content=content, summary=summary, diff=change.diff or None)


def _lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def _write_file(path: Path, text: str) -> None:
    # The resolved path lies inside the workspace, so do all of its missing parents.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


# --------------------------------------------------------------------------- edit


class EditArgs(_Args):
    path: str = Field(min_length=1, description="File to edit, relative to the workspace root.")
    old_string: str = Field(
        min_length=1, description="Exact text to replace, including whitespace; must occur once unless replace_all."
    )
    new_string: str = Field(description="Text to put in its place.")
    replace_all: bool = Field(False, description="Replace every occurrence instead of exactly one.")


class EditTool(Tool):
    name = "edit"
    kind = "edit"
    description = (
        "Replace exact text in an existing file. old_string must match the file exactly "
        "(indentation included) and be unique, unless replace_all is true. Read the file first."
    )
    args_model = EditArgs

    def _plan(self, args: EditArgs, ctx: ToolContext) -> _Change:
        path = resolve_in_workspace(ctx.workspace, args.path)
        rel = relative_display(ctx.workspace, path)
        if not path.exists():
            raise ToolError(f"{rel} does not exist; use write to create a new file.")
        if path.is_dir():
            raise ToolError(f"{rel} is a directory, not a file.")
        refuse_hard_links(path, rel)
        if args.old_string == args.new_string:
            raise ToolError("old_string and new_string are identical; there is nothing to change.")
        text = _read_text_for_change(path, rel)
        old_s, new_s = args.old_string, args.new_string
        count = text.count(old_s)
        if count == 0 and "\r\n" in text and "\n" in old_s:
            # Models send "\n"; Windows-style files have "\r\n". Match in the file's style.
            old_s = old_s.replace("\r\n", "\n").replace("\n", "\r\n")
            new_s = new_s.replace("\r\n", "\n").replace("\n", "\r\n")
            count = text.count(old_s)
        if count == 0:
            raise ToolError(
                f"old_string was not found in {rel}. It must match the file exactly, including "
                "whitespace and indentation; read the file again and copy the text."
            )
        if count > 1 and not args.replace_all:
            raise ToolError(
                f"old_string occurs {count} times in {rel}; it must be unique. Include more "
                "surrounding lines to pick one occurrence, or set replace_all to true to change all of them."
            )
        new_text = text.replace(old_s, new_s) if args.replace_all else text.replace(old_s, new_s, 1)
        replaced = count if args.replace_all else 1
        return _Change(path, rel, text, new_text, unified_diff(text, new_text, rel), replaced)

    def render_preview(self, args: EditArgs, ctx: ToolContext) -> str | None:
        return self._plan(args, ctx).diff

    async def execute(self, args: EditArgs, ctx: ToolContext) -> ToolOutput:
        change = await asyncio.to_thread(self._plan, args, ctx)
        await asyncio.to_thread(_write_file, change.path, change.new)
        added, removed = diff_stat(change.diff)
        times = f"{change.replacements} occurrences" if change.replacements != 1 else "1 occurrence"
        content = f"Edited {change.rel}: replaced {times} (+{added} -{removed}).\n\n{_clip_diff(change.diff)}"
        return ToolOutput(content=content, summary=f"edited {change.rel} (+{added} -{removed})", diff=change.diff)


# ----------------------------------------------------------------------------- ls


class LsArgs(_Args):
    path: str = Field(".", description="Directory to list, relative to the workspace root.")


def _list_dir(path: Path) -> list[str]:
    entries: list[str] = []
    with os.scandir(path) as it:
        for entry in it:
            is_dir = entry.is_dir()  # follows symlinks: a link to a directory looks like one
            name = entry.name + ("/" if is_dir else "")
            if entry.is_symlink():
                name += f" -> {os.readlink(entry.path)}"
            entries.append(name)
    entries.sort()
    return entries


class LsTool(Tool):
    name = "ls"
    kind = "read"
    description = (
        f"List a directory in the workspace (sorted; directories end with '/'; at most {MAX_LS_ENTRIES} entries)."
    )
    args_model = LsArgs

    async def execute(self, args: LsArgs, ctx: ToolContext) -> ToolOutput:
        path = resolve_in_workspace(ctx.workspace, args.path)
        rel = relative_display(ctx.workspace, path)
        if not path.exists():
            raise ToolError(f"{rel} does not exist.")
        if not path.is_dir():
            return ToolOutput(content=path.name, summary=f"listed {rel}")
        entries = await asyncio.to_thread(_list_dir, path)
        if not entries:
            return ToolOutput(content=f"({rel} is empty)", summary=f"listed {rel} (empty)")
        shown = entries[:MAX_LS_ENTRIES]
        content = "\n".join(shown)
        if len(entries) > len(shown):
            content += (
                f"\n\n[{len(entries) - len(shown)} more entries not shown; "
                "use glob with a pattern to narrow the listing.]"
            )
        return ToolOutput(content=content, summary=f"listed {rel} ({len(entries)} entries)")
