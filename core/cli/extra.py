"""Commands beyond run/models/agents: sessions, audit, mcp, trust, and (from analysis.py) compare, route, cost.

Registered in one place so ``--help`` lists them; each command's work is imported only
when it runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from agentic_flow.core.cli.analysis import add_analysis_commands, dispatch_analysis
from agentic_flow.core.cli.checks import positive_int
from agentic_flow.core.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from agentic_flow.core.cli.output import err, table, write_output
from agentic_flow.core.cli.sessions import cmd_sessions
from agentic_flow.core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.permissions.audit import AuditLog

__all__ = ["add_extra_commands", "dispatch_extra"]


def add_extra_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sessions = sub.add_parser("sessions", help="list stored sessions (resume one with run --resume ID)")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", metavar="ACTION")
    sessions_list = sessions_sub.add_parser("list", help="table of recent sessions (default)")
    for p in (sessions, sessions_list):
        p.add_argument("--limit", type=positive_int, default=30, help="how many sessions (default 30)")
        p.add_argument("--json", action="store_true", help="print JSON")
    show = sessions_sub.add_parser(
        "show", help="one session: its subagents (per agent the model, turns, tokens, cost) and its conversation"
    )
    show.add_argument("id", metavar="ID", help="session id or a unique prefix")
    show.add_argument("--json", action="store_true", help="print JSON")
    rm = sessions_sub.add_parser("rm", help="delete stored sessions (their audit rows stay: the log is append-only)")
    rm.add_argument("ids", metavar="ID", nargs="+", help="session id or a unique prefix")

    audit = sub.add_parser("audit", help="review the approval audit log: filter, verify, export")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    audit_list = audit_sub.add_parser("list", help="filtered table of decisions (default)")
    for p in (audit, audit_list):
        p.add_argument("--session", help="only this session and its subagents (id or prefix)")
        p.add_argument("--tool", help="only this tool; globs work (mcp:github/*)")
        p.add_argument(
            "--agent", metavar="NAME", help="only calls this agent made (reviewer), or a chain ('coder › reviewer')"
        )
        p.add_argument("--decision", choices=["allow", "deny"], help="only allowed or denied calls")
        p.add_argument("--since", metavar="TIME", help="ISO date/time, e.g. 2026-11-01 or 2026-11-01T12:00")
        p.add_argument("--until", metavar="TIME", help="ISO date/time")
        p.add_argument("--limit", type=positive_int, help="only the newest N rows")
        fmt = p.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true", help="export as JSON")
        fmt.add_argument("--csv", action="store_true", help="export as CSV")
        p.add_argument(
            "--output", "-o", metavar="FILE",
            help="write the export to FILE instead of stdout (format from --json/--csv, else the extension .json/.csv)",
        )
    verify = audit_sub.add_parser(
        "verify", help="check the hash chain and its anchor: detects edited, deleted and truncated rows"
    )
    verify.add_argument(
        "--anchor", metavar="HEAD", help="check against a head printed earlier by `audit anchor` (COUNT:HASH)"
    )
    anchor = audit_sub.add_parser("anchor", help="print the chain's head (COUNT:HASH) to keep somewhere else")
    anchor.add_argument(
        "--reset", action="store_true", help="re-anchor the log as it is now (after you checked a reported break)"
    )

    mcp = sub.add_parser("mcp", help="MCP servers from .mcp.json and settings: list, approve, decline")
    mcp_sub = mcp.add_subparsers(dest="mcp_command", metavar="ACTION")
    mcp_list = mcp_sub.add_parser("list", help="start each trusted server, show trust, status and tools (default)")
    for p in (mcp, mcp_list):
        p.add_argument("--workspace", metavar="DIR", help="project folder holding .mcp.json (default: current dir)")
        p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each server (default 30)")
    for action, text in (
        ("trust", "approve a project MCP server (.mcp.json) for this workspace, as its entry reads now"),
        ("untrust", "decline a project MCP server for this workspace: it will not start"),
    ):
        p = mcp_sub.add_parser(action, help=text)
        p.add_argument("name", help="the server's name under mcpServers")
        p.add_argument("--workspace", metavar="DIR", help="project folder (default: current dir)")

    trust = sub.add_parser(
        "trust",
        help="trust this workspace's own settings: their mode, and their allow rules for dangerous operations",
    )
    trust.add_argument("--workspace", metavar="DIR", help="the workspace (default: current dir)")
    what = trust.add_mutually_exclusive_group()
    what.add_argument("--show", action="store_true", help="show what the workspace asks for and what is trusted")
    what.add_argument("--revoke", action="store_true", help="stop trusting the workspace's settings")


    add_analysis_commands(sub)


def dispatch_extra(args: argparse.Namespace) -> int | None:

    result = dispatch_analysis(args)
    if result is not None:
        return result
    if args.command == "sessions":
        if getattr(args, "sessions_command", None) == "rm":
            # lazy: each command loads only what it runs (`--help` stays fast)
            from agentic_flow.core.cli.session_files import cmd_session_rm

            return cmd_session_rm(args)
        return cmd_sessions(args)
    if args.command == "audit":
        return _audit(args)
    if args.command in ("mcp", "trust"):
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.cli.trust import cmd_mcp, cmd_trust

        return cmd_mcp(args) if args.command == "mcp" else cmd_trust(args)
    return None


def _parse_time(value: str | None, flag: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:

        raise ConfigError(f"{flag} {value!r} is not an ISO date/time (e.g. 2026-11-01 or 2026-11-01T12:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _audit(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.permissions.audit import AuditHead, AuditLog, export_csv, export_json
    from agentic_flow.core.store.database import Store

    store = Store()
    log = AuditLog(store)
    if args.audit_command == "verify":
        result = log.verify(AuditHead.parse(args.anchor) if args.anchor else None)
        print(result.message)
        return EXIT_OK if result.ok else EXIT_ERROR
    if args.audit_command == "anchor":
        return _audit_anchor(log, reset=args.reset)
    fmt = _export_format(args)
    if fmt == "":
        err(f"--output {args.output}: say the format with --json or --csv, or name the file .json or .csv")
        return EXIT_USAGE
    session = log.resolve_session(args.session) if args.session else None
    rows = log.query(
        session=session,
        tool=args.tool,
        decision=args.decision,
        since=_parse_time(args.since, "--since"),
        until=_parse_time(args.until, "--until"),
        limit=args.limit,
        agent=args.agent,
    )
    if fmt is not None:
        text = export_json(rows) if fmt == "json" else export_csv(rows)
        if args.output:
            if not write_output(args.output, text):
                return EXIT_ERROR
            print(f"wrote {len(rows)} audit rows to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    if not rows:
        print("no audit rows match")
        return EXIT_OK
    out = [
        [r.id, r.ts.strftime("%Y-%m-%d %H:%M:%S"), (r.session_id or "")[:8], (r.agent or "")[:32], r.tool, r.decision,
         r.scope, r.decided_by[:40], (r.result_summary or r.reason or "")[:50]]
        for r in rows
    ]
    print(table(["ID", "TIME (UTC)", "SESSION", "AGENT", "TOOL", "DECISION", "SCOPE", "DECIDED BY", "RESULT / REASON"], out,
                right=(0,)))
    return EXIT_OK


def _export_format(args: argparse.Namespace) -> str | None:
    """json or csv from the flag, else from --output's extension; None for the table,
    "" for an --output whose format cannot be told."""
    if args.json or args.csv:
        return "json" if args.json else "csv"
    if not args.output:
        return None
    return {".json": "json", ".csv": "csv"}.get(Path(args.output).suffix.lower(), "")


def _audit_anchor(log: "AuditLog", *, reset: bool) -> int:
    """Print the verified head; with ``reset``, re-anchor the log as it is first."""
    if reset:
        print(f"re-anchored the audit log at row {log.reset_anchor().count}", file=sys.stderr)
    result = log.verify()
    if not result.ok:
        err(result.message)
        return EXIT_ERROR
    head = log.anchor_head()
    if head is None:  # pragma: no cover - verify() just anchored it
        err("the audit log has no anchor")
        return EXIT_ERROR
    print(head)
    print(
        f"The audit log's head: {head.count} rows, the last one hashing to {head.hash[:12]}…. Keep this line "
        "somewhere else (a ticket, a commit); `agentic-flow audit verify --anchor HEAD` checks later that the "
        "log still holds it.",
        file=sys.stderr,
    )
    return EXIT_OK
