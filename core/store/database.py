"""The SQLite store: sessions, their messages, per-turn usage, measured latency, audit.

One file (``data_dir()/agentic-flow.db``) shared by every agentic-flow process the user
runs: a TUI session, a headless run and a compare can all write at once. That is why the
database runs in WAL mode with a busy timeout and every write is a ``BEGIN IMMEDIATE``
transaction (a deferred transaction that later upgrades to a write can fail with
"database is locked" without ever waiting).

Schema changes are an ordered list of migration functions (``m001_initial``, ...); the
names of those applied are kept in the ``migrations`` table, so an old database is moved
forward on open and a database written by a newer version is refused rather than
misread. sqlite3 errors are mapped to :class:`core.errors.StoreError` in one place
(:func:`map_sqlite_error`) with a message that says what to do.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agentic_flow.core.errors import StoreError
from agentic_flow.core.messages import Message, messages_from_json
from agentic_flow.core.paths import data_dir
from agentic_flow.core.store.migrations import migrate
from agentic_flow.core.store.timestamps import now_iso, parse_ts, to_iso

__all__ = [
    "DB_FILENAME",
    "LatencySource",
    "LatencyStats",
    "AgentUsage",
    "ModelUsage",
    "SessionAmbiguous",
    "SessionNode",
    "SessionNotFound",
    "TurnRow",
    "SessionRow",
    "Store",
    "map_sqlite_error",
    "new_session_id",
    "percentile",
]

DB_FILENAME = "agentic-flow.db"
TITLE_MAX = 80
# Latency stats use the most recent samples only: an endpoint that got faster last week
# should not be dragged down by a year of history.
LATENCY_WINDOW = 200
LatencySource = Literal["session", "compare", "run"]
_LATENCY_SOURCES = ("session", "compare", "run")
_SESSION_FIELDS = frozenset({"agent", "model", "workspace", "title", "status"})

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in
# the low byte.
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


class SessionNotFound(StoreError):
    """No session has this id (or id prefix)."""


class SessionAmbiguous(StoreError):
    """An id prefix matches more than one session; ``candidates`` lists them."""

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


# --------------------------------------------------------------------------- errors


def map_sqlite_error(exc: sqlite3.Error, path: Path, *, timeout: float | None = None) -> StoreError:
    """Translate a sqlite3 error into a StoreError whose message is the fix."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    folder = path.parent
    retryable = False
    if "append-only" in text:
        message = "The audit log is append-only: its rows cannot be changed or deleted."
    elif primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in text or "busy" in text:
        waited = f" for {timeout:g}s" if timeout is not None else ""
        message = (
            f"The database {path} is locked: another agentic-flow process kept it busy{waited}. "
            "Wait for it to finish (or close it) and retry."
        )
        retryable = True
    elif primary == _SQLITE_READONLY or "readonly" in text or "read-only" in text:
        message = (
            f"Cannot write the database {path}: the file or its folder {folder} is read-only. "
            "Make them writable, or set AGENTIC_FLOW_HOME to a writable folder."
        )
    elif primary in (_SQLITE_CANTOPEN, _SQLITE_PERM) or "unable to open" in text:
        message = (
            f"Cannot open the database {path}: make sure {folder} exists and is writable, "
            "or set AGENTIC_FLOW_HOME to a writable folder."
        )
    elif primary == _SQLITE_FULL or "disk is full" in text:
        message = (
            f"The disk holding {path} is full (or the database hit its size limit): "
            "free some space and retry."
        )
    elif primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        message = (
            f"The database {path} is damaged or is not an agentic-flow database: move it aside "
            "(a new one is created on the next start) or restore it from a backup."
        )
    elif primary == _SQLITE_IOERR or "disk i/o" in text:
        message = f"Disk I/O error on the database {path}: check the disk and free space, then retry."
    else:
        message = f"Database error on {path}: {str(exc).rstrip('.')}."
    err = StoreError(message)
    err.retryable = retryable
    return err


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A session with its totals.

    ``cost`` sums the turns whose price was known; ``unpriced_turns`` counts the others,
    so a front end can show ``?`` (or "at least") instead of a false ``$0``. Totals are the
    session's own turns; a subagent's session (``parent_id`` set) has its own row.
    """

    id: str
    created_at: datetime
    updated_at: datetime
    agent: str | None
    model: str | None
    workspace: str | None
    title: str
    status: str
    message_count: int
    input_tokens: int
    output_tokens: int
    cost: float
    unpriced_turns: int
    parent_id: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Turns of one model (in one session, or over a period for one agent)."""

    model: str
    turns: int
    input_tokens: int
    output_tokens: int
    cost: float
    unpriced_turns: int

    @property
    def known_cost(self) -> float | None:
        """The cost, or None when some turn's price was unknown."""
        return None if self.unpriced_turns else self.cost


@dataclass(frozen=True, slots=True)
class SessionNode:
    """A session in a tree of delegations: its row, depth (0 = the root) and models."""

    session: SessionRow
    depth: int
    models: tuple[ModelUsage, ...]


@dataclass(frozen=True, slots=True)
class TurnRow:
    """One recorded provider turn (``Runtime`` seeds a resumed session's totals with them)."""

    model: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    cost: float | None
    ttft_ms: float | None
    total_ms: float | None
    stop_reason: str | None


@dataclass(frozen=True, slots=True)
class AgentUsage:
    """Usage of one agent on one model; ``subagent`` when it ran delegated."""

    agent: str
    subagent: bool
    usage: ModelUsage


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Measured latency of one model over its most recent samples.

    ``count`` is the number of samples; a percentile is ``None`` when no sample had that
    measurement (e.g. a run that produced no tokens has no TTFT).
    """

    count: int
    ttft_p50: float | None
    ttft_p95: float | None
    tps_p50: float | None
    tps_p95: float | None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _stats(samples: Sequence[tuple[float | None, float | None]]) -> LatencyStats:
    ttfts = [t for t, _ in samples if t is not None]
    tps = [s for _, s in samples if s is not None]
    return LatencyStats(
        count=len(samples),
        ttft_p50=percentile(ttfts, 50),
        ttft_p95=percentile(ttfts, 95),
        tps_p50=percentile(tps, 50),
        tps_p95=percentile(tps, 95),
    )


def new_session_id() -> str:
    """A fresh session id (12 hex characters)."""
    return uuid.uuid4().hex[:12]


def _title_from(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_MAX else flat[: TITLE_MAX - 1].rstrip() + "…"


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_SESSION_SELECT = """
SELECT s.id, s.created_at, s.updated_at, s.agent, s.model, s.workspace, s.title, s.status,
       (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.id) AS message_count,
       COALESCE(t.input_tokens, 0), COALESCE(t.output_tokens, 0),
       COALESCE(t.cost, 0.0), COALESCE(t.unpriced, 0), s.parent_id
FROM sessions s
LEFT JOIN (
    SELECT session_id, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
           SUM(cost) AS cost, SUM(cost IS NULL) AS unpriced
    FROM turns WHERE session_id IS NOT NULL GROUP BY session_id
) t ON t.session_id = s.id
"""


def _session_row(row: sqlite3.Row | tuple[Any, ...]) -> SessionRow:
    return SessionRow(
        id=row[0],
        created_at=parse_ts(row[1]),
        updated_at=parse_ts(row[2]),
        agent=row[3],
        model=row[4],
        workspace=row[5],
        title=row[6],
        status=row[7],
        message_count=row[8],
        input_tokens=row[9],
        output_tokens=row[10],
        cost=float(row[11]),
        unpriced_turns=row[12],
        parent_id=row[13],
    )


def _usage(row: Sequence[Any], first: int) -> ModelUsage:
    model, turns, tin, tout, cost, unpriced = row[first : first + 6]
    return ModelUsage(model, int(turns), int(tin or 0), int(tout or 0), float(cost or 0.0), int(unpriced or 0))


_USAGE_COLUMNS = (
    "t.model, COUNT(*), SUM(t.input_tokens), SUM(t.output_tokens), COALESCE(SUM(t.cost), 0.0), SUM(t.cost IS NULL)"
)


# --------------------------------------------------------------------------- store


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, retrying while another process holds the lock.

    Changing the journal mode does not go through the busy handler: when two processes
    open a blank database at once, one gets "database is locked" straight away.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code not in (_SQLITE_BUSY, _SQLITE_LOCKED) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class Store:
    """One connection to the shared database, safe to use from several threads.

    Calls block (a write may wait up to ``timeout`` for another process), so async code
    should run them via ``asyncio.to_thread``.

    Args:
        path: database file; default ``data_dir()/agentic-flow.db``. Its folder is created.
        timeout: seconds a write waits for another process before giving up.
    """

    def __init__(self, path: Path | None = None, *, timeout: float = 10.0) -> None:
        self.path = Path(path) if path is not None else data_dir() / DB_FILENAME
        self.timeout = timeout
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the data folder {self.path.parent}: {exc.strerror or exc}. "
                "Make its parent writable, or set AGENTIC_FLOW_HOME to a writable folder."
            ) from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            _enable_wal(conn, timeout)
            migrate(conn)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise map_sqlite_error(exc, self.path, timeout=timeout) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self._conn = conn

    # -- plumbing ---------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise map_sqlite_error(exc, self.path, timeout=self.timeout) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, with sqlite errors mapped to StoreError."""
        with self._lock, self._mapped():
            yield self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` write transaction: committed on success, else rolled back.

        IMMEDIATE takes the write lock up front (waiting up to ``timeout``), so whatever
        is read inside the transaction is still true when it commits.
        """
        with self._lock, self._mapped():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT (busy, disk full): never leave it open.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def applied_migrations(self) -> list[str]:
        with self.read() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY rowid")]

    # -- sessions ---------------------------------------------------------------

    def create_session(
        self,
        agent: str | None,
        model: str | None,
        workspace: str | Path | None,
        *,
        parent_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Create a session and return its id (12 hex characters, or ``session_id``: an id
        chosen beforehand, e.g. by a test that shows it).

        ``parent_id``: the session that delegated to this one (a subagent's transcript).
        """
        session_id = session_id or new_session_id()
        now = now_iso()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (id, created_at, updated_at, agent, model, workspace, parent_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, now, now, agent, model, str(workspace) if workspace is not None else None, parent_id),
            )
        return session_id

    def resolve_session_id(self, id_or_prefix: str) -> str:
        """The full id of the one session whose id is or starts with ``id_or_prefix``."""
        if not id_or_prefix:
            raise SessionNotFound("No session id given: `agentic-flow sessions` lists them.")
        with self.read() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (id_or_prefix,)).fetchone():
                return id_or_prefix
            matches = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' ORDER BY updated_at DESC LIMIT 11",
                    (_like_prefix(id_or_prefix),),
                )
            ]
        if not matches:
            raise SessionNotFound(
                f"No session '{id_or_prefix}': `agentic-flow sessions` lists the saved ones."
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:10]) + (", …" if len(matches) > 10 else "")
            raise SessionAmbiguous(
                f"Session id '{id_or_prefix}' matches several sessions ({shown}): "
                "give more characters.",
                candidates=matches[:10],
            )
        return matches[0]

    def get_session(self, id_or_prefix: str) -> SessionRow:
        """A session by id or unique id prefix, with its totals."""
        session_id = self.resolve_session_id(id_or_prefix)
        with self.read() as conn:
            row = conn.execute(_SESSION_SELECT + " WHERE s.id = ?", (session_id,)).fetchone()
        if row is None:  # deleted between the two reads
            raise SessionNotFound(f"Session '{session_id}' no longer exists.")
        return _session_row(row)

    def list_sessions(
        self, limit: int = 50, *, include_subagents: bool = False, workspace: str | Path | None = None
    ) -> list[SessionRow]:
        """Most recently updated first; subagents' sessions only when asked for, only
        those of ``workspace`` when given."""
        conditions: list[str] = [] if include_subagents else ["s.parent_id IS NULL"]
        params: list[Any] = []
        if workspace is not None:
            conditions.append("s.workspace = ?")
            params.append(str(workspace))
        where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
        with self.read() as conn:
            rows = conn.execute(
                _SESSION_SELECT + where + " ORDER BY s.updated_at DESC, s.rowid DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_session_row(r) for r in rows]

    def session_tree(self, id_or_prefix: str) -> list[SessionNode]:
        """The session and every subagent session below it, depth first, oldest child first."""
        root = self.resolve_session_id(id_or_prefix)
        with self.read() as conn:
            ids = conn.execute(
                """WITH RECURSIVE tree(id, depth, path) AS (
                       SELECT id, 0, created_at || id FROM sessions WHERE id = ?
                       UNION ALL
                       SELECT s.id, tree.depth + 1, tree.path || '/' || s.created_at || s.id
                       FROM sessions s JOIN tree ON s.parent_id = tree.id
                   ) SELECT id, depth FROM tree ORDER BY path""",
                (root,),
            ).fetchall()
            marks = ",".join("?" * len(ids))
            rows = {r[0]: _session_row(r) for r in conn.execute(_SESSION_SELECT + f" WHERE s.id IN ({marks})", [i for i, _ in ids])}
            usage: dict[str, list[ModelUsage]] = {}
            for r in conn.execute(
                f"SELECT t.session_id, {_USAGE_COLUMNS} FROM turns t WHERE t.session_id IN ({marks}) "
                "GROUP BY t.session_id, t.model ORDER BY MIN(t.id)",
                [i for i, _ in ids],
            ):
                usage.setdefault(r[0], []).append(_usage(r, 1))
        return [SessionNode(rows[i], depth, tuple(usage.get(i, ()))) for i, depth in ids if i in rows]

    def session_turns(self, session_id: str) -> list[TurnRow]:
        """Every turn of the session and of the subagent sessions below it, oldest first."""
        with self.read() as conn:
            rows = conn.execute(
                """WITH RECURSIVE tree(id) AS (
                       SELECT id FROM sessions WHERE id = ?
                       UNION ALL
                       SELECT s.id FROM sessions s JOIN tree ON s.parent_id = tree.id
                   )
                   SELECT t.model, t.input_tokens, t.output_tokens, t.estimated, t.cost, t.ttft_ms, t.total_ms,
                          t.stop_reason
                   FROM turns t JOIN tree ON t.session_id = tree.id ORDER BY t.id""",
                (session_id,),
            ).fetchall()
        return [TurnRow(r[0], int(r[1]), int(r[2]), bool(r[3]), r[4], r[5], r[6], r[7]) for r in rows]

    def subagent_counts(self, session_ids: Sequence[str]) -> dict[str, tuple[int, ModelUsage]]:
        """Per session: how many subagent sessions hang below it, and the whole tree's usage."""
        if not session_ids:
            return {}
        marks = ",".join("?" * len(session_ids))
        with self.read() as conn:
            rows = conn.execute(
                f"""WITH RECURSIVE tree(root, id) AS (
                        SELECT id, id FROM sessions WHERE id IN ({marks})
                        UNION ALL
                        SELECT tree.root, s.id FROM sessions s JOIN tree ON s.parent_id = tree.id
                    )
                    SELECT tree.root, COUNT(DISTINCT tree.id) - 1, '', COUNT(t.id), SUM(t.input_tokens),
                           SUM(t.output_tokens), COALESCE(SUM(t.cost), 0.0), SUM(t.id IS NOT NULL AND t.cost IS NULL)
                    FROM tree LEFT JOIN turns t ON t.session_id = tree.id GROUP BY tree.root""",
                list(session_ids),
            ).fetchall()
        return {r[0]: (int(r[1]), _usage(r, 2)) for r in rows}

    def delete_session(self, id_or_prefix: str) -> str:
        """Delete a session with its messages, turns, compactions, checkpoints and its
        subagents' sessions; returns its id. Audit rows stay: the audit log is append-only."""
        session_id = self.resolve_session_id(id_or_prefix)
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return session_id

    def history_start(self, session_id: str) -> int:
        """``seq`` of the first message of the live conversation (after compactions)."""
        with self.read() as conn:
            row = conn.execute("SELECT history_start FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(f"No session '{session_id}'.")
        return int(row[0])

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Change some of agent, model, workspace, title, status; bumps ``updated_at``."""
        unknown = set(fields) - _SESSION_FIELDS
        if unknown:
            raise TypeError(
                f"update_session() got unknown field(s) {sorted(unknown)}; "
                f"allowed: {sorted(_SESSION_FIELDS)}"
            )
        values = {k: (str(v) if k == "workspace" and v is not None else v) for k, v in fields.items()}
        values["updated_at"] = now_iso()
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.transaction() as conn:
            cur = conn.execute(
                f"UPDATE sessions SET {assignments} WHERE id = ?", (*values.values(), session_id)
            )
            if cur.rowcount == 0:
                raise SessionNotFound(f"No session '{session_id}' to update.")

    # -- messages ---------------------------------------------------------------

    def append_message(self, session_id: str, message: Message) -> int:
        """Append one neutral message; returns its sequence number (0-based).

        The first user message also becomes the session's title if it has none.
        """
        body = message.model_dump_json()
        now = now_iso()
        with self.transaction() as conn:
            row = conn.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise SessionNotFound(f"No session '{session_id}' to add a message to.")
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM messages WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO messages (session_id, seq, role, json, created_at) VALUES (?, ?, ?, ?, ?)",
                (session_id, seq, message.role, body, now),
            )
            if not row[0] and message.role == "user" and message.content.strip():
                conn.execute(
                    "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
                    (_title_from(message.content), now, session_id),
                )
            else:
                conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))
        return int(seq)

    def load_messages(self, session_id: str, *, start: int = 0) -> list[Message]:
        """The session's messages in order (those from ``seq`` ``start`` on), as the
        neutral pydantic models."""
        with self.read() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
                raise SessionNotFound(f"No session '{session_id}'.")
            bodies = [r[0] for r in conn.execute(
                "SELECT json FROM messages WHERE session_id = ? AND seq >= ? ORDER BY seq", (session_id, start)
            )]
        try:
            return messages_from_json("[" + ",".join(bodies) + "]")
        except ValidationError as exc:
            raise StoreError(
                f"The stored messages of session '{session_id}' cannot be read ({exc.error_count()} "
                "error(s)); the database may have been edited by hand or by a newer version."
            ) from exc

    def truncate_messages(self, session_id: str, from_seq: int) -> int:
        """Delete the session's messages from ``seq`` ``from_seq`` on (a rewound
        conversation); returns how many were deleted."""
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM messages WHERE session_id = ? AND seq >= ?", (session_id, from_seq))
            conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now_iso(), session_id))
        return int(cur.rowcount)

    def record_compaction(
        self,
        session_id: str,
        *,
        history_start: int,
        trigger: str,
        summarised: int,
        kept: int,
        tokens_before: int | None,
        tokens_after: int | None,
        model: str | None,
        summary: str,
    ) -> None:
        """Record a compaction; the live history now starts at ``seq`` ``history_start``."""
        now = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE sessions SET history_start = ?, updated_at = ? WHERE id = ?", (history_start, now, session_id)
            )
            if cur.rowcount == 0:
                raise SessionNotFound(f"No session '{session_id}' to compact.")
            conn.execute(
                "INSERT INTO compactions (session_id, created_at, history_start, summarised, kept, tokens_before, "
                "tokens_after, model, trigger, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, now, history_start, summarised, kept, tokens_before, tokens_after, model, trigger, summary),
            )

    def compaction_count(self, session_id: str) -> int:
        with self.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM compactions WHERE session_id = ?", (session_id,)).fetchone()[0])

    # -- usage ------------------------------------------------------------------

    def record_turn(
        self,
        session_id: str | None,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
        estimated: bool = False,
        cost: float | None = None,
        ttft_ms: float | None = None,
        tokens_per_s: float | None = None,
        total_ms: float | None = None,
        stop_reason: str | None = None,
    ) -> int:
        """Record the usage of one provider turn; ``cost=None`` means price unknown.

        ``session_id`` is ``None`` for turns outside a session (a compare, a one-off
        run); they still count in :meth:`usage_totals`. Latency samples are recorded
        separately with :meth:`record_latency`.
        """
        with self.transaction() as conn:
            if session_id is not None:
                cur = conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now_iso(), session_id))
                if cur.rowcount == 0:
                    raise SessionNotFound(f"No session '{session_id}' to record a turn for.")
            cur = conn.execute(
                "INSERT INTO turns (session_id, model, input_tokens, output_tokens, estimated, cost, "
                "ttft_ms, tokens_per_s, total_ms, stop_reason, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id, model, int(input_tokens), int(output_tokens), int(bool(estimated)),
                    cost, ttft_ms, tokens_per_s, total_ms, stop_reason, now_iso(),
                ),
            )
        return int(cur.lastrowid or 0)

    def usage_totals(self, since: datetime | str | None = None) -> dict[str, tuple[int, int]]:
        """``{model: (input_tokens, output_tokens)}`` over all turns (since a time)."""
        sql = "SELECT model, SUM(input_tokens), SUM(output_tokens) FROM turns"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE created_at >= ?"
            params = (to_iso(since),)
        with self.read() as conn:
            rows = conn.execute(sql + " GROUP BY model ORDER BY model", params).fetchall()
        return {model: (int(i), int(o)) for model, i, o in rows}

    def usage_by_agent(self, since: datetime | str | None = None) -> list[AgentUsage]:
        """Usage per agent and model (since a time), subagent runs apart; most tokens first.

        Turns outside a session (compare) count under the agent name ``""``.
        """
        sql = (
            f"SELECT COALESCE(s.agent, ''), s.parent_id IS NOT NULL, {_USAGE_COLUMNS} "
            "FROM turns t LEFT JOIN sessions s ON s.id = t.session_id"
        )
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE t.created_at >= ?"
            params = (to_iso(since),)
        sql += " GROUP BY 1, 2, t.model ORDER BY SUM(t.input_tokens + t.output_tokens) DESC, 1, t.model"
        with self.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [AgentUsage(r[0], bool(r[1]), _usage(r, 2)) for r in rows]

    # -- latency ----------------------------------------------------------------

    def record_latency(
        self,
        model_id: str,
        *,
        ttft_ms: float | None,
        tokens_per_s: float | None,
        output_tokens: int | None = None,
        source: LatencySource = "session",
    ) -> None:
        """Keep one measured latency sample for the model table's p50/p95."""
        if source not in _LATENCY_SOURCES:
            raise ValueError(f"source must be one of {_LATENCY_SOURCES}, not {source!r}")
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs_latency (model_id, ttft_ms, tokens_per_s, output_tokens, source, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (model_id, ttft_ms, tokens_per_s, output_tokens, source, now_iso()),
            )

    def latency_stats(self, model_id: str, *, window: int = LATENCY_WINDOW) -> LatencyStats | None:
        """p50/p95 of TTFT and tokens/s over the model's last ``window`` samples."""
        with self.read() as conn:
            samples = conn.execute(
                "SELECT ttft_ms, tokens_per_s FROM runs_latency WHERE model_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (model_id, window),
            ).fetchall()
        return _stats(samples) if samples else None

    def all_latency_stats(self, *, window: int = LATENCY_WINDOW) -> dict[str, LatencyStats]:
        """:meth:`latency_stats` for every model with samples, in one query."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT model_id, ttft_ms, tokens_per_s FROM ("
                "  SELECT model_id, ttft_ms, tokens_per_s,"
                "         ROW_NUMBER() OVER (PARTITION BY model_id ORDER BY id DESC) AS n"
                "  FROM runs_latency) WHERE n <= ? ORDER BY model_id",
                (window,),
            ).fetchall()
        grouped: dict[str, list[tuple[float | None, float | None]]] = {}
        for model_id, ttft, tps in rows:
            grouped.setdefault(model_id, []).append((ttft, tps))
        return {model_id: _stats(samples) for model_id, samples in grouped.items()}
