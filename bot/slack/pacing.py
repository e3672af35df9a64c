"""The per-channel post limiter's state, shared by every instance through the database (owns `channel_slots`).

A channel gets at most one message from the bot every interval, whichever instance sends it, and
a burst folds into one digest message whichever instance handles its later rows. Per channel the
table keeps when the next message may go (`next_ms`), who is sending to it right now (`owner`),
when it last got a message (a busy channel gets digests) and the open digest (its `ts`, how many
rows, when rows were last added).

`take()` is one conditional upsert: the channel is taken only if its time has come, and held
(`next_ms` pushed `hold` ahead) while the taker sends, so no other instance sends to it or reads a
digest that is being changed. `give()` writes the new state back and sets when the next message may
go; a process that dies mid-send frees the channel when its hold runs out (at once for the next
process on the same host, which sees the holder is gone, as with the outbox's rows). Times are seconds on
the caller's clock (the notifier's: the wall clock, the same on every instance up to their skew),
stored as whole milliseconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.storage import Database, locked
from bot.storage.leases import owner_gone

__all__ = ["ChannelSlots", "Digest", "Slot"]

log = logging.getLogger(__name__)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


@dataclass
class Digest:
    ts: str
    rows: int
    last: float
    """When rows were last added (on the notifier's clock)."""


@dataclass
class Slot:
    """A channel taken for one message: what the sender needs to know, and what it changes."""

    channel: str
    owner: str
    held: int
    """The hold's end (ms) as written by `take()`: `give()` writes back only while it is still ours."""
    sent: float | None
    """When the channel last got a message from the bot (None: never)."""
    digest: Digest | None
    not_before: float | None = None
    """Set by the sender when Slack asked to wait (`Retry-After`): the next message not before then."""


class ChannelSlots:
    def __init__(self, db: Database) -> None:
        self.db = db

    def take(self, channel: str, owner: str, *, now: float, hold: float) -> Slot | None:
        """The channel for one message, if its time has come (None: another message went or is going out)."""
        held = _ms(now + hold)
        with locked(self.db):
            taken = self.db.execute(
                "insert into channel_slots (channel, owner, next_ms, digest_rows) values (?, ?, ?, 0) "
                "on conflict (channel) do update set owner = excluded.owner, next_ms = excluded.next_ms "
                "where channel_slots.next_ms <= ?", [channel, owner, held, _ms(now)]).rowcount
        if not taken:
            holder = self._holder(channel)
            if holder is None or not owner_gone(holder):
                return None
            with locked(self.db):  # its holder was killed mid-send: of two takers, one wins
                taken = self.db.execute("update channel_slots set owner = ?, next_ms = ? where channel = ? and "
                                        "owner = ?", [owner, held, channel, holder]).rowcount
            if not taken:
                return None
        row = self.db.execute("select sent_ms, digest_ts, digest_rows, digest_ms from channel_slots "
                              "where channel = ?", [channel]).fetchone()
        sent, ts, rows, last = row
        digest = Digest(ts, int(rows), _seconds(last) or 0.0) if ts else None
        return Slot(channel, owner, held, _seconds(sent), digest)

    def give(self, slot: Slot, *, next_at: float) -> bool:
        """Write the slot's state back; the channel's next message may go at `next_at`. False if the hold ran out
        before (another instance may have taken the channel: its state stands)."""
        digest = slot.digest
        with locked(self.db):
            given = self.db.execute(
                "update channel_slots set owner = null, next_ms = ?, sent_ms = ?, digest_ts = ?, digest_rows = ?, "
                "digest_ms = ? where channel = ? and owner = ? and next_ms = ?",
                [_ms(next_at), None if slot.sent is None else _ms(slot.sent), digest.ts if digest else None,
                 digest.rows if digest else 0, _ms(digest.last) if digest else None, slot.channel, slot.owner,
                 slot.held]).rowcount
        if not given:
            log.warning("slack: %s was held longer than its hold; its limiter state was kept as another left it",
                        slot.channel)
        return bool(given)

    def ready_in(self, channel: str, *, now: float) -> float:
        """Seconds until the channel may get its next message (0: now)."""
        row = self.db.execute("select next_ms, owner from channel_slots where channel = ?", [channel]).fetchone()
        if row is None or (row[1] is not None and owner_gone(row[1])):
            return 0.0
        return max(0.0, (int(row[0]) - _ms(now)) / 1000)

    def _holder(self, channel: str) -> str | None:
        row = self.db.execute("select owner from channel_slots where channel = ?", [channel]).fetchone()
        return row[0] if row else None
