"""Invoice schedules and API-created bill runs in the sandbox (zuora-api-2.md §20–21): the schedule
records and their seed, executing an item (which creates an ad hoc bill run), the bill-run state
machine, Draft invoices from the billing engine, and posting or cancelling them.

The sandbox's clock for bill runs: a run created through the API moves one state each time it is
read (`GET /v1/bill-runs/{id}`): Pending → Processing → Completed (or Error). That is deterministic
and needs no wall-clock waits, and a reader that polls sees every state. `tenant.bill_run_error`
(a message) makes the next run that processes end in Error with that message.

    SandboxError   Zuora's business errors (a paused schedule, an item that is not the earliest
                   pending one, filters with numbers instead of ids, a post of a non-Draft invoice…)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.sandbox.billing import Line, add_months, lines_for_month
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import Tenant, money

__all__ = ["advance", "cancel_bill_run", "create_bill_run", "create_schedule", "execute", "post_invoice",
           "schedule_body", "seed_schedules"]

Record = dict[str, Any]
_FILTER_TYPES = ("Account", "Subscription", "InvoiceSchedule", "BillRunErrors", "FilterCondition")


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


# -- seed ------------------------------------------------------------------------------------------

def seed_schedules(tenant: Tenant) -> None:
    """Add three invoice schedules (nothing existing changes):

    IS-00000001  A00000010  12,000 USD in three items: one overdue (run date 20 days ago), one in
                 15 days, one without a run date (never runs by itself)
    IS-00000002  A00000007  Paused (cannot be executed)
    IS-00000003  A00000010  6,000 USD: items due 40 and 5 days ago and one in 30 days
    """
    today = tenant.today
    plans = [("A00000010", "Pending", "Relay Enterprise rollout", [
        ("Kick-off", Decimal(40), today - timedelta(days=20)), ("Go-live", Decimal(40), today + timedelta(days=15)),
        ("Acceptance", Decimal(20), None)], Decimal("12000.00")),
        ("A00000007", "Paused", "Logistics onboarding", [
            ("Phase 1", Decimal(50), today - timedelta(days=10)), ("Phase 2", Decimal(50), today + timedelta(days=20))],
         Decimal("6000.00")),
        ("A00000010", "Pending", "Professional services", [
            ("Deposit", None, today - timedelta(days=40)), ("Milestone 2", None, today - timedelta(days=5)),
            ("Handover", None, today + timedelta(days=30))], Decimal("6000.00"))]
    for number, status, notes, items, total in plans:
        account = tenant.find("accounts", number)
        if account is None:
            continue
        subs = [s for s in tenant.subscriptions.values() if s.get("accountId") == account["id"]]
        orders = [o["orderNumber"] for o in tenant.orders.values()
                  if subs and o.get("subscriptionNumber") == subs[0]["subscriptionNumber"]][:1]
        schedule_id = tenant.new_id("invoiceschedule")
        rows = []
        for name, percentage, run_date in items:
            amount = money(total * percentage / 100) if percentage is not None else money(total / len(items))
            rows.append({"id": tenant.new_id("invoicescheduleitem"), "name": name, "amount": amount,
                         "percentage": percentage, "actualAmount": amount, "runDate": run_date, "status": "Pending",
                         "invoiceId": None, "creditMemoId": None, "targetDateForAdditionalSubscriptions": None})
        created = datetime(today.year, today.month, 1, 9) - timedelta(days=60)
        tenant.add("invoice_schedules", {
            "id": schedule_id, "number": tenant.next_number("invoiceschedule", "IS-{:08d}"),
            "accountId": account["id"], "currency": account["currency"], "orders": orders, "notes": notes,
            "status": status, "totalAmount": total, "actualAmount": total, "billedAmount": Decimal("0.00"),
            "unbilledAmount": total, "invoiceSeparately": False, "scheduleItems": rows,
            "specificSubscriptions": [{"orderKey": orders[0], "subscriptionKey": subs[0]["subscriptionNumber"]}]
            if orders and subs else [], "createdDate": created, "updatedDate": created}, "number")
        _refresh(tenant.invoice_schedules[schedule_id])


def create_schedule(tenant: Tenant, body: Record) -> Record:
    """`POST /v1/invoice-schedules`: items with an amount or a percentage, run dates in order, and after a blank
    run date only blank ones (such items never run by themselves)."""
    account = tenant.find("accounts", str(body.get("accountKey") or ""))
    if account is None:
        raise SandboxError(20, "accountKey is required and must name an existing account.")
    orders = body.get("orders")
    if not isinstance(orders, list) or not orders or not 1 <= len(orders) <= 10:
        raise SandboxError(20, "orders is required (1 to 10 order numbers or ids).")
    for key in orders:
        order = tenant.find("orders", str(key))
        if order is None:
            raise SandboxError(20, f"Invalid order {key!r}.")
    raw = body.get("scheduleItems")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 50:
        raise SandboxError(20, "scheduleItems must have 1 to 50 items.")
    total = Decimal(str(body.get("totalAmount") or 0))
    rows, last, blank = [], None, False
    for n, item in enumerate(raw, start=1):
        if not isinstance(item, dict) or (item.get("amount") is None) == (item.get("percentage") is None):
            raise SandboxError(20, f"Schedule item {n}: give either amount or percentage.")
        try:
            run_date = date.fromisoformat(str(item["runDate"])) if item.get("runDate") else None
        except ValueError:
            raise SandboxError(20, f"Schedule item {n}: runDate must be yyyy-mm-dd.") from None
        if run_date is None:
            blank = True
        elif blank or (last is not None and run_date < last):
            raise SandboxError(20, "Run dates must be chronological, and items after a blank run date must be "
                                   "blank too.")
        last = run_date or last
        percentage = Decimal(str(item["percentage"])) if item.get("percentage") is not None else None
        amount = money(Decimal(str(item["amount"]))) if item.get("amount") is not None else None
        rows.append({"id": tenant.new_id("invoicescheduleitem"), "name": str(item.get("name") or f"Item {n}")[:100],
                     "amount": amount, "percentage": percentage, "actualAmount": amount, "runDate": run_date,
                     "status": "Pending", "invoiceId": None, "creditMemoId": None,
                     "targetDateForAdditionalSubscriptions": None})
    if any(r["percentage"] is not None for r in rows):
        if total <= 0:
            raise SandboxError(20, "Percentage items need the order amount (totalAmount) in the sandbox.")
        if sum((r["percentage"] or Decimal(0) for r in rows), Decimal(0)) > 100:
            raise SandboxError(20, "The percentages add up to more than 100.")
        for r in rows:
            if r["percentage"] is not None:
                r["amount"] = r["actualAmount"] = money(total * r["percentage"] / 100)
    total = total or sum((r["amount"] for r in rows), Decimal(0))
    now = tenant.now()
    schedule = tenant.add("invoice_schedules", {
        "id": tenant.new_id("invoiceschedule"), "number": tenant.next_number("invoiceschedule", "IS-{:08d}"),
        "accountId": account["id"], "currency": account["currency"], "orders": [str(o) for o in orders],
        "notes": str(body.get("notes") or "")[:255], "status": "Pending", "totalAmount": money(total),
        "actualAmount": money(total), "billedAmount": Decimal("0.00"), "unbilledAmount": money(total),
        "invoiceSeparately": bool(body.get("invoiceSeparately")), "scheduleItems": rows, "specificSubscriptions": [],
        "createdDate": now, "updatedDate": now}, "number")
    _refresh(schedule)
    return schedule


def _refresh(schedule: Record) -> None:
    items = schedule["scheduleItems"]
    billed = sum((i["amount"] for i in items if i["status"] == "Processed"), Decimal(0))
    schedule["billedAmount"] = money(billed)
    schedule["unbilledAmount"] = money(schedule["actualAmount"] - billed)
    pending = [i for i in items if i["status"] == "Pending"]
    schedule["nextRunDate"] = pending[0]["runDate"] if pending else None
    if schedule["status"] != "Paused":
        done = sum(i["status"] == "Processed" for i in items)
        schedule["status"] = "FullyProcessed" if done == len(items) else "PartiallyProcessed" if done else "Pending"


def schedule_body(schedule: Record) -> Record:
    """`InvoiceScheduleResponse` fields (plus `currency`, as in Zuora's docs sample; the SDK lacks it)."""
    return {k: v for k, v in schedule.items() if k not in ("createdDate", "updatedDate")}


# -- bill runs -------------------------------------------------------------------------------------

def _new_run(tenant: Tenant, *, name: str, filters: list[Record], target: date, invoice_date: date,
             auto_post: bool, exclude: list[str], job: Record) -> Record:
    now = tenant.now()
    number = f"BR-{len(tenant.bill_runs) + 1:08d}"
    run = tenant.add("bill_runs", {
        "id": tenant.new_id("billrun"), "billRunNumber": number, "name": name, "status": "Pending",
        "targetDate": target, "invoiceDate": invoice_date, "batches": [], "billCycleDay": "",
        "billRunFilters": filters, "chargeTypeToExclude": exclude, "autoPost": auto_post, "autoEmail": False,
        "autoRenewal": False, "noEmailForZeroAmountInvoice": True, "createdDate": now, "updatedDate": now,
        "executedDate": now, "startDate": now, "endDate": now, "totalTime": 0, "numberOfInvoices": 0,
        "numberOfAccounts": 0, "numberOfCreditMemos": 0, "errorMessage": None}, "billRunNumber")
    tenant.bill_run_jobs[run["id"]] = job
    return run


def create_bill_run(tenant: Tenant, body: Record) -> Record:
    """`POST /v1/bill-runs` for ad hoc runs with filters (account, subscription, invoice schedule)."""
    filters = body.get("billRunFilters")
    if body.get("batches"):
        raise SandboxError(20, "Scheduled batch bill runs are not supported by the sandbox; use billRunFilters.")
    if not isinstance(filters, list) or not filters:
        raise SandboxError(20, "billRunFilters is required for an ad hoc bill run.")
    if not body.get("targetDate"):
        raise SandboxError(20, "targetDate is required when creating an ad hoc bill run.")
    try:
        target = date.fromisoformat(str(body["targetDate"]))
        invoice_date = date.fromisoformat(str(body.get("invoiceDate") or tenant.today.isoformat()))
    except ValueError:
        raise SandboxError(20, "targetDate and invoiceDate must be yyyy-mm-dd.") from None
    accounts, schedule, item_id = set(), None, None
    for f in filters:
        kind = f.get("filterType") if isinstance(f, dict) else None
        if kind not in _FILTER_TYPES:
            raise SandboxError(20, f"Invalid filterType {kind!r}.")
        if kind not in ("Account", "InvoiceSchedule"):
            raise SandboxError(20, f"filterType {kind} is not supported by the sandbox.")
        account_id = f.get("accountId")
        if not _is_id(account_id) or account_id not in tenant.accounts:
            raise SandboxError(20, f"Invalid accountId {account_id!r}: bill run filters take account IDs.")
        accounts.add(account_id)
        if kind == "InvoiceSchedule":
            schedule = tenant.invoice_schedules.get(str(f.get("invoiceScheduleId")))
            if schedule is None or schedule["accountId"] != account_id:
                raise SandboxError(20, f"Invalid invoiceScheduleId {f.get('invoiceScheduleId')!r}.")
            if schedule["status"] == "Paused":
                raise SandboxError(30, f"Invoice schedule {schedule['number']} is paused; it cannot be billed.")
            item_id = f.get("invoiceScheduleItemId")
    exclude = [str(c) for c in body.get("chargeTypeToExclude") or []]
    if schedule is not None:
        items = [i for i in schedule["scheduleItems"] if i["status"] == "Pending" and (
            i["id"] == item_id if item_id else i["runDate"] is not None and i["runDate"] <= target)]
        if not items:
            raise SandboxError(30, f"Invoice schedule {schedule['number']} has no pending item to bill "
                                   f"up to {target}.")
        return _start_schedule(tenant, schedule, items, target, invoice_date, bool(body.get("autoPost")),
                               str(body.get("name") or f"Invoice schedule {schedule['number']}"))
    return _new_run(tenant, name=str(body.get("name") or "Ad hoc bill run"), filters=filters, target=target,
                    invoice_date=invoice_date, auto_post=bool(body.get("autoPost")), exclude=exclude,
                    job={"kind": "accounts", "accounts": sorted(accounts)})


def execute(tenant: Tenant, schedule: Record, body: Record) -> Record:
    """`POST /v1/invoice-schedules/{key}/execute`: run one item (the earliest pending) as an ad hoc bill run."""
    if schedule["status"] == "Paused":
        raise SandboxError(30, f"Invoice schedule {schedule['number']} is paused; resume it before executing.")
    pending = [i for i in schedule["scheduleItems"] if i["status"] == "Pending"]
    if any(i["status"] == "Executing" for i in schedule["scheduleItems"]):
        raise SandboxError(50, f"Invoice schedule {schedule['number']} is already executing an item.")
    if not pending:
        raise SandboxError(30, f"Invoice schedule {schedule['number']} has no pending schedule item.")
    wanted = body.get("scheduleItemId")
    if wanted:
        item = next((i for i in schedule["scheduleItems"] if i["id"] == wanted), None)
        if item is None:
            raise SandboxError(40, f"Cannot find schedule item {wanted} in {schedule['number']}.")
        if item["status"] != "Pending":
            raise SandboxError(30, f"Schedule item {item['name']} is {item['status']}; only pending items run.")
        if item is not pending[0]:
            raise SandboxError(30, "The schedule item must be the earliest pending schedule item.")
    target = pending[0]["runDate"] or tenant.today
    return _start_schedule(tenant, schedule, [pending[0]], max(target, tenant.today), tenant.today, False,
                           f"Invoice schedule {schedule['number']}")


def _start_schedule(tenant: Tenant, schedule: Record, items: list[Record], target: date, invoice_date: date,
                    auto_post: bool, name: str) -> Record:
    filters = [{"filterType": "InvoiceSchedule", "accountId": schedule["accountId"],
                "invoiceScheduleId": schedule["id"], **({"invoiceScheduleItemId": items[0]["id"]}
                                                        if len(items) == 1 else {})}]
    for item in items:
        item["status"] = "Executing"
    schedule["updatedDate"] = tenant.now()
    return _new_run(tenant, name=name, filters=filters, target=target, invoice_date=invoice_date,
                    auto_post=auto_post, exclude=["Usage"],
                    job={"kind": "schedule", "schedule": schedule["id"], "items": [i["id"] for i in items]})


def advance(tenant: Tenant, run: Record) -> None:
    """One tick of an API-created run (called on each read): Pending → Processing → Completed | Error."""
    job = tenant.bill_run_jobs.get(run["id"])
    if job is None:
        return
    if run["status"] == "Pending":
        run["status"] = "Processing"
    elif run["status"] == "Processing":
        error = tenant.bill_run_error
        if error:
            tenant.bill_run_error = None
            run.update(status="Error", errorMessage=error)
            if job["kind"] == "schedule":
                for item in _job_items(tenant, job):
                    item["status"] = "Pending"
        else:
            invoices = _bill(tenant, run, job)
            run.update(status="Completed", numberOfInvoices=len(invoices),
                       numberOfAccounts=len({i["accountId"] for i in invoices}))
            if run["autoPost"]:
                for invoice in invoices:
                    post_invoice(tenant, invoice, None)
                run["status"] = "Posted"
    else:
        return
    run["updatedDate"] = run["endDate"] = tenant.now()


def _job_items(tenant: Tenant, job: Record) -> list[Record]:
    schedule = tenant.invoice_schedules[job["schedule"]]
    return [i for i in schedule["scheduleItems"] if i["id"] in job["items"]]


def _bill(tenant: Tenant, run: Record, job: Record) -> list[Record]:
    from bot.sandbox.history import add_item

    out = []
    if job["kind"] == "schedule":
        schedule = tenant.invoice_schedules[job["schedule"]]
        account = tenant.accounts[schedule["accountId"]]
        for item in _job_items(tenant, job):
            invoice = _draft(tenant, account, run, item["amount"], Decimal(0), "InvoiceSchedule")
            _schedule_line(tenant, invoice, account, item)
            item.update(status="Processed", invoiceId=invoice["id"])
            out.append(invoice)
        schedule["updatedDate"] = tenant.now()
        _refresh(schedule)
        return out
    for account_id in job["accounts"]:
        account = tenant.accounts[account_id]
        mine = [tenant.invoices[i] for i in tenant.invoices_of[account_id]]
        billed = [i["targetDate"] for i in mine if i.get("sourceType") == "Subscription" and i["status"] != "Canceled"]
        month = add_months(max(billed), 1) if billed else run["targetDate"].replace(day=1)
        while month <= run["targetDate"]:
            for sub in (s for s in tenant.subscriptions.values() if s.get("accountId") == account_id):
                charges = [c for rp in sub["ratePlans"] for c in rp["charges"]
                           if c.charge_type not in run["chargeTypeToExclude"]]
                lines: list[Line] = lines_for_month(charges, month, account["taxRate"])
                if not lines:
                    continue
                subtotal = sum((ln.amount for ln in lines), Decimal(0))
                tax = sum((ln.tax for ln in lines), Decimal(0))
                invoice = _draft(tenant, account, run, subtotal, tax, "Subscription", target=month)
                ids = {id(ln): tenant.new_id("item") for ln in lines}
                for ln in lines:
                    add_item(tenant, invoice, sub, ln, ids, account, invoice["createdDate"])
                out.append(invoice)
            month = add_months(month, 1)
    return out


def _draft(tenant: Tenant, account: Record, run: Record, subtotal: Decimal, tax: Decimal, source_type: str, *,
           target: date | None = None) -> Record:
    now = tenant.now()
    invoice_date = run["invoiceDate"]
    invoice = tenant.add("invoices", {
        "id": tenant.new_id("invoice"), "invoiceNumber": _next_invoice_number(tenant),
        "accountId": account["id"], "amount": subtotal + tax, "amountWithoutTax": subtotal, "taxAmount": tax,
        "balance": subtotal + tax, "paymentAmount": Decimal(0), "creditMemoAmount": Decimal(0),
        "adjustmentAmount": Decimal(0), "refundAmount": Decimal(0), "currency": account["currency"],
        "invoiceDate": invoice_date, "dueDate": invoice_date + timedelta(days=30),
        "targetDate": target or run["targetDate"], "postedDate": None, "status": "Draft", "source": "BillRun",
        "sourceId": run["billRunNumber"], "sourceType": source_type, "billRunId": run["id"],
        "autoPay": account["autoPay"], "paymentTerm": "Net 30", "includesOneTime": source_type != "Subscription",
        "includesRecurring": source_type == "Subscription", "includesUsage": False, "createdDate": now,
        "updatedDate": now, "postedBy": None}, "invoiceNumber")
    tenant.invoices_of[account["id"]].append(invoice["id"])
    return invoice


def _next_invoice_number(tenant: Tenant) -> str:
    while True:
        number = tenant.next_number("invoice", "INV{:08d}")
        if tenant.find("invoices", number) is None:
            return number


def _schedule_line(tenant: Tenant, invoice: Record, account: Record, item: Record) -> None:
    sub = next((s for s in tenant.subscriptions.values() if s.get("accountId") == account["id"]), None)
    item_id = tenant.new_id("item")
    now = invoice["createdDate"]
    tenant.items[item_id] = {
        "id": item_id, "invoiceId": invoice["id"], "chargeId": tenant.new_id("charge"), "chargeNumber": "",
        "chargeName": item["name"], "chargeDescription": f"Invoice schedule item {item['name']}",
        "description": f"Invoice schedule item {item['name']}", "chargeType": "OneTime", "chargeDate": now,
        "chargeAmount": item["amount"], "taxAmount": Decimal(0), "balance": item["amount"], "taxBalance": Decimal(0),
        "quantity": Decimal(1), "unitPrice": item["amount"], "unitOfMeasure": "",
        "serviceStartDate": invoice["invoiceDate"], "serviceEndDate": invoice["invoiceDate"],
        "processingType": "Charge", "appliedToItemId": None,
        "subscriptionId": sub["id"] if sub else None, "subscriptionName": sub["subscriptionNumber"] if sub else None,
        "productName": "Relay Platform", "productRatePlanChargeId": "", "sku": "",
        "sourceItemType": "SubscriptionComponent", "taxMode": "TaxExclusive", "taxCode": "",
        "availableToCreditAmount": item["amount"],
        "ratePlanName": "Invoice schedule", "taxationItems": [], "accountId": account["id"], "updatedDate": now}
    tenant.items_of[invoice["id"]].append(item_id)


def post_invoice(tenant: Tenant, invoice: Record, invoice_date: date | None) -> None:
    """`PUT /v1/invoices/{key}/post`: Draft → Posted (the balance then counts for the account)."""
    if invoice["status"] != "Draft":
        raise SandboxError(30, f"Only invoices in Draft status can be posted; {invoice['invoiceNumber']} is "
                               f"{invoice['status']}.")
    if invoice_date is not None:
        invoice["invoiceDate"] = invoice_date
        invoice["dueDate"] = invoice_date + timedelta(days=30)
    invoice.update(status="Posted", postedDate=tenant.today, postedBy="billing-copilot", updatedDate=tenant.now())


def cancel_bill_run(tenant: Tenant, run: Record) -> None:
    """`PUT /v1/bill-runs/{id}/cancel`: only Pending or Completed; Draft invoices are canceled and their
    schedule items return to Pending."""
    if run["status"] not in ("Pending", "Completed"):
        raise SandboxError(30, f"Bill run {run['billRunNumber']} is {run['status']}; only Pending or Completed "
                               f"bill runs can be canceled.")
    job = tenant.bill_run_jobs.get(run["id"])
    for invoice in (i for i in tenant.invoices.values() if i.get("billRunId") == run["id"]):
        if invoice["status"] == "Draft":
            invoice.update(status="Canceled", updatedDate=tenant.now())
    if job is not None and job["kind"] == "schedule":
        for item in _job_items(tenant, job):
            item.update(status="Pending", invoiceId=None)
        _refresh(tenant.invoice_schedules[job["schedule"]])
    run.update(status="Canceled", updatedDate=tenant.now())
