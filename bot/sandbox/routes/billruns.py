"""Bill runs: v1 by id, and Object Query billing runs (with counts)."""

from __future__ import annotations

from typing import Any

from bot.sandbox import render
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import cache_of, page, parse_query
from bot.sandbox.routes.common import lower_fields
from bot.sandbox.routing import Call, Reply, route
from bot.sandbox.schedules import advance

FILTERS = ("id", "createdbyid", "updateddate", "billingrunnumber", "executeddate", "name", "numberofaccounts",
           "numberofinvoices", "numberofcreditmemos", "status", "targetdate", "batches", "repeattype")


def _field(run: dict[str, Any], name: str) -> Any:
    return run["billRunNumber"] if name == "billingrunnumber" else lower_fields(run, name)


def _oq(run: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in render.v1(run).items() if k not in ("billRunNumber", "batches", "billCycleDay")}
    for key in ("createdDate", "updatedDate", "executedDate", "startDate", "endDate"):
        out[key] = render.iso(run[key])
    out.update({"billingRunNumber": run["billRunNumber"], "billingRunType": "Regular", "targetType": "AllAccounts",
                "batches": ",".join(run["batches"]), "billCycleDay": str(run["billCycleDay"])})
    return out


@route("GET", "/v1/bill-runs/{bill_run_id}")
def get_bill_run(call: Call) -> Reply:
    run = call.tenant.bill_runs.get(call.args["bill_run_id"])  # the v1 path takes the id only
    if run is None:
        raise SandboxError(40, f"Cannot find a BillRun instance with id {call.args['bill_run_id']}.")
    advance(call.tenant, run)  # API-created runs move one state per read (the sandbox's clock)
    body = {k: v for k, v in render.v1(run).items() if k not in (
        "numberOfInvoices", "numberOfAccounts", "numberOfCreditMemos", "executedDate", "startDate", "endDate",
        "totalTime", "errorMessage")}
    return Reply({**body, "success": True})


@route("GET", "/object-query/billing-runs")
def query_bill_runs(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=FILTERS)
    return Reply(page(call.tenant.bill_runs.values(), spec, _field, _oq, cache=cache_of(call.tenant, "bill_runs")))


@route("GET", "/object-query/billing-runs/{key}")
def query_bill_run(call: Call) -> Reply:
    run = call.tenant.find("bill_runs", call.args["key"])
    if run is None:
        raise SandboxError(40, f"Cannot find a BillingRun instance with id {call.args['key']}.")
    return Reply(_oq(run))
