"""Enough of a shell parser to decide permissions on a command line.

A rule like ``bash(git status*)`` must not allow ``git status; rm -rf ~``. So a command
is split into the simple commands bash would run — on ``;``, ``&&``, ``||``, ``|``,
``&``, newlines and subshell parentheses, respecting quotes and escapes — and the
commands hidden inside it are parts too: ``$(...)``, backticks, ``<(...)``/``>(...)``,
``${x:-$(...)}``, unquoted here-document bodies, ``sh -c '...'``, ``eval ...`` and
``find -exec ... ;``. The engine then requires EVERY part to match an allow rule and
denies when ANY part matches a deny rule.

It is deliberately conservative where bash is subtle: ``#`` comments are not
recognised (text after ``#`` is treated as code), ``$((...))`` is treated as a
substitution, and anything unterminated is reported in ``problems`` (which makes allow
rules fail). Over-splitting only ever costs an extra question, never a silent allow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from agentic_flow.core.permissions.globs import normalize_space

__all__ = [
    "Redirect",
    "CommandPart",
    "ShellAnalysis",
    "analyze_command",
    "split_command",
    "command_chain",
    "deny_forms",
    "word_variants",
    "has_unsafe_characters",
    "basename",
    "MAX_DEPTH",
]

MAX_DEPTH = 8

#: Reserved words that may start a simple command without being the command.
_RESERVED = frozenset(
    {"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "time", "esac"}
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")
_INPUT_OPS = frozenset({"<", "<<", "<<-", "<<<", "<&"})

#: Commands that run another command: name -> (options taking a value, positionals before it).
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "command": (frozenset(), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "nohup": (frozenset(), 0),
    "time": (frozenset({"-f", "-o"}), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "env": (frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}), 0),
    "sudo": (
        frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"})
        | frozenset({"--user", "--group", "--host", "--prompt", "--chdir"}),
        0,
    ),
    "doas": (frozenset({"-u", "-C"}), 0),
    "pkexec": (frozenset({"--user"}), 0),
    "timeout": (frozenset({"-s", "-k", "--signal", "--kill-after"}), 1),
    "xargs": (
        frozenset({"-I", "-d", "-E", "-e", "-L", "-l", "-n", "-P", "-s", "-a"})
        | frozenset({"--arg-file", "--delimiter", "--max-args", "--max-procs", "--replace", "--max-lines"}),
        0,
    ),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), 0),
    "ionice": (frozenset({"-c", "-n", "-p"}), 0),
    "setsid": (frozenset(), 0),
    "watch": (frozenset({"-n", "--interval"}), 0),
    "strace": (frozenset({"-o", "-e", "-p", "-s", "-u"}), 0),
    "unbuffer": (frozenset(), 0),
    "busybox": (frozenset(), 0),
    "chroot": (frozenset(), 1),
    "flock": (frozenset({"-w", "--wait", "--timeout", "-E", "--conflict-exit-code"}), 1),
    "chrt": (frozenset(), 1),
    "taskset": (frozenset(), 1),
    "unshare": (frozenset({"-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd"}), 0),
    "nsenter": (frozenset({"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd"}), 0),
    "systemd-run": (
        frozenset({"-p", "--property", "-u", "--unit", "-E", "--setenv", "--uid", "--gid", "--slice", "-M"})
        | frozenset({"--machine", "-H", "--host", "--description", "--working-directory"}),
        0,
    ),
}
#: Commands whose option's value is a whole command line: ``flock F -c X``, ``script -c X``,
#: ``env -S X`` (split into words, then run).
_COMMAND_OPTIONS: dict[str, frozenset[str]] = {
    "flock": frozenset({"-c", "--command"}),
    "script": frozenset({"-c", "--command"}),
    "env": frozenset({"-S", "--split-string"}),
}
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "su", "runuser"})


def basename(word: str) -> str:
    """``/usr/bin/rm`` -> ``rm`` (a command's name however it is spelled)."""
    return word.rstrip("/").rsplit("/", 1)[-1] if "/" in word.rstrip("/") else word


@dataclass(frozen=True)
class Redirect:
    """One redirection: ``2>/dev/null`` is ``Redirect(">", "/dev/null", "2")``."""

    op: str
    target: str
    fd: str | None = None

    @property
    def writes(self) -> bool:
        """Whether the target is a file opened for writing (not a here-doc, not fd dup)."""
        if self.op in _INPUT_OPS:
            return False
        if self.op in (">&", "<&") and (self.target.isdigit() or self.target == "-"):
            return False
        return True


@dataclass(frozen=True)
class CommandPart:
    """One simple command bash would run.

    Attributes:
        text: the command as written (reserved words such as ``then`` removed,
            whitespace collapsed): what allow rules are matched against.
        words: the de-quoted words (``'rm'`` -> ``rm``), redirections removed.
        raw_words: the same words as written.
        redirects: the command's redirections.
        origin: ``command``, ``$(...)``, ```...```, ``<(...)``, ``>(...)``, ``sh -c``,
            ``eval``, ``find -exec`` or ``here-doc``.
        depth: how deeply nested (0 = top level).
        parent: index (in ``ShellAnalysis.parts``) of the command it is nested in.
    """

    text: str
    words: tuple[str, ...]
    raw_words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()
    origin: str = "command"
    depth: int = 0
    parent: int | None = None

    @property
    def executable(self) -> str:
        return self.words[0] if self.words else ""


@dataclass(frozen=True)
class ShellAnalysis:
    """The result of ``analyze_command``.

    Attributes:
        command: the analysed text.
        parts: every simple command, nested ones included.
        pipelines: each pipeline as a tuple of stages; a stage is the part indexes of one
            side of a ``|`` (a subshell stage may hold several).
        problems: syntax bash would trip on (unterminated quotes, ...); allow rules
            never match a command with problems.
    """

    command: str
    parts: tuple[CommandPart, ...]
    pipelines: tuple[tuple[tuple[int, ...], ...], ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def has_substitution(self) -> bool:
        return any(p.depth > 0 for p in self.parts)

    def ancestors(self, index: int) -> list[int]:
        out: list[int] = []
        parent = self.parts[index].parent
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.parts[parent].parent
        return out


# ---------------------------------------------------------------- scanner internals


@dataclass
class _Draft:
    tokens: list[tuple[str, int, int]] = field(default_factory=list)  # (kind, start, end)
    words: list[tuple[str, str]] = field(default_factory=list)  # (raw, value)
    redirects: list[Redirect] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    pending_op: tuple[str, str | None, int] | None = None  # (op, fd, start)
    index: int | None = None
    heredocs: list[tuple[str, bool, bool]] = field(default_factory=list)  # (delim, quoted, strip_tabs)


class _Builder:
    """Shared output of all scanners working on one command."""

    def __init__(self) -> None:
        self.parts: list[CommandPart] = []
        self.pipelines: list[tuple[tuple[int, ...], ...]] = []
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


_ANSI_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "?": "?",
}
_ANSI = re.compile(r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)


def _decode_ansi_c(body: str) -> str:
    """Decode ``$'...'`` escapes, so ``$'\\x72m'`` is seen as ``rm``."""

    def sub(m: re.Match[str]) -> str:
        esc = m.group(1)
        try:
            if esc[0] in "xuU":
                return chr(int(esc[1:], 16))
            if esc[0] in "01234567":
                return chr(int(esc, 8))
        except (ValueError, OverflowError):
            return m.group(0)
        if esc[0] == "c" and len(esc) == 2:
            return chr(ord(esc[1]) & 0x1F)
        return _ANSI_ESCAPES.get(esc, m.group(0))

    return _ANSI.sub(sub, body)


class _Scanner:
    def __init__(self, src: str, out: _Builder, depth: int) -> None:
        self.src = src
        self.n = len(src)
        self.pos = 0
        self.out = out
        self.depth = depth
        self.pending_heredocs: list[_Draft] = []

    # ------------------------------------------------------------ lists of commands

    def parse_list(self, closer: str | None, origin: str) -> list[int]:
        """Parse commands until ``closer`` (or the end); return the parts created here."""
        created: list[int] = []
        stages: list[tuple[int, ...]] = []
        cmd = _Draft()
        stage_start = len(self.out.parts)

        def end_command(pipe: bool) -> None:
            nonlocal cmd, stage_start
            self._finish(cmd, origin, created)
            stage = tuple(range(stage_start, len(self.out.parts)))
            if not stage and pipe and created:
                stage = (created[-1],)  # "{ curl x; } | sh": the group's last command feeds the pipe
            if stage:
                stages.append(stage)
            if not pipe:
                if len(stages) > 1:
                    self.out.pipelines.append(tuple(stages))
                stages.clear()
            cmd = _Draft()
            stage_start = len(self.out.parts)

        while True:
            self._skip_blanks()
            if self.pos >= self.n:
                if closer:
                    self.out.problem(f"unterminated {origin}")
                end_command(False)
                return created
            ch = self.src[self.pos]
            nxt = self.src[self.pos + 1] if self.pos + 1 < self.n else ""
            if closer and ch == closer:
                self.pos += 1
                end_command(False)
                return created
            if ch == "\n":
                self.pos += 1
                end_command(False)
                self._read_heredoc_bodies()
            elif ch == ";":
                self.pos += 1
                while self.pos < self.n and self.src[self.pos] in ";&":
                    self.pos += 1
                end_command(False)
            elif ch == "&" and nxt == "&":
                self.pos += 2
                end_command(False)
            elif ch == "&" and nxt == ">":
                self._redirect_op(cmd)
            elif ch == "&":
                self.pos += 1
                end_command(False)
            elif ch == "|" and nxt == "|":
                self.pos += 2
                end_command(False)
            elif ch == "|":
                self.pos += 2 if nxt == "&" else 1
                end_command(True)
            elif ch == "(":
                self.pos += 1
                end_command(False)
                created.extend(self.parse_list(")", "subshell" if origin == "command" else origin))
            elif ch == ")":
                self.out.problem("unbalanced ')'")
                self.pos += 1
                end_command(False)
            elif ch in "<>" and nxt != "(":
                self._redirect_op(cmd)
            else:
                start = self.pos
                raw, value, children = self._read_word()
                cmd.children.extend(children)
                self._add_word(cmd, raw, value, start)

    def _skip_blanks(self) -> None:
        while self.pos < self.n:
            ch = self.src[self.pos]
            if ch in " \t":
                self.pos += 1
            elif ch == "\\" and self.src.startswith("\\\n", self.pos):
                self.pos += 2
            else:
                return

    def _redirect_op(self, cmd: _Draft) -> None:
        start = self.pos
        for op in ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", "<", ">>", ">|", ">&", ">"):
            if self.src.startswith(op, self.pos):
                break
        self.pos += len(op)
        fd: str | None = None
        # "2>": a number written right before the operator is the file descriptor.
        if cmd.words and cmd.tokens and cmd.tokens[-1][0] == "word" and cmd.tokens[-1][2] == start:
            raw, _ = cmd.words[-1]
            if raw.isdigit():
                cmd.words.pop()
                _, fd_start, _ = cmd.tokens.pop()
                fd, start = raw, fd_start
        if cmd.pending_op is not None:
            self.out.problem(f"redirection '{cmd.pending_op[0]}' without a target")
        cmd.pending_op = (op, fd, start)

    def _add_word(self, cmd: _Draft, raw: str, value: str, start: int) -> None:
        if cmd.pending_op is not None:
            op, fd, op_start = cmd.pending_op
            cmd.pending_op = None
            cmd.redirects.append(Redirect(op, value, fd))
            cmd.tokens.append(("redirect", op_start, self.pos))
            if op in ("<<", "<<-"):
                quoted = raw != value or any(q in raw for q in "'\"\\")
                cmd.heredocs.append((value, quoted, op == "<<-"))
                if cmd not in self.pending_heredocs:
                    self.pending_heredocs.append(cmd)
            return
        cmd.words.append((raw, value))
        cmd.tokens.append(("word", start, self.pos))

    def _finish(self, cmd: _Draft, origin: str, created: list[int]) -> None:
        if cmd.pending_op is not None:
            self.out.problem(f"redirection '{cmd.pending_op[0]}' without a target")
            cmd.pending_op = None
        words = list(cmd.words)
        tokens = list(cmd.tokens)
        # Drop leading reserved words ("then rm -rf x" runs rm).
        while words and words[0][0] in _RESERVED and words[0][0] == words[0][1]:
            words.pop(0)
            first_word = next(i for i, t in enumerate(tokens) if t[0] == "word")
            tokens.pop(first_word)
        if not words and not cmd.redirects:
            created.extend(c for c in cmd.children if c not in created)  # keep them adoptable
            return
        start = min(t[1] for t in tokens)
        end = max(t[2] for t in tokens)
        part = CommandPart(
            text=normalize_space(self.src[start:end]),
            words=tuple(v for _, v in words),
            raw_words=tuple(r for r, _ in words),
            redirects=tuple(cmd.redirects),
            origin=origin,
            depth=self.depth,
        )
        index = len(self.out.parts)
        self.out.parts.append(part)
        cmd.index = index
        created.append(index)
        self._adopt(cmd.children, index)
        self._nested_commands(part, index)

    def _adopt(self, children: list[int], parent: int) -> None:
        for child in children:
            if self.out.parts[child].parent is None:
                old = self.out.parts[child]
                self.out.parts[child] = CommandPart(
                    old.text, old.words, old.raw_words, old.redirects, old.origin, old.depth, parent
                )

    # ------------------------------------------------------------ words

    def _read_word(self) -> tuple[str, str, list[int]]:
        start = self.pos
        value: list[str] = []
        children: list[int] = []
        while self.pos < self.n:
            ch = self.src[self.pos]
            nxt = self.src[self.pos + 1] if self.pos + 1 < self.n else ""
            if ch in " \t\n;&|()":
                break
            if ch in "<>":
                if nxt != "(":
                    break
                children += self._substitution(value, 2, ")", f"{ch}(...)")
            elif ch == "\\":
                if nxt == "\n":
                    self.pos += 2
                elif nxt:
                    value.append(nxt)
                    self.pos += 2
                else:
                    value.append("\\")
                    self.pos += 1
            elif ch == "'":
                end = self.src.find("'", self.pos + 1)
                if end < 0:
                    self.out.problem("unterminated single quote")
                    end = self.n
                value.append(self.src[self.pos + 1 : end])
                self.pos = min(end + 1, self.n)
            elif ch == '"':
                children += self._double_quoted(value)
            elif ch == "`":
                children += self._backtick(value)
            elif ch == "$":
                children += self._dollar(value, in_double=False)
            else:
                value.append(ch)
                self.pos += 1
        return self.src[start : self.pos], "".join(value), children

    def _dollar(self, value: list[str], *, in_double: bool) -> list[int]:
        nxt = self.src[self.pos + 1] if self.pos + 1 < self.n else ""
        if nxt == "(":
            return self._substitution(value, 2, ")", "$(...)")
        if nxt == "{":
            return self._braced(value)
        if nxt == "'" and not in_double:
            end = self.pos + 2
            while end < self.n and self.src[end] != "'":
                end += 2 if self.src[end] == "\\" else 1
            if end >= self.n:
                self.out.problem("unterminated $'...' quote")
            value.append(_decode_ansi_c(self.src[self.pos + 2 : min(end, self.n)]))
            self.pos = min(end + 1, self.n)
            return []
        if nxt == '"' and not in_double:
            self.pos += 1  # $"..." is a translatable double-quoted string
            return []
        value.append("$")
        self.pos += 1
        return []

    def _substitution(self, value: list[str], skip: int, closer: str, origin: str) -> list[int]:
        start = self.pos
        self.pos += skip
        if self.depth + 1 > MAX_DEPTH:
            self.out.problem("commands nested too deeply")
        inner = _Scanner(self.src, self.out, self.depth + 1)
        inner.pos = self.pos
        created = inner.parse_list(closer, origin)
        self.pos = inner.pos
        value.append(self.src[start : self.pos])
        return created

    def _double_quoted(self, value: list[str]) -> list[int]:
        self.pos += 1
        children: list[int] = []
        while self.pos < self.n:
            ch = self.src[self.pos]
            nxt = self.src[self.pos + 1] if self.pos + 1 < self.n else ""
            if ch == '"':
                self.pos += 1
                return children
            if ch == "\\":
                if nxt == "\n":
                    self.pos += 2
                elif nxt in '$`"\\':
                    value.append(nxt)
                    self.pos += 2
                else:
                    value.append("\\")
                    self.pos += 1
            elif ch == "$":
                children += self._dollar(value, in_double=True)
            elif ch == "`":
                children += self._backtick(value)
            else:
                value.append(ch)
                self.pos += 1
        self.out.problem("unterminated double quote")
        return children

    def _backtick(self, value: list[str]) -> list[int]:
        start = self.pos
        self.pos += 1
        inner: list[str] = []
        while self.pos < self.n and self.src[self.pos] != "`":
            ch = self.src[self.pos]
            if ch == "\\" and self.pos + 1 < self.n and self.src[self.pos + 1] in "`\\$":
                inner.append(self.src[self.pos + 1])
                self.pos += 2
            else:
                inner.append(ch)
                self.pos += 1
        if self.pos >= self.n:
            self.out.problem("unterminated backtick")
        self.pos = min(self.pos + 1, self.n)
        value.append(self.src[start : self.pos])
        return _Scanner("".join(inner), self.out, self.depth + 1).parse_list(None, "`...`")

    def _braced(self, value: list[str]) -> list[int]:
        """``${...}``: not a command, but ``${x:-$(rm -rf ~)}`` hides one."""
        start = self.pos
        self.pos += 2
        level = 1
        children: list[int] = []
        scratch: list[str] = []
        while self.pos < self.n:
            ch = self.src[self.pos]
            if ch == "}":
                level -= 1
                self.pos += 1
                if level == 0:
                    value.append(self.src[start : self.pos])
                    return children
            elif ch == "{":
                level += 1
                self.pos += 1
            elif ch == "\\":
                self.pos += 2
            elif ch == "'":
                end = self.src.find("'", self.pos + 1)
                self.pos = self.n if end < 0 else end + 1
            elif ch == '"':
                children += self._double_quoted(scratch)
            elif ch == "`":
                children += self._backtick(scratch)
            elif ch == "$":
                children += self._dollar(scratch, in_double=True)
            else:
                self.pos += 1
        self.out.problem("unterminated ${...}")
        value.append(self.src[start:])
        return children

    # ------------------------------------------------------------ here-documents

    def _read_heredoc_bodies(self) -> None:
        """Skip here-document bodies after a newline; unquoted ones may hide ``$(...)``."""
        drafts, self.pending_heredocs = self.pending_heredocs, []
        for cmd in drafts:
            for delim, quoted, strip_tabs in cmd.heredocs:
                body_start = self.pos
                found = False
                while self.pos < self.n:
                    end = self.src.find("\n", self.pos)
                    line_end = self.n if end < 0 else end
                    line = self.src[self.pos : line_end]
                    next_pos = line_end + 1 if end >= 0 else self.n
                    if (line.lstrip("\t") if strip_tabs else line) == delim:
                        body = self.src[body_start : self.pos]
                        self.pos = next_pos
                        found = True
                        break
                    self.pos = next_pos
                if not found:
                    body = self.src[body_start:]
                    self.out.problem(f"here-document '{delim}' not terminated")
                if not quoted:
                    children = _Scanner(body, self.out, self.depth)._scan_expansions_only()
                    if cmd.index is not None:
                        self._adopt(children, cmd.index)

    def _scan_expansions_only(self) -> list[int]:
        children: list[int] = []
        scratch: list[str] = []
        while self.pos < self.n:
            ch = self.src[self.pos]
            if ch == "\\":
                self.pos += 2
            elif ch == "$":
                children += self._dollar(scratch, in_double=True)
            elif ch == "`":
                children += self._backtick(scratch)
            else:
                self.pos += 1
        return children

    # ------------------------------------------------------------ commands inside commands

    def _nested_commands(self, part: CommandPart, index: int) -> None:
        for words in command_chain(part.words):
            for origin, text in _command_strings(words):
                if self.depth + 1 > MAX_DEPTH:
                    self.out.problem("commands nested too deeply")
                    return
                created = _Scanner(text, self.out, self.depth + 1).parse_list(None, origin)
                self._adopt(created, index)


def _command_strings(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Command strings another program will run: ``sh -c X``, ``eval X``, ``find -exec``,
    ``flock F -c X``, ``script -c X``, ``env -S X``."""
    if not words:
        return []
    name = basename(words[0])
    out: list[tuple[str, str]] = []
    if name == "eval" and len(words) > 1:
        out.append(("eval", " ".join(words[1:])))
    elif name in _SHELLS:
        seen_c = False
        for word in words[1:]:
            if seen_c and not word.startswith("-"):
                out.append(("sh -c", word))
                break
            if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
                seen_c = True
    elif name in _COMMAND_OPTIONS:
        options = _COMMAND_OPTIONS[name]
        letters = "".join(o[1] for o in options if len(o) == 2)
        for i, word in enumerate(words[1:], 1):
            flag, eq, value = word.partition("=")
            if word.startswith("--"):
                if eq and flag in options:
                    out.append((f"{name} {flag}", value))
                elif word in options and i + 1 < len(words):
                    out.append((f"{name} {word}", words[i + 1]))
            elif word.startswith("-") and (hit := next((c for c in word[1:] if c in letters), None)):
                rest = word[word.index(hit, 1) + 1 :]  # "-qc X" or "-cX"
                if rest or i + 1 < len(words):
                    out.append((f"{name} -{hit}", rest or words[i + 1]))
    elif name == "find":
        i = 0
        while i < len(words):
            if words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
                j = i + 1
                while j < len(words) and words[j] not in (";", "+"):
                    j += 1
                if j > i + 1:
                    out.append(("find -exec", " ".join(words[i + 1 : j])))
                i = j
            i += 1
    return out


# ---------------------------------------------------------------- public helpers


def analyze_command(command: str) -> ShellAnalysis:
    """Split ``command`` into every simple command it would run (see module docstring)."""
    out = _Builder()
    _Scanner(command, out, 0).parse_list(None, "command")
    return ShellAnalysis(command, tuple(out.parts), tuple(out.pipelines), tuple(out.problems))


def split_command(command: str) -> list[str]:
    """The text of each simple command, nested ones included (for display and tests)."""
    return [p.text for p in analyze_command(command).parts]


def command_chain(words: tuple[str, ...] | list[str]) -> list[tuple[str, ...]]:
    """The command and the commands it wraps: ``sudo -u x env A=1 rm -rf y`` gives
    ``(sudo ...)``, ``(env A=1 rm -rf y)``, ``(rm -rf y)``. Leading ``VAR=value``
    assignments are dropped."""
    chain: list[tuple[str, ...]] = []
    rest = list(words)
    for _ in range(MAX_DEPTH):
        while rest and _ASSIGNMENT.match(rest[0]):
            rest.pop(0)
        if not rest:
            break
        chain.append(tuple(rest))
        name = basename(rest[0])
        spec = _WRAPPERS.get(name)
        if spec is None:
            break
        takes_value, positionals = spec
        i = 1
        while i < len(rest):
            arg = rest[i]
            if arg == "--":
                i += 1
                break
            if name == "env" and _ASSIGNMENT.match(arg):
                i += 1
            elif arg.startswith("-") and len(arg) > 1:
                i += 2 if arg in takes_value else 1
            else:
                break
        rest = rest[i + positionals :]
    return chain


_BRACES = re.compile(r"^([^{}]*)\{([^{}]*,[^{}]*)\}([^{}]*)$")
_IFS = re.compile(r"\$\{IFS\}|\$IFS\b")


def word_variants(part: CommandPart) -> list[tuple[str, ...]]:
    """The de-quoted words, plus how bash may rewrite them before running.

    ``{rm,-rf,x}`` brace-expands to ``rm -rf x`` and ``rm${IFS}-rf`` word-splits to
    ``rm -rf``; both are classic ways to hide a command from naive matching.
    """
    variants = [part.words]
    expanded: list[str] = []
    for word in part.words:
        split = _IFS.sub(" ", word)
        for piece in split.split(" ") if split != word else [word]:
            m = _BRACES.match(piece)
            if m:
                expanded.extend(m[1] + alt + m[3] for alt in m[2].split(","))
            else:
                expanded.append(piece)
    if tuple(expanded) != part.words:
        variants.append(tuple(w for w in expanded if w))
    return variants


@lru_cache(maxsize=4096)
def deny_forms(part: CommandPart) -> frozenset[str]:
    """Every spelling of ``part`` a deny rule should be tried against.

    Raw and de-quoted text (``'rm'``, ``r"m"``, ``\\rm`` are all ``rm``), brace and
    ``$IFS`` rewrites, each wrapped command (``sudo rm``, ``env X=1 rm``), the
    command's basename (``/bin/rm``), and the NFKC-normalised form of all of these.
    """
    forms = {part.text}
    for variant in word_variants(part):
        forms.add(normalize_space(" ".join(variant)))
        for words in command_chain(variant):
            forms.add(normalize_space(" ".join(words)))
            name = basename(words[0])
            if name != words[0]:
                forms.add(normalize_space(" ".join((name, *words[1:]))))
    forms |= {unicodedata.normalize("NFKC", f) for f in forms}
    forms.discard("")
    return frozenset(forms)


def has_unsafe_characters(text: str) -> bool:
    """Invisible or control characters (bidi overrides, zero-width, NUL, CR...).

    They make what a person reads differ from what runs, so no allow rule may match.
    """
    for ch in text:
        if ch in "\t\n":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"):
            return True
    return False
