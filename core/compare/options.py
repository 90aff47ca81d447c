"""What a comparison is told once and applies to every model: how each model is called,
and the command that checks each answer or each agent's work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentic_flow.core.compare.codecheck import DEFAULT_CHECK_TIMEOUT
from agentic_flow.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions import Approver, PermissionEngine

__all__ = ["CallOptions", "CheckOptions"]


@dataclass(frozen=True)
class CallOptions:
    """How every model is called (the ``compare`` flags of the same names)."""

    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None
    """Seconds one run may take (None: no limit besides the read timeout)."""
    retries: int | None = None
    base_url: str | None = None
    max_turns: int | None = None
    """Agent runs only: model turns before the loop stops."""

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("--timeout must be more than 0 seconds")


@dataclass(frozen=True)
class CheckOptions:
    """``--check``: the command run after each answer, its time limit, and who decides it.

    ``engine``/``approver`` are needed by text comparisons (the command is checked like a
    tool call); agent comparisons run it in each isolated copy with their own engine.
    """

    command: str | None = None
    timeout: float = DEFAULT_CHECK_TIMEOUT
    engine: "PermissionEngine | None" = None
    approver: "Approver | None" = None
