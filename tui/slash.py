"""Slash commands of the session screen: what they are called, take and do.

A prompt whose first word is one of these runs the command in the workbench and never
reaches the model (``/help`` included). A first word that starts with ``/`` but is not a
command is refused with a hint, unless it looks like a path (``/etc/hosts is ...``),
which is sent as a message.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

__all__ = ["SlashCommand", "COMMANDS", "parse_slash", "help_text"]


@dataclass(frozen=True)
class SlashCommand:
    name: str
    args: str
    help: str


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "list these commands (never sent to the model)"),
    SlashCommand("model", "[PROVIDER:MODEL]", "switch the model; the conversation is kept (no id: pick)"),
    SlashCommand("agent", "[NAME]", "switch the agent: its prompt and tools (no name: pick)"),
    SlashCommand("mode", "[ask|accept-edits|auto|read-only]", "set the permission mode (no mode: next one)"),
    SlashCommand("compact", "[INSTRUCTIONS]", "summarise older turns now to free context"),
    SlashCommand("undo", "", "restore the files the last turn changed with the file tools"),
    SlashCommand("rewind", "[TURN]", "go back to before a turn: code, conversation or both"),
    SlashCommand("cost", "", "tokens, cost and context of this session, per model"),
    SlashCommand("clear", "", "start a new conversation (this one stays in /resume)"),
    SlashCommand("resume", "[ID]", "open another stored session (no id: pick)"),
    SlashCommand("export", "[FILE]", "write this conversation as Markdown"),
    SlashCommand("mcp", "", "MCP servers: status, tools, restart"),
)
_BY_NAME = {command.name: command for command in COMMANDS}


def parse_slash(text: str) -> tuple[SlashCommand | None, str, str | None]:
    """``(command, argument, error)`` for a prompt.

    ``command`` is None when the prompt is a message for the model (``error`` None) or a
    mistyped command (``error`` says so).
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None, "", None
    word, _, rest = stripped.partition(" ")
    name = word[1:]
    if not name or "/" in name or "." in name:  # "/etc/hosts ...", "/" alone: a message
        return None, "", None
    command = _BY_NAME.get(name.lower())
    if command is None:
        close = [c.name for c in COMMANDS if c.name.startswith(name.lower()[:2])]
        hint = f" Did you mean /{close[0]}?" if close else ""
        return None, "", f"Unknown command /{name}.{hint} /help lists the commands."
    return command, rest.strip(), None


def help_text(width: int = 100) -> str:
    """The commands, keys and mentions, laid out to fit ``width`` columns.

    Descriptions wrap under their column; at 80 columns a usage longer than the column
    (``/mode [ask|accept-edits|auto|read-only]``) gets a line of its own.
    """
    usage = {c.name: f"/{c.name} {c.args}".strip() for c in COMMANDS}
    # The description column starts after the longest usage that leaves ~44 columns
    # of text; longer usages go on a line of their own.
    column = max((len(u) for u in usage.values() if len(u) <= width - 4 - 44), default=8)
    indent = " " * (2 + column + 2)
    lines = ["Commands (run here, never sent to the model):"]
    for command in COMMANDS:
        body = textwrap.wrap(command.help, max(20, width - len(indent))) or [""]
        if len(usage[command.name]) <= column:
            lines.append(f"  {usage[command.name]:<{column}}  {body[0]}")
            body = body[1:]
        else:
            lines.append(f"  {usage[command.name]}")
        lines.extend(indent + more for more in body)
    lines.append("")
    notes = [
        "@path attaches a file (@path#L20-45: those lines), read through the permission rules.",
        "Keys: enter send (queued while an answer runs) · ctrl+j newline · esc stop · ctrl+o model"
        " · ctrl+t mode · ctrl+r audit · tab completes / and @ · ctrl+q quit",
    ]
    for note in notes:
        lines.extend(textwrap.wrap(note, width, subsequent_indent="  "))
    return "\n".join(lines)
