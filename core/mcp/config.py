"""MCP server configuration: ``.mcp.json`` in the workspace merged with settings.

The format is the one other tools use::

    {"mcpServers": {
        "time":   {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "${TZ:-UTC}"}},
        "remote": {"type": "http", "url": "https://example.com/mcp",
                   "headers": {"Authorization": "Bearer ${API_TOKEN}"}}}}

``type`` is optional (``command`` means stdio, ``url`` means streamable HTTP). A stdio
server runs inside the command sandbox; ``"sandbox": {"network": true}`` gives it the
network, ``"sandbox": false`` runs it outside (honoured for servers in the user config
only). ``"disabled": true`` skips an entry. Unknown keys are ignored (other tools add their
own). Every problem becomes a warning naming the file, the key and the server; one bad
entry never hides the others.

Two steps, because a repository must not run code or read the environment before the
user trusts it (see :mod:`core.mcp.trust`):

1. :func:`load_mcp_entries` reads and validates the entries *as written*
   (:class:`McpServerEntry`: nothing expanded, an ``origin`` of ``user`` for the user's
   own settings file and ``project`` for ``.mcp.json`` and the project settings file,
   and a fingerprint of what the entry says);
2. :meth:`McpServerEntry.expand` turns a trusted entry into the
   :class:`McpServerConfig` that is started: ``${VAR}`` and ``${VAR:-default}`` in
   ``command``, ``args``, ``env``, ``cwd``, ``url`` and ``headers`` come from the
   environment, except the variables it is told are off limits (provider API keys).

Pure standard library: importing this module never imports the MCP SDK.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from agentic_flow.core.errors import ConfigError

__all__ = [
    "McpServerConfig",
    "McpServerEntry",
    "Origin",
    "load_mcp_entries",
    "parse_mcp_servers",
    "expand_vars",
    "variables_in",
    "MCP_JSON",
]

MCP_JSON = ".mcp.json"
SETTINGS_SOURCE = "settings"

Transport = Literal["stdio", "http"]
Origin = Literal["user", "project"]
"""``user``: the user's own settings file (trusted); ``project``: the workspace's files."""

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
    """One MCP server, validated and with variables expanded: ready to start.

    Attributes:
        name: the key under ``mcpServers``; appears in ``mcp:name/tool``.
        transport: ``"stdio"`` (a subprocess) or ``"http"`` (streamable HTTP).
        command, args, env, cwd: how to start a stdio server (``cwd`` is absolute).
        url, headers: where a streamable HTTP server listens and what to send it.
        source: the file the entry came from, or ``"settings"``.
        origin: ``user`` (the user's own settings) or ``project`` (the workspace's files).
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
    origin: Origin = "user"
    sandbox: bool = True
    sandbox_network: bool = False

    def describe(self) -> str:
        """Short human form: the command line or the URL."""
        if self.transport == "stdio":
            return " ".join([self.command, *self.args])
        return self.url


@dataclass(frozen=True)
class McpServerEntry:
    """One validated ``mcpServers`` entry exactly as written (no variable expanded yet).

    This is what a person approves: :meth:`describe` shows the command line or URL with
    its ``${VAR}`` references, :attr:`fingerprint` changes whenever anything that decides
    what runs or where data goes changes.
    """

    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    source: str = SETTINGS_SOURCE
    origin: Origin = "user"
    workspace: str = ""
    sandbox: bool = True
    sandbox_network: bool = False

    def describe(self) -> str:
        """The command line (with ``cwd`` and ``env`` names) or the URL, as written."""
        if self.transport == "stdio":
            text = " ".join([self.command, *self.args])
            if self.env:
                text += "  (env: " + ", ".join(f"{k}={v}" for k, v in self.env.items()) + ")"
            if self.cwd:
                text += f"  (in {self.cwd})"
            return text
        text = self.url
        if self.headers:
            text += "  (headers: " + ", ".join(f"{k}: {v}" for k, v in self.headers.items()) + ")"
        return text

    @property
    def fingerprint(self) -> str:
        """sha256 of everything that decides what runs and what is sent."""
        material = {
            "sandbox": [self.sandbox, self.sandbox_network],
            "transport": self.transport,
            "command": self.command,
            "args": list(self.args),
            "env": dict(sorted(self.env.items())),
            "cwd": self.cwd,
            "url": self.url,
            "headers": dict(sorted(self.headers.items())),
        }
        blob = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def variables(self) -> list[str]:
        """Every ``${VAR}`` the entry refers to, in order of first use."""
        texts = [self.command, *self.args, *self.env.values(), self.cwd, self.url, *self.headers.values()]
        found: dict[str, None] = {}
        for text in texts:
            for name in variables_in(text):
                found[name] = None
        return list(found)

    def expand(
        self, environ: Mapping[str, str] | None = None, *, forbidden: Collection[str] = ()
    ) -> McpServerConfig:
        """The startable config, ``${VAR}`` filled in from ``environ`` (default: os.environ).

        Args:
            forbidden: variables this server may not read (provider API keys); naming
                one is an error, even with a default.

        Raises:
            ConfigError: a variable is unset or forbidden, or the expanded URL is not one.
        """
        env = os.environ if environ is None else environ
        prefix = "mcpServers." + self.name
        try:
            if self.transport == "stdio":
                cwd = None
                if self.cwd:
                    cwd_path = Path(_expanded(self.cwd, prefix + ".cwd", env, forbidden)).expanduser()
                    cwd = str(cwd_path if cwd_path.is_absolute() else (Path(self.workspace) / cwd_path))
                return McpServerConfig(
                    name=self.name,
                    transport="stdio",
                    command=_expanded(self.command, prefix + ".command", env, forbidden),
                    args=tuple(
                        _expanded(arg, f"{prefix}.args[{i}]", env, forbidden) for i, arg in enumerate(self.args)
                    ),
                    env={k: _expanded(v, f"{prefix}.env.{k}", env, forbidden) for k, v in self.env.items()},
                    cwd=cwd,
                    source=self.source,
                    origin=self.origin,
                    sandbox=self.sandbox,
                    sandbox_network=self.sandbox_network,
                )
            url = _expanded(self.url, prefix + ".url", env, forbidden)
            _check_url(url, prefix + ".url")
            headers = {k: _expanded(v, f"{prefix}.headers.{k}", env, forbidden) for k, v in self.headers.items()}
            return McpServerConfig(
                name=self.name, transport="http", url=url, headers=headers, source=self.source, origin=self.origin
            )
        except _Invalid as exc:
            raise ConfigError(f"MCP server '{self.name}' skipped: {exc.message}", path=self.source, key=exc.key) from None


class _Invalid(Exception):
    """An entry cannot be used; ``key`` is the dotted key that is wrong."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def variables_in(value: str) -> list[str]:
    """The names of the ``${VAR}`` / ``${VAR:-default}`` references in ``value``."""
    return [match.group(1) for match in _VAR.finditer(value)]


def expand_vars(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in ``value``.

    Raises:
        KeyError: a variable without a default is not set (the name is the key).
    """
    env = os.environ if environ is None else environ

    def replace_one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name)
        if found is not None and (found != "" or default is None):
            return found
        if default is not None:
            return default
        raise KeyError(name)

    return _VAR.sub(replace_one, value)


def load_mcp_entries(
    workspace: Path,
    user_servers: Mapping[str, Any] | None,
    project_servers: Mapping[str, Any] | None = None,
    *,
    user_source: str = SETTINGS_SOURCE,
    project_source: str = SETTINGS_SOURCE,
) -> tuple[dict[str, McpServerEntry], list[str]]:
    """Read ``<workspace>/.mcp.json`` and merge the settings' ``mcpServers`` over it.

    Precedence, lowest first: ``.mcp.json``, the user's settings file
    (``user_servers``), the project settings file (``project_servers``); a later entry
    replaces an earlier one of the same name (as the project file overrides the user
    file key by key). Entries of ``.mcp.json`` and the project
    settings have origin ``project``, the user's have origin ``user``. Nothing is
    expanded and nothing is started. Never raises for bad input.

    Returns:
        The usable entries by name, and one warning per problem found.
    """
    warnings: list[str] = []
    raw: dict[str, tuple[Any, str, Origin]] = {}
    path = Path(workspace) / MCP_JSON
    for name, entry in _read_mcp_json(path, warnings).items():
        raw[name] = (entry, str(path), "project")
    for servers, source, origin in (
        (user_servers, user_source, "user"),
        (project_servers, project_source, "project"),
    ):
        if servers is None:
            continue
        if isinstance(servers, Mapping):
            for name, entry in servers.items():
                raw[str(name)] = (entry, source, origin)  # type: ignore[assignment]
        else:
            warnings.append(
                str(ConfigError("must be a mapping of server names to entries", path=source, key="mcpServers"))
            )
    entries: dict[str, McpServerEntry] = {}
    for name, (entry, source, origin) in raw.items():
        parsed = _parse_one(name, entry, source, origin, Path(workspace), warnings)
        if parsed is not None:
            entries[name] = parsed
    return entries, warnings


def parse_mcp_servers(
    entries: Mapping[str, Any], *, source: str = SETTINGS_SOURCE, workspace: Path | None = None
) -> tuple[dict[str, McpServerConfig], list[str]]:
    """Validate and expand a ``mcpServers`` mapping the user gave directly (tests, code).

    These entries count as the user's own: every variable may be expanded.
    """
    warnings: list[str] = []
    servers: dict[str, McpServerConfig] = {}
    base = Path(workspace) if workspace is not None else Path.cwd()
    for name, entry in entries.items():
        parsed = _parse_one(str(name), entry, source, "user", base, warnings)
        if parsed is None:
            continue
        try:
            servers[str(name)] = parsed.expand()
        except ConfigError as exc:
            warnings.append(str(exc))
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
    name: str, entry: Any, source: str, origin: Origin, workspace: Path, warnings: list[str]
) -> McpServerEntry | None:
    """Validate one entry; on failure append a warning and return None."""
    prefix = "mcpServers." + name
    try:
        built = _build(name, entry, source, prefix)
    except _Invalid as exc:
        warnings.append(str(ConfigError(f"MCP server '{name}' skipped: {exc.message}", path=source, key=exc.key)))
        return None
    if built is None:
        return None
    return replace(built, origin=origin, workspace=str(workspace))


def _build(name: str, entry: Any, source: str, prefix: str) -> McpServerEntry | None:
    if not name.strip():
        raise _Invalid("the server name is empty", prefix)
    if "/" in name:
        raise _Invalid("a server name cannot contain '/' (tools are named mcp:server/tool)", prefix)
    if any(not ch.isprintable() for ch in name):
        raise _Invalid("a server name cannot contain control or invisible characters", prefix)
    if not isinstance(entry, dict):
        raise _Invalid(f"the entry must be an object, not {_json_type(entry)}", prefix)
    if entry.get("disabled") is True:
        return None
    transport = _transport(entry, prefix)
    if transport == "stdio":
        command = _string(entry, "command", prefix, required=True)
        if not command.strip():
            raise _Invalid("'command' is empty", prefix + ".command")
        sandbox, network = _sandbox(entry, prefix)
        return McpServerEntry(
            name=name,
            transport="stdio",
            command=command,
            args=tuple(_string_list(entry, "args", prefix)),
            env=_string_map(entry, "env", prefix),
            cwd=_string(entry, "cwd", prefix, required=False),
            source=source,
            sandbox=sandbox,
            sandbox_network=network,
        )
    url = _string(entry, "url", prefix, required=True)
    if not variables_in(url):
        _check_url(url, prefix + ".url")
    return McpServerEntry(
        name=name, transport="http", url=url, headers=_string_map(entry, "headers", prefix), source=source
    )


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


def _check_url(url: str, key: str) -> None:
    if not re.match(r"^https?://[^/\s]+", url):
        raise _Invalid(f"'url' must be an http:// or https:// URL, got {url!r}", key)


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


def _expanded(value: str, key: str, environ: Mapping[str, str], forbidden: Collection[str]) -> str:
    for var in variables_in(value):
        if var in forbidden:
            raise _Invalid(
                f"it refers to ${{{var}}}, a provider API key; a project's MCP servers never get provider "
                f"keys unless your user settings list {var} under trust.mcp_key_variables",
                key,
            )
    try:
        return expand_vars(value, environ)
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
