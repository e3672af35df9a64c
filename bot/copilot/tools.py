"""The copilot's read tools: typed functions over the Zuora client, shared by the router and the LLM.
(The `propose_*` tools, which only draft proposals, live in `propose.py`; the tool contract and its
`@tool` registry in `registry.py`; the lookups and row conversions the read tools share in `lookups.py`.)

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

from collections import defaultdict
from decimal import Decimal
from itertools import islice
from typing import Any

from pydantic import BaseModel, Field

from bot.copilot.explain import explain
from bot.copilot.lookups import (
    account_ref,
    contact_info,
    days_overdue,
    default_method,
    find_account,
    method_info,
    overdue_invoices,
    payment_info,
)
from bot.copilot.registry import (
    TOOLS,
    AccountKey,
    InvoiceKey,
    SubscriptionKey,
    Tool,
    ToolContext,
    ToolError,
    tool,
)
from bot.copilot.results import (
    AccountResult,
    ExplainResult,
    InvoiceLine,
    InvoiceResult,
    OverdueAccount,
    OverdueInvoice,
    OverdueResult,
    PaymentsResult,
    SubscriptionCharge,
    SubscriptionResult,
    UsageMonth,
    UsageResult,
)
from bot.zuora import Account, Invoice
from bot.zuora.errors import ZuoraError

# The tool contract lives in `registry`; other modules import it from here, after the read tools registered.
__all__ = ["TOOLS", "AccountKey", "InvoiceKey", "SubscriptionKey", "Tool", "ToolContext", "ToolError", "tool"]


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
        invoice_id=inv.invoice_id, invoice_number=inv.invoice_number, typed=typed, account=account_ref(account),
        invoice_date=inv.invoice_date, due_date=inv.due_date, status=inv.status, currency=inv.currency,
        amount=inv.amount, tax=inv.tax_amount, balance=inv.balance,
        days_overdue=days_overdue(inv.due_date, inv.balance, ctx.today()), lines=lines)


@tool(AccountArgs)
def get_account_summary(ctx: ToolContext, args: AccountArgs) -> AccountResult:
    """Summarise an account: balance, overdue invoices, the last payments with decline reasons, the default
    payment method's health (expired or expiring card, consecutive failures), auto-pay and bill-to contact."""
    account = find_account(ctx, args.account)
    today = ctx.today()
    payments, method, overdue = ctx.client.concurrently(
        lambda: list(islice(ctx.client.payments.list(account.account_id, page_size=5), 5)),
        lambda: default_method(ctx, account),
        lambda: overdue_invoices(ctx, [f"accountid.EQ:{account.account_id}"], today, limit=20)[0])
    return AccountResult(
        account=account_ref(account), status=account.status, currency=account.currency, balance=account.balance,
        overdue_total=sum((i.balance for i in overdue), Decimal(0)), overdue_invoices=overdue,
        last_payments=[payment_info(p) for p in payments],
        payment_method=method_info(method, today) if method else None, auto_pay=account.auto_pay,
        bill_to=contact_info(account), **_risk_of(ctx, account))


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
    account = find_account(ctx, args.account)
    rows = ctx.client.payments.list(account.account_id, status="Error" if args.failed_only else None,
                                    page_size=min(args.limit, 40))
    payments = [payment_info(p) for p in islice(rows, args.limit)]
    return PaymentsResult(account=account_ref(account), payments=payments,
                          failed=sum(p.status == "Error" for p in payments))


@tool(OverdueArgs)
def list_overdue_invoices(ctx: ToolContext, args: OverdueArgs) -> OverdueResult:
    """List overdue invoices (posted, unpaid, past due), most overdue first, with totals per currency and
    the accounts that owe them. Give an account to look at one customer only."""
    filters = []
    if args.account:
        filters.append(f"accountid.EQ:{find_account(ctx, args.account).account_id}")
    today = ctx.today()
    invoices, truncated = overdue_invoices(ctx, filters, today, limit=500)
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
    account = find_account(ctx, args.account)
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
    return UsageResult(account=account_ref(account), months=rows)


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
