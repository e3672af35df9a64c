"""Subscription change: upgrade or downgrade a plan, add or remove a product, change a quantity, as one order.

Drafting reads the subscription and the catalog, builds the exact `POST /v1/orders` request (every
action with all three trigger dates), and asks Zuora to preview it twice: effective today and
effective at the next billing period (or at renewal, when the requester said so). The card shows
both previews side by side (Zuora's numbers, not ours) and recommends one date with its reason.
Executing places the order with `runBilling` (so what is due now is invoiced at once) under the
proposal's Idempotency-Key. Before it runs, the subscription is read again: a new version or status
makes it stale, and a preview older than `PREVIEW_TTL_MINUTES` is taken again; if Zuora's numbers
moved, it is stale too. The subscription and plan reads are in `subscription_plans`, the previews
in `subscription_preview`.

    ProposalError   unknown subscription or plan, a plan without a price in the subscription's
                    currency, a quantity of 0 or less, a subscription that is not active, nothing to change
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar, Literal

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, Snapshot, ZuoraRequest, tagged
from bot.actions.kinds.subscription_plans import active_plans, checked_plan, next_bill_date, read_subscription, triggers
from bot.actions.kinds.subscription_preview import (
    Option,
    explainer_note,
    next_amount,
    preview_options,
    recommend,
    signed,
    zuora_preview,
)
from bot.money import CENT, money
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraError

__all__ = ["ChangeSettings", "SubscriptionChange", "SubscriptionSnapshot", "draft"]

Change = Literal["change_plan", "add_product", "update_quantity", "remove_product"]
When = Literal["auto", "today", "next_period", "renewal"]


@dataclass(frozen=True)
class ChangeSettings:
    """The settings the subscription kinds use (from `bot.config`)."""

    preview_ttl_minutes: int = 15
    retention_plan: str = "Retention discount"
    retention_max_percent: Decimal = Decimal(30)
    retention_max_periods: int = 12

    @classmethod
    def of(cls, settings: Any) -> ChangeSettings:
        """From `bot.config.Settings`."""
        return cls(preview_ttl_minutes=settings.preview_ttl_minutes, retention_plan=settings.retention_discount_plan,
                   retention_max_percent=settings.retention_max_percent,
                   retention_max_periods=settings.retention_max_periods)


class SubscriptionSnapshot(Snapshot):
    """The subscription as the card showed it, and Zuora's preview numbers for the chosen date."""

    version: int
    due_now: Decimal
    next_invoice: Decimal
    mrr_delta: Decimal
    previewed_at: datetime
    order_date: date | None = None
    """The day the order is dated (a card from yesterday would backdate the change: stale)."""

    def differences(self, now: Snapshot) -> list[str]:
        if not isinstance(now, SubscriptionSnapshot):
            return ["the subscription could not be compared"]
        out = []
        if now.version != self.version:
            out.append(f"subscription version {self.version} → {now.version}")
        if now.status != self.status:
            out.append(f"status {self.status} → {now.status}")
        if self.order_date and now.order_date and now.order_date != self.order_date:
            out.append(f"it was previewed for {self.order_date}, today is {now.order_date}")
        for label, before, after in (("due now", self.due_now, now.due_now),
                                     ("next invoice", self.next_invoice, now.next_invoice),
                                     ("MRR change", self.mrr_delta, now.mrr_delta)):
            if before != after:
                out.append(f"Zuora's preview moved: {label} {before} → {after}")
        return out


class SubscriptionChange(ProposalBase):
    """One order changing a subscription, previewed by Zuora for today and for the next period."""

    title: ClassVar[str] = "subscription change"
    balance_label: ClassVar[str] = "Due now (Zuora preview)"

    kind: Literal["subscription_change"] = "subscription_change"
    subscription_number: str
    change: Change
    plan: str
    """The plan asked for (change, add, remove) or the charge (quantity)."""
    from_plan: str | None = None
    quantity: Decimal | None = None
    quantity_before: Decimal | None = None
    when: When = "auto"
    order_date: date
    chosen: str
    """The label of the option that runs (`today`, `next period`, `renewal`)."""
    options: list[Option]
    recommendation: str
    actions_today: list[dict[str, Any]]
    actions_later: list[dict[str, Any]]
    snapshot: SubscriptionSnapshot
    preview_ttl_minutes: int = 15
    notes: list[str] = []

    object_label: ClassVar[str] = "Subscription"

    @property
    def object_text(self) -> str | None:
        return f"{self.subscription_number} (version {self.snapshot.version})"

    @property
    def target(self) -> str:
        return self.subscription_number

    def _limit_words(self) -> str:
        return "what Zuora's preview shows"

    def balance_after(self) -> Decimal | None:
        return None

    @property
    def option(self) -> Option:
        return next(o for o in self.options if o.label == self.chosen)

    def what(self) -> str:
        if self.change == "update_quantity":
            return f"{self.plan} {self.quantity_before or 0:f} → {self.quantity or 0:f}"
        return {"change_plan": f"from {self.from_plan} to {self.plan}", "add_product": f"add {self.plan}",
                "remove_product": f"remove {self.plan}"}[self.change]

    def sentence(self) -> str:
        o = self.option
        verb = "Change" if self.change == "change_plan" else "Update"
        return (f"{verb} {self.subscription_number} ({self.account_name}): {self.what()}, effective "
                f"{o.effective.isoformat()} ({o.label}). Zuora's preview: {money(o.due_now, self.currency)} due now, "
                f"next invoice {money(o.next_invoice, self.currency)} on {o.next_date.isoformat()}, MRR "
                f"{signed(o.mrr_delta, self.currency)}.")

    def _actions(self) -> list[dict[str, Any]]:
        return self.actions_today if self.chosen == "today" else self.actions_later

    def order_body(self, ref: str = "") -> dict[str, Any]:
        """The `POST /v1/orders` body (without processing options)."""
        return {"orderDate": self.order_date.isoformat(), "existingAccountNumber": self.account_number,
                "description": tagged(f"{self.title}: {self.what()}", ref, 500),
                "subscriptions": [{"subscriptionNumber": self.subscription_number, "orderActions": self._actions()}]}

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        return ZuoraRequest(method="POST", path="/v1/orders", body={
            **self.order_body(ref), "processingOptions": {
                "runBilling": True, "collectPayment": False,
                "billingOptions": {"targetDate": self.order_date.isoformat()}}})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        number = str(body.get("orderNumber") or "")
        invoices = [str(i) for i in body.get("invoiceNumbers") or []]
        version = ""
        try:
            version = f" version {client.subscriptions.get(self.subscription_number).version}"
        except ZuoraError:
            version = " (its new version could not be read)"
        billed = f"; billed on {', '.join(invoices)}" if invoices else "; nothing billed now"
        return Outcome("succeeded", f"Order {number} placed: {self.subscription_number} is now{version}{billed}.",
                       document=number, zuora_ids={"order_number": number, "invoice_numbers": ",".join(invoices)})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        if not ref:
            return None
        for order in client.subscriptions.orders(self.subscription_number):
            if ref in (order.description or ""):
                return Outcome("succeeded", f"Order {order.order_number} placed (found in Zuora).",
                               document=order.order_number, zuora_ids={"order_number": order.order_number})
        return None

    def reread(self, client: ZuoraClient, now: datetime | None = None, today: date | None = None) -> Snapshot:
        sub = client.subscriptions.get(self.subscription_number)
        seen = self.snapshot
        numbers = {"due_now": seen.due_now, "next_invoice": seen.next_invoice, "mrr_delta": seen.mrr_delta,
                   "previewed_at": seen.previewed_at}
        current = now or datetime.now(UTC)
        if sub.version == seen.version and current - seen.previewed_at >= timedelta(minutes=self.preview_ttl_minutes):
            option = self.option
            preview = zuora_preview(client, self.order_body(), option.next_date)
            numbers = {"due_now": preview.due_on(self.order_date) if option.label == "today" else Decimal(0),
                       "next_invoice": next_amount(preview, option.next_date), "mrr_delta": preview.mrr_delta,
                       "previewed_at": current}
        return SubscriptionSnapshot(object_kind="subscription", object_id=self.subscription_number,
                                    balance=numbers["due_now"], status=sub.status, version=sub.version or 0,
                                    order_date=today or self.order_date, **numbers)

    def card_sections(self) -> list[tuple[str, str]]:
        rows = []
        for o in self.options:
            mark = " ← runs" if o.label == self.chosen else ""
            lines = "".join(f"\n    {line}" for line in o.due_lines)
            rows.append(f"*{o.label.capitalize()} ({o.effective.isoformat()})*{mark}: due now "
                        f"{money(o.due_now, self.currency)}{lines}\n  next invoice {o.next_date.isoformat()}: "
                        f"{money(o.next_invoice, self.currency)} · MRR {signed(o.mrr_delta, self.currency)}"
                        + (f" · contract value this term {signed(o.tcv_delta, self.currency)}"
                           if o.tcv_delta is not None else ""))
        sections = [("Zuora's preview, both dates", "\n".join(rows)), ("Recommendation", self.recommendation)]
        if self.notes:
            sections.append(("Note", "\n".join(self.notes)))
        return sections

    def again(self, drafts: DraftContext) -> SubscriptionChange:
        return draft(drafts, self.subscription_number, self.change, plan=self.plan, quantity=self.quantity,
                     when=self.when, reason=self.reason, ttl_minutes=self.preview_ttl_minutes)

def draft(ctx: DraftContext, typed: str, change: Change, *, plan: str, quantity: Decimal | None = None,
          when: When = "auto", reason: str = "", ttl_minutes: int = 15, now: datetime | None = None,
          delta: bool = False) -> SubscriptionChange:
    """Read, check, build and preview a change; `quantity` with `delta` adds to the current quantity."""
    sub, account = read_subscription(ctx, typed)
    currency = sub.currency or account.currency
    today = ctx.today
    next_date = next_bill_date(today, account.bill_cycle_day)
    later, later_label = next_date, "next period"
    if when == "renewal" and sub.term_end_date:
        later = max(sub.term_end_date + timedelta(days=1), next_date)
        later_label = "renewal" if later != next_date else "renewal (next period)"
    active = active_plans(sub)
    from_plan, quantity_before, new_quantity = None, None, None
    if change == "change_plan":
        target = checked_plan(ctx, plan, currency)
        catalog = ctx.client.catalog.plans()
        family = {p.name.casefold() for p in catalog if target.product and p.product and
                  p.product.product_id == target.product.product_id}
        current = next((rp for rp in active if (rp.rate_plan_name or "").casefold() in family), None)
        if current is None:
            product = target.product.name if target.product else "that product"
            raise ProposalError(f"{sub.subscription_number} has no plan of {product} to change from; add "
                                f"{target.name} as a product instead.")
        if (current.rate_plan_name or "").casefold() == target.name.casefold():
            raise ProposalError(f"{sub.subscription_number} is already on {target.name}.")
        from_plan = current.rate_plan_name
        per_unit = {c.name: int(c.quantity) for c in current.charges if c.model == "PerUnit" and c.quantity}
        overrides = [{"productRatePlanChargeId": c.charge_id, "pricing": {"recurringPerUnit": {
            "quantity": per_unit.get(c.name) or next(iter(per_unit.values()))}}}
            for c in target.charges if c.charge_model == "PerUnit" and per_unit]

        def actions(day: date) -> list[dict[str, Any]]:
            return [{"type": "RemoveProduct", "triggerDates": triggers(day),
                     "removeProduct": {"ratePlanId": current.rate_plan_id}},
                    {"type": "AddProduct", "triggerDates": triggers(day),
                     "addProduct": {"productRatePlanId": target.plan_id,
                                    **({"chargeOverrides": overrides} if overrides else {})}}]
        plan_name = target.name
    elif change == "add_product":
        target = checked_plan(ctx, plan, currency)
        if any((rp.rate_plan_name or "").casefold() == target.name.casefold() for rp in active):
            raise ProposalError(f"{sub.subscription_number} already has {target.name}.")

        def actions(day: date) -> list[dict[str, Any]]:
            return [{"type": "AddProduct", "triggerDates": triggers(day),
                     "addProduct": {"productRatePlanId": target.plan_id}}]
        plan_name = target.name
    elif change == "remove_product":
        wanted = " ".join(plan.split()).casefold()
        matches = [rp for rp in active if (rp.rate_plan_name or "").casefold() == wanted] or \
            [rp for rp in active if wanted and wanted in (rp.rate_plan_name or "").casefold()]
        if len(matches) != 1:
            names = ", ".join(rp.rate_plan_name or "?" for rp in active)
            raise ProposalError(f"{sub.subscription_number} has {'several' if matches else 'no'} rate plans called "
                                f"“{plan}”; it has: {names}.")
        if len(active) == 1:
            raise ProposalError(f"{matches[0].rate_plan_name} is the only plan of {sub.subscription_number}; "
                                f"cancelling a subscription is done in Zuora.")
        removed = matches[0]

        def actions(day: date) -> list[dict[str, Any]]:
            return [{"type": "RemoveProduct", "triggerDates": triggers(day),
                     "removeProduct": {"ratePlanId": removed.rate_plan_id}}]
        plan_name = removed.rate_plan_name or plan
    else:
        if quantity is None:
            raise ProposalError("How many? Give a quantity, like `add 5 seats to A-S00000002`.")
        charges = [(rp, c) for rp in active for c in rp.charges if c.model == "PerUnit"
                   and (c.effective_end_date is None or c.effective_end_date >= today)]
        wanted = plan.casefold().rstrip("s")
        chosen = [(rp, c) for rp, c in charges if wanted in c.name.casefold() or wanted in (c.uom or "").casefold()]
        if len(chosen) != 1:
            raise ProposalError(f"{sub.subscription_number} has no single per-unit charge for “{plan}”.")
        rate_plan, charge = chosen[0]
        quantity_before = charge.quantity or Decimal(0)
        new_quantity = quantity_before + quantity if delta else quantity
        if new_quantity <= 0 or new_quantity != new_quantity.to_integral_value():
            raise ProposalError(f"The quantity must be a whole number above 0 (that would make it {new_quantity}).")
        if new_quantity == quantity_before:
            raise ProposalError(f"{charge.name} is already {quantity_before:f}.")

        def actions(day: date) -> list[dict[str, Any]]:
            return [{"type": "UpdateProduct", "triggerDates": triggers(day), "updateProduct": {
                "ratePlanId": rate_plan.rate_plan_id, "chargeUpdates": [{
                    "chargeNumber": charge.charge_number,
                    "pricing": {"recurringPerUnit": {"quantity": int(new_quantity)}}}]}}]
        plan_name = charge.name

    def body_of(day: date) -> dict[str, Any]:
        return {"orderDate": today.isoformat(), "existingAccountNumber": account.account_number,
                "subscriptions": [{"subscriptionNumber": sub.subscription_number, "orderActions": actions(day)}]}

    try:
        options = preview_options(ctx, body_of, today=today, later=later, later_label=later_label,
                                  next_date=next_date)
    except ZuoraError as exc:
        messages = getattr(exc, "messages", None) or [type(exc).__name__]
        raise ProposalError(f"Zuora could not preview the change: {messages[0]}") from None
    label, why = recommend(options, currency)
    chosen = label if when == "auto" else ("today" if when == "today" else later_label)
    option = next(o for o in options if o.label == chosen)
    amount = max(abs(option.due_now), abs(option.mrr_delta)).quantize(CENT, rounding=ROUND_HALF_UP)
    if amount == 0:
        raise ProposalError("Zuora's preview shows no change in charges or MRR; nothing to propose.")
    snapshot = SubscriptionSnapshot(object_kind="subscription", object_id=sub.subscription_number,
                                    balance=option.due_now, status=sub.status, version=sub.version or 0,
                                    due_now=option.due_now, next_invoice=option.next_invoice,
                                    mrr_delta=option.mrr_delta, previewed_at=now or datetime.now(UTC),
                                    order_date=today)
    days = (next_date - today).days
    month_days = Decimal(calendar.monthrange(today.year, today.month)[1])
    expected = (options[0].mrr_delta * days / month_days).quantize(Decimal("0.01")) if days else None
    pretax = options[0].due_pretax if options[0].due_lines else None
    return SubscriptionChange(
        account_id=account.account_id, account_number=account.account_number, account_name=account.name,
        currency=currency, amount=amount, limit=amount, reason=reason.strip() or "requested in Slack",
        evidence=[f"{sub.subscription_number}: version {sub.version}, {sub.status}, plans "
                  f"{', '.join(rp.rate_plan_name or '?' for rp in active)}",
                  f"Approval tier by {money(amount, currency)}: the larger of what is due now and the MRR change"],
        subscription_number=sub.subscription_number, change=change, plan=plan_name, from_plan=from_plan,
        quantity=new_quantity, quantity_before=quantity_before, when=when, order_date=today, chosen=chosen,
        options=options, recommendation=why + ("" if chosen == label else f" (The requester chose {chosen}.)"),
        actions_today=actions(today), actions_later=actions(later), snapshot=snapshot,
        preview_ttl_minutes=ttl_minutes, notes=explainer_note(options[0], pretax, expected, currency))
