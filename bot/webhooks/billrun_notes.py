"""After a completed bill run (`BILLRUN_NOTES=true`): a customer note per invoice, routed for review.

Each invoice of the run (Draft or Posted) gets an `InvoiceNote` proposal in the customer's language.
Invoices at or above `NOTE_REVIEW_THRESHOLD` (in their own currency) or on a high-touch account
(`HIGH_TOUCH_FIELD` true) go one by one to the account owner (`ACCOUNT_OWNER_FIELD` holding a Slack
user id) or else the collections channel; the rest go together to the collections channel, where
the notifier folds them into one grouped card. With `NOTE_AUTOPILOT=true` the rest are applied
without a card instead, each audited as approved by the autopilot. Nothing here writes to Zuora.

    bot.zuora.errors.ZuoraError   Zuora could not be read (the event is retried)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.actions.kinds import DraftContext, InvoiceNote, ProposalError
from bot.copilot.notes import NoteSettings, draft_note_for
from bot.zuora import Account, ZuoraClient

__all__ = ["NotePlan", "Routed", "plan_notes"]

_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TRUE = {"true", "yes", "1", "y", "on"}


@dataclass(frozen=True)
class NotePlan:
    """The bill-run note settings (from `Settings`)."""

    notes: NoteSettings
    threshold: Decimal = Decimal("10000")
    high_touch_field: str = "HighTouch__c"
    owner_field: str = "AccountOwner__c"
    autopilot: bool = False

    @classmethod
    def of(cls, settings: Any, notes: NoteSettings) -> NotePlan:
        return cls(notes=notes, threshold=settings.note_review_threshold, high_touch_field=settings.high_touch_field,
                   owner_field=settings.account_owner_field, autopilot=settings.note_autopilot)


@dataclass(frozen=True)
class Routed:
    """One drafted note and where it goes: `lane` (a channel or a user id); `alone` for a card of its own."""

    proposal: InvoiceNote
    lane: str
    alone: bool
    why: str


def _high_touch(account: Account, field: str) -> bool:
    value = account.custom_fields.get(field)
    return value is True or str(value).strip().casefold() in _TRUE


def plan_notes(client: ZuoraClient, bill_run_number: str, plan: NotePlan, *, today: date,
               channel: str) -> tuple[list[Routed], list[str]]:
    """The notes for a bill run's invoices and their routes; also what was skipped, in words."""
    ctx = DraftContext(client, today)
    routed: list[Routed] = []
    skipped: list[str] = []
    accounts: dict[str, Account] = {}
    for row in client.invoices.of_bill_run(bill_run_number, page_size=99, sort="accountid.ASC"):
        if row.status not in ("Draft", "Posted"):
            skipped.append(f"{row.invoice_number} is {row.status}")
            continue
        invoice = client.invoices.get(row.invoice_id)
        account = accounts.get(invoice.account_id) or client.accounts.get(invoice.account_id)
        accounts[invoice.account_id] = account
        autopilot = plan.autopilot
        large = invoice.amount >= plan.threshold
        touch = _high_touch(account, plan.high_touch_field)
        if large or touch:
            autopilot = False
        try:
            proposal = draft_note_for(ctx, invoice, account, settings=plan.notes, autopilot=autopilot,
                                      reason=f"customer note after bill run {bill_run_number}")
        except ProposalError as exc:
            skipped.append(f"{invoice.invoice_number}: {exc}")
            continue
        if large or touch:
            owner = str(account.custom_fields.get(plan.owner_field) or "").strip()
            lane = owner if _SLACK_USER.match(owner) else channel
            why = "large invoice" if large else "high-touch account"
            routed.append(Routed(proposal, lane, True, why))
        else:
            routed.append(Routed(proposal, channel, False, "autopilot" if autopilot else "grouped"))
    return routed, skipped
