"""Bolt middleware: each Slack delivery acted on once (owns the `slack_events` and `slack_triggers` tables).

Events: Slack delivers an event again when it got no 2xx within 3 s (`X-Slack-Retry-Num`). The
first delivery of an `event_id` is always processed, whatever its retry number (when Slack's first
try never reached us, the retry is the only copy); a later delivery of the same `event_id` is
acknowledged and dropped. Ids are kept for `keep` (Slack retries for about 5 minutes).

Replays: slash commands, button clicks, modal submissions and shortcuts carry a `trigger_id` that
Slack makes new for every interaction, and Slack never retries them. A signed request seen again
within the 5 minutes its timestamp is accepted (`bot.slack.verify`) is therefore a replay: it gets
a 200 and goes no further (no listener, no write). Trigger ids are kept for `keep_triggers`
(the 5-minute window on either side of our clock, plus a margin).
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
    """Which Events API deliveries and which interactions (`trigger_id`s) were already taken."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 keep: timedelta = timedelta(days=1), keep_triggers: timedelta = timedelta(minutes=15)) -> None:
        self.db = db
        self.now = now
        self.keep = keep
        self.keep_triggers = keep_triggers

    def first_delivery(self, event_id: str) -> bool:
        """Record `event_id`; True the first time it is seen, False for every repeat."""
        return self._first("slack_events", "event_id", event_id, self.keep)

    def first_trigger(self, trigger_id: str) -> bool:
        """Record `trigger_id`; True the first time it is seen, False for a replay."""
        return self._first("slack_triggers", "trigger_id", trigger_id, self.keep_triggers)

    def _first(self, table: str, column: str, key: str, keep: timedelta) -> bool:
        now = self.now()
        with transaction(self.db):
            cursor = self.db.execute(f"insert into {table} ({column}, received_at) values (?, ?) "
                                     "on conflict do nothing",
                                     [key, now.isoformat()])
            if cursor.rowcount:
                self.db.execute(f"delete from {table} where received_at < ?", [(now - keep).isoformat()])
        return bool(cursor.rowcount)


def dedupe_events(events: EventLog) -> Callable[..., Any]:
    """Global middleware: a repeated `event_id` or `trigger_id` gets a 200 and goes no further."""

    def middleware(body: dict[str, Any], request: Any, next: Callable[[], Any]) -> Any:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not events.first_delivery(str(event_id)[:200]):
            retry = str((request.headers.get("x-slack-retry-num") or ["?"])[0])[:4]
            log.info("slack: event %s already taken; delivery (retry %s) dropped", str(event_id)[:40], retry)
            return BoltResponse(status=200, body="")
        trigger = body.get("trigger_id")
        if trigger and not events.first_trigger(str(trigger)[:200]):
            kind = str(body.get("command") or body.get("type") or "request")[:40]
            log.warning("slack: replayed %s (trigger %s…) ignored", kind, str(trigger)[:12])
            return BoltResponse(status=200, body="")
        return next()

    return middleware
