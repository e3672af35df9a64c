"""The outbox (owns `outbox`): what must still happen after an answer, recorded with the change that causes it.

A callout's work, a card to post, a DM to send: each is a row written in the same transaction as
the state change that causes it (`add()` inside `bot.storage.transaction`), and a worker drains
the rows. A row is claimed with a lease (`lease_owner`, `lease_until`) and its attempts counted,
so a process that dies mid-way leaves the row to be taken again (at once by the next process on
this host, which sees the owner is gone; after the lease elsewhere). `key` is unique: one effect
per key, however often it is recorded. A handler ends a row with `done()` (in the transaction that
records the row's own effects), `later()` (retry with backoff; `failed` after `max_attempts`) or
`wait()` (a feature is switched off: the row stays pending and the attempt does not count).

Several processes (instances on one PostgreSQL) drain one table: `claim()` and `claim_key()` select
due rows `FOR UPDATE SKIP LOCKED` there, so each instance leases different rows without waiting on
another's claim, and the lease is set only where the row is still free (a conditional update). The
worker renews the leases of rows whose work is still running (every third of the lease), so only an
instance that stopped answering loses its rows, never one that is merely slow.

    Worker      drains topics with handlers on a small pool; `drain()` flushes at shutdown
    Exceptions: a handler's exception is logged and the row retried (`later`), never raised.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from bot.storage import for_update, locked, transaction

__all__ = ["Item", "Outbox", "Worker", "backoff"]

log = logging.getLogger(__name__)

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: the text order is the time order
_UNCOUNT = "case when attempts > 0 then attempts - 1 else 0 end"  # the attempt does not count (portable SQL)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_FORMAT)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Item:
    id: int
    key: str
    topic: str
    lane: str
    payload: dict[str, Any]
    attempts: int
    """Including this one."""


def _own_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Outbox:
    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 lease: timedelta = timedelta(minutes=2), max_attempts: int = 12, owner: str | None = None) -> None:
        self.db = db
        self.now = now
        self.lease = lease
        self.max_attempts = max_attempts
        self.owner = owner or _own_owner()
        self._wakers: list[threading.Event] = []
        self._wakers_lock = threading.Lock()

    def waker(self) -> threading.Event:
        """An event set whenever this process records a row, so a worker waiting on it wakes at once."""
        event = threading.Event()
        with self._wakers_lock:
            self._wakers.append(event)
        return event

    # -- recording (inside the caller's transaction, or alone) ---------------------------------------

    def add(self, topic: str, key: str, payload: Mapping[str, Any], *, lane: str = "",
            revive: tuple[str, ...] = ("failed",), delay: timedelta = timedelta(0)) -> bool:
        """Record an effect; False if one with this key is already recorded (unless its status is in `revive`).

        Call it inside `transaction(db)` together with the change that causes it. `delay`: not due
        before then (a backstop for work done at once in the normal case, see `done_keys`).
        """
        now = _stamp(self.now())
        due = _stamp(self.now() + delay)
        with locked(self.db):
            cursor = self.db.execute(
                "insert into outbox (key, topic, lane, payload, status, attempts, next_attempt_at, created_at, "
                "updated_at) values (?, ?, ?, ?, 'pending', 0, ?, ?, ?) on conflict (key) do update set "
                "status = 'pending', attempts = 0, payload = excluded.payload, lane = excluded.lane, "
                "next_attempt_at = excluded.next_attempt_at, lease_owner = null, lease_until = null, "
                "last_error = '', updated_at = excluded.updated_at "
                f"where outbox.status in ({', '.join('?' * len(revive))})",
                [key, topic, lane, json.dumps(dict(payload), default=str), due, now, now, *revive])
        with self._wakers_lock:
            for event in self._wakers:
                event.set()
        return bool(cursor.rowcount)

    def done(self, item: Item) -> None:
        """The row's work is done (inside the transaction that records what it led to)."""
        with locked(self.db):
            self.db.execute("update outbox set status = 'done', lease_owner = null, lease_until = null, "
                            "last_error = '', updated_at = ? where id = ?", [_stamp(self.now()), item.id])

    def done_keys(self, prefix: str, *, topic: str) -> int:
        """Mark done the pending, unclaimed rows of `topic` whose key starts with `prefix` (done another way)."""
        with locked(self.db):
            return self.db.execute(
                "update outbox set status = 'done', updated_at = ? where topic = ? and status = 'pending' and "
                "lease_owner is null and substr(key, 1, ?) = ?",
                [_stamp(self.now()), topic, len(prefix), prefix]).rowcount

    # -- claiming and ending -------------------------------------------------------------------------

    def claim(self, topics: Iterable[str], *, lane: str | None = None, limit: int = 10) -> list[Item]:
        """Lease up to `limit` due rows of `topics` (of one `lane` if given), oldest first."""
        topics = list(topics)
        now = self.now()
        sql = (f"select id from outbox where status = 'pending' and topic in ({', '.join('?' * len(topics))}) "
               "and next_attempt_at <= ? and (lease_until is null or lease_until <= ?)")
        params: list[Any] = [*topics, _stamp(now), _stamp(now)]
        if lane is not None:
            sql += " and lane = ?"
            params.append(lane)
        if self.db.execute(sql + " limit 1", params).fetchone() is None:
            return []  # nothing due: no write lock taken
        sql += " order by id limit ?" + for_update(self.db, skip_locked=True)
        params.append(limit)
        with transaction(self.db):
            ids = [row[0] for row in self.db.execute(sql, params).fetchall()]
            if not ids:
                return []
            marks = ", ".join("?" * len(ids))
            self.db.execute(f"update outbox set lease_owner = ?, lease_until = ?, attempts = attempts + 1, "
                            f"updated_at = ? where id in ({marks}) and status = 'pending' and "
                            f"(lease_until is null or lease_until <= ?)",
                            [self.owner, _stamp(now + self.lease), _stamp(now), *ids, _stamp(now)])
            rows = self.db.execute(f"select id, key, topic, lane, payload, attempts from outbox where id in ({marks}) "
                                   f"and lease_owner = ? order by id", [*ids, self.owner]).fetchall()
        return [Item(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def claim_key(self, key: str) -> Item | None:
        """Lease the row with `key` if it is due and free (None otherwise)."""
        now = self.now()
        with transaction(self.db):
            row = self.db.execute("select id from outbox where key = ? and status = 'pending' and next_attempt_at <= ? "
                                  "and (lease_until is null or lease_until <= ?)"
                                  + for_update(self.db, skip_locked=True), [key, _stamp(now), _stamp(now)]).fetchone()
            if row is None:
                return None
            taken = self.db.execute("update outbox set lease_owner = ?, lease_until = ?, attempts = attempts + 1, "
                                    "updated_at = ? where id = ? and status = 'pending' and "
                                    "(lease_until is null or lease_until <= ?)",
                                    [self.owner, _stamp(now + self.lease), _stamp(now), row[0], _stamp(now)]).rowcount
            if not taken:
                return None
            r = self.db.execute("select id, key, topic, lane, payload, attempts from outbox where id = ?",
                                [row[0]]).fetchone()
        return Item(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5])

    def later(self, item: Item, error: str, *, delay: timedelta | None = None) -> str:
        """Try the row again after `delay` (default: backoff); `failed` once `max_attempts` is reached."""
        status = "failed" if item.attempts >= self.max_attempts else "pending"
        when = self.now() + (delay if delay is not None else backoff(item.attempts))
        with locked(self.db):
            self.db.execute("update outbox set status = ?, next_attempt_at = ?, lease_owner = null, "
                            "lease_until = null, last_error = ?, updated_at = ? where id = ? and status = 'pending'",
                            [status, _stamp(when), error[:500], _stamp(self.now()), item.id])
        return status

    def wait(self, item: Item, reason: str, *, delay: timedelta = timedelta(seconds=60)) -> None:
        """A feature this row needs is off: keep it pending, look again after `delay`; the attempt does not count."""
        with locked(self.db):
            self.db.execute(f"update outbox set attempts = {_UNCOUNT}, next_attempt_at = ?, "
                            "lease_owner = null, lease_until = null, last_error = ?, updated_at = ? where id = ?",
                            [_stamp(self.now() + delay), f"waiting: {reason}"[:500], _stamp(self.now()), item.id])

    def hurry(self, key: str) -> bool:
        """Make the pending, unclaimed row with `key` due now (an event says its wait is over); False if none."""
        with locked(self.db):
            return bool(self.db.execute("update outbox set next_attempt_at = ? where key = ? and status = 'pending' "
                                        "and lease_owner is null", [_stamp(self.now()), key]).rowcount)

    def release(self, item: Item) -> None:
        """Give a claimed row back untouched (due now, the attempt does not count)."""
        with locked(self.db):
            self.db.execute(f"update outbox set attempts = {_UNCOUNT}, lease_owner = null, lease_until = "
                            "null where id = ? and lease_owner = ?", [item.id, self.owner])

    def renew(self, items: Iterable[Item]) -> int:
        """Extend the leases this process still holds on `items` (rows whose work is still running), so no other
        instance takes a row over while its work is merely slow; returns how many were extended."""
        ids = [item.id for item in items]
        if not ids:
            return 0
        with locked(self.db):
            return self.db.execute(f"update outbox set lease_until = ? where id in ({', '.join('?' * len(ids))}) "
                                   "and lease_owner = ? and status = 'pending'",
                                   [_stamp(self.now() + self.lease), *ids, self.owner]).rowcount

    def release_mine(self) -> int:
        """At shutdown: give back every row this process still holds, so the next one takes it at once."""
        with locked(self.db):
            cursor = self.db.execute("update outbox set lease_owner = null, lease_until = null, attempts = "
                                     f"{_UNCOUNT} where lease_owner = ? and status = 'pending'", [self.owner])
        return cursor.rowcount

    def release_dead(self) -> int:
        """At start-up: free leases held by processes of this host that are gone (killed, crashed)."""
        host = socket.gethostname()
        freed = 0
        owners = [r[0] for r in self.db.execute("select distinct lease_owner from outbox where lease_owner is not null "
                                                "and status = 'pending'").fetchall()]
        for owner in owners:
            parts = owner.rsplit(":", 2)
            if len(parts) != 3 or parts[0] != host or owner == self.owner or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid != os.getpid() and _alive(pid):
                continue
            with locked(self.db):
                freed += self.db.execute("update outbox set lease_owner = null, lease_until = null where "
                                         "lease_owner = ? and status = 'pending'", [owner]).rowcount
        if freed:
            log.info("outbox: %d row(s) left by a stopped process taken back", freed)
        return freed

    def wake_waiting(self, *topics: str) -> int:
        """At start-up: rows waiting for a feature are looked at again now (the settings may have changed),
        and so are the rows of `topics` (backstops whose first-hand worker was the previous process)."""
        marks = ", ".join("?" * len(topics)) or "null"
        with locked(self.db):
            return self.db.execute(f"update outbox set next_attempt_at = ? where status = 'pending' and "
                                   f"(last_error like 'waiting:%' or topic in ({marks}))",
                                   [_stamp(self.now()), *topics]).rowcount

    # -- looking -----------------------------------------------------------------------------------

    def lanes(self, topic: str) -> list[str]:
        """Lanes with due rows of `topic`."""
        now = _stamp(self.now())
        return [r[0] for r in self.db.execute(
            "select distinct lane from outbox where status = 'pending' and topic = ? and next_attempt_at <= ? and "
            "(lease_until is null or lease_until <= ?) order by lane", [topic, now, now]).fetchall()]

    def due(self, topics: Iterable[str]) -> int:
        """How many rows of `topics` are due now (pending, not waiting, not leased by someone else)."""
        topics = list(topics)
        now = _stamp(self.now())
        return int(self.db.execute(
            f"select count(*) from outbox where status = 'pending' and topic in ({', '.join('?' * len(topics))}) "
            "and next_attempt_at <= ? and (lease_until is null or lease_until <= ? or lease_owner = ?)",
            [*topics, now, now, self.owner]).fetchone()[0])

    def status(self, key: str) -> tuple[str, int, str] | None:
        """(status, attempts, last error) of the row with `key`."""
        row = self.db.execute("select status, attempts, last_error from outbox where key = ?", [key]).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def backlog(self) -> dict[str, int]:
        """Pending rows per topic (what is still to do)."""
        return {r[0]: r[1] for r in self.db.execute(
            "select topic, count(*) from outbox where status = 'pending' group by topic").fetchall()}

    def count(self, topic: str, status: str = "pending") -> int:
        return int(self.db.execute("select count(*) from outbox where topic = ? and status = ?",
                                   [topic, status]).fetchone()[0])


class Worker:
    """Drains the rows of `handlers`' topics on a pool of `threads`; each handler ends its row itself."""

    def __init__(self, outbox: Outbox, handlers: Mapping[str, Callable[[Item], None]], *, threads: int = 8,
                 poll: float = 1.0, name: str = "outbox") -> None:
        self.outbox = outbox
        self.handlers = dict(handlers)
        self.threads = threads
        self.poll = poll
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._running: dict[Future[None], Item] = {}
        """What runs now, so its leases are renewed while it runs (`renew()`, every third of the lease)."""
        self._renewed = time.monotonic()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._wake = outbox.waker()

    def pump(self) -> int:
        """Claim what the pool has room for and start it; returns how many were started."""
        with self._lock:
            room = self.threads - len(self._running)
            if room <= 0 or self._closed:
                return 0
        items = self.outbox.claim(self.handlers, limit=room)
        for item in items:
            future = self._pool.submit(self._run, item)
            with self._lock:
                self._running[future] = item
            future.add_done_callback(self._finished)
        return len(items)

    def _finished(self, future: Future[None]) -> None:
        with self._lock:
            self._running.pop(future, None)
            self._idle.notify_all()

    def _run(self, item: Item) -> None:
        try:
            self.handlers[item.topic](item)
        except Exception as exc:  # the row stays: it is tried again later
            log.exception("outbox: %s failed (attempt %d)", item.key, item.attempts)
            status = self.outbox.later(item, f"{type(exc).__name__}: {exc}")
            if status == "failed":
                log.error("outbox: %s gave up after %d attempts", item.key, item.attempts)

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: start due rows, then sleep until a row is recorded or `poll` seconds pass."""
        while not stop.is_set():
            try:
                self.pump()
                if time.monotonic() - self._renewed >= self.outbox.lease.total_seconds() / 3:
                    self.renew()
            except Exception:  # e.g. the database is locked for longer than the busy timeout
                log.exception("outbox: claiming failed")
            self._wake.wait(self.poll)
            self._wake.clear()

    def renew(self) -> int:
        """Extend the leases of the rows running now (a slow handler keeps its row; see `Outbox.renew`)."""
        self._renewed = time.monotonic()
        with self._lock:
            running = list(self._running.values())
        return self.outbox.renew(running)

    def drain(self, deadline: float, *, clock: Callable[[], float] = time.monotonic) -> bool:
        """Run until nothing is due or running, or until `deadline` (on `clock`); True if nothing was left."""
        while clock() < deadline:
            started = self.pump()
            with self._lock:
                if not started and not self._running and not self.outbox.due(self.handlers):
                    return True
                self._idle.wait(min(0.1, max(0.0, deadline - clock())))
        with self._lock:
            return not self._running

    def close(self, timeout: float | None = None) -> bool:
        """Stop taking rows; rows running get up to `timeout` seconds (None: as long as they need).

        Returns True if none was left running. Rows not started stay pending (their lease is given
        back by `Outbox.release_mine()`, or ends).
        """
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._running:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True
