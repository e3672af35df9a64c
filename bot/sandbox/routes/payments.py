"""Payments (list, read, parts, Object Query, create with gateway simulation) and payment schedules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox import render
from bot.sandbox.errors import SandboxError
from bot.sandbox.payments import DECLINE_CARDS, record_payment
from bot.sandbox.query import cache_of, page, parse_query
from bot.sandbox.routes.common import lower_fields, must_find, v1_page
from bot.sandbox.routing import Call, Reply, route

PAYMENT_FILTERS = ("id", "updateddate", "accountid", "amount", "effectivedate", "gatewayorderid", "gatewaystate",
                   "paymentmethodid", "paymentmethodsnapshotid", "paymentnumber", "referenceid", "source",
                   "sourcename", "status", "unappliedamount", "createddate")
_V1_FILTERS = ("accountId", "amount", "currency", "effectiveDate", "number", "status", "type")
_V1_SORTABLE = {"number", "accountId", "amount", "appliedAmount", "unappliedAmount", "refundAmount",
                "effectiveDate", "createdDate", "updatedDate"}


def _money(value: Any, field: str, resource: int = 570101) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SandboxError(20, f"'{field}' must be a number", resource=resource) from None
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise SandboxError(20, f"'{field}' must be a positive amount with at most 2 decimals", resource=resource)
    return amount


@route("GET", "/v1/payments")
def list_payments(call: Call) -> Reply:
    rows = list(call.tenant.payments.values())
    for name in _V1_FILTERS:
        wanted = call.param(name)
        if wanted is not None:
            rows = [p for p in rows if (str(p.get(name)) if p.get(name) is not None else "null") == wanted]
    keys = []
    for part in reversed([s.strip() for s in (call.param("sort") or "").split(",") if s.strip()][:2]):
        descending = not part.startswith("-")  # as documented: "-" ascending, "+" (or bare) descending
        field = part.lstrip("+-")
        if field not in _V1_SORTABLE:
            raise SandboxError(20, f"Invalid sort field '{field}'")
        keys.append((field, descending))
    rows.sort(key=lambda p: p["number"], reverse=True)
    for field, descending in keys:
        rows.sort(key=lambda p, f=field: p[f], reverse=descending)
    return Reply(v1_page(call, [render.v1_payment(p) for p in rows], "payments"))


@route("GET", "/v1/payments/{key}")
def get_payment(call: Call) -> Reply:
    return Reply({**render.v1_payment(must_find(call, "payments", call.args["key"])), "success": True})


@route("GET", "/v1/payments/{key}/parts")
def payment_parts(call: Call) -> Reply:
    payment = must_find(call, "payments", call.args["key"])
    parts = [{"id": a["id"], "invoiceId": a["invoiceId"], "amount": a["amount"],
              "createdDate": render.v1_dt(a["createdDate"]), "updatedDate": render.v1_dt(a["createdDate"])}
             for a in payment["applications"]]
    return Reply(v1_page(call, parts, "parts"))


@route("GET", "/object-query/payments")
def query_payments(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=PAYMENT_FILTERS, expandable=("paymentapplications",))

    def field_of(payment: dict[str, Any], name: str) -> Any:
        return payment["number"] if name == "paymentnumber" else lower_fields(payment, name)

    expand = "paymentapplications" in spec.expand
    return Reply(page(call.tenant.payments.values(), spec, field_of,
                      lambda p: render.oq_payment(p, applications=expand), cache=cache_of(call.tenant, "payments")))


def _account_of(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    key = body.get("accountId") or body.get("accountNumber")
    if not key:
        raise SandboxError(22, "accountId or accountNumber is required", resource=570101)
    return must_find(call, "accounts", str(key))


@route("POST", "/v1/payments")
def create_payment(call: Call) -> Reply:
    tenant, body = call.tenant, call.json()
    for field in ("type", "amount", "currency"):
        if body.get(field) in (None, ""):
            raise SandboxError(22, f"'{field}' is required", resource=570101)
    kind = body["type"]
    if kind not in ("Electronic", "External"):
        raise SandboxError(20, "'type' must be Electronic or External", resource=570101)
    amount = _money(body["amount"], "amount")
    account = _account_of(call, body)
    if body["currency"] != account["currency"]:
        raise SandboxError(30, f"The currency {body['currency']} does not match the account's {account['currency']}.",
                           resource=570101)
    day = date.fromisoformat(str(body.get("effectiveDate") or tenant.today.isoformat()))
    pm_id = body.get("paymentMethodId") or account["defaultPaymentMethodId"]
    pm = tenant.payment_methods.get(pm_id or "")
    if kind == "Electronic":
        if day != tenant.today:
            raise SandboxError(30, "The effective date of an electronic payment must be today.", resource=570101)
        if pm is None or pm["accountId"] != account["id"] or pm["status"] != "Active":
            raise SandboxError(30, "The payment method is not an active payment method of the account.",
                               resource=570101)
    applications = []
    for entry in body.get("invoices") or []:
        key = entry.get("invoiceId") or entry.get("invoiceNumber")
        invoice = must_find(call, "invoices", str(key))
        part = _money(entry.get("amount"), "invoices.amount")
        if invoice["accountId"] != account["id"]:
            raise SandboxError(30, f"Invoice {invoice['invoiceNumber']} belongs to another account.", resource=570101)
        if part > invoice["balance"]:
            raise SandboxError(30, f"The amount {part} exceeds the balance {invoice['balance']} of invoice "
                                   f"{invoice['invoiceNumber']}.", resource=570101)
        applications.append((invoice, part))
    if sum((p for _, p in applications), Decimal(0)) > amount:
        raise SandboxError(30, "The amounts applied to invoices exceed the payment amount.", resource=570101)
    decline = None
    if kind == "Electronic" and pm is not None:
        decline = pm.get("declineWith")
        if decline is None and pm["type"] == "CreditCard":
            decline = DECLINE_CARDS.get(pm["cardNumber"][-4:])
            if (pm["expirationYear"], pm["expirationMonth"]) < (tenant.today.year, tenant.today.month):
                decline = ("54", "Expired card")
    payment = record_payment(tenant, account, applications, amount, day, kind, pm_id if kind == "Electronic" else None,
                             decline=decline, comment=body.get("comment"))
    if decline:
        # Zuora records the failed payment and answers with a 4xx "payment attempt failed" error
        # (developer guide, "Error codes"); the exact reason code is an assumption.
        raise SandboxError(30, f"Transaction declined.{decline[0]} - {decline[1]}", resource=570101)
    return Reply({**render.v1_payment(payment), "success": True})


# -- payment schedules ---------------------------------------------------------------------------------


def _schedule_body(schedule: dict[str, Any]) -> dict[str, Any]:
    return render.v1(schedule)


@route("POST", "/v1/payment-schedules")
def create_schedule(call: Call) -> Reply:
    tenant, body = call.tenant, call.json()
    account = _account_of(call, body)
    documents = body.get("billingDocuments") or ([body["billingDocument"]] if body.get("billingDocument") else [])
    invoices = []
    for doc in documents:
        if doc.get("type", "Invoice") != "Invoice":
            raise SandboxError(20, "Only Invoice billing documents are supported", resource=640101)
        invoice = must_find(call, "invoices", str(doc.get("id") or doc.get("number")))
        if invoice["accountId"] != account["id"]:
            raise SandboxError(30, f"Invoice {invoice['invoiceNumber']} belongs to another account.", resource=640101)
        invoices.append(invoice)
    raw_items = body.get("items")
    if raw_items:
        items = [(date.fromisoformat(str(i.get("scheduledDate"))), _money(i.get("amount"), "items.amount", 640101))
                 for i in raw_items]
    else:
        occurrences = int(body.get("occurrences") or 0)
        if occurrences < 1 or not body.get("startDate") or body.get("period") not in ("Monthly", "Weekly", "BiWeekly"):
            raise SandboxError(22, "A schedule needs items[], or startDate, period and occurrences", resource=640101)
        from bot.sandbox.billing import add_months

        start = date.fromisoformat(str(body["startDate"]))
        if body.get("totalAmount") is not None:
            total = _money(body["totalAmount"], "totalAmount", 640101)
            each = (total / occurrences).quantize(Decimal("0.01"))
            amounts = [each] * (occurrences - 1) + [total - each * (occurrences - 1)]
        else:
            amounts = [_money(body.get("amount"), "amount", 640101)] * occurrences
        step = {"Weekly": 7, "BiWeekly": 14}.get(body["period"])
        dates = [start.fromordinal(start.toordinal() + step * n) if step else
                 add_months(start, n).replace(day=min(start.day, 28)) for n in range(occurrences)]
        items = list(zip(dates, amounts, strict=True))
    if any(day < tenant.today for day, _ in items):
        raise SandboxError(30, "Scheduled dates cannot be in the past.", resource=640101)
    total = sum((a for _, a in items), Decimal(0))
    if invoices and total > sum((i["balance"] for i in invoices), Decimal(0)):
        raise SandboxError(30, "The total amount of the schedule exceeds the balance of its billing documents.",
                           resource=640101)
    now = tenant.now()
    schedule_id = tenant.new_id("paymentschedule")
    number = tenant.next_number("paymentschedule", "PS-{:08d}")
    docs = [{"id": i["id"], "number": i["invoiceNumber"], "type": "Invoice"} for i in invoices]
    schedule = tenant.add("payment_schedules", {
        "id": schedule_id, "paymentScheduleNumber": number, "accountId": account["id"],
        "accountNumber": account["accountNumber"], "status": "Active", "isCustom": bool(raw_items),
        "period": None if raw_items else body.get("period"), "occurrences": len(items),
        "startDate": items[0][0].isoformat(), "nextPaymentDate": items[0][0].isoformat(), "recentPaymentDate": None,
        "totalAmount": total, "totalPaymentsProcessed": 0, "totalPaymentsErrored": 0, "runHour": 0,
        "standalone": False, "prepayment": False, "description": body.get("description"),
        "billingDocument": docs[0] if len(docs) == 1 else None, "billingDocuments": docs,
        "createdDate": now, "updatedDate": now,
        "items": [{"id": tenant.new_id("psi"), "number": n, "scheduledDate": day.isoformat(), "amount": amount,
                   "balance": amount, "currency": account["currency"], "status": "Pending",
                   "paymentMethodId": body.get("paymentMethodId") or account["defaultPaymentMethodId"],
                   "runHour": 0, "paymentScheduleId": schedule_id, "paymentScheduleNumber": number,
                   "accountId": account["id"], "billingDocument": docs[0] if len(docs) == 1 else None,
                   "createdDate": now, "updatedDate": now, "psiPayments": []}
                  for n, (day, amount) in enumerate(items, start=1)],
    }, "paymentScheduleNumber")
    return Reply({**_schedule_body(schedule), "success": True})


@route("GET", "/v1/payment-schedules/{key}")
def get_schedule(call: Call) -> Reply:
    return Reply({**_schedule_body(must_find(call, "payment_schedules", call.args["key"])), "success": True})


@route("GET", "/v1/payment-schedules")
def list_schedules(call: Call) -> Reply:
    account_id, number = call.param("accountId"), call.param("accountNumber")
    if not (account_id or number):
        raise SandboxError(23, "accountId or accountNumber is required")
    rows = [s for s in call.tenant.payment_schedules.values()
            if (account_id and s["accountId"] == account_id) or (number and s["accountNumber"] == number)]
    return Reply([_schedule_body(s) for s in rows])


@route("PUT", "/v1/payment-schedules/{key}/cancel")
def cancel_schedule(call: Call) -> Reply:
    schedule = must_find(call, "payment_schedules", call.args["key"])
    body = call.json()
    if schedule["status"] != "Active":
        raise SandboxError(30, f"Payment schedule {schedule['paymentScheduleNumber']} is {schedule['status']}.")
    try:
        cancel_date = date.fromisoformat(str(body.get("cancelDate")))
    except ValueError:
        raise SandboxError(22, "'cancelDate' is required (yyyy-mm-dd)") from None
    for item in schedule["items"]:
        if item["status"] == "Pending" and item["scheduledDate"] >= cancel_date.isoformat():
            item["status"] = "Canceled"
    schedule.update(status="Canceled", cancelDate=cancel_date.isoformat(), cancelledOn=call.tenant.now(),
                    updatedDate=call.tenant.now())
    return Reply({**_schedule_body(schedule), "success": True})
