"""Orders and the product catalog: preview and create orders, billing-document generation, Object
Query on product rate plans and v1 catalog products (the logic lives in `bot.sandbox.orders`,
`bot.sandbox.catalog` and `bot.sandbox.invoicing`)."""

from __future__ import annotations

from typing import Any

from bot.sandbox import render
from bot.sandbox.catalog import product_of
from bot.sandbox.errors import SandboxError
from bot.sandbox.invoicing import generate
from bot.sandbox.order_actions import parse_date
from bot.sandbox.orders import run_order
from bot.sandbox.query import page, parse_query
from bot.sandbox.routes.common import must_find
from bot.sandbox.routing import Call, Reply, route

PLAN_FILTERS = ("id", "updateddate", "productid", "name", "effectivestartdate", "effectiveenddate",
                "productrateplannumber")


@route("POST", "/v1/orders/preview")
def preview_order(call: Call) -> Reply:
    return Reply(run_order(call.tenant, call.json(), preview=True))


@route("POST", "/v1/orders")
def create_order(call: Call) -> Reply:
    return Reply(run_order(call.tenant, call.json(), preview=False))


@route("POST", "/v1/accounts/{key}/billing-documents/generate")
def generate_documents(call: Call) -> Reply:
    account = must_find(call, "accounts", call.args["key"])
    body = call.json()
    if "targetDate" not in body:
        raise SandboxError(23, "targetDate is required")
    invoices = generate(call.tenant, account, parse_date(body["targetDate"], "targetDate"))
    return Reply({"invoices": [{"id": i["id"]} for i in invoices], "success": True})


def _oq_charge(charge: dict[str, Any]) -> dict[str, Any]:
    out = {"id": charge["id"], "name": charge["name"], "chargeType": charge["chargeType"],
           "chargeModel": charge["chargeModel"], "billingPeriod": charge["billingPeriod"],
           "billingTiming": charge["billingTiming"], "triggerEvent": charge["triggerEvent"],
           "productRatePlanId": charge["productRatePlanId"],
           "productRatePlanChargeTiers": [{"currency": c, "price": p, "tier": 1} for c, p in charge["prices"].items()]}
    if charge["defaultQuantity"] is not None:
        out["defaultQuantity"] = charge["defaultQuantity"]
    if charge["uom"]:
        out["uOM"] = charge["uom"]
    return out


@route("GET", "/object-query/product-rate-plans")
def query_product_rate_plans(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=PLAN_FILTERS, expandable=("product", "productrateplancharges"))
    plans = [p for product in call.tenant.products.values() for p in product["productRatePlans"]]

    def field_of(plan: dict[str, Any], name: str) -> Any:
        return {k.lower(): v for k, v in plan.items()}.get(name)

    def oq(plan: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: render.v1(plan)[k] for k in ("id", "name", "productId", "productRatePlanNumber",
                                                                "effectiveStartDate", "effectiveEndDate", "state")}
        if plan["grade"] is not None:
            out["grade"] = plan["grade"]
        if "product" in spec.expand:
            product = product_of(call.tenant, plan)
            out["product"] = {"id": product["id"], "name": product["name"], "sKU": product["sku"],
                              "productNumber": product["productNumber"], "state": product["state"],
                              "effectiveStartDate": product["effectiveStartDate"].isoformat(),
                              "effectiveEndDate": product["effectiveEndDate"].isoformat()}
        if "productrateplancharges" in spec.expand:
            out["productRatePlanCharges"] = [_oq_charge(c) for c in plan["charges"]]
        return out

    return Reply(page(plans, spec, field_of, oq))
