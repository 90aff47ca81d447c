"""The sandbox policy as data: what a command may write, read and reach.

Codex's model: ``read-only`` (nothing writable but a private temp dir and harmless
devices) or ``workspace-write`` (the workspace and listed roots too), network on or off,
secret paths never readable. The launcher (``launcher.py``) receives the policy as JSON
and applies it; every path in it is canonical (``realpath``), so a symlink can neither
widen a writable root nor hide a secret path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentic_flow.core import paths

__all__ = [
    "SandboxKind",
    "SandboxPolicy",
    "PROTECTED_ENTRIES",
    "WRITABLE_DEVICES",
    "DEFAULT_SECRET_PATHS",
    "canonical",
    "default_secret_paths",
    "kind_for_mode",
]

SandboxKind = Literal["read-only", "workspace-write"]

#: Entries of a writable workspace that stay read-only where a mount namespace is
#: available: they decide what later runs may do (rules, hooks, MCP servers).
PROTECTED_ENTRIES = (".git/hooks", ".git/config", ".claude", ".agentic-flow", ".mcp.json")

#: Device files (and /dev/shm, which multiprocessing needs) any command may write.
WRITABLE_DEVICES = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
    "/dev/shm",
)

#: Secret paths below the home folder that commands may not read.
DEFAULT_SECRET_PATHS = (
    "~/.ssh", "~/.gnupg", "~/.aws", "~/.azure", "~/.config/gcloud", "~/.kube", "~/.docker", "~/.netrc",
    "~/.git-credentials", "~/.config/gh", "~/.pypirc", "~/.npmrc",
)


def canonical(path: str | Path, base: Path | None = None) -> str:
    """The real path (``~`` expanded, relative to ``base``, every symlink resolved)."""
    expanded = Path(os.path.expanduser(str(path)))
    if not expanded.is_absolute():
        expanded = (base or Path.cwd()) / expanded
    return os.path.realpath(expanded)


def default_secret_paths() -> list[str]:
    """Paths no command may read: credentials folders and agentic-flow's own config and data.

    agentic-flow's config holds keys and rules, its data dir the sessions and the audit
    log. Both the path as written and its real path are listed (a symlinked ``~/.ssh``
    stays hidden under either name).
    """
    found: list[str] = []
    for raw in (*DEFAULT_SECRET_PATHS, paths.config_dir(), paths.data_dir()):
        for spelled in (os.path.abspath(os.path.expanduser(str(raw))), canonical(raw)):
            if spelled not in found:
                found.append(spelled)
    return found


def kind_for_mode(mode: str) -> SandboxKind:
    """Modes map like Codex's: read-only is a read-only sandbox, the others workspace-write."""
    return "read-only" if mode == "read-only" else "workspace-write"


@dataclass(frozen=True)
class SandboxPolicy:
    """One command's sandbox.

    Attributes:
        kind: ``read-only`` or ``workspace-write``.
        workspace: the workspace root (writable in ``workspace-write``).
        tmpdir: the command's private temp dir (always writable; ``TMPDIR`` points there).
        writable: further writable roots the user listed.
        deny_read: paths no command may read (secrets).
        network: whether TCP (and, with a network namespace, anything) may leave.
        landlock: apply Landlock (False where the kernel has none: cleanup only).
    """

    kind: SandboxKind
    workspace: Path
    tmpdir: Path
    writable: tuple[str, ...] = ()
    deny_read: tuple[str, ...] = field(default_factory=lambda: tuple(default_secret_paths()))
    network: bool = False
    landlock: bool = True

    def writable_roots(self) -> list[str]:
        """Canonical writable folders, in the order shown to people."""
        roots: list[str] = []
        candidates: Iterable[str | Path] = (
            (self.workspace, self.tmpdir, *self.writable) if self.kind == "workspace-write" else (self.tmpdir,)
        )
        for raw in candidates:
            path = canonical(raw, self.workspace)
            if path not in roots and os.path.exists(path):
                roots.append(path)
        return roots

    def protected_entries(self) -> list[str]:
        """Existing protected entries inside the writable workspace (real paths)."""
        if self.kind != "workspace-write":
            return []
        found: list[str] = []
        root = canonical(self.workspace)
        for name in PROTECTED_ENTRIES:
            entry = os.path.join(root, name)
            if os.path.lexists(entry):
                real = os.path.realpath(entry)
                if os.path.exists(real) and real not in found:
                    found.append(real)
        return found

    def to_launcher(self, parent_pid: int | None = None) -> dict[str, Any]:
        """The JSON-able form ``launcher.py`` applies."""
        return {
            "v": 1,
            "landlock": self.landlock,
            "read": ["/"],
            "write": self.writable_roots(),
            "deny": sorted(set(self.deny_read)),
            "devices": [d for d in WRITABLE_DEVICES if os.path.exists(d)],
            "readonly": self.protected_entries(),
            "network": self.network,
            "namespaces": self.landlock,
            "parent": parent_pid if parent_pid is not None else os.getpid(),
        }

    def to_json(self, parent_pid: int | None = None) -> str:
        return json.dumps(self.to_launcher(parent_pid), separators=(",", ":"))
