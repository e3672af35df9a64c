"""Invoice schedules and ad hoc bill runs: the sandbox's rules, the two proposal kinds, and following the bill
run to the posted invoice (durably, through the outbox)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.actions import Approvals
from bot.actions.follow import CARD_TOPIC, FOLLOW_TOPIC, Follower
from bot.actions.kinds import ProposalError
from bot.actions.outbox import Outbox
from bot.copilot.router import route
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraAPIError
from bot.zuora.schedules import Schedules
from tests.test_approvals import APPROVER, CFO, LEAD, REP, TEAM, Clock, approvals_for, approve

pytestmark = pytest.mark.both_databases

EXECUTE = "/v1/invoice-schedules/*/execute"


@pytest.fixture
def wall() -> Clock:
    return Clock()


@pytest.fixture
def approvals(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> Approvals:
    return approvals_for(database, client, sandbox, wall)


@pytest.fixture
def outbox(approvals: Approvals, wall: Clock) -> Outbox:
    return Outbox(approvals.db, now=wall)


@pytest.fixture
def follower(approvals: Approvals, outbox: Outbox) -> Follower:
    follower = Follower(approvals, outbox)
    approvals.on_change = follower.on_change
    return follower


def follow(follower: Follower, outbox: Outbox, wall: Clock, *, rounds: int = 20) -> int:
    """Drain the follow rows as the worker would, moving the clock past each wait; returns how many looks."""
    looks = 0
    for _ in range(rounds):
        items = outbox.claim([FOLLOW_TOPIC])
        for item in items:
            follower.handle(item)
            looks += 1
        if not items and not outbox.count(FOLLOW_TOPIC):
            return looks
        wall.now += timedelta(minutes=3)
    return looks


def item_ids(sandbox: ZuoraSandbox, number: str) -> list[str]:
    schedule = sandbox.tenant.find("invoice_schedules", number)
    assert schedule is not None
    return [i["id"] for i in schedule["scheduleItems"]]


# -- the sandbox ---------------------------------------------------------------------------------------


def test_sandbox_follows_zuoras_schedule_and_bill_run_rules(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    items = item_ids(sandbox, "IS-00000003")
    with pytest.raises(ZuoraAPIError, match="earliest pending"):
        client.post("/v1/invoice-schedules/IS-00000003/execute", {"scheduleItemId": items[1]}, idempotency_key="k1")
    with pytest.raises(ZuoraAPIError, match="paused"):
        client.post("/v1/invoice-schedules/IS-00000002/execute", {}, idempotency_key="k2")
    with pytest.raises(ZuoraAPIError, match="take account IDs"):  # filters take ids, not numbers
        client.post("/v1/bill-runs", {"billRunFilters": [{"filterType": "Account", "accountId": "A00000010"}],
                                      "targetDate": "2026-12-01"}, idempotency_key="k3")
    account_id = sandbox.tenant.find("accounts", "A00000010")["id"]  # type: ignore[index]
    with pytest.raises(ZuoraAPIError, match="targetDate is required"):
        client.post("/v1/bill-runs", {"billRunFilters": [{"filterType": "Account", "accountId": account_id}]},
                    idempotency_key="k4")
    run = client.post("/v1/invoice-schedules/IS-00000003/execute", {"scheduleItemId": items[0]},
                      idempotency_key="k5")
    assert run["status"] == "Pending" and run["billRunFilters"][0]["invoiceScheduleItemId"] == items[0]
    assert Schedules(client).get("IS-00000003").items[0].status == "Executing"
    assert [client.bill_runs.get(run["id"]).status for _ in range(3)] == ["Processing", "Completed", "Completed"]
    schedule = Schedules(client).get("IS-00000003")
    assert schedule.status == "PartiallyProcessed" and schedule.items[0].status == "Processed"
    invoice = client.invoices.get(str(schedule.items[0].invoice_id))
    assert invoice.status == "Draft" and invoice.amount == Decimal("2000.00")
    assert invoice.source_id == run["billRunNumber"]
    client.put(f"/v1/invoices/{invoice.invoice_id}/post", {})
    assert client.invoices.get(invoice.invoice_id).status == "Posted"
    with pytest.raises(ZuoraAPIError, match="Only invoices in Draft"):
        client.put(f"/v1/invoices/{invoice.invoice_id}/post", {})
    with pytest.raises(ZuoraAPIError, match="only Pending or Completed"):
        sandbox.tenant.bill_runs[run["id"]]["status"] = "Processing"
        client.put(f"/v1/bill-runs/{run['id']}/cancel", {})


def test_creating_a_schedule_checks_its_items(client: ZuoraClient) -> None:
    base = {"accountKey": "A00000002", "orders": ["O-00000001"]}
    for items, why in [([{"name": "a", "amount": 1, "percentage": 50}], "either amount or percentage"),
                       ([{"amount": 1, "runDate": "2026-12-01"}, {"amount": 1, "runDate": "2026-11-01"}],
                        "chronological"),
                       ([{"amount": 1}, {"amount": 1, "runDate": "2026-12-01"}], "blank too"),
                       ([{"percentage": 50}], "totalAmount")]:
        with pytest.raises(ZuoraAPIError, match=why):
            client.post("/v1/invoice-schedules", {**base, "scheduleItems": items}, idempotency_key=why)
    made = client.post("/v1/invoice-schedules", {**base, "totalAmount": 1000, "scheduleItems": [
        {"percentage": 40, "runDate": "2026-11-01"}, {"percentage": 60}]}, idempotency_key="ok")
    assert [i["amount"] for i in made["scheduleItems"]] == [400, 600] and made["nextRunDate"] == "2026-11-01"


def test_canceling_a_completed_run_returns_the_item_to_pending(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    run = client.post("/v1/invoice-schedules/IS-00000001/execute", {}, idempotency_key="k1")
    client.bill_runs.get(run["id"])
    client.bill_runs.get(run["id"])
    client.put(f"/v1/bill-runs/{run['id']}/cancel", {})
    schedule = Schedules(client).get("IS-00000001")
    assert schedule.items[0].status == "Pending" and schedule.items[0].invoice_id is None
    assert schedule.status == "Pending"


def test_an_ad_hoc_run_bills_the_next_month_through_the_billing_engine(client: ZuoraClient,
                                                                      sandbox: ZuoraSandbox) -> None:
    account_id = sandbox.tenant.find("accounts", "A00000010")["id"]  # type: ignore[index]
    run = client.post("/v1/bill-runs", {"billRunFilters": [{"filterType": "Account", "accountId": account_id}],
                                        "targetDate": "2026-12-01", "chargeTypeToExclude": ["Usage"]},
                      idempotency_key="k1")
    while client.bill_runs.get(run["id"]).status != "Completed":
        pass
    invoices = list(client.invoices.of_bill_run(run["billRunNumber"]))
    assert [(i.status, i.target_date) for i in invoices] == [("Draft", date(2026, 12, 1))]
    items = client.invoices.items(invoices[0].invoice_id)
    assert {i.charge_type for i in items} == {"Recurring"}  # usage excluded, as asked
    assert sum((i.charge_amount for i in items), Decimal(0)) == invoices[0].amount - invoices[0].tax_amount


@pytest.mark.sdk
def test_sandbox_schedule_and_bill_run_bodies_match_the_sdk_models(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    models = pytest.importorskip("zuora_sdk.models")
    from tests.zuora_check import check

    def ok(model: Any, payload: Any) -> None:
        errs, _ = check(model, payload)
        assert not errs, "\n".join(errs[:10])

    ok(models.InvoiceScheduleResponse, client.get("/v1/invoice-schedules/IS-00000001"))
    create = {"accountKey": "A00000002", "orders": ["O-00000001"], "notes": "2026 milestones", "scheduleItems": [
        {"name": "Kick-off", "amount": 100, "runDate": "2026-12-01"}, {"name": "Go-live", "amount": 200}]}
    ok(models.CreateInvoiceScheduleRequest, create)
    created = client.post("/v1/invoice-schedules", create, idempotency_key="k0")
    ok(models.InvoiceScheduleResponse, created)
    assert created["number"] == "IS-00000004" and created["totalAmount"] == 300
    account_id = sandbox.tenant.find("accounts", "A00000010")["id"]  # type: ignore[index]
    ok(models.QueryInvoiceSchedulesResponse, client.get("/object-query/invoice-schedules", [
        ("filter[]", f"accountid.EQ:{account_id}"), ("expand[]", "invoicescheduleitems")]))
    request = {"scheduleItemId": item_ids(sandbox, "IS-00000001")[0]}
    ok(models.ExecuteInvoiceScheduleRequest, request)
    run = client.post("/v1/invoice-schedules/IS-00000001/execute", request, idempotency_key="k1")
    ok(models.BillRunResponse, run)
    for _ in range(3):
        ok(models.BillRunResponse, client.get(f"/v1/bill-runs/{run['id']}"))
    create = {"name": "ad hoc", "billRunFilters": [{"filterType": "Account", "accountId": account_id}],
              "targetDate": "2026-12-01", "invoiceDate": "2026-11-20", "autoPost": False,
              "noEmailForZeroAmountInvoice": True, "chargeTypeToExclude": ["Usage"]}
    ok(models.CreateBillRunRequest, create)
    ok(models.BillRunResponse, client.post("/v1/bill-runs", create, idempotency_key="k2"))
    invoice = sandbox.tenant.invoices[Schedules(client).get("IS-00000001").items[0].invoice_id]  # type: ignore[index]
    ok(models.PostAsyncInvoiceRequest, {})
    ok(models.AsyncOperationResponse, client.put(f"/v1/invoices/{invoice['id']}/post", {}))
    ok(models.InvoiceScheduleResponse, client.get("/v1/invoice-schedules/IS-00000001"))


# -- drafting ------------------------------------------------------------------------------------------


def test_drafts_say_what_zuora_will_bill_and_refuse_what_it_would_refuse(approvals: Approvals) -> None:
    drafts = approvals.drafts()
    with pytest.raises(ProposalError, match="item 1 .*still pending"):
        drafts.invoice_schedule_run("IS-00000003", "item", 2, "asked")
    with pytest.raises(ProposalError, match="paused"):
        drafts.invoice_schedule_run("IS-00000002", "next", None, "asked")
    with pytest.raises(ProposalError, match="no item 9"):
        drafts.invoice_schedule_run("IS-00000003", "item", 9, "asked")
    due = drafts.invoice_schedule_run("IS-00000003", "due", None, "asked")
    assert [i.position for i in due.items] == [1, 2] and due.amount == Decimal("4000.00")
    request = due.request(date(2026, 11, 20), ref="p1")
    assert request.path == "/v1/bill-runs" and request.body["billRunFilters"][0]["filterType"] == "InvoiceSchedule"
    assert request.body["billRunFilters"][0]["invoiceScheduleId"] == due.schedule_id  # an id, not IS-…
    section = dict(due.card_sections())["What will be billed"]
    assert "1. Deposit: 2,000.00 USD" in section and "2. Milestone 2: 2,000.00 USD" in section
    with pytest.raises(ProposalError, match="Nothing to bill.*2026-12-01"):
        drafts.bill_run("A00000010", None, "asked")
    bill = drafts.bill_run("A00000010", date(2026, 12, 1), "asked")
    assert bill.amount == Decimal("450.00") and bill.request(date(2026, 11, 20)).body["billRunFilters"] == [
        {"filterType": "Account", "accountId": bill.account_id}]


def test_the_router_reads_the_commands() -> None:
    assert route("schedules A00000010").tool == "list_invoice_schedules"
    assert route("run schedule IS-00000003 item 2").args == {"schedule": "IS-00000003", "which": "item", "item": 2,
                                                              "post_invoice": True}
    assert route("run schedule IS-00000003 the next item").args["which"] == "next"
    assert route("run schedule IS-00000003 all pending items up to today").args["which"] == "due"
    assert route("bill A00000010 now").args == {"account": "A00000010", "post_invoice": True}
    assert route("bill A00000010 on 2026-12-01, leave it as a draft").args == {
        "account": "A00000010", "post_invoice": False, "target_date": "2026-12-01"}
    assert route("run schedule IS-00000003").kind == "clarify"


# -- approve, execute, follow ----------------------------------------------------------------------------


def test_a_schedule_item_runs_once_and_is_followed_to_the_posted_invoice(
        approvals: Approvals, follower: Follower, outbox: Outbox, sandbox: ZuoraSandbox, wall: Clock) -> None:
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000003", "next", None, "milestone met"),
                            requester=REP, team=TEAM, channel="C0")
    assert approve(approvals, record.id, clicker=APPROVER).kind == "denied"  # 2,000 USD is above the 250 tier
    claimed = approve(approvals, record.id, clicker=LEAD)
    done = approvals.run(claimed.record)  # type: ignore[arg-type]
    assert done.record and done.record.status == "succeeded" and "BR-" in done.record.outcome["message"]
    assert approve(approvals, record.id, clicker=LEAD).kind == "already"  # a second click
    sent = sandbox.requests_to(EXECUTE, "POST")
    assert len(sent) == 1 and sent[0].headers["idempotency-key"] == record.id
    assert json.loads(sent[0].body) == {"scheduleItemId": item_ids(sandbox, "IS-00000003")[0]}
    assert outbox.count(FOLLOW_TOPIC) == 1  # recorded with the success
    assert follow(follower, outbox, wall) >= 2  # Processing, then Completed
    final = approvals.get(record.id)
    assert final is not None and final.status == "succeeded"
    invoice_id = sandbox.tenant.find("invoice_schedules", "IS-00000003")["scheduleItems"][0]["invoiceId"]  # type: ignore[index]
    invoice = sandbox.tenant.invoices[invoice_id]
    assert invoice["status"] == "Posted"
    assert f"invoice {invoice['invoiceNumber']} for 2,000.00 USD, Posted" in final.outcome["message"]  # type: ignore[index]
    assert final.outcome["document"] == invoice["invoiceNumber"]  # type: ignore[index]
    assert outbox.status(f"{CARD_TOPIC}:{record.id}:announce:followed") is not None  # the card is told
    actions = [r.action for r in approvals.audit.rows(proposal_id=record.id)]
    assert actions[-1] == "followed" and actions.count("succeeded") == 1
    # item 1 is processed now: item 2 is the earliest pending one, and item 1 cannot be billed twice
    with pytest.raises(ProposalError, match="already Processed"):
        approvals.drafts().invoice_schedule_run("IS-00000003", "item", 1, "again")
    assert approvals.drafts().invoice_schedule_run("IS-00000003", "item", 2, "next").items[0].position == 2
    from bot.copilot.answers import render
    from bot.copilot.schedules import SchedulesArgs, list_invoice_schedules
    from bot.copilot.tools import ToolContext

    listed = render(list_invoice_schedules(ToolContext(approvals.client, lambda: sandbox.tenant.today),
                                           SchedulesArgs(key="A00000010"))).text
    assert f"1. Deposit: 2,000.00 USD, run date 2026-10-11, Processed, invoice {invoice['invoiceNumber']}" in listed


def test_an_ad_hoc_run_is_followed_and_left_as_draft_when_asked(
        approvals: Approvals, follower: Follower, outbox: Outbox, sandbox: ZuoraSandbox, wall: Clock) -> None:
    proposal = approvals.drafts().bill_run("A00000010", date(2026, 12, 1), "early invoice", post_invoice=False)
    record = approvals.open(proposal, requester=REP, team=TEAM, channel="C0")
    approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    sent = sandbox.requests_to("/v1/bill-runs", "POST")
    assert len(sent) == 1 and sent[0].headers["idempotency-key"] == record.id
    follow(follower, outbox, wall)
    final = approvals.get(record.id)
    assert final is not None and "Draft" in final.outcome["message"]  # type: ignore[index]
    assert "Left as Draft for review" in final.outcome["message"]  # type: ignore[index]
    assert not sandbox.requests_to("/v1/invoices/*/post", "PUT")


def test_a_bill_run_that_ends_in_error_says_so_and_posts_nothing(
        approvals: Approvals, follower: Follower, outbox: Outbox, sandbox: ZuoraSandbox, wall: Clock) -> None:
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000001", "due", None, "overdue"),
                            requester=REP, team=TEAM, channel="C0")
    assert approve(approvals, record.id, clicker=LEAD).kind == "denied"  # 4,800 USD: only the CFO's tier
    approvals.run(approve(approvals, record.id, clicker=CFO).record)  # type: ignore[arg-type]
    sandbox.tenant.bill_run_error = "Tax engine unavailable"
    follow(follower, outbox, wall)
    message = approvals.get(record.id).outcome["message"]  # type: ignore[union-attr]
    assert "ended in Error: Tax engine unavailable" in message and "nothing was posted" in message
    assert not sandbox.requests_to("/v1/invoices/*/post", "PUT")
    assert Schedules(approvals.client).get("IS-00000001").items[0].status == "Pending"


def test_following_is_bounded(approvals: Approvals, outbox: Outbox, sandbox: ZuoraSandbox, wall: Clock) -> None:
    follower = Follower(approvals, outbox, max_checks=1)
    approvals.on_change = follower.on_change
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000003", "next", None, "x"),
                            requester=REP, team=TEAM, channel="C0")
    approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    assert follow(follower, outbox, wall) == 1
    assert "still Processing after 1 checks" in approvals.get(record.id).outcome["message"]  # type: ignore[union-attr]


def test_a_paused_schedule_makes_an_open_card_stale(approvals: Approvals, sandbox: ZuoraSandbox) -> None:
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000001", "next", None, "x"),
                            requester=REP, team=TEAM, channel="C0")
    sandbox.tenant.find("invoice_schedules", "IS-00000001")["status"] = "Paused"  # type: ignore[index]
    result = approvals.run(approve(approvals, record.id, clicker=CFO).record)  # type: ignore[arg-type]
    assert result.kind == "stale" and "Paused" in result.message
    assert not sandbox.requests_to(EXECUTE, "POST")


def test_a_restart_resumes_following(database: str, client: ZuoraClient, sandbox: ZuoraSandbox, wall: Clock) -> None:
    first = approvals_for(database, client, sandbox, wall)
    outbox = Outbox(first.db, now=wall)
    first.on_change = Follower(first, outbox).on_change
    record = first.open(first.drafts().invoice_schedule_run("IS-00000003", "next", None, "x"), requester=REP,
                        team=TEAM, channel="C0")
    first.run(approve(first, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    first.db.close()  # the process ends before it looked at the bill run
    again = approvals_for(database, client, sandbox, wall)
    outbox2 = Outbox(again.db, now=wall)
    follow(Follower(again, outbox2), outbox2, wall)
    assert "Posted" in again.get(record.id).outcome["message"]  # type: ignore[union-attr]
    assert len(sandbox.requests_to(EXECUTE, "POST")) == 1


def test_a_completion_callout_hurries_the_follow_up(approvals: Approvals, outbox: Outbox, wall: Clock) -> None:
    follower = Follower(approvals, outbox, callouts=True)  # a callout is configured: polls are a slow backstop
    approvals.on_change = follower.on_change
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000003", "next", None, "x"),
                            requester=REP, team=TEAM, channel="C0")
    approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    assert outbox.claim([FOLLOW_TOPIC]) == []  # not due yet
    bill_run_id = approvals.get(record.id).outcome["zuora_ids"]["bill_run_id"]  # type: ignore[union-attr]
    assert follower.hurry(bill_run_id) and not follower.hurry("no-such-run")
    assert [i.payload["id"] for i in outbox.claim([FOLLOW_TOPIC])] == [record.id]


def test_the_guard_keeps_a_model_to_the_schedule_and_account_named() -> None:
    from bot.copilot.ask import Ask

    asked = Ask.read("run schedule IS-00000003 the next item")
    assert "invoice_schedule_run" in asked.kinds
    assert asked.refusal("propose_invoice_schedule_run", {"schedule": "IS-00000003", "which": "next"}) is None
    refused = asked.refusal("propose_invoice_schedule_run", {"schedule": "IS-00000001", "which": "next"})
    assert refused is not None and refused.code == "schedule_not_named"
    assert asked.refusal("propose_bill_run", {"account": "A00000010"}).code == "kind_not_asked"  # type: ignore[union-attr]
    assert asked.refusal_of({"kind": "invoice_schedule_run", "schedule_number": "IS-00000001"}) is not None
    billing = Ask.read("bill A00000010 now")
    assert billing.refusal("propose_bill_run", {"account": "A00000010"}) is None
    assert billing.refusal("propose_bill_run", {"account": "A00000007"}).code == "account_not_named"  # type: ignore[union-attr]


def test_an_item_processed_after_the_card_was_made_runs_nothing(approvals: Approvals, client: ZuoraClient,
                                                                 sandbox: ZuoraSandbox) -> None:
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000003", "item", 1, "x"),
                            requester=REP, team=TEAM, channel="C0")
    run = client.post("/v1/invoice-schedules/IS-00000003/execute", {}, idempotency_key="someone-in-zuora")
    client.bill_runs.get(run["id"])
    client.bill_runs.get(run["id"])  # item 1 is Processed now, billed from Zuora's UI
    result = approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    assert result.kind == "stale", result.message
    assert "IS-00000003 Pending; item 1 Pending → IS-00000003 PartiallyProcessed; item 1 Processed" in result.message
    assert len(sandbox.requests_to(EXECUTE, "POST")) == 1  # only the one made in Zuora


def test_a_bill_run_made_before_a_crash_is_found_by_its_name(approvals: Approvals, client: ZuoraClient) -> None:
    proposal = approvals.drafts().bill_run("A00000010", date(2026, 12, 1), "x")
    assert proposal.find(client, "p-123") is None  # nothing was sent yet
    request = proposal.request(date(2026, 11, 20), ref="p-123")
    made = client.post(request.path, request.body, idempotency_key="p-123")
    found = proposal.find(client, "p-123")
    assert found is not None and found.status == "succeeded" and found.zuora_ids["bill_run_id"] == made["id"]
    assert "found in Zuora" in found.message
    single = approvals.drafts().invoice_schedule_run("IS-00000003", "next", None, "x")
    assert single.find(client, "p-9") is None  # an execute is re-sent with the same key instead


def test_read_only_posts_no_invoice(approvals: Approvals, follower: Follower, outbox: Outbox, sandbox: ZuoraSandbox,
                                    wall: Clock) -> None:
    record = approvals.open(approvals.drafts().invoice_schedule_run("IS-00000003", "next", None, "x"),
                            requester=REP, team=TEAM, channel="C0")
    approvals.run(approve(approvals, record.id, clicker=LEAD).record)  # type: ignore[arg-type]
    approvals.read_only = True  # switched on while the bill run was running
    follow(follower, outbox, wall)
    assert "READ_ONLY is set: nothing was posted" in approvals.get(record.id).outcome["message"]  # type: ignore[union-attr]
    assert not sandbox.requests_to("/v1/invoices/*/post", "PUT")
