"""A stored session as one readable transcript (``sessions show``, ``/export``).

The store keeps every message ever said; a compaction appends the summary and copies of
the kept messages after them (see ``core.context.compaction``). :func:`full_transcript`
walks the compactions so each message appears once, with the summary where it was
written; :func:`to_markdown` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson

from agentic_flow.core.context.compaction import SUMMARY_HEADER
from agentic_flow.core.messages import AssistantMessage, Message, ToolResultMessage, UserMessage, messages_from_json

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.store.database import SessionRow, Store

__all__ = ["Entry", "full_transcript", "to_markdown", "compactions"]


@dataclass(frozen=True)
class Entry:
    """One message of the transcript, or a compaction (``message`` is then its summary)."""

    kind: Literal["message", "compaction"]
    message: Message
    seq: int
    note: str = ""


def compactions(store: "Store", session_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(
            "SELECT created_at, history_start, summarised, kept, tokens_before, tokens_after, model, trigger "
            "FROM compactions WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall()
    keys = ("created_at", "history_start", "summarised", "kept", "tokens_before", "tokens_after", "model", "trigger")
    return [dict(zip(keys, row)) for row in rows]


def full_transcript(store: "Store", session_id: str) -> list[Entry]:
    """Every message of the session once, in order, compactions where they happened."""
    with store.read() as conn:
        rows = conn.execute("SELECT seq, json FROM messages WHERE session_id = ? ORDER BY seq", (session_id,)).fetchall()
    seqs = [int(r[0]) for r in rows]
    messages = messages_from_json("[" + ",".join(r[1] for r in rows) + "]") if rows else []
    by_seq = dict(zip(seqs, messages))
    out: list[Entry] = []
    cursor = 0
    start = 0
    for record in compactions(store, session_id):
        summary_seq = int(record["history_start"])
        for seq in range(cursor, start + int(record["summarised"])):
            if seq in by_seq:
                out.append(Entry("message", by_seq[seq], seq))
        if summary_seq in by_seq:
            note = (
                f"{record['trigger']} compaction by {record['model']}: {record['summarised']} messages summarised, "
                f"{record['kept']} kept; ~{record['tokens_before']:,} → ~{record['tokens_after']:,} tokens"
            )
            out.append(Entry("compaction", by_seq[summary_seq], summary_seq, note))
        # The live history now starts with the summary (the next compaction counts from
        # it) and goes on with the copies of the kept messages, shown from here.
        start, cursor = summary_seq, summary_seq + 1
    for seq in sorted(s for s in by_seq if s >= cursor):
        out.append(Entry("message", by_seq[seq], seq))
    return out


def to_markdown(entries: list[Entry], row: "SessionRow | None" = None, *, title: str | None = None) -> str:
    """The transcript as Markdown: prompts, answers, tool calls and (shortened) results."""
    lines: list[str] = []
    heading = title or (row.title if row is not None and row.title else "agentic-flow session")
    lines.append(f"# {heading}")
    if row is not None:
        lines.append("")
        lines.append(
            f"Session `{row.id}` · agent {row.agent or '?'} · model {row.model or '?'} · "
            f"started {row.created_at:%Y-%m-%d %H:%M} UTC · workspace `{row.workspace or ''}`"
        )
    unanswered = False  # a prompt that got no answer (the turn failed or was stopped at once)
    for entry in entries:
        message = entry.message
        prompt = entry.kind != "compaction" and isinstance(message, UserMessage)
        if prompt and unanswered:
            lines.append("")
            lines.append("*(no answer to the prompt above: the turn failed or was stopped)*")
        unanswered = prompt
        lines.append("")
        if entry.kind == "compaction":
            body = message.content.removeprefix(SUMMARY_HEADER).strip() if isinstance(message, UserMessage) else ""
            lines.append(f"## Compaction ({entry.note})")
            lines.append("")
            lines.append(body)
        elif isinstance(message, UserMessage):
            lines.append("## You")
            lines.append("")
            lines.append(message.content)
        elif isinstance(message, AssistantMessage):
            lines.append("## Agent" + (f" ({message.model})" if message.model else ""))
            if message.content:
                lines.append("")
                lines.append(message.content)
            for call in message.tool_calls:
                lines.append("")
                lines.append(f"**{call.name}** `{orjson.dumps(call.arguments).decode()[:300]}`")
        elif isinstance(message, ToolResultMessage):
            content = message.content
            if len(content) > 2000:
                content = content[:2000] + f"\n… ({len(message.content) - 2000} more characters)"
            lines.append(f"Result of {message.name}{' (error)' if message.is_error else ''}:")
            lines.append("")
            lines.append("```")
            lines.append(content.replace("```", "ʼʼʼ"))
            lines.append("```")
    if unanswered:
        lines.append("")
        lines.append("*(no answer to the prompt above: the turn failed or was stopped)*")
    return "\n".join(lines).rstrip() + "\n"
