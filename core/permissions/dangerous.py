"""Operations that always ask, even in ``auto`` mode, unless a rule names them.

The list is judgement, written down: things that are hard or impossible to undo, that
reach beyond the project, or that hand control to someone else's code:

- recursive deletes of ``/``, ``~``/``$HOME``, ``/*``, the whole workspace, or a path
  built from a variable that may be empty (``rm -rf $DIR/``); any delete, move,
  permission change or write outside the workspace (``cd`` is followed lexically);
- ``sudo``/``su``/``doas``/``pkexec``; disk formatting (``mkfs``, ``wipefs``...),
  ``dd of=/dev/...``, redirection into a raw disk device;
- a download piped or substituted into a shell or interpreter (``curl x | sh``,
  ``bash <(curl x)``); fork bombs; shutdown/reboot;
- force-pushing to ``main``/``master`` (or to the current branch, which may be main);
- file tools writing outside the workspace, or inside it to files that grant power:
  our own and Claude's permission settings, git hooks and git config.

A ``Danger`` carries the simple command it was found in and the words (``trigger``) an
allow rule must spell out to cover it: ``bash(sudo apt-get update)`` names ``sudo``,
a catch-all ``bash`` or ``*`` names nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic_flow.core.permissions.globs import path_match
from agentic_flow.core.permissions.shell import (
    ShellAnalysis,
    analyze_command,
    basename,
    command_chain,
    word_variants,
)
from agentic_flow.core.permissions.targets import (
    Target,
    canonical_tool,
    expand_home,
    resolve_path,
    target_for,
    tool_kind,
)

__all__ = ["Danger", "find_dangers", "dangerous_reason", "command_dangers", "path_danger"]


@dataclass(frozen=True)
class Danger:
    """Why a call is dangerous.

    Attributes:
        reason: a short sentence for the person and the audit log.
        part: the simple command it was found in (None: the command as a whole, or a
            file-tool call); an allow rule must match it to cover the danger.
        trigger: the words that rule must spell out (``sudo``, ``git push``, a path).
    """

    reason: str
    part: str | None = None
    trigger: str | None = None


_SUDO = frozenset({"sudo", "su", "doas", "pkexec", "runuser"})
_FORMAT = frozenset({"mkfs", "mke2fs", "mkswap", "wipefs", "fdisk", "sfdisk", "cfdisk", "parted", "gdisk", "sgdisk"})
_POWER = frozenset({"shutdown", "reboot", "poweroff", "halt"})
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-download", "lynx"})
_INTERPRETER = re.compile(
    r"^(sh|bash|zsh|dash|ksh|mksh|ash|fish|csh|tcsh|source|\.|eval"
    r"|python[\d.]*|perl[\d.]*|ruby[\d.]*|node|nodejs|php[\d.]*|deno|bun)$"
)
_WRITE_ALL_ARGS = frozenset({"rmdir", "unlink", "shred", "truncate", "touch", "mkdir", "tee", "mv"})
_WRITE_LAST_ARG = frozenset({"cp", "ln", "install", "rsync"})
_PERMS = frozenset({"chmod", "chown", "chgrp"})
_HARMLESS_DEVICES = re.compile(r"^/dev/(null|zero|stdout|stderr|stdin|tty|fd/\d+)$|^/proc/self/fd/\d+$")
_DISK_DEVICE = re.compile(r"^/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|md|dm-|mapper/|loop|sr)")
_FORK_BOMB = re.compile(r"([^\s(){}|&;]+)\s*\(\s*\)\s*\{[^}]*?\1\s*\|\s*&?\s*\1\s*&")
_UNKNOWN_VAR = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/")
_PROTECTED = (
    (".agentic-flow/**", "changes agentic-flow's own settings, where permission rules live"),
    ("**/.claude/settings*.json", "changes Claude Code permission settings"),
    (".git/hooks/**", "installs a git hook (code git runs by itself)"),
    (".git/config", "changes git config (it can make git run commands)"),
)


def _home() -> str:
    return os.path.normpath(os.path.expanduser("~"))


def path_danger(target: Target) -> str | None:
    """Why writing ``target`` is dangerous: outside the workspace or a protected file."""
    if not target.inside:
        return f"writes outside the workspace ({target.abs})"
    for pattern, reason in _PROTECTED:
        if path_match(pattern, target.rel, ignore_case=True):
            return f"{reason} ({target.rel})"
    return None


class _Ctx:
    """The state a command's dangers depend on: workspace and the lexical cwd."""

    def __init__(self, workspace: Path) -> None:
        self.ws = os.path.normpath(str(workspace))
        self.cwd: str | None = self.ws

    def resolve(self, raw: str) -> Target | None:
        """None when the path cannot be known (variables, substitutions, unknown cwd)."""
        if not raw or "$(" in raw or "`" in raw:
            return None
        if raw.startswith("$") and expand_home(raw) is None:
            return None
        if self.cwd is None and not (raw.startswith("/") or expand_home(raw) is not None):
            return None
        return resolve_path(raw, self.ws, self.cwd)

    def write_danger(self, raw: str, verb: str = "writes") -> str | None:
        if _HARMLESS_DEVICES.match(raw):
            return None
        if _DISK_DEVICE.match(raw):
            return f"writes a raw disk device ({raw})"
        target = self.resolve(raw)
        if target is None:
            return None
        if not target.inside:
            return f"{verb} outside the workspace ({target.abs})"
        return path_danger(target)


def _strip_glob_tail(raw: str) -> str:
    """``/*`` -> ``/``, ``~/`` -> ``~``, ``*`` -> ``.``: what a delete really reaches."""
    while len(raw) > 1:
        if raw.endswith(("/*", "/.")):
            raw = raw[:-2] or "/"
        elif raw.endswith("/"):
            raw = raw[:-1]
        else:
            break
    return "." if raw in ("*", ".*") else raw


def _operands(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(options, operands) of a command; everything after ``--`` is an operand."""
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


def _short_flag(options: list[str], *letters: str) -> bool:
    return any(o.startswith("-") and not o.startswith("--") and any(c in o[1:] for c in letters) for o in options)


def _rm(words: tuple[str, ...], ctx: _Ctx) -> list[str]:
    options, targets = _operands(words)
    recursive = "--recursive" in options or _short_flag(options, "r", "R")
    out = ["rm --no-preserve-root"] if "--no-preserve-root" in options else []
    for raw in targets:
        core = _strip_glob_tail(raw)
        whole = recursive or raw != core  # "rm /*" empties / even without -r
        var = _UNKNOWN_VAR.match(raw)
        target = ctx.resolve(core)
        if core.startswith("/") and os.path.normpath(core) == "/":
            out.append("recursive delete of /" if whole else "deletes /")
        elif target is not None and target.abs == _home():
            out.append("recursive delete of the home directory" if whole else "deletes the home directory")
        elif var and expand_home(raw) is None and recursive:
            out.append(f"recursive delete of a path built from ${var[1]} (if it is empty, that is /)")
        elif target is None:
            continue
        elif not target.inside:
            out.append(f"deletes outside the workspace ({target.abs})")
        elif recursive and target.rel == ".":
            out.append("recursive delete of the whole workspace")
        elif (reason := path_danger(target)) is not None:
            out.append(reason)
    return out


def _perms(words: tuple[str, ...], ctx: _Ctx) -> list[str]:
    options, operands = _operands(words)
    recursive = "--recursive" in options or _short_flag(options, "R")
    out: list[str] = []
    for raw in operands[1:]:
        core = _strip_glob_tail(raw)
        target = ctx.resolve(core)
        if recursive and core.startswith("/") and os.path.normpath(core) == "/":
            out.append(f"recursive {words[0]} of /")
        elif recursive and target is not None and target.abs == _home():
            out.append(f"recursive {words[0]} of the home directory")
        elif (reason := ctx.write_danger(raw, "changes permissions")) is not None:
            out.append(reason)
    return out


def _git_push(words: tuple[str, ...]) -> list[str]:
    i = 1
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in ("-C", "-c", "--git-dir", "--work-tree", "--namespace") else 1
    if i >= len(words) or words[i] != "push":
        return []
    args = words[i + 1 :]
    options = [a for a in args if a.startswith("-")]
    positional = [a for a in args if not a.startswith("-")]
    refspecs = positional[1:]
    force = any(
        a in ("--force", "--force-with-lease", "--force-if-includes", "--mirror") or a.startswith("--force-with-lease=")
        for a in options
    ) or _short_flag(options, "f") or any(r.startswith("+") for r in refspecs)
    if not force:
        return []
    if not refspecs or "--all" in options or "--mirror" in options:
        return ["force-push of the current branch or all branches (it may be main)"]
    out = []
    for ref in refspecs:
        dst = ref.lstrip("+").rsplit(":", 1)[-1].removeprefix("refs/heads/")
        if dst in ("main", "master", "HEAD", ""):
            out.append(f"force-push to {dst or 'the remote default branch'}")
    return out


def _simple_command_dangers(words: tuple[str, ...], ctx: _Ctx) -> list[tuple[str, str]]:
    """(reason, trigger) pairs for one (unwrapped) simple command."""
    exe = basename(words[0])
    found: list[tuple[str, str]] = []
    if exe in _SUDO:
        found.append((f"runs a command as another user ({exe})", exe))
    elif exe == "rm":
        found += [(r, "rm") for r in _rm(words, ctx)]
    elif exe in _PERMS:
        found += [(r, exe) for r in _perms(words, ctx)]
    elif exe in _WRITE_ALL_ARGS or exe in _WRITE_LAST_ARG:
        _, operands = _operands(words)
        targets = operands if exe in _WRITE_ALL_ARGS else operands[-1:]
        verb = "moves" if exe == "mv" else "writes"
        for raw in targets:
            if ":" in raw and exe == "rsync":
                continue
            if (reason := ctx.write_danger(raw, verb)) is not None:
                found.append((reason, exe))
    elif exe == "dd":
        for word in words[1:]:
            if word.startswith("of=") and (reason := ctx.write_danger(word[3:])) is not None:
                found.append((reason, "dd"))
    elif exe in _FORMAT or exe.startswith(("mkfs.", "mkfs")):
        found.append((f"formats or repartitions a disk ({exe})", exe))
    elif exe in _POWER:
        found.append((f"shuts down or reboots the machine ({exe})", exe))
    elif exe in ("init", "telinit") and len(words) > 1 and words[1] in ("0", "6"):
        found.append((f"shuts down or reboots the machine ({exe} {words[1]})", exe))
    elif exe == "systemctl" and any(w in ("poweroff", "reboot", "halt", "kexec") for w in words[1:]):
        found.append(("shuts down or reboots the machine (systemctl)", "systemctl"))
    elif exe == "git":
        found += [(r, "git push") for r in _git_push(words)]
    elif exe == "find" and "-delete" in words:
        for raw in words[1:]:
            if raw.startswith(("-", "(", "!")):
                break
            if (reason := ctx.write_danger(_strip_glob_tail(raw), "deletes")) is not None:
                found.append((reason.replace("writes", "deletes"), "find"))
    return found


def _exe_names(words: tuple[str, ...]) -> set[str]:
    return {basename(w[0]) for w in command_chain(words)}


def command_dangers(command: str, workspace: Path, analysis: ShellAnalysis | None = None) -> list[Danger]:
    """Everything dangerous in a bash command line (empty list: nothing found)."""
    analysis = analysis or analyze_command(command)
    ctx = _Ctx(workspace)
    dangers: list[Danger] = []
    if _FORK_BOMB.search(command):
        dangers.append(Danger("fork bomb (a function that endlessly starts copies of itself)"))
    for part in analysis.parts:
        if part.depth == 0 and part.words and part.words[0] in ("cd", "pushd"):
            dest = part.words[1] if len(part.words) > 1 else "~"
            target = ctx.resolve(dest) if dest != "-" else None
            ctx.cwd = target.abs if target is not None else None
            continue
        for variant in word_variants(part):
            for words in command_chain(variant):
                for reason, trigger in _simple_command_dangers(words, ctx):
                    dangers.append(Danger(reason, part.text, trigger))
        for redirect in part.redirects:
            if redirect.writes and (why := ctx.write_danger(redirect.target, "redirects output")) is not None:
                dangers.append(Danger(why, part.text, redirect.target))
    for pipeline in analysis.pipelines:
        seen_download = False
        for stage in pipeline:
            names = set().union(*(_exe_names(analysis.parts[i].words) for i in stage))
            if seen_download and any(_INTERPRETER.match(n) for n in names):
                dangers.append(Danger("pipes a download into a shell or interpreter"))
                break
            seen_download = seen_download or bool(names & _DOWNLOADERS)
    for index, part in enumerate(analysis.parts):
        if part.depth > 0 and _exe_names(part.words) & _DOWNLOADERS:
            for parent in analysis.ancestors(index):
                if any(_INTERPRETER.match(n) for n in _exe_names(analysis.parts[parent].words)):
                    dangers.append(Danger("runs a downloaded script (a download substituted into a shell)"))
                    break
    unique: dict[tuple[str, str | None], Danger] = {}
    for danger in dangers:
        unique.setdefault((danger.reason, danger.part), danger)
    return list(unique.values())


def find_dangers(
    tool: str, arguments: dict[str, Any], workspace: Path, analysis: ShellAnalysis | None = None
) -> list[Danger]:
    """Dangers of one tool call (bash commands and file writes; reads and MCP have none)."""
    name = canonical_tool(tool)
    if name == "bash":
        command = arguments.get("command")
        return command_dangers(command, workspace, analysis) if isinstance(command, str) else []
    if tool_kind(name) == "edit":
        reason = path_danger(target_for(name, arguments, workspace))
        return [Danger(reason)] if reason else []
    return []


def dangerous_reason(tool: str, arguments: dict[str, Any], workspace: Path) -> str | None:
    """A reason string when the call is dangerous, else None."""
    dangers = find_dangers(tool, arguments, workspace)
    return "; ".join(d.reason for d in dangers) if dangers else None
