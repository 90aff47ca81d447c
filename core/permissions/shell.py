"""Read a command line the way bash would, to decide permissions on it.

The command is parsed with the real bash grammar (``tree-sitter-bash``, as Codex does)
and split into the simple commands bash would run (``CommandPart``): the ones joined by
``;``, ``&&``, ``||``, ``|``, ``&`` and newlines, the ones inside subshells, groups,
loops and conditions, and the ones hidden inside words and strings: ``$(...)``,
backticks, ``<(...)``, ``${x:-$(...)}``, unquoted here-document bodies, ``sh -c '...'``,
``eval``, ``find -exec``, a literal ``echo '...' | bash``, ``bash <<'EOF'`` bodies and
``alias`` values. The engine requires EVERY part to match an allow rule and denies when
ANY part matches a deny rule.

Three levels, per command line (see ``ShellAnalysis``):

* **plain** — every part is a simple command whose words are literals, quoted strings
  or plain ``$VAR`` / ``${VAR}``, joined by ``;``, ``&&``, ``||``, ``|`` (subshells and
  ``{ }`` groups allowed), with redirections to literal files. Only plain commands can
  be approved by an allow rule (``not_plain`` says why a command is not).
* **transparent** — not plain, but everything it runs is visible to the analysis:
  ``$(...)`` and backticks, loops and conditions, ``[[ ]]``, background jobs, globs as
  the command name. A mode (``auto``) may approve these; deny rules see every part.
* **opaque** — constructs that run code the analysis cannot see or that bash itself
  evaluates from data: parameter operators (``${x:=..}``, ``${x@P}``, ``${!x}``), arrays
  and subscripts, arithmetic (``$((..))``, ``$[..]``, ``((..))``, ``let``, ``[[ -eq ]]``,
  ``test -v``, ``printf -v``), process substitution, here-documents and here-strings,
  pipes into an interpreter, ``eval``, ``source``/``.``, ``alias``, function
  definitions, ``coproc``, ``time``, ``trap``, variables that make bash run code
  (``BASH_ENV``, ``PROMPT_COMMAND``, ``LD_PRELOAD``...), and text that does not parse.
  Neither a rule nor a mode approves them: they ask (denied headless, with the reason).
  Only a wildcard-free rule naming the whole command line (what a person's "always"
  answer writes) covers one: a person read every character of it.

``OPAQUE_CLASSES`` lists each opaque class with commands it must and must not flag
(``match`` / ``not_match``), and a test runs every example: the table is the spec.
"""

from __future__ import annotations

import codecs
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

import tree_sitter_bash
from tree_sitter import Language, Node, Parser, Tree

from agentic_flow.core.permissions.globs import normalize_space

__all__ = [
    "Word",
    "Redirect",
    "CommandPart",
    "ShellAnalysis",
    "ShellClass",
    "OPAQUE_CLASSES",
    "INTERPRETERS",
    "SHELLS",
    "analyze_command",
    "split_command",
    "command_chain",
    "deny_forms",
    "word_variants",
    "has_unsafe_characters",
    "basename",
    "is_interpreter",
    "render_words",
    "brace_rewrite",
    "MAX_DEPTH",
]

MAX_DEPTH = 8

# ---------------------------------------------------------------- vocabulary

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "busybox"})
_INTERPRETER_RE = re.compile(
    r"^(sh|bash|zsh|dash|ksh|mksh|ash|fish|csh|tcsh|busybox|python[\d.]*|pypy[\d.]*|perl[\d.]*|ruby[\d.]*"
    r"|node|nodejs|deno|bun|php[\d.]*|lua[\d.]*|luajit|tclsh|wish|Rscript|osascript|pwsh|powershell|awk|gawk"
    r"|mawk|nawk|jshell|irb|ghci|julia|elixir|erl|scala|groovy|swift|guile|racket|sbcl|clisp)$"
)
INTERPRETERS = _INTERPRETER_RE  # a compiled pattern: INTERPRETERS.match(name)

#: Commands that run another command: name -> (options taking a value, positionals before it).
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "command": (frozenset(), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "nohup": (frozenset(), 0),
    "time": (frozenset({"-f", "-o", "--format", "--output"}), 0),
    "coproc": (frozenset(), 0),
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
    "watch": (frozenset({"-n", "--interval", "-d"}), 0),
    "strace": (frozenset({"-o", "-e", "-p", "-s", "-u"}), 0),
    "ltrace": (frozenset({"-o", "-e", "-p", "-s", "-u"}), 0),
    "unbuffer": (frozenset(), 0),
    "chroot": (frozenset(), 1),
    "flock": (frozenset({"-w", "--wait", "--timeout", "-E", "--conflict-exit-code"}), 1),
    "chrt": (frozenset(), 1),
    "taskset": (frozenset(), 1),
    "caffeinate": (frozenset(), 0),
    "unshare": (frozenset({"-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd"}), 0),
    "nsenter": (frozenset({"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-R", "--root", "-w", "--wd"}), 0),
    "systemd-run": (
        frozenset({"-p", "--property", "-u", "--unit", "-E", "--setenv", "--uid", "--gid", "--slice", "-M"})
        | frozenset({"--machine", "-H", "--host", "--description", "--working-directory"}),
        0,
    ),
    "firejail": (frozenset(), 0),
    "proxychains": (frozenset({"-f"}), 0),
    "torsocks": (frozenset(), 0),
    "catchsegv": (frozenset(), 0),
    "valgrind": (frozenset(), 0),
}
#: Commands whose option's value is a whole command line: ``flock F -c X``, ``script -c X``,
#: ``env -S X`` (split into words, then run), ``su -c X``.
_COMMAND_OPTIONS: dict[str, frozenset[str]] = {
    "flock": frozenset({"-c", "--command"}),
    "script": frozenset({"-c", "--command"}),
    "env": frozenset({"-S", "--split-string"}),
    "su": frozenset({"-c", "--command"}),
    "runuser": frozenset({"-c", "--command"}),
}
#: Variables that make bash or the dynamic loader run code of their own choosing.
_CODE_VARIABLES = re.compile(
    r"^(BASH_ENV|ENV|PROMPT_COMMAND|PS0|PS1|PS2|PS4|SHELLOPTS|BASHOPTS|IFS|LD_PRELOAD|LD_AUDIT|LD_LIBRARY_PATH"
    r"|BASH_LOADABLES_PATH|BASH_FUNC_.*|GLOBIGNORE|EXECIGNORE|BASH_XTRACEFD|HISTFILE|PYTHONSTARTUP|PERL5OPT"
    r"|NODE_OPTIONS|GIT_SSH_COMMAND|GIT_SSH|GIT_EXTERNAL_DIFF|GIT_PAGER|PAGER|EDITOR|VISUAL|GIT_EDITOR"
    r"|GIT_CONFIG_.*|GIT_EXEC_PATH|GIT_ASKPASS|SSH_ASKPASS|LESSOPEN|LESSCLOSE|MANPAGER|RUBYOPT|PYTHONPATH)$"
)
#: Builtins that take variable NAMES: a name like ``a[$(cmd)]`` runs ``cmd``.
_NAME_TAKERS = frozenset({"read", "unset", "getopts", "mapfile", "readarray", "wait", "declare", "typeset",
                          "local", "export", "readonly", "printf"})
_ARITH_TEST_OPS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_SPECIAL_VARS = frozenset("?!$#@*-0123456789_")


def basename(word: str) -> str:
    """``/usr/bin/rm`` -> ``rm`` (a command's name however it is spelled)."""
    stripped = word.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if "/" in stripped else word


def is_interpreter(name: str) -> bool:
    """A shell or a language interpreter that runs a program it is given (``bash``, ``python3``)."""
    return bool(_INTERPRETER_RE.match(basename(name)))


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Word:
    """One shell word, in pieces.

    ``pieces`` are ``(kind, text)``: ``lit`` (quoting removed), ``var`` (a plain
    ``$NAME``), ``special`` (``$?``, ``$1``, ``$@``...), ``tilde`` (a leading ``~``), ``dyn``
    (anything computed when the command runs: ``$(...)``, ``${x:-y}``, ``$((...))``).
    """

    raw: str
    pieces: tuple[tuple[str, str], ...]
    glob: bool = False
    brace: bool = False

    @property
    def value(self) -> str:
        """The word with quoting removed; expansions kept as written (``$HOME/x``)."""
        out: list[str] = []
        for kind, text in self.pieces:
            if kind == "lit":
                out.append(text)
            elif kind == "var":
                out.append("$" + text)
            elif kind == "special":
                out.append("$" + text)
            elif kind == "tilde":
                out.append("~" + text)
            else:
                out.append(text)
        return "".join(out)

    @property
    def literal(self) -> bool:
        """Nothing in it is expanded (globs and braces aside)."""
        return all(kind == "lit" for kind, _ in self.pieces)

    @property
    def computed(self) -> bool:
        """Part of it is the output of code run when the command runs."""
        return any(kind == "dyn" for kind, _ in self.pieces)

    @property
    def plain(self) -> bool:
        """Literals, quoted strings, plain variables and ``~``: what an allow rule may cover."""
        return not self.computed and not self.brace


@dataclass(frozen=True)
class Redirect:
    """One redirection: ``2>/dev/null`` is ``Redirect(">", "/dev/null", "2")``."""

    op: str
    target: str
    fd: str | None = None
    word: Word | None = field(default=None, compare=False, repr=False)

    @property
    def writes(self) -> bool:
        """Whether the target is a file opened for writing (not a here-doc, not fd dup)."""
        if self.op in ("<", "<<", "<<-", "<<<", "<&"):
            return False
        if self.op in (">&", "<&") and (self.target.isdigit() or self.target in ("-", "")):
            return False
        return True

    @property
    def reads(self) -> bool:
        """Whether a file is opened for reading (``< file``, ``<> file``)."""
        return self.op in ("<", "<>")


@dataclass(frozen=True)
class CommandPart:
    """One simple command bash would run.

    Attributes:
        text: the command as written, whitespace collapsed, redirections included.
        words: the de-quoted words (``'rm'`` -> ``rm``), prefix assignments included.
        raw_words: the same words as written.
        redirects: the command's redirections (and those of a group it is in).
        origin: ``command``, ``$(...)``, ```...```, ``<(...)``, ``>(...)``, ``sh -c``,
            ``eval``, ``find -exec``, ``here-doc``, ``| bash`` (text piped into a shell),
            ``alias NAME``, ``function NAME``...
        depth: how deeply nested (0 = top level).
        parent: index (in ``ShellAnalysis.parts``) of the command it is nested in.
        word_info: a ``Word`` per word (``words[i]`` is ``word_info[i].value``).
        resolved: the words with aliases and links made earlier in the same command
            line substituted (``alias r='rm -rf'; r x`` -> ``rm -rf x``), else ``words``.
        not_plain: why an allow rule cannot cover this command.
        opaque: why neither a rule nor a mode may approve it.
    """

    text: str
    words: tuple[str, ...]
    raw_words: tuple[str, ...]
    redirects: tuple[Redirect, ...] = ()
    origin: str = "command"
    depth: int = 0
    parent: int | None = None
    word_info: tuple[Word, ...] = field(default=(), compare=False, repr=False)
    resolved: tuple[str, ...] = field(default=(), compare=False, repr=False)
    not_plain: tuple[str, ...] = field(default=(), compare=False)
    opaque: tuple[str, ...] = field(default=(), compare=False)

    @property
    def executable(self) -> str:
        chain = command_chain(self.words)
        return chain[-1][0] if chain else ""

    @property
    def assignments_only(self) -> bool:
        """``X=1`` or ``export X=1``: sets variables, runs nothing."""
        return not command_chain(self.resolved or self.words) or (
            self.words[0] in ("export", "local", "declare", "typeset", "readonly") and not self.opaque
        )

    @property
    def plain(self) -> bool:
        return not self.not_plain and not self.opaque


@dataclass(frozen=True)
class ShellAnalysis:
    """The result of ``analyze_command``.

    Attributes:
        command: the analysed text.
        parts: every simple command, nested ones included, in the order bash meets them.
        pipelines: each pipeline as a tuple of stages; a stage is the part indexes of one
            side of a ``|`` (a subshell stage may hold several).
        problems: syntax bash would trip on (the parser's errors).
        not_plain: why no allow rule can cover the command (for the whole line: a loop,
            a background job... and every part's own reasons).
        opaque: why neither a rule nor a mode may approve it (problems included).
        assignments: ``NAME -> Word`` for every variable the line sets, in order.
    """

    command: str
    parts: tuple[CommandPart, ...]
    pipelines: tuple[tuple[tuple[int, ...], ...], ...] = ()
    problems: tuple[str, ...] = ()
    not_plain: tuple[str, ...] = ()
    opaque: tuple[str, ...] = ()

    @property
    def has_substitution(self) -> bool:
        return any(p.depth > 0 for p in self.parts)

    @property
    def plain(self) -> bool:
        return not self.problems and not self.not_plain and not self.opaque

    def ancestors(self, index: int) -> list[int]:
        out: list[int] = []
        parent = self.parts[index].parent
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.parts[parent].parent
        return out


# ---------------------------------------------------------------- the classes, with examples


@dataclass(frozen=True)
class ShellClass:
    """One kind of construct the analysis treats specially, with its examples.

    ``match`` commands must show ``reason`` (in ``opaque`` or ``not_plain`` as ``level``
    says); ``not_match`` commands must not. ``tests/test_permissions_shell.py`` runs them.
    """

    reason: str
    level: str  # "opaque" or "not_plain"
    match: tuple[str, ...]
    not_match: tuple[str, ...] = ()


R_PARAM = "parameter expansion with an operator (${x:-..}, ${x@P}, ${!x}, ${#x}...)"
R_SUBSCRIPT = "array or subscript (a[i], ${a[i]}, x=(...))"
R_ARITH = "arithmetic ($((..)), $[..], ((..)), let, for ((..)))"
R_ARITH_TEST = "arithmetic comparison in [[ ]] (-eq, -lt...) or a -v test (they evaluate variable contents)"
R_NAME_ARG = "a builtin that assigns or tests a variable by name (printf -v, read, unset, declare -n...)"
R_PROCSUB = "process substitution (<(...), >(...))"
R_HEREDOC = "here-document or here-string (<<, <<<)"
R_PIPE_INTERP = "text piped into an interpreter (| bash, | python, xargs sh)"
R_EVAL = "eval (runs a string as code)"
R_SOURCE = "source or . (runs a file in this shell)"
R_ALIAS = "alias definition"
R_FUNCTION = "function definition"
R_COPROC = "coproc"
R_TIME = "time"
R_TRAP = "trap, enable, hash -p or fc (run code or change what a name runs)"
R_CODE_VAR = "sets a variable that makes bash or a program run code (BASH_ENV, PROMPT_COMMAND, LD_PRELOAD, PAGER...)"
R_DYNAMIC_STRING = "runs a command string built when the command runs (sh -c \"$X\", eval $X)"
R_UNPARSABLE = "the command does not parse as bash"
R_UNKNOWN = "shell syntax the permission check does not know"

N_SUBST = "a word is the output of a command ($(...) or `...`)"
N_CONTROL = "control flow (if, for, while, case, [[ ]])"
N_BACKGROUND = "a background job (&)"
N_GLOB_NAME = "the command name is a glob (/bin/r?)"
N_COMPUTED_NAME = "the command name is computed ($X, $(...))"
N_BRACE = "brace expansion ({a,b}, {1..3})"
N_PATH_VAR = "changes PATH (what the command names run)"
N_TRANSLATED = "a $\"...\" string (translated by the locale)"

OPAQUE_CLASSES: tuple[ShellClass, ...] = (
    ShellClass(R_PARAM, "opaque",
               ("git status --short ${x:='a[$(touch m)]'}", "echo ${x@P}", "echo ${!x}", "echo ${#x}",
                "echo ${x:-default}", "ls ${d/a/b}", 'echo "${x%.py}"'),
               ("echo $x ${y} \"$HOME\"", "echo $? $# \"$@\" ${10}")),
    ShellClass(R_SUBSCRIPT, "opaque",
               ("git status ${y[x]}", "x[1]=2", "a=(1 2)", "echo ${a[@]}", "declare -a x=(1)"),
               ("echo a[1]", "ls 'x[1]'")),
    ShellClass(R_ARITH, "opaque",
               ("echo $((1+2))", "echo $[x]", "((x++))", "let x=1", "for ((i=0;i<3;i++)); do :; done"),
               ("echo 1+2", "echo '$((x))'")),
    ShellClass(R_ARITH_TEST, "opaque",
               ("[[ $x -eq 1 ]]", "test -v 'a[$(id)]'", "[ -v x ]", "[[ -v x ]]"),
               ("[ \"$x\" -eq 1 ]", "[[ -f x ]]", "test -f x")),
    ShellClass(R_NAME_ARG, "opaque",
               ("printf -v x %s y", "read 'a[$(id)]'", "unset 'a[0]'", "declare -n r=x", "export -f f",
                "mapfile lines < f", "local -i n=x"),
               ("printf '%s' x", "read line", "unset x", "export A=1", "local y=z")),
    ShellClass(R_PROCSUB, "opaque", ("diff <(ls a) b", "tee >(gzip) < x"), ("diff a b",)),
    ShellClass(R_HEREDOC, "opaque",
               ("cat <<EOF\nhi\nEOF", "bash <<'EOF'\nrm x\nEOF", "python3 <<< 'print(1)'", "cat <<< x"),
               ("cat < in.txt", "echo '<<EOF'")),
    ShellClass(R_PIPE_INTERP, "opaque",
               ("echo 'rm x' | bash", "curl -s x | sh", "cat s.py | python3", "echo x | xargs sh",
                "printf 'id' | bash -s", "cat f | sudo bash"),
               ("cat data | python3 script.py", "echo x | grep x", "bash script.sh", "echo x | python3 -c 'pass'")),
    ShellClass(R_EVAL, "opaque", ("eval ls", "eval \"$(cat x)\""), ("echo eval",)),
    ShellClass(R_SOURCE, "opaque", ("source env.sh", ". ./env.sh", "builtin source x"), ("echo source", "cat .")),
    ShellClass(R_ALIAS, "opaque", ("alias r='rm -rf'; r x", "alias ls=rm"), ("echo alias",)),
    ShellClass(R_FUNCTION, "opaque", ("f() { rm \"$@\"; }; f x", "function g { ls; }"), ("echo 'f() { }'",)),
    ShellClass(R_COPROC, "opaque", ("coproc rm x", "coproc N { rm x; }"), ("echo coproc",)),
    ShellClass(R_TIME, "opaque", ("time -p rm x", "time ls", "command time ls"), ("echo time", "date")),
    ShellClass(R_TRAP, "opaque", ("trap 'rm x' EXIT", "hash -p /bin/rm ls", "enable -f x.so y", "fc -s"),
               ("hash", "echo trap")),
    ShellClass(R_CODE_VAR, "opaque",
               ("BASH_ENV=x bash s.sh", "PROMPT_COMMAND='rm x'", "LD_PRELOAD=./x.so ls", "export IFS=x",
                "GIT_EXTERNAL_DIFF=./x git diff", "PAGER='sh -c id' git log"),
               ("FOO=1 ls", "export A=1", "LANG=C sort x")),
    ShellClass(R_DYNAMIC_STRING, "opaque", ("sh -c \"$X\"", "bash -c \"rm $(cat f)\"", "eval $CMD"),
               ("sh -c 'ls'", "bash -lc \"git status\"")),
    ShellClass(R_UNPARSABLE, "opaque", ("echo 'oops", "echo \"oops", "echo $(oops", "a )", "if then"),
               ("echo 'ok'", "(a) && b")),
    ShellClass(N_SUBST, "not_plain", ("echo $(whoami)", "git status `id`", "x=$(id); echo $x"),
               ("echo whoami", "echo '$(id)'")),
    ShellClass(N_CONTROL, "not_plain",
               ("if true; then ls; fi", "for f in a b; do echo $f; done", "while false; do :; done",
                "case x in a) ls;; esac", "[[ -f x ]] && ls", "[ -f x ]"),
               ("true && ls", "(ls)", "{ ls; }")),
    ShellClass(N_BACKGROUND, "not_plain", ("sleep 1 & wait", "ls &"), ("ls && ls", "ls |& cat", "echo '&'")),
    ShellClass(N_GLOB_NAME, "not_plain", ("/bin/r? x", "/???/[r]m x", "r* x"), ("ls *.py", "echo '/bin/r?'")),
    ShellClass(N_COMPUTED_NAME, "not_plain", ("$X -rf x", "\"$(which rm)\" x", "${CMD} x"), ("echo $X",)),
    ShellClass(N_BRACE, "not_plain", ("echo {a,b}", "touch f{1..3}", "cp x{,.bak}"), ("echo '{a,b}'", "echo {}")),
    ShellClass(N_PATH_VAR, "not_plain", ("PATH=./bin:$PATH ls", "export PATH=/tmp:$PATH; ls"),
               ("echo $PATH", "MYPATH=x ls")),
)


# ---------------------------------------------------------------- parser


_local = threading.local()


def _parser() -> Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = Parser(_language())
        _local.parser = parser
    return parser


@lru_cache(maxsize=1)
def _language() -> Language:
    return Language(tree_sitter_bash.language())


# tree-sitter-bash 0.25.1 reads the character after ``{`` (and after ``{1..``, past any
# digits) with C's ``isdigit``, whose table covers only -128..255: a code point above
# that is read out of bounds, and one above U+FFFF can crash the process (``{`` + U+E0000
# does, every time). An agent's command must never crash the workbench, so such runs of
# characters are replaced before parsing by characters in U+0080..U+00FF (plus ASCII
# letters), the same number of UTF-8 bytes: every node keeps its byte offsets, and the
# builder takes all text from the command as written.
_UNSAFE_AFTER_BRACE = re.compile(r"([{.][0-9]*)([^\x00-\xff]+)")


def _filler(match: re.Match[str]) -> str:
    size = len(match.group(2).encode("utf-8"))
    return match.group(1) + "\u00e9" * (size // 2) + "a" * (size % 2)


def _parse(text: str) -> Tree:
    """The syntax tree of ``text`` (see ``_UNSAFE_AFTER_BRACE``); byte offsets are ``text``'s."""
    safe = _UNSAFE_AFTER_BRACE.sub(_filler, text)
    return _parser().parse(safe.encode("utf-8"))


def _decode_ansi_c(body: str) -> str:
    """The value of ``$'...'`` (``\\x72`` -> ``r``, ``\\162`` -> ``r``, ``\\n``...)."""
    try:
        return codecs.decode(re.sub(r"\\([0-7]{1,3})", lambda m: f"\\x{int(m[1], 8):02x}", body), "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return body


def _unescape_unquoted(text: str) -> tuple[str, bool]:
    """Remove backslashes outside quotes; also say whether an unquoted glob character is left."""
    out: list[str] = []
    glob = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        if ch in "*?[":
            glob = True
        out.append(ch)
        i += 1
    return "".join(out), glob


def _unescape_double(text: str) -> str:
    return re.sub(r"\\([$`\"\\\n])", lambda m: "" if m[1] == "\n" else m[1], text)


_BRACE_RE = re.compile(r"\{[^{}\s]*(,|\.\.)[^{}\s]*\}")


class _Builder:
    """Walks the syntax tree; collects parts, pipelines, problems and reasons."""

    def __init__(self, src: str, resolve_exe: Callable[[str], str | None] | None) -> None:
        self.src = src.encode("utf-8")
        self.parts: list[CommandPart] = []
        self.pipelines: list[tuple[tuple[int, ...], ...]] = []
        self.problems: list[str] = []
        self.not_plain: list[str] = []
        self.opaque: list[str] = []
        self.aliases: dict[str, tuple[str, ...]] = {}
        self.links: dict[str, str] = {}
        self.resolve_exe = resolve_exe

    # ------------------------------------------------------------ helpers

    def text(self, node: Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def flag(self, reason: str, opaque: bool, sink: list[str] | None = None) -> None:
        target = sink if sink is not None else (self.opaque if opaque else self.not_plain)
        if reason not in target:
            target.append(reason)

    # ------------------------------------------------------------ statements

    def walk_root(self, root: Node, origin: str, depth: int, parent: int | None) -> list[int]:
        if depth > MAX_DEPTH:
            self.problem("commands nested too deeply")
            return []
        if root.has_error:
            self.problem("the command does not parse as bash" + _error_hint(root, self))
        return self.statement(root, origin, depth, parent, ())

    def problem(self, text: str) -> None:
        generic = "the command does not parse as bash"
        if text == generic and any(p.startswith(generic) for p in self.problems):
            pass
        elif text not in self.problems:
            self.problems.append(text)
        self.flag(R_UNPARSABLE, True)

    def statement(
        self, node: Node, origin: str, depth: int, parent: int | None, redirects: tuple[Redirect, ...]
    ) -> list[int]:
        """Parts created for ``node`` and everything below it (in source order)."""
        kind = node.type
        if node.is_missing:
            self.problem("the command does not parse as bash" + f" (missing '{kind}')")
            return []
        if kind in ("program", "list", "subshell", "ERROR"):
            if kind == "ERROR":
                self.problem("the command does not parse as bash")
            return self.children_statements(node, origin, depth, parent, redirects)
        if kind == "compound_statement":
            first = node.children[0].type if node.children else ""
            if first == "((":
                self.flag(R_ARITH, True)
                return self.nested_in(node, origin, depth, parent)
            return self.children_statements(node, origin, depth, parent, redirects)
        if kind == "pipeline":
            return self.pipeline(node, origin, depth, parent, redirects)
        if kind == "redirected_statement":
            return self.redirected(node, origin, depth, parent, redirects)
        if kind == "command":
            return self.command(node, origin, depth, parent, redirects)
        if kind == "negated_command":
            return self.children_statements(node, origin, depth, parent, redirects)
        if kind in ("variable_assignment", "variable_assignments"):
            return self.assignment_statement(node, origin, depth, parent)
        if kind == "declaration_command" or kind == "unset_command":
            return self.command(node, origin, depth, parent, redirects)
        if kind in ("if_statement", "elif_clause", "else_clause", "while_statement", "for_statement",
                    "case_statement", "case_item", "do_group", "select_statement"):
            self.flag(N_CONTROL, False)
            created: list[int] = []
            for child in node.children:
                if child.type in ("word", "concatenation", "string", "raw_string", "simple_expansion", "expansion",
                                  "number", "variable_name", "command_substitution", "ansi_c_string",
                                  "arithmetic_expansion", "process_substitution", "extglob_pattern"):
                    self.word(child, depth, parent, created)  # for-lists, case subjects/patterns
                elif child.is_named:
                    created += self.statement(child, origin, depth, parent, redirects)
            return created
        if kind == "test_command":
            self.flag(N_CONTROL, False)
            self.test_command(node)
            return self.nested_in(node, origin, depth, parent)
        if kind == "c_style_for_statement":
            self.flag(R_ARITH, True)
            created = []
            for child in node.children:
                if child.type in ("do_group", "compound_statement"):
                    created += self.statement(child, origin, depth, parent, redirects)
            return created
        if kind == "function_definition":
            self.flag(R_FUNCTION, True)
            name = node.child_by_field_name("name")
            body = node.child_by_field_name("body")
            label = f"function {self.text(name)}" if name is not None else "function"
            return self.statement(body, label, depth, parent, redirects) if body is not None else []
        if kind == "comment" or not node.is_named:
            if kind == "&":
                self.flag(N_BACKGROUND, False)
            return []
        if kind in ("heredoc_body", "heredoc_start", "heredoc_end", "heredoc_content"):
            return []
        self.flag(R_UNKNOWN + f" ({kind})", True)
        return self.nested_in(node, origin, depth, parent)

    def children_statements(
        self, node: Node, origin: str, depth: int, parent: int | None, redirects: tuple[Redirect, ...]
    ) -> list[int]:
        created: list[int] = []
        for child in _flat_children(node):
            if child.type == "&":
                self.flag(N_BACKGROUND, False)
            elif child.is_named or child.type == "ERROR":
                created += self.statement(child, origin, depth, parent, redirects)
        return created

    def nested_in(self, node: Node, origin: str, depth: int, parent: int | None) -> list[int]:
        """Commands hidden anywhere below ``node`` (substitutions in test expressions...)."""
        created: list[int] = []
        for child in node.children:
            if child.type in ("command_substitution", "process_substitution"):
                self.word(child, depth, parent, created)
            elif child.type in ("heredoc_body",):
                continue
            elif child.type in ("command", "pipeline", "list", "redirected_statement", "subshell",
                                "compound_statement", "if_statement", "for_statement", "while_statement"):
                created += self.statement(child, origin, depth, parent, ())
            else:
                created += self.nested_in(child, origin, depth, parent)
        return created

    def pipeline(
        self, node: Node, origin: str, depth: int, parent: int | None, redirects: tuple[Redirect, ...]
    ) -> list[int]:
        stages: list[tuple[int, ...]] = []
        created: list[int] = []
        for child in node.children:
            if child.is_named:
                made = self.statement(child, origin, depth, parent, redirects)
                top = tuple(i for i in made if self.parts[i].depth == depth)
                stages.append(top)
                created += made
        self.record_pipeline(stages, depth)
        return created

    def record_pipeline(self, stages: list[tuple[int, ...]], depth: int) -> None:
        stages = [s for s in stages if s]
        if len(stages) < 2:
            return
        self.pipelines.append(tuple(stages))
        for position, stage in enumerate(stages[1:], 1):
            for index in stage:
                part = self.parts[index]
                chain = command_chain(part.resolved or part.words)
                if not chain:
                    continue
                if _reads_program_from_stdin(chain):
                    self.flag(R_PIPE_INTERP, True)
                    feeder = stages[position - 1]
                    text = self.literal_output(feeder)
                    if text is not None:
                        self.nested_text(text, f"| {basename(chain[-1][0])}", depth + 1, index)

    def literal_output(self, stage: tuple[int, ...]) -> str | None:
        """What ``echo 'rm x'`` / ``printf 'rm x\\n'`` print, when it is literal."""
        if len(stage) != 1:
            return None
        part = self.parts[stage[0]]
        chain = command_chain(part.words)
        if not chain or not all(w.literal for w in part.word_info):
            return None
        words = chain[-1]
        name = basename(words[0])
        if name == "echo":
            args = [w for w in words[1:] if w not in ("-n", "-e", "-E", "-ne", "-en")]
            return " ".join(args)
        if name == "printf" and len(words) > 1:
            return _decode_ansi_c(words[1]).replace("%s", " ".join(words[2:]))
        return None

    def redirected(
        self, node: Node, origin: str, depth: int, parent: int | None, redirects: tuple[Redirect, ...]
    ) -> list[int]:
        body = node.child_by_field_name("body")
        own: list[Redirect] = []
        extra_args: list[Node] = []
        heredocs: list[Node] = []
        trailing: list[Node] = []
        texts: list[str] = []
        for child in node.children:
            if child == body:
                continue
            if child.type == "file_redirect":
                redirect, extra = self.file_redirect(child)
                if redirect is not None:
                    own.append(redirect)
                    texts.append(self.text(child) if not extra else self.text(child).split()[0])
                extra_args += extra
            elif child.type == "heredoc_redirect":
                heredocs.append(child)
                own.append(self.heredoc_redirect(child))
                start = next((c for c in child.children if c.type == "heredoc_start"), None)
                texts.append(child.children[0].type + (self.text(start) if start is not None else ""))
                for sub in child.children:
                    if sub.type == "file_redirect":
                        redirect, extra = self.file_redirect(sub)
                        if redirect is not None:
                            own.append(redirect)
                            texts.append(self.text(sub))
                        extra_args += extra
                    elif sub.is_named and sub.type not in ("heredoc_start", "heredoc_body", "heredoc_end"):
                        trailing.append(sub)
            elif child.type == "herestring_redirect":
                own.append(self.herestring(child))
                texts.append(self.text(child))
            elif child.is_named:
                trailing.append(child)
        all_redirects = redirects + tuple(own)
        if body is None:
            return []
        if body.type == "command":
            created = self.command(body, origin, depth, parent, redirects, extra_args, tuple(own), tuple(texts))
        else:
            if extra_args:
                self.problem("the command does not parse as bash (words after a redirection of a group)")
            created = self.statement(body, origin, depth, parent, all_redirects)
        first = [i for i in created if self.parts[i].depth == depth]
        for heredoc in heredocs:
            self.heredoc_bodies(heredoc, depth, first[0] if first else parent)
        for sub in trailing:  # "cat <<EOF | sh" / "cat <<EOF && x": the grammar nests what follows
            if sub.type == "pipeline":
                stages = [tuple(first)]
                for child in sub.children:
                    if child.is_named:
                        made = self.statement(child, origin, depth, parent, ())
                        created += made
                        stages.append(tuple(i for i in made if self.parts[i].depth == depth))
                self.record_pipeline(stages, depth)
            else:
                created += self.statement(sub, origin, depth, parent, ())
        return created

    def test_command(self, node: Node) -> None:
        """``[[ $x -eq 1 ]]`` and ``-v`` evaluate a variable's contents as arithmetic."""
        double = bool(node.children) and node.children[0].type == "[["
        for op, operands in _test_operands(self, node):
            if op == "-v":
                self.flag(R_ARITH_TEST, True)
            elif op in _ARITH_TEST_OPS and double and any(o.type != "number" for o in operands):
                self.flag(R_ARITH_TEST, True)
        for child in _descend(node):
            if child.type == "arithmetic_expansion":
                self.flag(R_ARITH, True)
            elif child.type == "subscript":
                self.flag(R_SUBSCRIPT, True)
            elif child.type == "expansion":
                inner = [c for c in child.children if c.type not in ("${", "}")]
                if not (len(inner) == 1 and inner[0].type in ("variable_name", "special_variable_name")):
                    self.flag(R_PARAM, True)
            elif child.type == "process_substitution":
                self.flag(R_PROCSUB, True)

    # ------------------------------------------------------------ redirections

    def file_redirect(self, node: Node) -> tuple[Redirect | None, list[Node]]:
        fd: str | None = None
        op = ""
        targets: list[Node] = []
        for child in node.children:
            if child.type == "file_descriptor":
                fd = self.text(child)
            elif not child.is_named:
                op = child.type
            else:
                targets.append(child)
        if not targets:
            if op in (">&-", "<&-"):
                return Redirect(op, "-", fd), []
            self.problem(f"redirection '{op}' without a target")
            return None, []
        created: list[int] = []
        word = self.word(targets[0], 0, None, created, for_redirect=True)
        return Redirect(op, word.value, fd, word), targets[1:]

    def heredoc_redirect(self, node: Node) -> Redirect:
        self.flag(R_HEREDOC, True)
        op = node.children[0].type if node.children else "<<"
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        delim = self.text(start) if start is not None else ""
        return Redirect(op, delim.strip("'\""), None)

    def herestring(self, node: Node) -> Redirect:
        self.flag(R_HEREDOC, True)
        target = next((c for c in node.children if c.is_named), None)
        created: list[int] = []
        word = self.word(target, 0, None, created) if target is not None else Word("", ())
        return Redirect("<<<", word.value, None, word)

    def heredoc_bodies(self, node: Node, depth: int, owner: int | None) -> None:
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        body = next((c for c in node.children if c.type == "heredoc_body"), None)
        if body is None:
            return
        quoted = start is not None and any(q in self.text(start) for q in "'\"\\")
        if not quoted:
            created: list[int] = []
            for child in body.children:
                if child.type in ("command_substitution", "expansion", "arithmetic_expansion", "simple_expansion"):
                    self.word(child, depth, owner, created)
        if owner is not None and owner < len(self.parts):
            chain = command_chain(self.parts[owner].resolved or self.parts[owner].words)
            if chain and _reads_program_from_stdin(chain, heredoc=True):
                self.nested_text(self.text(body), "here-doc", depth + 1, owner)

    # ------------------------------------------------------------ words

    def word(
        self, node: Node, depth: int, parent: int | None, created: list[int], *, for_redirect: bool = False
    ) -> Word:
        """A ``Word`` for ``node``; commands inside it become parts (appended to ``created``)."""
        pieces: list[tuple[str, str]] = []
        flags = {"glob": False, "brace": False}
        self._pieces(node, pieces, flags, depth, parent, created, quoted=False, top=True)
        raw = self.text(node)
        if node.type in ("word", "concatenation") and _BRACE_RE.search(_strip_quoted(raw)):
            flags["brace"] = True
        merged: list[tuple[str, str]] = []
        for kind, text in pieces:
            if merged and kind == "lit" and merged[-1][0] == "lit":
                merged[-1] = ("lit", merged[-1][1] + text)
            else:
                merged.append((kind, text))
        return Word(raw, tuple(merged), flags["glob"], flags["brace"])

    def _pieces(
        self,
        node: Node,
        out: list[tuple[str, str]],
        flags: dict[str, bool],
        depth: int,
        parent: int | None,
        created: list[int],
        *,
        quoted: bool,
        top: bool = False,
    ) -> None:
        kind = node.type
        text = self.text(node)
        if kind == "word" or kind == "number" or kind == "variable_name" and not quoted:
            if not quoted and text.startswith("~") and top and not out:
                head, _, rest = text.partition("/")
                if head == "~":
                    out.append(("tilde", ""))
                    value, glob = _unescape_unquoted(("/" + rest) if "/" in text else "")
                else:
                    out.append(("dyn", head))  # ~user: someone's home
                    value, glob = _unescape_unquoted(("/" + rest) if "/" in text else "")
            else:
                value, glob = _unescape_unquoted(text)
            flags["glob"] = flags["glob"] or glob
            out.append(("lit", value))
        elif kind == "raw_string":
            out.append(("lit", text[1:-1] if len(text) >= 2 else ""))
        elif kind == "ansi_c_string":
            out.append(("lit", _decode_ansi_c(text[2:-1])))
        elif kind == "string":
            for child in node.children:
                if child.type == "string_content":
                    out.append(("lit", _unescape_double(self.text(child))))
                elif child.is_named:
                    self._pieces(child, out, flags, depth, parent, created, quoted=True)
        elif kind == "translated_string":
            self.flag(N_TRANSLATED, False)
            for child in node.children:
                if child.is_named:
                    self._pieces(child, out, flags, depth, parent, created, quoted=True)
        elif kind == "string_content":
            out.append(("lit", _unescape_double(text) if quoted else text))
        elif kind == "concatenation":
            for child in node.children:
                if child.is_named:
                    self._pieces(child, out, flags, depth, parent, created, quoted=quoted, top=top and not out)
                elif child.type == "$":  # $"..." splits into "$" and a string
                    self.flag(N_TRANSLATED, False)
                else:
                    out.append(("lit", self.text(child)))
        elif kind == "simple_expansion":
            name_node = next((c for c in node.children if c.is_named), None)
            name = self.text(name_node) if name_node is not None else ""
            if name_node is not None and name_node.type == "special_variable_name" or name[:1].isdigit():
                out.append(("special", name))
            elif name:
                out.append(("var", name))
            else:
                out.append(("lit", "$"))
        elif kind == "expansion":
            inner = [c for c in node.children if c.type not in ("${", "}")]
            if len(inner) == 1 and inner[0].type == "variable_name":
                name = self.text(inner[0])
                out.append(("special" if name[:1].isdigit() else "var", name))
            elif len(inner) == 1 and inner[0].type in ("special_variable_name", "#", "@", "*", "?", "$", "!", "-"):
                out.append(("special", self.text(inner[0])))
            elif not inner:
                out.append(("lit", text))
            else:
                if any(c.type == "subscript" for c in inner):
                    self.flag(R_SUBSCRIPT, True)
                else:
                    self.flag(R_PARAM, True)
                created += self._subst_below(node, depth, parent)
                out.append(("dyn", text))
        elif kind == "command_substitution":
            self.flag(N_SUBST, False)
            origin = "`...`" if text.startswith("`") else "$(...)"
            created += self._substitution(node, origin, depth, parent)
            out.append(("dyn", text))
        elif kind == "process_substitution":
            self.flag(R_PROCSUB, True)
            created += self._substitution(node, text[:2] + "...)", depth, parent)
            out.append(("dyn", text))
        elif kind == "arithmetic_expansion":
            self.flag(R_ARITH, True)
            created += self._subst_below(node, depth, parent)
            out.append(("dyn", text))
        elif kind == "brace_expression":
            flags["brace"] = True
            out.append(("lit", text))
        elif kind == "extglob_pattern":
            flags["glob"] = True
            out.append(("lit", text))
        elif kind == "special_variable_name":
            out.append(("special", text))
        elif kind == "array":
            self.flag(R_SUBSCRIPT, True)
            created += self._subst_below(node, depth, parent)
            out.append(("dyn", text))
        elif kind == "subscript":
            self.flag(R_SUBSCRIPT, True)
            created += self._subst_below(node, depth, parent)
            out.append(("dyn", text))
        elif kind == "ERROR":
            self.problem("the command does not parse as bash")
            out.append(("dyn", text))
        else:
            self.flag(R_UNKNOWN + f" ({kind})", True)
            created += self._subst_below(node, depth, parent)
            out.append(("dyn", text))

    def _subst_below(self, node: Node, depth: int, parent: int | None) -> list[int]:
        created: list[int] = []
        for child in node.children:
            if child.type in ("command_substitution", "process_substitution"):
                self.word(child, depth, parent, created)
            else:
                created += self._subst_below(child, depth, parent)
        return created

    def _substitution(self, node: Node, origin: str, depth: int, parent: int | None) -> list[int]:
        if depth + 1 > MAX_DEPTH:
            self.problem("commands nested too deeply")
            return []
        created: list[int] = []
        for child in node.children:
            if child.is_named:
                created += self.statement(child, origin, depth + 1, parent, ())
        return created

    # ------------------------------------------------------------ commands

    def assignment_statement(self, node: Node, origin: str, depth: int, parent: int | None) -> list[int]:
        return self.command(node, origin, depth, parent, ())

    def command(
        self,
        node: Node,
        origin: str,
        depth: int,
        parent: int | None,
        redirects: tuple[Redirect, ...],
        extra_args: list[Node] | None = None,
        attached: tuple[Redirect, ...] = (),
        attached_texts: tuple[str, ...] = (),
    ) -> list[int]:
        """One simple command; ``redirects`` come from an enclosing group, ``attached``
        from the statement itself (they are part of its text)."""
        created: list[int] = []
        words: list[Word] = []
        own_redirects = list(redirects) + list(attached)
        part_opaque: list[str] = []
        part_not_plain: list[str] = []
        saved_opaque, saved_not_plain = self.opaque, self.not_plain
        # Reasons found while reading this command's words belong to the command.
        self.opaque, self.not_plain = part_opaque, part_not_plain
        try:
            kind = node.type
            if kind == "variable_assignments":
                children = [c for c in node.children if c.type == "variable_assignment"]
            elif kind == "variable_assignment":
                children = [node]
            else:
                children = list(node.children)
            for child in children:
                if child.type == "variable_assignment":
                    words.append(self.assignment(child, depth, parent, created))
                elif child.type == "command_name":
                    inner = child.children[0] if child.children else child
                    words.append(self.word(inner, depth, parent, created))
                elif child.type == "file_redirect":
                    redirect, extra = self.file_redirect(child)
                    if redirect is not None:
                        own_redirects.append(redirect)
                    for node_extra in extra:
                        words.append(self.word(node_extra, depth, parent, created))
                elif child.type == "herestring_redirect":
                    own_redirects.append(self.herestring(child))
                elif child.type in ("declare", "typeset", "local", "export", "readonly", "unset", "unsetenv"):
                    words.append(Word(child.type, (("lit", child.type),)))
                elif child.type == "$":
                    self.flag(N_TRANSLATED, False)
                elif child.is_named:
                    words.append(self.word(child, depth, parent, created))
            for node_extra in extra_args or []:
                words.append(self.word(node_extra, depth, parent, created))
            if not words:
                return created
            self.classify(words, own_redirects)
        finally:
            self.opaque, self.not_plain = saved_opaque, saved_not_plain
        values = tuple(w.value for w in words)
        raw = tuple(w.raw for w in words)
        text_bits = [self.text(node)]
        if extra_args:
            text_bits += [self.text(n) for n in extra_args]
        text_bits += list(attached_texts)
        resolved = self.resolve(values)
        part = CommandPart(
            text=normalize_space(" ".join(text_bits)),
            words=values,
            raw_words=raw,
            redirects=tuple(own_redirects),
            origin=origin,
            depth=depth,
            parent=parent,
            word_info=tuple(words),
            resolved=resolved,
            not_plain=tuple(part_not_plain),
            opaque=tuple(part_opaque),
        )
        index = len(self.parts)
        self.parts.append(part)
        for nested in created:
            if self.parts[nested].parent == parent and self.parts[nested].depth > depth:
                self._set_parent(nested, index)
        for reason in part_not_plain:
            self.flag(reason, False)
        for reason in part_opaque:
            self.flag(reason, True)
        self.after_command(part, index, depth)
        return [*created, index]

    def _set_parent(self, child: int, parent: int) -> None:
        old = self.parts[child]
        self.parts[child] = CommandPart(
            old.text, old.words, old.raw_words, old.redirects, old.origin, old.depth, parent,
            old.word_info, old.resolved, old.not_plain, old.opaque,
        )

    def assignment(self, node: Node, depth: int, parent: int | None, created: list[int]) -> Word:
        name_node = node.child_by_field_name("name") or (node.children[0] if node.children else None)
        name = self.text(name_node) if name_node is not None else ""
        if name_node is not None and name_node.type == "subscript":
            self.flag(R_SUBSCRIPT, True)
        op = next((c.type for c in node.children if not c.is_named and c.type in ("=", "+=")), "=")
        value_node = node.child_by_field_name("value")
        if value_node is None:
            named = [c for c in node.children if c.is_named and c != name_node]
            value_node = named[0] if named else None
        if value_node is not None and value_node.type == "array":
            self.flag(R_SUBSCRIPT, True)
        value = self.word(value_node, depth, parent, created) if value_node is not None else Word("", ())
        base = name.split("[", 1)[0]
        if _CODE_VARIABLES.match(base):
            self.flag(R_CODE_VAR, True)
        elif base == "PATH":
            self.flag(N_PATH_VAR, False)
        pieces = (("lit", f"{name}{op}"), *value.pieces)
        return Word(self.text(node), pieces, value.glob, value.brace)

    def classify(self, words: list[Word], redirects: list[Redirect]) -> None:
        """Reasons that depend on the command as a whole (its name, its options)."""
        values = tuple(w.value for w in words)
        chain = command_chain(values)
        first_cmd = next((w for w in words if not _ASSIGNMENT.match(w.value)), None)
        if first_cmd is not None:
            if first_cmd.computed or any(k in ("var", "special") for k, _ in first_cmd.pieces):
                self.flag(N_COMPUTED_NAME, False)
            elif first_cmd.glob:
                self.flag(N_GLOB_NAME, False)
        for w in words:
            if w.brace:
                self.flag(N_BRACE, False)
        for link in chain:
            name = basename(link[0])
            args = link[1:]
            if name == "eval":
                self.flag(R_EVAL, True)
                if any(not w.literal for w in words[1:]):
                    self.flag(R_DYNAMIC_STRING, True)
            elif name in ("source", "."):
                self.flag(R_SOURCE, True)
            elif name == "alias":
                self.flag(R_ALIAS, True)
            elif name == "coproc":
                self.flag(R_COPROC, True)
            elif name == "time":
                self.flag(R_TIME, True)
            elif name in ("trap", "enable", "fc") or (name == "hash" and any(a.startswith("-p") for a in args)):
                self.flag(R_TRAP, True)
            elif name == "let":
                self.flag(R_ARITH, True)
            elif name in ("test", "["):
                if "-v" in args:
                    self.flag(R_ARITH_TEST, True)
            if name in _NAME_TAKERS:
                if name == "printf":
                    if any(a == "-v" or a.startswith("-v") for a in args[:1]):
                        self.flag(R_NAME_ARG, True)
                elif name in ("declare", "typeset", "local", "export", "readonly"):
                    if any(a.startswith(("-", "+")) for a in args):
                        self.flag(R_NAME_ARG, True)
                    for a in args:
                        if "[" in a.split("=", 1)[0]:
                            self.flag(R_SUBSCRIPT, True)
                        base = a.split("=", 1)[0]
                        if _CODE_VARIABLES.match(base):
                            self.flag(R_CODE_VAR, True)
                        elif base == "PATH":
                            self.flag(N_PATH_VAR, False)
                elif name in ("mapfile", "readarray"):
                    self.flag(R_NAME_ARG, True)
                elif any("[" in a for a in args) or (name == "read" and any(a.startswith("-") and "a" in a
                                                                                for a in args)):
                    self.flag(R_NAME_ARG, True)
            if name in SHELLS or name in _COMMAND_OPTIONS:
                pass  # command strings are checked in after_command
        for redirect in redirects:
            if redirect.word is not None and not redirect.word.plain:
                self.flag(N_SUBST if redirect.word.computed else N_BRACE, False)

    def resolve(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """Aliases and links made earlier on this line; links found on disk (resolver)."""
        out = list(words)
        i = 0
        while i < len(out) and _ASSIGNMENT.match(out[i]):
            i += 1
        if i >= len(out):
            return tuple(out)
        name = out[i]
        if name in self.aliases:
            out[i : i + 1] = list(self.aliases[name])
        elif "/" in name and (name in self.links or basename(name) in self.links):
            out[i] = self.links.get(name) or self.links[basename(name)]
        elif self.resolve_exe is not None and "/" in name:
            real = self.resolve_exe(name)
            if real and real != basename(name):
                out[i] = real
        return tuple(out)

    def after_command(self, part: CommandPart, index: int, depth: int) -> None:
        """Remember aliases and links; parse command strings the command will run."""
        for words in command_chain(part.resolved or part.words):
            name = basename(words[0])
            if name == "alias":
                for arg in words[1:]:
                    alias, eq, value = arg.partition("=")
                    if eq and alias and not alias.startswith("-"):
                        self.aliases[alias] = tuple(value.split())
                        self.nested_text(value, f"alias {alias}", depth + 1, index)
            elif name in ("ln", "cp", "install", "link"):
                operands = [w for w in words[1:] if not w.startswith("-")]
                if len(operands) == 2:
                    src, dst = operands
                    self.links[dst] = basename(src)
                    self.links[basename(dst)] = basename(src)
        chain = command_chain(part.resolved or part.words)
        for redirect in part.redirects:
            if redirect.op == "<<<" and chain and _reads_program_from_stdin(chain, heredoc=True):
                self.nested_text(redirect.target, "here-string", depth + 1, index)
        word_info = {w.value: w for w in part.word_info}
        for origin, text in _command_strings(part.resolved or part.words):
            info = word_info.get(text)
            if info is not None and not info.literal and origin != "find -exec":
                self.flag(R_DYNAMIC_STRING, True)
                part_reasons = tuple(dict.fromkeys(part.opaque + (R_DYNAMIC_STRING,)))
                old = self.parts[index]
                self.parts[index] = CommandPart(
                    old.text, old.words, old.raw_words, old.redirects, old.origin, old.depth, old.parent,
                    old.word_info, old.resolved, old.not_plain, part_reasons,
                )
            self.nested_text(text, origin, depth + 1, index)

    def nested_text(self, text: str, origin: str, depth: int, parent: int | None) -> list[int]:
        if depth > MAX_DEPTH:
            self.problem("commands nested too deeply")
            return []
        tree = _parse(text)
        inner = _Builder(text, self.resolve_exe)
        inner.aliases = dict(self.aliases)
        inner.links = dict(self.links)
        made = inner.walk_root(tree.root_node, origin, depth, None)
        offset = len(self.parts)
        for part in inner.parts:
            new_parent = part.parent + offset if part.parent is not None else parent
            self.parts.append(
                CommandPart(part.text, part.words, part.raw_words, part.redirects, part.origin, part.depth,
                            new_parent, part.word_info, part.resolved, part.not_plain, part.opaque)
            )
        for pipeline in inner.pipelines:
            self.pipelines.append(tuple(tuple(i + offset for i in stage) for stage in pipeline))
        for problem in inner.problems:
            self.problem(problem)
        for reason in inner.opaque:
            self.flag(reason, True)
        for reason in inner.not_plain:
            self.flag(reason, False)
        return [i + offset for i in made]


def _flat_children(node: Node) -> list[Node]:
    """Children of ``node``, with nested ``list`` nodes (``a && b && c`` nests to the left)
    spliced in without recursion, so a long chain cannot exhaust the stack."""
    if node.type != "list":
        return list(node.children)
    out: list[Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "list":
            stack.extend(reversed(current.children))
        else:
            out.append(current)
    return out


def _error_hint(root: Node, builder: _Builder) -> str:
    node = _first_error(root)
    if node is None:
        return ""
    line, column = node.start_point
    snippet = builder.text(node)[:20].replace("\n", "\\n")
    return f" (near line {line + 1}, column {column + 1}: {snippet!r})" if snippet else ""


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def _strip_quoted(raw: str) -> str:
    """``raw`` with quoted spans and escaped characters blanked (to find unquoted braces)."""
    out: list[str] = []
    i = 0
    quote: str | None = None
    while i < len(raw):
        ch = raw[i]
        if quote:
            if ch == quote:
                quote = None
            elif ch == "\\" and quote == '"':
                i += 1
            out.append(" ")
        elif ch in "'\"":
            quote = ch
            out.append(" ")
        elif ch == "\\":
            out.append("  ")
            i += 1
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _redirect_text(r: Redirect) -> str:
    gap = "" if r.op.startswith("<<") or r.op in (">&", "<&") else " "
    return f"{r.fd or ''}{r.op}{gap}{r.target}".strip()


def _reads_program_from_stdin(chain: list[tuple[str, ...]], *, heredoc: bool = False) -> bool:
    """Whether the command at the end of ``chain`` runs code it reads from stdin."""
    for words in chain:
        name = basename(words[0])
        if name == "xargs" and len(chain) > 1 and any(is_interpreter(w[0]) for w in chain[1:]):
            return True
    words = chain[-1]
    name = basename(words[0])
    if name in ("source", ".", "eval"):
        return len(words) == 1 or words[1] in ("/dev/stdin", "-")
    if not is_interpreter(name):
        return False
    args = words[1:]
    if name in ("awk", "gawk", "mawk", "nawk"):
        return False  # awk's program is an argument; stdin is data
    code_flags = {"-c", "-e", "-E", "-r", "--command", "--eval", "-m", "-p"}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-", "/dev/stdin", "-s"):
            return True
        if arg in code_flags or (arg.startswith("-") and not arg.startswith("--") and arg[-1:] in "ce" and
                                 name in SHELLS | {"perl", "node", "ruby"}):
            return False
        if arg.startswith("-") and name.startswith("python") and arg.lstrip("-")[:1] in ("c", "m"):
            return False
        if not arg.startswith("-"):
            return False  # a script file
        i += 1
    return True


# ---------------------------------------------------------------- test commands


def _test_operands(builder: _Builder, node: Node) -> Iterator[tuple[str, list[Node]]]:
    for child in node.children:
        if child.type in ("binary_expression", "unary_expression"):
            op = next((c for c in child.children if c.type == "test_operator"), None)
            operands = [c for c in child.children if c.is_named and c.type != "test_operator"]
            if op is not None:
                yield builder.text(op), operands
            yield from _test_operands(builder, child)
        elif child.is_named:
            yield from _test_operands(builder, child)


def _descend(node: Node) -> Iterator[Node]:
    for child in node.children:
        yield child
        yield from _descend(child)


# ---------------------------------------------------------------- commands inside commands


def _command_strings(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Command strings another program will run: ``sh -c X``, ``eval X``, ``find -exec``,
    ``flock F -c X``, ``script -c X``, ``env -S X``, ``su -c X``, ``watch X``, ``trap X``."""
    out: list[tuple[str, str]] = []
    for chain_words in command_chain(words):
        if not chain_words:
            continue
        name = basename(chain_words[0])
        if name == "eval" and len(chain_words) > 1:
            out.append(("eval", " ".join(chain_words[1:])))
        elif name == "trap" and len(chain_words) > 2 and not chain_words[1].startswith("-"):
            out.append(("trap", chain_words[1]))
        elif name == "watch":
            continue  # watch's command is the chain's next link already
        elif name in SHELLS:
            seen_c = False
            for word in chain_words[1:]:
                if seen_c and not word.startswith("-"):
                    out.append(("sh -c", word))
                    break
                if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
                    seen_c = True
                if word == "--command":
                    seen_c = True
        elif name in _COMMAND_OPTIONS:
            options = _COMMAND_OPTIONS[name]
            letters = "".join(o[1] for o in options if len(o) == 2)
            for i, word in enumerate(chain_words[1:], 1):
                flag, eq, value = word.partition("=")
                if word.startswith("--"):
                    if eq and flag in options:
                        out.append((f"{name} {flag}", value))
                    elif word in options and i + 1 < len(chain_words):
                        out.append((f"{name} {word}", chain_words[i + 1]))
                elif word.startswith("-") and (hit := next((c for c in word[1:] if c in letters), None)):
                    rest = word[word.index(hit, 1) + 1 :]
                    if rest or i + 1 < len(chain_words):
                        out.append((f"{name} -{hit}", rest or chain_words[i + 1]))
        elif name == "find":
            i = 0
            while i < len(chain_words):
                if chain_words[i] in ("-exec", "-execdir", "-ok", "-okdir"):
                    j = i + 1
                    while j < len(chain_words) and chain_words[j] not in (";", "+", "\\;"):
                        j += 1
                    if j > i + 1:
                        out.append(("find -exec", render_words(chain_words[i + 1 : j])))
                    i = j
                i += 1
    return out


# ---------------------------------------------------------------- public helpers


def analyze_command(command: str, resolve_exe: Callable[[str], str | None] | None = None) -> ShellAnalysis:
    """Every simple command ``command`` would run, and how plain it is (module docstring).

    ``resolve_exe(path)`` may name the program a path executable really is (a symlink
    ``./del -> /bin/rm`` is ``rm``); without it, names are taken as written.
    """
    builder = _Builder(command, resolve_exe)
    tree = _parse(command)
    builder.walk_root(tree.root_node, "command", 0, None)
    not_plain = tuple(dict.fromkeys(builder.not_plain + [r for p in builder.parts for r in p.not_plain]))
    opaque = tuple(dict.fromkeys(builder.opaque + [r for p in builder.parts for r in p.opaque]))
    return ShellAnalysis(command, tuple(builder.parts), tuple(builder.pipelines), tuple(builder.problems),
                         not_plain, opaque)


def split_command(command: str) -> list[str]:
    """The text of each simple command, nested ones included (for display and tests)."""
    return [p.text for p in analyze_command(command).parts]


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=")


def command_chain(words: tuple[str, ...] | list[str]) -> list[tuple[str, ...]]:
    """The command and the commands it wraps: ``sudo -u x env A=1 rm -rf y`` gives
    ``(sudo ...)``, ``(env A=1 rm -rf y)``, ``(rm -rf y)``. Leading ``VAR=value``
    assignments are dropped; ``time -p``, ``coproc NAME {`` and ``command -p`` too."""
    chain: list[tuple[str, ...]] = []
    rest = list(words)
    for _ in range(MAX_DEPTH):
        while rest and _ASSIGNMENT.match(rest[0]):
            rest.pop(0)
        while rest and rest[0] in ("{", "(", "!"):
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
        if name == "coproc" and i + 1 < len(rest) and rest[i + 1] == "{":
            i += 1  # coproc NAME { ...; }
        rest = rest[i + positionals :]
    return chain


_BRACES = re.compile(r"^([^{}]*)\{([^{}]*,[^{}]*)\}([^{}]*)$")
_IFS = re.compile(r"\$\{IFS\}|\$IFS\b")


def word_variants(part: CommandPart) -> list[tuple[str, ...]]:
    """The de-quoted words, plus how bash may rewrite them before running.

    ``{rm,-rf,x}`` brace-expands to ``rm -rf x`` and ``rm${IFS}-rf`` word-splits to
    ``rm -rf``; both are classic ways to hide a command from naive matching. Aliases
    and links made on the same line give ``part.resolved``.
    """
    variants = [part.words]
    if part.resolved and part.resolved != part.words:
        variants.append(part.resolved)
    if len(part.word_info) == len(part.words) and any(("var", "IFS") in w.pieces for w in part.word_info):
        ifs_split: list[str] = []
        for w in part.word_info:
            text = "".join(" " if p == ("var", "IFS") else (p[1] if p[0] == "lit" else Word("", (p,)).value)
                           for p in w.pieces)
            ifs_split += [piece for piece in text.split(" ") if piece]
        variants.append(tuple(ifs_split))
    for base in list(variants):
        expanded: list[str] = []
        for word in base:
            split = _IFS.sub(" ", word)
            for piece in split.split(" ") if split != word else [word]:
                m = _BRACES.match(piece)
                if m:
                    expanded.extend(m[1] + alt + m[3] for alt in m[2].split(","))
                else:
                    expanded.append(piece)
        if tuple(expanded) != base:
            variants.append(tuple(w for w in expanded if w))
    return variants


@lru_cache(maxsize=4096)
def deny_forms(part: CommandPart) -> frozenset[str]:
    """Every spelling of ``part`` a deny rule should be tried against.

    Raw and de-quoted text (``'rm'``, ``r"m"``, ``\\rm`` are all ``rm``), brace and
    ``$IFS`` rewrites, each wrapped command (``sudo rm``, ``env X=1 rm``, ``time -p rm``),
    the command's basename (``/bin/rm``), aliases and links, and the NFKC form of all.
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


_BRACE_WORD = re.compile(r"(?<![^\s;&|(])([^\s;&|(){}'\"]*)\{([^{}\s'\"]*,[^{}\s'\"]*)\}([^\s;&|()'\"]*)")


def brace_rewrite(command: str) -> str | None:
    """``{rm,-rf,x}`` as the words bash makes of it (``rm -rf x``), or None if nothing
    changes. The grammar cannot parse a brace expansion in command position; deny rules
    and the dangerous-operation check look at this rewrite too."""
    rewritten = _BRACE_WORD.sub(lambda m: " ".join(m[1] + alt + m[3] for alt in m[2].split(",")), command)
    return rewritten if rewritten != command else None


_SAFE_WORD = re.compile(r"^[A-Za-z0-9_@%+=:,./~^-]+$")


def render_words(words: tuple[str, ...] | list[str]) -> str:
    """Words joined the way a person would type them (quoted only where needed)."""
    out: list[str] = []
    for word in words:
        if word and (_SAFE_WORD.match(word) or word == "{}"):
            out.append(word)
        else:
            out.append("'" + word.replace("'", "'\\''") + "'")
    return " ".join(out)


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
