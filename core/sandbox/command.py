"""Wrap a command in the sandbox: the argv to spawn and the environment to give it.

One :class:`Sandbox` per session (the Runtime opens it): it knows the workspace, the
user's ``sandbox:`` settings, which variables hold keys, and owns the private temp dir
its commands share (``TMPDIR``), removed when the session closes.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_flow.core.sandbox.env import scrubbed_env, withheld_variables
from agentic_flow.core.sandbox.launcher import DEFAULT_GRACE, encode_policy
from agentic_flow.core.sandbox.policy import SandboxPolicy, canonical, default_secret_paths, kind_for_mode
from agentic_flow.core.sandbox.status import SandboxStatus, detect_status, launcher_prefix

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.config import SandboxSettings

__all__ = ["Sandbox", "Prepared", "STOP_GRACE"]

#: How long a caller waits for the launcher to stop a command's processes before it
#: SIGKILLs the launcher itself (longer than the launcher's own grace, so it can finish).
STOP_GRACE = DEFAULT_GRACE + 1.0


@dataclass(frozen=True)
class Prepared:
    """A command ready to spawn: ``argv`` (the launcher's, or the command's own) and ``env``."""

    argv: list[str]
    env: dict[str, str]
    policy: SandboxPolicy | None
    launcher: bool

    @property
    def stop_grace(self) -> float:
        return STOP_GRACE if self.launcher else 1.0


class Sandbox:
    """Builds policies and launch lines for one workspace.

    Args:
        workspace: the project root (writable in workspace-write mode).
        settings: the user's ``sandbox:`` settings (None: the defaults).
        key_vars: configured ``api_key_env`` variables, withheld like the presets' keys.
        status: the detected status (default: :func:`detect_status` for ``settings.enabled``).
    """

    def __init__(
        self,
        workspace: Path,
        settings: "SandboxSettings | None" = None,
        *,
        key_vars: Iterable[str] = (),
        status: SandboxStatus | None = None,
    ) -> None:
        self.workspace = Path(canonical(workspace))
        self.network_default = bool(settings.network) if settings is not None else False
        self.writable = tuple(canonical(p, self.workspace) for p in (settings.writable if settings else []))
        extra_secrets = [canonical(p, self.workspace) for p in (settings.deny_read if settings else [])]
        self.deny_read = tuple(dict.fromkeys([*default_secret_paths(), *extra_secrets]))
        self.env_allow = tuple(settings.env_allow) if settings is not None else ()
        self.key_vars = tuple(key_vars)
        self.status = status or detect_status(settings.enabled if settings is not None else True)
        self._tmpdir: Path | None = None

    # ----------------------------------------------------------------- resources

    @property
    def tmpdir(self) -> Path:
        """The private temp dir of this session's commands (created on first use)."""
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="agentic-flow-tmp-"))
        return self._tmpdir

    def close(self) -> None:
        """Remove the temp dir (commands are over by now)."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # ----------------------------------------------------------------- policies

    def policy(self, *, mode: str = "ask", network: bool | None = None, workspace: Path | None = None) -> SandboxPolicy:
        """The policy for a command run in ``mode`` (``network=None``: the setting's default)."""
        return SandboxPolicy(
            kind=kind_for_mode(mode),
            workspace=Path(canonical(workspace)) if workspace is not None else self.workspace,
            tmpdir=self.tmpdir,
            writable=self.writable,
            deny_read=self.deny_read,
            network=self.network_default if network is None else (network or self.network_default),
            landlock=self.status.available,
        )

    def withheld(self, env: Mapping[str, str] | None = None) -> list[str]:
        """Names of the variables commands do not get."""
        return withheld_variables(env, key_vars=self.key_vars, allow=self.env_allow)

    def env(self, base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) without secrets, with ``TMPDIR`` set."""
        tmp = str(self.tmpdir)
        added = {"TMPDIR": tmp, "TMP": tmp, "TEMP": tmp, **(extra or {})}
        return scrubbed_env(base, key_vars=self.key_vars, allow=self.env_allow, extra=added)

    def prepare(
        self,
        argv: list[str],
        *,
        mode: str = "ask",
        network: bool | None = None,
        workspace: Path | None = None,
        env: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> Prepared:
        """The argv and environment that run ``argv`` in this sandbox.

        On Linux the launcher always runs (without Landlock where there is none, it still
        kills every process the command leaves behind); elsewhere ``argv`` runs as is.
        """
        policy = self.policy(mode=mode, network=network, workspace=workspace)
        environment = self.env(env, extra_env)
        if not sys.platform.startswith("linux") or not self.status.cleanup:
            return Prepared(list(argv), environment, None, launcher=False)
        payload = encode_policy(policy.to_launcher(os.getpid()))
        return Prepared([*launcher_prefix(payload), *argv], environment, policy, launcher=True)
