"""What the tools return: compact pydantic results (no raw Zuora payloads) and the citations they carry.

A result is what the LLM sees (as JSON, after PII redaction) and what the templates render; its
`citations()` name the Zuora objects the numbers come from.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.copilot.explanation import Explanation

__all__ = [
    "AccountResult", "AccountRef", "Citation", "ContactInfo", "ExplainResult", "InvoiceLine", "InvoiceResult",
    "OverdueAccount", "OverdueInvoice", "OverdueResult", "PaymentInfo", "PaymentMethodInfo", "PaymentsResult",
    "ProposalResult", "Result", "SubscriptionCharge", "SubscriptionResult", "UsageMonth", "UsageResult",
]

ObjectKind = Literal["invoice", "invoice_item", "account", "payment", "subscription", "payment_method"]


class Citation(BaseModel):
    """A Zuora object an answer's numbers come from."""

    model_config = ConfigDict(frozen=True)

    kind: ObjectKind
    label: str
    """What a person recognises: the invoice, account, payment or subscription number."""
    object_id: str
    url: str | None = None


class Result(BaseModel):
    """Base of every tool result."""

    model_config = ConfigDict(frozen=True)

    def citations(self) -> list[Citation]:
        """The Zuora objects this result cites (without URLs; the toolbox adds them)."""
        return []

    def about(self) -> dict[str, str]:
        """What a follow-up question may refer back to: `invoice`, `previous_invoice`, `account`, `subscription`."""
        account = getattr(self, "account", None)
        return {"account": account.account_number} if isinstance(account, AccountRef) else {}


class AccountRef(BaseModel):
    """An account, as every result names it."""

    model_config = ConfigDict(frozen=True)

    account_id: str
    account_number: str
    name: str

    def cite(self) -> Citation:
        return Citation(kind="account", label=self.account_number, object_id=self.account_id)


class ExplainResult(Result):
    """`explain_invoice`: the explanation, and how the typed invoice number was read."""

    explanation: Explanation
    typed: str
    matched: str
    compared_with: str | None = None
    """The invoice the question named to compare with; None: the account's previous invoice."""

    def citations(self) -> list[Citation]:
        e = self.explanation
        out = [Citation(kind="invoice", label=e.invoice.invoice_number, object_id=e.invoice.invoice_id)]
        if e.previous:
            out.append(Citation(kind="invoice", label=e.previous.invoice_number, object_id=e.previous.invoice_id))
        return out

    def about(self) -> dict[str, str]:
        e = self.explanation
        about = {"invoice": e.invoice.invoice_number, "account": e.invoice.account_id}
        if e.previous:
            about["previous_invoice"] = e.previous.invoice_number
        return about


class InvoiceLine(BaseModel):
    """One invoice line, compact."""

    item_id: str
    charge_name: str
    subscription_number: str | None
    period_start: date | None
    period_end: date | None
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal
    tax: Decimal
    discount: bool


class InvoiceResult(Result):
    """`get_invoice`: the invoice header, its account and its lines."""

    invoice_id: str
    invoice_number: str
    typed: str
    account: AccountRef
    invoice_date: date
    due_date: date | None
    status: str
    currency: str
    amount: Decimal
    tax: Decimal
    balance: Decimal
    days_overdue: int
    lines: list[InvoiceLine]

    def citations(self) -> list[Citation]:
        return [Citation(kind="invoice", label=self.invoice_number, object_id=self.invoice_id), self.account.cite()]

    def about(self) -> dict[str, str]:
        return {"invoice": self.invoice_number, "account": self.account.account_number}


class ContactInfo(BaseModel):
    """The bill-to contact (PII: redacted before an LLM sees it)."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None


class PaymentMethodInfo(BaseModel):
    """The default payment method's health; card numbers are never more than the last four digits."""

    payment_method_id: str
    method_type: str
    brand: str | None = None
    last4: str | None = None
    expires: str | None = None
    """`MM/YYYY` for cards."""
    expired: bool = False
    expires_within_60_days: bool = False
    consecutive_failures: int = 0


class PaymentInfo(BaseModel):
    """One payment, with the gateway's answer when it failed."""

    payment_id: str
    payment_number: str
    effective_date: date
    amount: Decimal
    currency: str
    status: str
    payment_type: str
    gateway_code: str | None = None
    gateway_message: str | None = None


class OverdueInvoice(BaseModel):
    """An unpaid invoice past its due date."""

    invoice_id: str
    invoice_number: str
    account_number: str | None = None
    account_name: str | None = None
    due_date: date
    days_overdue: int
    balance: Decimal
    currency: str


class AccountResult(Result):
    """`get_account_summary`: balance, overdue invoices, last payments, payment method health, contact."""

    account: AccountRef
    status: str
    currency: str
    balance: Decimal
    overdue_total: Decimal
    overdue_invoices: list[OverdueInvoice]
    last_payments: list[PaymentInfo]
    payment_method: PaymentMethodInfo | None
    auto_pay: bool
    bill_to: ContactInfo | None
    risk_score: int | None = None
    """The churn-risk score (see `churn_risk`), None when it could not be read."""
    risk_level: str | None = None
    risk_reasons: list[str] = []

    def citations(self) -> list[Citation]:
        return [self.account.cite(),
                *(Citation(kind="invoice", label=i.invoice_number, object_id=i.invoice_id)
                  for i in self.overdue_invoices),
                *(Citation(kind="payment", label=p.payment_number, object_id=p.payment_id)
                  for p in self.last_payments if p.status != "Processed")]


class PaymentsResult(Result):
    """`list_payments`: an account's latest payments, newest first."""

    account: AccountRef
    payments: list[PaymentInfo]
    failed: int

    def citations(self) -> list[Citation]:
        return [self.account.cite(), *(Citation(kind="payment", label=p.payment_number, object_id=p.payment_id)
                                       for p in self.payments)]


class OverdueAccount(BaseModel):
    """One overdue account: how many invoices, how much, how late."""

    account_number: str
    account_name: str
    invoices: int
    balance: Decimal
    currency: str
    oldest_due_date: date
    days_overdue: int


class OverdueResult(Result):
    """`list_overdue_invoices`: overdue invoices (most overdue first) and the accounts behind them."""

    as_of: date
    invoice_count: int
    totals: dict[str, Decimal]
    """Overdue balance per currency."""
    accounts: list[OverdueAccount]
    invoices: list[OverdueInvoice]
    truncated: bool

    def citations(self) -> list[Citation]:
        return [Citation(kind="invoice", label=i.invoice_number, object_id=i.invoice_id) for i in self.invoices]

    def about(self) -> dict[str, str]:
        return {"account": self.accounts[0].account_number} if len(self.accounts) == 1 else {}


class SubscriptionCharge(BaseModel):
    """A charge of a subscription's current version."""

    charge_number: str
    name: str
    charge_type: str
    model: str | None
    price: Decimal | None
    quantity: Decimal | None
    unit_of_measure: str | None
    discount_percentage: Decimal | None
    billing_period: str | None
    effective_start_date: date | None
    effective_end_date: date | None


class SubscriptionResult(Result):
    """`get_subscription`: status, term and charges."""

    subscription_id: str
    subscription_number: str
    status: str
    account_number: str | None
    term_start_date: date | None
    term_end_date: date | None
    monthly_recurring_revenue: Decimal | None
    currency: str | None
    charges: list[SubscriptionCharge]

    def citations(self) -> list[Citation]:
        return [Citation(kind="subscription", label=self.subscription_number, object_id=self.subscription_id)]

    def about(self) -> dict[str, str]:
        about = {"subscription": self.subscription_number}
        if self.account_number:
            about["account"] = self.account_number
        return about


class UsageMonth(BaseModel):
    """Usage of one unit in one month."""

    month: str
    unit_of_measure: str
    quantity: Decimal
    records: int


class UsageResult(Result):
    """`get_usage`: an account's usage per month and unit, newest month first."""

    account: AccountRef
    months: list[UsageMonth]

    def citations(self) -> list[Citation]:
        return [self.account.cite()]


class ProposalResult(Result):
    """`propose_*`: a drafted proposal, validated against Zuora; nothing runs until someone approves it."""

    kind: str
    sentence: str
    proposal: dict[str, Any]
    """The whole proposal (JSON), for the Slack layer to store and put on an approval card."""

    def citations(self) -> list[Citation]:
        p = self.proposal
        out = [Citation(kind="account", label=p["account_number"], object_id=p["account_id"])]
        if p.get("invoice_id"):
            out.insert(0, Citation(kind="invoice", label=p["invoice_number"], object_id=p["invoice_id"]))
        if p.get("subscription_number"):  # Zuora takes the number where it takes the id
            out.insert(0, Citation(kind="subscription", label=p["subscription_number"],
                                   object_id=p["subscription_number"]))
        return out

    def about(self) -> dict[str, str]:
        about = {"account": self.proposal["account_number"]}
        if self.proposal.get("invoice_number"):
            about["invoice"] = self.proposal["invoice_number"]
        if self.proposal.get("subscription_number"):
            about["subscription"] = self.proposal["subscription_number"]
        return about


# -- churn risk (issue 16) ----------------------------------------------------------------------------


class RiskReasonInfo(BaseModel):
    """One reason of a churn-risk score, with the points it adds and the Zuora object it comes from."""

    signal: str
    points: int
    text: str
    cite: Citation


class RiskResult(Result):
    """`churn_risk`: an account's churn-risk score from billing data, each reason cited."""

    account: AccountRef
    score: int
    level: str
    reasons: list[RiskReasonInfo]
    subscriptions: list[str] = []
    """The account's active subscriptions (a retention offer is proposed on one of them)."""

    def citations(self) -> list[Citation]:
        return [self.account.cite(), *(r.cite for r in self.reasons if r.cite.kind != "account")]


class RiskRow(BaseModel):
    account: AccountRef
    score: int
    level: str
    top: str


class RiskListResult(Result):
    """`accounts_at_risk`: the highest churn-risk accounts among those scored."""

    rows: list[RiskRow]
    scored: int
    capped: bool
    unread: int = 0
    """Accounts whose billing data could not be read (not scored)."""

    def citations(self) -> list[Citation]:
        return [r.account.cite() for r in self.rows]
