"""Bolt middleware: Slack's event retries answered once (owns the `slack_events` table).

Slack delivers an event again when it got no 2xx within 3 s (`X-Slack-Retry-Num`). The first
delivery of an `event_id` is always processed, whatever its retry number (when Slack's first try
never reached us, the retry is the only copy); a later delivery of the same `event_id` is
acknowledged and dropped. Ids are kept for `keep` (Slack retries for about 5 minutes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils
from slack_bolt import BoltResponse

from bot.storage import transaction

__all__ = ["EventLog", "dedupe_events"]

log = logging.getLogger(__name__)


class EventLog:
    """Which Events API deliveries were already taken."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 keep: timedelta = timedelta(days=1)) -> None:
        self.db = db
        self.now = now
        self.keep = keep

    def first_delivery(self, event_id: str) -> bool:
        """Record `event_id`; True the first time it is seen, False for every repeat."""
        now = self.now()
        with transaction(self.db):
            cursor = self.db.execute("insert or ignore into slack_events (event_id, received_at) values (?, ?)",
                                     [event_id, now.isoformat()])
            if cursor.rowcount:
                self.db.execute("delete from slack_events where received_at < ?", [(now - self.keep).isoformat()])
        return bool(cursor.rowcount)


def dedupe_events(events: EventLog) -> Callable[..., Any]:
    """Global middleware: a repeated `event_id` gets a 200 and goes no further."""

    def middleware(body: dict[str, Any], request: Any, next: Callable[[], Any]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not events.first_delivery(str(event_id)):
            retry = (request.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("slack: event %s already taken; delivery (retry %s) dropped", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()

    return middleware
