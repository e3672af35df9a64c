"""The sandbox's product catalog and Orders engine: preview and place subscription changes.

`add_catalog()` seeds the catalog (run once by the seed, after the history is built, so no
existing record changes except A-S00000017, which gains an SMS add-on from this month on):

    Relay Platform   Starter 15, Growth 30, Business 40, Enterprise 45 per seat (+ 500 platform fee),
                     "Business EU" 38 per seat in EUR only; every plan also has the API-calls usage charge
    Relay Add-ons    SMS add-on 20 / month, Extra storage 10 / month (USD, EUR, GBP)
    Relay Discounts  Retention discount: a percentage discount (20 % by default)

`run_order()` validates an order body (the §18 request shape), applies its actions to a copy of
each subscription's charges (RemoveProduct ends a rate plan's segments the day before the
contract-effective date; AddProduct adds the catalog plan's charges from it; UpdateProduct splits
a charge's segment at it; ChangePlan is a RemoveProduct plus an AddProduct), then bills the change
with `billing.order_lines()`: so a preview and the invoice the order (or a later
`billing-documents/generate`) posts are one computation and agree to the cent. A placed order
bumps the subscription's version and commits the copy; a preview changes nothing.

    SandboxError(20/21/23/40/53)   what Zuora answers for a malformed or impossible order
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox.billing import (
    Charge,
    Line,
    Segment,
    month_end,
    monthly_value,
    order_lines,
    shift_months,
    span_amount,
)
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import Tenant, money

__all__ = ["ACTION_TYPES", "add_catalog", "billed_through", "find_plan", "generate", "parse_date", "post_invoice",
           "product_of", "run_order"]

D = Decimal
_ALL = ("USD", "EUR", "GBP")
ACTION_TYPES = ("CreateSubscription", "AddProduct", "UpdateProduct", "RemoveProduct", "ChangePlan",
                "RenewSubscription", "CancelSubscription", "TermsAndConditions", "Suspend", "Resume", "OwnerTransfer")
_SUPPORTED = {"AddProduct": "addProduct", "UpdateProduct": "updateProduct", "RemoveProduct": "removeProduct",
              "ChangePlan": "changePlan"}
_TRIGGERS = ("ContractEffective", "ServiceActivation", "CustomerAcceptance")
_APPLY_TO = {"ONETIME", "RECURRING", "USAGE", "ONETIMERECURRING", "ONETIMEUSAGE", "RECURRINGUSAGE",
             "ONETIMERECURRINGUSAGE"}
_PREVIEW_TYPES = {"BillingDocs", "ChargeMetrics", "OrderDeltaMetrics", "OrderMetrics", "RampMetrics",
                  "RampDeltaMetrics", "Funds"}


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
        rp = _rate_plan_from(tenant, sub, plan, tenant.today.replace(day=1), {})
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


def billed_through(tenant: Tenant, sub: dict[str, Any]) -> date:
    """The last day a subscription's recurring charges are billed to (the seeded bill runs bill this month)."""
    return tenant.billed_through.get(sub["id"], month_end(tenant.today))


def _rate_plan_from(tenant: Tenant, sub: dict[str, Any], plan: dict[str, Any], start: date,
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


# -- the order request -----------------------------------------------------------------------------


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


def _effective(action: dict[str, Any], order_date: date) -> date:
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


def _apply(tenant: Tenant, sub: dict[str, Any], action: dict[str, Any], effective: date) -> None:
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
        rp = _rate_plan_from(tenant, sub, plan, effective, _overrides(plan, target, effective))
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


def run_order(tenant: Tenant, body: dict[str, Any], *, preview: bool) -> dict[str, Any]:
    """Preview (nothing changes) or place an order; returns Zuora's response body."""
    if "orderDate" not in body:
        raise SandboxError(23, "orderDate is required")
    order_date = parse_date(body["orderDate"], "orderDate")
    account = tenant.find("accounts", str(body.get("existingAccountNumber") or ""))
    if account is None:
        raise SandboxError(40, f"Cannot find an Account instance with number {body.get('existingAccountNumber')}.")
    entries = body.get("subscriptions")
    if not isinstance(entries, list) or not entries:
        raise SandboxError(23, "subscriptions is required")
    options = body.get("previewOptions") if preview else None
    through = order_date
    if preview:
        if not isinstance(options, dict):
            raise SandboxError(23, "previewOptions is required")
        if options.get("previewThruType") != "SpecificDate":
            raise SandboxError(21, "The sandbox supports previewThruType SpecificDate only")
        through = parse_date(options.get("specificPreviewThruDate"), "specificPreviewThruDate")
        bad = set(options.get("previewTypes") or []) - _PREVIEW_TYPES
        if bad or not options.get("previewTypes"):
            raise SandboxError(21, f"Invalid previewTypes {sorted(bad) or '[]'}")
    elif "previewOptions" in body:
        raise SandboxError(21, "previewOptions is not allowed when creating an order")
    processing = body.get("processingOptions") or {}
    if not preview and processing.get("runBilling"):
        through = parse_date((processing.get("billingOptions") or {}).get("targetDate", order_date), "targetDate")
    results = []
    for entry in entries:
        sub = tenant.find("subscriptions", str(entry.get("subscriptionNumber") or ""))
        if sub is None:
            raise SandboxError(40, f"Cannot find a Subscription instance with number "
                                   f"{entry.get('subscriptionNumber')}.")
        if sub["accountId"] != account["id"]:
            raise SandboxError(53, f"{sub['subscriptionNumber']} does not belong to {account['accountNumber']}.")
        if sub["status"] != "Active":
            raise SandboxError(53, f"The subscription {sub['subscriptionNumber']} is {sub['status']}; it cannot be "
                                   f"changed.")
        actions = entry.get("orderActions") or []
        if not actions or len(actions) > 50:
            raise SandboxError(21, "orderActions must have 1 to 50 actions")
        work = copy.deepcopy(sub)
        numbers_before = tenant.counters["no:charge"]
        dates = []
        for action in actions:
            effective = _effective(action, order_date)
            if effective < tenant.today:
                raise SandboxError(53, f"The sandbox cannot backdate a change to {effective} "
                                       f"(today is {tenant.today}).")
            _apply(tenant, work, action, effective)
            dates.append(effective)
        if preview:
            tenant.counters["no:charge"] = numbers_before  # a preview creates nothing
        results.append((sub, work, min(dates), actions))
    invoices, metrics, posted = [], [], []
    for sub, work, changed_from, _ in results:
        before = [c for rp in sub["ratePlans"] for c in rp["charges"]]
        after = [c for rp in work["ratePlans"] for c in rp["charges"]]
        bills = order_lines(before, after, changed_from=changed_from, billed_through=billed_through(tenant, sub),
                            through=through if (preview or processing.get("runBilling")) else date.min,
                            tax_rate=account["taxRate"])
        if preview:
            invoices += [_preview_invoice(sub, day, lines) for day, lines in bills]
            charges = []
            for charge in after:
                cmrr = _cmrr(charge, before, after, changed_from)
                tcv = _tcv(charge, before, changed_from, sub["termEndDate"])
                if charge.charge_type == "Recurring" and (cmrr["regularDelta"] or cmrr["discountDelta"]
                                                          or tcv["regularDelta"]):
                    charges.append({"chargeNumber": charge.number, "isPending": False, "cmrr": cmrr, "tcv": tcv,
                                    "productRatePlanChargeId": charge.product_rate_plan_charge_id})
            metrics.append({"subscriptionNumber": sub["subscriptionNumber"], "charges": charges})
            continue
        sub["ratePlans"] = work["ratePlans"]
        sub["version"] += 1
        for day, lines in bills:
            posted.append(post_invoice(tenant, account, sub, day, lines, source="Order"))
        if bills:
            tenant.billed_through[sub["id"]] = max(billed_through(tenant, sub), month_end(bills[-1][0]))
    if preview:
        types = set(options.get("previewTypes") or []) if options else set()
        result: dict[str, Any] = {}
        if "BillingDocs" in types:
            result["invoices"] = invoices
        if "ChargeMetrics" in types:
            result["chargeMetrics"] = metrics
        return {"success": True, "previewResult": result}
    order = tenant.add("orders", {
        "id": tenant.new_id("order"), "orderNumber": tenant.next_number("order", "O-{:08d}"), "orderDate": order_date,
        "status": "Completed", "category": body.get("category", "NewSales"),
        **({"description": str(body["description"])[:500]} if body.get("description") else {}),
        "subscriptionNumber": results[0][0]["subscriptionNumber"], "createdDate": tenant.now(),
        "updatedDate": tenant.now(),
        "subscriptions": [{"subscriptionNumber": sub["subscriptionNumber"], "baseVersion": sub["version"] - 1,
                           "newVersion": sub["version"], "orderActions": [
                               {"type": a["type"], "sequence": i, "triggerDates": [
                                   {"name": t.get("name"),
                                    "triggerDate": parse_date(t.get("triggerDate"), "triggerDate")}
                                   for t in a.get("triggerDates") or []]} for i, a in enumerate(actions)]}
                          for sub, _, _, actions in results]}, "orderNumber")
    response: dict[str, Any] = {
        "success": True, "orderNumber": order["orderNumber"], "accountNumber": account["accountNumber"],
        "status": "Completed", "subscriptionNumbers": [r[0]["subscriptionNumber"] for r in results],
        "subscriptions": [{"subscriptionNumber": r[0]["subscriptionNumber"], "status": r[0]["status"]}
                          for r in results]}
    if posted:
        response["invoiceNumbers"] = [i["invoiceNumber"] for i in posted]
    return response


def _tcv(charge: Charge, before: list[Charge], day: date, term_end: date) -> dict[str, float | None]:
    """The charge's value from `day` to the end of the current term after the order, and its change (`tcv`)."""
    if charge.model not in ("PerUnit", "FlatFee") or day > term_end:
        return {"regular": 0.0, "regularDelta": 0.0, "discount": None, "discountDelta": None}
    now = money(span_amount(charge, day, term_end)[0])
    old = next((c for c in before if c.number == charge.number), None)
    then = money(span_amount(old, day, term_end)[0]) if old else D(0)
    return {"regular": float(now), "regularDelta": float(now - then), "discount": None, "discountDelta": None}


def _cmrr(charge: Charge, before: list[Charge], after: list[Charge], day: date) -> dict[str, float | None]:
    """The charge's monthly value on `day` after the order, and its change (Zuora's `cmrr` metric)."""
    def value(charges: list[Charge], one: Charge | None) -> tuple[Decimal, Decimal]:
        if one is None:
            return D(0), D(0)
        if one.model != "DiscountPercentage":
            return monthly_value([one], day)[0], D(0)
        targets = [c for c in charges if c.number in one.applies_to]
        return D(0), monthly_value([*targets, one], day)[1]

    now = value(after, charge)
    then = value(before, next((c for c in before if c.number == charge.number), None))
    return {"regular": float(now[0]), "regularDelta": float(now[0] - then[0]),
            "discount": float(now[1]), "discountDelta": float(now[1] - then[1])}


def _preview_invoice(sub: dict[str, Any], day: date, lines: list[Line]) -> dict[str, Any]:
    subtotal = sum((ln.amount for ln in lines), D(0))
    tax = sum((ln.tax for ln in lines), D(0))
    return {"amount": subtotal + tax, "amountWithoutTax": subtotal, "taxAmount": tax, "targetDate": day.isoformat(),
            "invoiceItems": [{
                "serviceStartDate": ln.start.isoformat(), "serviceEndDate": ln.end.isoformat(),
                "amountWithoutTax": ln.amount, "taxAmount": ln.tax, "chargeName": ln.charge.name,
                "chargeDescription": ln.description or ln.charge.name, "chargeNumber": ln.charge.number,
                "processingType": ln.processing_type, "productName": "Relay Platform",
                "productRatePlanChargeId": ln.charge.product_rate_plan_charge_id,
                "subscriptionNumber": sub["subscriptionNumber"], "unitPrice": ln.unit_price,
                **({"appliedToChargeNumber": ln.applied_to.charge.number} if ln.applied_to else {}),
                "additionalInfo": {"quantity": ln.quantity, **({"unitOfMeasure": ln.charge.uom}
                                                               if ln.charge.uom else {})}} for ln in lines]}


def post_invoice(tenant: Tenant, account: dict[str, Any], sub: dict[str, Any], day: date, lines: list[Line], *,
                 source: str) -> dict[str, Any]:
    """Post an invoice with `lines` for `sub`, dated `day`, as the bill runs do (same item records)."""
    from bot.sandbox.seed import _add_item  # the seed's item writer: one shape for every invoice item

    created = tenant.now()
    subtotal = sum((ln.amount for ln in lines), D(0))
    tax = sum((ln.tax for ln in lines), D(0))
    invoice = tenant.add("invoices", {
        "id": tenant.new_id("invoice"), "invoiceNumber": tenant.next_number("invoice", "INV{:08d}"),
        "accountId": account["id"], "amount": subtotal + tax, "amountWithoutTax": subtotal, "taxAmount": tax,
        "balance": subtotal + tax, "paymentAmount": D(0), "creditMemoAmount": D(0), "adjustmentAmount": D(0),
        "refundAmount": D(0), "currency": account["currency"], "invoiceDate": day,
        "dueDate": day + timedelta(days=30), "targetDate": day, "postedDate": day, "status": "Posted",
        "source": source, "sourceId": None, "sourceType": "Subscription", "billRunId": None,
        "autoPay": account["autoPay"], "paymentTerm": account["paymentTerm"],
        "includesOneTime": False, "includesRecurring": True, "includesUsage": False,
        "createdDate": created, "updatedDate": created, "postedBy": "billing-automation",
    }, "invoiceNumber")
    tenant.invoices_of[account["id"]].append(invoice["id"])
    ids = {id(ln): tenant.new_id("item") for ln in lines}
    for ln in lines:
        _add_item(tenant, invoice, sub, ln, ids, account, created)
    return invoice


def generate(tenant: Tenant, account: dict[str, Any], target: date) -> list[dict[str, Any]]:
    """Bill every active subscription of `account` through `target` (recurring charges, in advance)."""
    posted = []
    for sub in list(tenant.subscriptions.values()):
        if sub["accountId"] != account["id"] or sub["status"] != "Active":
            continue
        charges = [c for rp in sub["ratePlans"] for c in rp["charges"]]
        bills = order_lines(charges, charges, changed_from=None, billed_through=billed_through(tenant, sub),
                            through=target, tax_rate=account["taxRate"])
        for day, lines in bills:
            posted.append(post_invoice(tenant, account, sub, day, lines, source="API"))
        if bills:
            tenant.billed_through[sub["id"]] = month_end(bills[-1][0])
    return posted
