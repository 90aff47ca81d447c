"""The database schema: every table, index and trigger, as ordered migrations.

Each migration is a function (``m001_initial``, ...) applied once, in order, inside its
own write transaction; the names applied are kept in the ``migrations`` table, so an old
database is moved forward on open and one written by a newer version is refused rather
than misread. All DDL lives here, so the store imports no feature module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from agentic_flow.core.errors import StoreError
from agentic_flow.core.store.timestamps import now_iso

__all__ = ["MIGRATIONS", "Migration", "migrate"]


def m001_initial(conn: sqlite3.Connection) -> None:
    """Sessions, messages, turns, latency samples and the hash-chained audit log."""
    for statement in (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            agent TEXT,
            model TEXT,
            workspace TEXT,
            title TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active'
        )""",
        "CREATE INDEX sessions_updated ON sessions(updated_at)",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            json TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (session_id, seq)
        )""",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            estimated INTEGER NOT NULL DEFAULT 0,
            cost REAL,
            ttft_ms REAL,
            tokens_per_s REAL,
            total_ms REAL,
            stop_reason TEXT,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX turns_session ON turns(session_id)",
        "CREATE INDEX turns_model_created ON turns(model, created_at)",
        """CREATE TABLE runs_latency (
            id INTEGER PRIMARY KEY,
            model_id TEXT NOT NULL,
            ttft_ms REAL,
            tokens_per_s REAL,
            output_tokens INTEGER,
            source TEXT NOT NULL CHECK (source IN ('session', 'compare', 'run')),
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX runs_latency_model ON runs_latency(model_id, id)",
        # AUTOINCREMENT keeps the highest id ever used in sqlite_sequence, so verify()
        # notices when the newest rows were deleted.
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            session_id TEXT,
            agent TEXT,
            model TEXT,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            decision TEXT NOT NULL,
            scope TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            reason TEXT,
            result_summary TEXT,
            duration_ms INTEGER,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        "CREATE INDEX audit_session ON audit(session_id)",
        "CREATE INDEX audit_ts ON audit(ts)",
        "CREATE INDEX audit_tool ON audit(tool)",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
    ):
        conn.execute(statement)


def m002_compare(conn: sqlite3.Connection) -> None:
    """Tables for ``agentic-flow compare`` results (read and written by ``compare.results``)."""
    for statement in COMPARE_SCHEMA:
        conn.execute(statement)


def m003_evals(conn: sqlite3.Connection) -> None:
    """Eval runs and their cells (read and written by ``evals.cache``).

    A cell is unique by (task, fixture hash, model, params hash, run index): a run that
    meets a stored key reuses it, so re-running a suite resumes where it stopped.
    """
    for statement in (
        """CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY,
            suite_name TEXT NOT NULL,
            suite_path TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status TEXT NOT NULL,
            header TEXT NOT NULL
        )""",
        "CREATE INDEX eval_runs_updated ON eval_runs(updated_at)",
        """CREATE TABLE eval_cells (
            key TEXT PRIMARY KEY,
            eval_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            task_type TEXT NOT NULL,
            model_id TEXT NOT NULL,
            run_index INTEGER NOT NULL,
            fixture_hash TEXT NOT NULL,
            params_hash TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
            cost REAL,
            ttft_ms REAL,
            wall_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            created_at TEXT NOT NULL,
            result TEXT NOT NULL,
            UNIQUE (task_id, fixture_hash, model_id, params_hash, run_index)
        )""",
        "CREATE INDEX eval_cells_model ON eval_cells(model_id, task_type)",
    ):
        conn.execute(statement)


def m004_published_latency(conn: sqlite3.Connection) -> None:
    """OpenRouter's published per-endpoint latency (``models refresh``; ``models.published_latency``)."""
    conn.execute(
        """CREATE TABLE published_latency (
            model_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            tag TEXT NOT NULL DEFAULT '',
            quantization TEXT,
            ttft_ms_p50 REAL, ttft_ms_p75 REAL, ttft_ms_p90 REAL, ttft_ms_p99 REAL,
            tps_p50 REAL, tps_p75 REAL, tps_p90 REAL, tps_p99 REAL,
            uptime_30m REAL,
            fetched_at TEXT NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY (model_id, provider, tag)
        )"""
    )


def m005_subagent_sessions(conn: sqlite3.Connection) -> None:
    """A subagent's transcript is a session of its own, linked to the delegating one."""
    conn.execute("ALTER TABLE sessions ADD COLUMN parent_id TEXT REFERENCES sessions(id) ON DELETE CASCADE")
    conn.execute("CREATE INDEX sessions_parent ON sessions(parent_id)")


def m006_session_history(conn: sqlite3.Connection) -> None:
    """Where a session's live history starts, its compactions, and per-turn checkpoints.

    ``history_start`` is the ``seq`` of the first message of the conversation the model
    sees: a compaction appends the summary and the kept messages after everything said
    so far and moves it there, so the full transcript stays in ``messages`` while a
    resumed session continues from the compacted one. ``checkpoint_files`` keeps the
    pre-image of every file the file tools changed in a turn (read and written by
    ``core.context.checkpoints``).
    """
    for statement in (
        "ALTER TABLE sessions ADD COLUMN history_start INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE compactions (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            history_start INTEGER NOT NULL,
            summarised INTEGER NOT NULL,
            kept INTEGER NOT NULL,
            tokens_before INTEGER,
            tokens_after INTEGER,
            model TEXT,
            trigger TEXT NOT NULL,
            summary TEXT NOT NULL
        )""",
        "CREATE INDEX compactions_session ON compactions(session_id)",
        """CREATE TABLE checkpoints (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            turn INTEGER NOT NULL,
            message_seq INTEGER,
            prompt TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (session_id, turn)
        )""",
        """CREATE TABLE checkpoint_files (
            id INTEGER PRIMARY KEY,
            checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            existed INTEGER NOT NULL,
            content BLOB,
            mode INTEGER,
            tool TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (checkpoint_id, path)
        )""",
    ):
        conn.execute(statement)


Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = [m001_initial, m002_compare, m003_evals, m004_published_latency, m005_subagent_sessions,
    m006_session_history,
]



def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations this database lacks, each in its own write transaction.

    Safe when two processes open a blank database at once: the applied set is re-read
    inside the transaction. Returns the names applied now.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    known = {fn.__name__ for fn in migrations}
    applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    newer = sorted(applied - known)
    if newer:
        raise StoreError(
            "This database was written by a newer agentic-flow (it has migrations "
            f"{', '.join(newer)}): upgrade agentic-flow, or set AGENTIC_FLOW_HOME to "
            "another folder."
        )
    applied_now: list[str] = []
    for fn in migrations:
        if fn.__name__ in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it since the read above.
            done = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (fn.__name__,)).fetchone()
            if done is None:
                fn(conn)
                conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (fn.__name__, now_iso())
                )
                applied_now.append(fn.__name__)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied_now


COMPARE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS compare_runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        task TEXT NOT NULL,
        agent TEXT,
        models TEXT NOT NULL,
        runs INTEGER NOT NULL,
        wall_ms REAL,
        check_cmd TEXT,
        result TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS compare_runs_created ON compare_runs(created_at)",
    """CREATE TABLE IF NOT EXISTS compare_results (
        id INTEGER PRIMARY KEY,
        compare_id TEXT NOT NULL REFERENCES compare_runs(id) ON DELETE CASCADE,
        model_id TEXT NOT NULL,
        run_index INTEGER NOT NULL,
        status TEXT NOT NULL,
        error_kind TEXT,
        ttft_ms REAL,
        tokens_per_s REAL,
        total_ms REAL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        estimated INTEGER NOT NULL DEFAULT 0,
        cost REAL,
        stop_reason TEXT,
        checks_ok INTEGER,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS compare_results_model ON compare_results(model_id)",
)

