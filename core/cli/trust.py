"""``agentic-flow trust`` and ``agentic-flow mcp list|trust|untrust``.

What a workspace may do on its own is settled by the user, and remembered in the user's
config dir (see :mod:`core.trust`): ``trust`` confirms the workspace's own settings files
(their mode, and their allow rules for dangerous operations); ``mcp trust NAME`` approves
one project MCP server as its entry reads now, ``mcp untrust NAME`` declines it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_flow.core.cli.checks import seconds_problem, workspace_problem
from agentic_flow.core.cli.exit_codes import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from agentic_flow.core.cli.output import err, table, warn
from agentic_flow.core.config import LoadedSettings, load_settings
from agentic_flow.core.errors import ConfigError
from agentic_flow.core.mcp.trust import assess
from agentic_flow.core.trust import TrustStore

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions.rules import Rule

__all__ = ["cmd_trust", "cmd_mcp"]


def _workspace(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "workspace", None) or ".").resolve()


# --------------------------------------------------------------------------- trust


def cmd_trust(args: argparse.Namespace) -> int:
    """Confirm (or show, or revoke) the workspace's own settings."""
    # lazy: the permission rules load only for this command
    from agentic_flow.core.permissions.rules import load_rule_sets
    from agentic_flow.core.permissions.workspace_trust import is_user_rule_source

    problem = workspace_problem(args.workspace)
    if problem:
        err(problem)
        return EXIT_USAGE
    workspace = _workspace(args)
    settings = load_settings(workspace)
    store = TrustStore()
    if args.revoke:
        if store.revoke_workspace(workspace):
            print(f"{workspace} is no longer trusted: its settings files cannot raise its mode or approve dangerous operations.")
        else:
            print(f"{workspace} was not trusted; nothing to revoke.")
        return EXIT_OK
    rules, warnings = load_rule_sets(workspace, user_settings=settings.user_file, project_settings=settings.project_file)
    for message in warnings:
        warn(message)
    repo_mode = rules.default_mode if not is_user_rule_source(rules.default_mode_source, settings.user_file) else None
    repo_allows = [r for r in rules.of("allow") if not is_user_rule_source(r.source, settings.user_file)]
    current = store.workspace_trust(workspace)
    if args.show:
        state = f"trusted up to mode '{current.mode}' (since {current.at})" if current else "not trusted"
        print(f"{workspace}: {state}")
        if repo_mode:
            print(f"  its settings ask for mode '{repo_mode}' ({rules.default_mode_source})")
        _print_rules(repo_allows)
        _print_mcp(workspace, settings, store)
        return EXIT_OK
    mode = repo_mode or "ask"
    store.trust_workspace(workspace, mode)
    print(f"Trusted {workspace}.")
    if repo_mode:
        print(f"  Its settings' mode '{repo_mode}' ({rules.default_mode_source}) now applies when you pass no --approve.")
    else:
        print("  Its settings set no permission mode; if they later ask for one above 'ask', you will be asked again.")
    if repo_allows:
        print("  Allow rules in its settings files may now approve dangerous operations they name:")
        _print_rules(repo_allows, header=False)
    print("  Undo with `agentic-flow trust --revoke" + (f" --workspace {workspace}" if args.workspace else "") + "`.")
    return EXIT_OK


def _print_rules(rules: list[Rule], *, header: bool = True) -> None:
    if not rules:
        return
    if header:
        print("  allow rules in its settings files:")
    for rule in rules:
        print(f"    {rule.display}  ({rule.source})")


def _print_mcp(workspace: Path, settings: LoadedSettings, store: TrustStore) -> None:
    # lazy: runtime wiring only for this command
    from agentic_flow.core.runtime import mcp_entries

    entries, _ = mcp_entries(workspace, settings)
    for item in assess(entries, workspace, store=store, trusted_names=settings.user.trust.mcp_servers):
        print(f"  MCP server {item.name}: {item.label} — {item.entry.describe()} ({item.entry.source})")


# --------------------------------------------------------------------------- mcp


def cmd_mcp(args: argparse.Namespace) -> int:
    problem = workspace_problem(args.workspace)
    if args.mcp_command not in ("trust", "untrust"):
        problem = problem or seconds_problem(args.timeout)
    if problem:
        err(problem)
        return EXIT_USAGE
    workspace = _workspace(args)
    settings = load_settings(workspace)
    if args.mcp_command in ("trust", "untrust"):
        return _mcp_answer(args, workspace, settings, approved=args.mcp_command == "trust")
    return _mcp_list(args, workspace, settings)


def _mcp_answer(args: argparse.Namespace, workspace: Path, settings: LoadedSettings, *, approved: bool) -> int:
    # lazy: runtime wiring only for this command
    from agentic_flow.core.runtime import mcp_entries, mcp_forbidden_variables

    entries, warnings = mcp_entries(workspace, settings)
    for message in warnings:
        warn(message)
    entry = entries.get(args.name)
    if entry is None:
        known = ", ".join(sorted(entries)) or "none"
        err(f"no MCP server named '{args.name}' is configured for {workspace} (configured: {known})")
        return EXIT_USAGE
    if entry.origin == "user":
        print(f"'{entry.name}' is defined in your own settings ({entry.source}): it is always trusted.")
        return EXIT_OK
    TrustStore().set_mcp(workspace, entry.name, approved=approved, fingerprint=entry.fingerprint, shown=entry.describe())
    if not approved:
        print(f"Declined project MCP server '{entry.name}' for {workspace}: it will not start there.")
        print(f"  Approve it later with `agentic-flow mcp trust {entry.name}`.")
        return EXIT_OK
    what = "runs" if entry.transport == "stdio" else "connects to"
    print(f"Approved project MCP server '{entry.name}' for {workspace}; it {what}: {entry.describe()}")
    print(f"  (from {entry.source}; if that entry changes, it will ask again)")
    blocked = [v for v in entry.variables() if v in mcp_forbidden_variables(settings)]
    if blocked:
        warn(
            f"it refers to {', '.join('${' + v + '}' for v in blocked)}: provider API keys are never given to "
            "a project's MCP servers, so it will not start until you list them under trust.mcp_key_variables "
            f"in {settings.user_file} (or remove them from its entry)"
        )
    return EXIT_OK


def _mcp_list(args: argparse.Namespace, workspace: Path, settings: LoadedSettings) -> int:
    # lazy: runtime wiring only for this command
    from agentic_flow.core.runtime import mcp_entries, mcp_forbidden_variables

    entries, warnings = mcp_entries(workspace, settings)
    for message in warnings:
        err(message)
    if not entries:
        print(f"no MCP servers configured (looked in {workspace / '.mcp.json'} and mcpServers in settings)")
        return EXIT_CONFIG if warnings else EXIT_OK  # a file that could not be read is not "none configured"
    trusts = assess(entries, workspace, store=TrustStore(), trusted_names=settings.user.trust.mcp_servers)
    forbidden = mcp_forbidden_variables(settings)
    startable = {}
    problems: dict[str, str] = {}
    for item in trusts:
        if not item.trusted:
            continue
        try:
            startable[item.name] = item.entry.expand(forbidden=() if item.entry.origin == "user" else forbidden)
        except ConfigError as exc:  # an unset or forbidden variable: shown in the table
            problems[item.name] = str(exc)

    async def probe() -> dict[str, object]:
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.mcp.client import McpManager

        print(f"starting {len(startable)} MCP server(s)…", file=sys.stderr)
        async with McpManager(startable, start_timeout=args.timeout) as manager:
            return {s.name: s for s in manager.servers}

    statuses = asyncio.run(probe()) if startable else {}
    rows = []
    for item in trusts:
        status = statuses.get(item.name)
        if status is not None:
            state, tools = status.status, ", ".join(status.tools) or "-"  # type: ignore[attr-defined]
        else:
            state, tools = ("cannot start: " + problems[item.name]) if item.name in problems else "not started", "-"
        rows.append([item.name, item.entry.transport, item.label, state, tools])
    print(table(["SERVER", "TRANSPORT", "TRUST", "STATUS", "TOOLS"], rows))
    waiting = [t.name for t in trusts if not t.trusted]
    if waiting:
        print(
            f"\n{len(waiting)} project server(s) not started: see what each runs with `agentic-flow trust --show`, "
            "approve one with `agentic-flow mcp trust NAME`.",
            file=sys.stderr,
        )
    failed = [s for s in statuses.values() if s.status != "ready"]  # type: ignore[attr-defined]
    if failed or problems:
        return EXIT_ERROR
    return EXIT_CONFIG if warnings else EXIT_OK
