"""A stdio MCP server whose tools ask the client questions (``elicitation/create``).

Each tool sends the raw requested schema (as a server on another SDK would) and returns
what came back as JSON: ``{"action": ..., "content": ...}``. Both ways of asking are
served: on protocol 2026-07-28 and later the call returns an ``InputRequiredResult`` and
reads the answer from the client's retry; on older versions it sends the request mid-call,
as the conformance scenario's server does.

Tools:
    ``defaults``   the MCP conformance scenario ``elicitation-sep1034-client-defaults``:
                   string, integer, number, enum and boolean fields, all optional with
                   defaults; a conforming client that accepts sends every default.
    ``token``      one required string with no default (unattended clients must decline).
    ``profile``    a mixed form: a required name without default, an integer with bounds
                   and a default, an optional number, a boolean, a titled choice.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import is_version_at_least

server = MCPServer("elicit", version="1.0", log_level="WARNING")

DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    },
    "required": [],
}

TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"token": {"type": "string", "description": "An access token"}},
    "required": ["token"],
}

PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Your name", "minLength": 2},
        "count": {"type": "integer", "title": "How many", "minimum": 1, "maximum": 10, "default": 3},
        "ratio": {"type": "number", "title": "Ratio"},
        "confirm": {"type": "boolean", "title": "Confirm", "default": False},
        "color": {
            "type": "string",
            "title": "Colour",
            "oneOf": [
                {"const": "r", "title": "Red"},
                {"const": "g", "title": "Green"},
                {"const": "b", "title": "Blue"},
            ],
            "default": "g",
        },
    },
    "required": ["name", "count"],
}


def _outcome(result: ElicitResult) -> str:
    return json.dumps({"action": result.action, "content": result.content}, sort_keys=True)


async def _ask(ctx: Context, message: str, schema: dict[str, Any]) -> str | InputRequiredResult:
    answers = ctx.input_responses or {}
    if "answer" in answers:  # the client's retry, carrying the answer
        return _outcome(ElicitResult.model_validate(answers["answer"], from_attributes=True))
    if ctx.protocol_version and is_version_at_least(ctx.protocol_version, "2026-07-28"):
        request = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))
        return InputRequiredResult(input_requests={"answer": request})
    return _outcome(await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id))


@server.tool(description="Ask for a form whose fields all have defaults (SEP-1034).")
async def defaults(ctx: Context) -> str | InputRequiredResult:
    return await _ask(ctx, "Test client default value handling - please accept with defaults", DEFAULTS_SCHEMA)


@server.tool(description="Ask for an access token (required, no default).")
async def token(ctx: Context) -> str | InputRequiredResult:
    return await _ask(ctx, "Please paste a token", TOKEN_SCHEMA)


@server.tool(description="Ask for a small profile (mixed fields).")
async def profile(ctx: Context) -> str | InputRequiredResult:
    return await _ask(ctx, "Tell me about you", PROFILE_SCHEMA)


if __name__ == "__main__":
    server.run()
