"""Subscriptions (with charge segments and versions), orders, and usage (v1 and Object Query)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from bot.sandbox import render
from bot.sandbox.billing import Charge
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import cache_of, page, parse_query
from bot.sandbox.routes.common import lower_fields, must_find, v1_page
from bot.sandbox.routing import Call, Reply, route

USAGE_FILTERS = ("id", "updateddate", "accountid", "accountnumber", "enddatetime", "quantity", "rbestatus",
                 "startdatetime", "uom")


def _segment(call: Call, charge: Charge, index: int, version: int) -> dict[str, Any]:
    seg = charge.segments[index]
    out: dict[str, Any] = {
        "id": charge.segment_ids[index], "number": charge.number, "name": charge.name, "type": charge.charge_type,
        "model": charge.model, "segment": index + 1, "version": version, "isLastSegment": index == len(
            charge.segments) - 1, "effectiveStartDate": seg.start.isoformat(),
        "productRatePlanChargeId": charge.product_rate_plan_charge_id, "triggerEvent": "ContractEffective",
        "billingPeriod": "Month", "billingTiming": "IN_ARREARS" if charge.charge_type == "Usage" else "IN_ADVANCE",
        "priceChangeOption": "NoChange", "endDateCondition": "Specific_End_Date" if seg.end else "Subscription_End",
        "currency": None,
    }
    if seg.end:
        out["effectiveEndDate"] = seg.end.isoformat()
    if charge.model == "DiscountPercentage":
        out.update(discountPercentage=seg.price, pricingSummary=f"{seg.price}% discount")
    elif charge.charge_type == "Usage":
        out.update(uom=charge.uom, includedUnits=charge.included_units, overagePrice=seg.price, price=seg.price,
                   pricingSummary=f"{charge.included_units} {charge.uom}s included, then {seg.price} per unit")
    else:
        mrr = seg.price * (seg.quantity if charge.model == "PerUnit" else 1)
        previous = charge.segments[index - 1] if index else None
        before = previous.price * (previous.quantity if charge.model == "PerUnit" else 1) if previous else Decimal(0)
        out.update(price=seg.price, mrr=mrr if charge.charge_type == "Recurring" else Decimal(0), dmrc=mrr - before,
                   pricingSummary=f"{seg.price}" + (f" per {charge.uom}" if charge.model == "PerUnit" else ""))
        if charge.model == "PerUnit":
            out.update(quantity=seg.quantity, uom=charge.uom)
    return out


def _render(call: Call, sub: dict[str, Any], *, detail: str, as_of: date | None, version: int) -> dict[str, Any]:
    plans = []
    for rp in sub["ratePlans"]:
        charges = []
        for charge in rp["charges"]:
            count = len(charge.segments) if charge.name != "Seats" else min(len(charge.segments), version)
            if detail in ("current-segment", "specific-segment"):
                day = as_of or call.tenant.today
                index = next((i for i, s in enumerate(charge.segments[:count]) if s.active_on(day)), count - 1)
            else:
                index = count - 1
            body = _segment(call, charge, index, version)
            body["currency"] = sub["currency"]
            if detail == "all-segments":
                body["chargeSegments"] = [{k: v for k, v in _segment(call, charge, i, version).items() if k not in (
                    "number", "name", "type", "model", "productRatePlanChargeId", "version", "isLastSegment",
                    "billingPeriod", "billingTiming", "currency", "uom")} for i in range(count)]  # uom: per charge
            charges.append(body)
        plans.append({"id": rp["id"], "productId": "relay", "productName": "Relay Platform", "productSku": "SKU-RELAY",
                      "productRatePlanId": rp["id"], "ratePlanName": rp["name"],
                      "lastChangeType": "Update" if version > 1 and rp is sub["ratePlans"][0] else "Add",
                      "ratePlanCharges": charges})
    account = call.tenant.accounts[sub["accountId"]]
    # createdDate is internal: Zuora's GetSubscriptionResponse has no such field (the strict contract test checks)
    top = render.v1({k: v for k, v in sub.items() if k not in ("ratePlans", "createdDate")})
    top.update(accountNumber=account["accountNumber"], accountName=account["name"], version=version,
               isLatestVersion=version == sub["version"], ratePlans=plans, success=True,
               invoiceOwnerAccountId=account["id"], invoiceOwnerAccountNumber=account["accountNumber"])
    return top


def _detail(call: Call) -> tuple[str, date | None]:
    detail = call.param("charge-detail") or "last-segment"
    if detail not in ("last-segment", "current-segment", "all-segments", "specific-segment"):
        raise SandboxError(20, f"Invalid value for charge-detail: '{detail}'")
    raw = call.param("as-of-date")
    if detail == "specific-segment" and not raw:
        raise SandboxError(23, "as-of-date is required with charge-detail=specific-segment")
    try:
        return detail, date.fromisoformat(raw) if raw else None
    except ValueError:
        raise SandboxError(20, f"Invalid as-of-date '{raw}'") from None


@route("GET", "/v1/subscriptions/{key}")
def get_subscription(call: Call) -> Reply:
    sub = must_find(call, "subscriptions", call.args["key"])
    detail, as_of = _detail(call)
    return Reply(_render(call, sub, detail=detail, as_of=as_of, version=sub["version"]))


@route("GET", "/v1/subscriptions/{key}/versions/{version}")
def get_subscription_version(call: Call) -> Reply:
    sub = must_find(call, "subscriptions", call.args["key"])
    version = call.args["version"]
    if not version.isdigit() or not 1 <= int(version) <= sub["version"]:
        raise SandboxError(40, f"Cannot find version {version} of subscription {sub['subscriptionNumber']}.")
    detail, as_of = _detail(call)
    return Reply(_render(call, sub, detail=detail, as_of=as_of, version=int(version)))


@route("GET", "/v1/orders/subscription/{number}")
def subscription_orders(call: Call) -> Reply:
    number = call.args["number"]
    if call.tenant.find("subscriptions", number) is None:
        raise SandboxError(40, f"Cannot find a Subscription instance with number {number}.")
    rows = sorted((o for o in call.tenant.orders.values() if o["subscriptionNumber"] == number),
                  key=lambda o: o["orderNumber"])
    return Reply(v1_page(call, [render.v1(o, drop=render.INTERNAL | {"id", "subscriptionNumber"}) for o in rows],
                         "orders"))


@route("GET", "/v1/usage/accounts/{key}")
def account_usage(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    rows = sorted((u for u in call.tenant.usage.values() if u["accountId"] == account["id"]),
                  key=lambda u: u["startDateTime"], reverse=True)
    drop = render.INTERNAL | {"subscriptionId", "ratePlanChargeId", "productRatePlanChargeId", "endDateTime"}
    return Reply(v1_page(call, [render.v1(u, drop=drop) for u in rows], "usage"))


@route("GET", "/object-query/usages")
def query_usages(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=USAGE_FILTERS)

    def field_of(usage: dict[str, Any], name: str) -> Any:
        return usage["unitOfMeasure"] if name == "uom" else "Processed" if name == "rbestatus" else lower_fields(
            usage, name)

    def oq(usage: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in render.v1(usage, drop=render.INTERNAL | {
            "accountName", "subscriptionNumber", "chargeNumber", "unitOfMeasure", "sourceName", "status"}).items()}
        for key in ("startDateTime", "endDateTime", "submissionDateTime"):
            out[key] = render.iso(usage[key])
        out.update(uOM=usage["unitOfMeasure"], rbeStatus="Processed", sourceType="API")
        return out

    return Reply(page(call.tenant.usage.values(), spec, field_of, oq, cache=cache_of(call.tenant, "usage")))
