"""Permission rules: parsing, matching, and loading them from settings files.

Rule syntax (what users write under ``permissions: {allow, ask, deny}``)::

    *                      every tool
    bash                   every command            bash(git status *)  one command family
                                                    bash(git status:*)  the same (Claude's form)
    read / write / edit    every file of that kind  edit(src/**)        a path glob
    glob / grep / ls       one read tool            read(**/.env)
    mcp:github/*           every tool of a server   mcp:github/create_issue
    mcp:github             the same                 mcp:evil/delete[ ]all  (a tool named "delete all")

``read(...)`` covers every read tool (read, glob, grep, ls) and ``edit(...)`` /
``write(...)`` cover both writing tools, so a deny on ``read(**/.env)`` cannot be
side-stepped by grepping the file. Path globs are anchored at the workspace root
(``**/`` matches at any depth); absolute globs (``/etc/**``, ``~/.ssh/**``) match paths
outside it. Command patterns are matched per simple command, see ``core.permissions.shell``:
``*`` matches any text, ``X *`` (and Claude's ``X:*``) matches ``X`` alone or followed by
more words (a word boundary: ``bash(./check *)`` does not cover ``./checkout``). An allow
rule covers only plain commands, and a command with a flag that makes it write or run
code (``git diff --output``, ``find -exec``, ``sed -i``; see ``core.permissions.effects``)
only if the rule spells that flag out.

MCP rules match ``mcp:server/tool`` for any tool name a server sends (``delete/all``,
``a*b``, look-alike letters): everything after the first ``/`` is the tool, and deny and
ask rules also match the folded name (case, look-alikes, separators; see
``core.mcp.names``), so ``mcp:evil/*`` or ``mcp:evil`` covers every tool of ``evil``.

Claude Code rules (``.claude/settings.json``, ``.claude/settings.local.json``) are mapped
onto these by ``load_claude_rules``; each rule remembers the file it came from so a
verdict can say ``rule:bash(git status*) [/ws/.agentic-flow/settings.yaml]``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, cast

import yaml

from agentic_flow.core import paths
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.mcp.names import escape_pattern, fold_name, fold_pattern, parse_user_name
from agentic_flow.core.permissions.globs import (
    command_match,
    command_pattern_literal,
    command_pattern_literal_text,
    normalize_blanks,
    path_match,
    path_pattern_is_catch_all,
)
from agentic_flow.core.permissions.modes import Mode, parse_mode
from agentic_flow.core.permissions.targets import (
    BUILTIN_TOOLS,
    Target,
    canonical_tool,
    expand_home,
)

__all__ = [
    "RuleAction",
    "Rule",
    "RuleSet",
    "parse_rule",
    "claude_rule_to_ours",
    "load_settings_rules",
    "load_claude_rules",
    "load_rule_sets",
    "mcp_rule_text",
]

RuleAction = Literal["allow", "ask", "deny"]
ACTIONS: tuple[RuleAction, ...] = ("allow", "ask", "deny")

_READ_TOOLS = frozenset(t for t, k in BUILTIN_TOOLS.items() if k == "read")
_EDIT_TOOLS = frozenset(t for t, k in BUILTIN_TOOLS.items() if k == "edit")


@dataclass(frozen=True)
class Rule:
    """One parsed rule.

    Attributes:
        action: allow, ask or deny.
        tool: ``*``, a built-in tool name, or ``mcp``.
        pattern: the argument pattern (command wildcard or path glob); None = any.
        mcp_server / mcp_tool: fnmatch patterns for ``mcp:server/tool`` rules.
        source: the settings file the rule came from (None: in memory, e.g. a session).
        original: the text as written, when it differs (Claude's ``Bash(npm test:*)``).
    """

    action: RuleAction
    tool: str
    pattern: str | None = None
    mcp_server: str | None = None
    mcp_tool: str | None = None
    source: Path | None = None
    original: str | None = None

    @property
    def text(self) -> str:
        """Canonical rule text, parseable by ``parse_rule``."""
        if self.tool == "mcp":
            return f"mcp:{self.mcp_server}/{self.mcp_tool}"
        if self.pattern is None:
            return self.tool
        return f"{self.tool}({self.pattern})"

    @property
    def display(self) -> str:
        return self.original or self.text

    @property
    def decided_by(self) -> str:
        """``rule:TEXT [SOURCE]`` for verdicts and the audit log."""
        return f"rule:{self.display}" + (f" [{self.source}]" if self.source else "")

    def __str__(self) -> str:
        return self.display

    @property
    def is_catch_all(self) -> bool:
        """A rule that names nothing in particular (``*``, ``bash``, ``edit(**)``).

        Catch-all allows never cover dangerous operations.
        """
        if self.tool == "mcp":
            return self.mcp_server == "*" and self.mcp_tool == "*"
        if self.pattern is None:
            return True
        if self.tool == "bash":
            return not command_pattern_literal_text(self.pattern)
        return path_pattern_is_catch_all(self.pattern)

    def covers_tool(self, tool: str) -> bool:
        """Whether this rule is about ``tool`` at all (argument aside)."""
        if self.tool == "mcp":
            return self._covers_mcp(tool)
        tool = canonical_tool(tool)
        if self.tool == "*":
            return True
        if self.tool == "read":
            return tool in _READ_TOOLS
        if self.tool in _EDIT_TOOLS:
            return tool in _EDIT_TOOLS
        return tool == self.tool

    def _covers_mcp(self, name: str) -> bool:
        """``mcp:server/tool`` with any tool name; deny and ask rules also match folded."""
        pair = parse_user_name(name)
        if pair is None:
            return False
        server, tool = pair
        server_pattern, tool_pattern = self.mcp_server or "*", self.mcp_tool or "*"
        if fnmatch.fnmatchcase(server, server_pattern) and fnmatch.fnmatchcase(tool, tool_pattern):
            return True
        if self.action == "allow":
            return False  # an allow rule covers only names it spells exactly
        return fnmatch.fnmatchcase(fold_name(server), fold_pattern(server_pattern)) and fnmatch.fnmatchcase(
            fold_name(tool), fold_pattern(tool_pattern)
        )

    def matches_path(self, target: Target, *, for_deny: bool = False) -> bool:
        """Path rules: relative globs match inside the workspace, absolute ones anywhere.

        Deny (and ask) rules match the path as written OR as it really is (symlinks
        followed: ``config.txt -> .env`` is ``.env``); allow rules match the real path
        only, the file that will actually be read or written.
        """
        if self.pattern is None:
            return True
        pattern = self.pattern
        home = expand_home(pattern)
        if home is not None:
            pattern = home
        written = (target.rel, target.abs)
        real = (target.real_rel or target.rel, target.real_abs or target.abs)
        spellings = [written, real] if for_deny else [real]
        return any(self._path_form_matches(pattern, rel, absolute, for_deny) for rel, absolute in spellings)

    @staticmethod
    def _path_form_matches(pattern: str, rel: str, absolute: str, for_deny: bool) -> bool:
        if pattern.startswith("/"):
            return path_match(pattern, absolute, ignore_case=for_deny)
        if not rel.startswith("/"):
            return path_match(pattern, rel, ignore_case=for_deny)
        # A deny on "**/.env" means every .env, also outside the workspace.
        if for_deny and pattern.startswith("**"):
            return path_match("/" + pattern, absolute, ignore_case=True)
        return False

    def matches_command(self, command: str, *, for_deny: bool = False) -> bool:
        """Command rules: one simple command (the caller splits compound commands)."""
        if self.pattern is None:
            return True
        return command_match(self.pattern, command, ignore_case=for_deny)

    def names_command_line(self, command: str) -> bool:
        """A wildcard-free bash rule naming exactly this whole command line.

        Such a rule may allow a compound command as a whole: a person (or the rule's
        author) saw every character of it. Newlines are significant here.
        """
        if self.tool not in ("bash", "*") or self.pattern is None:
            return False
        literal = command_pattern_literal(self.pattern)
        return literal is not None and literal == normalize_blanks(command)

    def names(self, trigger: str | None) -> bool:
        """Whether the rule is specific and spells out ``trigger`` (``sudo``, ``git push``).

        Used for dangerous operations: ``bash(sudo apt-get update)`` names ``sudo``;
        ``bash(git *)`` does not name ``git push`` and ``bash`` names nothing.
        """
        if self.is_catch_all:
            return False
        if trigger is None or self.tool != "bash" or self.pattern is None:
            return True
        literal = command_pattern_literal_text(self.pattern)
        words = literal.split()
        basenames = {w.rsplit("/", 1)[-1] for w in words}
        # Paths (redirect targets) may be glued to an operator: "echo x >/etc/motd".
        return all(t in words or t in basenames or ("/" in t and t in literal) for t in trigger.split())


@dataclass(frozen=True)
class RuleSet:
    """An ordered, immutable collection of rules plus an optional default mode."""

    rules: tuple[Rule, ...] = ()
    default_mode: Mode | None = None
    default_mode_source: Path | None = field(default=None, compare=False)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def of(self, action: RuleAction) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.action == action)

    def with_rule(self, rule: Rule) -> RuleSet:
        return replace(self, rules=self.rules + (rule,))

    def merged(self, *others: RuleSet) -> RuleSet:
        """All rules of all sets; the last set that names a default mode wins."""
        out = self
        for other in others:
            mode, source = out.default_mode, out.default_mode_source
            if other.default_mode is not None:
                mode, source = other.default_mode, other.default_mode_source
            out = RuleSet(out.rules + other.rules, mode, source)
        return out

    @classmethod
    def from_lists(
        cls,
        *,
        allow: Iterable[str] = (),
        ask: Iterable[str] = (),
        deny: Iterable[str] = (),
        source: Path | None = None,
    ) -> RuleSet:
        """Parse plain rule strings (raises ConfigError naming a bad rule)."""
        rules: list[Rule] = []
        for action, texts in (("allow", allow), ("ask", ask), ("deny", deny)):
            for text in texts:
                rules.append(parse_rule(text, cast(RuleAction, action), source=source))
        return cls(tuple(rules))


# ------------------------------------------------------------------ parsing


def _fail(text: str, why: str, source: Path | None, line: int | None = None) -> ConfigError:
    return ConfigError(f"invalid permission rule '{text}': {why}", path=str(source) if source else None, line=line)


_BRACKETED = re.compile(r"\[!?\]?[^\]]*\]")


def _parse_mcp(name: str, text: str, source: Path | None, line: int | None) -> tuple[str, str]:
    if name.startswith("mcp__"):
        rest = name[len("mcp__") :]
        server, _, tool = rest.partition("__")
    else:
        rest = name[len("mcp:") :]
        server, _, tool = rest.partition("/")
    tool = tool or "*"
    shape = "MCP rules look like mcp:server/tool, mcp:server/* or mcp:server"
    for part in (server, tool):
        if not part or part != part.strip():
            raise _fail(text, shape, source, line)
        if any(c in "()" for c in _BRACKETED.sub("", part)):
            raise _fail(
                text,
                "MCP rules match the tool name only (no argument pattern); write ( and ) in a name as [(] and [)]",
                source,
                line,
            )
    if "/" in server:
        raise _fail(text, shape, source, line)
    return server, tool


def mcp_rule_text(name: str) -> str:
    """The rule naming exactly the MCP tool ``mcp:server/tool`` (wildcards escaped)."""
    pair = parse_user_name(name)
    if pair is None:
        return name
    server, tool = pair
    return f"mcp:{escape_pattern(server)}/{escape_pattern(tool)}"


def _parse_path_pattern(arg: str, text: str, source: Path | None, line: int | None) -> str:
    pattern = arg.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    while "//" in pattern:
        pattern = pattern.replace("//", "/")
    if pattern == "..." or pattern == ".." or pattern.startswith("../") or "/../" in pattern:
        raise _fail(text, "paths outside the workspace must be absolute (/abs/path or ~/path)", source, line)
    return pattern or "."


def parse_rule(
    text: str,
    action: RuleAction = "allow",
    *,
    source: Path | None = None,
    original: str | None = None,
    line: int | None = None,
) -> Rule:
    """Parse one rule; ConfigError (naming the rule and file) when it cannot be used."""
    if not isinstance(text, str):
        raise _fail(repr(text), "a rule must be a string", source, line)
    if action not in ACTIONS:
        raise _fail(text, f"unknown action '{action}'", source, line)
    s = text.strip()
    if not s:
        raise _fail(text, "empty rule", source, line)
    if s.lower().startswith("mcp:") or s.startswith("mcp__"):
        server, tool = _parse_mcp("mcp:" + s[4:] if s.lower().startswith("mcp:") else s, text, source, line)
        return Rule(action, "mcp", mcp_server=server, mcp_tool=tool, source=source, original=original)
    arg: str | None = None
    name = s
    if "(" in s:
        name, _, rest = s.partition("(")
        if not rest.endswith(")"):
            raise _fail(text, "missing closing parenthesis", source, line)
        arg = rest[:-1]
        name = name.strip()
    if name == "*":
        if arg is not None:
            raise _fail(text, "'*' takes no argument pattern", source, line)
        return Rule(action, "*", source=source, original=original)
    tool = name.lower()
    if tool not in BUILTIN_TOOLS:
        known = ", ".join(sorted(BUILTIN_TOOLS)) + ", mcp:server/tool, *"
        raise _fail(text, f"unknown tool '{name}' (known: {known})", source, line)
    if arg is None:
        return Rule(action, tool, source=source, original=original)
    if not arg.strip():
        raise _fail(text, f"empty pattern; write '{tool}' alone to mean all of them", source, line)
    if tool == "agent":
        raise _fail(text, "'agent' rules take no pattern; to limit which agents an agent may call, "
                    "list them in its tools: agent(reviewer, tester)", source, line)
    if tool == "bash":
        pattern: str | None = normalize_blanks(arg)
        if pattern is not None and pattern.endswith(":*") and not pattern.endswith("\\:*"):
            pattern = pattern[:-2].rstrip() + " *"  # Claude's "prefix:*": the prefix, at a word boundary
        if pattern in ("*", " *"):
            pattern = None
    else:
        pattern = _parse_path_pattern(arg, text, source, line)
    return Rule(action, tool, pattern, source=source, original=original)


# ------------------------------------------------------------------ Claude Code mapping

_CLAUDE_TOOLS = {
    "Bash": "bash",
    "Read": "read",
    "Edit": "edit",
    "MultiEdit": "edit",
    "Write": "write",
    "Glob": "glob",
    "Grep": "grep",
    "LS": "ls",
    "Task": "agent",
}

_CLAUDE_MODES = {
    "default": "ask",
    "acceptEdits": "accept-edits",
    "plan": "read-only",
    "bypassPermissions": "auto",
}


def _claude_path(arg: str) -> str:
    """Claude path forms: ``//abs``, ``~/home``, ``/project-root``, ``./x``, gitignore-style names."""
    arg = arg.strip()
    if arg.startswith("//"):
        return "/" + arg.lstrip("/")
    if arg.startswith("~"):
        return arg
    if arg.startswith("/"):
        return arg.lstrip("/")
    if arg.startswith("./"):
        return arg[2:]
    if "/" not in arg and not arg.startswith("**"):
        return "**/" + arg  # gitignore: a bare name matches at any depth
    return arg


def claude_rule_to_ours(text: str) -> tuple[str | None, str | None]:
    """Map one Claude Code rule; returns ``(our_rule_text, None)`` or ``(None, warning)``."""
    s = text.strip() if isinstance(text, str) else ""
    if not s:
        return None, f"empty or non-string Claude rule {text!r} ignored"
    if s.startswith("mcp__"):
        server, _, tool = s[len("mcp__") :].partition("__")
        if not server:
            return None, f"Claude rule '{text}' names no MCP server; ignored"
        return f"mcp:{server}/{tool or '*'}", None
    name, paren, rest = s.partition("(")
    name = name.strip()
    ours = _CLAUDE_TOOLS.get(name)
    if ours is None:
        return None, f"Claude rule '{text}' ignored: agentic-flow has no {name} tool"
    if not paren:
        return ours, None
    if not rest.endswith(")"):
        return None, f"Claude rule '{text}' ignored: missing closing parenthesis"
    arg = rest[:-1].strip()
    if not arg:
        return ours, None
    if ours == "agent":
        return None, f"Claude rule '{text}' ignored: agent rules take no pattern (list callable agents in tools:)"
    if ours == "bash":
        if arg.endswith(":*"):
            arg = arg[:-2].rstrip() + " *"  # "npm run test:*": that prefix, then a word boundary
        return ("bash" if arg.strip() == "*" else f"bash({arg})"), None
    return f"{ours}({_claude_path(arg)})", None


def _json_line(text: str, needle: str) -> int | None:
    pos = text.find(json.dumps(needle))
    return text.count("\n", 0, pos) + 1 if pos >= 0 else None


def load_claude_rules(workspace: Path) -> tuple[RuleSet, list[str]]:
    """Rules from ``.claude/settings.json`` and ``.claude/settings.local.json``.

    Unknown tools (``WebFetch``...) and unmappable entries become warnings, never errors:
    the file was written for another program. Invalid JSON is a ConfigError (a broken
    file may hold deny rules the user relies on).
    """
    result = RuleSet()
    warnings: list[str] = []
    for name in ("settings.json", "settings.local.json"):
        path = Path(workspace) / ".claude" / name
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read Claude settings: {exc}", path=str(path)) from exc
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from exc
        perms = data.get("permissions") if isinstance(data, dict) else None
        if perms is None:
            continue
        if not isinstance(perms, dict):
            raise ConfigError("'permissions' must be an object", path=str(path), key="permissions")
        rules: list[Rule] = []
        for action in ACTIONS:
            entries = perms.get(action) or []
            if not isinstance(entries, list):
                raise ConfigError(f"'permissions.{action}' must be a list", path=str(path), key=f"permissions.{action}")
            for entry in entries:
                ours, warning = claude_rule_to_ours(entry)
                if ours is None:
                    warnings.append(f"{path}: {warning}")
                    continue
                try:
                    rules.append(parse_rule(ours, action, source=path, original=str(entry)))
                except ConfigError as exc:
                    line = _json_line(text, str(entry)) or "?"
                    warnings.append(f"{path}:{line}: Claude rule '{entry}' ignored: {exc}")
        mode: Mode | None = None
        claude_mode = perms.get("defaultMode")
        if claude_mode is not None:
            if claude_mode in _CLAUDE_MODES:
                mode = cast(Mode, _CLAUDE_MODES[claude_mode])
                if claude_mode == "bypassPermissions":
                    warnings.append(
                        f"{path}: defaultMode bypassPermissions mapped to auto (dangerous operations still ask)"
                    )
            else:
                warnings.append(f"{path}: unknown Claude defaultMode {claude_mode!r} ignored")
        for key in perms:
            if key not in (*ACTIONS, "defaultMode"):
                warnings.append(f"{path}: Claude permissions key '{key}' is not supported and was ignored")
        result = result.merged(RuleSet(tuple(rules), mode, path if mode else None))
    return result, warnings


# ------------------------------------------------------------------ our settings files


def _node_value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def load_settings_rules(path: Path) -> RuleSet:
    """Rules from one of our YAML settings files (``permissions: {allow, ask, deny, mode}``).

    A missing file is an empty set. Errors name the file, the line and the rule.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RuleSet()
    except OSError as exc:
        raise ConfigError(f"cannot read settings: {exc}", path=str(path)) from exc
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    if root is None:
        return RuleSet()
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("the settings file must be a mapping", path=str(path))
    perms = _node_value(root, "permissions")
    if perms is None or (isinstance(perms, yaml.ScalarNode) and perms.value in ("", "~", "null")):
        return RuleSet()
    if not isinstance(perms, yaml.MappingNode):
        line = perms.start_mark.line + 1
        raise ConfigError("'permissions' must be a mapping", path=str(path), line=line, key="permissions")
    rules: list[Rule] = []
    for action in ACTIONS:
        node = _node_value(perms, action)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
            continue
        if not isinstance(node, yaml.SequenceNode):
            raise ConfigError(
                "must be a list of rules", path=str(path), line=node.start_mark.line + 1, key=f"permissions.{action}"
            )
        for item in node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.ScalarNode):
                raise ConfigError("a rule must be a string", path=str(path), line=line, key=f"permissions.{action}")
            rules.append(parse_rule(item.value, action, source=path, line=line))
    mode: Mode | None = None
    mode_node = _node_value(perms, "mode")
    if isinstance(mode_node, yaml.ScalarNode) and mode_node.value:
        mode = parse_mode(mode_node.value, where=f"{path}:{mode_node.start_mark.line + 1}")
    return RuleSet(tuple(rules), mode, path if mode else None)


def load_rule_sets(
    workspace: Path,
    *,
    user_settings: Path | None = None,
    project_settings: Path | None = None,
    include_claude: bool = True,
) -> tuple[RuleSet, list[str]]:
    """User settings + project settings + Claude settings, merged.

    Precedence between rules does not depend on where they come from (deny > ask >
    allow); the default mode is the most specific one set: our project settings, else
    Claude's (local before shared), else the user settings.
    """
    user = load_settings_rules(user_settings or paths.user_config_file())
    project = load_settings_rules(project_settings or paths.project_settings_file(Path(workspace)))
    claude, warnings = load_claude_rules(Path(workspace)) if include_claude else (RuleSet(), [])
    return user.merged(claude, project), warnings
