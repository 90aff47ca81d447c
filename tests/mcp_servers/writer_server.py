"""A stdio MCP server that writes files, to show what the command sandbox lets it do.

Tools: ``write`` (write ``text`` to ``path``; answers ``wrote PATH`` or the error),
``env`` (the names of its environment variables). ``--write-on-start PATH`` writes
``started`` to PATH before serving (a refusal goes to stderr), so a test can see the
sandbox of a server nobody called.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("writer", version="1.0", log_level="WARNING")


@server.tool(description="Write text to a file.")
def write(path: str, text: str) -> str:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        return f"error: {exc.strerror} ({path})"
    return f"wrote {path}"


@server.tool(description="The names of this server's environment variables.")
def env() -> str:
    return " ".join(sorted(os.environ))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-on-start":
        try:
            with open(sys.argv[2], "w", encoding="utf-8") as handle:
                handle.write("started")
        except OSError as exc:
            sys.stderr.write(f"writer: cannot write {sys.argv[2]}: {exc.strerror}\n")
    server.run()
