"""The copilot's read tools: typed functions over the Zuora client, shared by the router and the LLM.
(The `propose_*` tools, which only draft proposals, live in `propose.py`.)

Each tool takes a pydantic argument model (its JSON schema is what an LLM sees) and has a
docstring written for the model (it becomes the tool's description). Tools return compact
`results` models, never raw Zuora payloads. `Toolbox.run` validates arguments, runs the tool and
turns every failure into a `ToolError` (see `toolbox`) whose message a person or a model can act on:

    ToolError(kind)
      not_found     unknown invoice, account or subscription
      ambiguous     a name matches several accounts
      invalid       arguments that do not validate
      unavailable   Zuora could not be reached or failed (transport errors, 5xx, 429, auth)
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from bot.actions.kinds.subscription_change import ChangeSettings
from bot.copilot.explain import explain
from bot.copilot.results import (
    AccountRef,
    AccountResult,
    ContactInfo,
    ExplainResult,
    InvoiceLine,
    InvoiceResult,
    OverdueAccount,
    OverdueInvoice,
    OverdueResult,
    PaymentInfo,
    PaymentMethodInfo,
    PaymentsResult,
    Result,
    SubscriptionCharge,
    SubscriptionResult,
    UsageMonth,
    UsageResult,
)
from bot.zuora import Account, Invoice, Payment, PaymentMethod, ZuoraClient
from bot.zuora.errors import ZuoraError, ZuoraNotFound
from bot.zuora.invoices import invoice_number_forms
from bot.zuora.keys import is_key

__all__ = ["TOOLS", "AccountKey", "InvoiceKey", "SubscriptionKey", "Tool", "ToolContext", "ToolError", "tool"]

ErrorKind = Literal["not_found", "ambiguous", "invalid", "unavailable", "setup"]
_ACCOUNT_NUMBER = re.compile(r"^[A-Z]{1,3}-?\d{3,}$|^[0-9a-f]{32}$", re.IGNORECASE)


def _invoice_key(value: str) -> str:
    if not invoice_number_forms(value):
        raise ValueError("not an invoice number (INV00000042, INV-42, #42) or a 32-hex invoice id")
    return value


def _account_number(value: str) -> str:
    if not is_key("account", value.strip()):
        raise ValueError("not an account number (A00000007) or a 32-hex account id")
    return value


def _subscription_key(value: str) -> str:
    if not is_key("subscription", value.strip()):
        raise ValueError("not a subscription number (A-S00000002) or a 32-hex subscription id")
    return value


InvoiceKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_invoice_key)]
"""An invoice as typed, checked against Zuora's key formats before it reaches a URL."""
AccountKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_account_number)]
"""An account number or id (not a name)."""
SubscriptionKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_subscription_key)]


class ToolError(Exception):
    """A tool could not answer; `message` says why in words a person or a model can act on."""

    def __init__(self, kind: ErrorKind, message: str, *, candidates: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.candidates = candidates or []
        """For `ambiguous`: the matches (`name`, `account_number`), as data a redactor can see."""


@dataclass(frozen=True)
class ToolContext:
    """What every tool needs: the Zuora client and today's date (the tenant's, for the sandbox)."""

    client: ZuoraClient
    today: Callable[[], date] = date.today
    changes: ChangeSettings = ChangeSettings()
    """Settings of the subscription-change and retention-offer proposals."""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The clock a preview is stamped with (approvals re-preview after `PREVIEW_TTL_MINUTES`)."""
    data_query: bool = False
    """Portfolio questions run as Data Query SQL jobs instead of Object Query pages (`ZUORA_DATA_QUERY`)."""
    notes: Any = None
    """`bot.copilot.notes.NoteSettings` for `propose_invoice_note` (None: the defaults)."""


@dataclass(frozen=True)
class Tool:
    """A registered tool: its name, argument model, description (the docstring) and function."""

    name: str
    args: type[BaseModel]
    fn: Callable[[ToolContext, Any], Result]

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema (litellm translates it for other providers)."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": params}}


TOOLS: dict[str, Tool] = {}


def tool(args: type[BaseModel]) -> Callable[[Callable[[ToolContext, Any], Result]], Callable[..., Result]]:
    def register(fn: Callable[[ToolContext, Any], Result]) -> Callable[..., Result]:
        TOOLS[fn.__name__] = Tool(fn.__name__, args, fn)
        return fn
    return register


class InvoiceArgs(BaseModel):
    invoice: InvoiceKey = Field(description="Invoice number as typed: INV00000042, INV-42, inv42, #42 or 42")
    before: bool = Field(default=False, description="Use the same account's invoice before this one instead "
                                                    "(\"and the one before?\")")


class ExplainArgs(InvoiceArgs):
    compare_to: InvoiceKey | None = Field(
        default=None, description="Another invoice to compare with, only when the question names one "
                                  "(\"compare INV-42 and INV-1\", \"why is INV-42 higher than INV-1\"); "
                                  "default: the same account's previous invoice")


class AccountArgs(BaseModel):
    account: str = Field(min_length=1, max_length=128,
                         description="Account number (A00000007), account id, or the start of the account name")


class PaymentsArgs(AccountArgs):
    failed_only: bool = Field(default=False, description="Only payments that failed (status Error)")
    limit: int = Field(default=10, ge=1, le=40)


class OverdueArgs(BaseModel):
    account: str | None = Field(default=None, max_length=128,
                                description="Limit to one account (number or name); omit for every account")
    limit: int = Field(default=20, ge=1, le=100, description="How many invoices to list, most overdue first")


class SubscriptionArgs(BaseModel):
    subscription: SubscriptionKey = Field(description="Subscription number, e.g. A-S00000002")


class UsageArgs(AccountArgs):
    months: int = Field(default=6, ge=1, le=24, description="How many recent months")


@tool(ExplainArgs)
def explain_invoice(ctx: ToolContext, args: ExplainArgs) -> ExplainResult:
    """Explain why an invoice differs from the same account's previous invoice (or from `compare_to` when the
    question names the other invoice): drivers (quantity, price, proration, usage, discounts, one-time
    charges, credits, tax) with signed amounts that add up exactly to the difference, each citing its
    invoice lines. For an account's first invoice, its composition."""
    invoice, typed, matched = _find_invoice(ctx, args)
    if args.compare_to is not None:
        other = ctx.client.invoices.find(args.compare_to).invoice
        if other.invoice_id == invoice.invoice_id:
            raise ToolError("invalid", f"{args.invoice} and {args.compare_to} are the same invoice "
                                       f"({invoice.invoice_number}); name two different invoices.")
        items, other_items = ctx.client.concurrently(lambda: ctx.client.invoices.items(invoice.invoice_id),
                                                     lambda: ctx.client.invoices.items(other.invoice_id))
        return ExplainResult(explanation=explain(invoice, items, other, other_items), typed=typed,
                             matched=matched, compared_with=other.invoice_number)
    items, previous = ctx.client.concurrently(lambda: ctx.client.invoices.items(invoice.invoice_id),
                                              lambda: ctx.client.invoices.previous(invoice))
    explanation = explain(invoice, items, previous, previous.items if previous else ())
    return ExplainResult(explanation=explanation, typed=typed, matched=matched)


@tool(InvoiceArgs)
def get_invoice(ctx: ToolContext, args: InvoiceArgs) -> InvoiceResult:
    """Look up one invoice: dates, status, amount, tax, open balance, days overdue, account and lines."""
    inv, typed, _ = _find_invoice(ctx, args)
    items, account = ctx.client.concurrently(lambda: ctx.client.invoices.items(inv.invoice_id),
                                             lambda: ctx.client.accounts.get(inv.account_id))
    lines = [InvoiceLine(item_id=i.item_id, charge_name=i.charge_name, subscription_number=i.subscription_number,
                         period_start=i.service_start_date, period_end=i.service_end_date, quantity=i.quantity,
                         unit_price=i.unit_price, amount=i.charge_amount, tax=i.tax_amount, discount=i.is_discount)
             for i in items]
    return InvoiceResult(
        invoice_id=inv.invoice_id, invoice_number=inv.invoice_number, typed=typed, account=_ref(account),
        invoice_date=inv.invoice_date, due_date=inv.due_date, status=inv.status, currency=inv.currency,
        amount=inv.amount, tax=inv.tax_amount, balance=inv.balance,
        days_overdue=_days_overdue(inv.due_date, inv.balance, ctx.today()), lines=lines)


@tool(AccountArgs)
def get_account_summary(ctx: ToolContext, args: AccountArgs) -> AccountResult:
    """Summarise an account: balance, overdue invoices, the last payments with decline reasons, the default
    payment method's health (expired or expiring card, consecutive failures), auto-pay and bill-to contact."""
    account = _account(ctx, args.account)
    today = ctx.today()
    payments, method, overdue = ctx.client.concurrently(
        lambda: list(islice(ctx.client.payments.list(account.account_id, page_size=5), 5)),
        lambda: _default_method(ctx, account),
        lambda: _overdue(ctx, [f"accountid.EQ:{account.account_id}"], today, limit=20)[0])
    return AccountResult(
        account=_ref(account), status=account.status, currency=account.currency, balance=account.balance,
        overdue_total=sum((i.balance for i in overdue), Decimal(0)), overdue_invoices=overdue,
        last_payments=[_payment(p) for p in payments],
        payment_method=_method(method, today) if method else None, auto_pay=account.auto_pay,
        bill_to=_contact(account), **_risk_of(ctx, account))


def _risk_of(ctx: ToolContext, account: Account) -> dict[str, Any]:
    """The churn-risk score for an account answer (issue 16); nothing when Zuora cannot be read for it."""
    from bot.copilot.risk import assess  # risk builds on this module's tools

    try:
        risk = assess(ctx, account)
    except ZuoraError:
        return {}
    return {"risk_score": risk.score, "risk_level": risk.level, "risk_reasons": [r.text for r in risk.reasons]}


@tool(PaymentsArgs)
def list_payments(ctx: ToolContext, args: PaymentsArgs) -> PaymentsResult:
    """List an account's latest payments, newest first, with status and the gateway's decline code and message."""
    account = _account(ctx, args.account)
    rows = ctx.client.payments.list(account.account_id, status="Error" if args.failed_only else None,
                                    page_size=min(args.limit, 40))
    payments = [_payment(p) for p in islice(rows, args.limit)]
    return PaymentsResult(account=_ref(account), payments=payments,
                          failed=sum(p.status == "Error" for p in payments))


@tool(OverdueArgs)
def list_overdue_invoices(ctx: ToolContext, args: OverdueArgs) -> OverdueResult:
    """List overdue invoices (posted, unpaid, past due), most overdue first, with totals per currency and
    the accounts that owe them. Give an account to look at one customer only."""
    filters = []
    if args.account:
        filters.append(f"accountid.EQ:{_account(ctx, args.account).account_id}")
    today = ctx.today()
    invoices, truncated = _overdue(ctx, filters, today, limit=500)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    by_account: dict[str, list[OverdueInvoice]] = defaultdict(list)
    for inv in invoices:
        totals[inv.currency] += inv.balance
        by_account[inv.account_number or "?"].append(inv)
    accounts = [OverdueAccount(account_number=number, account_name=rows[0].account_name or "", invoices=len(rows),
                               balance=sum((r.balance for r in rows), Decimal(0)), currency=rows[0].currency,
                               oldest_due_date=min(r.due_date for r in rows),
                               days_overdue=max(r.days_overdue for r in rows))
                for number, rows in by_account.items()]
    accounts.sort(key=lambda a: (-a.days_overdue, -a.balance))
    ordered = sorted(invoices, key=lambda i: (-i.days_overdue, -i.balance))
    return OverdueResult(as_of=today, invoice_count=len(invoices), totals=dict(totals), accounts=accounts,
                         invoices=ordered[:args.limit], truncated=truncated)


@tool(SubscriptionArgs)
def get_subscription(ctx: ToolContext, args: SubscriptionArgs) -> SubscriptionResult:
    """Look up a subscription: status, term dates, monthly recurring revenue and its current charges
    (price, quantity, discount, billing period, effective dates)."""
    sub = ctx.client.subscriptions.get(args.subscription.strip())
    charges = [SubscriptionCharge(
        charge_number=c.charge_number, name=c.name, charge_type=c.charge_type, model=c.model, price=c.price,
        quantity=c.quantity, unit_of_measure=c.uom, discount_percentage=c.discount_percentage,
        billing_period=c.billing_period, effective_start_date=c.effective_start_date,
        effective_end_date=c.effective_end_date) for rp in sub.rate_plans for c in rp.charges]
    return SubscriptionResult(
        subscription_id=sub.subscription_id, subscription_number=sub.subscription_number, status=sub.status,
        account_number=sub.account_number, term_start_date=sub.term_start_date, term_end_date=sub.term_end_date,
        monthly_recurring_revenue=sub.contracted_mrr, currency=sub.currency, charges=charges)


@tool(UsageArgs)
def get_usage(ctx: ToolContext, args: UsageArgs) -> UsageResult:
    """Show an account's recorded usage per month and unit of measure (newest month first)."""
    account = _account(ctx, args.account)
    months: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    seen: list[str] = []
    for record in ctx.client.usage.of_account(account.account_number):
        month = record.start_date_time[:7]
        if month not in seen:
            if len(seen) == args.months:
                break
            seen.append(month)
        months[(month, record.unit_of_measure or "units")].append(record.quantity)
    rows = [UsageMonth(month=m, unit_of_measure=u, quantity=sum(q, Decimal(0)), records=len(q))
            for (m, u), q in months.items()]
    rows.sort(key=lambda r: (r.month, r.unit_of_measure), reverse=True)
    return UsageResult(account=_ref(account), months=rows)


def _find_invoice(ctx: ToolContext, args: InvoiceArgs) -> tuple[Invoice, str, str]:
    """The invoice the arguments name, how it was typed, and the number it matched."""
    match = ctx.client.invoices.find(args.invoice)
    if not args.before:
        return match.invoice, args.invoice, match.matched
    previous = ctx.client.invoices.previous(match.invoice, with_items=False)
    if previous is None:
        raise ToolError("not_found", f"{match.invoice.invoice_number} is the account's first posted invoice; "
                                     f"there is none before it.")
    return previous, previous.invoice_number, previous.invoice_number


def _ref(account: Account) -> AccountRef:
    return AccountRef(account_id=account.account_id, account_number=account.account_number, name=account.name)


def _account(ctx: ToolContext, typed: str) -> Account:
    key = typed.strip()
    if _ACCOUNT_NUMBER.match(key):
        try:
            return ctx.client.accounts.get(key.upper() if len(key) != 32 else key)
        except ZuoraNotFound:
            raise ToolError("not_found", f"There is no account {key!r}. Check the number (like A00000007) "
                                         f"or give the start of the customer's name.") from None
    matches = ctx.client.accounts.search(key, limit=6)
    exact = [m for m in matches if m.name.casefold() == key.casefold()]
    if len(exact) == 1 or len(matches) == 1:
        return ctx.client.accounts.get((exact or matches)[0].account_id)
    if not matches:
        raise ToolError("not_found", f"No account name starts with {key!r}. Try the account number (A00000007).")
    names = ", ".join(f"{m.name} ({m.account_number})" for m in matches[:5])
    raise ToolError("ambiguous", f"Several accounts match {key!r}: {names}. Which one?",
                    candidates=[{"name": m.name, "account_number": m.account_number} for m in matches[:5]])


def _days_overdue(due: date | None, balance: Decimal, today: date) -> int:
    return max(0, (today - due).days) if due and balance > 0 else 0


def _overdue(ctx: ToolContext, filters: list[str], today: date, *, limit: int) -> tuple[list[OverdueInvoice], bool]:
    rows = ctx.client.invoices.query(
        filters=[*filters, "status.EQ:Posted", "balance.GT:0", f"duedate.LT:{today}"], sort="duedate.ASC",
        expand=("account",), page_size=50)
    out: list[OverdueInvoice] = []
    for inv in rows:
        if len(out) == limit:
            return out, True
        account = inv.account or {}
        out.append(OverdueInvoice(
            invoice_id=inv.invoice_id, invoice_number=inv.invoice_number, account_number=account.get("accountNumber"),
            account_name=account.get("name"), due_date=inv.due_date or today,
            days_overdue=_days_overdue(inv.due_date, inv.balance, today), balance=inv.balance, currency=inv.currency))
    return out, False


def _default_method(ctx: ToolContext, account: Account) -> PaymentMethod | None:
    if not account.default_payment_method_id:
        return None
    try:
        return ctx.client.payment_methods.get(account.default_payment_method_id)
    except ZuoraNotFound:
        return None


def _method(pm: PaymentMethod, today: date) -> PaymentMethodInfo:
    expires = f"{pm.expiration_month:02d}/{pm.expiration_year}" if pm.expiration_month and pm.expiration_year \
        else None
    soon = False
    if pm.expiration_month and pm.expiration_year and not pm.expired(today):
        months_left = (pm.expiration_year - today.year) * 12 + pm.expiration_month - today.month
        soon = months_left <= 1
    return PaymentMethodInfo(payment_method_id=pm.payment_method_id, method_type=pm.method_type,
                             brand=pm.card_type, last4=pm.last4, expires=expires, expired=pm.expired(today),
                             expires_within_60_days=soon, consecutive_failures=pm.num_consecutive_failures)


def _payment(p: Payment) -> PaymentInfo:
    failed = p.status == "Error"
    return PaymentInfo(payment_id=p.payment_id, payment_number=p.payment_number, effective_date=p.effective_date,
                       amount=p.amount, currency=p.currency, status=p.status, payment_type=p.payment_type,
                       gateway_code=p.gateway_response_code if failed else None,
                       gateway_message=p.gateway_response if failed else None)


def _contact(account: Account) -> ContactInfo | None:
    c = account.bill_to
    if c is None:
        return None
    name = " ".join(part for part in (c.first_name, c.last_name) if part) or None
    place = ", ".join(part for part in (c.address1, c.city, c.state, c.zip_code, c.country) if part) or None
    return ContactInfo(name=name, email=c.email, phone=c.work_phone, address=place)
