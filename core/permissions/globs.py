"""The two pattern languages rules use: path globs and command wildcards.

Path globs (``edit(src/**)``, ``read(**/.env)``) are matched segment by segment so that
``*`` and ``?`` never cross a ``/`` while a whole ``**`` segment spans any number of
directories (zero included). ``fnmatch`` alone would let ``src/*`` match
``src/a/b/c.py``, which is exactly the over-broad allow a rule author does not expect.

Command wildcards (``bash(git status*)``) are simpler: ``*`` matches any text, spaces
included, and everything else is literal, because ``?`` and ``[`` are ordinary
characters in shell commands. ``\\*`` and ``\\\\`` escape a literal star / backslash
so that rules written for an exact command (the "always" answer) stay exact.
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

__all__ = [
    "path_match",
    "command_match",
    "command_pattern_is_literal",
    "command_pattern_literal_text",
    "escape_command",
    "escape_path",
    "normalize_space",
    "normalize_blanks",
    "command_pattern_literal",
    "path_pattern_is_catch_all",
]

_SPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]+")


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace so ``git  status`` and ``git status`` compare equal."""
    return _SPACE.sub(" ", text).strip()


def normalize_blanks(text: str) -> str:
    """Collapse spaces and tabs but keep newlines: in a whole command line a newline
    separates commands, so ``a\nb`` must never equal ``a b``."""
    return _BLANKS.sub(" ", text).strip()


# ---------------------------------------------------------------- path globs


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s not in ("", "."))


def path_match(pattern: str, path: str, *, ignore_case: bool = False) -> bool:
    """Whether ``path`` matches the glob ``pattern``.

    Both are ``/``-separated; absolute patterns only match absolute paths and relative
    patterns only relative ones, so ``/etc/**`` never matches the workspace's ``etc/``.
    ``ignore_case`` is used for deny rules, where matching ``.ENV`` as ``.env`` on a
    case-insensitive file system is the safe mistake.
    """
    if pattern.startswith("/") != path.startswith("/"):
        return False
    if ignore_case:
        pattern, path = pattern.casefold(), path.casefold()
    return _match_segments(_segments(pattern), _segments(path))


@lru_cache(maxsize=4096)
def _match_segments(pat: tuple[str, ...], segs: tuple[str, ...]) -> bool:
    @lru_cache(maxsize=None)
    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(segs)
        if pat[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(segs) + 1))
        if j == len(segs):
            return False
        return fnmatch.fnmatchcase(segs[j], pat[i]) and match(i + 1, j + 1)

    return match(0, 0)


def path_pattern_is_catch_all(pattern: str) -> bool:
    """A pattern made of wildcards only (``**``, ``*/**``) names no file in particular."""
    return not re.sub(r"[*?/.\[\]!]", "", pattern)


def escape_path(path: str) -> str:
    """A glob that matches exactly ``path`` (wildcard characters bracketed)."""
    return re.sub(r"([*?\[])", r"[\1]", path)


# ---------------------------------------------------------------- command wildcards


def _split_command_pattern(pattern: str) -> list[str | None]:
    """Literal chunks and ``None`` for each unescaped ``*``."""
    out: list[str | None] = []
    buf: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            buf.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            out.append("".join(buf))
            buf = []
            out.append(None)
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


@lru_cache(maxsize=2048)
def _command_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    pattern = normalize_space(pattern)
    chunks = _split_command_pattern(pattern)
    # "pytest *" also matches a bare "pytest": a trailing " *" means "these words,
    # then optionally more", which is what people mean and keeps a word boundary.
    optional_tail = (
        len(chunks) >= 3
        and chunks[-1] == ""
        and chunks[-2] is None
        and isinstance(chunks[-3], str)
        and chunks[-3].endswith(" ")
    )
    if optional_tail:
        head = chunks[:-2]
        last = head[-1]
        assert isinstance(last, str)
        head[-1] = last[:-1]
        body = "".join(".*" if c is None else re.escape(c) for c in head) + r"(?: .*)?"
    else:
        body = "".join(".*" if c is None else re.escape(c) for c in chunks)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(body, flags)


def command_match(pattern: str, command: str, *, ignore_case: bool = False) -> bool:
    """Whether one simple command matches a ``bash(...)`` pattern (whitespace-insensitive)."""
    return _command_regex(pattern, ignore_case).fullmatch(normalize_space(command)) is not None


def command_pattern_is_literal(pattern: str) -> bool:
    """True when the pattern has no unescaped ``*`` (it names one exact command)."""
    return None not in _split_command_pattern(pattern)


def command_pattern_literal_text(pattern: str) -> str:
    """The pattern's literal text with each wildcard replaced by a space."""
    return normalize_space("".join(" " if c is None else c for c in _split_command_pattern(pattern)))


def escape_command(command: str) -> str:
    """A command pattern that matches exactly ``command`` (``*`` and ``\\`` escaped)."""
    return normalize_blanks(command).replace("\\", "\\\\").replace("*", "\\*")


def command_pattern_literal(pattern: str) -> str | None:
    """The exact command a wildcard-free pattern names (escapes undone), else None."""
    chunks = _split_command_pattern(pattern)
    return None if None in chunks else normalize_blanks("".join(c for c in chunks if c is not None))
