"""Which tools an agent gets, and finding a tool again from the name a provider sends.

Agent files list tools the way their authors know them: our names (``read``,
``mcp:github/*``) or Claude Code's (``Read``, ``LS``, ``mcp__github__create_issue``).
Both select the same tools here. A name that matches nothing is not fatal — the agent
still runs — but it comes back as a warning so the UI can show it.

Delegation is opt-in: ``agent`` (Claude Code: ``Task``) lets an agent call every other
agent of the catalog, ``agent(reviewer, tester)`` only those. The ``agent`` tool itself is
made by the session's delegation (it lists the callable agents), so here the entries
only become :attr:`ToolSet.delegates`; an omitted ``tools:`` or ``*`` does not include it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from agentic_flow.core.messages import ToolSpec
from agentic_flow.core.tools.base import Tool
from agentic_flow.core.tools.builtin import BUILTIN_TOOL_TYPES

__all__ = ["ALL_AGENTS", "ToolSet", "builtin_tools", "tools_for_agent", "tool_by_wire_name", "delegation_entry"]

#: Claude Code tool names that map onto a built-in of ours (compared case-insensitively).
_ALIASES = {"multiedit": "edit"}
_ARG_PATTERN = re.compile(r"^([^()]+)\((.*)\)$")
#: In :attr:`ToolSet.delegates`: every agent may be called.
ALL_AGENTS = "*"
_DELEGATION_NAMES = ("agent", "task")


class ToolSet(dict[str, Tool]):
    """Tools keyed by user-facing name, plus what went wrong while selecting them.

    Attributes:
        warnings: one sentence per tool name that selected nothing or clashed.
        delegates: the agents ``tools:`` lets this agent delegate to (``ALL_AGENTS``
            in it: any), or None when it names no ``agent`` entry.
    """

    def __init__(
        self, tools: Iterable[Tool] = (), warnings: Iterable[str] = (), delegates: frozenset[str] | None = None
    ) -> None:
        super().__init__((tool.name, tool) for tool in tools)
        self.warnings: list[str] = list(warnings)
        self.delegates = delegates

    def by_wire_name(self, wire_name: str) -> Tool | None:
        """The tool a provider means by ``wire_name`` (``None`` if it is not offered)."""
        return tool_by_wire_name(self, wire_name)

    def specs(self) -> list[ToolSpec]:
        """What to send to the provider, in selection order."""
        return [tool.spec() for tool in self.values()]


def builtin_tools() -> dict[str, Tool]:
    """Fresh instances of every built-in tool, keyed by name, in offering order."""
    tools = [tool_type() for tool_type in BUILTIN_TOOL_TYPES]
    return {tool.name: tool for tool in tools}


def tool_by_wire_name(tools: Mapping[str, Tool], wire_name: str) -> Tool | None:
    """Map a provider's tool name back to the tool (exact match, no guessing)."""
    for tool in tools.values():
        if tool.wire_name == wire_name:
            return tool
    return None


def tools_for_agent(
    allowed: list[str] | None, extra_tools: Mapping[str, Tool] | None = None
) -> tuple[ToolSet, list[str]]:
    """Select an agent's tools.

    Args:
        allowed: names from the agent's ``tools:`` list; ``None`` means every tool.
            ``mcp:server/*`` (or ``mcp:server``) selects all of a server's tools,
            ``mcp:*`` all MCP tools; Claude Code spellings are accepted.
        extra_tools: tools beyond the built-ins (MCP). Matched on each tool's
            ``name`` / ``wire_name``, so the mapping may be keyed either way.

    Returns:
        The selected tools keyed by user-facing name, and one warning per name that
        matched nothing (also kept on ``ToolSet.warnings``).
    """
    builtins = builtin_tools()
    extras = {tool.name: tool for tool in (extra_tools or {}).values()}
    if allowed is None:
        selection = _dedupe_wire_names([*builtins.values(), *extras.values()], [])
        return selection, selection.warnings
    selected: list[Tool] = []
    warnings: list[str] = []
    delegates: set[str] | None = None
    for raw in allowed:
        entry = raw.strip()
        if not entry:
            continue
        names = delegation_entry(entry)
        if names is not None:
            if not names:
                warnings.append(f"'{entry}' names no agent; write agent for all, or agent(reviewer, tester).")
            delegates = (delegates or set()) | names
            continue
        matched = _select(entry, builtins, extras, warnings)
        if matched is None:
            known = ", ".join(builtins)
            warnings.append(f"Unknown tool '{entry}' ignored (built-in tools: {known}).")
        elif not matched and entry not in ("mcp:*", "mcp__*"):
            # "all MCP tools" with no server configured is not a mistake in the agent file.
            warnings.append(f"No tools match '{entry}' (is that MCP server configured and running?).")
        for tool in matched or []:
            if all(tool is not chosen for chosen in selected):
                selected.append(tool)
    selection = _dedupe_wire_names(selected, warnings)
    selection.delegates = frozenset(delegates) if delegates is not None else None
    return selection, selection.warnings


def delegation_entry(entry: str) -> set[str] | None:
    """The agents a ``tools:`` entry lets an agent call, or None if it is not about delegation.

    ``agent`` / ``Task`` -> ``{"*"}``; ``agent(reviewer, tester)`` -> ``{"reviewer", "tester"}``.
    """
    head, paren, rest = entry.strip().partition("(")
    if head.strip().lower() not in _DELEGATION_NAMES:
        return None
    if not paren:
        return {ALL_AGENTS}
    inner = rest[:-1] if rest.endswith(")") else rest
    return {name.strip() for name in re.split(r"[,\s]+", inner) if name.strip()}


def _select(entry: str, builtins: dict[str, Tool], extras: dict[str, Tool], warnings: list[str]) -> list[Tool] | None:
    """Tools one entry names; ``[]`` for a valid selector that matched nothing, ``None`` if unknown."""
    if entry == "*":
        return [*builtins.values(), *extras.values()]
    if entry in extras:
        return [extras[entry]]
    pattern = _ARG_PATTERN.match(entry)
    if pattern:
        # "Bash(git status*)" belongs in permission rules; the tool itself is what counts here.
        warnings.append(f"'{entry}': argument patterns are ignored in a tool list; use a permission rule.")
        entry = pattern.group(1).strip()
    lowered = _ALIASES.get(entry.lower(), entry.lower())
    if lowered in builtins:
        return [builtins[lowered]]
    if entry.startswith("mcp:"):
        rest = entry.removeprefix("mcp:")
        if rest in ("", "*"):
            selector = "mcp:*"
        elif "/" not in rest:
            selector = f"mcp:{rest}/*"  # a bare server name means all of its tools
        else:
            selector = entry  # "mcp:server/*", "mcp:server/get_*", or one exact tool
        return [tool for name, tool in extras.items() if fnmatchcase(name, selector)]
    if entry.startswith("mcp__"):
        # Claude Code spelling: match the wire names MCP tools are offered under.
        return [t for t in extras.values() if t.wire_name == entry or t.wire_name.startswith(entry + "__")]
    return None


def _dedupe_wire_names(tools: list[Tool], warnings: list[str]) -> ToolSet:
    """Two tools with one wire name would make results ambiguous: keep the first."""
    kept: list[Tool] = []
    seen: dict[str, Tool] = {}
    for tool in tools:
        other = seen.get(tool.wire_name)
        if other is not None:
            warnings.append(
                f"Tools '{other.name}' and '{tool.name}' share the wire name '{tool.wire_name}'; "
                f"'{tool.name}' was left out."
            )
            continue
        seen[tool.wire_name] = tool
        kept.append(tool)
    return ToolSet(kept, warnings)
