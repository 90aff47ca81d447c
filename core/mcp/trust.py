"""Which configured MCP servers may start: the user's own, and project servers they approved.

A server from the workspace (``.mcp.json`` or ``.agentic-flow/settings.yaml``) is code a
repository asks to run, or a URL it asks to send data to. It starts only when one of
these says so, checked in this order:

    user      it is defined in the user's own settings file
    flag      ``run --trust-mcp NAME`` (this run only)
    settings  the user's settings list it under ``trust.mcp_servers`` (every workspace)
    approved  the user approved it in this workspace (``mcp trust NAME`` or the TUI
              prompt) and the entry is still what they approved (same fingerprint)

Otherwise it is ``pending`` (never answered), ``changed`` (approved, but the entry
changed since) or ``declined`` (the user said no), and is not started; headless runs say
so in a notice that shows the command and how to approve it.

Only trusted servers are expanded, and a project server never gets a provider API key
through ``${VAR}`` (:func:`forbidden_variables`) unless the user's settings list that
variable under ``trust.mcp_key_variables``. Servers in the user's own settings may use
any variable: the user wrote them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentic_flow.core.errors import ConfigError
from agentic_flow.core.mcp.config import McpServerConfig, McpServerEntry
from agentic_flow.core.providers.presets import key_variables
from agentic_flow.core.trust import TrustStore

__all__ = [
    "TrustState",
    "ServerTrust",
    "McpTrustRequest",
    "assess",
    "forbidden_variables",
    "startable",
    "TRUSTED_STATES",
]

TrustState = Literal["user", "flag", "settings", "approved", "pending", "changed", "declined"]
TRUSTED_STATES: tuple[TrustState, ...] = ("user", "flag", "settings", "approved")

_LABELS: dict[TrustState, str] = {
    "user": "trusted (your settings)",
    "flag": "trusted (--trust-mcp)",
    "settings": "trusted (trust.mcp_servers)",
    "approved": "approved",
    "pending": "not approved",
    "changed": "changed since approved",
    "declined": "declined",
}


@dataclass(frozen=True)
class McpTrustRequest:
    """What a person is shown when asked to approve a project server."""

    name: str
    transport: str
    shown: str
    """The command line (with env and cwd) or the URL (with headers), as written."""
    source: str
    """The file the entry comes from."""
    variables: tuple[str, ...]
    """The ``${VAR}`` it would read from the environment once approved."""
    changed: bool
    """It was approved before, and the entry has changed since."""


@dataclass(frozen=True)
class ServerTrust:
    """One configured server and whether it may start."""

    entry: McpServerEntry
    state: TrustState

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def trusted(self) -> bool:
        return self.state in TRUSTED_STATES

    @property
    def undecided(self) -> bool:
        """The user has not answered about the entry as it is now."""
        return self.state in ("pending", "changed")

    @property
    def label(self) -> str:
        return _LABELS[self.state]

    def request(self) -> McpTrustRequest:
        return McpTrustRequest(
            name=self.name,
            transport=self.entry.transport,
            shown=self.entry.describe(),
            source=self.entry.source,
            variables=tuple(self.entry.variables()),
            changed=self.state == "changed",
        )

    def notice(self) -> str:
        """Why the server was not started, what it would run, and how to approve it."""
        why = {
            "pending": "not approved yet",
            "changed": "its entry changed since you approved it",
            "declined": "you declined it",
        }.get(self.state, self.label)
        what = "would run" if self.entry.transport == "stdio" else "would connect to"
        return (
            f"project MCP server '{self.name}' was not started ({why}); it {what}: {self.entry.describe()} "
            f"(from {self.entry.source}). To start it, run `agentic-flow mcp trust {self.name}` "
            f"(remembered for this workspace) or pass `--trust-mcp {self.name}` for one run."
        )


def assess(
    entries: Mapping[str, McpServerEntry],
    workspace: Path,
    *,
    store: TrustStore,
    flag_names: Collection[str] = (),
    trusted_names: Collection[str] = (),
) -> list[ServerTrust]:
    """The trust state of every entry (see the module docstring for the order)."""
    out: list[ServerTrust] = []
    for name, entry in entries.items():
        state: TrustState
        if entry.origin == "user":
            state = "user"
        elif name in flag_names:
            state = "flag"
        elif name in trusted_names:
            state = "settings"
        else:
            answer = store.mcp_approval(workspace, name)
            if answer is None:
                state = "pending"
            elif answer.fingerprint != entry.fingerprint:
                state = "changed" if answer.approved else "pending"
            else:
                state = "approved" if answer.approved else "declined"
        out.append(ServerTrust(entry, state))
    return out


def forbidden_variables(key_envs: Iterable[str | None], allowed: Collection[str] = ()) -> frozenset[str]:
    """Provider key variables a project server may not expand.

    Args:
        key_envs: the ``api_key_env`` of every configured provider (any name).
        allowed: variables the user's settings let project servers read
            (``trust.mcp_key_variables``).
    """
    names = {*key_variables(), *(k for k in key_envs if k)}
    return frozenset(names - set(allowed))


def startable(
    trusts: Iterable[ServerTrust], forbidden: Collection[str], warnings: list[str]
) -> dict[str, McpServerConfig]:
    """Expand the trusted servers; the others (and any that cannot expand) become warnings."""
    servers: dict[str, McpServerConfig] = {}
    for trust in trusts:
        if not trust.trusted:
            warnings.append(trust.notice())
            continue
        blocked = () if trust.entry.origin == "user" else forbidden
        try:
            servers[trust.name] = trust.entry.expand(forbidden=blocked)
        except ConfigError as exc:
            warnings.append(str(exc))
    return servers
