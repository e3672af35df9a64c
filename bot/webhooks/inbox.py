"""Which callouts were taken (owns `callouts`): one row per business key, found by notification id too.

Zuora retries a callout with the same `Zuora-Notification-Id` (and a new `Zuora-Request-Id`), and
may send two notifications for one event; the poller may find an event a callout already brought.
`take()` lets exactly one of them through. One that failed may be taken again (a retry is then
the only way it gets done), and so may one taken more than `stale_after` ago and never finished
(the process died between answering Zuora and doing the work).

With an outbox, `take()` records the event's work (a `callout` row) in the same transaction, so
an event taken is never lost; the row is marked done (`finish()`) only in the transaction that
records what the event led to (see `bot.webhooks.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlite_utils

from bot.storage import locked, transaction

if TYPE_CHECKING:
    from bot.actions.outbox import Outbox

__all__ = ["CALLOUT_TOPIC", "Inbox"]

CALLOUT_TOPIC = "callout"


class Inbox:
    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 stale_after: timedelta = timedelta(minutes=10)) -> None:
        self.db = db
        self.now = now
        self.stale_after = stale_after

    def _open(self, status: str, updated_at: str) -> bool:
        """May a row in this state be taken again?"""
        return status == "failed" or (status == "taken" and
                                      datetime.fromisoformat(updated_at) < self.now() - self.stale_after)

    def take(self, business_key: str, *, event: str, object_id: str, source: str,
             notification_id: str | None = None, outbox: Outbox | None = None) -> bool:
        """True for the first delivery of this event (or a retry of one that failed); False for a duplicate.

        With `outbox`, the event's work is recorded there in the same transaction.
        """
        now = self.now().isoformat()
        with transaction(self.db, lock="callouts"):
            if notification_id:
                seen = self.db.execute("select business_key, status, updated_at from callouts "
                                       "where notification_id = ?", [notification_id]).fetchone()
                if seen and (seen[0] != business_key or not self._open(seen[1], seen[2])):
                    return False  # one notification is one event
            row = self.db.execute("select status, updated_at from callouts where business_key = ?",
                                  [business_key]).fetchone()
            if row and not self._open(*row):
                return False
            self.db.execute(
                "insert into callouts (business_key, notification_id, event, object_id, source, status, received_at, "
                "updated_at) values (?, ?, ?, ?, ?, 'taken', ?, ?) on conflict (business_key) do update set "
                "status = 'taken', updated_at = excluded.updated_at",
                [business_key, notification_id, event, object_id, source, now, now])
            if outbox is not None:
                outbox.add(CALLOUT_TOPIC, f"{CALLOUT_TOPIC}:{business_key}", {
                    "event": event, "object_id": object_id, "business_key": business_key,
                    "notification_id": notification_id, "source": source})
        return True

    def finish(self, business_key: str, *, ok: bool, detail: str) -> None:
        """Done (or failed); with an outbox, inside the transaction that records the event's effects."""
        with locked(self.db):
            self.db.execute("update callouts set status = ?, detail = ?, updated_at = ? where business_key = ?",
                            ["done" if ok else "failed", detail[:500], self.now().isoformat(), business_key])

    def note(self, business_key: str, detail: str) -> None:
        """Say why an event taken is not done yet (e.g. it waits for a setting); the status stays."""
        with locked(self.db):
            self.db.execute("update callouts set detail = ? where business_key = ? and status = 'taken'",
                            [detail[:500], business_key])

    def status(self, business_key: str) -> tuple[str, str] | None:
        row = self.db.execute("select status, detail from callouts where business_key = ?", [business_key]).fetchone()
        return (row[0], row[1]) if row else None
