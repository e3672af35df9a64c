"""The sandbox's catalog and Orders: preview and create agree to the cent, versions bump, SDK shapes hold."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.sandbox import ZuoraSandbox
from tests.test_sdk_contract import Raw, _ok

M = pytest.importorskip("zuora_sdk.models")
TODAY, NEXT = "2026-11-20", "2026-12-01"


@pytest.fixture
def world() -> tuple[ZuoraSandbox, Raw]:
    sandbox = ZuoraSandbox()
    return sandbox, Raw(sandbox)


def plan(raw: Raw, name: str) -> dict[str, Any]:
    status, body = raw("GET", "/object-query/product-rate-plans", **{"filter[]": f"name.EQ:{name}",
                                                                    "expand[]": ["productrateplancharges", "product"]})
    assert status == 200, body
    return body["data"][0]


def triggers(day: str) -> list[dict[str, str]]:
    return [{"name": n, "triggerDate": day} for n in ("ContractEffective", "ServiceActivation", "CustomerAcceptance")]


def upgrade(raw: Raw, day: str, *, target: str = "Business", sub: str = "A-S00000002",
            account: str = "A00000002") -> dict[str, Any]:
    current = raw("GET", f"/v1/subscriptions/{sub}")[1]["ratePlans"][0]
    new = plan(raw, target)
    seats = next(c for c in new["productRatePlanCharges"] if c["name"] == "Seats")
    return {"orderDate": TODAY, "existingAccountNumber": account, "subscriptions": [{
        "subscriptionNumber": sub, "orderActions": [
            {"type": "RemoveProduct", "triggerDates": triggers(day), "removeProduct": {"ratePlanId": current["id"]}},
            {"type": "AddProduct", "triggerDates": triggers(day), "addProduct": {
                "productRatePlanId": new["id"], "chargeOverrides": [{
                    "productRatePlanChargeId": seats["id"], "pricing": {"recurringPerUnit": {"quantity": 15}}}]}}]}]}


def preview(raw: Raw, body: dict[str, Any], through: str = NEXT) -> tuple[int, dict[str, Any]]:
    return raw("POST", "/v1/orders/preview", {**body, "previewOptions": {
        "previewThruType": "SpecificDate", "specificPreviewThruDate": through,
        "previewTypes": ["BillingDocs", "ChargeMetrics"]}})


def test_catalog_query_matches_the_sdk(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    status, body = raw("GET", "/object-query/product-rate-plans", **{"filter[]": "name.EQ:Business",
                                                                    "expand[]": ["productrateplancharges", "product"]})
    assert status == 200
    _ok(M.QueryProductRatePlansResponse, body)
    assert [p["name"] for p in body["data"]] == ["Business"]
    tiers = body["data"][0]["productRatePlanCharges"][0]["productRatePlanChargeTiers"]
    assert {t["currency"]: t["price"] for t in tiers} == {"USD": 40, "EUR": 40, "GBP": 40}


def test_upgrade_today_preview_equals_the_posted_invoice(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    body = upgrade(raw, TODAY)
    status, seen = preview(raw, body)
    assert status == 200, seen
    _ok(M.PreviewOrderResponse, seen)
    now, later = seen["previewResult"]["invoices"]
    # 11 of 30 days: -15 x 30 x 11/30 and +15 x 40 x 11/30, Texas tax 8.25 % per line
    assert [i["amountWithoutTax"] for i in now["invoiceItems"]] == [-165.0, 220.0]
    assert (now["amount"], now["taxAmount"], later["amount"]) == (59.54, 4.54, 649.5)
    version = sandbox.tenant.find("subscriptions", "A-S00000002")["version"]  # type: ignore[index]
    status, created = raw("POST", "/v1/orders", {**body, "processingOptions": {
        "runBilling": True, "collectPayment": False, "billingOptions": {"targetDate": TODAY}}})
    assert status == 200, created
    _ok(M.CreateOrderResponse, created)
    invoice = sandbox.tenant.find("invoices", created["invoiceNumbers"][0])
    assert invoice is not None and invoice["amount"] == Decimal("59.54") and invoice["status"] == "Posted"
    assert sandbox.tenant.find("subscriptions", "A-S00000002")["version"] == version + 1  # type: ignore[index]
    _, generated = raw("POST", "/v1/accounts/A00000002/billing-documents/generate", {"targetDate": NEXT})
    december = sandbox.tenant.invoices[generated["invoices"][0]["id"]]
    assert december["amount"] == Decimal("649.50")


def test_change_at_next_period_bills_nothing_now_and_the_preview_next(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    body = upgrade(raw, NEXT)
    _, seen = preview(raw, body)
    assert [i["targetDate"] for i in seen["previewResult"]["invoices"]] == [NEXT]
    _, created = raw("POST", "/v1/orders", {**body, "processingOptions": {
        "runBilling": True, "billingOptions": {"targetDate": TODAY}}})
    assert "invoiceNumbers" not in created
    _, generated = raw("POST", "/v1/accounts/A00000002/billing-documents/generate", {"targetDate": NEXT})
    december = sandbox.tenant.invoices[generated["invoices"][0]["id"]]
    assert float(december["amount"]) == seen["previewResult"]["invoices"][0]["amount"]


def test_a_preview_changes_nothing(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    before = raw("GET", "/v1/subscriptions/A-S00000002")[1]
    count = len(sandbox.tenant.invoices)
    preview(raw, upgrade(raw, TODAY))
    assert raw("GET", "/v1/subscriptions/A-S00000002")[1] == before
    assert len(sandbox.tenant.invoices) == count


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: b["subscriptions"][0]["orderActions"][1]["addProduct"].update(productRatePlanId="nope"), "Cannot find"),
    (lambda b: b["subscriptions"][0]["orderActions"][1].update(type="Upgrade"), "Invalid order action type"),
    (lambda b: b["subscriptions"][0]["orderActions"][1]["addProduct"]["chargeOverrides"][0]["pricing"][
        "recurringPerUnit"].update(quantity=0), "more than 0"),
    (lambda b: b.update(existingAccountNumber="A00000003"), "does not belong"),
    (lambda b: b["subscriptions"][0]["orderActions"][0].update(triggerDates=triggers("2026-11-01")), "backdate"),
])
def test_bad_orders_are_refused(world: tuple[ZuoraSandbox, Raw], change: Any, message: str) -> None:
    _, raw = world
    body = upgrade(raw, TODAY)
    change(body)
    status, seen = preview(raw, body)
    assert status in (400, 404) and message in seen["reasons"][0]["message"], seen


def test_plan_in_another_currency_and_cancelled_subscription(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    status, seen = preview(raw, upgrade(raw, TODAY, target="Business EU"))
    assert status == 400 and "no price in USD" in seen["reasons"][0]["message"]
    body = upgrade(raw, TODAY)
    sandbox.tenant.find("subscriptions", "A-S00000002")["status"] = "Cancelled"  # type: ignore[index]
    status, seen = preview(raw, body)
    assert status == 400 and "Cancelled" in seen["reasons"][0]["message"]


def test_reads_after_an_order_still_match_the_sdk(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    body = {**upgrade(raw, TODAY), "description": "plan change [proposal abc]"}
    status, _ = raw("POST", "/v1/orders", {**body, "processingOptions": {"runBilling": True,
                                                                         "billingOptions": {"targetDate": TODAY}}})
    assert status == 200
    for path, params, model in [("/v1/subscriptions/A-S00000002", {"charge-detail": "all-segments"},
                                 "GetSubscriptionResponse"),
                                ("/v1/orders/subscription/A-S00000002", {}, "GetOrdersResponse"),
                                ("/v1/accounts/A00000002/summary", {}, "AccountSummaryResponse")]:
        status, seen = raw("GET", path, **params)
        assert status == 200, seen
        _ok(getattr(M, model), seen)
    orders = raw("GET", "/v1/orders/subscription/A-S00000002")[1]["orders"]
    assert orders[-1]["description"] == "plan change [proposal abc]"
    plans = raw("GET", "/v1/subscriptions/A-S00000002")[1]["ratePlans"]
    assert [(p["ratePlanName"], p["lastChangeType"]) for p in plans if p["ratePlanName"] != "Launch discount"] == [
        ("Growth", "Remove"), ("Business", "Add")]


def test_change_plan_bills_like_remove_plus_add(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    pair = upgrade(raw, TODAY)
    remove, add = pair["subscriptions"][0]["orderActions"]
    change = {"type": "ChangePlan", "triggerDates": triggers(TODAY), "changePlan": {
        "ratePlanId": remove["removeProduct"]["ratePlanId"], "subType": "Upgrade", "effectivePolicy": "SpecificDate",
        "newProductRatePlan": add["addProduct"]}}
    single = {**pair, "subscriptions": [{"subscriptionNumber": "A-S00000002", "orderActions": [change]}]}
    _, by_pair = preview(raw, pair)
    status, by_change = preview(raw, single)
    assert status == 200, by_change
    assert [i["amount"] for i in by_change["previewResult"]["invoices"]] == \
        [i["amount"] for i in by_pair["previewResult"]["invoices"]]
    change["changePlan"]["effectivePolicy"] = "EffectiveEndOfBillingPeriod"
    status, refused = preview(raw, single)
    assert status == 400 and "SpecificDate" in refused["reasons"][0]["message"]


def test_two_sandboxes_do_not_share_the_catalog() -> None:
    first, second = ZuoraSandbox(), ZuoraSandbox()
    plans = [next(p for product in box.tenant.products.values() for p in product["productRatePlans"]
                  if p["name"] == "Business") for box in (first, second)]
    plans[0]["charges"][0]["prices"]["USD"] = Decimal(99)
    assert plans[1]["charges"][0]["prices"]["USD"] == Decimal(40)
