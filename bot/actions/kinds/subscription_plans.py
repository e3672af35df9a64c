"""What a subscription change is built from: the subscription (read and checked: it must be active), the
catalog plan the requester named, and the dates its order carries (next bill date, trigger dates).

    ProposalError   unknown subscription or plan, a plan without a price in the subscription's
                    currency, a subscription that is not active
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from bot.actions.kinds.base import DraftContext, ProposalError
from bot.zuora import Subscription
from bot.zuora.errors import ZuoraInvalidKey, ZuoraNotFound
from bot.zuora.orders import CatalogPlan
from bot.zuora.subscriptions import RatePlan

__all__ = ["active_plans", "checked_plan", "find_plan", "next_bill_date", "read_subscription", "triggers"]

_TRIGGERS = ("ContractEffective", "ServiceActivation", "CustomerAcceptance")


def next_bill_date(today: date, bill_cycle_day: int | None) -> date:
    """The first bill-cycle day after `today` (the start of the next billing period)."""
    bcd = bill_cycle_day or 1
    year, month = today.year, today.month
    for _ in range(2):
        day = date(year, month, min(bcd, calendar.monthrange(year, month)[1]))
        if day > today:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("unreachable")


def triggers(day: date) -> list[dict[str, str]]:
    """All three trigger dates on `day` (so the order is never left Pending, §18.2)."""
    return [{"name": name, "triggerDate": day.isoformat()} for name in _TRIGGERS]


def find_plan(plans: list[CatalogPlan], typed: str) -> CatalogPlan:
    """The catalog plan the requester named: an exact name (any case), else the one plan containing it."""
    wanted = " ".join(typed.split()).casefold()
    active = [p for p in plans if (p.state or "Active") == "Active"]
    exact = [p for p in active if p.name.casefold() == wanted]
    if len(exact) == 1:
        return exact[0]
    close = exact or [p for p in active if wanted and wanted in p.name.casefold()]
    if len(close) == 1:
        return close[0]
    if close:
        names = ", ".join(sorted(p.name for p in close))
        raise ProposalError(f"“{typed}” matches several plans: {names}. Say which one.")
    names = ", ".join(sorted(p.name for p in active)[:20])
    raise ProposalError(f"There is no plan called “{typed}” in the catalog. Plans: {names}.")


def active_plans(sub: Subscription) -> list[RatePlan]:
    """The subscription's rate plans that have not been removed."""
    return [rp for rp in sub.rate_plans if rp.last_change_type != "Remove"]


def read_subscription(ctx: DraftContext, typed: str) -> tuple[Subscription, Any]:
    """The subscription and its account; a clear `ProposalError` when it cannot be changed."""
    try:
        sub = ctx.client.subscriptions.get(typed.strip())
    except (ZuoraNotFound, ZuoraInvalidKey):
        raise ProposalError(f"I couldn't find subscription {typed.strip()[:40]!r}.") from None
    if sub.status != "Active":
        raise ProposalError(f"{sub.subscription_number} is {sub.status}; only an active subscription can be changed.")
    account = ctx.client.accounts.get(sub.account_number or sub.account_id or "")
    return sub, account


def checked_plan(ctx: DraftContext, typed: str, currency: str) -> CatalogPlan:
    """The catalog plan the requester named, priced in `currency`."""
    plan = find_plan(ctx.client.catalog.plans(), typed)
    if currency not in plan.currencies():
        priced = ", ".join(sorted(plan.currencies())) or "no currency"
        raise ProposalError(f"{plan.name} is priced in {priced}; the subscription bills in {currency}.")
    return plan
