"""Thumbs up/down on answers (owns the `answer_feedback` table): one verdict per person per answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import sqlite_utils

from bot.storage import locked

__all__ = ["Feedback", "Verdict"]

Verdict = Literal["good", "bad"]


class Feedback:
    """Records and counts verdicts; a person's later click on the same answer replaces the earlier one."""

    def __init__(self, db: sqlite_utils.Database, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self.now = now

    def record(self, turn_id: int, user_id: str, verdict: Verdict) -> None:
        if verdict not in ("good", "bad"):
            raise ValueError(f"verdict must be 'good' or 'bad', not {verdict!r}")
        with locked(self.db):
            self.db.execute("insert into answer_feedback (turn_id, user_id, verdict, recorded_at) values (?, ?, ?, ?) "
                            "on conflict (turn_id, user_id) do update set verdict = excluded.verdict, "
                            "recorded_at = excluded.recorded_at",
                            [turn_id, user_id, verdict, self.now().isoformat()])

    def of(self, turn_id: int) -> dict[str, Verdict]:
        """Who said what about one answer."""
        rows = self.db.execute("select user_id, verdict from answer_feedback where turn_id = ?", [turn_id]).fetchall()
        return {user: verdict for user, verdict in rows}

    def totals(self) -> dict[str, int]:
        """How many answers were found helpful (`good`) and not (`bad`)."""
        rows = self.db.execute("select verdict, count(*) from answer_feedback group by verdict").fetchall()
        return {"good": 0, "bad": 0, **{verdict: count for verdict, count in rows}}
