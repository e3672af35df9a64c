"""Conversation memory: the questions and answers of each Slack thread, in SQLite (owns `conversation_turns`).

A thread is keyed by its channel and thread id (the `thread_ts` of a Slack thread, or a key of the
caller's choosing such as `cmd:U123` for slash commands, which Slack never sends from threads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from bot.copilot.answers import Answer, Exchange
from bot.storage import locked

__all__ = ["History", "Turn"]


@dataclass(frozen=True)
class Turn:
    """A stored exchange and where it happened."""

    id: int
    channel: str
    thread: str
    user_id: str
    exchange: Exchange
    created_at: datetime


class History:
    """Loads and saves the exchanges of conversations."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.now = now

    def add(self, channel: str, thread: str, user_id: str, question: str, answer: Answer) -> Turn:
        """Save one exchange; returns it with its id."""
        created = self.now()
        with locked(self.db):
            row = self.db.execute(
                "insert into conversation_turns (channel, thread, user_id, question, answer, created_at) "
                "values (?, ?, ?, ?, ?, ?) returning id",
                [channel, thread, user_id, question, answer.model_dump_json(), created.isoformat()]).fetchone()
        return Turn(int(row[0]), channel, thread, user_id, Exchange(question=question, answer=answer),
                    created)

    def load(self, channel: str, thread: str, *, limit: int = 10, within: timedelta | None = None) -> list[Exchange]:
        """The thread's latest `limit` exchanges, oldest first (only those newer than `within`, if given)."""
        since = (self.now() - within).isoformat() if within else ""
        rows = self.db.execute(
            "select question, answer from conversation_turns where channel = ? and thread = ? and created_at >= ? "
            "order by id desc limit ?", [channel, thread, since, limit]).fetchall()
        return [Exchange(question=q, answer=Answer.model_validate_json(a)) for q, a in reversed(rows)]

    def get(self, turn_id: int) -> Turn | None:
        """One stored exchange by id."""
        row = self.db.execute("select id, channel, thread, user_id, question, answer, created_at "
                              "from conversation_turns where id = ?", [turn_id]).fetchone()
        if row is None:
            return None
        id_, channel, thread, user_id, question, answer, created = row
        exchange = Exchange(question=question, answer=Answer.model_validate_json(answer))
        return Turn(id_, channel, thread, user_id, exchange, datetime.fromisoformat(created))
