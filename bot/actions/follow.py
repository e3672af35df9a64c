"""Following a bill run that an approved proposal started, to its end, and saying on the card what came of it.

A proposal whose outcome names a bill run (`zuora_ids["bill_run_id"]`: an invoice schedule run, an ad
hoc bill run) gets a `follow` row in the outbox, written in the transaction that records the success,
so a restart resumes following it. `handle()` reads the bill run:

    Pending / Processing     look again later: 5 s, 10 s, 20 s … capped (`cap`), at most `max_checks` times
                             (with Zuora callouts configured, the completion callout hurries the row instead)
    Completed / Posted       the invoices it generated; Draft ones are posted when the proposal says so
                             (`PUT /v1/invoices/{id}/post`, the one write outside `executor`: it takes no
                             Idempotency-Key, so each invoice is re-read first and only a Draft is posted;
                             after a crash an invoice already posted is not posted again)
    Error / Canceled         Zuora's error message
    still running at the end of the bound: the card says so and points to Zuora

The result replaces the proposal's outcome message (status stays `succeeded`: the bill run was
created), is audited as `followed`, and a `card` row announces it (card update, thread reply, DM),
all in one transaction with the row's `done`. `completed(bill_run_id)` is called after that (bill-run
subscribers get the usual summary).

    bot.zuora.errors.ZuoraError while reading: raised, so the outbox worker retries the row with backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from bot.actions.approvals import Approvals
from bot.actions.outbox import Item, Outbox
from bot.actions.store import Record
from bot.money import money
from bot.storage import transaction
from bot.zuora import Invoice
from bot.zuora.errors import ZuoraAPIError, ZuoraNotFound

__all__ = ["CARD_TOPIC", "FOLLOW_TOPIC", "Follower"]

log = logging.getLogger(__name__)

FOLLOW_TOPIC = "follow"
"""Outbox rows: key `follow:<bill run id>`, payload `id` (the proposal), `bill_run_id`, `bill_run_number`."""
CARD_TOPIC = "card"
"""The card rows `bot.slack.notifier` drains (same name as `bot.slack.approvals.CARD_TOPIC`)."""
_RUNNING = ("Pending", "Processing", "PostInProgress", "CancelInProgress", "RemoveInProgress")


class Follower:
    def __init__(self, approvals: Approvals, outbox: Outbox, *, callouts: bool = False, max_checks: int = 10,
                 first: timedelta = timedelta(seconds=5), cap: timedelta = timedelta(minutes=2),
                 completed: Callable[[str], None] | None = None) -> None:
        if max_checks >= outbox.max_attempts:
            raise ValueError("max_checks must stay below the outbox's max_attempts")
        self.approvals = approvals
        self.outbox = outbox
        self.callouts = callouts
        """Zuora's completion callout is configured: polls are a slower backstop, the callout hurries them."""
        self.max_checks = max_checks
        self.first = first * 6 if callouts else first
        self.cap = cap
        self.completed = completed

    # -- recording -------------------------------------------------------------------------------------

    def on_change(self, record: Record, action: str, status: str) -> None:
        """`Approvals.on_change`: a success that started a bill run gets its follow row (same transaction)."""
        if status != "succeeded" or action == "followed":
            return
        current = self.approvals.store.get(record.id)
        ids = ((current.outcome or {}).get("zuora_ids") or {}) if current else {}
        bill_run_id = ids.get("bill_run_id")
        if not bill_run_id or bill_run_id == "None":
            return
        self.outbox.add(FOLLOW_TOPIC, f"{FOLLOW_TOPIC}:{bill_run_id}", {
            "id": record.id, "bill_run_id": bill_run_id, "bill_run_number": ids.get("bill_run_number")},
            delay=self.first)

    def hurry(self, bill_run_id: str) -> bool:
        """A completion callout arrived for `bill_run_id`: look at it now if it is being followed."""
        return self.outbox.hurry(f"{FOLLOW_TOPIC}:{bill_run_id}")

    def delay(self, checks: int) -> timedelta:
        return min(self.cap, self.first * 2 ** max(0, checks - 1))

    # -- the outbox handler ----------------------------------------------------------------------------

    def handle(self, item: Item) -> None:
        record = self.approvals.get(str(item.payload["id"]))
        if record is None:
            self.outbox.done(item)
            return
        client = self.approvals.client
        bill_run_id = str(item.payload["bill_run_id"])
        try:
            run = client.bill_runs.get(bill_run_id)
        except ZuoraNotFound:
            self._finish(item, record, f"Bill run {item.payload.get('bill_run_number')} is gone from Zuora (deleted?); "
                                       f"no invoice to report.", {})
            return
        if run.status in _RUNNING:
            if item.attempts >= self.max_checks:
                waited = sum((self.delay(n) for n in range(1, item.attempts + 1)), timedelta(0))
                self._finish(item, record, f"Bill run {run.bill_run_number} is still {run.status} after "
                                           f"{item.attempts} checks over about {_words(waited)}; follow it in Zuora "
                                           f"(nothing more is done here).", {"bill_run_status": run.status})
                return
            self.outbox.later(item, f"bill run {run.bill_run_number} {run.status}", delay=self.delay(item.attempts))
            return
        if run.status == "Error":
            detail = _error_message(client, run.bill_run_number) or "no message from Zuora"
            self._finish(item, record, f"Bill run {run.bill_run_number} ended in Error: {detail}. No invoice was "
                                       f"created; nothing was posted.", {"bill_run_status": "Error"})
            return
        if run.status == "Canceled":
            self._finish(item, record, f"Bill run {run.bill_run_number} was canceled in Zuora; its Draft invoices "
                                       f"were canceled too.", {"bill_run_status": "Canceled"})
            return
        message, ids = self._invoices(record, run.bill_run_number)
        self._finish(item, record, message, {"bill_run_status": run.status, **ids}, completed=run.bill_run_id)

    def _invoices(self, record: Record, number: str) -> tuple[str, dict[str, str]]:
        client = self.approvals.client
        invoices = [i for i in client.invoices.of_bill_run(number) if i.account_id == record.proposal.account_id]
        if not invoices:
            return (f"Bill run {number} completed with no invoice for {record.proposal.account_number} (nothing was "
                    f"due by its target date)."), {}
        post = bool(getattr(record.proposal, "post_invoice", False)) and not self.approvals.read_only
        parts, refused = [], []
        for invoice in invoices[:20]:
            current = client.invoices.get(invoice.invoice_id)
            if post and current.status == "Draft":
                try:
                    client.put(f"/v1/invoices/{current.invoice_id}/post", {})
                except ZuoraAPIError as exc:
                    refused.append(f"{current.invoice_number}: {exc.messages[0] if exc.messages else exc.status}")
                current = client.invoices.get(invoice.invoice_id)
            parts.append(_invoice_words(current))
        message = f"Bill run {number} completed: {'; '.join(parts)}."
        if refused:
            message += f" Zuora refused to post {'; '.join(refused)}; it stays a Draft."
        elif self.approvals.read_only and getattr(record.proposal, "post_invoice", False):
            message += " READ_ONLY is set: nothing was posted; post it in Zuora."
        elif not post:
            message += " Left as Draft for review (post it in Zuora)."
        return message, {"invoice_numbers": ",".join(i.invoice_number for i in invoices[:20])}

    def _finish(self, item: Item, record: Record, message: str, ids: dict[str, str], *,
                completed: str | None = None) -> None:
        now = self.approvals.now()
        with transaction(self.approvals.db):
            # the outcome as stored now (its row held until the end on PostgreSQL), not as it was read earlier
            record = self.approvals.store.get(record.id, lock=True) or record
            outcome: dict[str, Any] = dict(record.outcome or {})
            started = outcome.get("started") or outcome.get("message")
            zuora_ids = {**(outcome.get("zuora_ids") or {}), **ids}
            outcome.update(message=message, started=started, zuora_ids=zuora_ids,
                           document=(ids.get("invoice_numbers") or outcome.get("document")))
            self.approvals.store.set_outcome(record.id, outcome, now)
            self.approvals.audit.append(
                at=now.astimezone(UTC), actor="bot", team=record.team, channel=record.channel, proposal_id=record.id,
                action="followed", outcome=record.status, request_hash=record.request.digest(), zuora_ids=zuora_ids,
                detail=message, version=record.version, body_hash=record.body_hash, kind=record.kind,
                request=record.request, amount=record.proposal.amount, account_number=record.proposal.account_number,
                target=record.proposal.target)
            if record.channel:
                self.outbox.add(CARD_TOPIC, f"{CARD_TOPIC}:{record.id}:announce:followed",
                                {"id": record.id, "status": record.status, "announce": True}, lane=record.channel)
            self.outbox.done(item)
        log.info("follow: %s %s", record.id, message[:200])
        if completed and self.completed is not None:
            try:
                self.completed(completed)
            except Exception:  # the summary has its own backstop (the poller); the follow-up is recorded
                log.exception("follow: bill-run summary for %s not queued", completed)


def _invoice_words(invoice: Invoice) -> str:
    return f"invoice {invoice.invoice_number} for {money(invoice.amount, invoice.currency)}, {invoice.status}"


def _error_message(client: Any, number: str) -> str | None:
    try:
        return client.bill_runs.by_number(number).error_message
    except (ZuoraNotFound, ZuoraAPIError):
        return None


def _words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes else f"{int(span.total_seconds())} s"
