"""An MCP server (stdio) whose tools have the names that slip past naive rule matching.

Usage: ``python odd_names_server.py RAN_FILE``. Tests import ``NAMES`` from here, so
nothing at import time reads ``sys.argv`` (pytest's own arguments are there). Every tool call appends the tool's exact
name (JSON-encoded, one per line) to ``RAN_FILE``, so a test can tell which calls really
ran on the server, whatever the client reported.
"""

from __future__ import annotations

import json
import pathlib
import sys

from mcp.server.mcpserver import MCPServer

#: Names chosen to dodge ``mcp:evil/*``-style rules: a slash, a space, a glob
#: character, a Cyrillic look-alike, case, a zero-width space, parentheses, fullwidth
#: letters, a trailing space, a newline; and one plain name.
NAMES = [
    "delete/all",
    "delete all",
    "a*b",
    "\u0501elete",  # Cyrillic komi de, looks like "delete"
    "DELETE",
    "del\u200bete",
    "x(y)",
    "\uff44\uff45\uff4c\uff45\uff54\uff45",  # fullwidth "delete"
    "delete ",
    "delete\nall",
    "list",
]

server = MCPServer("odd-names", version="1.0", log_level="WARNING")


def _make(name: str):  # noqa: ANN202
    def tool() -> str:
        with pathlib.Path(sys.argv[1]).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(name) + "\n")
        return f"ran {name!r}"

    return tool


for _name in NAMES:
    server.tool(name=_name, description=f"The tool {_name!r}.")(_make(_name))

if __name__ == "__main__":
    server.run()
