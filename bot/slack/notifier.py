"""Posts what Zuora's events lead to: drains the outbox's `propose` rows into the collections channel
and its `dm` rows into DMs (bill-run summaries). Also the backstop for approval cards: each
transition records a `card` row, which the desk marks done once it has updated the card (and
announced an ending); a row still pending after its delay (the process died in between) is done here.

Per channel, at most one message (post or update) every `interval` seconds (Slack's guideline is
about one per second per channel). A proposal in a quiet channel gets a card of its own; in a busy
one (a message from the bot within `quiet` seconds) rows are folded into a digest message (a row
each), and while that digest has room and the burst goes on, later rows are added to it in place
(`chat.update`) instead of new messages.
Every proposal ends on a card or a digest row. The limiter's state (when a channel may get its next
message, its open digest) is in the database (`bot.slack.pacing`), so several instances draining
one outbox keep these limits together: one instance sends to a channel at a time, and a burst
folds into one digest whichever instance handles its later rows. The clock (the wall clock, shared
by the instances) is injected; `pump()` never sleeps.

A proposal is opened with the id its row carries, so a retry after a crash finds the same proposal;
one that already has a card is not posted again.

    SlackApiError on a post: the rows are tried again (honouring `Retry-After` on `ratelimited`);
    after the outbox's last attempt the proposals are withdrawn, with the reason, in the audit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.actions import Record
from bot.actions.outbox import Item, Outbox
from bot.actions.proposals import parse_proposal
from bot.billruns.subscribers import Subscribers
from bot.slack.approvals import CARD_TOPIC, Desk
from bot.slack.cards import MAX_DIGEST_ROWS, digest_card
from bot.slack.pacing import ChannelSlots, Digest, Slot
from bot.storage import transaction
from bot.webhooks.events import DM_TOPIC, PROPOSE_TOPIC

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, desk: Desk | None, client: WebClient, outbox: Outbox, *, subscribers: Subscribers | None = None,
                 interval: float = 1.0, quiet: float = 30.0, max_rows: int = MAX_DIGEST_ROWS,
                 clock: Callable[[], float] = time.time, poll: float = 1.0, hold: float = 60.0,
                 owner: str | None = None) -> None:
        self.desk = desk
        self.client = client
        self.outbox = outbox
        self.subscribers = subscribers
        self.interval = interval
        self.quiet = quiet
        """A digest stops taking rows after this long without new ones (the next burst starts a new message)."""
        self.max_rows = max_rows
        self.clock = clock
        """Seconds on the wall clock: the channels' limits are shared with the other instances through the database."""
        self.poll = poll
        self.hold = hold
        """How long a channel stays taken while this process sends to it (freed sooner when the send ends)."""
        self.owner = owner or outbox.owner
        self.slots = ChannelSlots(outbox.db)
        self._lock = threading.Lock()
        self._team: str | None = None
        self._said: set[str] = set()
        self._wake = outbox.waker()

    def team(self) -> str:
        """The bot's own Slack team (proposals from Zuora belong to it)."""
        if self._team is None:
            self._team = str(self.client.auth_test().get("team_id") or "")
        return self._team

    # -- draining ------------------------------------------------------------------------------------

    def pump(self) -> float | None:
        """Send what the limits allow now; returns seconds until a channel may send again (None: nothing due)."""
        with self._lock:
            self._dms()
            wait: float | None = None
            lanes = [(c, self._channel) for c in self.outbox.lanes(PROPOSE_TOPIC)] + \
                [(c, self._cards) for c in self.outbox.lanes(CARD_TOPIC)]
            for channel, send in lanes:
                now = self.clock()
                ready = self.slots.ready_in(channel, now=now)  # a read first: a paced channel takes no write lock
                slot = self.slots.take(channel, self.owner, now=now, hold=self.hold) if ready <= 0 else None
                if slot is None:  # a message went out (from here or another instance) less than `interval` ago
                    ready = ready or self.slots.ready_in(channel, now=now)
                    wait = ready if wait is None else min(wait, ready)
                    continue
                sent: bool | None = None  # stays None if `send` raises: a message may have gone out, so paced
                try:
                    sent = send(channel, slot)
                finally:
                    next_at = now if sent is False else self.clock() + self.interval
                    self.slots.give(slot, next_at=max(next_at, slot.not_before or next_at))
                if sent:
                    wait = self.interval if wait is None else min(wait, self.interval)
            return wait

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: pump, then sleep until a row is recorded or a channel may send again."""
        while not stop.is_set():
            try:
                wait = self.pump()
            except Exception:  # Slack or the database hiccuped: the rows stay, try again shortly
                log.exception("notifier: pass failed")
                wait = self.poll
            self._wake.wait(min(wait if wait is not None else self.poll, self.poll))
            self._wake.clear()

    def flush(self, deadline: float, *, sleep: Callable[[float], None] = time.sleep) -> bool:
        """At shutdown (or after `poll --once`): send until nothing is due or `deadline` (on the clock) passes."""
        while self.clock() < deadline:
            wait = self.pump()
            if not self.outbox.due([PROPOSE_TOPIC, DM_TOPIC, CARD_TOPIC]):
                return True
            sleep(max(0.01, min(wait or 0.05, deadline - self.clock())))
        return not self.outbox.due([PROPOSE_TOPIC, DM_TOPIC, CARD_TOPIC])

    # -- the collections channel ---------------------------------------------------------------------

    def _say_once(self, reason: str) -> None:
        if reason not in self._said:
            self._said.add(reason)
            log.warning("notifier: proposals wait until %s (they are kept, not dropped)", reason)

    def _channel(self, channel: str, slot: Slot) -> bool:
        """One message's worth of rows for `channel` (taken: `slot`); True if a message was sent (the limiter
        counts it)."""
        digest = slot.digest
        now = self.clock()
        if digest is not None and (digest.rows >= self.max_rows or now - digest.last > self.quiet):
            slot.digest = digest = None
        items = self.outbox.claim([PROPOSE_TOPIC], lane=channel,
                                  limit=self.max_rows - digest.rows if digest else self.max_rows)
        if not items:
            return False
        if self.desk is None:
            self._say_once("APPROVERS is set")
            for item in items:
                self.outbox.wait(item, "APPROVERS is not set")
            return False
        busy = slot.sent is not None and now - slot.sent < self.quiet
        fresh: list[tuple[Item, Record]] = []
        for item in items:
            try:
                record = self.desk.approvals.open(parse_proposal(item.payload["proposal"]), requester=str(
                    item.payload.get("requester") or "zuora"), team=self.team(), channel=channel,
                    proposal_id=str(item.payload["id"]))
            except Exception as exc:  # a row that cannot be opened must not hold up the others
                log.exception("notifier: proposal %s could not be opened", item.key)
                self.outbox.later(item, f"{type(exc).__name__}: {exc}")
                continue
            if record.message_ts or record.status != "pending":  # posted before a crash, or already decided
                self.outbox.done(item)
                continue
            fresh.append((item, record))
        alone = [(i, r) for i, r in fresh if i.payload.get("alone")]  # a card of its own (a large invoice's note)
        fresh = [(i, r) for i, r in fresh if not i.payload.get("alone")]
        for pair in alone:
            try:
                posted = self.client.chat_postMessage(channel=channel, **self.desk.card(pair[1]))
                self._attach([pair], str(posted["channel"]), str(posted["ts"]))
            except SlackApiError as exc:
                self._refused(slot, [pair], exc)
            except Exception as exc:  # Slack unreachable: the row stays and is tried again
                self.outbox.later(pair[0], f"{type(exc).__name__}: {exc}")
        if not fresh:
            return bool(alone)
        try:
            if digest is not None:
                self._fold(slot, digest, fresh)
            elif len(fresh) == 1 and not busy:
                item, record = fresh[0]
                posted = self.client.chat_postMessage(channel=channel, **self.desk.card(record))
                self._attach(fresh, str(posted["channel"]), str(posted["ts"]))
                log.info("collections: %s card posted in %s", record.kind, channel)
            else:
                message = self.client.chat_postMessage(channel=channel, **digest_card(
                    [r for _, r in fresh], now=self.desk.approvals.now()))
                self._attach(fresh, str(message["channel"]), str(message["ts"]))
                slot.digest = Digest(str(message["ts"]), len(fresh), self.clock())
                log.info("collections: %d proposals posted as a digest in %s", len(fresh), channel)
        except SlackApiError as exc:
            self._refused(slot, fresh, exc)
        except Exception as exc:  # Slack unreachable: the rows stay and are tried again
            log.warning("slack: posting to %s failed (%s); %d proposal(s) will be tried again", channel,
                        type(exc).__name__, len(fresh))
            for item, _ in fresh:
                self.outbox.later(item, f"{type(exc).__name__}: {exc}")
        slot.sent = self.clock()
        return True

    def _fold(self, slot: Slot, digest: Digest, fresh: list[tuple[Item, Record]]) -> None:
        """Add rows to the channel's digest in place."""
        assert self.desk is not None
        channel = slot.channel
        store = self.desk.approvals.store
        together = [*store.on_card(channel, digest.ts), *(r for _, r in fresh)]
        try:
            self.client.chat_update(channel=channel, ts=digest.ts, **digest_card(together,
                                                                                 now=self.desk.approvals.now()))
        except SlackApiError as exc:
            if exc.response.get("error") == "ratelimited":
                raise
            slot.digest = None  # deleted or too old to edit: the rows go into a new message
            for item, _ in fresh:
                self.outbox.release(item)
            return
        self._attach(fresh, channel, digest.ts)
        digest.rows += len(fresh)
        digest.last = self.clock()
        log.info("collections: %d proposals added to the digest in %s (%d rows)", len(fresh), channel, digest.rows)

    def _attach(self, fresh: list[tuple[Item, Record]], channel: str, ts: str) -> None:
        assert self.desk is not None
        with transaction(self.outbox.db):
            for item, record in fresh:
                self.desk.approvals.attach_card(record.id, channel, ts)
                self.outbox.done(item)

    def _refused(self, slot: Slot, fresh: list[tuple[Item, Record]], exc: SlackApiError) -> None:
        assert self.desk is not None
        channel = slot.channel
        error = str(exc.response.get("error"))
        retry_after = exc.response.headers.get("Retry-After") if error == "ratelimited" else None
        delay = timedelta(seconds=float(retry_after)) if retry_after else None
        log.warning("slack: posting to %s refused (%s); %d proposal(s) will be tried again", channel, error,
                    len(fresh))
        if retry_after:
            slot.not_before = self.clock() + float(retry_after)
        for item, record in fresh:
            if self.outbox.later(item, f"slack: {error}", delay=delay) == "failed":
                self.desk.approvals.withdraw(record.id, actor="bot",
                                             reason=f"the card could not be posted in {channel} ({error})")

    # -- cards after a transition (the backstop) -----------------------------------------------------

    def _cards(self, channel: str, _slot: Slot) -> bool:
        """Bring one proposal's card in step (and announce its ending) when the desk could not, e.g. the
        process died between the transition and the Slack call; True if Slack was called."""
        items = self.outbox.claim([CARD_TOPIC], lane=channel, limit=50)
        if not items:
            return False
        first = str(items[0].payload["id"])
        mine = [i for i in items if str(i.payload["id"]) == first]
        for item in items:
            if item not in mine:
                self.outbox.release(item)  # another proposal: the next slot
        record = self.desk.approvals.get(first) if self.desk is not None else None
        if record is None or self.desk is None:
            for item in mine:
                self.outbox.done(item)
            return False
        self.desk.refresh(self.client, record)
        if any(i.payload.get("announce") for i in mine):
            self.desk.announce(self.client, record)
        for item in mine:
            self.outbox.done(item)
        log.info("cards: %s brought in step from the outbox (%s)", record.id, record.status)
        return True

    # -- DMs -----------------------------------------------------------------------------------------

    def _dms(self) -> None:
        """Send due DMs; a bill-run summary is recorded as delivered with its row, after Slack took it
        (a crash in between may send it twice, never lose it)."""
        for item in self.outbox.claim([DM_TOPIC], limit=20):
            user = str(item.payload["user"])
            bill_run = str(item.payload.get("bill_run_id") or "")
            try:
                sent = self.dm(user, item.payload["message"])
            except Exception as exc:  # Slack unreachable
                log.warning("slack: DM to %s failed (%s)", user, type(exc).__name__)
                sent = False
            if not sent:
                self.outbox.later(item, "slack refused the DM")
                continue
            with transaction(self.outbox.db):
                if bill_run and self.subscribers is not None:
                    self.subscribers.claim(bill_run, user)
                self.outbox.done(item)

    def dm(self, user_id: str, message: dict[str, Any]) -> bool:
        """Send `message` (`text`, `blocks`) to `user_id` by DM; False (logged) if Slack refused."""
        try:
            channel = self.client.conversations_open(users=user_id)["channel"]["id"]
            self.client.chat_postMessage(channel=channel, **message)
        except SlackApiError as exc:
            log.warning("slack: DM to %s failed (%s)", user_id, exc.response.get("error"))
            return False
        return True
