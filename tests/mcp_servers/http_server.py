"""A small streamable-HTTP MCP server the MCP client tests run in a subprocess.

Usage: ``python http_server.py`` binds 127.0.0.1 on a free port, prints ``PORT <n>`` on
stdout, and serves ``/mcp`` (MCP) and ``/health`` (readiness) until killed.

Tools: ``echo``, ``add``, ``slow`` (sleeps, reporting progress and logging), ``elicit``
(asks the client for a form whose fields all have defaults), ``elicit_required`` (asks for
a field without a default), ``fail`` (an ``isError`` result), ``media`` (image, embedded
resource and resource link content), ``whoami`` (echoes a request header).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import sys
from typing import Annotated

import mcp_types as types
import uvicorn
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import PlainTextResponse

PNG_BYTES = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

server = MCPServer("test-http", version="1.0")


class Greeting(BaseModel):
    """Every field has a default: an unattended client may accept it as is."""

    name: str = Field(default="world", description="Who to greet")
    times: int = Field(default=2, description="How many times")


class Secret(BaseModel):
    """A required field with no default: an unattended client must decline."""

    token: str = Field(description="An access token")


def ask_greeting() -> Elicit[Greeting]:
    return Elicit("How should I greet?", Greeting)


def ask_secret() -> Elicit[Secret]:
    return Elicit("Please paste a token", Secret)


@server.tool(description="Echo the text back.")
def echo(text: str) -> str:
    return text


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> str:
    return str(a + b)


@server.tool(description="Sleep for a while, reporting progress.")
async def slow(seconds: float, ctx: Context) -> str:
    steps = 4
    await ctx.info(f"slow: sleeping {seconds}s")
    for step in range(steps):
        await ctx.report_progress(step, steps, f"step {step + 1} of {steps}")
        await asyncio.sleep(seconds / steps)
    await ctx.report_progress(steps, steps, "done")
    return f"slept {seconds}s"


@server.tool(description="Ask the user how to greet (all fields have defaults).")
async def elicit(answer: Annotated[ElicitationResult[Greeting], Resolve(ask_greeting)]) -> str:
    if answer.action == "accept":
        return f"accepted: {answer.data.name} x{answer.data.times}"
    return answer.action


@server.tool(description="Ask the user for a token (required, no default).")
async def elicit_required(answer: Annotated[ElicitationResult[Secret], Resolve(ask_secret)]) -> str:
    if answer.action == "accept":
        return f"accepted: {answer.data.token}"
    return answer.action


@server.tool(description="Always fails with an isError result.")
def fail(reason: str = "broken on purpose") -> str:
    raise ToolError(reason)


@server.tool(description="Return an image, an embedded resource and a resource link.")
def media() -> list[types.ContentBlock]:
    return [
        types.TextContent(type="text", text="here you go"),
        types.ImageContent(type="image", data=base64.b64encode(PNG_BYTES).decode(), mime_type="image/png"),
        types.EmbeddedResource(
            type="resource",
            resource=types.TextResourceContents(uri="file:///notes.txt", mime_type="text/plain", text="note body"),
        ),
        types.ResourceLink(type="resource_link", uri="file:///big.bin", name="big.bin", mime_type="application/x"),
    ]


@server.tool(description="Return the X-Test-Token request header.")
def whoami(ctx: Context) -> str:
    headers = ctx.headers or {}
    return headers.get("x-test-token", "<none>")


@server.custom_route("/health", methods=["GET"])
async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    print(f"PORT {port}", flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    sys.exit(main())
