"""Retention offer: a percentage discount for N billing periods, as an order adding the tenant's discount plan.

The discount plan is `RETENTION_DISCOUNT_PLAN` in the catalog (a `DiscountPercentage` charge); the
offer overrides its percentage and ends it after N billing periods (§19.1). It is previewed like a
subscription change (today and from the next period, side by side; a percentage discount does not
prorate, so it starts with the next period), approved like any proposal, and placed as one order.
Credit memos stay the tool for one-off goodwill on an invoice.

    ProposalError   a percentage of 0 or less or above `RETENTION_MAX_PERCENT`, periods outside
                    1…`RETENTION_MAX_PERIODS`, no such discount plan, a subscription already on it,
                    or any of the subscription-change errors
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Literal

from bot.actions.kinds.base import DraftContext, ProposalError
from bot.actions.kinds.subscription_change import ChangeSettings, SubscriptionChange, SubscriptionSnapshot
from bot.actions.kinds.subscription_plans import find_plan, next_bill_date, read_subscription, triggers
from bot.actions.kinds.subscription_preview import preview_options
from bot.money import CENT, money
from bot.zuora.errors import ZuoraError

__all__ = ["RetentionOffer", "draft"]


class RetentionOffer(SubscriptionChange):
    """N billing periods of a percentage discount on a subscription's recurring charges."""

    title: ClassVar[str] = "retention offer"

    kind: Literal["retention_offer"] = "retention_offer"  # type: ignore[assignment]
    percent: Decimal
    periods: int
    max_percent: Decimal = Decimal(100)
    """`RETENTION_MAX_PERCENT` when it was drafted (a re-draft keeps to it)."""
    max_periods: int = 36

    def what(self) -> str:
        return f"{self.percent:f}% off recurring charges for {self.periods} billing periods ({self.plan})"

    def sentence(self) -> str:
        o = self.option
        return (f"Offer {self.subscription_number} ({self.account_name}) {self.what()}, from "
                f"{o.effective.isoformat()}. Zuora's preview: next invoice {money(o.next_invoice, self.currency)} on "
                f"{o.next_date.isoformat()}, MRR {money(o.mrr_delta, self.currency)} while it lasts.")

    def card_sections(self) -> list[tuple[str, str]]:
        o = self.option
        per_period = -o.mrr_delta
        sections = super().card_sections()
        sections.insert(1, ("Offer", f"{money(per_period, self.currency)} off per period (Zuora's MRR change) × "
                                     f"{self.periods} periods ≈ {money(per_period * self.periods, self.currency)} "
                                     f"in total (our multiplication of Zuora's number)."))
        return sections

    def again(self, drafts: DraftContext) -> RetentionOffer:  # type: ignore[override]
        return draft(drafts, self.subscription_number, self.percent, self.periods, reason=self.reason,
                     settings=ChangeSettings(preview_ttl_minutes=self.preview_ttl_minutes, retention_plan=self.plan,
                                             retention_max_percent=self.max_percent,
                                             retention_max_periods=self.max_periods))


def draft(ctx: DraftContext, typed: str, percent: Decimal, periods: int, *, reason: str = "",
          settings: ChangeSettings | None = None, now: datetime | None = None) -> RetentionOffer:
    """Check the offer against the settings and the catalog, then preview it for both dates."""
    settings = settings or ChangeSettings()
    if not percent.is_finite() or percent <= 0:
        raise ProposalError("The discount must be more than 0%.")
    if percent > settings.retention_max_percent:
        raise ProposalError(f"{percent:f}% is above the largest retention discount allowed "
                            f"({settings.retention_max_percent:f}%, RETENTION_MAX_PERCENT).")
    if percent != percent.quantize(Decimal("0.01")):
        raise ProposalError("The discount takes at most two decimals.")
    if not 1 <= periods <= settings.retention_max_periods:
        raise ProposalError(f"An offer lasts 1 to {settings.retention_max_periods} billing periods "
                            f"(RETENTION_MAX_PERIODS); {periods} asked.")
    sub, account = read_subscription(ctx, typed)
    currency = sub.currency or account.currency
    plan = find_plan(ctx.client.catalog.plans(), settings.retention_plan)
    charge = next((c for c in plan.charges if c.charge_model == "DiscountPercentage"), None)
    if charge is None:
        raise ProposalError(f"{plan.name} (RETENTION_DISCOUNT_PLAN) has no percentage discount charge.")
    if currency not in plan.currencies():
        raise ProposalError(f"{plan.name} is not priced in {currency}, the subscription's currency.")
    active = [rp for rp in sub.rate_plans if rp.last_change_type != "Remove"]
    if any((rp.rate_plan_name or "").casefold() == plan.name.casefold() for rp in active):
        raise ProposalError(f"{sub.subscription_number} already has {plan.name}; end it in Zuora before another.")
    today = ctx.today
    next_date = next_bill_date(today, account.bill_cycle_day)

    def actions(day: date) -> list[dict[str, Any]]:
        return [{"type": "AddProduct", "triggerDates": triggers(day), "addProduct": {
            "productRatePlanId": plan.plan_id, "chargeOverrides": [{
                "productRatePlanChargeId": charge.charge_id,
                "pricing": {"discount": {"discountPercentage": int(percent) if percent == int(percent) else
                                         float(percent), "applyDiscountTo": "RECURRING",
                                         "discountLevel": "subscription"}},
                "endDate": {"endDateCondition": "Fixed_Period", "upToPeriods": periods,
                            "upToPeriodsType": "Billing_Periods"}}]}}]

    def body_of(day: date) -> dict[str, Any]:
        return {"orderDate": today.isoformat(), "existingAccountNumber": account.account_number,
                "subscriptions": [{"subscriptionNumber": sub.subscription_number, "orderActions": actions(day)}]}

    try:
        options = preview_options(ctx, body_of, today=today, later=next_date, later_label="next period",
                                  next_date=next_date)
    except ZuoraError as exc:
        messages = getattr(exc, "messages", None) or [type(exc).__name__]
        raise ProposalError(f"Zuora could not preview the offer: {messages[0]}") from None
    option = options[1]
    if option.mrr_delta >= 0:
        raise ProposalError("Zuora's preview shows no discount on this subscription (no recurring charges?).")
    why = (f"Next period ({next_date.isoformat()}): a percentage discount does not prorate, so starting today "
           f"would only use up one of the {periods} periods on the part already billed; from {next_date.isoformat()} "
           f"it covers {periods} full periods.")
    amount = abs(option.mrr_delta).quantize(CENT, rounding=ROUND_HALF_UP)
    snapshot = SubscriptionSnapshot(object_kind="subscription", object_id=sub.subscription_number,
                                    balance=option.due_now, status=sub.status, version=sub.version or 0,
                                    due_now=option.due_now, next_invoice=option.next_invoice,
                                    mrr_delta=option.mrr_delta, previewed_at=now or datetime.now(UTC),
                                    order_date=today)
    return RetentionOffer(
        account_id=account.account_id, account_number=account.account_number, account_name=account.name,
        currency=currency, amount=amount, limit=amount, reason=reason.strip() or "retention offer",
        evidence=[f"{sub.subscription_number}: version {sub.version}, plans "
                  f"{', '.join(rp.rate_plan_name or '?' for rp in active)}",
                  f"Approval tier by {money(amount, currency)}: the discount per period (Zuora's MRR change)"],
        subscription_number=sub.subscription_number, change="add_product", plan=plan.name, when="next_period",
        order_date=today, chosen="next period", options=options, recommendation=why, actions_today=actions(today),
        actions_later=actions(next_date), snapshot=snapshot, preview_ttl_minutes=settings.preview_ttl_minutes,
        percent=percent, periods=periods, max_percent=settings.retention_max_percent,
        max_periods=settings.retention_max_periods)
