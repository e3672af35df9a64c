"""An order request's actions (AddProduct, UpdateProduct, RemoveProduct, ChangePlan) and the values in them:
validate each against the §18 request shape and apply it to a working copy of a subscription.

RemoveProduct ends a rate plan's segments the day before the contract-effective date; AddProduct
adds the catalog plan's charges from it; UpdateProduct splits a charge's segment at it; ChangePlan
is a RemoveProduct plus an AddProduct.

    SandboxError(21/23/40/53)   what Zuora answers for a malformed or impossible action
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.billing import Segment, shift_months
from bot.sandbox.catalog import find_plan, rate_plan_from
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import Tenant

__all__ = ["ACTION_TYPES", "apply_action", "effective_date", "parse_date"]

D = Decimal
ACTION_TYPES = ("CreateSubscription", "AddProduct", "UpdateProduct", "RemoveProduct", "ChangePlan",
                "RenewSubscription", "CancelSubscription", "TermsAndConditions", "Suspend", "Resume", "OwnerTransfer")
_SUPPORTED = {"AddProduct": "addProduct", "UpdateProduct": "updateProduct", "RemoveProduct": "removeProduct",
              "ChangePlan": "changePlan"}
_TRIGGERS = ("ContractEffective", "ServiceActivation", "CustomerAcceptance")
_APPLY_TO = {"ONETIME", "RECURRING", "USAGE", "ONETIMERECURRING", "ONETIMEUSAGE", "RECURRINGUSAGE",
             "ONETIMERECURRINGUSAGE"}


def parse_date(value: Any, what: str) -> date:
    """A yyyy-mm-dd value of the request, else a category-21 error."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SandboxError(21, f"Invalid value for {what}: '{value}' is not a date (yyyy-mm-dd)") from None


def _number(value: Any, what: str) -> Decimal:
    try:
        number = D(str(value))
    except InvalidOperation:
        raise SandboxError(21, f"Invalid value for {what}: '{value}'") from None
    if not number.is_finite():
        raise SandboxError(21, f"Invalid value for {what}: '{value}'")
    return number


def effective_date(action: dict[str, Any], order_date: date) -> date:
    dates: dict[str, date] = {}
    for trigger in action.get("triggerDates") or []:
        name = trigger.get("name")
        if name not in _TRIGGERS:
            raise SandboxError(21, f"Invalid trigger date name '{name}'")
        dates[name] = parse_date(trigger.get("triggerDate"), f"triggerDates[{name}]")
    ce = dates.get("ContractEffective", order_date)
    sa = dates.get("ServiceActivation", ce)
    ca = dates.get("CustomerAcceptance", sa)
    if not ce <= sa <= ca:
        raise SandboxError(21, "Trigger dates must satisfy ContractEffective <= ServiceActivation <= "
                               "CustomerAcceptance")
    return sa


def _find_rate_plan(sub: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    key = block.get("ratePlanId") or block.get("subscriptionRatePlanNumber") or block.get("productRatePlanId")
    for rp in sub["ratePlans"]:
        if key in (rp["id"], rp.get("productRatePlanId")) and not rp.get("removed"):
            return rp
    raise SandboxError(40, f"Cannot find the rate plan {key} on subscription {sub['subscriptionNumber']}.")


def _end_rate_plan(rp: dict[str, Any], effective: date) -> None:
    for charge in rp["charges"]:
        charge.segments = [s for s in charge.segments if s.start < effective]
        if charge.segments and (charge.segments[-1].end is None or charge.segments[-1].end >= effective):
            charge.segments[-1].end = effective - timedelta(days=1)
    rp["removed"] = effective


def _overrides(plan: dict[str, Any], block: dict[str, Any], effective: date) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    ids = {c["id"] for c in plan["charges"]}
    for override in block.get("chargeOverrides") or []:
        charge_id = override.get("productRatePlanChargeId")
        if not charge_id:
            raise SandboxError(23, "chargeOverrides[].productRatePlanChargeId is required")
        if charge_id not in ids:
            raise SandboxError(21, f"The charge {charge_id} is not in the product rate plan {plan['name']}")
        entry: dict[str, Any] = {}
        pricing = override.get("pricing") or {}
        per_unit = pricing.get("recurringPerUnit") or {}
        flat = pricing.get("recurringFlatFee") or {}
        discount = pricing.get("discount") or {}
        if "quantity" in per_unit:
            entry["quantity"] = _positive(per_unit["quantity"], "quantity")
        for source in (per_unit, flat):
            if "listPrice" in source:
                entry["price"] = _number(source["listPrice"], "listPrice")
        if discount.get("discountLevel", "subscription") not in ("rateplan", "subscription", "account"):
            raise SandboxError(21, f"Invalid discountLevel '{discount.get('discountLevel')}'")
        if discount.get("discountLevel") == "account":
            raise SandboxError(21, "Orders does not support account-level discounts")
        if discount.get("applyDiscountTo", "RECURRING") not in _APPLY_TO:
            raise SandboxError(21, f"Invalid applyDiscountTo '{discount.get('applyDiscountTo')}'")
        if "discountPercentage" in discount:
            percent = _number(discount["discountPercentage"], "discountPercentage")
            if not 0 < percent <= 100:
                raise SandboxError(21, "discountPercentage must be more than 0 and at most 100")
            entry["price"] = percent
        end = override.get("endDate") or {}
        if end:
            if end.get("endDateCondition") != "Fixed_Period" or end.get("upToPeriodsType", "Billing_Periods") != \
                    "Billing_Periods":
                raise SandboxError(21, "The sandbox supports endDate {endDateCondition: Fixed_Period, "
                                       "upToPeriodsType: Billing_Periods} only")
            periods = _number(end.get("upToPeriods"), "upToPeriods")
            if periods != int(periods) or not 1 <= periods <= 120:
                raise SandboxError(21, "upToPeriods must be a whole number from 1 to 120")
            entry["end"] = shift_months(effective, int(periods)) - timedelta(days=1)
        out[charge_id] = entry
    return out


def _positive(value: Any, what: str) -> Decimal:
    number = _number(value, what)
    if number <= 0:
        raise SandboxError(21, f"Invalid value for {what}: it must be more than 0")
    return number


def apply_action(tenant: Tenant, sub: dict[str, Any], action: dict[str, Any], effective: date) -> None:
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        raise SandboxError(21, f"Invalid order action type '{kind}'")
    if kind not in _SUPPORTED:
        raise SandboxError(21, f"The sandbox does not support the order action {kind}")
    blocks = [k for k in _SUPPORTED.values() if k in action]
    if blocks != [_SUPPORTED[kind]]:
        raise SandboxError(21, f"An order action of type {kind} needs exactly the block '{_SUPPORTED[kind]}'")
    block = action[_SUPPORTED[kind]] or {}
    if kind == "RemoveProduct":
        _end_rate_plan(_find_rate_plan(sub, block), effective)
    elif kind in ("AddProduct", "ChangePlan"):
        target = block.get("newProductRatePlan") if kind == "ChangePlan" else block
        if not isinstance(target, dict) or not target.get("productRatePlanId"):
            raise SandboxError(23, "newProductRatePlan is required" if kind == "ChangePlan"
                               else "addProduct.productRatePlanId is required")
        plan = find_plan(tenant, str(target["productRatePlanId"]))
        if plan is None:
            raise SandboxError(40, f"Cannot find a ProductRatePlan instance with id {target['productRatePlanId']}.")
        if kind == "ChangePlan":
            if block.get("effectivePolicy", "SpecificDate") != "SpecificDate":
                raise SandboxError(21, "The sandbox supports effectivePolicy SpecificDate only")
            _end_rate_plan(_find_rate_plan(sub, block), effective)
        rp = rate_plan_from(tenant, sub, plan, effective, _overrides(plan, target, effective))
        if any(c.model == "DiscountPercentage" for c in rp["charges"]):
            numbers = [c.number for r in sub["ratePlans"] for c in r["charges"]
                       if c.charge_type == "Recurring" and c.model in ("PerUnit", "FlatFee")]
            for charge in rp["charges"]:
                charge.applies_to = numbers
        sub["ratePlans"].append(rp)
    else:  # UpdateProduct
        rp = _find_rate_plan(sub, block)
        updates = block.get("chargeUpdates") or []
        if not updates:
            raise SandboxError(23, "updateProduct.chargeUpdates is required")
        for update in updates:
            charge = next((c for c in rp["charges"] if c.number == update.get("chargeNumber")), None)
            if charge is None:
                raise SandboxError(40, f"Cannot find the charge {update.get('chargeNumber')} in the rate plan.")
            per_unit = (update.get("pricing") or {}).get("recurringPerUnit") or {}
            if "quantity" not in per_unit or charge.model != "PerUnit":
                raise SandboxError(21, "The sandbox updates the quantity of per-unit charges only")
            quantity = _positive(per_unit["quantity"], "quantity")
            current = next((s for s in charge.segments if s.active_on(effective)), None)
            if current is None or any(s.start > effective for s in charge.segments):
                raise SandboxError(53, f"The charge {charge.number} is not active on {effective}.")
            if current.start == effective:
                current.quantity = quantity
            else:
                current.end = effective - timedelta(days=1)
                charge.segments.append(Segment(start=effective, quantity=quantity, price=current.price))
                charge.segment_ids.append(tenant.new_id("rpc"))
