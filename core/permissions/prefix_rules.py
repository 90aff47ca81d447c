"""Rules an "always" answer saves for a command of several parts, one per part.

``npm test && git status`` approved "always" used to save the whole line as one rule,
which the engine never matches (a rule must cover every part, each on its own). Like
Claude Code, the answer now saves a prefix rule per part — ``bash(npm test*)``,
``bash(git status*)`` — so the next ``npm test -- -k x && git status`` is allowed too.
A part that destroys, moves or sends things (``rm``, ``mv``, ``curl``, ``git push``...),
or has a glob among its words (``ls *.py``), keeps its exact text instead: a prefix would
allow far more than what was approved.
"""

from __future__ import annotations

import re

from agentic_flow.core.permissions.globs import escape_command
from agentic_flow.core.permissions.shell import CommandPart, ShellAnalysis

__all__ = ["part_rules", "EXACT_ONLY"]

#: Commands whose rule is always their exact text.
EXACT_ONLY = frozenset(
    {"rm", "rmdir", "mv", "cp", "dd", "chmod", "chown", "chgrp", "ln", "sudo", "su", "doas", "kill", "pkill",
     "killall", "truncate", "shred", "curl", "wget", "ssh", "scp", "rsync", "sh", "bash", "zsh", "eval", "exec",
     "xargs", "env", "find", "tee"}
)
#: Subcommands of these that stay exact (``git push``, ``git reset``...).
EXACT_SUBCOMMANDS = {"git": frozenset({"push", "reset", "clean", "rebase", "checkout", "restore", "rm"})}
_SUBCOMMAND = re.compile(r"^[a-z][a-z0-9:_-]*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _prefix(part: CommandPart) -> str:
    words = list(part.words)
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words:
        return escape_command(part.text)
    command = words[0]
    sub = words[1] if len(words) > 1 and _SUBCOMMAND.match(words[1]) else None
    if command.rsplit("/", 1)[-1] in EXACT_ONLY or (sub and sub in EXACT_SUBCOMMANDS.get(command, ())):
        return escape_command(part.text)
    if any(any(c in word for c in "*?[") for word in part.raw_words):
        return escape_command(part.text)  # a glob the user approved is that glob, not a prefix
    prefix = f"{command} {sub}" if sub else command
    return escape_command(prefix) + "*"


def part_rules(analysis: ShellAnalysis) -> list[str] | None:
    """One rule per distinct part of a plain command of several parts; None for one part
    (its exact rule is the answer) or a command that is not plain (no rule can approve it)."""
    if not analysis.plain:
        return None
    parts = [p for p in analysis.parts if p.depth == 0]
    if len(parts) < 2:
        return None
    rules: list[str] = []
    for part in parts:
        rule = f"bash({_prefix(part)})"
        if rule not in rules:
            rules.append(rule)
    return rules
