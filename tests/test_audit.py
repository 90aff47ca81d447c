"""Audit log: append, query, hash chain, tamper detection, concurrency, redaction, export."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentic_flow.core.errors import ConfigError, StoreError
from agentic_flow.core.events import PermissionDecided
from agentic_flow.core.permissions.audit import (
    GENESIS_HASH,
    SUMMARY_MAX,
    AuditEntry,
    AuditHead,
    AuditLog,
    export_csv,
    export_json,
    row_hash,
)
from agentic_flow.core.store.database import Store


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "audit.db") as s:
        yield s


@pytest.fixture
def log(store: Store) -> AuditLog:
    return AuditLog(store)


def _entry(i: int = 0, **overrides) -> AuditEntry:
    fields = dict(
        tool="bash",
        arguments={"command": f"echo {i}"},
        decision="allow",
        scope="once",
        decided_by="person",
        session_id="s1",
        agent="coder",
        model="openrouter:x",
        result_summary=f"{i}\n",
        duration_ms=3,
    )
    fields.update(overrides)
    return AuditEntry(**fields)


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append(_entry(i))


def _raw(path: Path) -> sqlite3.Connection:
    """What someone editing the file by hand would do: drop the triggers first."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    return conn


# --------------------------------------------------------------------------- append / query


def test_append_chains_rows(log: AuditLog):
    first = log.append(_entry(0))
    second = log.append(_entry(1, decision="deny", scope="policy", decided_by="policy:headless",
                               reason="no person to ask", result_summary=None, duration_ms=None))
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
    assert len(first.hash) == 64 and first.hash != second.hash
    assert second.decided_by == "policy:headless" and second.reason == "no person to ask"
    assert log.get(2) == second
    assert log.get(99) is None
    assert log.verify().ok


def test_hash_covers_every_field(log: AuditLog):
    row = log.append(_entry())
    values = row.to_dict()
    values["ts"] = row.ts.isoformat(timespec="microseconds")
    values["arguments"] = json.dumps(row.arguments, sort_keys=True, separators=(",", ":"))
    assert row_hash(values) == row.hash
    for name in values:
        if name == "hash":
            continue
        changed = dict(values)
        changed[name] = "x" if values[name] != "x" else "y"
        assert row_hash(changed) != row.hash, name


def test_entry_is_validated():
    with pytest.raises(ValidationError):
        _entry(decision="maybe")
    with pytest.raises(ValidationError):
        _entry(scope="forever")
    with pytest.raises(ValidationError):
        AuditEntry(tool="bash", decision="allow", scope="once", decided_by="person", colour="red")
    assert _entry(duration_ms=12.6).duration_ms == 13


def test_from_permission_decided_event():
    decided = PermissionDecided(call_id="c1", tool="edit", allowed=False, scope="rule",
                                decided_by="rule:edit(secrets/**) [project]", reason="denied by rule")
    entry = AuditEntry.from_decision(decided, arguments={"path": "secrets/a"}, session_id="s",
                                     duration_ms=1.4)
    assert (entry.decision, entry.scope, entry.decided_by, entry.reason, entry.duration_ms) == (
        "deny", "rule", "rule:edit(secrets/**) [project]", "denied by rule", 1
    )


def test_query_filters(log: AuditLog):
    t0 = datetime.now(timezone.utc) - timedelta(hours=2)
    log.append(_entry(0, ts=t0))
    log.append(_entry(1, tool="edit", session_id="s2", ts=t0 + timedelta(hours=1)))
    log.append(_entry(2, tool="mcp:github/create_issue", decision="deny", ts=t0 + timedelta(hours=2)))
    log.append(_entry(3, tool="mcp:github/list_issues", ts=t0 + timedelta(hours=3)))
    ids = lambda rows: [r.id for r in rows]  # noqa: E731
    assert ids(log.query()) == [1, 2, 3, 4]
    assert ids(log.query(session="s2")) == [2]
    assert ids(log.query(tool="edit")) == [2]
    assert ids(log.query(tool="mcp:github/*")) == [3, 4]
    assert ids(log.query(decision="deny")) == [3]
    assert ids(log.query(since=t0 + timedelta(minutes=30))) == [2, 3, 4]
    assert ids(log.query(until=(t0 + timedelta(minutes=90)).isoformat())) == [1, 2]
    assert ids(log.query(limit=2)) == [3, 4]  # the newest, oldest first
    assert ids(log.query(session="s1", decision="allow", tool="mcp:*")) == [4]


def test_undecodable_tool_output_is_stored(log: AuditLog):
    row = log.append(_entry(result_summary="bytes \udcff\udcfe end", arguments={"p": "\ud800"}))
    assert row.result_summary == "bytes ?? end"
    assert log.get(row.id) == row and log.verify().ok


def test_long_result_summary_is_clipped(log: AuditLog):
    row = log.append(_entry(result_summary="y" * (SUMMARY_MAX * 3)))
    assert row.result_summary is not None and len(row.result_summary) == SUMMARY_MAX
    assert log.verify().ok


# --------------------------------------------------------------------------- tamper resistance


def test_triggers_refuse_update_and_delete(store: Store, log: AuditLog):
    _fill(log, 2)
    with pytest.raises(StoreError, match="append-only"):
        with store.transaction() as conn:
            conn.execute("UPDATE audit SET decision = 'deny' WHERE id = 1")
    with pytest.raises(StoreError, match="append-only"):
        with store.transaction() as conn:
            conn.execute("DELETE FROM audit WHERE id = 2")
    raw = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("DELETE FROM audit")
    raw.close()
    assert [r.decision for r in log.query()] == ["allow", "allow"]
    assert log.verify().ok


def test_verify_empty_log(log: AuditLog):
    result = log.verify()
    assert (result.ok, result.checked, result.first_bad_id) == (True, 0, None)


def test_edited_row_is_named(store: Store, log: AuditLog):
    _fill(log, 5)
    raw = _raw(store.path)
    raw.execute("UPDATE audit SET decision = 'allow', result_summary = 'nothing to see' WHERE id = 3")
    raw.close()
    result = log.verify()
    assert not result.ok
    assert result.first_bad_id == 3 and result.checked == 2
    assert "row 3" in result.message and "changed" in result.message


def test_edited_row_with_recomputed_hash_breaks_the_chain(store: Store, log: AuditLog):
    _fill(log, 5)
    raw = _raw(store.path)
    cols = [d[1] for d in raw.execute("PRAGMA table_info(audit)")]
    values = dict(zip(cols, raw.execute("SELECT * FROM audit WHERE id = 3").fetchone()))
    values["tool"] = "read"
    raw.execute("UPDATE audit SET tool = ?, hash = ? WHERE id = 3", ("read", row_hash(values)))
    raw.close()
    result = log.verify()
    assert not result.ok and result.first_bad_id == 4
    assert "row 4" in result.message


def test_deleted_row_is_detected(store: Store, log: AuditLog):
    _fill(log, 5)
    raw = _raw(store.path)
    raw.execute("DELETE FROM audit WHERE id = 3")
    raw.close()
    result = log.verify()
    assert not result.ok and result.first_bad_id == 4
    assert "3 missing" in result.message


def test_deleted_newest_rows_are_detected_even_after_new_appends(store: Store, log: AuditLog):
    _fill(log, 5)
    raw = _raw(store.path)
    raw.execute("DELETE FROM audit WHERE id >= 4")
    raw.close()
    result = log.verify()
    assert not result.ok and result.first_bad_id == 4
    assert "4–5" in result.message
    # The next append does not reuse ids 4-5, so the hole stays visible.
    assert log.append(_entry(9)).id == 6
    result = log.verify()
    assert not result.ok and result.first_bad_id == 6


def test_reordered_rows_are_detected(store: Store, log: AuditLog):
    _fill(log, 4)
    raw = _raw(store.path)
    cols = [d[1] for d in raw.execute("PRAGMA table_info(audit)") if d[1] != "id"]
    two = raw.execute(f"SELECT {', '.join(cols)} FROM audit WHERE id = 2").fetchone()
    three = raw.execute(f"SELECT {', '.join(cols)} FROM audit WHERE id = 3").fetchone()
    assignments = ", ".join(f"{c} = ?" for c in cols)
    raw.execute(f"UPDATE audit SET {assignments} WHERE id = 2", three)
    raw.execute(f"UPDATE audit SET {assignments} WHERE id = 3", two)
    raw.close()
    result = log.verify()
    assert not result.ok and result.first_bad_id == 2


def test_dropped_triggers_alone_fail_verification(store: Store, log: AuditLog):
    _fill(log, 2)
    _raw(store.path).close()
    result = log.verify()
    assert not result.ok and result.first_bad_id is None
    assert "trigger" in result.message and result.checked == 2


# --------------------------------------------------------------------------- concurrency


def _append_many(path: str, session: str, n: int, barrier) -> None:
    store = Store(Path(path), timeout=60)
    log = AuditLog(store)
    barrier.wait()
    for i in range(n):
        log.append(AuditEntry(tool="bash", arguments={"i": i}, decision="allow", scope="mode",
                              decided_by="mode:auto", session_id=session, result_summary=str(i)))
    store.close()


def test_two_processes_append_at_once(store: Store, log: AuditLog):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_append_many, args=(str(store.path), name, 200, barrier))
        for name in ("proc-a", "proc-b")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    rows = log.query()
    assert [r.id for r in rows] == list(range(1, 401))
    for name in ("proc-a", "proc-b"):
        mine = [r for r in rows if r.session_id == name]
        assert [r.arguments["i"] for r in mine] == list(range(200))
    result = log.verify()
    assert result.ok and result.checked == 400, result.message


# --------------------------------------------------------------------------- redaction


def test_secrets_never_reach_the_database(store: Store, log: AuditLog, monkeypatch):
    key = "qz8Kx0pLmN4vR7tY2wB5"  # no recognisable shape: only the env lookup can catch it
    monkeypatch.setenv("OPENROUTER_API_KEY", key)
    gh = "ghp_" + "A1b2C3d4E5" * 4
    row = log.append(_entry(
        arguments={"command": f"curl -H 'X-Key: {key}' https://x", "env": {"TOKEN": gh},
                   "argv": ["--key", key]},
        result_summary=f"echoed {key}",
        reason=f"person typed {gh}",
    ))
    assert key not in json.dumps(row.arguments) and gh not in json.dumps(row.arguments)
    assert row.arguments["argv"] == ["--key", "[REDACTED]"]
    assert key not in (row.result_summary or "") and gh not in (row.reason or "")
    assert log.verify().ok
    with store.read() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    assert key.encode() not in on_disk and gh.encode() not in on_disk
    assert b"[REDACTED]" in on_disk


# --------------------------------------------------------------------------- export


def test_export_json_and_csv(log: AuditLog):
    log.append(_entry(0, arguments={"command": 'echo "a,b"\nls', "n": 1}))
    log.append(_entry(1, decision="deny", scope="rule", decided_by="rule:bash(rm *) [user]",
                      reason="rule", result_summary=None, duration_ms=None))
    rows = log.query()
    data = json.loads(export_json(rows))
    assert [d["id"] for d in data] == [1, 2]
    assert data[0]["arguments"] == {"command": 'echo "a,b"\nls', "n": 1}
    assert data[1]["result_summary"] is None and data[1]["hash"] == rows[1].hash
    assert datetime.fromisoformat(data[0]["ts"]) == rows[0].ts

    parsed = list(csv.DictReader(io.StringIO(export_csv(rows))))
    assert [p["id"] for p in parsed] == ["1", "2"]
    assert json.loads(parsed[0]["arguments"]) == rows[0].arguments
    assert parsed[1]["decided_by"] == "rule:bash(rm *) [user]"
    assert parsed[1]["duration_ms"] == "" and parsed[0]["duration_ms"] == "3"
    assert export_csv([]).strip() == ",".join(
        ["id", "ts", "session_id", "agent", "model", "tool", "arguments", "decision", "scope",
         "decided_by", "reason", "result_summary", "duration_ms", "prev_hash", "hash"]
    )



# --------------------------------------------------------------------------- anchoring


def _restore_triggers(conn: sqlite3.Connection) -> None:
    """A careful tamperer puts the triggers back, so only the chain and anchor can tell."""
    conn.execute("""CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
                    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""")
    conn.execute("""CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
                    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""")


def _truncate(path: Path, keep: int) -> None:
    raw = _raw(path)
    raw.execute("DELETE FROM audit WHERE id > ?", (keep,))
    if keep:
        raw.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit'", (keep,))
    else:
        raw.execute("DELETE FROM sqlite_sequence WHERE name = 'audit'")
    _restore_triggers(raw)
    raw.close()


def _rehash_last(path: Path, row_id: int) -> None:
    raw = _raw(path)
    cols = [d[1] for d in raw.execute("PRAGMA table_info(audit)")]
    values = dict(zip(cols, raw.execute("SELECT * FROM audit WHERE id = ?", (row_id,)).fetchone()))
    values["decision"], values["result_summary"] = "deny", "not executed (denied)"
    raw.execute(
        "UPDATE audit SET decision = ?, result_summary = ?, hash = ? WHERE id = ?",
        (values["decision"], values["result_summary"], row_hash(values), row_id),
    )
    _restore_triggers(raw)
    raw.close()


def test_deleted_tail_rows_with_the_counter_reset_are_detected(store: Store, log: AuditLog):
    _fill(log, 6)
    _truncate(store.path, 4)
    result = log.verify()
    assert not result.ok and result.first_bad_id == 5
    assert "5–6 were deleted from the end" in result.message and "anchor" in result.message


def test_rewritten_and_rehashed_last_row_is_detected(store: Store, log: AuditLog):
    _fill(log, 6)
    _rehash_last(store.path, 6)
    result = log.verify()
    assert not result.ok and result.first_bad_id == 6
    assert "row 6" in result.message and "rewritten" in result.message


def test_emptied_log_is_detected(store: Store, log: AuditLog):
    _fill(log, 3)
    _truncate(store.path, 0)
    result = log.verify()
    assert not result.ok and result.checked == 0
    assert "empty" in result.message and "3 rows" in result.message


def test_a_break_found_at_append_stays_until_reset(store: Store, log: AuditLog):
    _fill(log, 5)
    _truncate(store.path, 3)
    log.append(_entry(7))  # the log grows again from row 4: the chain alone looks whole
    result = log.verify()
    assert not result.ok and "4–5 were deleted" in result.message and "--reset" in result.message
    log.append(_entry(8))
    assert not log.verify().ok  # sticky
    head = log.reset_anchor()
    assert head.count == 5 and log.verify().ok
    _rehash_last(store.path, 5)
    assert not log.verify().ok


def test_anchor_and_key_live_outside_the_database(store: Store, log: AuditLog, _isolated_home: Path):
    _fill(log, 2)
    anchor, key = log.anchor.path, log.anchor.key_path
    assert anchor.parent.parent == key.parent == _isolated_home  # the user config dir
    assert key.stat().st_mode & 0o777 == 0o600
    data = json.loads(anchor.read_text())
    assert data["count"] == 2 and data["hash"] == log.get(2).hash
    data["count"] = 1  # someone edits the anchor to match a truncated log
    data["hash"] = log.get(1).hash
    anchor.write_text(json.dumps(data))
    result = log.verify()
    assert not result.ok and "does not match its MAC" in result.message


def test_a_log_without_an_anchor_says_so_and_gets_one(store: Store, log: AuditLog):
    _fill(log, 4)
    log.anchor.path.unlink()  # as a database from before anchors, or an anchor removed
    result = log.verify()
    assert result.ok and "had no anchor" in result.message and "row 4" in result.message
    assert log.anchor_head() is not None and log.anchor_head().count == 4
    _truncate(store.path, 2)
    assert not log.verify().ok


def test_verify_against_a_head_kept_elsewhere(store: Store, log: AuditLog):
    _fill(log, 3)
    head = log.anchor_head()
    assert head is not None and str(head) == f"3:{log.get(3).hash}"
    _fill(log, 2)
    assert log.verify(head).ok  # the log grew: the old head is still in it
    _rehash_last(store.path, 3)  # row 3 rewritten; the chain from 4 on now breaks too...
    assert not log.verify(head).ok
    other = AuditLog(Store(store.path.with_name("other.db")))
    _fill(other, 3)
    result = other.verify(head)  # a different log does not hold this head
    assert not result.ok and "not the row" in result.message
    assert AuditHead.parse(f" {head} ") == head
    with pytest.raises(ConfigError, match="not an audit head"):
        AuditHead.parse("3:xyz")


def test_two_processes_keep_the_anchor_in_step(store: Store, log: AuditLog):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_append_many, args=(str(store.path), name, 100, barrier)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    head = log.anchor_head()
    assert head is not None and (head.count, head.hash) == (200, log.get(200).hash)
    assert log.verify().ok
