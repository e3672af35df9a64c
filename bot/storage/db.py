"""Open the SQLite database with the settings every process must share."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

__all__ = ["locked", "open_db", "transaction"]

_LOCKS: dict[int, tuple[sqlite3.Connection, threading.RLock]] = {}
"""Per connection (kept with it so its id is never reused while the lock lives)."""
_LOCKS_GUARD = threading.Lock()

BUSY_TIMEOUT_MS = 5000


def open_db(path: str | Path, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database at `path` and bring its schema up to date.

    The connection is in autocommit mode (`isolation_level=None`), so every transaction is explicit
    (`with db.conn:` does not start one; use `BEGIN IMMEDIATE` … `COMMIT`). Writes are durable
    (`synchronous=FULL`) and concurrent readers don't block the writer (WAL). `":memory:"` works
    for tests.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    db = sqlite_utils.Database(conn)
    if migrate:
        from bot.storage.migrations import migrate as run_migrations

        run_migrations(db)
    return db


def _lock(db: sqlite_utils.Database) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(db.conn), (db.conn, threading.RLock()))[1]


@contextmanager
def locked(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Hold the connection's lock for a write outside `transaction()` (a single statement).

    Every write on the shared connection takes it: a statement run by one thread while another
    thread's transaction is open on the same connection can end that transaction.
    """
    with _lock(db):
        yield db


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """`BEGIN IMMEDIATE` … `COMMIT` (or `ROLLBACK` on any exception), one thread at a time.

    The connection is shared by the process's threads, and SQLite transactions belong to the
    connection, so a per-connection lock keeps two threads out of one transaction; the
    `IMMEDIATE` write lock does the same for other processes.
    """
    with _lock(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
