"""The polling backstop: bill runs completed and payments declined since a stored high-water mark.

A lost callout is still handled, and handled once: each find goes through the same inbox (business
key = event + Zuora id, as the documented callout template sends them) and the same outbox as a
callout (`Events.take`, then the work at once in this thread). The marks live in the `kv` table
(`poll.billruns`, `poll.payments`); a first pass looks back `first_look_back`. Found items run in
order of Zuora's `updatedDate`; a mark moves past an item once it is recorded in the outbox, which
retries a failure itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot.storage import locked
from bot.webhooks.callouts import Callout
from bot.webhooks.events import Events
from bot.zuora import ZuoraClient

__all__ = ["Poller"]

log = logging.getLogger(__name__)


class Poller:
    def __init__(self, client: ZuoraClient, db: sqlite_utils.Database, events: Events, *,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC).replace(tzinfo=None),
                 first_look_back: timedelta = timedelta(days=1)) -> None:
        self.client = client
        self.db = db
        self.events = events
        self.now = now
        self.first_look_back = first_look_back

    def _mark(self, key: str) -> str:
        row = self.db.execute("select value from kv where key = ?", [key]).fetchone()
        return row[0] if row else (self.now() - self.first_look_back).strftime("%Y-%m-%dT%H:%M:%S")

    def _set_mark(self, key: str, value: str) -> None:
        with locked(self.db):
            self.db.execute("insert into kv (key, value, updated_at) values (?, ?, ?) on conflict (key) do update "
                            "set value = excluded.value, updated_at = excluded.updated_at",
                            [key, value, self.now().isoformat()])

    def once(self, *, since: datetime | None = None) -> list[str]:
        """One pass; returns what was handled (one line each). `since` overrides the stored marks."""
        handled: list[str] = []
        start = since.strftime("%Y-%m-%dT%H:%M:%S") if since else None
        runs = [(r.updated_date or "", "BillRunCompletion", r.bill_run_id) for r in self.client.bill_runs.query(
            filters=["status.EQ:Completed", f"updateddate.GT:{start or self._mark('poll.billruns')}"],
            sort="updateddate.ASC")]
        handled += self._handle("poll.billruns", runs)
        payments = [(p.updated_date or "", "PaymentDeclined", p.payment_id) for p in self.client.payments.query(
            filters=["status.EQ:Error", f"updateddate.GT:{start or self._mark('poll.payments')}"],
            sort="updateddate.ASC")]
        handled += self._handle("poll.payments", payments)
        return handled

    def _handle(self, mark: str, found: list[tuple[str, str, str]]) -> list[str]:
        handled = []
        for updated, event, object_id in found:
            callout = Callout(event=event, object_id=object_id, fields={}, notification_id=None)  # type: ignore[arg-type]
            if self.events.take(callout, source="poll"):  # recorded in the outbox: the mark may move past it
                detail = self.events.run_now(callout.business_key)
                handled.append(f"{callout.business_key}: {detail or 'recorded; it waits (see the log)'}")
            self._set_mark(mark, updated.replace(" ", "T"))
        return handled

    def run(self, stop: threading.Event, every: float, *, leader: Callable[[], bool] | None = None) -> None:
        """Poll every `every` seconds until `stop` is set (the serve process's backstop thread); with `leader`,
        only the passes it says yes to (several instances on one database: one polls at a time)."""
        while not stop.wait(every):
            if leader is not None and not leader():
                continue
            try:
                for line in self.once():
                    log.info("poll: %s", line)
            except Exception:  # keep polling: Zuora may be back next time
                log.exception("poll: pass failed")
