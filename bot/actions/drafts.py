"""Draft proposals from Zuora data: read the invoice or account, validate, build the proposal.

A draft is checked against what Zuora says now (posted invoice, open balance, usable payment
method, amount within what the invoice allows) and carries the `Snapshot` the approver will see.
Nothing here writes to Zuora. `snapshot()` re-reads the object for the stale check at execution.

    ProposalError (bot.actions.proposals)   the request does not fit the data, or the object is unknown
    bot.zuora.errors.ZuoraError             Zuora could not be read (the caller says so)
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from bot.actions.proposals import (
    CollectionsEscalation,
    CreditItem,
    CreditMemo,
    DunningEmail,
    PaymentPlan,
    PaymentRetry,
    Proposal,
    ProposalError,
    Snapshot,
    WriteOff,
    split,
)
from bot.money import money
from bot.zuora import Account, Invoice, ZuoraClient
from bot.zuora.errors import InvoiceNotFound, ZuoraNotFound

__all__ = ["ESCALATION_FIELD", "Drafts", "reason_code_for"]

ESCALATION_FIELD = "Collections_Status__c"
_REASON_CODES = (  # tenant-configured in Zuora; these are Zuora's documented examples
    (re.compile(r"outage|downtime|incident|sla", re.I), "Service Outage Credit"),
    (re.compile(r"error|mistake|wrong|incorrect|overcharg|double", re.I), "Correcting invoice error"),
)


def reason_code_for(reason: str) -> str:
    """The Zuora reason code for a free-text reason ("for the outage" → "Service Outage Credit")."""
    return next((code for pattern, code in _REASON_CODES if pattern.search(reason)), "Goodwill")


def invoice_snapshot(invoice: Invoice) -> Snapshot:
    return Snapshot(object_kind="invoice", object_id=invoice.invoice_id, balance=invoice.balance,
                    status=invoice.status, updated=invoice.updated_date)


def account_snapshot(account: Account) -> Snapshot:
    flag = account.custom_fields.get(ESCALATION_FIELD) or "-"
    return Snapshot(object_kind="account", object_id=account.account_id, balance=account.balance,
                    status=f"{account.status}, {ESCALATION_FIELD}={flag}")


class Drafts:
    """Builds proposals from Zuora reads; `today` is the tenant's date."""

    def __init__(self, client: ZuoraClient, today: date) -> None:
        self.client = client
        self.today = today

    def _invoice(self, typed: str, *, open_balance: bool) -> tuple[Invoice, Account]:
        try:
            invoice = self.client.invoices.find(typed).invoice
        except InvoiceNotFound as exc:
            raise ProposalError(f"I couldn't find invoice {exc.typed!r}.") from None
        if invoice.status != "Posted":
            raise ProposalError(f"{invoice.invoice_number} is {invoice.status}; only posted invoices can be acted on.")
        if open_balance and invoice.balance <= 0:
            raise ProposalError(f"{invoice.invoice_number} has no open balance.")
        return invoice, self.client.accounts.get(invoice.account_id)

    def _common(self, invoice: Invoice, account: Account, amount: Decimal, reason: str, limit: Decimal,
                evidence: list[str]) -> dict[str, object]:
        due = f", due {invoice.due_date}" if invoice.due_date else ""
        return {"account_id": account.account_id, "account_number": account.account_number,
                "account_name": account.name, "currency": invoice.currency, "amount": amount,
                "reason": reason.strip() or "no reason given", "invoice_id": invoice.invoice_id,
                "invoice_number": invoice.invoice_number, "limit": limit, "snapshot": invoice_snapshot(invoice),
                "evidence": [f"{invoice.invoice_number}: {money(invoice.amount, invoice.currency)}, open balance "
                             f"{money(invoice.balance, invoice.currency)}{due}", *evidence]}

    def credit_memo(self, typed: str, amount: Decimal, reason: str) -> CreditMemo:
        invoice, account = self._invoice(typed, open_balance=False)
        items = [CreditItem(invoice_item_id=i.item_id, sku=i.sku, available=i.charge_amount)
                 for i in self.client.invoices.items(invoice.invoice_id) if i.charge_amount > 0]
        limit = sum((i.available for i in items), Decimal(0))
        return CreditMemo(**self._common(invoice, account, amount, reason, limit, []),  # type: ignore[arg-type]
                          reason_code=reason_code_for(reason), items=items)

    def write_off(self, typed: str, reason: str) -> WriteOff:
        invoice, account = self._invoice(typed, open_balance=True)
        late = (self.today - invoice.due_date).days if invoice.due_date else 0
        evidence = [f"{late} days past due"] if late > 0 else []
        return WriteOff(**self._common(invoice, account, invoice.balance, reason,  # type: ignore[arg-type]
                                       invoice.balance, evidence))

    def payment_retry(self, typed: str, amount: Decimal | None, reason: str, *, on: date | None = None,
                      payment_method_id: str | None = None, extra: list[str] | None = None) -> PaymentRetry:
        invoice, account = self._invoice(typed, open_balance=True)
        method_id = payment_method_id or account.default_payment_method_id
        if not method_id:
            raise ProposalError(f"{account.account_number} has no default payment method to charge.")
        method = self.client.payment_methods.get(method_id)
        default = "default" if method_id == account.default_payment_method_id else "backup"
        if method.expired(self.today):
            raise ProposalError(f"The {default} payment method of {account.account_number} has expired; ask the "
                                f"customer to update it before retrying.")
        label = f"the {default} {method.card_type} card" if method.card_type else \
            f"the {default} {method.method_type} payment method"  # no card digits: the card is visible in a channel
        evidence = [f"{label}: {method.num_consecutive_failures} consecutive failures"] \
            if method.num_consecutive_failures else []
        return PaymentRetry(**self._common(invoice, account, amount or invoice.balance, reason,  # type: ignore[arg-type]
                                           invoice.balance, [*evidence, *(extra or [])]),
                            payment_method_id=method.payment_method_id, payment_method=label, on=on)

    def payment_plan(self, typed: str, installments: int, reason: str, amount: Decimal | None = None, *,
                     extra: list[str] | None = None) -> PaymentPlan:
        if not 2 <= installments <= 24:
            raise ProposalError("A payment plan has 2 to 24 installments.")
        invoice, account = self._invoice(typed, open_balance=True)
        total = amount or invoice.balance
        first = self.today + timedelta(days=7)
        dates = [_add_months(first, n) for n in range(installments)]
        return PaymentPlan(**self._common(invoice, account, total, reason, invoice.balance,  # type: ignore[arg-type]
                                          extra or []),
                           installments=split(total, dates))

    def dunning_email(self, typed: str, reason: str, *, extra: list[str] | None = None,
                      ask: str = "Please let us know if anything is holding up payment.") -> DunningEmail:
        invoice, account = self._invoice(typed, open_balance=True)
        late = (self.today - invoice.due_date).days if invoice.due_date else 0
        when = f"was due on {invoice.due_date} ({late} days ago)" if late > 0 else f"is due on {invoice.due_date}"
        note = (f"Hello {account.name} team, a reminder that invoice {invoice.invoice_number} for "
                f"{money(invoice.amount, invoice.currency)} {when}; {money(invoice.balance, invoice.currency)} is "
                f"still open. The invoice is attached. {ask}")
        return DunningEmail(**self._common(invoice, account, invoice.balance, reason,  # type: ignore[arg-type]
                                           invoice.balance, extra or []), note=note)

    def collections_escalation(self, typed: str, reason: str, *,
                               extra: list[str] | None = None) -> CollectionsEscalation:
        key = typed.strip()
        try:
            account = self.client.accounts.get(key.upper() if len(key) != 32 else key)
        except ZuoraNotFound:
            raise ProposalError(f"There is no account {key!r}.") from None
        if account.custom_fields.get(ESCALATION_FIELD) == "Escalated":
            raise ProposalError(f"{account.account_number} is already escalated to collections.")
        overdue = list(self.client.invoices.query(filters=[
            f"accountid.EQ:{account.account_id}", "status.EQ:Posted", "balance.GT:0", f"duedate.LT:{self.today}"],
            sort="duedate.ASC", page_size=50))
        total = sum((i.balance for i in overdue), Decimal(0))
        if total <= 0:
            raise ProposalError(f"{account.account_number} has nothing overdue to escalate.")
        oldest = overdue[0]
        evidence = [f"{len(overdue)} overdue invoice(s), {money(total, account.currency)} in total",
                    f"oldest: {oldest.invoice_number}, due {oldest.due_date} "
                    f"({(self.today - oldest.due_date).days if oldest.due_date else 0} days ago)"]
        return CollectionsEscalation(
            account_id=account.account_id, account_number=account.account_number, account_name=account.name,
            currency=account.currency, amount=total, limit=total, reason=reason.strip() or "overdue balance",
            evidence=[*evidence, *(extra or [])], snapshot=account_snapshot(account),
            fields={ESCALATION_FIELD: "Escalated"})

    def again(self, p: Proposal) -> Proposal:
        """The same request drafted again from today's data (after a stale or expired card)."""
        invoice = p.invoice_number or ""
        if p.kind == "credit_memo":
            return self.credit_memo(invoice, p.amount, p.reason)
        if p.kind == "write_off":
            return self.write_off(invoice, p.reason)
        if p.kind == "payment_retry":
            return self.payment_retry(invoice, None, p.reason)
        if p.kind == "payment_plan":
            return self.payment_plan(invoice, len(p.installments), p.reason)
        if p.kind == "dunning_email":
            return self.dunning_email(invoice, p.reason)
        return self.collections_escalation(p.account_number, p.reason)

    def snapshot(self, proposal: Proposal) -> Snapshot:
        """The object now, for the stale check before executing."""
        if proposal.snapshot.object_kind == "invoice":
            return invoice_snapshot(self.client.invoices.get(proposal.snapshot.object_id))
        return account_snapshot(self.client.accounts.get(proposal.snapshot.object_id))


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, 28))
