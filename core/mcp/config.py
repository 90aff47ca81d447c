"""MCP server configuration: ``.mcp.json`` in the workspace merged with settings.

The format is the one other tools use::

    {"mcpServers": {
        "time":   {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "${TZ:-UTC}"}},
        "remote": {"type": "http", "url": "https://example.com/mcp",
                   "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}

``type`` is optional (``command`` means stdio, ``url`` means streamable HTTP). A stdio
server runs inside the command sandbox; ``"sandbox": {"network": true}`` gives it the
network, ``"sandbox": false`` runs it outside (honoured for servers in the user config
only). Strings in
``command``, ``args``, ``env``, ``cwd``, ``url`` and ``headers`` expand ``${VAR}`` and
``${VAR:-default}`` from the environment. ``"disabled": true`` skips an entry. Unknown
keys are ignored (other tools add their own). Every problem becomes a warning naming the
file, the key and the server; one bad entry never hides the others.

Pure standard library: importing this module never imports the MCP SDK.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentic_flow.core.errors import ConfigError

__all__ = ["McpServerConfig", "load_mcp_servers", "parse_mcp_servers", "expand_vars", "MCP_JSON"]

MCP_JSON = ".mcp.json"
SETTINGS_SOURCE = "settings"

Transport = Literal["stdio", "http"]

_TYPE_ALIASES: dict[str, Transport] = {
    "stdio": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamablehttp": "http",
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server, validated and with variables expanded.

    Attributes:
        name: the key under ``mcpServers``; appears in ``mcp:name/tool``.
        transport: ``"stdio"`` (a subprocess) or ``"http"`` (streamable HTTP).
        command, args, env, cwd: how to start a stdio server (``cwd`` is absolute).
        url, headers: where a streamable HTTP server listens and what to send it.
        source: the file the entry came from, or ``"settings"``.
        sandbox: run a stdio server inside the command sandbox (``"sandbox": false`` opts out).
        sandbox_network: ``"sandbox": {"network": true}`` lets the server use the network.
    """

    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    source: str = SETTINGS_SOURCE
    sandbox: bool = True
    sandbox_network: bool = False

    def describe(self) -> str:
        """Short human form: the command line or the URL."""
        if self.transport == "stdio":
            return " ".join([self.command, *self.args])
        return self.url


class _Invalid(Exception):
    """An entry cannot be used; ``key`` is the dotted key that is wrong."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def expand_vars(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in ``value``.

    Raises:
        KeyError: a variable without a default is not set (the name is the key).
    """
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        raise KeyError(name)

    return _VAR.sub(replace, value)


def load_mcp_servers(
    workspace: Path, settings_servers: Mapping[str, Any] | None
) -> tuple[dict[str, McpServerConfig], list[str]]:
    """Read ``<workspace>/.mcp.json`` and merge ``settings_servers`` over it.

    ``settings_servers`` maps server names to entries (the value of ``mcpServers``); a
    settings entry replaces a file entry of the same name. Never raises for bad input.

    Returns:
        The usable servers by name, and one warning per problem found.
    """
    warnings: list[str] = []
    raw: dict[str, tuple[Any, str]] = {}
    path = Path(workspace) / MCP_JSON
    file_servers = _read_mcp_json(path, warnings)
    for name, entry in file_servers.items():
        raw[name] = (entry, str(path))
    if settings_servers is not None:
        if isinstance(settings_servers, Mapping):
            for name, entry in settings_servers.items():
                raw[str(name)] = (entry, SETTINGS_SOURCE)
        else:
            warnings.append(
                str(ConfigError("must be a mapping of server names to entries", path=SETTINGS_SOURCE, key="mcpServers"))
            )
    servers: dict[str, McpServerConfig] = {}
    for name, (entry, source) in raw.items():
        config = _parse_one(name, entry, source, Path(workspace), warnings)
        if config is not None:
            servers[name] = config
    return servers, warnings


def parse_mcp_servers(
    entries: Mapping[str, Any], *, source: str = SETTINGS_SOURCE, workspace: Path | None = None
) -> tuple[dict[str, McpServerConfig], list[str]]:
    """Validate a ``mcpServers`` mapping that did not come from a file (tests, CLI flags)."""
    warnings: list[str] = []
    servers: dict[str, McpServerConfig] = {}
    base = Path(workspace) if workspace is not None else Path.cwd()
    for name, entry in entries.items():
        config = _parse_one(str(name), entry, source, base, warnings)
        if config is not None:
            servers[str(name)] = config
    return servers, warnings


def _read_mcp_json(path: Path, warnings: list[str]) -> dict[str, Any]:
    """The ``mcpServers`` mapping of ``path``; empty (plus a warning) when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        warnings.append(str(ConfigError(f"cannot be read ({exc}); no MCP servers loaded from it", path=str(path))))
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        warnings.append(
            str(
                ConfigError(
                    f"invalid JSON at column {exc.colno}: {exc.msg}; no MCP servers loaded from it",
                    path=str(path),
                    line=exc.lineno,
                )
            )
        )
        return {}
    if not isinstance(data, dict):
        warnings.append(str(ConfigError('must be a JSON object like {"mcpServers": {...}}', path=str(path))))
        return {}
    servers = data.get("mcpServers")
    if servers is None:
        if data:
            warnings.append(str(ConfigError("has no 'mcpServers' object; nothing loaded", path=str(path))))
        return {}
    if not isinstance(servers, dict):
        warnings.append(
            str(ConfigError("must be an object of server names to entries", path=str(path), key="mcpServers"))
        )
        return {}
    return servers


def _parse_one(
    name: str, entry: Any, source: str, workspace: Path, warnings: list[str]
) -> McpServerConfig | None:
    """Validate one entry; on failure append a warning and return None."""
    prefix = "mcpServers." + name
    try:
        return _build(name, entry, source, workspace, prefix)
    except _Invalid as exc:
        warnings.append(str(ConfigError(f"MCP server '{name}' skipped: {exc.message}", path=source, key=exc.key)))
        return None


def _build(name: str, entry: Any, source: str, workspace: Path, prefix: str) -> McpServerConfig | None:
    if not name.strip():
        raise _Invalid("the server name is empty", prefix)
    if "/" in name:
        raise _Invalid("a server name cannot contain '/' (tools are named mcp:server/tool)", prefix)
    if not isinstance(entry, dict):
        raise _Invalid(f"the entry must be an object, not {_json_type(entry)}", prefix)
    if entry.get("disabled") is True:
        return None
    transport = _transport(entry, prefix)
    if transport == "stdio":
        command = _expanded(_string(entry, "command", prefix, required=True), prefix + ".command")
        if not command.strip():
            raise _Invalid("'command' is empty", prefix + ".command")
        args = tuple(
            _expanded(arg, f"{prefix}.args[{i}]") for i, arg in enumerate(_string_list(entry, "args", prefix))
        )
        env = {
            key: _expanded(value, f"{prefix}.env.{key}") for key, value in _string_map(entry, "env", prefix).items()
        }
        cwd_raw = _string(entry, "cwd", prefix, required=False)
        cwd = None
        if cwd_raw:
            cwd_path = Path(_expanded(cwd_raw, prefix + ".cwd")).expanduser()
            cwd = str(cwd_path if cwd_path.is_absolute() else (workspace / cwd_path))
        sandbox, network = _sandbox(entry, prefix)
        return McpServerConfig(
            name=name, transport="stdio", command=command, args=args, env=env, cwd=cwd, source=source,
            sandbox=sandbox, sandbox_network=network,
        )
    url = _expanded(_string(entry, "url", prefix, required=True), prefix + ".url")
    if not re.match(r"^https?://[^/\s]+", url):
        raise _Invalid(f"'url' must be an http:// or https:// URL, got {url!r}", prefix + ".url")
    headers = {
        key: _expanded(value, f"{prefix}.headers.{key}")
        for key, value in _string_map(entry, "headers", prefix).items()
    }
    return McpServerConfig(name=name, transport="http", url=url, headers=headers, source=source)


def _sandbox(entry: dict[str, Any], prefix: str) -> tuple[bool, bool]:
    """``"sandbox"``: absent/true (sandboxed), false (not), or ``{"network": bool}``."""
    value = entry.get("sandbox", True)
    if isinstance(value, bool):
        return value, False
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"network"})
        if unknown:
            raise _Invalid(f"unknown key {unknown[0]!r} in 'sandbox' (known: network)", prefix + ".sandbox")
        network = value.get("network", False)
        if not isinstance(network, bool):
            raise _Invalid(f"'sandbox.network' must be true or false, not {_json_type(network)}", prefix + ".sandbox")
        return True, network
    raise _Invalid(f"'sandbox' must be true, false or {{\"network\": true}}, not {_json_type(value)}", prefix + ".sandbox")


def _transport(entry: dict[str, Any], prefix: str) -> Transport:
    kind = entry.get("type", entry.get("transport"))
    if kind is not None:
        if not isinstance(kind, str):
            raise _Invalid(f"'type' must be a string, not {_json_type(kind)}", prefix + ".type")
        normalized = kind.strip().lower()
        if normalized == "sse":
            raise _Invalid(
                "the legacy 'sse' transport is not supported; use the server's streamable HTTP endpoint "
                "with \"type\": \"http\"",
                prefix + ".type",
            )
        if normalized not in _TYPE_ALIASES:
            raise _Invalid(f"unknown type {kind!r} (use 'stdio' or 'http')", prefix + ".type")
        return _TYPE_ALIASES[normalized]
    has_command, has_url = "command" in entry, "url" in entry
    if has_command and has_url:
        raise _Invalid("has both 'command' and 'url'; add \"type\": \"stdio\" or \"type\": \"http\"", prefix)
    if has_command:
        return "stdio"
    if has_url:
        return "http"
    raise _Invalid("needs 'command' (a stdio server) or 'url' (a streamable HTTP server)", prefix)


def _string(entry: dict[str, Any], key: str, prefix: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise _Invalid(f"'{key}' is missing", f"{prefix}.{key}")
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"'{key}' must be a string, not {_json_type(value)}", f"{prefix}.{key}")
    return value


def _string_list(entry: dict[str, Any], key: str, prefix: str) -> list[str]:
    value = entry.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"'{key}' must be a list of strings, not {_json_type(value)}", f"{prefix}.{key}")
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _Invalid(f"'{key}[{i}]' must be a string, not {_json_type(item)}", f"{prefix}.{key}[{i}]")
    return [str(item) for item in value]


def _string_map(entry: dict[str, Any], key: str, prefix: str) -> dict[str, str]:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(f"'{key}' must be an object of strings, not {_json_type(value)}", f"{prefix}.{key}")
    result: dict[str, str] = {}
    for sub, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise _Invalid(f"'{key}.{sub}' must be a string, not {_json_type(item)}", f"{prefix}.{key}.{sub}")
        result[str(sub)] = str(item)
    return result


def _expanded(value: str, key: str) -> str:
    try:
        return expand_vars(value)
    except KeyError as exc:
        var = exc.args[0]
        raise _Invalid(
            f"environment variable {var} is not set; set it, or give a default with ${{{var}:-value}}", key
        ) from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
