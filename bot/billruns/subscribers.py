"""Who gets a DM after each bill run (owns `billrun_subscribers` and `billrun_deliveries`).

`claim()` records a delivery before the DM is sent, so a bill run reported twice (callout and
poller, or Zuora's retries) reaches each subscriber once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from bot.storage import locked

__all__ = ["Subscribers"]


class Subscribers:
    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.now = now

    def subscribe(self, user_id: str, team: str) -> bool:
        """True if the user was not subscribed yet."""
        with locked(self.db):
            cursor = self.db.execute("insert into billrun_subscribers (user_id, team, subscribed_at) "
                                     "values (?, ?, ?) on conflict do nothing", [user_id, team, self.now().isoformat()])
        return bool(cursor.rowcount)

    def unsubscribe(self, user_id: str) -> bool:
        with locked(self.db):
            cursor = self.db.execute("delete from billrun_subscribers where user_id = ?", [user_id])
        return bool(cursor.rowcount)

    def is_subscribed(self, user_id: str) -> bool:
        return self.db.execute("select 1 from billrun_subscribers where user_id = ?", [user_id]).fetchone() is not None

    def all(self) -> list[str]:
        return [r[0] for r in self.db.execute("select user_id from billrun_subscribers order by subscribed_at")]

    def claim(self, bill_run_id: str, user_id: str) -> bool:
        """True the first time (send the DM); False if this user already got this bill run."""
        with locked(self.db):
            cursor = self.db.execute("insert into billrun_deliveries (bill_run_id, user_id, sent_at) "
                                     "values (?, ?, ?) on conflict do nothing",
                                     [bill_run_id, user_id, self.now().isoformat()])
        return bool(cursor.rowcount)

    def release(self, bill_run_id: str, user_id: str) -> None:
        """Undo `claim()` when the DM could not be sent, so the next report of the bill run tries again."""
        with locked(self.db):
            self.db.execute("delete from billrun_deliveries where bill_run_id = ? and user_id = ?",
                            [bill_run_id, user_id])
