"""The churn-risk tools: `churn_risk` (one account) and `accounts_at_risk` (the highest scores).

They read billing facts from Zuora (payments, the default payment method, subscription segments
and removed rate plans, usage, overdue invoices) and hand them to the pure `bot.analytics.risk`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from itertools import islice
from typing import Any

from pydantic import BaseModel, Field

from bot.analytics.risk import CardFact, ChangeFact, OverdueFact, PaymentFact, RiskInputs, score
from bot.copilot.lookups import find_account
from bot.copilot.results import AccountRef, Citation, RiskListResult, RiskReasonInfo, RiskResult, RiskRow
from bot.copilot.tools import AccountKey, ToolContext, tool
from bot.zuora import Account, ZuoraClient
from bot.zuora.base import query_params
from bot.zuora.errors import ZuoraError, ZuoraNotFound

__all__ = ["SCAN_LIMIT", "accounts_at_risk", "assess", "churn_risk", "facts_of"]

SCAN_LIMIT = 200
"""`accounts_at_risk` scores at most this many active accounts (and says so when there are more)."""


class RiskArgs(BaseModel):
    account: AccountKey = Field(description="Account number (A00000010) or name as typed")


class AtRiskArgs(BaseModel):
    limit: int = Field(default=10, ge=1, le=25, description="How many accounts to list")


def facts_of(client: ZuoraClient, account: Account, today: date) -> tuple[RiskInputs, list[str]]:
    """Everything the score needs, read from Zuora, and the account's active subscription numbers."""
    payments = []
    for p in client.payments.list(account.account_id, sort="+effectiveDate"):
        if p.effective_date < today - timedelta(days=120):
            break
        payments.append(PaymentFact(p.payment_number, p.payment_id, p.effective_date, p.status == "Error"))
    card = None
    try:
        pm = client.payment_methods.default(account.account_number)
        if pm.method_type == "CreditCard" and pm.expiration_month and pm.expiration_year:
            card = CardFact(f"{pm.card_type or 'card'} ending {pm.last4}", pm.payment_method_id, pm.expiration_month,
                            pm.expiration_year)
    except ZuoraNotFound:
        card = None
    changes, active = [], []
    summary = client.get(f"/v1/accounts/{account.account_number}/summary")
    for row in summary.get("subscriptions") or []:
        sub = client.subscriptions.get(str(row.get("subscriptionNumber")), charge_detail="all-segments")
        if sub.status == "Active":
            active.append(sub.subscription_number)
        for rp in sub.rate_plans:
            if rp.last_change_type == "Remove":
                ends = [c.effective_end_date for c in rp.charges if c.effective_end_date]
                if ends:
                    changes.append(ChangeFact(max(ends) + timedelta(days=1), f"removed {rp.rate_plan_name}",
                                              sub.subscription_number, sub.subscription_id))
            for charge in rp.charges:
                segments = [s for s in charge.segments if s.quantity is not None and s.effective_start_date]
                for before, after in zip(segments, segments[1:], strict=False):
                    if after.quantity < before.quantity:  # type: ignore[operator]
                        changes.append(ChangeFact(after.effective_start_date,  # type: ignore[arg-type]
                                                  f"{charge.name} {before.quantity:f} → {after.quantity:f}",
                                                  sub.subscription_number, sub.subscription_id))
    usage: dict[str, Decimal] = {}
    oldest = f"{today - timedelta(days=200):%Y-%m}"
    for record in client.usage.of_account(account.account_number):
        month = record.start_date_time[:7]
        if month < oldest:
            break
        usage[month] = usage.get(month, Decimal(0)) + record.quantity
    overdue = [OverdueFact(i.invoice_number, i.invoice_id, i.due_date) for i in client.invoices.query(
        filters=[f"accountid.EQ:{account.account_id}", "balance.GT:0", "status.EQ:Posted"])
        if i.due_date and i.due_date < today]
    return RiskInputs(today=today, payments=payments, card=card, changes=changes, usage=usage,
                      overdue=overdue), active


def _ref(account: Account) -> AccountRef:
    return AccountRef(account_id=account.account_id, account_number=account.account_number, name=account.name)


def assess(ctx: ToolContext, account: Account) -> RiskResult:
    facts, subscriptions = facts_of(ctx.client, account, ctx.today())
    risk = score(facts, account.account_number, account.account_id)
    return RiskResult(account=_ref(account), score=risk.score, level=risk.level, subscriptions=subscriptions, reasons=[
        RiskReasonInfo(signal=r.signal, points=r.points, text=r.text,
                       cite=Citation(kind=r.cite, label=r.label, object_id=r.object_id)) for r in risk.reasons])


@tool(RiskArgs)
def churn_risk(ctx: ToolContext, args: RiskArgs) -> RiskResult:
    """Score an account's churn risk from billing data only (failed payments, cards expiring, downgrades and
    removed products, falling usage, overdue invoices), with each reason and the points it adds."""
    return assess(ctx, find_account(ctx, args.account))


@tool(AtRiskArgs)
def accounts_at_risk(ctx: ToolContext, args: AtRiskArgs) -> RiskListResult:
    """List the active accounts with the highest churn-risk scores (billing data only), highest first."""
    zuora = ctx.client
    rows: list[dict[str, Any]] = list(islice(zuora.iter_query("/object-query/accounts", query_params(
        filters=["status.EQ:Active"]), page_size=99), SCAN_LIMIT + 1))
    capped = len(rows) > SCAN_LIMIT

    def one(number: str) -> RiskResult | None:
        try:
            return assess(ctx, ctx.client.accounts.get(number))
        except ZuoraError:
            return None  # counted as unread; one account does not sink the list

    results = zuora.concurrently(*(partial(one, str(row["accountNumber"])) for row in rows[:SCAN_LIMIT]))
    scored = sorted((r for r in results if r is not None and r.score > 0),
                    key=lambda r: (-r.score, r.account.account_number))
    return RiskListResult(rows=[RiskRow(account=r.account, score=r.score, level=r.level, top=r.reasons[0].text)
                                for r in scored[:args.limit]], scored=sum(r is not None for r in results),
                          capped=capped, unread=sum(r is None for r in results))
