"""A declined payment: re-read it and its account from Zuora, apply the dunning rules, draft the proposal.

The callout is only a hint. A payment Zuora now shows as processed, or an account with nothing
open, leads to nothing. The facts come from Zuora: the payment's gateway code and message, the
payment method (expired? a backup?), the oldest open invoice, the account's payments in the last
12 months, plus the proposals already waiting for that invoice.

    bot.zuora.errors.ZuoraError     Zuora could not be read (the caller marks the callout failed)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice

from bot.actions import Approvals, Proposal, ProposalError
from bot.actions.dunning import Decision, DunningRules, Facts, decide
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraNotFound

__all__ = ["Declined", "handle_declined"]


@dataclass(frozen=True)
class Declined:
    """What came of a declined-payment event: a drafted proposal, or why there is none."""

    proposal: Proposal | None
    summary: str
    decision: Decision | None = None


def handle_declined(client: ZuoraClient, approvals: Approvals, payment_key: str, *, today: date,
                    rules: DunningRules | None = None) -> Declined:
    try:
        payment = client.payments.get(payment_key)
    except ZuoraNotFound:
        return Declined(None, f"Zuora has no payment {payment_key}; nothing to do.")
    if payment.status != "Error":
        return Declined(None, f"Payment {payment.payment_number} is {payment.status} in Zuora now; nothing to do.")
    account = client.accounts.get(payment.account_id)
    open_invoices = list(islice(client.invoices.query(
        filters=[f"accountid.EQ:{account.account_id}", "status.EQ:Posted", "balance.GT:0"], sort="duedate.ASC",
        page_size=20), 20))
    if not open_invoices:
        return Declined(None, f"{account.account_number} has nothing open; nothing to do.")
    invoice = open_invoices[0]
    history = list(islice(client.payments.list(account.account_id, page_size=40), 40))
    year_ago = today - timedelta(days=365)
    processed = [p for p in history if p.status == "Processed" and p.effective_date >= year_ago]
    failed = [p for p in history if p.status == "Error" and p.effective_date >= invoice.invoice_date]
    methods = client.payment_methods.of_account(account.account_id)
    failing = next((m for m in methods if m.payment_method_id == payment.payment_method_id), None)
    backup = next((m for m in methods if m.payment_method_id != payment.payment_method_id
                   and m.method_type in ("CreditCard", "ACH", "BankTransfer", "DebitCard") and not m.expired(today)
                   and m.num_consecutive_failures == 0), None)
    waiting = tuple(r.kind for r in approvals.pending() if r.proposal.invoice_id == invoice.invoice_id)
    facts = Facts(today=today, code=payment.gateway_response_code, message=payment.gateway_response,
                  currency=invoice.currency, invoice_number=invoice.invoice_number, balance=invoice.balance,
                  days_overdue=max(0, (today - invoice.due_date).days) if invoice.due_date else 0,
                  failed_attempts=len(failed), consecutive_failures=failing.num_consecutive_failures if failing else 0,
                  card_expired=bool(failing and failing.expired(today)), has_backup=backup is not None,
                  paid_last_12_months=sum((p.amount for p in processed), Decimal(0)),
                  payment_days=tuple(p.effective_date.day for p in processed), waiting=waiting)
    decision = decide(facts, rules or DunningRules())
    if decision.kind is None:
        return Declined(None, f"Payment {payment.payment_number}: {decision.reasons[0]}.", decision)
    drafts = approvals.drafts()
    reason = f"payment {payment.payment_number} declined ({payment.gateway_response_code or '?'})"
    extra = [f"Dunning rule: {r}" for r in decision.reasons]
    try:
        proposal: Proposal
        if decision.kind == "payment_retry":
            proposal = drafts.payment_retry(invoice.invoice_number, None, reason, on=decision.retry_on, extra=extra,
                                            payment_method_id=backup.payment_method_id if backup and
                                            decision.use_backup else None)
        elif decision.kind == "dunning_email":
            proposal = drafts.dunning_email(invoice.invoice_number, reason, extra=extra,
                                            ask="Your last payment was declined: please update your payment method "
                                                "so we can collect it.")
        elif decision.kind == "payment_plan":
            proposal = drafts.payment_plan(invoice.invoice_number, 3, reason, extra=extra)
        else:
            proposal = drafts.collections_escalation(account.account_number, reason, extra=extra)
    except ProposalError as exc:
        return Declined(None, f"Payment {payment.payment_number}: {decision.kind} not proposed: {exc}", decision)
    return Declined(proposal, f"Payment {payment.payment_number}: proposed {decision.kind}.", decision)
