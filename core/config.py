"""Settings: a user file, a project file, environment variables for keys.

Files (YAML, both optional):
  user     ``$AGENTIC_FLOW_HOME/config.yaml`` (else the platform config dir)
  project  ``./.agentic-flow/settings.yaml`` (the "always allow" rules are written here)

The project file overrides the user file key by key; permission rule lists are
concatenated, each rule remembering the file it came from. Every key is validated
(``extra="forbid"``): a typo is an error naming the file, the line and the key, not a
silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.paths import project_settings_file, user_config_file
from agentic_flow.core.providers.kinds import is_known_kind, unknown_kind_message
from agentic_flow.core.redact import register_key_variable, register_secret

__all__ = [
    "ProviderModel",
    "ProviderSettings",
    "PermissionSettings",
    "RouterPolicy",
    "SandboxSettings",
    "TrustSettings",
    "ContextSettings",
    "Settings",
    "LoadedSettings",
    "load_settings",
    "load_settings_file",
]

PermissionMode = Literal["ask", "accept-edits", "auto", "read-only"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Tier = Literal["tiny", "small", "medium", "large", "frontier"]


class ProviderModel(_Strict):
    """A model of this provider, priced and sized by the user (``providers.lab.models``).

    It joins the model table, ``cost``, the status bar and compare like a bundled one;
    a field left out is unknown (a price shows as ``?``, never as free).
    """

    id: str = Field(min_length=1, pattern=r"^\S+$")
    """The model's name on the server, as sent on the wire (``lab:<id>`` in the workbench)."""
    name: str | None = None
    """A display name (default: the id)."""
    context: int | None = Field(default=None, gt=0)
    """Context window in tokens."""
    max_output: int | None = Field(default=None, gt=0)
    """Most tokens one answer may have."""
    price_in: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """USD per million input tokens (0 for a server of your own that costs nothing per token)."""
    price_out: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """USD per million output tokens."""
    tools: bool | None = None
    """Whether it accepts tool definitions and returns tool calls (unknown when left out)."""
    tier: Tier | None = None
    """Capability class for ``--model auto`` (default: guessed from the output price)."""


class ProviderSettings(_Strict):
    """Adds a provider or overrides a preset (``providers: {mylab: {...}}``)."""

    kind: str | None = None
    """Wire format: ``openai`` (Chat Completions), ``anthropic`` (Messages), or a plugin's."""
    base_url: str | None = None
    api_key_env: str | None = None
    """Environment variable holding the key (preferred over ``api_key``)."""
    api_key: SecretStr | None = None
    """A key written in the file itself; never printed."""
    headers: dict[str, str] = Field(default_factory=dict)
    needs_key: bool | None = None
    models: list[ProviderModel] = Field(default_factory=list)
    """Models of this provider with their prices and context (see :class:`ProviderModel`)."""

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[ProviderModel]) -> list[ProviderModel]:
        seen: set[str] = set()
        for model in models:
            if model.id in seen:
                raise ValueError(f"model {model.id!r} is listed twice")
            seen.add(model.id)
        return models

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None) -> str | None:
        if kind is not None and not is_known_kind(kind):
            raise ValueError(unknown_kind_message(kind))
        return kind


class PermissionSettings(_Strict):
    mode: PermissionMode | None = None
    allow: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)


class TrustSettings(_Strict):
    """What the user trusts beyond one workspace. Read from the user's file only: a
    project's ``trust:`` block is ignored (a repository cannot trust itself)."""

    mcp_servers: list[str] = Field(default_factory=list)
    """Project MCP servers (``.mcp.json``) of these names start in every workspace."""
    mcp_key_variables: list[str] = Field(default_factory=list)
    """Provider key variables (``OPENAI_API_KEY``...) approved project servers may expand."""


class RouterPolicy(_Strict):
    """How ``--model auto`` may choose (see ``agentic-flow route``)."""

    budget_per_task: float | None = None
    min_tier: Literal["tiny", "small", "medium", "large", "frontier"] | None = None
    preferred_providers: list[str] = Field(default_factory=list)
    local_only: bool = False


class SandboxSettings(_Strict):
    """The command sandbox (read from the user config only: a repository cannot widen it)."""

    enabled: bool = True
    """False runs commands without Landlock; auto mode then asks for every command."""
    network: bool = False
    """Let every command use the network (otherwise only calls approved with ``network: true``)."""
    writable: list[str] = Field(default_factory=list)
    """Folders commands may write besides the workspace and their temp dir (``~`` allowed)."""
    deny_read: list[str] = Field(default_factory=list)
    """Paths commands may not read, besides ~/.ssh, ~/.aws, ... and agentic-flow's config."""
    env_allow: list[str] = Field(default_factory=list)
    """Key variables commands still get (``GITHUB_TOKEN``); all other keys are withheld."""


class ContextSettings(_Strict):
    """The model's context window in long sessions (see ``core.context.compaction``)."""

    auto_compact: bool = True
    """Summarise older turns on its own before the window fills up."""
    compact_at: float = Field(default=0.8, ge=0.2, le=1.0)
    """Share of the window at which compaction starts."""
    keep_turns: int = Field(default=2, ge=0, le=100)
    """Recent prompts (with everything after them) kept as they were."""
    compact_model: str | None = None
    """``provider:model`` that writes the summaries (default: the session's model)."""


class Settings(_Strict):
    default_model: str | None = None
    """Model used when ``--model`` is not given (``provider:model``)."""
    default_agent: str | None = None
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    timeout: float | None = None
    """Read timeout in seconds between streamed bytes (default 120)."""
    connect_timeout: float | None = None
    """Connect timeout in seconds (default 10)."""
    retries: int | None = Field(default=None, ge=0, le=20)
    """Retries on connect errors, 429 and 5xx (default 3)."""
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_turns: int | None = Field(default=None, gt=0)
    permissions: PermissionSettings = Field(default_factory=PermissionSettings)
    mcpServers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    theme: str | None = None
    router: RouterPolicy = Field(default_factory=RouterPolicy)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    trust: TrustSettings = Field(default_factory=TrustSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    model_aliases: dict[str, str] = Field(default_factory=dict)
    """Model names agent files and ``agent`` calls may use (``haiku: openrouter:...``);
    they override the built-in ``haiku`` / ``sonnet`` / ``opus`` (see ``core.agents.models``)."""
    subagent_model: str | None = None
    """Forces one model for every subagent (beats the agents' ``model:``, not a call's ``model``)."""
    max_parallel_agents: int | None = Field(default=None, ge=1, le=32)
    """Subagents one agent's turn may run at once (default 4)."""
    max_agent_depth: int | None = Field(default=None, ge=1, le=8)
    """How deep delegation may go: 1 = subagents cannot delegate further (default 2)."""

    @field_validator("model_aliases")
    @classmethod
    def _aliases_name_models(cls, aliases: dict[str, str]) -> dict[str, str]:
        for name, target in aliases.items():
            if ":" in name or not name.strip():
                raise ValueError(f"alias {name!r}: an alias is a plain name such as haiku (no colon)")
            if ":" not in target:
                raise ValueError(f"alias {name!r}: {target!r} is not a provider:model id")
        return aliases


class LoadedSettings(BaseModel):
    """The merged settings plus where each part came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    merged: Settings
    user: Settings
    project: Settings
    user_file: Path
    project_file: Path

    @property
    def ignored_project_sandbox(self) -> bool:
        """The project file has a ``sandbox:`` block, which is ignored (user config only)."""
        return "sandbox" in self.project.model_fields_set

    def rules_with_sources(self) -> list[tuple[str, str, Path]]:
        """``(list_name, rule, file)`` for every permission rule, user file first."""
        out: list[tuple[str, str, Path]] = []
        for settings, path in ((self.user, self.user_file), (self.project, self.project_file)):
            for list_name in ("allow", "ask", "deny"):
                for rule in getattr(settings.permissions, list_name):
                    out.append((list_name, rule, path))
        return out


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key_node, value_node in node.value:
                if key_node.value == part:
                    nxt = value_node
                    line = key_node.start_mark.line + 1
                    break
            if nxt is None:
                return line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_settings_file(path: Path) -> Settings:
    """Parse and validate one settings file; a missing file is empty settings."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read settings file: {exc}", path=str(path)) from exc
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigError(
            f"not valid YAML: {exc.problem or exc}. Fix the file or delete it to start again.",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from exc
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of keys (key: value)", path=str(path), line=1)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            known = _known_keys(loc[:-1])
            hint = f"unknown key; known keys here: {', '.join(known)}" if known else "unknown key"
        else:
            hint = err["msg"]
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ConfigError(hint + more, path=str(path), line=_line_of(node, loc), key=key) from exc
    _register_secrets(settings)
    return settings


_SECRET_HEADER_WORDS = ("key", "token", "auth", "secret")


def _register_secrets(settings: Settings) -> None:
    """Keys named in a settings file are masked everywhere from now on.

    :mod:`core.redact` finds the presets' keys in the environment by itself; a key read
    through a custom ``api_key_env`` (``LAB_KEY``), one that only lives in
    ``providers.NAME.api_key``, or an auth header would otherwise reach error messages,
    logs and the audit log verbatim whenever a server or a command echoes it back.
    """

    for provider in settings.providers.values():
        if provider.api_key is not None:
            register_secret(provider.api_key.get_secret_value())
        if provider.api_key_env:
            register_key_variable(provider.api_key_env)
        for name, value in provider.headers.items():
            if any(word in name.lower() for word in _SECRET_HEADER_WORDS):
                register_secret(value.split(" ", 1)[1] if value.lower().startswith("bearer ") else value)


def _known_keys(parent: tuple[Any, ...]) -> list[str]:
    """The keys allowed at ``parent`` (for "unknown key" hints)."""
    model: type[BaseModel] = Settings
    parts = list(parent)
    while parts:
        part = parts.pop(0)
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        if part == "providers":
            if not parts:
                return []  # keys under providers are provider names
            parts.pop(0)
            model = ProviderSettings
        elif part == "models" and model is ProviderSettings:
            if not parts or not isinstance(parts[0], int):
                return []
            parts.pop(0)
            model = ProviderModel
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
        else:
            return []
    return sorted(model.model_fields)


def _merge(user: Settings, project: Settings) -> Settings:
    merged = user.model_dump(exclude_unset=True)
    for key, value in project.model_dump(exclude_unset=True).items():
        if key in ("providers", "mcpServers", "model_aliases") and isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        elif key == "permissions":
            perms = merged.setdefault("permissions", {})
            for list_name in ("allow", "ask", "deny"):
                perms[list_name] = list(perms.get(list_name, [])) + list(value.get(list_name, []))
            if value.get("mode"):
                perms["mode"] = value["mode"]
        elif key in ("router", "context"):
            merged.setdefault(key, {}).update(value)
        elif key == "sandbox":
            continue  # a repository cannot widen its own sandbox: user config only
        elif key == "trust":
            continue  # only the user's own file says what is trusted
        else:
            merged[key] = value
    # SecretStr values were dumped as SecretStr objects; re-validate keeps them.
    return Settings.model_validate(merged)


def load_settings(workspace: Path | None = None) -> LoadedSettings:
    """Load and merge the user and project settings files."""
    user_file = user_config_file()
    project_file = project_settings_file(workspace)
    user = load_settings_file(user_file)
    project = load_settings_file(project_file) if project_file != user_file else Settings()
    return LoadedSettings(
        merged=_merge(user, project), user=user, project=project, user_file=user_file, project_file=project_file
    )
