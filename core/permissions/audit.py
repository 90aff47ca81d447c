"""The append-only, hash-chained audit log of tool calls and permission decisions.

Each row is written once, when everything about it is known: an allowed call after the
tool ran (with its result summary and duration), a denied call at decision time. There
is no update: a log that can be edited to fill in results can be edited to hide them.

Tamper evidence, in layers:
- triggers make ``UPDATE`` and ``DELETE`` on the table fail;
- every row carries ``hash = sha256(canonical JSON of its fields + prev_hash)`` where
  ``prev_hash`` is the previous row's hash, so :meth:`AuditLog.verify` finds a row edited
  by someone who dropped the triggers, a removed row (id gap, chain break) and rows put
  in another order (the id is hashed too);
- ids come from an AUTOINCREMENT counter, so deleting the newest rows leaves the counter
  ahead of the last id, which verify reports;
- the chain's head (row count and last hash) is also kept outside the database, in an
  anchor file MAC'd with a per-install key and updated on every append
  (:mod:`core.permissions.audit_anchor`), so deleted newest rows (even with the counter
  reset), a rewritten-and-rehashed last row and an emptied log are found too; the head
  can be printed and kept elsewhere, and checked later (``verify(head)``).
Someone who can rewrite the whole file and the key can rewrite the whole chain; this is
evidence for a reviewer, not a defence against the machine's owner.

Arguments, reasons and result summaries pass through :mod:`core.redact` before they are
stored, so an API key in a command line never reaches the database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentic_flow.core.events import AGENT_PATH_SEPARATOR, PermissionDecided
from agentic_flow.core.permissions.audit_anchor import AnchorState, AuditAnchor, AuditHead
from agentic_flow.core.redact import redact, redact_obj
from agentic_flow.core.store.database import SessionAmbiguous, SessionNotFound, Store
from agentic_flow.core.store.timestamps import now_iso, to_iso

__all__ = [
    "GENESIS_HASH",
    "SUMMARY_MAX",
    "AuditDecision",
    "AuditScope",
    "AuditEntry",
    "AuditRow",
    "VerifyResult",
    "AuditLog",
    "AuditHead",
    "row_hash",
    "export_json",
    "export_csv",
]

GENESIS_HASH = "0" * 64
SUMMARY_MAX = 2000
AuditDecision = Literal["allow", "deny"]
AuditScope = Literal["once", "session", "always", "rule", "mode", "policy"]

# Column order of the table, of exports, and of the hashed payload's keys.
FIELDS = (
    "id", "ts", "session_id", "agent", "model", "tool", "arguments", "decision", "scope",
    "decided_by", "reason", "result_summary", "duration_ms", "prev_hash", "hash",
)
_HASHED = FIELDS[:-1]
_COLUMNS = ", ".join(FIELDS)
_TRIGGERS = ("audit_no_update", "audit_no_delete")


class AuditEntry(BaseModel):
    """What the caller knows about one tool call and its decision.

    ``decided_by`` says who decided: ``"person"``, ``"rule:bash(git status*) [file]"``,
    ``"mode:auto"``, ``"policy:headless"``. ``agent`` is the agent path: ``coder``, or
    ``coder › reviewer`` for a call its subagent made.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    decision: AuditDecision
    scope: AuditScope
    decided_by: str = Field(min_length=1)
    session_id: str | None = None
    agent: str | None = None
    model: str | None = None
    reason: str | None = None
    result_summary: str | None = None
    duration_ms: int | None = None
    ts: datetime | None = None  # default: when appended

    @field_validator("duration_ms", mode="before")
    @classmethod
    def _whole_ms(cls, value: Any) -> Any:
        # Hashed rows hold no floats: their text form is not stable across tools.
        return round(value) if isinstance(value, float) else value

    @classmethod
    def from_decision(
        cls,
        decided: PermissionDecided,
        *,
        arguments: dict[str, Any],
        session_id: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        result_summary: str | None = None,
        duration_ms: float | None = None,
    ) -> AuditEntry:
        """Build an entry from the engine's ``PermissionDecided`` event."""
        return cls(
            tool=decided.tool,
            arguments=arguments,
            decision="allow" if decided.allowed else "deny",
            scope=decided.scope,
            decided_by=decided.decided_by,
            reason=decided.reason,
            session_id=session_id,
            agent=agent,
            model=model,
            result_summary=result_summary,
            duration_ms=duration_ms,  # type: ignore[arg-type]  # rounded by the validator
        )


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored row; ``arguments`` already redacted."""

    id: int
    ts: datetime
    session_id: str | None
    agent: str | None
    model: str | None
    tool: str
    arguments: dict[str, Any]
    decision: str
    scope: str
    decided_by: str
    reason: str | None
    result_summary: str | None
    duration_ms: int | None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``ts`` as ISO text, ``arguments`` as an object."""
        out = {name: getattr(self, name) for name in FIELDS}
        out["ts"] = self.ts.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :meth:`AuditLog.verify`; ``message`` is for people."""

    ok: bool
    checked: int
    first_bad_id: int | None
    message: str


def row_hash(values: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a row's fields (all but ``hash``)."""
    payload = {name: values[name] for name in _HASHED}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _canonical_args(arguments: dict[str, Any]) -> str:
    return json.dumps(
        redact_obj(arguments), sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    # Lone surrogates (undecodable tool output) cannot be stored as UTF-8 text.
    text = redact(text).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _to_row(values: Mapping[str, Any]) -> AuditRow:
    data = dict(values)
    data["ts"] = datetime.fromisoformat(data["ts"])
    data["arguments"] = json.loads(data["arguments"])
    return AuditRow(**data)


class AuditLog:
    """The ``audit`` table of a :class:`~core.store.Store`, and its anchor.

    Args:
        store: the database.
        anchor: where the chain's head is kept (default: the user config dir).
    """

    def __init__(self, store: Store, anchor: AuditAnchor | None = None) -> None:
        self.store = store
        self.anchor = anchor or AuditAnchor(store.path)

    def append(self, entry: AuditEntry) -> AuditRow:
        """Write one row, chained to the last one; safe with other processes appending.

        The last hash is read inside the ``BEGIN IMMEDIATE`` transaction, so two writers
        can never chain to the same row; the anchor is locked first and rewritten after
        the commit, so it always names the newest row. If the database's head is not
        where the anchor says, the break is recorded in the anchor for verify to report.
        """
        values: dict[str, Any] = {
            "ts": to_iso(entry.ts) if entry.ts is not None else now_iso(),
            "session_id": entry.session_id,
            "agent": entry.agent,
            "model": entry.model,
            "tool": entry.tool,
            "arguments": _canonical_args(entry.arguments),
            "decision": entry.decision,
            "scope": entry.scope,
            "decided_by": entry.decided_by,
            "reason": _clip(entry.reason),
            "result_summary": _clip(entry.result_summary),
            "duration_ms": entry.duration_ms,
        }
        with self.anchor.locked():
            state = self.anchor.read()
            with self.store.transaction() as conn:
                last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                counter = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
                head = AuditHead(last[0], last[1]) if last else AuditHead(0, GENESIS_HASH)
                broken = _anchor_break(conn, state, head)
                # Past the counter, not just the last row: a new row must not paper over
                # deleted ones by reusing their ids.
                values["id"] = max(head.count, counter[0] if counter else 0) + 1
                values["prev_hash"] = head.hash
                values["hash"] = row_hash(values)
                conn.execute(
                    f"INSERT INTO audit ({_COLUMNS}) VALUES ({', '.join('?' * len(FIELDS))})",
                    tuple(values[name] for name in FIELDS),
                )
            since = state.since if state is not None else head.count
            self.anchor.write(AuditHead(values["id"], values["hash"]), since=since, broken=broken)
        return _to_row(values)

    def anchor_head(self) -> AuditHead | None:
        """The head the anchor holds (what ``audit anchor`` prints), None if not anchored."""
        state = self.anchor.read()
        return state.head if state is not None and state.authentic else None

    def reset_anchor(self) -> AuditHead:
        """Anchor the log as it is now, clearing a recorded break (after a person looked)."""
        with self.anchor.locked(), self.store.read() as conn:
            head = _last_head(conn)
            self.anchor.write(head, since=head.count, broken=None)
        return head

    def resolve_session(self, id_or_prefix: str) -> str:
        """The full id of the session ``id_or_prefix`` names: a stored one, or one whose
        rows stay in the log after the session was deleted (the log is append-only)."""
        try:
            return self.store.resolve_session_id(id_or_prefix)
        except SessionNotFound:
            pattern = id_or_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            with self.store.read() as conn:
                found = [
                    r[0]
                    for r in conn.execute(
                        "SELECT DISTINCT session_id FROM audit WHERE session_id LIKE ? ESCAPE '\\' LIMIT 10",
                        (pattern,),
                    )
                ]
            if not found:
                raise
            if len(found) > 1:
                raise SessionAmbiguous(
                    f"Session id '{id_or_prefix}' matches several sessions in the audit log ({', '.join(found)}): "
                    "give more characters.",
                    candidates=found,
                ) from None
            return found[0]

    def get(self, row_id: int) -> AuditRow | None:
        with self.store.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM audit WHERE id = ?", (row_id,)).fetchone()
        return _to_row(dict(zip(FIELDS, row))) if row else None

    def query(
        self,
        session: str | None = None,
        tool: str | None = None,
        decision: AuditDecision | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
        agent: str | None = None,
    ) -> list[AuditRow]:
        """Rows matching every filter given, oldest first.

        ``session`` includes the calls of its subagents' sessions. ``tool`` may be a glob
        (``mcp:github/*``). ``agent`` is a name (the agent that made the call, main agent
        or subagent: ``reviewer``) or a path (``coder › reviewer``, that chain and below).
        ``limit`` keeps the newest rows.
        """
        where: list[str] = []
        params: list[Any] = []
        if session is not None:
            where.append(
                "session_id IN (WITH RECURSIVE tree(id) AS (SELECT ? UNION ALL "
                "SELECT s.id FROM sessions s JOIN tree ON s.parent_id = tree.id) SELECT id FROM tree)"
            )
            params.append(session)
        if agent is not None:
            parts = [p.strip() for p in agent.replace(">", "›").split("›") if p.strip()]
            if len(parts) > 1:
                path = AGENT_PATH_SEPARATOR.join(parts)
                where.append("(agent = ? OR agent LIKE ? ESCAPE '\\')")
                params += [path, _like_escape(path + AGENT_PATH_SEPARATOR) + "%"]
            else:
                name = parts[0] if parts else agent
                where.append("(agent = ? OR agent LIKE ? ESCAPE '\\')")
                params += [name, "%" + _like_escape(AGENT_PATH_SEPARATOR + name)]
        if tool is not None:
            where.append("tool GLOB ?" if any(c in tool for c in "*?[") else "tool = ?")
            params.append(tool)
        if decision is not None:
            where.append("decision = ?")
            params.append(decision)
        if since is not None:
            where.append("ts >= ?")
            params.append(to_iso(since))
        if until is not None:
            where.append("ts <= ?")
            params.append(to_iso(until))
        sql = f"SELECT {_COLUMNS} FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.store.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_to_row(dict(zip(FIELDS, row))) for row in reversed(rows)]

    def verify(self, head: AuditHead | None = None) -> VerifyResult:
        """Re-walk the chain; stop at the first row that is not what was written.

        Then check the chain's end against the anchor file — or, when ``head`` is given
        (a head printed earlier by ``audit anchor``), against that instead. A log with no
        anchor yet (made before anchors existed) is anchored now, and the message says so.
        """
        checked = 0
        prev_hash = GENESIS_HASH
        expected_id = 1
        state = self.anchor.read() if head is None else None
        wanted = head.count if head is not None else state.head.count if state is not None else -1
        hash_at_wanted: str | None = GENESIS_HASH if wanted == 0 else None
        with self.store.read() as conn:
            for raw in conn.execute(f"SELECT {_COLUMNS} FROM audit ORDER BY id"):
                values = dict(zip(FIELDS, raw))
                row_id = values["id"]
                if row_id != expected_id:
                    missing = str(expected_id) if row_id == expected_id + 1 else f"{expected_id}–{row_id - 1}"
                    return VerifyResult(
                        False, checked, row_id,
                        f"Audit row(s) {missing} missing before row {row_id}: deleted from the log.",
                    )
                if values["prev_hash"] != prev_hash:
                    return VerifyResult(
                        False, checked, row_id,
                        f"Audit row {row_id} does not chain to the row before it: rows were "
                        "removed, inserted or reordered.",
                    )
                if row_hash(values) != values["hash"]:
                    return VerifyResult(
                        False, checked, row_id,
                        f"Audit row {row_id} was changed after it was written (hash mismatch).",
                    )
                prev_hash = values["hash"]
                if row_id == wanted:
                    hash_at_wanted = prev_hash
                expected_id += 1
                checked += 1
            counter = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
            triggers = {
                r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"
                )
            }
        last_id = expected_id - 1
        if counter is not None and counter[0] > last_id:
            return VerifyResult(
                False, checked, last_id + 1,
                f"Audit rows {last_id + 1}–{counter[0]} were deleted from the end of the log.",
            )
        missing_triggers = [t for t in _TRIGGERS if t not in triggers]
        if missing_triggers:
            return VerifyResult(
                False, checked, None,
                f"The {checked} audit rows chain correctly, but the append-only trigger(s) "
                f"{', '.join(missing_triggers)} were removed: the table has been opened for edits.",
            )
        ending = AuditHead(last_id, prev_hash)
        if head is not None:
            return _against(head, ending, hash_at_wanted, checked, f"the head you gave ({head.count}:{head.hash[:12]}…)")
        if state is None:
            with self.anchor.locked():
                if self.anchor.read() is None:
                    self.anchor.write(ending, since=last_id, broken=None)
            return VerifyResult(
                True, checked, None,
                f"All {checked} audit rows verified. This log had no anchor yet (it was written before "
                f"anchors existed, or its anchor was removed): one now holds its head at row {last_id}, so "
                "rows deleted or rewritten at the end from now on are detected too.",
            )
        if not state.authentic:
            return VerifyResult(
                False, checked, None,
                f"The audit anchor {self.anchor.path} does not match its MAC: it was edited, or the key "
                f"{self.anchor.key_path} changed. After checking the log, `agentic-flow audit anchor --reset` "
                "re-anchors it.",
            )
        if state.broken:
            return VerifyResult(
                False, checked, None,
                f"{state.broken} (recorded when a later row was appended). After checking the log, "
                "`agentic-flow audit anchor --reset` re-anchors it.",
            )
        return _against(state.head, ending, hash_at_wanted, checked, "the anchor outside the database")


def _last_head(conn: Any) -> AuditHead:
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return AuditHead(last[0], last[1]) if last else AuditHead(0, GENESIS_HASH)


def _anchor_break(conn: Any, state: AnchorState | None, head: AuditHead) -> str | None:
    """Why the database's head (before an append) is not what the anchor holds, if it is not."""
    if state is None:
        return None
    if state.broken:
        return state.broken  # once broken, it stays broken until a reset
    if not state.authentic:
        return f"The audit anchor {state.head.count}:{state.head.hash[:12]}… did not match its MAC"
    anchored = state.head
    if head == anchored:
        return None
    if head.count > anchored.count:
        # A process stopped between committing a row and writing the anchor: fine if the
        # anchored row is still there, unchanged.
        row = conn.execute("SELECT hash FROM audit WHERE id = ?", (anchored.count,)).fetchone()
        if anchored.count == 0 or (row is not None and row[0] == anchored.hash):
            return None
    if head.count < anchored.count:
        return (
            f"Audit rows {head.count + 1}–{anchored.count} were deleted from the end of the log: the anchor "
            f"held {anchored.count} rows when the log had {head.count}"
        )
    return f"Audit row {anchored.count} was rewritten: its hash is not the one the anchor held"


def _against(head: AuditHead, ending: AuditHead, hash_at: str | None, checked: int, what: str) -> VerifyResult:
    """Compare the verified chain's ending with an anchored head."""
    if ending.count < head.count:
        if ending.count == 0:
            message = f"The audit log is empty, but {what} says {head.count} rows were written: it was emptied."
        else:
            message = (
                f"Audit rows {ending.count + 1}–{head.count} were deleted from the end of the log "
                f"({what} says {head.count} rows; the log ends at row {ending.count})."
            )
        return VerifyResult(False, checked, ending.count + 1, message)
    if hash_at != head.hash:
        return VerifyResult(
            False, checked, head.count or None,
            f"Audit row {head.count} is not the row {what} names: it was rewritten after it was written "
            "(its hash was recomputed).",
        )
    newer = ending.count - head.count
    note = f" {newer} row(s) came after the head {what} holds." if newer else ""
    return VerifyResult(True, checked, None, f"All {checked} audit rows verified.{note}")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def export_json(rows: Iterable[AuditRow]) -> str:
    """A JSON array of the rows (hashes included, so an export can be re-verified)."""
    return json.dumps([row.to_dict() for row in rows], indent=2, ensure_ascii=False)


def export_csv(rows: Iterable[AuditRow]) -> str:
    """CSV with a header row; ``arguments`` as a JSON cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for row in rows:
        data = row.to_dict()
        data["arguments"] = json.dumps(row.arguments, sort_keys=True, ensure_ascii=False)
        writer.writerow(["" if data[name] is None else data[name] for name in FIELDS])
    return buffer.getvalue()
