"""``agentic-flow permissions explain "CMD"``: what the permission engine makes of a command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agentic_flow.core.cli.checks import workspace_problem
from agentic_flow.core.cli.exit_codes import EXIT_OK, EXIT_USAGE
from agentic_flow.core.cli.output import err, warn

__all__ = ["add_permissions_command", "cmd_permissions"]


def add_permissions_command(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    perms = sub.add_parser("permissions", help="explain how a command is read and which rule decides it")
    perms_sub = perms.add_subparsers(dest="permissions_command", metavar="ACTION")
    explain = perms_sub.add_parser(
        "explain",
        help="print the parse, each part, the rules that match and the verdict (nothing runs)",
        description='Example: agentic-flow permissions explain "git status && rm -rf build"',
    )
    explain.add_argument("shell_command", metavar="CMD", help="the command line, quoted as one argument")
    explain.add_argument(
        "--mode", choices=["ask", "auto", "accept-edits", "read-only"],
        help="the permission mode to decide with (default: the settings' mode, else ask)",
    )
    explain.add_argument("--workspace", metavar="DIR", help="the workspace whose rules apply (default: current dir)")
    explain.add_argument("--json", action="store_true", help="print JSON")


def cmd_permissions(args: argparse.Namespace) -> int:
    if args.permissions_command != "explain":
        err('say what to do: agentic-flow permissions explain "CMD"')
        return EXIT_USAGE
    problem = workspace_problem(args.workspace)
    if problem is None and not args.shell_command.strip():
        problem = 'no command to explain: agentic-flow permissions explain "git push -f"'
    if problem:
        err(problem)
        return EXIT_USAGE
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.permissions.engine import PermissionEngine
    from agentic_flow.core.permissions.explain import explain_command

    workspace = Path(args.workspace or Path.cwd()).resolve()
    settings = load_settings(workspace)
    engine, warnings = PermissionEngine.from_settings(
        workspace, args.mode, user_settings=settings.user_file, project_settings=settings.project_file
    )
    for message in warnings:
        warn(message)
    explanation = explain_command(engine, args.shell_command, workspace)
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2))
    else:
        print(explanation.render())
    return EXIT_OK
