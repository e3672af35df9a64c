"""The Zuora client against the sandbox: auth, retries, errors, idempotency, paging, look-ups."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest

from bot.sandbox import ZuoraSandbox
from bot.zuora import (
    InvoiceNotFound,
    RetryPolicy,
    ZuoraAPIError,
    ZuoraAuthError,
    ZuoraClient,
    ZuoraIdempotencyError,
    ZuoraNotFound,
    ZuoraServerError,
    ZuoraTransportError,
    invoice_number_forms,
)
from bot.zuora.codec import dumps, loads
from tests.conftest import FakeClock, make_client


def _api_calls(sandbox: ZuoraSandbox, pattern: str = "/v1/*") -> int:
    return len(sandbox.requests_to(pattern))


# -- auth ----------------------------------------------------------------------------------------------


def test_token_is_cached_and_refreshed_shortly_before_expiry(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                              clock: FakeClock) -> None:
    client.invoices.get("INV00000042")
    client.invoices.get("INV00000022")
    assert len(sandbox.requests_to("/oauth/token")) == 1
    clock.advance(3599 - 300 - 1)  # still inside the refresh margin
    client.invoices.get("INV00000042")
    assert len(sandbox.requests_to("/oauth/token")) == 1
    clock.advance(2)  # now within 5 minutes of expiry
    client.invoices.get("INV00000042")
    assert len(sandbox.requests_to("/oauth/token")) == 2


def test_one_refresh_and_replay_on_401(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    client.invoices.get("INV00000042")
    sandbox.revoke_tokens()
    assert client.invoices.get("INV00000042").invoice_number == "INV00000042"
    assert len(sandbox.requests_to("/oauth/token")) == 2
    statuses = [r.path for r in sandbox.requests]
    assert statuses == ["/oauth/token", "/v1/invoices/INV00000042", "/v1/invoices/INV00000042", "/oauth/token",
                        "/v1/invoices/INV00000042"]


def test_a_second_401_is_an_auth_error_not_a_loop(clock: FakeClock) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": f"t{len(calls)}", "expires_in": 3599})
        return httpx.Response(401, json={"message": "Authentication error"})

    client = ZuoraClient("https://z.test", client_id="i", client_secret="s", transport=httpx.MockTransport(handler),
                         sleep=clock.sleep, clock=clock)
    with pytest.raises(ZuoraAuthError) as err:
        client.invoices.get("INV00000042")
    assert calls == ["/oauth/token", "/v1/invoices/INV00000042", "/oauth/token", "/v1/invoices/INV00000042"]
    assert err.value.status == 401 and "Authentication error" in str(err.value)


def test_wrong_credentials_fail_clearly(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock)
    client._client_secret = "wrong"  # the credentials a misconfigured deployment would send
    with pytest.raises(ZuoraAuthError, match="Authentication error"):
        client.invoices.get("INV00000042")
    assert _api_calls(sandbox) == 0


# -- retries -------------------------------------------------------------------------------------------


def test_429_waits_for_the_reset_header(client: ZuoraClient, sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    sandbox.inject("/v1/invoices/*", statuses=[429], reset=7)
    assert client.invoices.get("INV00000042").amount == Decimal("868.46")
    assert clock.sleeps == [7.0]
    assert _api_calls(sandbox) == 2


def test_503_503_200_succeeds_after_two_backoffs(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                 clock: FakeClock) -> None:
    sandbox.inject("/v1/invoices/*", statuses=[503, 503])
    assert client.invoices.get("INV00000042").invoice_number == "INV00000042"
    assert clock.sleeps == [0.5, 1.0]  # capped exponential backoff; jitter pinned to its maximum
    assert _api_calls(sandbox) == 3


def test_jitter_stays_within_half_and_full_delay() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert policy.backoff(1, lambda: 0.0) == 0.5
    assert policy.backoff(3, lambda: 1.0) == 4.0
    assert policy.backoff(10, lambda: 1.0) == 8.0


@pytest.mark.parametrize("status", [400, 404, 422, 409, 403])
def test_client_errors_are_never_retried(client: ZuoraClient, sandbox: ZuoraSandbox, clock: FakeClock,
                                         status: int) -> None:
    sandbox.inject("/v1/invoices/*", statuses=[status])
    with pytest.raises(ZuoraAPIError) as err:
        client.invoices.get("INV00000042")
    assert err.value.status == status
    assert _api_calls(sandbox) == 1 and clock.sleeps == []


def test_retries_stop_at_the_deadline(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    client = make_client(sandbox, clock, retry=RetryPolicy(max_attempts=10, deadline=2.0))
    sandbox.inject("/v1/invoices/*", statuses=[503] * 10)
    with pytest.raises(ZuoraServerError) as err:
        client.invoices.get("INV00000042")
    assert err.value.status == 503 and err.value.request_id
    assert sum(clock.sleeps) <= 2.0 and _api_calls(sandbox) == 3  # slept 0.5 + 1.0; 2.0 more would pass 2 s


def test_connection_errors_are_retried_then_reported(clock: FakeClock) -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    client = ZuoraClient("https://z.test", client_id="i", client_secret="s", transport=httpx.MockTransport(handler),
                         sleep=clock.sleep, clock=clock, random=lambda: 1.0)
    with pytest.raises(ZuoraTransportError, match="failed after 5 attempt"):
        client.invoices.get("INV00000042")
    assert len(attempts) == 5


def test_a_write_retried_after_a_timeout_reuses_its_key_and_creates_one_payment(
        client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    tenant = sandbox.tenant
    account = tenant.find("accounts", "A00000003")
    invoice = next(tenant.invoices[i] for i in tenant.invoices_of[account["id"]] if tenant.invoices[i]["balance"])
    before = len(tenant.payments)
    # The first attempt is processed by "Zuora", but its answer is lost on the way back.
    sandbox.inject("/v1/payments", method="POST", statuses=["timeout"], after=True)
    payment = client.payments.create({
        "type": "Electronic", "accountId": account["id"], "amount": invoice["balance"], "currency": account["currency"],
        "effectiveDate": tenant.today.isoformat(),
        "invoices": [{"invoiceId": invoice["id"], "amount": invoice["balance"]}]})
    posts = sandbox.requests_to("/v1/payments", "POST")
    assert len(posts) == 2
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert len(tenant.payments) == before + 1
    assert payment.status == "Processed" and invoice["balance"] == 0


def test_put_is_not_retried_after_a_timeout(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    sandbox.inject("/v1/invoices/*/write-off", method="PUT", statuses=["timeout"])
    with pytest.raises(ZuoraTransportError, match="timed out"):
        client.invoices.write_off("INV00000452")
    assert len(sandbox.requests_to("/v1/invoices/*/write-off")) == 1


def test_reusing_a_key_for_another_body_is_refused_before_sending(client: ZuoraClient,
                                                                  sandbox: ZuoraSandbox) -> None:
    client.invoices.email("INV00000042", idempotency_key="k-1")
    with pytest.raises(ZuoraIdempotencyError, match="k-1"):
        client.invoices.email("INV00000042", email_addresses=["someone@else.example"], idempotency_key="k-1")
    assert len(sandbox.requests_to("/v1/invoices/*/emails")) == 1
    client.invoices.email("INV00000042", idempotency_key="k-1")  # the same request again is fine


# -- errors and headers ----------------------------------------------------------------------------------


def test_success_false_with_http_200_raises(sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    legacy = make_client(sandbox, clock, version="224.0")
    with pytest.raises(ZuoraNotFound) as err:
        legacy.invoices.get("INV09999999")
    assert err.value.status == 404  # mapped from the reason category; the HTTP status was 200
    assert err.value.reasons[0].code == 50000040 and err.value.reasons[0].category == 40
    assert err.value.request_id and "INV09999999" in str(err.value)


def test_business_errors_carry_zuora_reasons(client: ZuoraClient) -> None:
    with pytest.raises(ZuoraAPIError) as err:
        client.credit_memos.create_from_invoice("INV00000042", [], reason_code="Goodwill")
    assert err.value.status == 400 and err.value.messages == ["'items' is required and must not be empty"]


def test_headers_version_track_id_and_idempotency(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    client.invoices.get("INV00000042")
    client.invoices.email("INV00000042")
    get, post = sandbox.requests_to("/v1/invoices/*")
    for request in (get, post):
        assert request.headers["zuora-version"] == "2025-08-12"
        assert request.headers["zuora-track-id"]
    assert get.headers["zuora-track-id"] != post.headers["zuora-track-id"]
    assert "idempotency-key" not in get.headers and post.headers["idempotency-key"]


# -- paging and look-ups -----------------------------------------------------------------------------------


def test_v1_paging_follows_next_page_urls_lazily(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    account = sandbox.tenant.find("accounts", "A00000002")
    stream = client.payments.list(account["id"], page_size=4)
    first = next(stream)
    assert len(sandbox.requests_to("/v1/payments")) == 1  # one page fetched so far
    rest = list(stream)
    pages = sandbox.requests_to("/v1/payments")
    assert len(pages) == 3 and len([first, *rest]) == 12
    assert ("page", "3") in pages[2].params
    dates = [p.effective_date for p in [first, *rest]]
    assert dates == sorted(dates, reverse=True)  # "+effectiveDate" sorts descending, as Zuora documents


def test_object_query_paging_streams_a_bill_run(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    invoices = list(client.invoices.of_bill_run("BR-00000012", page_size=25))
    assert len(invoices) == 70 and len({i.invoice_number for i in invoices}) == 70
    pages = sandbox.requests_to("/object-query/invoices")
    assert len(pages) == 3
    assert not any(k == "cursor" for k, _ in pages[0].params) and any(k == "cursor" for k, _ in pages[1].params)


@pytest.mark.parametrize("typed", ["INV00000042", "INV-42", "inv42", "#42", "42", " Inv 0042 ", "invoice 42"])
def test_every_invoice_number_form_finds_the_same_invoice(client: ZuoraClient, typed: str) -> None:
    match = client.invoices.find(typed)
    assert match.invoice.invoice_number == "INV00000042" and match.matched == "INV00000042"
    assert match.exact == (typed == "INV00000042")


def test_an_unknown_invoice_says_what_was_tried(client: ZuoraClient) -> None:
    with pytest.raises(InvoiceNotFound) as err:
        client.invoices.find("INV-999999")
    assert err.value.tried == ["INV00999999", "INV-999999"]
    assert "INV00999999" in str(err.value)
    with pytest.raises(InvoiceNotFound, match="not an invoice number"):
        client.invoices.find("   ")


def test_invoice_number_forms() -> None:
    assert invoice_number_forms("INV-42") == ["INV00000042", "INV-42"]
    assert invoice_number_forms("#7") == ["INV00000007"]
    assert invoice_number_forms("4340f0dcbd4728cdb4d74fb78e4c6bcc") == ["4340f0dcbd4728cdb4d74fb78e4c6bcc"]
    assert invoice_number_forms("hello world") == []


def test_previous_invoice_comes_with_its_items_in_one_request(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    invoice = client.invoices.get("INV00000042")
    previous = client.invoices.previous(invoice)
    assert previous is not None and previous.invoice_number == "INV00000022"
    assert sum((i.total for i in previous.items), Decimal(0)) == previous.amount == Decimal("313.92")
    assert len(sandbox.requests_to("/object-query/invoices")) == 1
    first = client.invoices.get("INV00000001")
    assert client.invoices.previous(first) is None


def test_models_hide_v1_and_object_query_naming(client: ZuoraClient) -> None:
    v1 = {i.item_id: i for i in client.invoices.items("INV00000022")}
    oq = {i.item_id: i for i in client.invoices.query_items(client.invoices.get("INV00000022").invoice_id)}
    assert v1.keys() == oq.keys()
    for item_id, item in v1.items():
        other = oq[item_id]
        assert (item.subscription_number, item.processing_type, item.unit_of_measure, item.charge_amount) == (
            other.subscription_number, other.processing_type, other.unit_of_measure, other.charge_amount)
    assert any(i.is_discount for i in v1.values())
    assert all(i.charge_number for i in oq.values())


def test_concurrent_reads_share_one_client(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    results = client.concurrently(*(lambda n=n: client.invoices.get(f"INV{n:08d}") for n in range(1, 9)))
    assert [r.invoice_number for r in results] == [f"INV{n:08d}" for n in range(1, 9)]
    assert len(sandbox.requests_to("/oauth/token")) == 1
    errors: list[BaseException] = []

    def read() -> None:
        try:
            client.accounts.summary("A00000003")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_money_round_trips_exactly() -> None:
    assert loads('{"a": 868.46, "b": 0.1}') == {"a": Decimal("868.46"), "b": Decimal("0.1")}
    text = dumps({"amount": Decimal("1234567890.12"), "rate": [Decimal("-0.0825")], "n": 3, "s": "x"})
    assert text == '{"amount":1234567890.12,"rate":[-0.0825],"n":3,"s":"x"}'
