"""Zuora keys: model- or user-chosen ids are validated and quoted, so they never reach another endpoint."""

from __future__ import annotations

import httpx
import pytest

from bot.copilot import Toolbox, ToolContext
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient, ZuoraInvalidKey, ZuoraNotFound
from bot.zuora.keys import check, is_key, segment
from tests.conftest import FakeClock, make_client

TRAVERSALS = ["../accounts/A00000101", "..%2Faccounts%2FA00000101", "A-S00000002/../../accounts/A00000101",
              "A-S00000002?x=1", "A-S00000002#frag", "..", ".", " ", "%2e%2e", "A-S1\r\nX-Evil: 1"]


@pytest.fixture
def wire(sandbox: ZuoraSandbox, clock: FakeClock) -> tuple[ZuoraClient, list[str]]:
    """A client whose every request's raw path (as it goes on the wire) is recorded."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return sandbox.handle(request)

    return make_client(sandbox, clock, transport=httpx.MockTransport(handler)), seen


def test_a_traversal_in_a_key_stays_in_its_own_segment(wire: tuple[ZuoraClient, list[str]]) -> None:
    client, seen = wire
    with pytest.raises(ZuoraNotFound):
        client.subscriptions.get("../accounts/A00000101")
    api = [p for p in seen if p.startswith("/v1/")]
    assert api == ["/v1/subscriptions/..%2Faccounts%2FA00000101"]
    assert not any(p.startswith("/v1/accounts") for p in seen)


@pytest.mark.parametrize("key", ["..", ".", "", " "])
def test_dot_and_empty_segments_are_refused_before_sending(wire: tuple[ZuoraClient, list[str]], key: str) -> None:
    client, seen = wire
    for call in (client.subscriptions.get, client.accounts.get, client.invoices.get, client.payments.get):
        with pytest.raises(ZuoraInvalidKey):
            call(key)
    assert seen == []


def test_the_client_refuses_a_path_that_walks_elsewhere(wire: tuple[ZuoraClient, list[str]]) -> None:
    client, seen = wire
    for path in ("/v1/subscriptions/../accounts/A00000101", "/v1/invoices/%2e%2e/x", "/v1/./accounts/A1"):
        with pytest.raises(ZuoraInvalidKey):
            client.get(path)
    assert seen == []


def test_segment_quotes_everything_that_is_not_a_plain_character() -> None:
    assert segment("INV00000042") == "INV00000042"
    assert segment("a/b?c#d%e f") == "a%2Fb%3Fc%23d%25e%20f"
    with pytest.raises(ZuoraInvalidKey):
        segment("A1\nHost: evil")


def test_key_formats() -> None:
    for kind, good in (("invoice", "INV00000042"), ("invoice", "INV-0000001"), ("account", "A00000007"),
                       ("subscription", "A-S00000002"), ("payment", "P-00000001"), ("credit_memo", "CM00000618"),
                       ("bill_run", "BR-00000042"), ("payment_method", "4da57f3c916a96cd2b637a2cf4cc0a8a")):
        assert is_key(kind, good) and check(kind, good) == good  # type: ignore[arg-type]
    for bad in TRAVERSALS:
        for kind in ("invoice", "account", "subscription", "payment", "payment_method"):
            assert not is_key(kind, bad), (kind, bad)  # type: ignore[arg-type]
    with pytest.raises(ZuoraInvalidKey, match="not a Zuora subscription"):
        check("subscription", "../accounts/A00000101")


@pytest.mark.parametrize("bad", TRAVERSALS)
def test_model_chosen_ids_are_validated_before_any_request(wire: tuple[ZuoraClient, list[str]], sandbox: ZuoraSandbox,
                                                         bad: str) -> None:
    client, seen = wire
    toolbox = Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))
    for name, args in (("get_subscription", {"subscription": bad}), ("get_invoice", {"invoice": bad}),
                       ("explain_invoice", {"invoice": bad}),
                       ("propose_collections_escalation", {"account": bad, "reason": "x"}),
                       ("propose_write_off", {"invoice": bad, "reason": "x"})):
        outcome = toolbox.run(name, args)
        assert outcome.error is not None and outcome.error.kind == "invalid", (name, bad, outcome)
    assert [p for p in seen if p.startswith("/v1/")] == []
