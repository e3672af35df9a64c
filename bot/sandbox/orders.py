"""The sandbox's Orders engine: preview and place subscription changes.

`run_order()` validates an order body (the §18 request shape), applies its actions (see
`order_actions`) to a copy of each subscription's charges, then bills the change with
`billing.order_lines()`: so a preview and the invoice the order (or a later
`billing-documents/generate`, in `invoicing`) posts are one computation and agree to the cent. A
placed order bumps the subscription's version and commits the copy; a preview changes nothing.

    SandboxError(20/21/23/40/53)   what Zuora answers for a malformed or impossible order
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from bot.sandbox.billing import Charge, Line, month_end, monthly_value, order_lines, span_amount
from bot.sandbox.errors import SandboxError
from bot.sandbox.invoicing import billed_through, post_invoice
from bot.sandbox.order_actions import apply_action, effective_date, parse_date
from bot.sandbox.state import Tenant, money

__all__ = ["run_order"]

D = Decimal
_PREVIEW_TYPES = {"BillingDocs", "ChargeMetrics", "OrderDeltaMetrics", "OrderMetrics", "RampMetrics",
                  "RampDeltaMetrics", "Funds"}


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
            effective = effective_date(action, order_date)
            if effective < tenant.today:
                raise SandboxError(53, f"The sandbox cannot backdate a change to {effective} "
                                       f"(today is {tenant.today}).")
            apply_action(tenant, work, action, effective)
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
