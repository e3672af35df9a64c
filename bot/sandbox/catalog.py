"""The sandbox's product catalog: seed it, find a plan, and build a subscription rate plan from one.

`add_catalog()` seeds the catalog (run once by the seed, after the history is built, so no
existing record changes except A-S00000017, which gains an SMS add-on from this month on):

    Relay Platform   Starter 15, Growth 30, Business 40, Enterprise 45 per seat (+ 500 platform fee),
                     "Business EU" 38 per seat in EUR only; every plan also has the API-calls usage charge
    Relay Add-ons    SMS add-on 20 / month, Extra storage 10 / month (USD, EUR, GBP)
    Relay Discounts  Retention discount: a percentage discount (20 % by default)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from bot.sandbox.billing import Charge, Segment
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import Tenant

__all__ = ["CATALOG", "add_catalog", "find_plan", "product_of", "rate_plan_from"]

D = Decimal
_ALL = ("USD", "EUR", "GBP")


def _prices(value: Decimal | int, currencies: tuple[str, ...] = _ALL) -> dict[str, Decimal]:
    return {c: D(value) for c in currencies}


_API_CALLS = ("API calls", "Usage", "Overage", "API Call", _prices(D("0.02")))
CATALOG: list[tuple[str, str, list[tuple[str, int | None, list[tuple[str, str, str, str | None, dict]]]]]] = [
    ("Relay Platform", "SKU-RELAY", [
        ("Starter", 1, [("Seats", "Recurring", "PerUnit", "Seat", _prices(15)), _API_CALLS]),
        ("Growth", 2, [("Seats", "Recurring", "PerUnit", "Seat", _prices(30)), _API_CALLS]),
        ("Business", 3, [("Seats", "Recurring", "PerUnit", "Seat", _prices(40)), _API_CALLS]),
        ("Enterprise", 4, [("Seats", "Recurring", "PerUnit", "Seat", _prices(45)),
                           ("Platform fee", "Recurring", "FlatFee", None, _prices(500)), _API_CALLS]),
        ("Business EU", 3, [("Seats", "Recurring", "PerUnit", "Seat", {"EUR": D(38)}), _API_CALLS]),
    ]),
    ("Relay Add-ons", "SKU-ADDONS", [
        ("SMS add-on", None, [("SMS add-on", "Recurring", "FlatFee", None, {"USD": D(20), "EUR": D(18),
                                                                            "GBP": D(16)})]),
        ("Extra storage", None, [("Extra storage", "Recurring", "FlatFee", None, _prices(10))]),
    ]),
    ("Relay Discounts", "SKU-DISCOUNTS", [
        ("Retention discount", None, [("Retention discount", "Recurring", "DiscountPercentage", None,
                                       _prices(20))]),
    ]),
]


def add_catalog(tenant: Tenant) -> None:
    """Seed the catalog and the SMS add-on of A-S00000017 (see the module docstring)."""
    start = date(2020, 1, 1)
    for p_index, (name, sku, plans) in enumerate(CATALOG, start=1):
        product_id = tenant.new_id("product")
        rate_plans = []
        for r_index, (plan_name, grade, charges) in enumerate(plans, start=1):
            plan_id = tenant.new_id("productrateplan")
            rate_plans.append({
                "id": plan_id, "name": plan_name, "productId": product_id, "grade": grade, "state": "Active",
                "productRatePlanNumber": f"PRP-{p_index:03d}{r_index:02d}", "effectiveStartDate": start,
                "effectiveEndDate": date(2099, 12, 31),
                "charges": [{"id": tenant.new_id("productrateplancharge"), "name": c_name, "chargeType": c_type,
                             "chargeModel": c_model, "uom": uom, "prices": dict(prices), "billingPeriod": "Month",
                             "triggerEvent": "ContractEffective", "defaultQuantity": D(1) if c_model == "PerUnit"
                             else None, "productRatePlanId": plan_id,
                             "billingTiming": "IN_ARREARS" if c_type == "Usage" else "IN_ADVANCE"}
                            for c_name, c_type, c_model, uom, prices in charges]})
        tenant.products[product_id] = {"id": product_id, "name": name, "sku": sku, "state": "Active",
                                       "productNumber": f"PC-{p_index:05d}", "effectiveStartDate": start,
                                       "effectiveEndDate": date(2099, 12, 31), "productRatePlans": rate_plans}
    sub = tenant.find("subscriptions", "A-S00000017")
    plan = find_plan(tenant, "SMS add-on")
    if sub is not None and plan is not None and sub["status"] == "Active":
        rp = rate_plan_from(tenant, sub, plan, tenant.today.replace(day=1), {})
        sub["ratePlans"].append(rp)


def find_plan(tenant: Tenant, key: str) -> dict[str, Any] | None:
    """A product rate plan by id or name."""
    for product in tenant.products.values():
        for plan in product["productRatePlans"]:
            if key in (plan["id"], plan["name"]):
                return plan
    return None


def product_of(tenant: Tenant, plan: dict[str, Any]) -> dict[str, Any]:
    return tenant.products[plan["productId"]]


def rate_plan_from(tenant: Tenant, sub: dict[str, Any], plan: dict[str, Any], start: date,
                   overrides: dict[str, dict[str, Any]], *, quantity: Decimal | None = None) -> dict[str, Any]:
    currency = sub["currency"]
    charges = []
    for c in plan["charges"]:
        price = c["prices"].get(currency)
        if price is None:
            raise SandboxError(53, f"The product rate plan {plan['name']} has no price in {currency} "
                                   f"(the subscription's currency).")
        override = overrides.get(c["id"], {})
        end = override.get("end")
        qty = override.get("quantity") or quantity or c["defaultQuantity"] or D(1)
        seg = Segment(start=start, quantity=D(qty), price=D(override.get("price", price)), end=end)
        charge = Charge(number=tenant.next_number("charge", "C-{:08d}"), name=c["name"], charge_type=c["chargeType"],
                        model=c["chargeModel"], uom=c["uom"], segments=[seg],
                        included_units=D(10_000) if c["chargeType"] == "Usage" else D(0))
        charge.segment_ids = [tenant.new_id("rpc")]
        charge.product_rate_plan_charge_id = c["id"]
        charge.sku = product_of(tenant, plan)["sku"]
        charges.append(charge)
    return {"name": plan["name"], "charges": charges, "id": tenant.new_id("rp"), "productRatePlanId": plan["id"]}
