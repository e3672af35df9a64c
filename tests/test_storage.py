"""The storage layer on both databases: placeholders, transactions, advisory locks and migrations."""

from __future__ import annotations

import threading

import pytest

from bot.storage import MIGRATIONS, applied_migrations, is_postgres, locked, open_db, transaction

pytestmark = pytest.mark.both_databases


def test_one_sql_for_both_databases(database: str) -> None:
    db = open_db(database)
    assert applied_migrations(db) == [fn.__name__ for fn in MIGRATIONS]
    with locked(db):
        db.execute("insert into kv (key, value, updated_at) values (?, ?, ?)", ["rate", "50% off: yes?", "t"])
    row = db.execute("select value from kv where key = :key and value like '50%'", {"key": "rate"}).fetchone()
    assert row == ("50% off: yes?",)
    turn = db.execute("insert into conversation_turns (channel, thread, user_id, question, answer, created_at) "
                      "values (?, ?, ?, ?, ?, ?) returning id", ["C", "T", "U", "q", "a", "now"]).fetchone()
    assert turn == (1,)
    db.close()


def test_a_failed_transaction_leaves_nothing(database: str) -> None:
    db = open_db(database)
    with pytest.raises(ZeroDivisionError), transaction(db):
        db.execute("insert into kv (key, value, updated_at) values ('a', 'b', 'c')")
        raise ZeroDivisionError
    assert db.execute("select count(*) from kv").fetchone() == (0,)
    db.close()


def test_the_audit_log_refuses_updates_and_deletes(database: str) -> None:
    db = open_db(database)
    db.execute("insert into audit_log (at, actor, team, channel, action, outcome, zuora_ids, detail, prev_hash, "
               "hash) values ('a', 'a', 'a', 'a', 'a', 'a', '[]', '{}', '', 'h')")
    for sql in ("update audit_log set actor = 'b'", "delete from audit_log"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(sql)
    assert db.execute("select actor from audit_log").fetchall() == [("a",)]
    db.close()


def test_a_named_lock_serializes_read_then_write(database: str) -> None:
    """Eight threads each read a counter and write it back plus one: with the lock, none is lost."""
    db = open_db(database)
    db.execute("insert into kv (key, value, updated_at) values ('n', '0', 't')")
    barrier = threading.Barrier(8)

    def bump() -> None:
        barrier.wait()
        for _ in range(5):
            with transaction(db, lock="counter"):
                n = int(db.execute("select value from kv where key = 'n'").fetchone()[0])
                db.execute("update kv set value = ? where key = 'n'", [str(n + 1)])

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert db.execute("select value from kv where key = 'n'").fetchone() == ("40",)
    db.close()


def test_processes_starting_together_apply_each_migration_once(database: str) -> None:
    """Four connections (as four processes would) migrate one fresh database at once."""
    dbs = [open_db(database, migrate=False) for _ in range(4)]
    from bot.storage import migrate

    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def run(db: object) -> None:
        barrier.wait()
        results.append(migrate(db))

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied = sorted(name for names in results for name in names)
    assert applied == sorted(fn.__name__ for fn in MIGRATIONS)
    assert len(dbs[0].execute("select name from _migrations").fetchall()) == len(MIGRATIONS)
    assert is_postgres(dbs[0]) == database.startswith("postgresql://")
    for db in dbs:
        db.close()
