"""Open the SQLite database with the settings every process must share."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

__all__ = ["open_db"]

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
