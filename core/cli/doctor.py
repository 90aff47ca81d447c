"""``agentic-flow doctor``: what protects this machine when the agent runs commands.

Each section is a function ``(workspace, settings) -> lines``, listed in
:data:`SECTIONS`; a feature adds its own report by adding a function there. The sandbox
section ends with a self-test: a real command in the real sandbox tries to write outside
the workspace and to open a TCP connection to a listener on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from agentic_flow.core.cli.checks import workspace_problem
from agentic_flow.core.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from agentic_flow.core.cli.output import err
from agentic_flow.core.config import LoadedSettings, load_settings
from agentic_flow.core.mcp.config import load_mcp_entries
from agentic_flow.core.mcp.trust import assess
from agentic_flow.core.permissions.rules import load_rule_sets
from agentic_flow.core.permissions.workspace_trust import gate_workspace, is_user_rule_source
from agentic_flow.core.sandbox import PROTECTED_ENTRIES, Sandbox, probe_kernel
from agentic_flow.core.trust import TrustStore

__all__ = [
    "SECTIONS",
    "Section",
    "cmd_doctor",
    "sandbox_lines",
    "mcp_server_lines",
    "workspace_trust_lines",
    "sandbox_self_test",
]

Section = Callable[[Path, LoadedSettings], list[str]]


def _sandbox_for(workspace: Path, settings: LoadedSettings) -> Sandbox:
    key_vars = [p.api_key_env for p in settings.merged.providers.values() if p.api_key_env]
    return Sandbox(workspace, settings.merged.sandbox, key_vars=key_vars)


def sandbox_lines(workspace: Path, settings: LoadedSettings) -> list[str]:
    """The command sandbox: kind, Landlock ABI, network isolation, what is writable."""
    sandbox = _sandbox_for(workspace, settings)
    status = sandbox.status
    lines: list[str] = []
    try:
        if not status.available:
            lines.append(f"status: UNAVAILABLE — {status.reason}")
            lines.append("  commands run unconfined, so auto mode asks for every command (denied headless)")
            if status.cleanup:
                lines.append("  processes: still killed when a call ends (the launcher runs without Landlock)")
            return lines
        kernel = probe_kernel()
        namespaces = [n for n, key in (("network", "net_namespace"), ("mount", "mount_namespace")) if kernel.get(key)]
        kind = f"Landlock ABI {status.abi}" + (f" + {' and '.join(namespaces)} namespaces" if namespaces else "")
        lines.append(f"status: active — {kind}")
        policy = sandbox.policy(mode="ask")
        writable = [str(workspace.resolve()), f"a private TMPDIR per session (in {tempfile.gettempdir()})",
                    *sandbox.writable]
        lines.append("writable (ask, accept-edits, auto): " + ", ".join(writable))
        lines.append("writable (read-only mode): the private TMPDIR only")
        lines.append("  always: /dev/null and other harmless devices, /dev/shm")
        lines.append("secret paths (no read): " + ", ".join(_home(p) for p in sandbox.deny_read))
        entries = ", ".join(PROTECTED_ENTRIES)
        if kernel.get("mount_namespace"):
            lines.append(f"read-only inside the workspace: {entries} (read-only bind mounts; only entries that exist)")
        else:
            lines.append(f"read-only inside the workspace: not enforced by the sandbox (no mount namespace): {entries}")
        if policy.network:
            lines.append("network: ON for every command (sandbox.network: true in the user config)")
        elif kernel.get("net_namespace"):
            lines.append("network: off — own network namespace (no TCP, UDP or abstract unix sockets leave it)"
                         + (" and Landlock TCP rules" if status.network_rules else ""))
        elif status.network_rules:
            lines.append("network: off for TCP (Landlock bind/connect rules); UDP and unix sockets are NOT blocked")
        else:
            lines.append("network: NOT isolated (Landlock ABI < 4 and no network namespace)")
        lines.append("  a bash call with network: true asks first (denied headless unless an allow rule names it)")
        lines.append("processes: all killed when a call ends (subreaper launcher)"
                     + ("; commands cannot signal anything outside the sandbox" if status.signal_scoping else ""))
        withheld = sandbox.withheld()
        lines.append(f"environment: {len(withheld)} key variable(s) withheld" + (f": {', '.join(withheld)}" if withheld else ""))
        lines.extend(sandbox_self_test(sandbox))
        return lines
    finally:
        sandbox.close()


def _home(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if path == home or path.startswith(home + "/") else path


def sandbox_self_test(sandbox: Sandbox) -> list[str]:
    """Run two real commands in the sandbox: a write outside the workspace, a TCP connect."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="af-doctor-") as tmp:
        workspace, outside = Path(tmp) / "ws", Path(tmp) / "outside.txt"
        workspace.mkdir()
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            script = (
                f"echo x > {outside} 2>/dev/null; "
                f"{sys.executable} -I -S -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)' "
                "2>/dev/null && echo CONNECTED"
            )
            prepared = sandbox.prepare(["bash", "-c", script], mode="ask", network=False, workspace=workspace)
            done = subprocess.run(prepared.argv, cwd=workspace, env=prepared.env, capture_output=True, text=True,
                                  timeout=30, start_new_session=True)
        wrote = outside.exists()
        connected = "CONNECTED" in done.stdout
    lines.append("self-test: write outside the workspace " + ("NOT refused ✗" if wrote else "refused ✓"))
    if not sandbox.network_default:
        lines.append("self-test: TCP connection to 127.0.0.1 " + ("NOT refused ✗" if connected else "refused ✓"))
    return lines


def mcp_server_lines(workspace: Path, settings: LoadedSettings) -> list[str]:
    """Configured MCP servers: where each comes from, whether it may start, how it runs."""
    entries, warnings = load_mcp_entries(
        workspace,
        settings.user.mcpServers or None,
        settings.project.mcpServers or None,
        user_source=str(settings.user_file),
        project_source=str(settings.project_file),
    )
    if not entries:
        return [f"none configured ({workspace / '.mcp.json'} and mcpServers in settings)", *warnings]
    lines = []
    trusts = assess(entries, workspace, store=TrustStore(), trusted_names=settings.user.trust.mcp_servers)
    for item in trusts:
        entry = item.entry
        if entry.transport != "stdio":
            run = "remote (HTTP), not a local process"
        elif entry.sandbox or entry.origin == "project":
            run = "sandboxed" + (", network on" if entry.sandbox_network else "")
        else:
            run = "NOT sandboxed (\"sandbox\": false in your settings)"
        lines.append(f"{item.name} [{entry.origin}, {item.label}]: {entry.describe()} — {run}")
    waiting = [t.name for t in trusts if not t.trusted]
    if waiting:
        lines.append(
            f"not started until approved: {', '.join(waiting)} (`agentic-flow mcp trust NAME`, "
            "or --trust-mcp NAME for one run)"
        )
    return [*lines, *warnings]


def workspace_trust_lines(workspace: Path, settings: LoadedSettings) -> list[str]:
    """Whether this workspace's own settings may set its mode and approve dangerous calls."""
    rules, warnings = load_rule_sets(workspace, user_settings=settings.user_file, project_settings=settings.project_file)
    gate = gate_workspace(workspace, rules, settings.user_file)
    confirmed = TrustStore().workspace_trust(workspace)
    lines = [f"trusted up to mode '{confirmed.mode}' (since {confirmed.at})" if confirmed else "not trusted"]
    if gate.withheld is not None:
        lines.append(
            f"{gate.withheld.source} asks for mode '{gate.withheld.mode}': withheld, '{gate.withheld.applied}' "
            "applies (`agentic-flow trust` to confirm it)"
        )
    elif rules.default_mode and not is_user_rule_source(rules.default_mode_source, settings.user_file):
        lines.append(f"{rules.default_mode_source} sets mode '{rules.default_mode}': applied")
    repo_allows = [r for r in rules.of("allow") if not is_user_rule_source(r.source, settings.user_file)]
    if repo_allows and not gate.trusted:
        lines.append(f"{len(repo_allows)} allow rule(s) in its settings files do not approve dangerous operations")
    return [*lines, *warnings]


SECTIONS: list[tuple[str, Section]] = [
    ("Command sandbox", sandbox_lines),
    ("Workspace trust", workspace_trust_lines),
    ("MCP servers", mcp_server_lines),
]


def cmd_doctor(args: argparse.Namespace) -> int:
    problem = workspace_problem(args.workspace)
    if problem:
        err(problem)
        return EXIT_USAGE
    workspace = Path(args.workspace or ".").resolve()
    settings = load_settings(workspace)
    failed = False
    for title, section in SECTIONS:
        print(title)
        for line in section(workspace, settings):
            failed = failed or "✗" in line or line.startswith("status: UNAVAILABLE")
            print(f"  {line}")
    sys.stdout.flush()
    return EXIT_ERROR if failed else EXIT_OK
