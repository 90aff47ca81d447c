"""MCP servers' questions (elicitation): the schema read into a form, answers completed
with defaults (SEP-1034), and headless runs answering by the permission mode.

The server is ``tests/mcp_servers/elicit_server.py`` (stdio, the ``mcp`` SDK), whose tools
send raw requested schemas and return what came back as JSON.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_flow.core import paths
from agentic_flow.core.cli import main
from agentic_flow.core.mcp.client import McpManager
from agentic_flow.core.mcp.config import parse_mcp_servers
from agentic_flow.core.mcp.elicitation import (
    ElicitationFormError,
    coerce_text,
    complete_answer,
    parse_form,
)
from agentic_flow.core.tools.base import ToolContext
from tests.llm_server import Reply, llm_server  # noqa: F401
from tests.mcp_servers.elicit_server import DEFAULTS_SCHEMA, PROFILE_SCHEMA, TOKEN_SCHEMA

SERVER = {"command": sys.executable, "args": [str(Path(__file__).parent / "mcp_servers" / "elicit_server.py")]}
CONFORMANCE_DEFAULTS = {"name": "John Doe", "age": 30, "score": 95.5, "status": "active", "verified": True}


# ---------------------------------------------------------------------------- the form


def test_the_schema_becomes_fields_of_every_kind():
    form = parse_form(PROFILE_SCHEMA)
    assert [(f.name, f.kind, f.required, f.has_default) for f in form.fields] == [
        ("name", "string", True, False),
        ("count", "integer", True, True),
        ("ratio", "number", False, False),
        ("confirm", "boolean", False, True),
        ("color", "enum", False, True),
    ]
    assert form.field("color").options == (("r", "Red"), ("g", "Green"), ("b", "Blue"))
    assert (form.field("count").minimum, form.field("count").maximum, form.field("name").min_length) == (1, 10, 2)
    legacy = parse_form({"properties": {"size": {"type": "string", "enum": ["s", "m"], "enumNames": ["Small", "Medium"]}}})
    assert legacy.field("size").options == (("s", "Small"), ("m", "Medium"))
    multi = parse_form({"properties": {"tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}})
    assert multi.field("tags").kind == "multi"
    with pytest.raises(ElicitationFormError, match="'blob'.*'object'"):
        parse_form({"properties": {"blob": {"type": "object"}}})


def test_omitted_fields_take_their_defaults_and_values_are_checked():
    assert complete_answer(DEFAULTS_SCHEMA, {}) == CONFORMANCE_DEFAULTS
    assert complete_answer(DEFAULTS_SCHEMA, {"age": 41, "extra": "dropped"}) == {**CONFORMANCE_DEFAULTS, "age": 41}
    assert complete_answer(PROFILE_SCHEMA, {"name": "Ada"}) == {"name": "Ada", "count": 3, "confirm": False, "color": "g"}
    with pytest.raises(ElicitationFormError, match="Your name: required"):
        complete_answer(PROFILE_SCHEMA, {})
    with pytest.raises(ElicitationFormError, match="How many: must be at most 10"):
        complete_answer(PROFILE_SCHEMA, {"name": "Ada", "count": 11})
    with pytest.raises(ElicitationFormError, match="How many: must be a whole number"):
        complete_answer(PROFILE_SCHEMA, {"name": "Ada", "count": 2.5})
    with pytest.raises(ElicitationFormError, match="'x' is not one of the choices"):
        complete_answer(PROFILE_SCHEMA, {"name": "Ada", "color": "x"})
    with pytest.raises(ElicitationFormError, match="at least 2 characters"):
        complete_answer(PROFILE_SCHEMA, {"name": "A"})
    assert complete_answer(TOKEN_SCHEMA, {"token": "t0k"}) == {"token": "t0k"}


def test_typed_text_becomes_the_field_type():
    form = parse_form(PROFILE_SCHEMA)
    assert coerce_text(form.field("count"), " 7 ") == 7
    assert coerce_text(form.field("ratio"), "0.25") == 0.25
    assert coerce_text(form.field("ratio"), "2") == 2
    assert coerce_text(form.field("name"), "") is None  # left empty: the default applies
    with pytest.raises(ElicitationFormError, match="not a whole number"):
        coerce_text(form.field("count"), "seven")


# ---------------------------------------------------------------------------- the client


def call(manager: McpManager, tool: str, tmp_path: Path) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        out = await manager.tools()[f"mcp__el__{tool}"].run({}, ToolContext(workspace=tmp_path))
        return json.loads(out.content)

    return run()  # type: ignore[return-value]


async def test_a_partial_answer_is_completed_with_the_schema_defaults(tmp_path):
    """SEP-1034: what the person leaves out reaches the server as the schema's default."""
    asked: list[tuple[str, str]] = []

    async def person(server: str, message: str, schema: dict[str, Any]) -> Any:
        asked.append((server, message))
        return "accept", {"name": "Ada"} if "you" in message else {}

    servers, _ = parse_mcp_servers({"el": SERVER})
    async with McpManager(servers, elicitation_handler=person) as manager:
        profile = await call(manager, "profile", tmp_path)
        defaults = await call(manager, "defaults", tmp_path)
    assert profile == {"action": "accept", "content": {"name": "Ada", "count": 3, "confirm": False, "color": "g"}}
    assert defaults == {"action": "accept", "content": CONFORMANCE_DEFAULTS}
    assert asked[0] == ("el", "Tell me about you")


async def test_an_answer_that_breaks_the_schema_is_declined_not_sent(tmp_path):
    notices: list[str] = []

    async def careless(server: str, message: str, schema: dict[str, Any]) -> Any:
        return "accept", {"count": 99}

    servers, _ = parse_mcp_servers({"el": SERVER})
    async with McpManager(servers, elicitation_handler=careless, on_notice=lambda s, m: notices.append(m)) as manager:
        assert await call(manager, "profile", tmp_path) == {"action": "decline", "content": None}
    assert any("is not valid, declined" in n and "Your name: required" in n for n in notices)


# ---------------------------------------------------------------------------- headless runs


def write_user_settings(**extra: Any) -> None:
    path = paths.user_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"mcpServers": {"el": SERVER}, **extra}))


def run_tool(llm_server, tmp_path, monkeypatch, capsys, tool: str, *flags: str) -> tuple[int, Any, str]:
    """A run whose model calls one tool of the eliciting server; the tool's result as sent back."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    def handler(req):
        if req.tool_results():
            return Reply.text("done")
        return Reply.tool_calls([("c1", f"mcp__el__{tool}", {})])

    llm_server.set_handler(handler)
    code = main(["run", "--task", "x", "--model", "llamacpp:m", "--base-url", llm_server.openai_url, *flags])
    err = capsys.readouterr().err
    results = [r for req in llm_server.requests for r in req.tool_results()]
    assert results, err
    content = results[-1][1]
    try:
        return code, json.loads(content), err
    except ValueError:
        return code, content, err


def test_headless_auto_accepts_a_form_whose_fields_all_have_defaults(llm_server, tmp_path, monkeypatch, capsys):
    """The conformance scenario elicitation-sep1034-client-defaults, through `run --approve auto`."""
    write_user_settings()
    code, result, err = run_tool(llm_server, tmp_path, monkeypatch, capsys, "defaults", "--approve", "auto")
    assert code == 0
    assert result == {"action": "accept", "content": CONFORMANCE_DEFAULTS}
    assert "mcp:el: asked 'Test client default value handling - please accept with defaults': accept" in err


def test_headless_auto_declines_a_required_field_without_default(llm_server, tmp_path, monkeypatch, capsys):
    write_user_settings()
    code, result, err = run_tool(llm_server, tmp_path, monkeypatch, capsys, "token", "--approve", "auto")
    assert code == 0 and result == {"action": "decline", "content": None}
    assert "asked 'Please paste a token': decline" in err


def test_headless_without_auto_declines_even_a_form_with_defaults(llm_server, tmp_path, monkeypatch, capsys):
    write_user_settings(permissions={"allow": ["mcp:el/*"]})  # the call itself is allowed by a rule
    code, result, _ = run_tool(llm_server, tmp_path, monkeypatch, capsys, "defaults", "--approve", "deny")
    assert code == 0 and result == {"action": "decline", "content": None}
