"""Every error agentic-flow raises on purpose, in one tree.

    AgenticFlowError                 base; ``message`` says what happened and what to do
    ├── ConfigError                  a settings file or flag is wrong (file, line, key)
    ├── AgentDefinitionError         an agent file cannot be used at all
    ├── UnknownModel                 a ``provider:model`` id that cannot be resolved
    ├── ProviderError                talking to a model provider failed
    │   ├── NeedsKey                 the provider's API key is not set
    │   ├── AuthFailed               401/403: the key was refused
    │   ├── ModelNotFound            404 / "model not found" from the server
    │   ├── BadRequest               400/422: the server refused the request body
    │   ├── RateLimited              429 (retryable, honours Retry-After)
    │   ├── ServerError              5xx (retryable)
    │   ├── ProviderConnectError     could not connect (retryable)
    │   ├── ProviderTimeout          connect or read timeout (retryable before the first byte)
    │   ├── StreamCutOff             the stream ended without a finish reason
    │   └── MalformedStream          an event could not be parsed
    ├── ToolError                    a built-in or MCP tool failed (sent back to the model)
    │   ├── WorkspaceEscape          a path points outside the workspace root
    │   └── DelegationRefused        an ``agent`` call cannot start (unknown agent, cycle, depth)
    ├── PermissionDenied             a tool call was denied (rule, mode, person, policy)
    ├── McpError                     an MCP server failed to start, answer or stay up
    ├── StoreError                   the SQLite store cannot be read or written
    └── IsolationError               an isolated copy of a workspace (git worktree or temp
                                     copy) could not be made, diffed, applied or removed

Third-party exceptions (httpx, the MCP SDK, sqlite3, yaml) are mapped to these at one
boundary each and re-raised ``from`` the original, so callers only handle this tree.
"""

from __future__ import annotations

__all__ = [
    "AgenticFlowError",
    "ConfigError",
    "AgentDefinitionError",
    "UnknownModel",
    "ProviderError",
    "NeedsKey",
    "AuthFailed",
    "ModelNotFound",
    "BadRequest",
    "RateLimited",
    "ServerError",
    "ProviderConnectError",
    "ProviderTimeout",
    "StreamCutOff",
    "MalformedStream",
    "ToolError",
    "WorkspaceEscape",
    "DelegationRefused",
    "PermissionDenied",
    "McpError",
    "StoreError",
    "IsolationError",
]


class AgenticFlowError(Exception):
    """Base class. ``str(err)`` is a complete, user-facing sentence."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(AgenticFlowError):
    """A settings file, environment variable or flag is invalid.

    The message names the file, the line and the key where they are known.
    """

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, key: str | None = None
    ) -> None:
        where = ""
        if path:
            where = path + (f":{line}" if line else "")
            if key:
                where += f" (key '{key}')"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line
        self.key = key


class AgentDefinitionError(AgenticFlowError):
    """An agent file cannot be loaded at all (the loader reports, then skips it)."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = (path + (f":{line}" if line else "") + ": ") if path else ""
        super().__init__(where + message)
        self.path = path
        self.line = line


class UnknownModel(AgenticFlowError):
    """A model id that does not resolve to a configured provider."""


class ProviderError(AgenticFlowError):
    """Talking to a model provider failed.

    Attributes:
        provider: the provider name (``openrouter``, ``anthropic``, ...).
        model: the model id sent to the provider.
        status: HTTP status, when there was a response.
    """

    kind = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        prefix = ""
        if provider:
            prefix = f"{provider}" + (f" ({model})" if model else "")
            if status:
                prefix += f" HTTP {status}"
            prefix += ": "
        super().__init__(prefix + message)
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.detail = message


class NeedsKey(ProviderError):
    """The provider's API key is not configured; the message names the variable."""

    kind = "needs_key"


class AuthFailed(ProviderError):
    """The server refused the key (401/403)."""

    kind = "auth_failed"


class ModelNotFound(ProviderError):
    """The server does not know the model."""

    kind = "model_not_found"


class BadRequest(ProviderError):
    """The server refused the request body (400/413/422)."""

    kind = "bad_request"


class RateLimited(ProviderError):
    """429 Too Many Requests. Retryable; ``retry_after`` holds the server's hint."""

    kind = "rate_limited"
    retryable = True


class ServerError(ProviderError):
    """The server failed (5xx). Retryable."""

    kind = "server_error"
    retryable = True


class ProviderConnectError(ProviderError):
    """The server could not be reached. Retryable."""

    kind = "connect_error"
    retryable = True


class ProviderTimeout(ProviderError):
    """Connect or read timeout. Retryable only before any output arrived."""

    kind = "timeout"
    retryable = True


class StreamCutOff(ProviderError):
    """The stream ended (or dropped) before the model said it had finished."""

    kind = "cut_off"


class MalformedStream(ProviderError):
    """An event in the stream could not be parsed; the message names it."""

    kind = "malformed_stream"


class ToolError(AgenticFlowError):
    """A tool failed; the message goes back to the model as an error result."""


class WorkspaceEscape(ToolError):
    """A path resolves outside the workspace root (``..``, absolute, symlink)."""


class DelegationRefused(ToolError):
    """An ``agent`` call that cannot start: the agent is unknown or not callable from here,
    it would delegate in a cycle or past the depth limit, or its model cannot be chosen.
    The message goes back to the model, which can pick another agent or do the work itself."""


class PermissionDenied(AgenticFlowError):
    """A tool call was denied; ``reason`` is sent back to the model."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class McpError(AgenticFlowError):
    """An MCP server failed to start, answer, or stay up."""


class StoreError(AgenticFlowError):
    """The SQLite store (sessions, audit, stats) cannot be read or written."""


class IsolationError(AgenticFlowError):
    """An isolated copy of a workspace could not be made, diffed, applied or removed.

    Raised by ``core.compare.isolation`` (compare and eval runs); the message names the
    git command or the path that failed and what to do about it.
    """
