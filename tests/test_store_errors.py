"""sqlite failures reach the caller as StoreError with a message that says what to do."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from agentic_flow.core.errors import StoreError
from agentic_flow.core.messages import UserMessage
from agentic_flow.core.store.database import Store, map_sqlite_error

NOBODY = 65534


def _try_store_as_unprivileged(path: str, queue) -> None:
    """Open the store and write, as a user who cannot bypass file permissions."""
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    try:
        with Store(Path(path)) as store:
            store.create_session("a", "m", None)
    except StoreError as exc:
        queue.put(("StoreError", str(exc), type(exc.__cause__).__name__))
    except BaseException as exc:  # reported to the parent, which fails the test
        queue.put((type(exc).__name__, str(exc), ""))
    else:
        queue.put(("ok", "", ""))


@pytest.fixture
def readonly_dir():
    """A folder nobody (but root) may write; world-traversable so `nobody` can reach it."""
    base = Path(tempfile.mkdtemp(prefix="af-ro-"))
    base.chmod(0o755)
    folder = base / "data"
    folder.mkdir()
    try:
        yield folder
    finally:
        folder.chmod(0o755)
        shutil.rmtree(base)


def _run_unprivileged(path: Path) -> tuple[str, str, str]:
    ctx = multiprocessing.get_context("fork")  # keeps the parent's imports; no pickling
    queue = ctx.Queue()
    proc = ctx.Process(target=_try_store_as_unprivileged, args=(str(path), queue))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(60)
    return result


def test_new_database_in_readonly_dir(readonly_dir: Path):
    readonly_dir.chmod(0o555)
    kind, message, cause = _run_unprivileged(readonly_dir / "agentic-flow.db")
    assert kind == "StoreError", message
    assert cause == "OperationalError"
    assert str(readonly_dir) in message
    assert "writable" in message and "AGENTIC_FLOW_HOME" in message


def test_existing_database_in_readonly_dir(readonly_dir: Path):
    path = readonly_dir / "agentic-flow.db"
    Store(path).close()
    path.chmod(0o444)
    readonly_dir.chmod(0o555)
    kind, message, _ = _run_unprivileged(path)
    assert kind == "StoreError", message
    assert str(readonly_dir) in message and "writable" in message


def test_data_folder_cannot_be_created(tmp_path: Path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="Cannot create the data folder") as err:
        Store(blocker / "data" / "agentic-flow.db")
    assert isinstance(err.value.__cause__, OSError)


def test_corrupt_database(tmp_path: Path):
    path = tmp_path / "agentic-flow.db"
    path.write_bytes(b"this is not sqlite" * 500)
    with pytest.raises(StoreError, match="damaged or is not an agentic-flow database") as err:
        Store(path)
    assert isinstance(err.value.__cause__, sqlite3.DatabaseError)
    assert "move it aside" in str(err.value)


def test_locked_database_times_out_with_retryable_error(tmp_path: Path):
    path = tmp_path / "agentic-flow.db"
    store = Store(path, timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked") as err:
            store.create_session("a", "m", None)
        assert err.value.retryable is True
        assert isinstance(err.value.__cause__, sqlite3.OperationalError)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    store.create_session("a", "m", None)  # usable again once the lock is gone
    store.close()


def test_full_disk(tmp_path: Path):
    store = Store(tmp_path / "agentic-flow.db")
    sid = store.create_session("a", "m", None)
    with store.read() as conn:  # cap the file at its current size: the next page fails
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full.*free some space"):
        store.append_message(sid, UserMessage(content="x" * 200_000))
    with store.read() as conn:  # space freed: the failed write left nothing half-open
        conn.execute("PRAGMA max_page_count = 1000000")
    assert store.append_message(sid, UserMessage(content="x" * 200_000)) == 0
    store.close()


def test_failed_write_leaves_no_partial_transaction(tmp_path: Path):
    store = Store(tmp_path / "agentic-flow.db")
    sid = store.create_session("a", "m", None)
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("UPDATE sessions SET title = 'half' WHERE id = ?", (sid,))
            raise RuntimeError("boom")
    assert store.get_session(sid).title == ""
    store.close()


def test_unknown_sqlite_error_names_the_database():
    err = map_sqlite_error(sqlite3.ProgrammingError("weird"), Path("/data/x.db"))
    assert isinstance(err, StoreError)
    assert "/data/x.db" in str(err) and "weird" in str(err)
    assert err.retryable is False
