"""Open the database (a SQLite file, or PostgreSQL for several instances) with the settings every process shares.

`open_db(target)` takes a SQLite path (or `":memory:"`) or a `postgresql://` URL. The stores use one
interface on both: `db.execute(sql, params)` (SQLite-flavoured standard SQL, `?`/`:name`
placeholders), `transaction(db)` for several statements, and `locked(db)` around a single write.
What differs between the two lives here and in `bot.storage.postgres`.

    StorageUnavailable   psycopg is not installed, or PostgreSQL cannot be reached: the message says which
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from bot.config import redact_url

if TYPE_CHECKING:
    from bot.storage.postgres import PgDatabase

__all__ = ["Database", "StorageUnavailable", "database_errors", "for_update", "is_postgres", "is_url", "locked",
           "open_db", "serialize", "transaction", "trigger_names"]

Database = Any
"""`sqlite_utils.Database` or `bot.storage.postgres.PgDatabase`: both take `execute(sql, params)`."""

_LOCKS: dict[int, tuple[sqlite3.Connection, threading.RLock]] = {}
"""Per connection (kept with it so its id is never reused while the lock lives)."""
_LOCKS_GUARD = threading.Lock()

BUSY_TIMEOUT_MS = 5000


class StorageUnavailable(RuntimeError):
    """The database named by the settings cannot be used (driver missing, server unreachable)."""


def is_url(target: str | Path) -> bool:
    """Is `target` a PostgreSQL URL (rather than a SQLite path)?"""
    return str(target).startswith(("postgresql://", "postgres://"))


def is_postgres(db: Database) -> bool:
    return getattr(db, "dialect", "sqlite") == "postgresql"


def for_update(db: Database, *, skip_locked: bool = False) -> str:
    """The clause that ends a `select` inside `transaction(db)` whose rows the transaction then changes.

    PostgreSQL: ` for update` (the rows stay locked until the end; another transaction's write to
    them waits, then sees this one's) or ` for update skip locked` (rows another transaction holds
    are passed over: several instances claim different rows without waiting). SQLite: nothing, as
    `BEGIN IMMEDIATE` already holds the database's one write lock.
    """
    if not is_postgres(db):
        return ""
    return " for update skip locked" if skip_locked else " for update"


def trigger_names(db: Database, table: str) -> set[str]:
    """The names of the triggers on `table` (in the current schema on PostgreSQL)."""
    if is_postgres(db):
        sql = ("select t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid "
               "join pg_namespace n on n.oid = c.relnamespace "
               "where c.relname = ? and n.nspname = current_schema() and not t.tgisinternal")
    else:
        sql = "select name from sqlite_master where type = 'trigger' and tbl_name = ?"
    return {name for (name,) in db.execute(sql, [table]).fetchall()}


def database_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a database call may raise on either database (for a caller that reports them)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def open_db(target: str | Path, *, migrate: bool = True, pool_size: int = 10) -> Database:
    """Open (creating if needed) the database at `target` and bring its schema up to date.

    SQLite: the connection is in autocommit mode (`isolation_level=None`), so every transaction is
    explicit (`transaction()`). Writes are durable (`synchronous=FULL`) and concurrent readers don't
    block the writer (WAL). `":memory:"` works for tests. PostgreSQL: a pool of up to `pool_size`
    connections in autocommit mode.
    """
    if is_url(target):
        db: Database = _open_postgres(str(target), pool_size)
    else:
        if str(target) != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False,
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


def _open_postgres(url: str, pool_size: int) -> PgDatabase:
    try:
        import psycopg_pool

        from bot.storage.postgres import PgDatabase
    except ImportError:
        raise StorageUnavailable("DATABASE_URL names PostgreSQL, which needs psycopg: "
                                 "pip install 'billing-copilot[postgres]'") from None
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=10).close()  # the server's own reason, at once (the pool would retry)
        return PgDatabase(url, max_size=pool_size, timeout=10.0)
    except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise StorageUnavailable(f"DATABASE_URL={redact_url(url)}: cannot connect ({why[:300]})") from None


def _lock(db: sqlite_utils.Database) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(id(db.conn), (db.conn, threading.RLock()))[1]


def locked(db: Database) -> Any:
    """Hold the connection's lock for a write outside `transaction()` (a single statement).

    SQLite: every write on the shared connection takes it, as a statement run by one thread while
    another thread's transaction is open on the same connection can end that transaction.
    PostgreSQL: nothing to hold (each thread's statements run on their own pooled connection).
    """
    return nullcontext(db) if is_postgres(db) else _locked_sqlite(db)


@contextmanager
def _locked_sqlite(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    with _lock(db):
        yield db


@contextmanager
def transaction(db: Database, *, lock: str | None = None) -> Iterator[Database]:
    """`BEGIN` … `COMMIT` (or `ROLLBACK` on any exception), one thread at a time per connection.

    SQLite: the connection is shared by the process's threads, and SQLite transactions belong to the
    connection, so a per-connection lock keeps two threads out of one transaction; `BEGIN IMMEDIATE`
    takes the database's single write lock, which serializes every transaction (`lock` adds nothing).
    PostgreSQL: the transaction runs on a pooled connection of its own; `lock` names an advisory lock
    taken first, for a transaction that reads and then writes on what it read.
    """
    if is_postgres(db):
        with db.transaction(lock) as held:
            yield held
        return
    with _lock(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def serialize(db: Database, lock: str) -> None:
    """Inside `transaction(db)`, before reading what the transaction then writes: wait for (then hold until the
    end) every other transaction that named `lock`. SQLite's write lock already serializes transactions."""
    if is_postgres(db):
        db.serialize(lock)
