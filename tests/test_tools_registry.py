"""Tool base class (validation, error mapping, schemas) and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from agentic_flow.core.errors import ToolError
from agentic_flow.core.messages import ToolSpec
from agentic_flow.core.tools.base import WIRE_NAME_RE, Tool, ToolContext, ToolOutput, clean_schema
from agentic_flow.core.tools.registry import ToolSet, builtin_tools, tool_by_wire_name, tools_for_agent

BUILTINS = ["read", "write", "edit", "glob", "grep", "ls", "bash"]


class _EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class FakeMcpTool(Tool):
    """Stands in for an MCP tool: dynamic names set per instance."""

    kind = "mcp"
    args_model = _EchoArgs

    def __init__(self, server: str, tool: str) -> None:
        self.name = f"mcp:{server}/{tool}"
        self.wire_name = f"mcp__{server}__{tool}"
        self.description = f"{tool} on {server}"

    async def execute(self, args: _EchoArgs, ctx: ToolContext) -> ToolOutput:
        if args.text == "fail":
            raise ToolError("the server said no")
        if args.text == "oserror":
            raise FileNotFoundError(2, "No such file or directory", "x.txt")
        return ToolOutput(content=args.text)


def mcp_tools(*names: str) -> dict[str, Tool]:
    tools = [FakeMcpTool(*name.split("/")) for name in names]
    return {tool.name: tool for tool in tools}


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path)


# ----------------------------------------------------------------------- the base


async def test_run_returns_validation_errors_instead_of_raising(ctx: ToolContext) -> None:
    tool = builtin_tools()["edit"]
    out = await tool.run({"path": "a.py", "old_string": "x", "replace_all": "maybe", "bogus": 1}, ctx)
    assert out.is_error
    assert out.content.startswith("Invalid arguments for edit:")
    assert "- new_string: Field required" in out.content
    assert "- replace_all:" in out.content
    assert "- bogus: unknown argument" in out.content
    assert out.summary.startswith("edit failed:")


async def test_run_handles_non_dict_arguments(ctx: ToolContext) -> None:
    out = await builtin_tools()["read"].run("not a dict", ctx)  # type: ignore[arg-type]
    assert out.is_error and "Invalid arguments for read" in out.content


async def test_run_maps_tool_and_os_errors(ctx: ToolContext) -> None:
    tool = FakeMcpTool("srv", "echo")
    assert (await tool.run({"text": "hi"}, ctx)) == ToolOutput(content="hi")
    failed = await tool.run({"text": "fail"}, ctx)
    assert failed.is_error and failed.content == "the server said no"
    assert failed.summary == "mcp:srv/echo failed: the server said no"
    os_failed = await tool.run({"text": "oserror"}, ctx)
    assert os_failed.is_error and "No such file or directory (x.txt)" in os_failed.content


def test_preview_of_invalid_arguments_explains(ctx: ToolContext) -> None:
    preview = builtin_tools()["bash"].preview({}, ctx)
    assert preview is not None and "command" in preview and "would fail" in preview
    assert builtin_tools()["read"].preview({"path": "x"}, ctx) is None


@pytest.mark.parametrize("name", BUILTINS)
def test_input_schemas_are_valid_provider_safe_objects(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    tool = builtin_tools()[name]
    schema = tool.input_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert isinstance(schema["properties"], dict) and schema["properties"]
    assert set(schema.get("required", [])) <= set(schema["properties"])
    assert schema["additionalProperties"] is False

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "title" not in node and "$ref" not in node and "anyOf" not in node
            for key, value in node.items():
                if key != "properties":
                    walk(value)
                else:
                    for sub in value.values():
                        walk(sub)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    spec = tool.spec()
    assert isinstance(spec, ToolSpec)
    assert spec.name == tool.wire_name == tool.name
    assert WIRE_NAME_RE.match(spec.name)
    assert spec.description


@pytest.mark.parametrize("name", BUILTINS)
def test_schema_matches_what_run_accepts(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    tool = builtin_tools()[name]
    validator = jsonschema.Draft202012Validator(tool.input_schema)
    assert list(validator.iter_errors({"definitely_not_an_argument": 1}))
    required = tool.input_schema.get("required", [])
    example = {key: "x" for key in required}
    assert not list(validator.iter_errors(example))
    tool.parse_arguments(example)  # and pydantic agrees


def test_clean_schema_inlines_refs_and_optional_and_keeps_title_argument() -> None:
    class Inner(BaseModel):
        level: int

    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        title: str = Field(description="an argument that happens to be called title")
        inner: Inner
        maybe: int | None = None
        choice: int | str = 1

    schema = clean_schema(Args.model_json_schema())
    assert "$defs" not in schema
    assert schema["properties"]["title"] == {
        "type": "string",
        "description": "an argument that happens to be called title",
    }
    assert schema["properties"]["inner"]["properties"]["level"] == {"type": "integer"}
    assert schema["properties"]["maybe"] == {"type": "integer"}
    assert schema["properties"]["choice"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert set(schema["required"]) == {"title", "inner"}


def test_spec_refuses_unsafe_wire_names() -> None:
    tool = FakeMcpTool("srv", "echo")
    tool.wire_name = "mcp:srv/echo"
    with pytest.raises(ValueError, match="not provider-safe"):
        tool.spec()


# ------------------------------------------------------------------- the registry


def test_builtin_tools() -> None:
    tools = builtin_tools()
    assert list(tools) == BUILTINS
    kinds = {name: tool.kind for name, tool in tools.items()}
    assert kinds == {
        "read": "read",
        "write": "edit",
        "edit": "edit",
        "glob": "read",
        "grep": "read",
        "ls": "read",
        "bash": "execute",
    }
    assert builtin_tools()["read"] is not tools["read"]  # fresh instances


def test_none_means_every_tool_including_extras() -> None:
    extras = mcp_tools("gh/issues", "gh/prs", "db/query")
    selection, warnings = tools_for_agent(None, extras)
    assert list(selection) == [*BUILTINS, "mcp:gh/issues", "mcp:gh/prs", "mcp:db/query"]
    assert warnings == []
    assert [spec.name for spec in selection.specs()][-1] == "mcp__db__query"


def test_empty_list_means_no_tools() -> None:
    selection, warnings = tools_for_agent([])
    assert warnings == []
    assert isinstance(selection, ToolSet) and len(selection) == 0


def test_claude_code_names_and_order() -> None:
    selection, warnings = tools_for_agent(["Bash", "Read", " grep ", "LS", "MultiEdit", "read"])
    assert list(selection) == ["bash", "read", "grep", "ls", "edit"]
    assert warnings == []


def test_unknown_names_are_ignored_with_warnings() -> None:
    selection, warnings = tools_for_agent(["read", "WebFetch", "TodoWrite"])
    assert list(selection) == ["read"]
    assert len(warnings) == 2
    assert "WebFetch" in warnings[0] and "read" in warnings[0]
    assert selection.warnings == warnings


def test_mcp_selectors() -> None:
    extras = mcp_tools("gh/issues", "gh/prs", "ghost/x", "db/query")

    def names(allowed: list[str]) -> list[str]:
        selection, warnings = tools_for_agent(allowed, extras)
        assert warnings == []
        return list(selection)

    assert names(["mcp:gh/*"]) == ["mcp:gh/issues", "mcp:gh/prs"]
    assert names(["mcp:gh"]) == ["mcp:gh/issues", "mcp:gh/prs"]
    assert names(["mcp:gh/p*"]) == ["mcp:gh/prs"]
    assert names(["mcp:db/query", "read"]) == ["mcp:db/query", "read"]
    assert names(["mcp:*"]) == list(extras)
    assert names(["mcp__gh"]) == ["mcp:gh/issues", "mcp:gh/prs"]
    assert names(["mcp__gh__prs"]) == ["mcp:gh/prs"]


def test_extras_keyed_by_wire_name_select_the_same() -> None:
    # McpManager.tools() keys its tools by wire name; selection goes by the tools' own names.
    by_wire = {tool.wire_name: tool for tool in mcp_tools("gh/issues", "db/query").values()}
    selection, warnings = tools_for_agent(["mcp:gh/*", "mcp:db/query"], by_wire)
    assert list(selection) == ["mcp:gh/issues", "mcp:db/query"]
    assert warnings == []


def test_mcp_selector_matching_nothing_warns() -> None:
    selection, warnings = tools_for_agent(["mcp:missing/*", "mcp:gh/nope"], mcp_tools("gh/issues"))
    assert len(selection) == 0
    assert len(warnings) == 2
    assert all("configured" in warning for warning in warnings)


def test_argument_patterns_are_stripped_with_a_warning() -> None:
    selection, warnings = tools_for_agent(["Bash(git status*)"])
    assert list(selection) == ["bash"]
    assert "permission rule" in warnings[0]


def test_wire_name_lookup_and_clashes() -> None:
    extras = mcp_tools("gh/issues")
    selection, _ = tools_for_agent(None, extras)
    assert selection.by_wire_name("mcp__gh__issues") is extras["mcp:gh/issues"]
    assert selection.by_wire_name("read") is selection["read"]
    assert selection.by_wire_name("mcp:gh/issues") is None
    assert tool_by_wire_name(builtin_tools(), "bash") is not None
    clash = FakeMcpTool("other", "t")
    clash.wire_name = "read"
    clashed, warnings = tools_for_agent(None, {clash.name: clash})
    assert clashed.by_wire_name("read") is clashed["read"]
    assert "mcp:other/t" not in clashed
    assert "wire name 'read'" in warnings[0]
