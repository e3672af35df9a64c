"""Proposal kinds: a pydantic discriminated union, and the exact Zuora request each one makes (pure).

A proposal is what an approver sees and what runs after the click: the account and invoice, the
amount and currency, the reason and evidence, the largest amount the data allows (`limit`), and a
`Snapshot` of the object as it was when the card was made (re-read before executing: if it moved,
the proposal is stale). `request()` builds the one Zuora call; it is stored with the proposal and
sent as is, with the proposal id as `Idempotency-Key` when Zuora accepts one (POST).

    ProposalError      a proposal that does not fit the data (amount too large, invoice not posted, …)
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.money import CENT, money, to_cents

__all__ = [
    "EDITABLE", "KINDS", "CollectionsEscalation", "CreditItem", "CreditMemo", "DunningEmail", "Installment",
    "PaymentPlan", "PaymentRetry", "Proposal", "ProposalError", "Snapshot", "WriteOff", "ZuoraRequest",
    "parse_proposal", "split",
]

KINDS = ("credit_memo", "write_off", "payment_retry", "payment_plan", "dunning_email", "collections_escalation")
EDITABLE = ("credit_memo", "payment_retry", "payment_plan")
"""Kinds whose amount an approver may edit (a write-off is always the whole balance)."""


class ProposalError(Exception):
    """The proposal does not fit the data; the message says why, for a person."""


class Snapshot(BaseModel):
    """The object as the card showed it; if it differs at execution time, the proposal is stale."""

    model_config = ConfigDict(frozen=True)

    object_kind: Literal["invoice", "account"]
    object_id: str
    balance: Decimal
    status: str
    updated: str | None = None

    def differences(self, now: Snapshot) -> list[str]:
        """What changed, in words ("balance 868.46 → 0")."""
        out = []
        if now.balance != self.balance:
            out.append(f"balance {to_cents(self.balance)} → {to_cents(now.balance)}")
        if now.status != self.status:
            out.append(f"status {self.status} → {now.status}")
        if now.updated != self.updated and not out:
            out.append(f"updated at {now.updated}")
        return out


class ZuoraRequest(BaseModel):
    """One Zuora call, stored with the proposal and sent exactly as stored."""

    model_config = ConfigDict(frozen=True)

    method: Literal["POST", "PUT"]
    path: str
    body: dict[str, Any]

    def digest(self) -> str:
        """SHA-256 of the method, path and canonical body (what the audit log records)."""
        canonical = json.dumps([self.method, self.path, self.body], sort_keys=True, separators=(",", ":"),
                               default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_id: str
    account_number: str
    account_name: str
    currency: str
    amount: Decimal
    reason: str = Field(min_length=1, max_length=500)
    evidence: list[str] = []
    invoice_id: str | None = None
    invoice_number: str | None = None
    limit: Decimal
    """The largest amount the data allows for this proposal (for edits)."""
    snapshot: Snapshot

    def model_post_init(self, _: Any) -> None:
        if self.amount <= 0:
            raise ProposalError(f"The amount must be more than zero (got {money(self.amount, self.currency)}).")
        if self.amount != self.amount.quantize(CENT):
            raise ProposalError(f"{self.amount} has more than two decimals; amounts are to the cent.")
        if self.amount > self.limit:
            raise ProposalError(f"{money(self.amount, self.currency)} is more than {self._limit_words()} "
                                f"({money(self.limit, self.currency)}).")

    def _limit_words(self) -> str:
        return f"the open balance of {self.invoice_number}"

    @property
    def target(self) -> str:
        """The object it acts on: the invoice number, else the account number."""
        return self.invoice_number or self.account_number

    def balance_after(self) -> Decimal | None:
        """The open balance once it has run (None when it does not change the balance now)."""
        return max(self.snapshot.balance - self.amount, Decimal(0))

    def with_amount(self, amount: Decimal) -> Proposal:
        """The same proposal for another amount, validated again."""
        if self.kind not in EDITABLE:  # type: ignore[attr-defined]
            raise ProposalError("The amount of this kind of proposal cannot be edited.")
        return parse_proposal({**self.model_dump(), "amount": amount})


class CreditItem(BaseModel):
    """An invoice line a credit memo can credit, up to `available`."""

    model_config = ConfigDict(frozen=True)

    invoice_item_id: str
    sku: str | None = None
    available: Decimal


class CreditMemo(_Base):
    """A credit memo from an invoice, posted and applied to it by Zuora in one POST."""

    kind: Literal["credit_memo"] = "credit_memo"
    reason_code: str
    items: list[CreditItem]

    def _limit_words(self) -> str:
        return f"the charges of {self.invoice_number}"

    def sentence(self) -> str:
        return (f"Create a {money(self.amount, self.currency)} credit memo on {self.invoice_number} "
                f"(reason code “{self.reason_code}”), posted and applied to the invoice.")

    def request(self, today: date) -> ZuoraRequest:
        items, left = [], self.amount
        for item in self.items:
            if left <= 0:
                break
            part = min(left, item.available)
            items.append({"invoiceItemId": item.invoice_item_id, "amount": part, "skuName": item.sku or ""})
            left -= part
        return ZuoraRequest(method="POST", path=f"/v1/credit-memos/invoice/{self.invoice_id}", body={
            "items": items, "reasonCode": self.reason_code, "comment": self.reason[:255], "autoPost": True,
            "autoApplyToInvoiceUponPosting": True})


class WriteOff(_Base):
    """A write-off of an invoice's whole open balance (Zuora creates and applies a credit memo)."""

    kind: Literal["write_off"] = "write_off"

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.amount != self.snapshot.balance:
            raise ProposalError("A write-off is always the whole open balance of the invoice.")

    def sentence(self) -> str:
        return f"Write off the whole open balance of {self.invoice_number}: {money(self.amount, self.currency)}."

    def request(self, today: date) -> ZuoraRequest:
        return ZuoraRequest(method="PUT", path=f"/v1/invoices/{self.invoice_id}/write-off",
                            body={"reasonCode": "Write-off", "comment": self.reason[:255]})


class PaymentRetry(_Base):
    """A new electronic payment for an invoice: charged when approved, or on `on` (a one-item payment schedule)."""

    kind: Literal["payment_retry"] = "payment_retry"
    payment_method_id: str
    payment_method: str
    """How people recognise it, without card digits: "the default Visa card"."""
    on: date | None = None
    """A later day to charge (e.g. the customer's usual payday); None: when approved."""

    def sentence(self) -> str:
        when = f"on {self.on}" if self.on else "now"
        return (f"Charge {money(self.amount, self.currency)} {when} to {self.payment_method} and apply it to "
                f"{self.invoice_number}.")

    def request(self, today: date) -> ZuoraRequest:
        comment = f"Retry approved in Slack: {self.reason}"[:255]
        if self.on and self.on > today:
            return ZuoraRequest(method="POST", path="/v1/payment-schedules", body={
                "accountId": self.account_id, "currency": self.currency, "paymentMethodId": self.payment_method_id,
                "billingDocument": {"id": self.invoice_id, "type": "Invoice"}, "description": comment,
                "items": [{"scheduledDate": self.on.isoformat(), "amount": self.amount}]})
        return ZuoraRequest(method="POST", path="/v1/payments", body={
            "type": "Electronic", "accountId": self.account_id, "amount": self.amount, "currency": self.currency,
            "effectiveDate": today.isoformat(), "paymentMethodId": self.payment_method_id,
            "invoices": [{"invoiceId": self.invoice_id, "amount": self.amount}], "comment": comment})


class Installment(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: date
    amount: Decimal


def split(total: Decimal, dates: list[date]) -> list[Installment]:
    """`total` over `dates` in equal parts to the cent; the last part takes the remainder."""
    each = (total / len(dates)).quantize(CENT, rounding="ROUND_DOWN")
    amounts = [each] * (len(dates) - 1) + [total - each * (len(dates) - 1)]
    return [Installment(date=d, amount=a) for d, a in zip(dates, amounts, strict=True)]


class PaymentPlan(_Base):
    """A payment schedule that collects the amount in installments on the given dates."""

    kind: Literal["payment_plan"] = "payment_plan"
    installments: list[Installment] = Field(min_length=2, max_length=24)

    def model_post_init(self, context: Any) -> None:
        if self.installments and sum(i.amount for i in self.installments) != self.amount:
            object.__setattr__(self, "installments", split(self.amount, [i.date for i in self.installments]))
        super().model_post_init(context)

    def balance_after(self) -> Decimal | None:
        return None  # the balance falls as the installments are collected

    def sentence(self) -> str:
        first, last = self.installments[0].date, self.installments[-1].date
        return (f"Set up a payment plan for {money(self.amount, self.currency)} of {self.invoice_number}: "
                f"{len(self.installments)} installments from {first} to {last}.")

    def request(self, today: date) -> ZuoraRequest:
        return ZuoraRequest(method="POST", path="/v1/payment-schedules", body={
            "accountId": self.account_id, "currency": self.currency,
            "billingDocument": {"id": self.invoice_id, "type": "Invoice"},
            "description": f"Payment plan approved in Slack: {self.reason}"[:255],
            "items": [{"scheduledDate": i.date.isoformat(), "amount": i.amount} for i in self.installments]})


class DunningEmail(_Base):
    """The invoice emailed again to the bill-to contact; the drafted note is for the approver to read."""

    kind: Literal["dunning_email"] = "dunning_email"
    note: str = Field(max_length=1500)

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        return f"Email {self.invoice_number} again to the bill-to contact of {self.account_name}."

    def request(self, today: date) -> ZuoraRequest:
        return ZuoraRequest(method="POST", path=f"/v1/invoices/{self.invoice_id}/emails",
                            body={"useEmailTemplateSetting": False, "includeAdditionalEmailAddresses": False})


class CollectionsEscalation(_Base):
    """The account marked for collections (an account custom field)."""

    kind: Literal["collections_escalation"] = "collections_escalation"
    fields: dict[str, str] = {"Collections_Status__c": "Escalated"}

    def _limit_words(self) -> str:
        return f"the overdue balance of {self.account_number}"

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        changes = ", ".join(f"{k} = {v}" for k, v in self.fields.items())
        return (f"Escalate {self.account_name} ({self.account_number}) to collections for "
                f"{money(self.amount, self.currency)} overdue: set {changes} on the account.")

    def request(self, today: date) -> ZuoraRequest:
        return ZuoraRequest(method="PUT", path=f"/v1/accounts/{self.account_id}", body=dict(self.fields))


Proposal = Annotated[CreditMemo | WriteOff | PaymentRetry | PaymentPlan | DunningEmail | CollectionsEscalation,
                     Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Proposal] = TypeAdapter(Proposal)


def parse_proposal(data: dict[str, Any] | str) -> Proposal:
    """A proposal from its JSON (a dict or a string), validated again."""
    if isinstance(data, str):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
