"""Named leases (owns `leases`): work that must run on one instance at a time, and which instance runs it now.

Several `serve` processes may share one database; the Zuora poller and the approvals sweep must
not run on all of them. Before each pass such a loop calls its `Leader`, which takes the lease if
it is free or expired, or renews it if this process holds it: one conditional upsert, so of two
instances asking at once exactly one gets it. A process that stops cleanly releases its leases;
one that dies holds them until they expire (`ttl`), and then another instance takes over. A lease
held by a process of this host that is gone (its pid no longer runs) is taken at once, as the
outbox does with its rows, so a restart on the same host does not wait for the expiry.

An owner is `host:pid:random` (`bot.actions.outbox.Outbox.owner`). Times are on each process's
wall clock: keep `ttl` well above the clock skew between hosts.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.storage.db import Database, locked

__all__ = ["Leader", "Leases", "owner_gone"]

log = logging.getLogger(__name__)

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: the text order is the time order


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_FORMAT)


def owner_gone(owner: str) -> bool:
    """Is `owner` (`host:pid:…`) a process of this host that no longer runs? False when it cannot tell."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Leases:
    def __init__(self, db: Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.now = now

    def acquire(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take `name` for `ttl` if it is free, expired or held by a process of this host that is gone; renew it
        if `owner` holds it. True if `owner` holds it now."""
        now = self.now()
        until, at = _stamp(now + ttl), _stamp(now)
        with locked(self.db):
            taken = self.db.execute(
                "insert into leases (name, owner, expires_at, acquired_at) values (?, ?, ?, ?) "
                "on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at, "
                "acquired_at = case when leases.owner = excluded.owner then leases.acquired_at "
                "else excluded.acquired_at end "
                "where leases.owner = excluded.owner or leases.expires_at <= ?",
                [name, owner, until, at, at]).rowcount
        if taken:
            return True
        holder = self.holder(name)
        if holder is None or not owner_gone(holder):
            return False
        with locked(self.db):  # of two processes taking over from the same dead one, one wins
            taken = self.db.execute("update leases set owner = ?, expires_at = ?, acquired_at = ? "
                                    "where name = ? and owner = ?", [owner, until, at, name, holder]).rowcount
        if taken:
            log.info("lease %s: taken from %s, a process of this host that is gone", name, holder)
        return bool(taken)

    def release(self, name: str, owner: str) -> bool:
        """Give `name` up (if `owner` holds it), so another instance takes it at its next pass."""
        with locked(self.db):
            return bool(self.db.execute("delete from leases where name = ? and owner = ?", [name, owner]).rowcount)

    def holder(self, name: str) -> str | None:
        """Who holds `name` now (None: nobody, or the lease expired)."""
        row = self.db.execute("select owner from leases where name = ? and expires_at > ?",
                              [name, _stamp(self.now())]).fetchone()
        return row[0] if row else None


class Leader:
    """One lease as a loop sees it: call it before each pass; the pass runs only when it returns True.

    `ttl` must outlast the time between two calls (a pass and the wait after it), else another
    instance takes the lease in between. A database error counts as not holding it (the pass is
    skipped, the loop goes on).
    """

    def __init__(self, leases: Leases, name: str, owner: str, ttl: timedelta) -> None:
        self.leases = leases
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.held = False

    def __call__(self) -> bool:
        try:
            held = self.leases.acquire(self.name, self.owner, self.ttl)
        except Exception:  # the database is unreachable: another instance may hold it; skip this pass
            log.exception("lease %s: could not be taken or renewed", self.name)
            held = False
        if held != self.held:
            log.info("lease %s: %s", self.name, "this instance runs it now" if held else
                     "another instance runs it now")
        self.held = held
        return held

    def release(self) -> None:
        """At shutdown: give the lease up (best effort: if it fails, it expires)."""
        try:
            self.leases.release(self.name, self.owner)
        except Exception:
            log.exception("lease %s: not released; it expires in %s", self.name, self.ttl)
        self.held = False
