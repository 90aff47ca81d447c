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
  ahead of the last id, which verify reports.
Someone who can rewrite the whole file can rewrite the whole chain; this is evidence for
a reviewer, not a defence against the machine's owner.

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

from agentic_flow.core.events import PermissionDecided
from agentic_flow.core.redact import redact, redact_obj
from agentic_flow.core.store.database import Store
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
    ``"mode:auto"``, ``"policy:headless"``.
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
    """The ``audit`` table of a :class:`~core.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, entry: AuditEntry) -> AuditRow:
        """Write one row, chained to the last one; safe with other processes appending.

        The last hash is read inside the ``BEGIN IMMEDIATE`` transaction, so two writers
        can never chain to the same row.
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
        with self.store.transaction() as conn:
            last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            counter = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
            # Past the counter, not just the last row: a new row must not paper over
            # deleted ones by reusing their ids.
            values["id"] = max(last[0] if last else 0, counter[0] if counter else 0) + 1
            values["prev_hash"] = last[1] if last else GENESIS_HASH
            values["hash"] = row_hash(values)
            conn.execute(
                f"INSERT INTO audit ({_COLUMNS}) VALUES ({', '.join('?' * len(FIELDS))})",
                tuple(values[name] for name in FIELDS),
            )
        return _to_row(values)

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
    ) -> list[AuditRow]:
        """Rows matching every filter given, oldest first.

        ``tool`` may be a glob (``mcp:github/*``); ``limit`` keeps the newest rows.
        """
        where: list[str] = []
        params: list[Any] = []
        if session is not None:
            where.append("session_id = ?")
            params.append(session)
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

    def verify(self) -> VerifyResult:
        """Re-walk the chain; stop at the first row that is not what was written."""
        checked = 0
        prev_hash = GENESIS_HASH
        expected_id = 1
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
        return VerifyResult(True, checked, None, f"All {checked} audit rows verified.")


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
