"""Invoices: v1 reads, Object Query reads, items, usage rate detail, write-off and email."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.sandbox import render
from bot.sandbox.errors import SandboxError
from bot.sandbox.query import cache_of, page, parse_query
from bot.sandbox.routes.common import lower_fields, must_find, v1_page
from bot.sandbox.routes.memos import create_memo
from bot.sandbox.routing import Call, Reply, route

INVOICE_FILTERS = ("id", "updateddate", "accountid", "amount", "balance", "duedate", "invoicedate", "invoicenumber",
                   "reversed", "sourceid", "sourcetype", "status", "einvoicestatus")
INVOICE_EXPANDS = ("invoiceitems", "account", "billtocontact")
ITEM_FILTERS = ("id", "updateddate", "rateplanchargeid", "invoiceid", "accountingcode", "chargedate", "chargenumber",
                "excludeitembillingfromrevenueaccounting", "fulfillmentid", "servicestartdate", "sourceitemtype",
                "subscriptionid", "subscriptionnumber", "productrateplanchargeid", "bookingreference")
_ITEM_FIELD = {"rateplanchargeid": "chargeId", "subscriptionnumber": "subscriptionName"}


def _items(call: Call, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [call.tenant.items[i] for i in call.tenant.items_of[invoice["id"]]]


@route("GET", "/v1/invoices/{key}")
def get_invoice(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    return Reply({**render.v1_invoice(invoice), "success": True})


@route("GET", "/v1/invoices/{key}/items")
def invoice_items(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    return Reply(v1_page(call, [render.v1_item(i) for i in _items(call, invoice)], "invoiceItems"))


@route("GET", "/v1/invoices/invoice-item/{item_id}/usage-rate-detail")
def usage_rate_detail(call: Call) -> Reply:
    item = call.tenant.items.get(call.args["item_id"])
    if item is None:
        raise SandboxError(40, f"Cannot find a InvoiceItem instance with id {call.args['item_id']}.")
    if item["chargeType"] != "Usage":
        raise SandboxError(30, "Usage rate detail is only available for usage invoice items.")
    invoice = call.tenant.invoices[item["invoiceId"]]
    sub = call.tenant.subscriptions[item["subscriptionId"]]
    charge = next(c for rp in sub["ratePlans"] for c in rp["charges"] if c.number == item["chargeNumber"])
    qty, included, price = item["quantity"], charge.included_units, item["unitPrice"]
    over = max(Decimal(0), qty - included)
    detail = (f"{qty:,} {item['unitOfMeasure']}s used, {included:,} included; "
              f"{over:,} x {price} = {item['chargeAmount']}")
    return Reply({"data": {
        "invoiceItemId": item["id"], "invoiceId": invoice["id"], "invoiceNumber": invoice["invoiceNumber"],
        "chargeNumber": item["chargeNumber"], "listPrice": str(price), "quantity": str(qty),
        "uom": item["unitOfMeasure"], "rateDetail": detail, "amountWithoutTax": item["chargeAmount"],
        "servicePeriod": f"{item['serviceStartDate']:%m/%d/%Y} - {item['serviceEndDate']:%m/%d/%Y}",
    }, "success": True})


def _oq_invoice(call: Call, invoice: dict[str, Any], expand: list[str], limit: int) -> dict[str, Any]:
    out = render.oq_invoice(invoice)
    if "invoiceitems" in expand:
        out["invoiceItems"] = [render.oq_item(i) for i in _items(call, invoice)][:limit]
    if "account" in expand:
        account = call.tenant.accounts[invoice["accountId"]]
        out["account"] = {"id": account["id"], "accountNumber": account["accountNumber"], "name": account["name"],
                          "currency": account["currency"], "status": account["status"]}
    return out


@route("GET", "/object-query/invoices")
def query_invoices(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=INVOICE_FILTERS, expandable=INVOICE_EXPANDS)
    return Reply(page(call.tenant.invoices.values(), spec, lower_fields,
                      lambda inv: _oq_invoice(call, inv, spec.expand, spec.page_size),
                      cache=cache_of(call.tenant, "invoices")))


@route("GET", "/object-query/invoices/{key}")
def query_invoice(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=INVOICE_FILTERS, expandable=INVOICE_EXPANDS)
    invoice = must_find(call, "invoices", call.args["key"])
    return Reply(_oq_invoice(call, invoice, spec.expand, 99))


def _item_field(item: dict[str, Any], name: str) -> Any:
    return item.get(_ITEM_FIELD[name]) if name in _ITEM_FIELD else lower_fields(item, name)


@route("GET", "/object-query/invoice-items")
def query_items(call: Call) -> Reply:
    spec = parse_query(call.params, filterable=ITEM_FILTERS, filter_required=True)
    return Reply(page(call.tenant.items.values(), spec, _item_field, render.oq_item,
                      cache=cache_of(call.tenant, "items")))


@route("PUT", "/v1/invoices/{key}/write-off")
def write_off(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    body = call.json()
    if invoice["status"] != "Posted":
        raise SandboxError(30, "Only posted invoices can be written off.")
    if invoice["balance"] <= 0:
        raise SandboxError(30, f"The balance of invoice {invoice['invoiceNumber']} is zero; nothing to write off.")
    items = [{"invoiceItemId": i["id"], "amount": i["balance"] + i["taxBalance"]} for i in _items(call, invoice)
             if i["balance"] + i["taxBalance"] > 0]
    memo = create_memo(call, invoice, items, reason_code=str(body.get("reasonCode") or "Write-off"),
                       comment=body.get("comment"), auto_post=True, auto_apply=True, write_off=True)
    return Reply({"creditMemo": {"id": memo["id"]}, "success": True})


@route("POST", "/v1/invoices/{key}/emails")
def email_invoice(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    body = call.json()
    if invoice["status"] != "Posted":
        raise SandboxError(30, "Only posted invoices can be emailed.")
    account = call.tenant.accounts[invoice["accountId"]]
    addresses = str(body.get("emailAddresses") or "")
    if body.get("useEmailTemplateSetting") or not addresses:
        contact = account["billToContact"]
        addresses = contact.get("workEmail") or contact.get("personalEmail") or ""
    if not addresses:
        raise SandboxError(30, "The bill-to contact has no email address.")
    call.tenant.emails.append({"invoiceId": invoice["id"], "to": addresses.split(","), "at": call.tenant.now()})
    invoice["lastEmailSentDate"] = call.tenant.now()
    return Reply({"success": True})


_NOTE_FIELDS = {"comments", "dueDate", "invoiceDate", "transferredToAccounting", "autoPay", "templateId",
                "invoiceItems", "IntegrationId__NS", "IntegrationStatus__NS", "SyncDate__NS"}
_POSTED_FIELDS = {"comments", "transferredToAccounting", "autoPay", "templateId"}
"""What a posted invoice still takes besides custom fields (zuora-api-2.md §22; `comments` is an assumption)."""
LONG_TEXT = 8192


@route("PUT", "/v1/invoices/{key}")
def update_invoice(call: Call) -> Reply:
    """`UpdateInvoiceRequest`: the §22 Draft/Posted matrix; custom fields (`X__c`) on both, Long Text ≤ 8,192."""
    invoice = must_find(call, "invoices", call.args["key"])
    body = call.json()
    if not isinstance(body, dict) or not body:
        raise SandboxError(21, "The request body must be a JSON object with at least one field.")
    unknown = [k for k in body if k not in _NOTE_FIELDS and not k.endswith("__c")]
    if unknown:
        raise SandboxError(21, f"Unknown field '{unknown[0]}' in the request", resource=500101)
    if invoice["status"] not in ("Draft", "Posted"):
        raise SandboxError(30, f"Invoice {invoice['invoiceNumber']} is {invoice['status']}; it cannot be updated.")
    if invoice["status"] == "Posted":
        refused = [k for k in body if k not in _POSTED_FIELDS and not k.endswith("__c")]
        if refused:
            raise SandboxError(30, f"The field '{refused[0]}' cannot be updated on a posted invoice.")
    if "dueDate" in body and "invoiceDate" in body:
        raise SandboxError(30, "dueDate and invoiceDate cannot be updated in the same request.")
    comments = body.get("comments")
    if comments is not None and (not isinstance(comments, str) or len(comments) > 255):
        raise SandboxError(30, "The length of field 'comments' must be no more than 255 characters.")
    for key, value in body.items():
        if key.endswith("__c") and value is not None and (not isinstance(value, str) or len(value) > LONG_TEXT):
            raise SandboxError(30, f"The value of custom field '{key}' must be text of at most {LONG_TEXT} characters.")
    for key, value in body.items():
        if key == "invoiceItems":
            continue  # item edits on draft standalone invoices are not emulated; accepted and ignored
        invoice[key] = value
    invoice["updatedDate"] = call.tenant.now()
    rendered = render.v1_invoice(invoice)
    answer = {k: rendered[k] for k in ("id", "accountId", "amount", "balance", "currency", "dueDate", "invoiceDate",
                                       "status", "targetDate", "taxAmount", "updatedDate") if k in rendered}
    answer.update({"number": invoice["invoiceNumber"], "comment": invoice.get("comments"), "success": True})
    answer.update({k: v for k, v in rendered.items() if k.endswith("__c")})
    return Reply(answer)


NOTE_WORKFLOW_ID = "1001"
"""The sandbox's one workflow: "Customer note email" (a Notifications: Email task on `Subject`/`BodyHtml`)."""
_RESERVED = {"controller", "action", "id", "user_email", "user_token", "format"}


@route("POST", "/workflows/{workflow_id}/run")
def run_workflow(call: Call) -> Reply:
    """`POST /workflows/{id}/run` (zuora-api-2.md §23): a `WorkflowInstance`; the email lands in the history."""
    if call.args["workflow_id"] != NOTE_WORKFLOW_ID:
        raise SandboxError(40, f"Workflow {call.args['workflow_id'][:20]} was not found.", status=404)
    body = call.json()
    if not isinstance(body, dict):
        raise SandboxError(21, "The request body must be a JSON object of workflow parameters.")
    reserved = sorted(_RESERVED & set(body))
    if reserved:
        raise SandboxError(21, f"'{reserved[0]}' is a reserved parameter name.")
    account = call.tenant.accounts.get(str(body.get("AccountId") or ""))
    if account is None:
        raise SandboxError(40, "The workflow's AccountId is not an account of this tenant.")
    contact = account["billToContact"]
    to = contact.get("workEmail") or contact.get("personalEmail")
    if not to:
        raise SandboxError(30, "The bill-to contact has no email address.")
    run_id = 50000 + len(call.tenant.emails)
    now = call.tenant.now()
    call.tenant.emails.append({"workflowRun": run_id, "accountId": account["id"], "to": [to],
                               "subject": str(body.get("Subject") or ""), "bodyHtml": str(body.get("BodyHtml") or ""),
                               "at": now})
    stamp = render.iso(now)
    return Reply({"id": run_id, "name": f"WF-{NOTE_WORKFLOW_ID}-{run_id}", "originalWorkflowId": int(NOTE_WORKFLOW_ID),
                  "status": "Queued", "createdAt": stamp, "updatedAt": stamp})
