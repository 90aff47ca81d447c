"""``agentic-flow sessions`` (list) and ``sessions show ID`` (one session and its subagents).

A subagent's transcript is a session of its own, linked to the session that delegated
to it; the list shows the sessions a person started, each with the figures of its whole
tree, and ``show`` prints the tree: per agent its model(s), turns, tokens and cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING

from agentic_flow.core.cli.exit_codes import EXIT_OK
from agentic_flow.core.cli.output import fmt_cost, table

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import ModelUsage, SessionNode

__all__ = ["cmd_sessions", "tree_lines"]


def _row_dict(row: object) -> dict[str, object]:
    if is_dataclass(row):
        return asdict(row)  # type: ignore[arg-type]
    return dict(vars(row))


def _cost(cost: float, unpriced: int) -> str:
    if unpriced:
        return "?" if not cost else f"≥{fmt_cost(cost)}"  # some turns had no known price
    return fmt_cost(cost)


def cmd_sessions(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.store.database import Store

    store = Store()
    if getattr(args, "sessions_command", None) == "show":
        return _show(store, args)
    rows = store.list_sessions(limit=args.limit)
    trees = store.subagent_counts([r.id for r in rows])
    if args.json:
        out = []
        for r in rows:
            data = _row_dict(r)
            count, usage = trees.get(r.id, (0, None))
            data["subagents"] = count
            data["tree"] = _row_dict(usage) if usage is not None else None
            out.append(data)
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return EXIT_OK
    if not rows:
        print("no sessions yet: start one with `agentic-flow` or `agentic-flow run --task ...`")
        return EXIT_OK
    table_rows = []
    for r in rows:
        count, usage = trees.get(r.id, (0, None))
        tokens, cost = r.total_tokens, _cost(r.cost, r.unpriced_turns)
        if usage is not None and count:
            tokens = usage.input_tokens + usage.output_tokens
            cost = _cost(usage.cost, usage.unpriced_turns)
        table_rows.append(
            [r.id, r.updated_at.strftime("%Y-%m-%d %H:%M"), r.agent, r.model, r.message_count, count or "", tokens,
             cost, (r.title or "")[:40]]
        )
    print(table(["SESSION", "UPDATED", "AGENT", "MODEL", "MSGS", "SUBAGENTS", "TOKENS", "COST", "TITLE"], table_rows,
                right=(4, 5, 6, 7)))
    if any(trees.get(r.id, (0,))[0] for r in rows):
        print("TOKENS and COST include the subagents; `agentic-flow sessions show ID` breaks them down.")
    return EXIT_OK


def tree_lines(nodes: list["SessionNode"]) -> list[list[object]]:
    """Rows of the tree table: one per agent and model, indented by depth."""
    rows: list[list[object]] = []
    for i, node in enumerate(nodes):
        s = node.session
        nxt = next((n.depth for n in nodes[i + 1 :] if n.depth <= node.depth), None)
        last_sibling = nxt is None or nxt < node.depth
        branch = "" if node.depth == 0 else "   " * (node.depth - 1) + ("└─ " if last_sibling else "├─ ")
        usages: list["ModelUsage | None"] = [*node.models] or [None]
        for j, usage in enumerate(usages):
            label = f"{branch}{s.agent or '?'}" if j == 0 else ""
            if usage is None:
                rows.append([label, s.model, 0, 0, 0, "$0", s.id if j == 0 else "", (s.title or "")[:36]])
                continue
            rows.append([
                label, usage.model, usage.turns, f"{usage.input_tokens:,}", f"{usage.output_tokens:,}",
                _cost(usage.cost, usage.unpriced_turns), s.id if j == 0 else "", (s.title or "")[:36] if j == 0 else "",
            ])
    return rows


def _show(store: object, args: argparse.Namespace) -> int:
    # lazy: transcripts are rendered only by `sessions show`
    from agentic_flow.core.cli.session_files import conversation_json, print_conversation

    nodes = store.session_tree(args.id)  # type: ignore[attr-defined]
    root = nodes[0].session
    all_usage = [u for n in nodes for u in n.models]
    tin = sum(u.input_tokens for u in all_usage)
    tout = sum(u.output_tokens for u in all_usage)
    cost = sum(u.cost for u in all_usage)
    unpriced = sum(u.unpriced_turns for u in all_usage)
    if args.json:
        data = {
            "session": _row_dict(root),
            "tree": [
                {"depth": n.depth, "session": _row_dict(n.session), "models": [_row_dict(u) for u in n.models]}
                for n in nodes
            ],
            "total": {"input_tokens": tin, "output_tokens": tout, "cost": None if unpriced else cost,
                      "known_cost": cost, "unpriced_turns": unpriced, "agents": len(nodes)},
            **conversation_json(store, root.id),  # type: ignore[arg-type]
        }
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return EXIT_OK
    print(f"session {root.id} · {root.agent or '?'} · {root.workspace or ''}")
    print(f"started {root.created_at:%Y-%m-%d %H:%M} · updated {root.updated_at:%Y-%m-%d %H:%M} · {root.title or '(no title)'}")
    print()
    rows = tree_lines(nodes)
    rows.append(["total", "", sum(u.turns for u in all_usage), f"{tin:,}", f"{tout:,}", _cost(cost, unpriced), "", ""])
    print(table(["AGENT", "MODEL", "TURNS", "INPUT", "OUTPUT", "COST", "SESSION", "TASK"], rows, right=(2, 3, 4, 5)))
    subagents = len(nodes) - 1
    if subagents:
        print(f"\n{subagents} subagent session(s); resume the main one with `agentic-flow run --resume {root.id}`.")
    print_conversation(store, root)  # type: ignore[arg-type]
    return EXIT_OK
