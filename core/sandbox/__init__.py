"""The OS sandbox every command the agent runs starts in (bash tool, ``--check``, stdio MCP servers).

Two layers keep commands in bounds: the permission engine decides *whether* a command
runs; this sandbox limits *what it can do* once it runs, even when a rule allowed more
than its author meant. On Linux (Landlock, ABI 1+; network rules from ABI 4, signal
scoping from ABI 6):

* writes only inside the workspace, a private temp dir and listed paths (none in
  read-only mode but the temp dir);
* secret paths (``~/.ssh``, agentic-flow's config and data, ...) cannot be read;
* no TCP unless the setting or an approved ``network: true`` call allows it, and no
  network at all where a network namespace can be made;
* ``.git/hooks``, ``.git/config``, ``.claude``, ``.agentic-flow``, ``.mcp.json`` stay
  read-only inside the workspace where a mount namespace can be made;
* every process a command starts is killed when its call ends;
* no API keys in the environment.

See ``launcher.py`` for the mechanics and ``docs/design-notes.md`` for the choices.
"""

from agentic_flow.core.sandbox.command import STOP_GRACE, Prepared, Sandbox
from agentic_flow.core.sandbox.env import is_secret_variable, scrubbed_env, withheld_variables
from agentic_flow.core.sandbox.policy import (
    PROTECTED_ENTRIES,
    SandboxKind,
    SandboxPolicy,
    default_secret_paths,
    kind_for_mode,
)
from agentic_flow.core.sandbox.status import DISABLE_ENV, SandboxStatus, detect_status, probe_kernel

__all__ = [
    "DISABLE_ENV",
    "PROTECTED_ENTRIES",
    "STOP_GRACE",
    "Prepared",
    "Sandbox",
    "SandboxKind",
    "SandboxPolicy",
    "SandboxStatus",
    "default_secret_paths",
    "detect_status",
    "is_secret_variable",
    "kind_for_mode",
    "probe_kernel",
    "scrubbed_env",
    "withheld_variables",
]
