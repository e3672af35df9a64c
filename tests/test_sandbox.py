"""The sandbox behaves like Zuora: idempotency, auth, errors, faults, consistent writes, the demo stories."""

from __future__ import annotations

import hashlib
import json
import threading
from decimal import Decimal

import httpx
import pytest

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, STORIES, ZuoraSandbox, build_demo_tenant
from bot.sandbox.server import SandboxServer
from bot.zuora import ZuoraAPIError, ZuoraClient
from tests.conftest import FakeClock


def _raw(sandbox: ZuoraSandbox) -> httpx.Client:
    http = httpx.Client(base_url=SANDBOX_URL, transport=httpx.MockTransport(sandbox.handle))
    token = http.post("/oauth/token", data={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                                            "grant_type": "client_credentials"}).json()["access_token"]
    http.headers.update({"Authorization": f"Bearer {token}", "Zuora-Version": "2025-08-12"})
    return http


def _email(http: httpx.Client, key: str, invoice: str = "INV00000042", body: dict | None = None) -> httpx.Response:
    return http.post(f"/v1/invoices/{invoice}/emails", json=body or {"useEmailTemplateSetting": True},
                     headers={"Idempotency-Key": key})


def _payment_body(sandbox: ZuoraSandbox, account_number: str) -> dict:
    tenant = sandbox.tenant
    account = tenant.find("accounts", account_number)
    invoice = next(tenant.invoices[i] for i in tenant.invoices_of[account["id"]] if tenant.invoices[i]["balance"])
    return {"type": "Electronic", "accountId": account["id"], "amount": str(invoice["balance"]),
            "currency": account["currency"], "effectiveDate": tenant.today.isoformat(),
            "invoices": [{"invoiceId": invoice["id"], "amount": str(invoice["balance"])}]}


# -- idempotency -----------------------------------------------------------------------------------------


def test_same_key_replays_the_stored_response_without_a_second_effect(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    body = _payment_body(sandbox, "A00000003")
    before = len(sandbox.tenant.payments)
    first = http.post("/v1/payments", json=body, headers={"Idempotency-Key": "pay-1"})
    second = http.post("/v1/payments", json=body, headers={"Idempotency-Key": "pay-1"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert len(sandbox.tenant.payments) == before + 1


def test_a_stored_failure_is_replayed_too(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    body = _payment_body(sandbox, "A00000004")  # the stolen card
    first = http.post("/v1/payments", json=body, headers={"Idempotency-Key": "pay-2"})
    errors_before = sum(p["status"] == "Error" for p in sandbox.tenant.payments.values())
    second = http.post("/v1/payments", json=body, headers={"Idempotency-Key": "pay-2"})
    assert first.status_code == second.status_code == 400 and first.json() == second.json()
    assert "Stolen card" in first.json()["reasons"][0]["message"]
    assert sum(p["status"] == "Error" for p in sandbox.tenant.payments.values()) == errors_before


def test_same_key_with_another_body_gets_the_stored_response(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    first = _email(http, "mail-1")
    other = _email(http, "mail-1", body={"useEmailTemplateSetting": False, "emailAddresses": "x@example.com"})
    assert other.status_code == first.status_code == 200
    assert len(sandbox.tenant.emails) == 1  # the second body was never acted on


def test_same_key_on_another_path_or_method_is_422(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    assert _email(http, "k").status_code == 200
    other_path = _email(http, "k", invoice="INV00000022")
    assert other_path.status_code == 422
    assert "different request" in other_path.json()["reasons"][0]["message"]


def test_same_key_in_flight_is_409(clock: FakeClock) -> None:
    release = threading.Event()
    sandbox = ZuoraSandbox(clock=clock, sleep=lambda _s: release.wait(10))
    http = _raw(sandbox)
    sandbox.inject("/v1/invoices/*/emails", latency=1.0)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(_email(http, "slow").status_code))
    first.start()
    for _ in range(200):
        if "slow" in sandbox._idempotency:
            break
        threading.Event().wait(0.01)
    conflict = _email(http, "slow")
    release.set()
    first.join(5)
    assert conflict.status_code == 409
    assert results == [200]
    assert _email(http, "slow").status_code == 200 and len(sandbox.tenant.emails) == 1


def test_keys_expire_after_24_hours(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    http = _raw(sandbox)
    _email(http, "old")
    clock.advance(24 * 3600 - 1)
    _email(http, "old")
    assert len(sandbox.tenant.emails) == 1
    clock.advance(2)
    http.headers["Authorization"] = _raw(sandbox).headers["Authorization"]  # the old token expired too
    _email(http, "old")
    assert len(sandbox.tenant.emails) == 2


# -- auth, errors, faults ------------------------------------------------------------------------------------


def test_requests_need_a_valid_token(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    http = httpx.Client(base_url=SANDBOX_URL, transport=httpx.MockTransport(sandbox.handle))
    response = http.get("/v1/invoices/INV00000042")
    assert response.status_code == 401 and response.json() == {"message": "Authentication error"}
    bad = http.post("/oauth/token", data={"client_id": DEMO_CLIENT_ID, "client_secret": "nope",
                                          "grant_type": "client_credentials"})
    assert bad.status_code == 401
    authed = _raw(sandbox)
    clock.advance(3600)
    assert authed.get("/v1/invoices/INV00000042").status_code == 401


def test_error_status_depends_on_the_version(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    dated = http.get("/v1/invoices/INV09999999")
    assert dated.status_code == 404 and dated.json()["reasons"][0]["code"] == 50000040
    legacy = http.get("/v1/invoices/INV09999999", headers={"Zuora-Version": "224.0"})
    assert legacy.status_code == 200 and legacy.json()["success"] is False
    assert dated.headers["Zuora-Request-Id"] != legacy.headers["Zuora-Request-Id"]


def test_object_query_errors_and_headers(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    response = http.get("/object-query/invoices", params=[("filter[]", "accountnumber.EQ:A00000002")],
                        headers={"Zuora-Track-Id": "track-1"})
    assert response.status_code == 400
    body = response.json()
    assert "success" not in body and body["reasons"][0]["code"] % 100 == 27 and body["requestId"]
    assert response.headers["Zuora-Track-Id"] == "track-1" and response.headers["RateLimit-Limit"]
    assert http.get("/v1/nothing-here").status_code == 404


def test_injected_statuses_are_consumed_in_order(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    sandbox.inject("/v1/accounts/*", statuses=[503, 429], reset=4)
    assert http.get("/v1/accounts/A00000002").status_code == 503
    limited = http.get("/v1/accounts/A00000002")
    assert limited.status_code == 429 and limited.headers["RateLimit-Reset"] == "4"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert http.get("/v1/accounts/A00000002").status_code == 200


def test_encoded_brackets_and_repeated_filters(sandbox: ZuoraSandbox) -> None:
    http = _raw(sandbox)
    account = sandbox.tenant.find("accounts", "A00000002")
    url = (f"/object-query/invoices?filter%5B%5D=accountid.EQ:{account['id']}&filter%5B%5D=invoicedate.LT:2026-03-01"
           "&sort%5B%5D=invoicedate.DESC&pageSize=2")
    body = http.get(url).json()
    assert [row["invoiceNumber"] for row in body["data"]] == ["INV00000042", "INV00000022"]
    assert "nextPage" in body


# -- consistency of writes ----------------------------------------------------------------------------------


def test_money_movements_keep_the_tenant_consistent(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    account = client.accounts.get("A00000007")
    open_invoices = list(client.invoices.query(filters=[f"accountid.EQ:{account.account_id}", "balance.GT:0"],
                                               sort="invoicedate.ASC"))
    first, second, third = open_invoices[:3]
    item = client.invoices.items(first.invoice_id)[0]
    memo = client.credit_memos.create_from_invoice(first.invoice_number, [
        {"invoiceItemId": item.item_id, "amount": Decimal("100.00"), "skuName": item.sku}], reason_code="Goodwill")
    assert memo.applied_amount == Decimal("100.00") and memo.status == "Posted"
    assert client.invoices.get(first.invoice_id).balance == first.balance - Decimal("100.00")
    assert client.accounts.get("A00000007").balance == account.balance - Decimal("100.00")

    client.payments.create({"type": "External", "accountId": account.account_id, "amount": Decimal("500.00"),
                            "currency": account.currency, "effectiveDate": sandbox.tenant.today.isoformat(),
                            "invoices": [{"invoiceNumber": second.invoice_number, "amount": Decimal("500.00")}]})
    assert client.invoices.get(second.invoice_id).balance == second.balance - Decimal("500.00")
    assert client.accounts.get("A00000007").balance == account.balance - Decimal("600.00")

    client.invoices.write_off(third.invoice_number)
    assert client.invoices.get(third.invoice_id).balance == 0
    with pytest.raises(ZuoraAPIError, match="nothing to write off"):
        client.invoices.write_off(third.invoice_number)

    schedule = client.payment_schedules.create({"accountId": account.account_id, "billingDocument": {
        "number": first.invoice_number, "type": "Invoice"}, "items": [
        {"scheduledDate": "2026-12-01", "amount": Decimal("1000.00")},
        {"scheduledDate": "2027-01-01", "amount": Decimal("1000.00")}]})
    assert [(i.item_number, str(i.scheduled_date), i.status) for i in schedule.items] == [
        (1, "2026-12-01", "Pending"), (2, "2027-01-01", "Pending")]
    assert [s.schedule_number for s in client.payment_schedules.of_account(account.account_id)] == [
        schedule.schedule_number]
    with pytest.raises(ZuoraAPIError, match="exceeds the balance"):
        client.payment_schedules.create({"accountId": account.account_id, "billingDocument": {
            "number": first.invoice_number, "type": "Invoice"}, "items": [
            {"scheduledDate": "2026-12-01", "amount": first.balance + 1}]})


def test_credit_beyond_the_item_is_refused(client: ZuoraClient) -> None:
    item = client.invoices.items("INV00000042")[0]
    with pytest.raises(ZuoraAPIError, match="exceeds the amount available to credit"):
        client.credit_memos.create_from_invoice("INV00000042", [
            {"invoiceItemId": item.item_id, "amount": item.charge_amount + 1, "skuName": item.sku}],
            reason_code="Goodwill")
    with pytest.raises(ZuoraAPIError, match="reasonCode"):
        client.credit_memos.create_from_invoice("INV00000042", [
            {"invoiceItemId": item.item_id, "amount": Decimal(1), "skuName": item.sku}], reason_code="Because")


def test_a_declined_retry_is_recorded_against_the_card(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    pm_before = client.payment_methods.default("A00000004").num_consecutive_failures
    with pytest.raises(ZuoraAPIError, match="Stolen card"):
        client.payments.create(_payment_body(sandbox, "A00000004"))
    assert client.payment_methods.default("A00000004").num_consecutive_failures == pm_before + 1
    account = client.accounts.get("A00000004")
    latest = next(client.payments.list(account.account_id))
    assert (latest.status, latest.gateway_response_code) == ("Error", "43")


# -- the demo tenant -------------------------------------------------------------------------------------------


def _fingerprint(today: str | None = None) -> str:
    from datetime import date

    tenant = build_demo_tenant(**({"today": date.fromisoformat(today)} if today else {}))
    rows = sorted((i["invoiceNumber"], str(i["amount"]), str(i["invoiceDate"])) for i in tenant.invoices.values())
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def test_the_tenant_is_deterministic_and_follows_today() -> None:
    assert _fingerprint() == _fingerprint()
    assert _fingerprint("2027-03-10") != _fingerprint()


def test_story_invoice_42(client: ZuoraClient) -> None:
    story = STORIES["price_increase"]
    invoice = client.invoices.get(story["invoice"])
    previous = client.invoices.previous(invoice)
    assert previous is not None and previous.invoice_number == story["previous"]
    assert (previous.amount, invoice.amount) == (story["previous_amount"], story["amount"])
    assert invoice.amount - previous.amount == story["difference"] == sum(story["drivers"].values())
    items = client.invoices.items(story["invoice"])
    assert sum((i.total for i in items), Decimal(0)) == invoice.amount
    proration = [i for i in items if i.service_start_date and i.service_start_date.day == 15]
    assert [(i.quantity, i.charge_amount) for i in proration] == [(5, Decimal("82.26"))]
    assert any(i.is_discount for i in previous.items) and not any(i.is_discount for i in items)
    sub = client.subscriptions.get(items[0].subscription_number or "", charge_detail="all-segments")
    seats = sub.rate_plans[0].charges[0]
    assert [(s.quantity, str(s.effective_start_date)) for s in seats.segments] == [(10, "2025-12-01"),
                                                                                   (15, "2026-01-15")]


def test_payment_stories(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    today = sandbox.tenant.today
    for story, code in (("soft_decline", "51"), ("hard_decline", "43"), ("expired_card", "54")):
        account = client.accounts.get(STORIES[story]["account"])
        latest = next(client.payments.list(account.account_id))
        assert (latest.status, latest.gateway_response_code) == ("Error", code), story
        assert account.balance > 0
    assert client.payment_methods.default(STORIES["expired_card"]["account"]).expired(today)
    expiring = client.payment_methods.default(STORIES["expiring_card"]["account"])
    assert not expiring.expired(today) and (expiring.expiration_year, expiring.expiration_month) == (2026, 12)
    overdue = client.accounts.get(STORIES["overdue"]["account"])
    late = [i for i in client.invoices.query(filters=[f"accountid.EQ:{overdue.account_id}", "balance.GT:0"])
            if i.due_date and (today - i.due_date).days > 45]
    assert len(late) == 2 and overdue.balance > Decimal("20000")


def test_the_last_bill_run_has_anomalies(client: ZuoraClient) -> None:
    run = client.bill_runs.by_number("BR-00000012")
    assert run.status == "Completed" and run.number_of_invoices == 70
    invoices = {i.account_id: i for i in client.invoices.of_bill_run("BR-00000012")}
    assert len(invoices) == 70
    numbers = {client.accounts.get(a).account_number: inv for a, inv in invoices.items()}
    assert numbers[STORIES["zero_invoice"]["account"]].amount == 0
    spike = numbers[STORIES["usage_spike"]["account"]]
    before = client.invoices.previous(spike, with_items=False)
    assert before is not None and spike.amount > 5 * before.amount
    for first in STORIES["first_invoices"]["accounts"]:
        assert client.invoices.previous(numbers[first], with_items=False) is None


def test_the_http_server_serves_the_same_api() -> None:
    with SandboxServer(ZuoraSandbox()) as server, ZuoraClient(
            server.url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as client:
        assert client.invoices.find("#42").invoice.amount == Decimal("868.46")
        account = client.accounts.get("A00000002")
        payments = list(client.payments.list(account.account_id, page_size=5))  # nextPage URLs on the real host
        assert len(payments) == 12
        assert len(server.sandbox.requests_to("/v1/payments")) == 3
