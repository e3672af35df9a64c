"""A declined payment: re-read it and its account from Zuora, apply the dunning rules, draft the proposal.

The callout is only a hint. A payment Zuora now shows as processed, or an account with nothing
open, leads to nothing. The facts come from Zuora: the payment's gateway code and message, the
payment method (expired? a backup?), the oldest open invoice, the account's payments in the last
12 months, plus the proposals already waiting for that invoice. At most three sequential waves of
reads (`ZuoraClient.concurrently`), however the decision comes out.

    bot.zuora.errors.ZuoraError     Zuora could not be read (the caller marks the callout failed)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from bot.actions import Approvals, Proposal, ProposalError
from bot.actions.drafts import Drafts
from bot.actions.dunning import Decision, DunningRules, Facts, decide
from bot.zuora import Account, Invoice, InvoiceMatch, PaymentMethod, ZuoraClient
from bot.zuora.errors import ZuoraNotFound

__all__ = ["Declined", "handle_declined"]


@dataclass(frozen=True)
class Declined:
    """What came of a declined-payment event: a drafted proposal, or why there is none."""

    proposal: Proposal | None
    summary: str
    decision: Decision | None = None


class _Known:
    """The Zuora client as the draft sees it: what this event already read is answered without a request.

    The draft asks again for the invoice, the account, a payment method and (for an escalation) the
    overdue invoices; those answers were read in the waves before, so drafting adds no wave.
    """

    def __init__(self, client: ZuoraClient, *, invoice: Invoice | None, account: Account,
                 methods: list[PaymentMethod], queries: dict[tuple[tuple[str, ...], str | None], list[Invoice]]
                 ) -> None:
        self._client = client
        self.invoices = _KnownInvoices(client, invoice, queries)
        self.accounts = _KnownAccounts(client, account)
        self.payment_methods = _KnownMethods(client, methods)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _KnownInvoices:
    def __init__(self, client: ZuoraClient, invoice: Invoice | None,
                 queries: dict[tuple[tuple[str, ...], str | None], list[Invoice]]) -> None:
        self._real, self._invoice, self._queries = client.invoices, invoice, queries

    def find(self, typed: str) -> InvoiceMatch:
        if self._invoice is not None and typed in (self._invoice.invoice_number, self._invoice.invoice_id):
            return InvoiceMatch(invoice=self._invoice, typed=typed, matched=typed)
        return self._real.find(typed)

    def query(self, *, filters: list[str], sort: str | None = None, **kwargs: Any) -> Iterator[Invoice]:
        known = self._queries.get((tuple(filters), sort))
        return iter(known) if known is not None else self._real.query(filters=filters, sort=sort, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _KnownAccounts:
    def __init__(self, client: ZuoraClient, account: Account) -> None:
        self._real, self._account = client.accounts, account

    def get(self, key: str) -> Account:
        if key in (self._account.account_id, self._account.account_number):
            return self._account
        return self._real.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _KnownMethods:
    def __init__(self, client: ZuoraClient, methods: list[PaymentMethod]) -> None:
        self._real, self._methods = client.payment_methods, {m.payment_method_id: m for m in methods}

    def get(self, payment_method_id: str) -> PaymentMethod:
        return self._methods.get(payment_method_id) or self._real.get(payment_method_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def handle_declined(client: ZuoraClient, approvals: Approvals, payment_key: str, *, today: date,
                    rules: DunningRules | None = None) -> Declined:
    """Read what the decision needs in at most three waves of Zuora requests, decide, draft.

    Wave 1: the payment. Wave 2, together: its account, the open invoices, the payment history, the
    payment methods. Wave 3: the oldest open invoice (v1, as the stale check reads it later) or, for an
    escalation, the overdue invoices. The draft's own reads are answered from these.
    """
    try:
        payment = client.payments.get(payment_key)
    except ZuoraNotFound:
        return Declined(None, f"Zuora has no payment {payment_key}; nothing to do.")
    if payment.status != "Error":
        return Declined(None, f"Payment {payment.payment_number} is {payment.status} in Zuora now; nothing to do.")
    account_id = payment.account_id
    account, open_invoices, history, methods = client.concurrently(
        lambda: client.accounts.get(account_id),
        lambda: list(islice(client.invoices.query(
            filters=[f"accountid.EQ:{account_id}", "status.EQ:Posted", "balance.GT:0"], sort="duedate.ASC",
            page_size=20), 20)),
        lambda: list(islice(client.payments.list(account_id, page_size=40), 40)),
        lambda: client.payment_methods.of_account(account_id))
    if not open_invoices:
        return Declined(None, f"{account.account_number} has nothing open; nothing to do.")
    invoice = open_invoices[0]
    year_ago = today - timedelta(days=365)
    processed = [p for p in history if p.status == "Processed" and p.effective_date >= year_ago]
    failed = [p for p in history if p.status == "Error" and p.effective_date >= invoice.invoice_date]
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
    drafts_today = approvals.today()
    queries: dict[tuple[tuple[str, ...], str | None], list[Invoice]] = {}
    full: Invoice | None = None
    if decision.kind == "collections_escalation":  # the draft sums every overdue invoice (wave 3)
        overdue = (f"accountid.EQ:{account_id}", "status.EQ:Posted", "balance.GT:0", f"duedate.LT:{drafts_today}")
        queries[(overdue, "duedate.ASC")] = list(client.invoices.query(filters=list(overdue), sort="duedate.ASC",
                                                                      page_size=50))
    else:
        full = client.invoices.get(invoice.invoice_id)  # wave 3: as the stale check will read it
    known = _Known(client, invoice=full, account=account, methods=methods, queries=queries)
    drafts = Drafts(known, drafts_today)  # type: ignore[arg-type]
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
