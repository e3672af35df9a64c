"""Invoice schedules (create, get, list through Object Query, execute), ad hoc bill runs (create, cancel) and
posting a Draft invoice; the rules live in `bot.sandbox.schedules`."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.sandbox import render, schedules
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import page, parse_query
from bot.sandbox.routes.common import lower_fields, must_find
from bot.sandbox.routing import Call, Reply, route

SCHEDULE_FILTERS = ("id", "updateddate", "nextrundate", "number", "accountid", "status")
SCHEDULE_EXPANDS = ("invoicescheduleitems", "rateplancharges")


def _schedule(call: Call) -> dict[str, Any]:
    schedule = call.tenant.find("invoice_schedules", call.args["key"])
    if schedule is None:
        raise SandboxError(40, f"Cannot find an InvoiceSchedule instance with id {call.args['key']}.")
    return schedule


def _run_body(run: dict[str, Any]) -> dict[str, Any]:
    drop = {"numberOfInvoices", "numberOfAccounts", "numberOfCreditMemos", "executedDate", "startDate", "endDate",
            "totalTime", "errorMessage", "batches", "billCycleDay"}
    return {**{k: v for k, v in render.v1(run).items() if k not in drop}, "success": True}


@route("GET", "/v1/invoice-schedules/{key}")
def get_schedule(call: Call) -> Reply:
    return Reply({**render.v1(schedules.schedule_body(_schedule(call))), "success": True})


@route("POST", "/v1/invoice-schedules")
def create_schedule(call: Call) -> Reply:
    schedule = schedules.create_schedule(call.tenant, call.json())
    return Reply({**render.v1(schedules.schedule_body(schedule)), "success": True})


@route("POST", "/v1/invoice-schedules/{key}/execute")
def execute_schedule(call: Call) -> Reply:
    run = schedules.execute(call.tenant, _schedule(call), call.json())
    return Reply(_run_body(run))


def _oq(schedule: dict[str, Any], expand: bool) -> dict[str, Any]:
    out = {k: v for k, v in render._oq(schedule, {}, {"scheduleItems", "orders", "specificSubscriptions"}).items()}
    out["additionalSubscriptionsToBill"] = ""
    if expand:
        out["invoiceScheduleItems"] = [{
            **render._oq(item, {}, {"targetDateForAdditionalSubscriptions"}), "invoiceScheduleId": schedule["id"],
            "sequenceNumber": n} for n, item in enumerate(schedule["scheduleItems"], start=1)]
    return out


@route("GET", "/object-query/invoice-schedules")
def query_schedules(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=SCHEDULE_FILTERS, expandable=SCHEDULE_EXPANDS)
    expand = "invoicescheduleitems" in spec.expand
    return Reply(page(call.tenant.invoice_schedules.values(), spec, lower_fields, lambda s: _oq(s, expand)))


@route("POST", "/v1/bill-runs")
def create_bill_run(call: Call) -> Reply:
    return Reply(_run_body(schedules.create_bill_run(call.tenant, call.json())))


@route("PUT", "/v1/bill-runs/{bill_run_id}/cancel")
def cancel_bill_run(call: Call) -> Reply:
    run = call.tenant.bill_runs.get(call.args["bill_run_id"])
    if run is None:
        raise SandboxError(40, f"Cannot find a BillRun instance with id {call.args['bill_run_id']}.")
    schedules.cancel_bill_run(call.tenant, run)
    return Reply({"id": run["id"], "status": run["status"], "success": True})


@route("PUT", "/v1/invoices/{key}/post")
def post_invoice(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    body = call.json()
    try:
        invoice_date = date.fromisoformat(str(body["invoiceDate"])) if body.get("invoiceDate") else None
    except ValueError:
        raise SandboxError(20, "invoiceDate must be yyyy-mm-dd.") from None
    schedules.post_invoice(call.tenant, invoice, invoice_date)
    return Reply({"id": invoice["id"], "jobId": call.tenant.new_id("job"), "jobStatus": "Completed", "success": True})
