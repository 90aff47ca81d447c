"""Is the command sandbox available here, and what does it isolate?

Detected once per process (the Landlock ABI is one syscall). ``AGENTIC_FLOW_NO_SANDBOX``
(any non-empty value) or ``sandbox: {enabled: false}`` in the user config make it
unavailable on purpose: the same fallback as a kernel without Landlock, so tests and
people on such machines see exactly what that fallback does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agentic_flow.core.sandbox.launcher import landlock_abi

__all__ = ["DISABLE_ENV", "LAUNCHER", "SandboxStatus", "detect_status", "probe_kernel", "launcher_prefix"]

DISABLE_ENV = "AGENTIC_FLOW_NO_SANDBOX"
LAUNCHER = Path(__file__).with_name("launcher.py")


@dataclass(frozen=True)
class SandboxStatus:
    """What the front ends show about the command sandbox.

    Attributes:
        available: commands run inside Landlock.
        kind: ``landlock`` or ``none``.
        abi: the kernel's Landlock ABI (0 when there is none).
        reason: why the sandbox is unavailable (None when available).
        cleanup: processes a command leaves behind are killed when its call ends
            (the launcher runs on Linux even without Landlock).
    """

    available: bool
    kind: str
    abi: int
    reason: str | None = None
    cleanup: bool = True

    @property
    def network_rules(self) -> bool:
        """Landlock can block TCP bind/connect (ABI >= 4)."""
        return self.available and self.abi >= 4

    @property
    def signal_scoping(self) -> bool:
        """Sandboxed commands cannot signal processes outside the sandbox (ABI >= 6)."""
        return self.available and self.abi >= 6

    def summary(self) -> str:
        """One line for a status bar or stderr."""
        if self.available:
            return f"command sandbox: Landlock ABI {self.abi}"
        return f"no command sandbox: {self.reason}"


@lru_cache(maxsize=1)
def _kernel_abi() -> int:
    return landlock_abi()


def detect_status(enabled: bool = True) -> SandboxStatus:
    """The sandbox status for this process (``enabled`` is the ``sandbox.enabled`` setting)."""
    linux = sys.platform.startswith("linux")
    if os.environ.get(DISABLE_ENV):
        return SandboxStatus(False, "none", 0, f"turned off by the environment variable {DISABLE_ENV}", linux)
    if not enabled:
        return SandboxStatus(False, "none", 0, "turned off in the user config (sandbox: {enabled: false})", linux)
    if not linux:
        return SandboxStatus(False, "none", 0, f"Landlock is Linux-only and this is {sys.platform}", False)
    abi = _kernel_abi()
    if abi < 1:
        return SandboxStatus(
            False, "none", 0, "this kernel has no Landlock (it needs Linux 5.13+ with Landlock enabled)", True
        )
    return SandboxStatus(True, "landlock", abi)


def launcher_prefix(policy: str) -> list[str]:
    """The argv that runs a command under ``policy`` (JSON or encoded; append the command's argv)."""
    return [sys.executable, "-I", "-S", str(LAUNCHER), policy]


def probe_kernel() -> dict[str, object]:
    """Ask the launcher what this kernel lets it do (Landlock ABI, namespaces); for ``doctor``."""
    if not sys.platform.startswith("linux"):
        return {"abi": 0, "net_namespace": False, "mount_namespace": False}
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(LAUNCHER), "--probe"], capture_output=True, text=True, timeout=30
    )
    try:
        result = json.loads(done.stdout)
    except ValueError:
        return {"abi": _kernel_abi(), "net_namespace": False, "mount_namespace": False, "error": done.stderr}
    return result if isinstance(result, dict) else {}
