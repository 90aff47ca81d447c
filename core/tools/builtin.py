"""The built-in tools in one place; :mod:`core.tools.registry` builds them from here."""

from __future__ import annotations

from agentic_flow.core.tools.base import Tool
from agentic_flow.core.tools.files import EditTool, LsTool, ReadTool, WriteTool
from agentic_flow.core.tools.search import GlobTool, GrepTool
from agentic_flow.core.tools.shell import BashTool

__all__ = [
    "BUILTIN_TOOL_TYPES",
    "ReadTool",
    "WriteTool",
    "EditTool",
    "LsTool",
    "GlobTool",
    "GrepTool",
    "BashTool",
]

#: In the order they are offered to the model.
BUILTIN_TOOL_TYPES: tuple[type[Tool], ...] = (ReadTool, WriteTool, EditTool, GlobTool, GrepTool, LsTool, BashTool)
