"""Draft proposals from Zuora data: one method per kind, each handing off to its module in `bot.actions.kinds`.

A draft is checked against what Zuora says now (posted invoice, open balance, usable payment
method, amount within what the invoice allows) and carries the `Snapshot` the approver will see.
Nothing here writes to Zuora. `snapshot()` re-reads the object for the stale check at execution.

    ProposalError (bot.actions.kinds)   the request does not fit the data, or the object is unknown
    bot.zuora.errors.ZuoraError         Zuora could not be read (the caller says so)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.actions.kinds import (
    CollectionsEscalation,
    CreditMemo,
    DraftContext,
    DunningEmail,
    PaymentPlan,
    PaymentRetry,
    Proposal,
    Snapshot,
    WriteOff,
    account_snapshot,
    bill_run,
    collections_escalation,
    credit_memo,
    dunning_email,
    invoice_schedule_run,
    invoice_snapshot,
    payment_plan,
    payment_retry,
    write_off,
)
from bot.actions.kinds.base import ESCALATION_FIELD
from bot.actions.kinds.credit_memo import reason_code_for

__all__ = ["ESCALATION_FIELD", "Drafts", "account_snapshot", "invoice_snapshot", "reason_code_for"]


class Drafts(DraftContext):
    """Builds proposals from Zuora reads; `today` is the tenant's date."""

    def credit_memo(self, typed: str, amount: Decimal, reason: str) -> CreditMemo:
        return credit_memo.draft(self, typed, amount, reason)

    def write_off(self, typed: str, reason: str) -> WriteOff:
        return write_off.draft(self, typed, reason)

    def payment_retry(self, typed: str, amount: Decimal | None, reason: str, *, on: date | None = None,
                      payment_method_id: str | None = None, extra: list[str] | None = None) -> PaymentRetry:
        return payment_retry.draft(self, typed, amount, reason, on=on, payment_method_id=payment_method_id,
                                   extra=extra)

    def payment_plan(self, typed: str, installments: int, reason: str, amount: Decimal | None = None, *,
                     extra: list[str] | None = None) -> PaymentPlan:
        return payment_plan.draft(self, typed, installments, reason, amount, extra=extra)

    def dunning_email(self, typed: str, reason: str, *, extra: list[str] | None = None,
                      ask: str = "Please let us know if anything is holding up payment.") -> DunningEmail:
        return dunning_email.draft(self, typed, reason, extra=extra, ask=ask)

    def collections_escalation(self, typed: str, reason: str, *,
                               extra: list[str] | None = None) -> CollectionsEscalation:
        return collections_escalation.draft(self, typed, reason, extra=extra)

    def invoice_schedule_run(self, number: str, mode: invoice_schedule_run.Mode, position: int | None, reason: str,
                             *, post_invoice: bool = True) -> invoice_schedule_run.InvoiceScheduleRun:
        return invoice_schedule_run.draft(self, number, mode, position, reason, post_invoice=post_invoice)

    def bill_run(self, account: str, target: date | None, reason: str, *,
                 post_invoice: bool = True) -> bill_run.BillRunNow:
        return bill_run.draft(self, account, target, reason, post_invoice=post_invoice)

    def again(self, p: Proposal) -> Proposal:
        """The same request drafted again from today's data (after a stale or expired card)."""
        return p.again(self)

    def snapshot(self, proposal: Proposal) -> Snapshot:
        """The object now, for the stale check before executing."""
        return proposal.reread(self.client)
