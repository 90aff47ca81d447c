"""A stdio MCP server that dies in the middle of a call.

Tools: ``echo``, ``pid`` (its process id), ``crash`` (exits with ``os._exit`` while the
call is in flight, after reporting progress), ``hang`` (never answers), ``freeze``
(blocks its event loop, so nothing answers). ``--die-at-start`` exits before serving;
``--pid-file PATH`` writes its process id there first.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("crashy", version="1.0", log_level="WARNING")


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="Return this server's process id.")
def pid() -> str:
    return str(os.getpid())


@server.tool(description="Exit the process in the middle of the call.")
async def crash(ctx: Context) -> str:
    await ctx.report_progress(0, 1, "about to crash")
    await asyncio.sleep(0.1)
    sys.stderr.write("crashy: exiting mid-call\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(description="Block the whole server (its event loop) for a long time.")
async def freeze() -> str:
    time.sleep(3600)
    return "unreachable"


@server.tool(description="Never answer.")
async def hang() -> str:
    await asyncio.sleep(3600)
    return "unreachable"


if __name__ == "__main__":
    if "--die-at-start" in sys.argv:
        sys.stderr.write("crashy: refusing to start (missing CRASHY_CONFIG)\n")
        sys.exit(2)
    if "--pid-file" in sys.argv:  # lets a test find this process without pgrep
        with open(sys.argv[sys.argv.index("--pid-file") + 1], "w") as f:
            f.write(str(os.getpid()))
    server.run()
