"""Permission modes: what happens to a call no rule decided.

    mode          read (in ws)  edit (in ws)  command / mcp / other   outside the workspace
    ask           allow         ask           ask                     ask
    accept-edits  allow         allow         ask                     ask
    auto          allow         allow         allow                   allow (dangerous asks)
    read-only     allow         deny          deny                    reads ask, rest deny

Delegating to a subagent (the ``agent`` tool) is allowed in every mode: it acts on
nothing itself, and every call the subagent makes goes through the same engine.

Dangerous operations are not the mode's business: the engine checks them first and
asks unless a specific allow rule names them, so ``auto`` never means "anything".
"""

from __future__ import annotations

from typing import Literal

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.permissions.targets import ToolKind

__all__ = ["Mode", "MODES", "parse_mode", "mode_outcome", "READ_ONLY_REASON"]

Mode = Literal["ask", "accept-edits", "auto", "read-only"]
MODES: tuple[Mode, ...] = ("ask", "accept-edits", "auto", "read-only")

READ_ONLY_REASON = "read-only mode: no writes or commands"

_ALIASES = {
    "default": "ask",
    "acceptedits": "accept-edits",
    "accept_edits": "accept-edits",
    "plan": "read-only",
    "readonly": "read-only",
    "read_only": "read-only",
}


def parse_mode(value: str, *, where: str | None = None) -> Mode:
    """A mode name (aliases: ``default``, ``plan``, ``acceptEdits``...) or ConfigError."""
    name = value.strip()
    name = _ALIASES.get(name.lower(), name.lower())
    if name not in MODES:
        raise ConfigError(
            f"unknown permission mode '{value}'; use one of: {', '.join(MODES)}", path=where
        )
    return name


def mode_outcome(mode: Mode, kind: ToolKind, inside: bool) -> tuple[Literal["allow", "deny", "ask"], str]:
    """The mode's verdict for a call of ``kind``; ``inside`` is False for paths outside."""
    if kind == "delegate":
        return "allow", f"{mode} mode: delegating is allowed (the subagent's own calls are each decided)"
    if mode == "read-only":
        if kind != "read":
            return "deny", READ_ONLY_REASON
        if inside:
            return "allow", "read-only mode: reads inside the workspace are allowed"
        return "ask", "read-only mode: reading outside the workspace needs approval"
    if mode == "auto":
        return "allow", "auto mode: allowed"
    if kind == "read":
        if inside:
            return "allow", f"{mode} mode: reads inside the workspace are allowed"
        return "ask", f"{mode} mode: reading outside the workspace needs approval"
    if kind == "edit":
        if mode == "accept-edits" and inside:
            return "allow", "accept-edits mode: edits inside the workspace are allowed"
        if not inside:
            return "ask", f"{mode} mode: writing outside the workspace needs approval"
        return "ask", "ask mode: edits need approval"
    if kind == "execute":
        return "ask", f"{mode} mode: commands need approval"
    if kind == "mcp":
        return "ask", f"{mode} mode: MCP tools need approval"
    return "ask", f"{mode} mode: this tool needs approval"
