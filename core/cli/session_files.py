"""``sessions show ID``'s conversation (after the subagent tree of :mod:`core.cli.sessions`)
and ``sessions rm ID``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from agentic_flow.core.cli.exit_codes import EXIT_OK
from agentic_flow.core.context.export import compactions, full_transcript, to_markdown
from agentic_flow.core.store.database import Store

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import SessionRow

__all__ = ["conversation_json", "print_conversation", "cmd_session_rm"]


def conversation_json(store: Store, session_id: str) -> dict[str, Any]:
    """The conversation for ``sessions show --json``: every message once, compactions marked."""
    return {
        "compactions": compactions(store, session_id),
        "messages": [
            {"seq": e.seq, "kind": e.kind, **e.message.model_dump(mode="json"), **({"note": e.note} if e.note else {})}
            for e in full_transcript(store, session_id)
        ],
    }


def print_conversation(store: Store, row: "SessionRow") -> None:
    """The whole conversation as Markdown, and how to continue it."""
    done = compactions(store, row.id)
    if done:
        print(f"\n{len(done)} compaction(s): the model continues from the last summary.")
    print(f"continue it: agentic-flow run --resume {row.id}   or   agentic-flow -r {row.id}\n")
    sys.stdout.write(to_markdown(full_transcript(store, row.id), row))


def cmd_session_rm(args: argparse.Namespace) -> int:
    store = Store()
    ids = [store.resolve_session_id(given) for given in args.ids]  # all or nothing
    for session_id in ids:
        store.delete_session(session_id)
        print(f"deleted session {session_id} (and its subagents' sessions)")
    return EXIT_OK
