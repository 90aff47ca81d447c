"""Loading MCP servers from ``.mcp.json`` and settings: merge, origin, expansion, warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.mcp.config import (
    McpServerConfig,
    expand_vars,
    load_mcp_entries,
    parse_mcp_servers,
)


def load_mcp_servers(workspace: Path, settings: object) -> tuple[dict[str, McpServerConfig], list[str]]:
    """Entries loaded and all expanded, as if every one were trusted (what these tests check)."""
    entries, warnings = load_mcp_entries(workspace, settings)  # type: ignore[arg-type]
    servers: dict[str, McpServerConfig] = {}
    for name, entry in entries.items():
        try:
            servers[name] = entry.expand()
        except ConfigError as exc:
            warnings.append(str(exc))
    return servers, warnings


def write_mcp_json(workspace: Path, servers: object) -> Path:
    path = workspace / ".mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2), encoding="utf-8")
    return path


def test_no_file_and_no_settings_means_no_servers(tmp_path: Path) -> None:
    assert load_mcp_servers(tmp_path, None) == ({}, [])


def test_file_entries_of_both_transports(tmp_path: Path) -> None:
    write_mcp_json(
        tmp_path,
        {
            "time": {"command": "uvx", "args": ["mcp-server-time", "--local-timezone", "UTC"], "cwd": "tools"},
            "remote": {"url": "https://example.com/mcp", "headers": {"X-Key": "abc"}},
            "typed": {"type": "streamable-http", "url": "http://127.0.0.1:9/mcp"},
            "explicit": {"type": "stdio", "command": "server-bin", "env": {"PORT": 8080}},
        },
    )
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert warnings == []
    time = servers["time"]
    assert (time.transport, time.command, time.args) == ("stdio", "uvx", ("mcp-server-time", "--local-timezone", "UTC"))
    assert time.cwd == str(tmp_path / "tools")
    assert time.source == str(tmp_path / ".mcp.json")
    assert servers["remote"].transport == "http"
    assert dict(servers["remote"].headers) == {"X-Key": "abc"}
    assert servers["typed"].transport == "http"
    assert dict(servers["explicit"].env) == {"PORT": "8080"}
    assert time.describe() == "uvx mcp-server-time --local-timezone UTC"


def test_settings_entries_replace_file_entries(tmp_path: Path) -> None:
    write_mcp_json(tmp_path, {"shared": {"command": "from-file"}, "only-file": {"command": "a"}})
    servers, warnings = load_mcp_servers(
        tmp_path, {"shared": {"url": "http://127.0.0.1:1/mcp"}, "only-settings": {"command": "b"}}
    )
    assert warnings == []
    assert set(servers) == {"shared", "only-file", "only-settings"}
    assert servers["shared"].transport == "http"
    assert servers["shared"].source == "settings"
    assert servers["only-file"].command == "a"


def test_variables_expand_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AF_TEST_TOKEN", "s3cret")
    monkeypatch.setenv("AF_TEST_EMPTY", "")
    monkeypatch.delenv("AF_TEST_UNSET", raising=False)
    write_mcp_json(
        tmp_path,
        {
            "local": {
                "command": "${AF_TEST_UNSET:-node}",
                "args": ["--token=${AF_TEST_TOKEN}", "${AF_TEST_EMPTY:-fallback}", "$NOT_BRACED"],
                "env": {"TOKEN": "${AF_TEST_TOKEN}", "EMPTY": "${AF_TEST_EMPTY}"},
            },
            "remote": {
                "url": "https://${AF_TEST_UNSET:-api.example.com}/mcp",
                "headers": {"Authorization": "Bearer ${AF_TEST_TOKEN}"},
            },
        },
    )
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert warnings == []
    local = servers["local"]
    assert local.command == "node"
    assert local.args == ("--token=s3cret", "fallback", "$NOT_BRACED")
    assert dict(local.env) == {"TOKEN": "s3cret", "EMPTY": ""}
    assert servers["remote"].url == "https://api.example.com/mcp"
    assert dict(servers["remote"].headers) == {"Authorization": "Bearer s3cret"}


def test_unset_variable_skips_only_that_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AF_TEST_MISSING", raising=False)
    path = write_mcp_json(
        tmp_path, {"gh": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "${AF_TEST_MISSING}"}}, "ok": {"command": "x"}}
    )
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert list(servers) == ["ok"]
    assert len(warnings) == 1
    warning = warnings[0]
    assert warning.startswith(f"{path} (key 'mcpServers.gh.env.GITHUB_TOKEN'): ")
    assert "MCP server 'gh' skipped" in warning
    assert "AF_TEST_MISSING is not set" in warning
    assert "${AF_TEST_MISSING:-value}" in warning


@pytest.mark.parametrize(
    ("entry", "key", "fragment"),
    [
        ("npx server", "mcpServers.bad", "must be an object, not a string"),
        ({}, "mcpServers.bad", "needs 'command'"),
        ({"command": "a", "url": "http://x/mcp"}, "mcpServers.bad", "both 'command' and 'url'"),
        ({"command": ["npx", "x"]}, "mcpServers.bad.command", "'command' must be a string, not a list"),
        ({"command": "  "}, "mcpServers.bad.command", "'command' is empty"),
        ({"command": "a", "args": "--flag"}, "mcpServers.bad.args", "must be a list of strings, not a string"),
        ({"command": "a", "args": ["ok", {"x": 1}]}, "mcpServers.bad.args[1]", "must be a string, not an object"),
        ({"command": "a", "env": ["A=1"]}, "mcpServers.bad.env", "must be an object of strings, not a list"),
        ({"command": "a", "env": {"A": None}}, "mcpServers.bad.env.A", "must be a string, not null"),
        ({"command": "a", "env": {"A": True}}, "mcpServers.bad.env.A", "must be a string, not a boolean"),
        ({"type": "sse", "url": "http://x/sse"}, "mcpServers.bad.type", "'sse' transport is not supported"),
        ({"type": "websocket", "url": "ws://x"}, "mcpServers.bad.type", "unknown type 'websocket'"),
        ({"type": 3, "command": "a"}, "mcpServers.bad.type", "must be a string, not a number"),
        ({"url": "localhost:8080/mcp"}, "mcpServers.bad.url", "must be an http:// or https:// URL"),
        ({"type": "http", "command": "a"}, "mcpServers.bad.url", "'url' is missing"),
        ({"url": "http://x/mcp", "headers": {"A": [1]}}, "mcpServers.bad.headers.A", "must be a string"),
    ],
)
def test_invalid_entries_warn_and_never_crash(tmp_path: Path, entry: object, key: str, fragment: str) -> None:
    path = write_mcp_json(tmp_path, {"bad": entry, "good": {"command": "fine"}})
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert list(servers) == ["good"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"{path} (key '{key}'): MCP server 'bad' skipped: ")
    assert fragment in warnings[0]


def test_bad_names_and_disabled_entries(tmp_path: Path) -> None:
    entries = {"a/b": {"command": "x"}, " ": {"command": "x"}, "off": {"command": "x", "disabled": True}}
    write_mcp_json(tmp_path, entries)
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert servers == {}
    assert len(warnings) == 2
    assert "cannot contain '/'" in warnings[0]
    assert "server name is empty" in warnings[1]


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text('{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}\n', encoding="utf-8")
    servers, warnings = load_mcp_servers(tmp_path, {"from-settings": {"command": "y"}})
    assert list(servers) == ["from-settings"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}:3: invalid JSON")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"servers": {}}', "has no 'mcpServers' object"),
        ('{"mcpServers": [1]}', "(key 'mcpServers'): must be an object"),
    ],
)
def test_wrong_file_shapes(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / ".mcp.json").write_text(text, encoding="utf-8")
    servers, warnings = load_mcp_servers(tmp_path, None)
    assert servers == {}
    assert len(warnings) == 1 and fragment in warnings[0]


def test_empty_file_is_fine_and_bad_settings_warn(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text("  \n", encoding="utf-8")
    servers, warnings = load_mcp_servers(tmp_path, ["not", "a", "mapping"])  # type: ignore[arg-type]
    assert servers == {}
    assert warnings == ["settings (key 'mcpServers'): must be a mapping of server names to entries"]


def test_parse_mcp_servers_without_a_file(tmp_path: Path) -> None:
    servers, warnings = parse_mcp_servers({"x": {"command": "run", "cwd": "sub"}, "y": 5}, workspace=tmp_path)
    assert servers["x"].cwd == str(tmp_path / "sub")
    assert len(warnings) == 1 and "MCP server 'y' skipped" in warnings[0]


def test_expand_vars_rules() -> None:
    env = {"A": "1", "E": ""}
    assert expand_vars("${A}-${E}-${E:-d}-${U:-dflt}", env) == "1--d-dflt"
    assert expand_vars("no vars, $A, ${}", env) == "no vars, $A, ${}"
    with pytest.raises(KeyError):
        expand_vars("${U}", env)
