"""The invoice-note write-back against the official zuora-sdk models: our request strictly, the sandbox's answers."""

from __future__ import annotations

from datetime import date

import pytest

from bot.actions.kinds import DraftContext
from bot.copilot.notes import draft_note
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.zuora_check import check

pytestmark = pytest.mark.sdk
M = pytest.importorskip("zuora_sdk.models")


@pytest.mark.parametrize("status", ["Posted", "Draft"])
def test_note_request_and_answer_match_the_sdk(sandbox: ZuoraSandbox, client: ZuoraClient, status: str) -> None:
    stored = sandbox.tenant.find("invoices", "INV00000042")
    assert stored is not None
    stored["status"] = status
    proposal = draft_note(DraftContext(client, date(2026, 6, 1)), "INV00000042", language="de")
    request = proposal.request(date(2026, 6, 1), "p1")
    errs, _ = check(M.UpdateInvoiceRequest, request.body, unknown_is_error=True)
    assert not errs, errs
    assert ("comments" in request.body) == (status == "Draft")
    body = client.put(request.path, request.body)
    errs, _ = check(M.UpdateInvoiceResponse, body, unknown_is_error=True)
    assert not errs, errs
    assert body["number"] == "INV00000042" and body["AI_Summary__c"] == proposal.note
    assert body.get("comment") == (proposal.short if status == "Draft" else None)
    errs, _ = check(M.InvoiceResponse, client.get("/v1/invoices/INV00000042"))
    assert not errs, errs


def test_refusals_match_the_sdk_error_model(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    import httpx

    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL

    http = httpx.Client(base_url=SANDBOX_URL, transport=httpx.MockTransport(sandbox.handle))
    token = http.post("/oauth/token", data={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                                            "grant_type": "client_credentials"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Zuora-Version": "2025-08-12"}
    for body in ({"invoiceDate": "2026-05-01"}, {"comments": "x" * 256}, {"Nope": 1}):
        response = http.put("/v1/invoices/INV00000042", json=body, headers=headers)
        assert response.status_code == 400, response.text
        errs, _ = check(M.CommonResponse, response.json())
        assert not errs, errs


def test_workflow_run_matches_the_sdk(sandbox: ZuoraSandbox, client: ZuoraClient) -> None:
    from bot.copilot.notes import NoteSettings, draft_note_email

    email = draft_note_email(DraftContext(client, date(2026, 6, 1)), "INV00000042",
                             settings=NoteSettings(workflow_id="1001"))
    request = email.request(date(2026, 6, 1), "p1")
    body = client.post(request.path, request.body, idempotency_key="p1")
    errs, _ = check(M.WorkflowInstance, body, unknown_is_error=True)
    assert not errs, errs
    again = client.post(request.path, request.body, idempotency_key="p1")  # a retry with the same key: one email
    assert again == body and len(sandbox.tenant.emails) == 1
