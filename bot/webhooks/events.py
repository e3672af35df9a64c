"""What Zuora events lead to: a declined payment → a dunning proposal for the collections channel; a
completed bill run → a summary DM to each subscriber.

An event taken by the inbox is a `callout` row in the outbox. `handle()` runs it: it reads Zuora,
decides, and records the effects (`propose` rows for the collections channel, `dm` rows) together
with "inbox done" and "row done" in one transaction, so a crash anywhere leaves the event to be
run again and never half-recorded. The Slack side (`bot.slack.notifier`) drains the effects.

An event whose feature is switched off (no `APPROVERS`, no `COLLECTIONS_CHANNEL`) waits: the row
stays pending and is looked at again every `wait_every`; the log says once why.

    bot.zuora.errors.ZuoraError and anything else raised by `handle()`: the worker retries the row
    with backoff; after its last attempt the inbox row is marked failed (Zuora's retry or the
    poller may then bring the event again).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlite_utils

from bot.actions import Approvals
from bot.actions.dunning import DunningRules
from bot.actions.outbox import Item, Outbox
from bot.billruns.subscribers import Subscribers
from bot.storage import transaction
from bot.webhooks.billrun_notes import NotePlan, plan_notes
from bot.webhooks.callouts import Callout
from bot.webhooks.declines import handle_declined
from bot.webhooks.inbox import CALLOUT_TOPIC, Inbox
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraNotFound

__all__ = ["DM_TOPIC", "NOTE_TOPIC", "PROPOSE_TOPIC", "Effect", "Events", "Waiting"]

log = logging.getLogger(__name__)

PROPOSE_TOPIC = "propose"
"""A proposal for a channel: payload `id`, `proposal` (JSON), `requester`; lane = the channel."""
NOTE_TOPIC = "note_autopilot"
"""A note applied without a card (`NOTE_AUTOPILOT`): payload `id`, `proposal` (JSON), `channel`."""
DM_TOPIC = "dm"
"""A direct message: payload `user`, `message` (`text`, `blocks`), optional `bill_run_id`."""


@dataclass(frozen=True)
class Effect:
    topic: str
    key: str
    payload: dict[str, Any]
    lane: str = ""


@dataclass(frozen=True)
class Waiting:
    """The event cannot be handled while a feature is off; `reason` says which setting turns it on."""

    reason: str


@dataclass
class Events:
    zuora: ZuoraClient
    db: sqlite_utils.Database
    outbox: Outbox
    approvals: Approvals | None
    channel: str | None
    subscribers: Subscribers
    today: Callable[[], date]
    rules: DunningRules = field(default_factory=DunningRules)
    billrun_message: Callable[[Any], dict[str, Any]] | None = None
    """Builds the summary DM (Block Kit, from `bot.slack`); None when Slack is not wired."""
    notes: NotePlan | None = None
    """Customer notes after a completed bill run (`BILLRUN_NOTES=true`); None when off."""
    on_bill_run: Callable[[str], Any] | None = None
    """Told the id of each bill run a completion event names (a proposal following it looks now)."""
    wait_every: timedelta = timedelta(seconds=60)
    max_attempts: int = 12
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    _said: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.inbox = Inbox(self.db)

    # -- the outbox handler --------------------------------------------------------------------------

    def handle(self, item: Item) -> str | None:
        """Run one `callout` row; returns the inbox detail (None while it waits)."""
        callout = Callout(event=item.payload["event"], object_id=item.payload["object_id"], fields={},
                          notification_id=item.payload.get("notification_id"))
        key = callout.business_key
        try:
            result = self.run(callout)
        except Exception as exc:
            if item.attempts >= self.max_attempts:  # the last try: let Zuora's retry or the poller bring it again
                with transaction(self.db):
                    self.inbox.finish(key, ok=False, detail=f"{type(exc).__name__}: {exc}")
            raise
        if isinstance(result, Waiting):
            with self._lock:
                first = result.reason not in self._said
                self._said.add(result.reason)
            if first:
                log.warning("callouts: %s events wait until %s (they are kept, not dropped)", callout.event,
                            result.reason)
            self.inbox.note(key, f"waiting until {result.reason}")  # before the row says so: readers see both
            self.outbox.wait(item, result.reason, delay=self.wait_every)
            return None
        detail, effects = result
        with transaction(self.db):
            for effect in effects:
                revive = ("failed", "done") if effect.topic == PROPOSE_TOPIC else ("failed",)  # a new decline
                if not self.outbox.add(effect.topic, effect.key, effect.payload, lane=effect.lane, revive=revive) \
                        and effect.topic == PROPOSE_TOPIC:
                    detail = f"{detail} (a proposal for {effect.payload.get('target')} is already queued)"
            self.inbox.finish(key, ok=True, detail=detail)
            self.outbox.done(item)
        log.info("callout %s: %s", key, detail)
        return detail

    def take(self, callout: Callout, *, source: str) -> bool:
        """Take an event (False for a duplicate) and record its work in the outbox."""
        return self.inbox.take(callout.business_key, event=callout.event, object_id=callout.object_id,
                               source=source, notification_id=callout.notification_id, outbox=self.outbox)

    def run_now(self, business_key: str, *, timeout: float = 60.0) -> str | None:
        """Handle the `callout` row of `business_key` in this thread (the poller's pass) and return the inbox
        detail; if another worker holds it, wait (up to `timeout`) for its result. None while it waits."""
        item = self.outbox.claim_key(f"{CALLOUT_TOPIC}:{business_key}")
        if item is not None:
            return self.handle(item)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.inbox.status(business_key)
            if status is not None and status[0] != "taken":
                return status[1]
            row = self.outbox.status(f"{CALLOUT_TOPIC}:{business_key}")
            if row is not None and row[2].startswith("waiting"):
                return None
            time.sleep(0.05)
        return None

    # -- what an event leads to ----------------------------------------------------------------------

    def run(self, callout: Callout) -> tuple[str, list[Effect]] | Waiting:
        if callout.event == "PaymentDeclined":
            return self.declined(callout.object_id)
        return self.bill_run_completed(callout.object_id)

    def declined(self, payment_key: str) -> tuple[str, list[Effect]] | Waiting:
        if self.approvals is None:
            return Waiting("APPROVERS is set (proposals are off without approvers)")
        if not self.channel:
            return Waiting("COLLECTIONS_CHANNEL is set (where proposals from Zuora events go)")
        result = handle_declined(self.zuora, self.approvals, payment_key, today=self.today(), rules=self.rules)
        if result.proposal is None:
            return result.summary, []
        proposal = result.proposal
        effect = Effect(PROPOSE_TOPIC, f"{PROPOSE_TOPIC}:{self.channel}:{proposal.target}", {
            "id": self.new_id(), "proposal": proposal.model_dump(mode="json"), "requester": "zuora",
            "target": proposal.target}, lane=self.channel)
        return f"{result.summary} Queued for {self.channel}.", [effect]

    def bill_run_completed(self, key: str) -> tuple[str, list[Effect]] | Waiting:
        """Summarise a completed bill run for each subscriber (one DM each, ever)."""
        from bot.billruns import find_bill_run, summarize

        if self.on_bill_run is not None:
            self.on_bill_run(key)
        if self.billrun_message is None:
            return Waiting("the Slack app runs (bill-run summaries are sent as Slack DMs)")
        try:
            run = find_bill_run(self.zuora, key)
        except ZuoraNotFound:
            return f"Zuora has no bill run {key}; nothing to do.", []
        if run.status != "Completed":
            return f"Bill run {run.bill_run_number} is {run.status}; a summary is sent once it is completed.", []
        notes = self.bill_run_notes(run.bill_run_id, run.bill_run_number) if self.notes else None
        if isinstance(notes, Waiting):
            return notes
        said, noted = notes or ("", [])
        subscribers = self.subscribers.all()
        if not subscribers:
            return f"Bill run {run.bill_run_number}: nobody subscribed.{said}", noted
        message = self.billrun_message(summarize(self.zuora, run))
        effects = [Effect(DM_TOPIC, f"{DM_TOPIC}:billrun:{run.bill_run_id}:{user}",
                          {"user": user, "message": message, "bill_run_id": run.bill_run_id}) for user in subscribers]
        return f"Bill run {run.bill_run_number}: summary sent to {len(effects)} subscriber(s).{said}", effects + noted

    def bill_run_notes(self, bill_run_id: str, bill_run_number: str) -> tuple[str, list[Effect]] | Waiting:
        """A note proposal per invoice of the run (`BILLRUN_NOTES`), routed by `billrun_notes.plan_notes`."""
        assert self.notes is not None
        if self.approvals is None:
            return Waiting("APPROVERS is set (customer notes are proposals)")
        if not self.channel:
            return Waiting("COLLECTIONS_CHANNEL is set (where customer notes are reviewed)")
        routed, skipped = plan_notes(self.zuora, bill_run_number, self.notes, today=self.today(),
                                     channel=self.channel)
        effects = []
        for r in routed:
            payload = {"id": self.new_id(), "proposal": r.proposal.model_dump(mode="json"), "requester": "zuora",
                       "target": r.proposal.target, "channel": self.channel, "alone": r.alone}
            topic = NOTE_TOPIC if r.proposal.autopilot else PROPOSE_TOPIC
            effects.append(Effect(topic, f"{topic}:note:{bill_run_id}:{r.proposal.invoice_id}", payload,
                                  lane=r.lane if topic == PROPOSE_TOPIC else ""))
        alone = sum(r.alone for r in routed)
        auto = sum(r.proposal.autopilot for r in routed)
        said = (f" Notes: {alone} to review one by one, {len(routed) - alone - auto} grouped, {auto} by the "
                f"autopilot" + (f", {len(skipped)} skipped" if skipped else "") + ".")
        return said, effects

    def apply_note(self, item: Item) -> None:
        """A `note_autopilot` row: open the proposal (once) and apply it without a click (audited as autopilot)."""
        from bot.actions.kinds import parse_proposal

        if self.approvals is None:
            self.outbox.wait(item, "APPROVERS is not set", delay=self.wait_every)
            return
        record = self.approvals.open(parse_proposal(item.payload["proposal"]), requester="zuora", team="",
                                     channel=str(item.payload.get("channel") or ""),
                                     proposal_id=str(item.payload["id"]))
        result = self.approvals.autopilot(record.id)
        log.info("note autopilot %s: %s", record.id, result.kind)
        self.outbox.done(item)
