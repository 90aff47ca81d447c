"""Store: migrations, sessions, messages, usage and latency stats."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentic_flow.core.errors import StoreError
from agentic_flow.core.messages import AssistantMessage, ToolCall, ToolResultMessage, UserMessage
from agentic_flow.core.paths import data_dir
from agentic_flow.core.store.database import SessionAmbiguous, SessionNotFound, Store, percentile
from agentic_flow.core.store.migrations import MIGRATIONS, m001_initial, migrate


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "db" / "test.db") as s:
        yield s


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


# --------------------------------------------------------------------------- opening


def test_default_path_is_under_data_dir_and_created():
    assert not data_dir().exists()
    with Store() as s:
        assert s.path == data_dir() / "agentic-flow.db"
        assert s.path.exists()


def test_blank_db_is_migrated_with_wal_fk_and_busy_timeout(store: Store):
    assert store.applied_migrations() == [fn.__name__ for fn in MIGRATIONS]
    assert {"sessions", "messages", "turns", "runs_latency", "audit", "migrations"} <= _tables(store.path)
    with store.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_reopen_is_idempotent_and_keeps_data(tmp_path: Path):
    path = tmp_path / "a.db"
    with Store(path) as s:
        sid = s.create_session("coder", "openrouter:x", "/w")
    with Store(path) as s:
        assert s.applied_migrations() == [fn.__name__ for fn in MIGRATIONS]
        assert s.get_session(sid).agent == "coder"
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def m002_add_pinned(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE sessions ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")


def test_old_database_migrates_forward(tmp_path: Path):
    """A database at "version 1" gets only the migrations it lacks, data intact."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, [m001_initial]) == ["m001_initial"]  # as the first release left it
        conn.execute(
            "INSERT INTO sessions (id, created_at, updated_at, agent, model, workspace, title, status) "
            "VALUES ('abc123', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 'a', 'm', NULL, '', 'open')"
        )
        assert migrate(conn, [m001_initial, m002_add_pinned]) == ["m002_add_pinned"]
        assert migrate(conn, [m001_initial, m002_add_pinned]) == []
        assert conn.execute("SELECT id, pinned FROM sessions").fetchall() == [("abc123", 0)]
    finally:
        conn.close()
    old = tmp_path / "v1.db"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, [m001_initial])
    conn.close()
    with Store(old) as s:  # the current version adds what it lacks (m002_compare)
        assert s.applied_migrations() == [fn.__name__ for fn in MIGRATIONS]
    conn = sqlite3.connect(old)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"compare_runs", "compare_results", "sessions"} <= tables


def test_failed_migration_rolls_back_and_is_not_recorded(tmp_path: Path):
    def m002_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        conn.execute("THIS IS NOT SQL")

    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, [m001_initial, m002_broken])
        names = [r[0] for r in conn.execute("SELECT name FROM migrations")]
        assert names == ["m001_initial"]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "half_done" not in tables
    finally:
        conn.close()


def test_database_from_newer_version_is_refused(tmp_path: Path):
    path = tmp_path / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO migrations VALUES ('m099_future', '2030-01-01')")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer agentic-flow.*m099_future"):
        Store(path)


def _open_store(path: str, barrier) -> None:
    barrier.wait()
    Store(Path(path)).close()


def test_processes_opening_a_blank_database_at_once_migrate_it_once(tmp_path: Path):
    path = tmp_path / "race.db"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_open_store, args=(str(path), barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM migrations").fetchall() == [(fn.__name__,) for fn in MIGRATIONS]
    conn.close()


def test_migrations_list_names_are_ordered_and_unique():
    names = [fn.__name__ for fn in MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(name[:1] == "m" and name[1:4].isdigit() for name in names)


# --------------------------------------------------------------------------- sessions


def test_create_and_get_session(store: Store):
    sid = store.create_session("coder", "anthropic:claude-sonnet-4-5", Path("/work/proj"))
    row = store.get_session(sid)
    assert (row.id, row.agent, row.model, row.workspace) == (
        sid, "coder", "anthropic:claude-sonnet-4-5", "/work/proj"
    )
    assert row.status == "active" and row.title == ""
    assert row.message_count == 0 and row.total_tokens == 0 and row.cost == 0.0
    assert row.created_at.tzinfo is not None and row.created_at == row.updated_at


def test_prefix_lookup_unique_ambiguous_and_missing(store: Store):
    ids = [store.create_session("a", "m", None) for _ in range(17)]
    # 17 ids over 16 hex digits: at least two share their first character.
    by_first: dict[str, list[str]] = {}
    for sid in ids:
        by_first.setdefault(sid[0], []).append(sid)
    shared = next(group for group in by_first.values() if len(group) > 1)
    with pytest.raises(SessionAmbiguous) as err:
        store.get_session(shared[0][0])
    assert set(shared) <= set(err.value.candidates)
    assert all(sid in str(err.value) for sid in shared)
    target = ids[0]
    assert store.get_session(target[:10]).id == target
    with pytest.raises(SessionNotFound, match="zzz"):
        store.get_session("zzz")
    with pytest.raises(SessionNotFound):
        store.get_session("%")  # a LIKE wildcard is not a prefix of every id
    with pytest.raises(SessionNotFound):
        store.get_session("")


def test_update_session(store: Store):
    sid = store.create_session("a", "m1", None)
    before = store.get_session(sid).updated_at
    time.sleep(0.001)
    store.update_session(sid, model="m2", status="done", workspace=Path("/x"))
    row = store.get_session(sid)
    assert (row.model, row.status, row.workspace) == ("m2", "done", "/x")
    assert row.updated_at > before
    with pytest.raises(TypeError, match="id"):
        store.update_session(sid, id="other")
    with pytest.raises(SessionNotFound):
        store.update_session("nope", status="done")


def test_list_sessions_order_limit_and_totals(store: Store):
    first = store.create_session("a", "m", None)
    second = store.create_session("b", "m", None)
    store.append_message(first, UserMessage(content="hi"))  # touches first: now newest
    store.record_turn(first, model="m", input_tokens=100, output_tokens=20, cost=0.5)
    store.record_turn(first, model="m", input_tokens=10, output_tokens=2, cost=None)
    rows = store.list_sessions()
    assert [r.id for r in rows] == [first, second]
    top = rows[0]
    assert (top.message_count, top.input_tokens, top.output_tokens, top.total_tokens) == (1, 110, 22, 132)
    assert top.cost == pytest.approx(0.5) and top.unpriced_turns == 1
    assert rows[1].message_count == 0 and rows[1].unpriced_turns == 0
    assert [r.id for r in store.list_sessions(limit=1)] == [first]


def test_title_is_first_user_message_truncated(store: Store):
    sid = store.create_session("a", "m", None)
    store.append_message(sid, AssistantMessage(content="I speak first"))
    long = "Fix   the failing\ntest " + "x" * 200
    store.append_message(sid, UserMessage(content=long))
    store.append_message(sid, UserMessage(content="second question"))
    title = store.get_session(sid).title
    assert title.startswith("Fix the failing test x") and title.endswith("…")
    assert len(title) == 80


# --------------------------------------------------------------------------- messages


def test_messages_round_trip_all_types(tmp_path: Path):
    path = tmp_path / "m.db"
    messages = [
        UserMessage(content="list the files"),
        AssistantMessage(
            content="Let me look.",
            tool_calls=[
                ToolCall(id="call_1", name="bash", arguments={"command": "ls -la", "timeout": 5}),
                ToolCall(id="call_2", name="mcp__fs__read", arguments={"path": "a/ü.txt", "n": [1, 2]}),
            ],
            thinking="need ls",
            thinking_signature="sig==",
            model="anthropic:claude-sonnet-4-5",
        ),
        ToolResultMessage(call_id="call_1", name="bash", content="total 0\n", is_error=False),
        ToolResultMessage(call_id="call_2", name="mcp__fs__read", content="no such file", is_error=True),
        AssistantMessage(content="Done."),
    ]
    with Store(path) as s:
        sid = s.create_session("a", "m", None)
        other = s.create_session("b", "m", None)
        seqs = [s.append_message(sid, m) for m in messages]
        s.append_message(other, UserMessage(content="unrelated"))
    assert seqs == [0, 1, 2, 3, 4]
    with Store(path) as s:  # resumable: read back by a new process/connection
        loaded = s.load_messages(sid)
        assert loaded == messages
        assert [type(m) for m in loaded] == [type(m) for m in messages]
        assert s.load_messages(other) == [UserMessage(content="unrelated")]
        assert s.load_messages(s.create_session("c", "m", None)) == []


def test_message_to_unknown_session_is_an_error(store: Store):
    with pytest.raises(SessionNotFound):
        store.append_message("missing", UserMessage(content="x"))
    with pytest.raises(SessionNotFound):
        store.load_messages("missing")


def test_unreadable_stored_message_is_a_store_error(store: Store):
    sid = store.create_session("a", "m", None)
    store.append_message(sid, UserMessage(content="x"))
    with store.transaction() as conn:
        conn.execute("UPDATE messages SET json = '{\"role\": \"robot\"}'")
    with pytest.raises(StoreError, match=sid):
        store.load_messages(sid)


# --------------------------------------------------------------------------- usage


def test_usage_totals_by_model_and_since(store: Store):
    sid = store.create_session("a", "m", None)
    store.record_turn(sid, model="openrouter:a", input_tokens=100, output_tokens=10)
    store.record_turn(None, model="anthropic:b", input_tokens=7, output_tokens=3, estimated=True)
    time.sleep(0.002)
    cut = datetime.now(timezone.utc)
    store.record_turn(sid, model="openrouter:a", input_tokens=5, output_tokens=1, cost=0.1)
    assert store.usage_totals() == {"openrouter:a": (105, 11), "anthropic:b": (7, 3)}
    assert store.usage_totals(since=cut) == {"openrouter:a": (5, 1)}
    assert store.usage_totals(since=cut.isoformat()) == {"openrouter:a": (5, 1)}
    with pytest.raises(StoreError, match="ISO"):
        store.usage_totals(since="last tuesday")


def test_record_turn_keeps_every_field(store: Store):
    sid = store.create_session("a", "m", None)
    turn_id = store.record_turn(
        sid, model="m", input_tokens=1, output_tokens=2, estimated=True, cost=0.25,
        ttft_ms=120.5, tokens_per_s=33.3, total_ms=900.0, stop_reason="tool_use",
    )
    with store.read() as conn:
        row = conn.execute(
            "SELECT session_id, model, input_tokens, output_tokens, estimated, cost, ttft_ms, "
            "tokens_per_s, total_ms, stop_reason FROM turns WHERE id = ?", (turn_id,)
        ).fetchone()
    assert row == (sid, "m", 1, 2, 1, 0.25, 120.5, 33.3, 900.0, "tool_use")


def test_turn_for_unknown_session_is_refused(store: Store):
    with pytest.raises(SessionNotFound, match="ghost"):
        store.record_turn("ghost", model="m", input_tokens=1, output_tokens=1)


# --------------------------------------------------------------------------- latency


def test_latency_percentiles_by_hand(store: Store):
    for ttft, tps in [(400, 50.0), (100, 10.0), (1000, None), (300, 30.0), (200, 20.0)]:
        store.record_latency("openrouter:x", ttft_ms=ttft, tokens_per_s=tps, output_tokens=50)
    store.record_latency("openrouter:x", ttft_ms=None, tokens_per_s=40.0, source="compare")
    stats = store.latency_stats("openrouter:x")
    assert stats is not None and stats.count == 6
    # ttft sorted 100 200 300 400 1000: p50 = 300; p95 rank 3.8 -> 400 + 0.8 * 600
    assert stats.ttft_p50 == 300
    assert stats.ttft_p95 == pytest.approx(880)
    # tps sorted 10 20 30 40 50: p50 = 30; p95 rank 3.8 -> 40 + 0.8 * 10
    assert stats.tps_p50 == 30
    assert stats.tps_p95 == pytest.approx(48)
    assert store.latency_stats("unknown:model") is None


def test_latency_window_uses_newest_samples(store: Store):
    for ttft in (1000, 1000, 10, 20, 30):
        store.record_latency("m", ttft_ms=ttft, tokens_per_s=None, source="run")
    stats = store.latency_stats("m", window=3)
    assert stats is not None
    assert (stats.count, stats.ttft_p50, stats.tps_p50) == (3, 20, None)
    assert store.all_latency_stats(window=3)["m"] == stats


def test_all_latency_stats_matches_per_model(store: Store):
    for i in range(5):
        store.record_latency("a", ttft_ms=100 + i, tokens_per_s=10 + i)
        store.record_latency("b", ttft_ms=500 - i, tokens_per_s=None, source="compare")
    everything = store.all_latency_stats()
    assert set(everything) == {"a", "b"}
    assert everything["a"] == store.latency_stats("a")
    assert everything["b"] == store.latency_stats("b")


def test_latency_source_is_checked(store: Store):
    with pytest.raises(ValueError, match="source"):
        store.record_latency("m", ttft_ms=1, tokens_per_s=1, source="guess")  # type: ignore[arg-type]


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_bounded_and_monotone(values: list[float], p: float, q: float):
    lo, hi = sorted((p, q))
    a, b = percentile(values, lo), percentile(values, hi)
    assert a is not None and b is not None
    assert min(values) <= a <= b + 1e-9 <= max(values) + 1e-9
    assert percentile(values, 0) == min(values) and percentile(values, 100) == max(values)


def test_public_surface_is_defined():
    from agentic_flow.core import redact
    from agentic_flow.core.permissions import audit
    from agentic_flow.core.store import database

    for module in (database, audit, redact):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert missing == [], module.__name__


def test_subagent_sessions_form_a_tree_with_per_model_usage(tmp_path: Path):
    old = tmp_path / "v2.db"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, MIGRATIONS[:2])  # a database from before subagents, with a session in it
    conn.execute(
        "INSERT INTO sessions (id, created_at, updated_at, agent, model) VALUES ('old000000000', "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 'coder', 'openai:x')"
    )
    conn.close()
    with Store(old) as s:
        assert s.get_session("old0").parent_id is None  # moved forward, nothing lost
        root = s.create_session("lead", "openai:big", tmp_path)
        first = s.create_session("reviewer", "openai:small", tmp_path, parent_id=root)
        grand = s.create_session("tester", "openai:small", tmp_path, parent_id=first)
        second = s.create_session("tester", "openai:mid", tmp_path, parent_id=root)
        s.record_turn(root, model="openai:big", input_tokens=100, output_tokens=10, cost=0.5)
        s.record_turn(root, model="openai:other", input_tokens=1, output_tokens=1, cost=None)
        s.record_turn(first, model="openai:small", input_tokens=50, output_tokens=5, cost=0.01)
        s.record_turn(first, model="openai:small", input_tokens=50, output_tokens=5, cost=0.01)
        s.record_turn(grand, model="openai:small", input_tokens=7, output_tokens=3, cost=0.001)
        s.record_turn(second, model="openai:mid", input_tokens=20, output_tokens=2, cost=0.1)
        tree = s.session_tree(root)
        assert [(n.session.id, n.depth) for n in tree] == [(root, 0), (first, 1), (grand, 2), (second, 1)]
        assert [(u.model, u.turns, u.input_tokens, u.unpriced_turns) for u in tree[0].models] == [
            ("openai:big", 1, 100, 0), ("openai:other", 1, 1, 1)
        ]
        assert tree[1].models[0].turns == 2 and tree[1].models[0].cost == pytest.approx(0.02)
        assert s.session_tree(first[:8])[0].depth == 0  # any node can be the root shown
        listed = [r.id for r in s.list_sessions()]
        assert root in listed and first not in listed and "old000000000" in listed
        assert first in [r.id for r in s.list_sessions(include_subagents=True)]
        count, usage = s.subagent_counts([root])[root]
        assert count == 3 and usage.input_tokens == 228 and usage.unpriced_turns == 1
        assert s.subagent_counts(["old000000000"])["old000000000"][0] == 0
        by_agent = {(a.agent, a.subagent, a.usage.model): a.usage.turns for a in s.usage_by_agent()}
        assert by_agent == {
            ("lead", False, "openai:big"): 1, ("lead", False, "openai:other"): 1,
            ("reviewer", True, "openai:small"): 2, ("tester", True, "openai:small"): 1, ("tester", True, "openai:mid"): 1,
        }
