"""What known commands write, read and run, beyond what their name says.

A rule like ``bash(git diff*)`` or ``bash(find *)`` is written for a command that reads;
``git diff --output=/elsewhere/x`` writes and ``find . -exec sh -c '...' \\;`` runs code.
``effects(words)`` finds these for one simple command (wrappers already removed):

* ``flags`` — options that turn the command into a writer or a runner of other code
  (``--output``, ``-exec``, ``-i``, ``git -c``...). An allow rule covers a command with
  such a flag only when the rule itself spells the flag out (``bash(sort -o *)``).
* ``writes`` — the files or folders it writes (for the dangerous-operation check and
  for ``edit(...)`` deny rules): ``sed -i`` operands, ``curl -o`` / ``tar -C`` targets,
  ``~/.gitconfig`` for ``git config --global``...
* ``reads`` — the files it reads (for ``read(...)`` deny rules): operands of ``cat``,
  ``grep`` (after the pattern), ``cp`` sources...

Every entry of ``EFFECTS`` carries examples of what it must and must not find; a test
runs them all (the discipline of Codex's execpolicy ``match`` / ``not_match``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from agentic_flow.core.permissions.shell import basename

__all__ = ["Effects", "CommandEffects", "EFFECTS", "effects", "READ_COMMANDS"]


@dataclass
class Effects:
    """What one simple command does besides its obvious job (values as de-quoted words)."""

    flags: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.flags or self.writes or self.reads)


@dataclass(frozen=True)
class CommandEffects:
    """The effects of the commands ``names``, with examples.

    ``flagged``: commands whose ``flags`` must contain the given option; ``clean``: commands
    that must have no flag; ``writing``: commands whose ``writes`` must contain the path.
    """

    names: frozenset[str]
    analyse: Callable[[tuple[str, ...]], Effects]
    flagged: tuple[tuple[str, str], ...] = ()
    clean: tuple[str, ...] = ()
    writing: tuple[tuple[str, str], ...] = ()


def _split(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(options, operands); after ``--`` everything is an operand."""
    options: list[str] = []
    operands: list[str] = []
    done = False
    for word in words[1:]:
        if not done and word == "--":
            done = True
        elif not done and word.startswith("-") and len(word) > 1:
            options.append(word)
        else:
            operands.append(word)
    return options, operands


def _option_value(words: tuple[str, ...], short: str | None, longs: tuple[str, ...]) -> list[str]:
    """Values of ``-o V``, ``-oV``, ``--output V``, ``--output=V`` (longs may be abbreviated
    the way getopt allows: any unambiguous prefix of at least 3 letters is accepted)."""
    out: list[str] = []
    i = 1
    while i < len(words):
        word = words[i]
        if word == "--":
            break
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if any(_long_matches(name, long) for long in longs):
                if eq:
                    out.append(value)
                elif i + 1 < len(words):
                    out.append(words[i + 1])
                    i += 1
        elif short and word.startswith("-") and len(word) > 1 and not word.startswith("--"):
            letters = word[1:]
            pos = letters.find(short)
            if pos >= 0:
                rest = letters[pos + 1 :]
                if rest:
                    out.append(rest)
                elif i + 1 < len(words):
                    out.append(words[i + 1])
                    i += 1
        i += 1
    return out


def _long_matches(given: str, option: str) -> bool:
    return given == option or (len(given) >= 5 and option.startswith(given))


def _has(words: tuple[str, ...], short: str | None, longs: tuple[str, ...] = ()) -> str | None:
    """The option as written when the command has it (bundled short flags included)."""
    for word in words[1:]:
        if word == "--":
            return None
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if any(_long_matches(name, long) for long in longs):
                return word
        elif short and word.startswith("-") and len(word) > 1 and short in word[1:]:
            return word
    return None


# ---------------------------------------------------------------- git


_GIT_VALUE_OPTIONS = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--exec-path"})
_GIT_EXEC_OPTIONS = {
    "grep": ("-O", "--open-files-in-pager"),
    "difftool": ("-x", "--extcmd", "--tool"),
    "mergetool": ("--tool", "-t"),
    "rebase": ("-x", "--exec"),
    "fetch": ("--upload-pack",),
    "pull": ("--upload-pack",),
    "clone": ("-u", "--upload-pack", "--template"),
    "ls-remote": ("--upload-pack",),
    "push": ("--receive-pack", "--exec"),
    "archive": ("--exec", "--remote"),
}


def git_subcommand(words: tuple[str, ...]) -> tuple[int, list[str]]:
    """Index of git's subcommand in ``words`` and git's own options before it."""
    i = 1
    own: list[str] = []
    while i < len(words) and words[i].startswith("-"):
        own.append(words[i])
        if words[i] in _GIT_VALUE_OPTIONS:
            own.append(words[i + 1] if i + 1 < len(words) else "")
            i += 2
        else:
            i += 1
    return i, own


def _git(words: tuple[str, ...]) -> Effects:
    out = Effects()
    i, own = git_subcommand(words)
    for opt in own:
        if opt in ("-c", "--config-env") or opt.startswith(("--config-env=", "--exec-path", "-c")) and opt != "-C":
            out.flags.append(opt if opt != "-c" else "-c")
    if i >= len(words):
        return out
    sub = words[i]
    args = (sub, *words[i + 1 :])
    if sub in ("diff", "log", "show", "format-patch", "whatchanged", "range-diff", "shortlog", "archive"):
        for value in _option_value(args, None, ("--output",)):
            out.flags.append("--output")
            out.writes.append(value)
    if sub == "format-patch":
        for value in _option_value(args, "o", ("--output-directory",)):
            out.flags.append("-o")
            out.writes.append(value)
    if sub == "archive":
        for value in _option_value(args, "o", ()):
            out.flags.append("-o")
            out.writes.append(value)
    for opt in _GIT_EXEC_OPTIONS.get(sub, ()):
        found = _has(args, opt[1] if len(opt) == 2 else None, (opt,) if opt.startswith("--") else ())
        if found:
            out.flags.append(found)
    if sub == "submodule" and "foreach" in args:
        out.flags.append("foreach")
    if sub == "bisect" and "run" in args:
        out.flags.append("run")
    if sub == "config":
        out.writes += _git_config_writes(args)
    return out


def _git_config_writes(args: tuple[str, ...]) -> list[str]:
    options, operands = _split(args)
    reading = {"--get", "--get-all", "--get-regexp", "--get-urlmatch", "--get-color", "--get-colorbool", "-l",
               "--list", "--show-origin", "--show-scope", "--name-only", "-e", "--edit"}
    if operands and operands[0] in ("get", "list"):
        return []
    if any(o.split("=", 1)[0] in reading for o in options) and not (operands and operands[0] in ("set", "unset")):
        return []
    names = [o for o in operands if o not in ("set", "unset", "rename-section", "remove-section", "edit")]
    if not (operands and operands[0] in ("set", "unset", "rename-section", "remove-section")) and len(names) < 2 and \
            not any(o.startswith(("--unset", "--add", "--replace-all", "--rename-section", "--remove-section"))
                    for o in options):
        return []  # "git config user.name": a read
    files = _option_value(args, "f", ("--file",))
    if files:
        return files
    if any(o in ("--global",) for o in options):
        return ["~/.gitconfig"]
    if any(o in ("--system",) for o in options):
        return ["/etc/gitconfig"]
    return [".git/config"]


# ---------------------------------------------------------------- the others


def _find(words: tuple[str, ...]) -> Effects:
    out = Effects()
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-exec", "-execdir", "-ok", "-okdir", "-delete"):
            out.flags.append(word)
        elif word in ("-fprint", "-fprint0", "-fls", "-fprintf"):
            out.flags.append(word)
            if i + 1 < len(words):
                out.writes.append(words[i + 1])
        i += 1
    return out


def _sort(words: tuple[str, ...]) -> Effects:
    out = Effects()
    for value in _option_value(words, "o", ("--output",)):
        out.flags.append("-o")
        out.writes.append(value)
    compress = _has(words, None, ("--compress-program",))
    if compress:
        out.flags.append(compress)
    out.reads += [w for w in _split(words)[1]]
    return out


_SED_WRITE = re.compile(r"(^|[;\n}]|\d|/)\s*[wWe]\s*(\S|$)|s(.).*\3.*\3[gpIiMm0-9]*[we]")


def _sed(words: tuple[str, ...]) -> Effects:
    out = Effects()
    options, operands = _split(words)
    in_place = next((o for o in options if o.startswith("-i") or o.startswith("--in-place")
                     or (not o.startswith("--") and "i" in o[1:] and not o.startswith(("-e", "-f")))), None)
    scripts = _option_value(words, "e", ("--expression",))
    files = operands if scripts or _option_value(words, "f", ("--file",)) else operands[1:]
    if not scripts and operands:
        scripts = [operands[0]]
    if in_place:
        out.flags.append(in_place)
        out.writes += files
    if any(_SED_WRITE.search(s) for s in scripts):
        out.flags.append("w/e command in the script")
    out.reads += files
    return out


def _tee(words: tuple[str, ...]) -> Effects:
    return Effects(writes=_split(words)[1])


def _url_name(url: str) -> str:
    path = urlsplit(url).path
    return path.rsplit("/", 1)[-1] or "index.html"


_CURL_WRITES = ("--dump-header", "--cookie-jar", "--trace", "--trace-ascii", "--stderr", "--libcurl",
                "--etag-save", "--hsts", "--alt-svc", "--output-dir")


def _curl(words: tuple[str, ...]) -> Effects:
    out = Effects()
    outputs = _option_value(words, "o", ("--output",))
    for value in outputs:
        out.flags.append("-o")
        out.writes.append(value)
    for short, long in (("D", "--dump-header"), ("c", "--cookie-jar")):
        for value in _option_value(words, short, (long,)):
            out.flags.append(long)
            out.writes.append(value)
    for long in _CURL_WRITES[2:]:
        for value in _option_value(words, None, (long,)):
            out.flags.append(long)
            out.writes.append(value)
    remote = _has(words, "O", ("--remote-name", "--remote-name-all"))
    if remote:
        out.flags.append(remote)
        urls = [w for w in _split(words)[1] if "://" in w]
        out.writes += [_url_name(u) for u in urls] or ["."]
    config = _option_value(words, "K", ("--config",))
    if config:
        out.flags.append("--config")
        out.reads += config
    for value in _option_value(words, "T", ("--upload-file",)):
        out.reads.append(value)
    for value in _option_value(words, None, ("--data-binary", "--data", "--data-urlencode")):
        if value.startswith("@"):
            out.reads.append(value[1:])
    return out


def _wget(words: tuple[str, ...]) -> Effects:
    out = Effects()
    targets = _option_value(words, "O", ("--output-document",))
    for value in targets:
        out.flags.append("-O")
        out.writes.append(value)
    for short, long in (("o", "--output-file"), ("a", "--append-output"), ("P", "--directory-prefix")):
        for value in _option_value(words, short, (long,)):
            out.flags.append(long)
            out.writes.append(value)
    if not targets:
        urls = [w for w in _split(words)[1] if "://" in w]
        out.writes += [_url_name(u) for u in urls]
    if _option_value(words, "e", ("--execute",)):
        out.flags.append("--execute")
    return out


_TAR_EXEC = ("--to-command", "--use-compress-program", "--checkpoint-action", "--info-script",
             "--new-volume-script", "--rmt-command", "--rsh-command")


def _tar(words: tuple[str, ...]) -> Effects:
    out = Effects()
    if len(words) < 2:
        return out
    first = words[1]
    bundled = first if not first.startswith("-") else ""
    letters = bundled + "".join(w[1:] for w in words[1:] if w.startswith("-") and not w.startswith("--"))
    longs = {w.split("=", 1)[0] for w in words[1:] if w.startswith("--")}
    extract = "x" in letters or bool(longs & {"--extract", "--get"})
    create = any(c in letters for c in "cru") or bool(longs & {"--create", "--append", "--update"})
    dirs = _option_value(words, "C", ("--directory",))
    if bundled and "C" in bundled:
        dirs = dirs or []
    archive = _option_value(words, "f", ("--file",))
    if bundled and "f" in bundled and not archive:
        positional = [w for w in words[2:] if not w.startswith("-")]
        archive = positional[:1]
    if extract:
        out.flags.append("x")
        out.writes += dirs or ["."]
        out.reads += archive
    if create:
        out.flags.append("c")
        out.writes += archive
    if dirs and not extract:
        out.flags.append("-C")
    for long in _TAR_EXEC:
        found = _has(words, None, (long,))
        if found:
            out.flags.append(found)
    if _option_value(words, "I", ()) and not bundled:
        out.flags.append("-I")
    if _option_value(words, "F", ()) and not bundled:
        out.flags.append("-F")
    return out


def _unzip(words: tuple[str, ...]) -> Effects:
    options, operands = _split(words)
    if any(o in ("-l", "-v", "-t", "-z", "-Z") for o in options):
        return Effects(reads=operands[:1])
    dirs = _option_value(words, "d", ())
    return Effects(flags=["extract"], writes=dirs or ["."], reads=operands[:1])


def _zip(words: tuple[str, ...]) -> Effects:
    out = Effects()
    found = _has(words, None, ("--unzip-command",)) or ("-TT" if "-TT" in words else None)
    if found:
        out.flags.append(found)
    operands = _split(words)[1]
    out.writes += operands[:1]
    out.reads += operands[1:]
    return out


def _copy(words: tuple[str, ...]) -> Effects:
    options, operands = _split(words)
    target = _option_value(words, "t", ("--target-directory",))
    if target:
        return Effects(writes=target, reads=operands)
    if len(operands) >= 2:
        return Effects(writes=operands[-1:], reads=operands[:-1])
    return Effects()


def _rsync(words: tuple[str, ...]) -> Effects:
    out = _copy(words)
    out.writes = [w for w in out.writes if ":" not in w]
    out.reads = [w for w in out.reads if ":" not in w]
    for short, long in (("e", "--rsh"), (None, "--rsync-path")):
        if _option_value(words, short, (long,)):
            out.flags.append(long)
    return out


def _uniq(words: tuple[str, ...]) -> Effects:
    operands = _split(words)[1]
    return Effects(writes=operands[1:2], flags=["OUTPUT operand"] if len(operands) > 1 else [], reads=operands[:1])


def _dd(words: tuple[str, ...]) -> Effects:
    out = Effects()
    for word in words[1:]:
        if word.startswith("of="):
            out.writes.append(word[3:])
            out.flags.append("of=")
        elif word.startswith("if="):
            out.reads.append(word[3:])
    return out


_AWK_RUNS = re.compile(r"\bsystem\s*\(|\|\s*(getline|&)|\|\s*\"|(print|printf)[^;}]*[^<>=!]>|\"\s*\|")


def _awk(words: tuple[str, ...]) -> Effects:
    out = Effects()
    options, operands = _split(words)
    progfiles = _option_value(words, "f", ("--file",))
    program = None if progfiles else (operands[0] if operands else None)
    files = operands if progfiles else operands[1:]
    if program and _AWK_RUNS.search(program):
        out.flags.append("system()/pipe/redirect in the program")
    if progfiles:
        out.flags.append("-f")
    out.reads += [f for f in files if "=" not in f]
    return out


def _rg(words: tuple[str, ...]) -> Effects:
    out = Effects(reads=_pattern_then_files(words))
    pre = _has(words, None, ("--pre",))
    if pre:
        out.flags.append(pre)
    return out


def _ssh(words: tuple[str, ...]) -> Effects:
    out = Effects()
    for value in _option_value(words, "o", ()):
        if value.split("=", 1)[0].strip().lower() in ("proxycommand", "localcommand", "permitlocalcommand",
                                                      "knownhostscommand"):
            out.flags.append("-o " + value.split("=", 1)[0])
    if _option_value(words, "F", ()):
        out.flags.append("-F")
    return out


def _in_place(letter: str) -> Callable[[tuple[str, ...]], Effects]:
    def analyse(words: tuple[str, ...]) -> Effects:
        options, operands = _split(words)
        flag = next((o for o in options if o.startswith(f"-{letter}") or (not o.startswith("--") and letter in o[1:])),
                    None)
        if flag:
            return Effects(flags=[flag], writes=operands[1:])
        return Effects()

    return analyse


_PATTERN_FIRST = frozenset({"grep", "egrep", "fgrep", "rg", "ag", "ack", "zgrep", "git-grep", "jq", "yq"})


_GREP_VALUE_OPTIONS = frozenset({"-e", "-f", "--regexp", "--file", "-m", "--max-count", "-A", "-B", "-C",
                                 "--context", "-g", "--glob", "-t", "--type", "--include", "--exclude", "-d", "-D"})


def _pattern_then_files(words: tuple[str, ...]) -> list[str]:
    """grep's operands after the pattern (the pattern is an option's value with -e/-f)."""
    operands: list[str] = []
    i, done = 1, False
    while i < len(words):
        word = words[i]
        if not done and word == "--":
            done = True
        elif not done and word in _GREP_VALUE_OPTIONS:
            i += 1
        elif done or not word.startswith("-") or word == "-":
            operands.append(word)
        i += 1
    given = _option_value(words, "e", ("--regexp",)) or _option_value(words, "f", ("--file",))
    return operands if given else operands[1:]


#: Commands that read the files named as operands (``cat .env``); for read deny rules.
READ_COMMANDS = frozenset({
    "cat", "tac", "head", "tail", "less", "more", "most", "nl", "wc", "strings", "xxd", "od", "hexdump", "hd",
    "base64", "base32", "basenc", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum",
    "b2sum", "cksum", "sum", "cut", "paste", "rev", "fold", "fmt", "column", "comm", "join", "diff", "cmp",
    "diff3", "sdiff", "iconv", "bat", "batcat", "view", "vi", "vim", "nvim", "nano", "emacs", "ed", "ex",
    "source", ".", "file", "stat", "zcat", "bzcat", "xzcat", "zstdcat", "zless", "gzip", "bzip2", "xz",
    "zstd", "expand", "unexpand", "pr", "tr", "sqlite3", "openssl", "gpg", "python", "python3", "node",
    "ruby", "perl", "bash", "sh", "zsh", "scp", "nc", "netcat", "socat", "look", "jq", "yq", "dos2unix",
    "unix2dos", "split", "csplit", "shuf", "tsort", "uuencode", "lp", "lpr", "mail", "envsubst",
})

_SIMPLE_READERS = frozenset(READ_COMMANDS - {"jq", "yq"})


def _readers(words: tuple[str, ...]) -> Effects:
    name = basename(words[0])
    if name in _PATTERN_FIRST:
        return Effects(reads=_pattern_then_files(words))
    return Effects(reads=_split(words)[1])


EFFECTS: tuple[CommandEffects, ...] = (
    CommandEffects(
        frozenset({"git"}),
        _git,
        flagged=(("git diff --output=/tmp/x", "--output"), ("git log --output /tmp/x", "--output"),
                 ("git diff --outp=/tmp/x", "--output"), ("git -c alias.x='!rm -rf ~' x", "-c"),
                 ("git -c core.pager=evil log", "-c"), ("git -c core.fsmonitor=x status", "-c"),
                 ("git grep -O evil foo", "-O"), ("git rebase -x 'make' main", "-x"),
                 ("git fetch --upload-pack='evil' origin", "--upload-pack=evil"),
                 ("git format-patch -o /tmp/p HEAD~1", "-o"), ("git submodule foreach 'rm x'", "foreach"),
                 ("git --config-env=core.pager=X log", "--config-env=core.pager=X"),
                 ("git bisect run ./t.sh", "run")),
        clean=("git diff --stat", "git log -p", "git status -s", "git -C sub status", "git show HEAD:README.md",
               "git diff -- --output", "git grep -n foo", "git config user.name"),
        writing=(("git diff --output=/tmp/x", "/tmp/x"), ("git config --global user.name x", "~/.gitconfig"),
                 ("git config core.hooksPath /tmp", ".git/config"), ("git config --file ~/.x a.b c", "~/.x"),
                 ("git config set user.email a@b", ".git/config")),
    ),
    CommandEffects(
        frozenset({"find"}),
        _find,
        flagged=(("find . -exec rm {} +", "-exec"), ("find . -execdir sh -c x \\;", "-execdir"),
                 ("find . -delete", "-delete"), ("find . -fprint /tmp/x", "-fprint"),
                 ("find . -fprintf /tmp/x %p", "-fprintf"), ("find . -fls /tmp/x", "-fls"),
                 ("find . -ok rm {} \\;", "-ok")),
        clean=("find . -name '*.py'", "find . -type f -print", "find . -newer x -printf '%p\\n'"),
        writing=(("find . -fprint /tmp/x", "/tmp/x"),),
    ),
    CommandEffects(
        frozenset({"sort"}),
        _sort,
        flagged=(("sort -o /tmp/x a", "-o"), ("sort --output=/tmp/x a", "-o"), ("sort -uo/tmp/x a", "-o"),
                 ("sort --compress-program=sh a", "--compress-program=sh")),
        clean=("sort -u a", "sort -k2 -n a", "sort -r"),
        writing=(("sort -o out.txt in.txt", "out.txt"),),
    ),
    CommandEffects(
        frozenset({"sed", "gsed"}),
        _sed,
        flagged=(("sed -i s/a/b/ f", "-i"), ("sed -i.bak s/a/b/ f", "-i.bak"), ("sed --in-place s/a/b/ f", "--in-place"),
                 ("sed -ni 'p' f", "-ni"), ("sed 's/a/b/w /tmp/out' f", "w/e command in the script"),
                 ("sed -n '1w /tmp/x' f", "w/e command in the script"), ("sed '1e id' f", "w/e command in the script")),
        clean=("sed s/a/b/ f", "sed -n '1,5p' f", "sed -e 's/x/y/g' f", "sed -E 's/(a)/\\1/' f"),
        writing=(("sed -i 's/a/b/' ~/.bashrc", "~/.bashrc"), ("sed -i -e s/a/b/ x y", "y")),
    ),
    CommandEffects(frozenset({"tee"}), _tee, writing=(("tee -a out.log", "out.log"),)),
    CommandEffects(
        frozenset({"curl"}),
        _curl,
        flagged=(("curl -o /tmp/x https://e.com", "-o"), ("curl -O https://e.com/s.sh", "-O"),
                 ("curl -sSLo x https://e.com", "-o"), ("curl --output=x u", "-o"), ("curl -D h.txt u", "--dump-header"),
                 ("curl -K cfg u", "--config"), ("curl --remote-name u", "--remote-name")),
        clean=("curl -s https://e.com", "curl -fsSL -H 'a: b' u", "curl -X POST -d x u"),
        writing=(("curl -o ~/.bashrc u", "~/.bashrc"), ("curl -O https://e.com/a/s.sh", "s.sh"),
                 ("curl -so s.sh u", "s.sh")),
    ),
    CommandEffects(
        frozenset({"wget"}),
        _wget,
        flagged=(("wget -O x u", "-O"), ("wget -qO- u", "-O"), ("wget -P /tmp u", "--directory-prefix"),
                 ("wget -e 'x=y' u", "--execute")),
        clean=("wget https://e.com/x", "wget -q --spider u"),
        writing=(("wget https://e.com/a/s.sh", "s.sh"), ("wget -O /tmp/x u", "/tmp/x")),
    ),
    CommandEffects(
        frozenset({"tar", "gtar", "bsdtar"}),
        _tar,
        flagged=(("tar -xf a.tar", "x"), ("tar xzf a.tgz -C ~", "x"), ("tar -czf o.tgz .", "c"),
                 ("tar -tf a.tar -C /tmp", "-C"), ("tar --to-command=sh -xf a", "--to-command=sh"),
                 ("tar -cf x . --checkpoint-action=exec=sh", "--checkpoint-action=exec=sh")),
        clean=("tar -tf a.tar", "tar tvf a.tar", "tar --list -f a.tar"),
        writing=(("tar -xf a.tar -C ~", "~"), ("tar xf a.tar", "."), ("tar -czf /tmp/o.tgz src", "/tmp/o.tgz"),
                 ("tar -x -f a.tar --directory=/etc", "/etc")),
    ),
    CommandEffects(frozenset({"unzip"}), _unzip, flagged=(("unzip a.zip", "extract"),), clean=("unzip -l a.zip",),
                   writing=(("unzip a.zip -d ~/x", "~/x"),)),
    CommandEffects(frozenset({"zip"}), _zip, flagged=(("zip -T -TT 'sh -c x' a.zip f", "-TT"),),
                   clean=("zip a.zip f",)),
    CommandEffects(frozenset({"cp", "mv", "install", "ln", "scp"}), _copy,
                   writing=(("cp a /tmp/b", "/tmp/b"), ("mv -t /tmp a b", "/tmp"), ("ln -s x ~/y", "~/y"))),
    CommandEffects(frozenset({"rsync"}), _rsync, flagged=(("rsync -e 'sh -c x' a b:", "--rsh"),),
                   clean=("rsync -av a b",), writing=(("rsync -a src/ ~/backup/", "~/backup/"),)),
    CommandEffects(frozenset({"uniq"}), _uniq, flagged=(("uniq in out", "OUTPUT operand"),), clean=("uniq -c in",),
                   writing=(("uniq in /tmp/out", "/tmp/out"),)),
    CommandEffects(frozenset({"dd"}), _dd, flagged=(("dd if=a of=b", "of="),), clean=("dd if=a bs=1 count=1",),
                   writing=(("dd if=/dev/zero of=/tmp/x", "/tmp/x"),)),
    CommandEffects(frozenset({"awk", "gawk", "mawk", "nawk"}), _awk,
                   flagged=(("awk 'BEGIN{system(\"id\")}'", "system()/pipe/redirect in the program"),
                            ("awk '{print > \"/tmp/x\"}' f", "system()/pipe/redirect in the program"),
                            ("awk '{print | \"sh\"}' f", "system()/pipe/redirect in the program"),
                            ("awk -f prog.awk f", "-f")),
                   clean=("awk '{print $1}' f", "awk -F: '$3 >= 1000 {print $1}' /etc/passwd", "awk 'NR>1' f")),
    CommandEffects(frozenset({"rg"}), _rg, flagged=(("rg --pre ./x foo", "--pre"),), clean=("rg -n foo src",)),
    CommandEffects(frozenset({"ssh", "scp", "sftp"}), _ssh,
                   flagged=(("ssh -o ProxyCommand='sh -c x' h", "-o ProxyCommand"),), clean=("ssh -p 22 h ls",)),
    CommandEffects(frozenset({"perl"}), _in_place("i"), flagged=(("perl -pi -e s/a/b/ f", "-pi"),),
                   clean=("perl -ne 'print' f",)),
    CommandEffects(frozenset({"yq"}), _in_place("i"), flagged=(("yq -i '.a=1' f.yaml", "-i"),), clean=("yq '.a' f",)),
)

_BY_NAME: dict[str, list[CommandEffects]] = {}
for _entry in EFFECTS:
    for _name in _entry.names:
        _BY_NAME.setdefault(_name, []).append(_entry)


def effects(words: tuple[str, ...]) -> Effects:
    """The flags, writes and reads of one simple command (``words[0]`` is its name)."""
    if not words:
        return Effects()
    name = basename(words[0])
    out = Effects()
    for entry in _BY_NAME.get(name, ()):
        found = entry.analyse(words)
        out.flags += found.flags
        out.writes += found.writes
        out.reads += found.reads
    if name in _SIMPLE_READERS or name in _PATTERN_FIRST:
        out.reads += [r for r in _readers(words).reads if r not in out.reads]
    return out
