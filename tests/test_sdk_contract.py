"""Every sandbox response, happy and error paths, checked against the official zuora-sdk models.

The SDK is slow to import (~9 s, ~450 MB): it is imported once, here, and only in tests.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.sandbox.server import SandboxServer
from tests.zuora_check import check

pytestmark = pytest.mark.sdk
M = pytest.importorskip("zuora_sdk.models")

VERSION = "2025-08-12"


class Raw:
    """Raw HTTP against the in-process sandbox, with a token."""

    def __init__(self, sandbox: ZuoraSandbox, version: str = VERSION) -> None:
        self.http = httpx.Client(base_url=SANDBOX_URL, transport=httpx.MockTransport(sandbox.handle))
        token = self.http.post("/oauth/token", data={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                                                     "grant_type": "client_credentials"})
        self.token_body = token.json()
        self.headers = {"Authorization": f"Bearer {self.token_body['access_token']}", "Zuora-Version": version}
        self.n = 0

    def __call__(self, method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        self.n += 1
        headers = {**self.headers, "Idempotency-Key": f"contract-{self.n}"} if method in ("POST", "PATCH") else \
            self.headers
        response = self.http.request(method, path, params=params or None, headers=headers,
                                     content=json.dumps(body, default=str) if body is not None else None)
        return response.status_code, response.json()


@pytest.fixture(scope="module")
def world() -> tuple[ZuoraSandbox, Raw]:
    sandbox = ZuoraSandbox()
    return sandbox, Raw(sandbox)


def _ok(model: Any, payload: Any) -> list[str]:
    errs, warns = check(model, payload)
    assert not errs, "\n".join(errs[:20])
    return warns


def _ids(sandbox: ZuoraSandbox, account_number: str) -> dict[str, Any]:
    tenant = sandbox.tenant
    account = tenant.find("accounts", account_number)
    assert account is not None
    open_invoices = [tenant.invoices[i] for i in tenant.invoices_of[account["id"]] if tenant.invoices[i]["balance"] > 0]
    return {"account": account, "open": open_invoices}


def test_token_response(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    _ok(M.TokenResponse, raw.token_body)
    assert raw.token_body["expires_in"] == 3599


READS = [
    ("GET", "/v1/invoices/INV00000042", {}, "InvoiceResponse"),
    ("GET", "/v1/invoices/INV00000042/items", {}, "InvoiceItemsResponse"),
    ("GET", "/object-query/invoices", {"filter[]": "status.EQ:Posted", "sort[]": "invoicedate.DESC", "pageSize": 5,
                                       "expand[]": "invoiceitems"}, "QueryInvoicesResponse"),
    ("GET", "/object-query/invoices/INV00000042", {"expand[]": "invoiceitems"}, "ExpandedInvoice"),
    ("GET", "/object-query/invoices", {"filter[]": "sourceid.EQ:BR-00000012", "pageSize": 99},
     "QueryInvoicesResponse"),
    ("GET", "/v1/accounts/A00000002", {}, "AccountDetailResponse"),
    ("GET", "/v1/accounts/A00000003/summary", {}, "AccountSummaryResponse"),
    ("GET", "/v1/accounts/A00000003/payment-methods", {}, "GetAccountPaymentMethodResponse"),
    ("GET", "/v1/accounts/A00000007/payment-methods", {}, "GetAccountPaymentMethodResponse"),
    ("GET", "/v1/accounts/A00000005/payment-methods/default", {}, "GetPaymentMethodForAccountResponse"),
    ("GET", "/v1/subscriptions/A-S00000002", {"charge-detail": "all-segments"}, "GetSubscriptionResponse"),
    ("GET", "/v1/subscriptions/A-S00000002", {"charge-detail": "specific-segment", "as-of-date": "2026-01-10"},
     "GetSubscriptionResponse"),
    ("GET", "/v1/subscriptions/A-S00000002/versions/1", {}, "GetSubscriptionResponse"),
    ("GET", "/v1/orders/subscription/A-S00000002", {}, "GetOrdersResponse"),
    ("GET", "/v1/usage/accounts/A00000002", {"pageSize": 5}, "GetUsagesByAccountResponse"),
    ("GET", "/object-query/usages", {"filter[]": "accountnumber.EQ:A00000002"}, "QueryUsagesResponse"),
    ("GET", "/object-query/billing-runs", {"filter[]": "billingrunnumber.EQ:BR-00000012"}, "QueryBillingRunsResponse"),
    ("GET", "/object-query/billing-runs/BR-00000012", {}, "ExpandedBillingRun"),
    ("GET", "/object-query/accounts", {"filter[]": "name.SW:stark"}, "QueryAccountsResponse"),
    ("GET", "/object-query/accounts", {"filter[]": "name.SW:stark", "expand[]": "billto"}, "QueryAccountsResponse"),
    ("GET", "/object-query/payments", {"filter[]": "status.EQ:Processed", "expand[]": "paymentapplications",
                                       "sort[]": "effectivedate.ASC", "pageSize": 20}, "QueryPaymentsResponse"),
    ("GET", "/v1/credit-memos", {"accountNumber": "A00000012"}, "CreditMemosResponse"),
    ("GET", "/v1/credit-memos/CM00000001", {}, "CreditMemoResponse"),
]


@pytest.mark.parametrize(("method", "path", "params", "model"), READS, ids=[f"{r[1]}:{r[3]}" for r in READS])
def test_read_endpoints_match_sdk_models(world: tuple[ZuoraSandbox, Raw], method: str, path: str,
                                         params: dict[str, Any], model: str) -> None:
    _, raw = world
    status, body = raw(method, path, **params)
    assert status == 200, body
    _ok(getattr(M, model), body)


def test_id_keyed_reads(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    tenant = sandbox.tenant
    ids = _ids(sandbox, "A00000002")
    payment_id = tenant.payments_of[ids["account"]["id"]][-1]
    items = tenant.items_of[tenant.find("invoices", "INV00000042")["id"]]
    usage_item = next(i for i in items if tenant.items[i]["chargeType"] == "Usage")
    run = tenant.find("bill_runs", "BR-00000012")
    checks = [
        (f"/v1/payments?accountId={ids['account']['id']}&sort=-effectiveDate&pageSize=3", "GetPaymentsResponse"),
        (f"/v1/payments/{payment_id}", "PaymentResponse"),
        (f"/v1/payments/{tenant.payments[payment_id]['number']}/parts", "GetPaymentPartsResponse"),
        (f"/object-query/payments?filter[]=accountid.EQ:{ids['account']['id']}&expand[]=paymentapplications",
         "QueryPaymentsResponse"),
        (f"/v1/payment-methods/{ids['account']['defaultPaymentMethodId']}", "PaymentMethodResponse"),
        (f"/v1/invoices/invoice-item/{usage_item}/usage-rate-detail", "GetUsageRateDetailRequest"),
        (f"/object-query/invoice-items?filter[]=invoiceid.EQ:{tenant.items[usage_item]['invoiceId']}",
         "QueryInvoiceItemsResponse"),
        (f"/v1/bill-runs/{run['id']}", "BillRunResponse"),
    ]
    for path, model in checks:
        status, body = raw("GET", path)
        assert status == 200, (path, body)
        _ok(getattr(M, model), body)


def test_write_endpoints_match_sdk_models(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, raw = world
    today = sandbox.tenant.today.isoformat()
    soft = _ids(sandbox, "A00000003")
    invoice = soft["open"][0]
    status, body = raw("POST", "/v1/payments", {
        "type": "Electronic", "accountId": soft["account"]["id"], "amount": str(invoice["balance"]),
        "currency": soft["account"]["currency"], "effectiveDate": today,
        "invoices": [{"invoiceId": invoice["id"], "amount": str(invoice["balance"])}]})
    assert status == 200, body
    _ok(M.PaymentResponse, body)

    overdue = _ids(sandbox, "A00000007")
    first, second = overdue["open"][0], overdue["open"][1]
    item = sandbox.tenant.items[sandbox.tenant.items_of[first["id"]][0]]
    status, body = raw("POST", f"/v1/credit-memos/invoice/{first['invoiceNumber']}", {
        "items": [{"invoiceItemId": item["id"], "amount": "25.00", "skuName": item["sku"]}], "reasonCode": "Goodwill",
        "autoPost": False, "autoApplyToInvoiceUponPosting": True})
    assert status == 200, body
    _ok(M.CreditMemoResponse, body)
    for path in (f"/v1/credit-memos/{body['number']}/post",):
        status, posted = raw("PUT", path, {})
        assert status == 200, posted
        _ok(M.CreditMemoResponse, posted)
    status, body = raw("POST", f"/v1/invoices/{first['invoiceNumber']}/creditmemos", {
        "items": [{"invoiceItemId": item["id"], "amount": "5.00", "skuName": item["sku"]}], "reasonCode": "Goodwill",
        "autoPost": True})
    assert status == 200, body
    status, applied = raw("PUT", f"/v1/credit-memos/{body['id']}/apply",
                          {"invoices": [{"invoiceId": first["id"], "amount": "5.00"}]})
    assert status == 200, applied
    _ok(M.CreditMemoResponse, applied)

    status, body = raw("PUT", f"/v1/invoices/{second['invoiceNumber']}/write-off", {"comment": "uncollectible"})
    assert status == 200, body
    _ok(M.WriteOffInvoiceResponse, body)

    status, body = raw("POST", f"/v1/invoices/{first['invoiceNumber']}/emails", {"useEmailTemplateSetting": False})
    assert status == 200, body
    _ok(M.CommonResponse, body)

    status, body = raw("POST", "/v1/payment-schedules", {
        "accountId": overdue["account"]["id"], "billingDocument": {"id": first["id"], "type": "Invoice"},
        "items": [{"scheduledDate": "2026-12-15", "amount": "100.00"}, {"scheduledDate": "2027-01-15",
                                                                         "amount": "100.00"}]})
    assert status == 200, body
    _ok(M.PaymentScheduleResponse, body)
    schedule = body["paymentScheduleNumber"]
    status, body = raw("GET", f"/v1/payment-schedules/{schedule}")
    _ok(M.PaymentScheduleResponse, body)
    status, body = raw("GET", "/v1/payment-schedules", accountId=overdue["account"]["id"])
    assert status == 200 and isinstance(body, list) and body
    _ok(M.PaymentSchedule, body)
    status, body = raw("PUT", f"/v1/payment-schedules/{schedule}/cancel", {"cancelDate": "2027-01-01"})
    assert status == 200, body
    _ok(M.PaymentScheduleResponse, body)

    status, body = raw("PUT", "/v1/accounts/A00000007", {"Collections_Status__c": "Escalated"})
    assert status == 200, body
    _ok(M.CommonResponse, body)

    status, body = raw("POST", "/objects/definitions/default", {"definitions": {"AI_Audit_Log": {
        "object": "AI_Audit_Log", "label": "AI audit log", "properties": {
            "Action__c": {"type": "string", "maxLength": 64, "label": "Action"},
            "Amount__c": {"type": "number", "label": "Amount"}}, "required": ["Action__c"],
        "filterable": ["Action__c"]}}})
    assert status == 200, body
    _ok(M.GetAllCustomObjectDefinitionsInNamespaceResponse, body)
    status, body = raw("GET", "/objects/definitions/default/AI_Audit_Log")
    _ok(M.CustomObjectDefinition, body)
    status, body = raw("POST", "/objects/records/default/AI_Audit_Log",
                       {"records": [{"Action__c": "credit_memo", "Amount__c": 50.0}], "allowPartialSuccess": False})
    assert status == 200, body
    _ok(M.PostCustomObjectRecordsResponse, body)
    status, body = raw("GET", "/objects/records/default/AI_Audit_Log", q="Action__c = 'credit_memo'")
    assert status == 200 and body["count"] == 1, body
    _ok(M.QueryCustomObjectRecordsResponse, body)


ERRORS = [
    ("GET", "/v1/invoices/INV09999999", None, 404, "CommonResponse"),
    ("GET", "/v1/accounts/A09999999/summary", None, 404, "CommonResponse"),
    ("GET", "/object-query/invoices?filter[]=nope.EQ:1", None, 400, "CommonResponse"),
    ("GET", "/object-query/invoice-items", None, 400, "CommonResponse"),
    ("POST", "/v1/payments", {"type": "Electronic"}, 400, "CommonResponse"),
    ("PUT", "/v1/invoices/INV00000042/write-off", {}, 400, "CommonResponse"),
    ("POST", "/v1/credit-memos/invoice/INV00000042", {"items": [], "reasonCode": "Goodwill"}, 400, "CommonResponse"),
    ("GET", "/objects/records/default/Nope", None, 404, "CommonErrorResponse"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "model"), ERRORS,
                         ids=[f"{e[0]} {e[1]}" for e in ERRORS])
def test_error_responses_match_sdk_models(world: tuple[ZuoraSandbox, Raw], method: str, path: str, body: Any,
                                          status: int, model: str) -> None:
    _, raw = world
    got, payload = raw(method, path, body)
    assert got == status, payload
    _ok(getattr(M, model), payload)


def test_unauthenticated_matches_proxy_model(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    response = raw.http.get("/v1/invoices/INV00000042")
    assert response.status_code == 401
    _ok(M.ProxyUnauthorizedResponse, response.json())


def test_legacy_version_answers_200_with_success_false(world: tuple[ZuoraSandbox, Raw]) -> None:
    sandbox, _ = world
    legacy = Raw(sandbox, version="224.0")
    status, body = legacy("GET", "/v1/invoices/INV09999999")
    assert status == 200 and body["success"] is False
    assert body["reasons"][0]["code"] == 50000040
    _ok(M.CommonResponse, body)


def test_sdk_as_client_against_the_http_server() -> None:
    """The official SDK drives the sandbox over real HTTP and gets what it expects."""
    from zuora_sdk.api.invoices_api import InvoicesApi
    from zuora_sdk.api.o_auth_api import OAuthApi
    from zuora_sdk.api.object_queries_api import ObjectQueriesApi
    from zuora_sdk.api_client import ApiClient
    from zuora_sdk.configuration import Configuration
    from zuora_sdk.exceptions import NotFoundException

    with SandboxServer(ZuoraSandbox()) as server:
        api = ApiClient(Configuration(host=server.url))
        token = OAuthApi(api).create_token(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                                           grant_type="client_credentials")
        api.default_headers["Authorization"] = f"Bearer {token.access_token}"
        invoice = InvoicesApi(api).get_invoice("INV00000042", zuora_version=VERSION)
        assert invoice.invoice_number == "INV00000042"
        assert Decimal(str(invoice.amount)) == Decimal("868.46")
        page = ObjectQueriesApi(api).query_invoices(
            filter=[f"accountid.EQ:{invoice.account_id}", "invoicedate.LT:2026-02-01"], sort=["invoicedate.DESC"],
            expand=["invoiceitems"], page_size=1)
        assert [row.invoice_number for row in page.data] == ["INV00000022"]
        assert len(page.data[0].invoice_items) == 1  # expanded children are truncated at pageSize
        with pytest.raises(NotFoundException) as not_found:
            InvoicesApi(api).get_invoice("INV09999999", zuora_version=VERSION)
        assert not_found.value.status == 404
        assert server.sandbox.requests[-2].headers["user-agent"].startswith("zuora-py-sdk/")


def test_data_query_jobs_match_sdk_models(world: tuple[ZuoraSandbox, Raw]) -> None:
    _, raw = world
    status, submitted = raw("POST", "/query/jobs", {"query": "SELECT id, accountnumber FROM account",
                                                    "outputFormat": "JSON", "compression": "NONE",
                                                    "output": {"target": "S3"}})
    assert status == 200 and submitted["data"]["queryStatus"] == "accepted"
    _ok(M.SubmitDataQueryResponse, submitted)
    for expected in ("in_progress", "completed"):
        status, job = raw("GET", f"/query/jobs/{submitted['data']['id']}")
        assert status == 200 and job["data"]["queryStatus"] == expected
        _ok(M.GetDataQueryJobResponse, job)
    assert job["data"]["outputRows"] == len(world[0].tenant.accounts) and job["data"]["dataFile"].startswith("http")


def test_the_checker_counts_unknown_keys_as_errors_except_documented_ones() -> None:
    errs, _ = check(M.GetSubscriptionResponse, {"createdDate": "2026-01-01 00:00:00", "success": True})
    assert "$.createdDate: not a field of GetSubscriptionResponse" in errs
    errs, _ = check(M.GetPaymentMethodForAccountResponse, {"accountKey": "x", "success": True, "custom__c": 1})
    assert not [e for e in errs if "not a field" in e]
    nested, _ = check(M.GetSubscriptionResponse, {"ratePlans": [{"ratePlanCharges": [{"chargeSegments": [
        {"uom": "Seat"}]}]}]})
    assert any(e.endswith("chargeSegments[0].uom: not a field of RatePlanChargeSegment") for e in nested)
