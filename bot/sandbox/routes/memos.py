"""Credit memos: create from an invoice (with auto-post and auto-apply), post, apply, read, list.

Both spellings of the paths are served: `credit-memos` and the legacy `creditmemos`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sandbox import render
from bot.sandbox.errors import SandboxError
from bot.sandbox.routes.common import must_find, v1_page
from bot.sandbox.routing import Call, Reply, route

__all__ = ["create_memo"]


def _amount(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SandboxError(20, f"'{field}' must be a number", resource=580101) from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise SandboxError(20, f"'{field}' must be a non-negative amount with at most 2 decimals", resource=580101)
    return amount


def create_memo(call: Call, invoice: dict[str, Any], items: list[dict[str, Any]], *, reason_code: str,
                comment: Any, auto_post: bool, auto_apply: bool, write_off: bool = False) -> dict[str, Any]:
    """Create a credit memo against `invoice`; posted and applied to it when asked."""
    tenant = call.tenant
    if reason_code not in tenant.reason_codes:
        raise SandboxError(20, f"Invalid value for field reasonCode: '{reason_code}'", resource=580301)
    if invoice["status"] != "Posted":
        raise SandboxError(30, f"Invoice {invoice['invoiceNumber']} is not posted.", resource=580301)
    if not items:
        raise SandboxError(22, "'items' is required and must not be empty", resource=580301)
    credited: list[tuple[dict[str, Any], Decimal]] = []
    for entry in items:
        item = tenant.items.get(str(entry.get("invoiceItemId")))
        if item is None or item["invoiceId"] != invoice["id"]:
            raise SandboxError(20, f"Invalid invoiceItemId '{entry.get('invoiceItemId')}' for invoice "
                                   f"{invoice['invoiceNumber']}", resource=580301)
        amount = _amount(entry.get("amount"), "amount")
        if not write_off and amount > item["availableToCreditAmount"]:
            raise SandboxError(30, f"The credit amount {amount} exceeds the amount available to credit "
                                   f"({item['availableToCreditAmount']}) on item {item['id']}.", resource=580301)
        credited.append((item, amount))
    total = sum((amount for _, amount in credited), Decimal(0))
    if total <= 0:
        raise SandboxError(20, "The total credit memo amount must be greater than zero.", resource=580301)
    for item, amount in credited:
        item["availableToCreditAmount"] = Decimal(0) if write_off else item["availableToCreditAmount"] - amount
    account = tenant.accounts[invoice["accountId"]]
    now = tenant.now()
    memo = tenant.add("credit_memos", {
        "id": tenant.new_id("creditmemo"), "number": tenant.next_number("creditmemo", "CM{:08d}"),
        "accountId": account["id"], "accountNumber": account["accountNumber"], "amount": total,
        "appliedAmount": Decimal(0), "unappliedAmount": total, "refundAmount": Decimal(0), "taxAmount": Decimal(0),
        "currency": invoice["currency"], "creditMemoDate": tenant.today, "targetDate": None,
        "status": "Posted" if auto_post else "Draft", "source": "AdhocFromInvoice", "sourceType": "Invoice",
        "sourceId": invoice["invoiceNumber"], "referredInvoiceId": invoice["id"], "reasonCode": reason_code,
        "comment": str(comment) if comment else None, "autoApplyUponPosting": auto_apply,
        "createdDate": now, "updatedDate": now, "postedOn": now if auto_post else None,
    }, "number")
    if auto_post and auto_apply:
        _apply(call, memo, invoice, min(total, invoice["balance"]))
    return memo


def _apply(call: Call, memo: dict[str, Any], invoice: dict[str, Any], amount: Decimal) -> None:
    call.tenant.apply_to_invoice(invoice, amount, kind="credit")
    memo["appliedAmount"] += amount
    memo["unappliedAmount"] -= amount
    memo["updatedDate"] = call.tenant.now()


def _memo_reply(memo: dict[str, Any]) -> Reply:
    return Reply({**render.v1(memo), "success": True})


@route("POST", "/v1/credit-memos/invoice/{key}")
@route("POST", "/v1/invoices/{key}/creditmemos")
def create_from_invoice(call: Call) -> Reply:
    invoice = must_find(call, "invoices", call.args["key"])
    body = call.json()
    items = body.get("items")
    if not isinstance(items, list):
        raise SandboxError(22, "'items' is required", resource=580301)
    memo = create_memo(call, invoice, items, reason_code=str(body.get("reasonCode") or "Correcting invoice error"),
                       comment=body.get("comment"), auto_post=bool(body.get("autoPost")),
                       auto_apply=bool(body.get("autoApplyToInvoiceUponPosting")))
    return _memo_reply(memo)


@route("PUT", "/v1/credit-memos/{key}/post")
@route("PUT", "/v1/creditmemos/{key}/post")
def post_memo(call: Call) -> Reply:
    memo = must_find(call, "credit_memos", call.args["key"])
    if memo["status"] != "Draft":
        raise SandboxError(30, f"Credit memo {memo['number']} is {memo['status']}, not Draft.")
    memo["status"], memo["postedOn"] = "Posted", call.tenant.now()
    if memo["autoApplyUponPosting"]:
        invoice = call.tenant.invoices[memo["referredInvoiceId"]]
        _apply(call, memo, invoice, min(memo["unappliedAmount"], invoice["balance"]))
    return _memo_reply(memo)


@route("PUT", "/v1/credit-memos/{key}/apply")
@route("PUT", "/v1/creditmemos/{key}/apply")
def apply_memo(call: Call) -> Reply:
    memo = must_find(call, "credit_memos", call.args["key"])
    body = call.json()
    if memo["status"] != "Posted":
        raise SandboxError(30, f"Credit memo {memo['number']} must be posted before it is applied.")
    targets = body.get("invoices") or []
    if not targets:
        raise SandboxError(22, "'invoices' is required")
    plan = []
    for entry in targets:
        invoice = call.tenant.invoices.get(str(entry.get("invoiceId")))  # ID only, as in Zuora
        if invoice is None:
            raise SandboxError(40, f"Cannot find a Invoice instance with id {entry.get('invoiceId')}.")
        amount = _amount(entry.get("amount"), "amount")
        if amount > invoice["balance"]:
            raise SandboxError(30, f"The amount {amount} exceeds the balance of invoice {invoice['invoiceNumber']}.")
        plan.append((invoice, amount))
    if sum((a for _, a in plan), Decimal(0)) > memo["unappliedAmount"]:
        raise SandboxError(30, f"The amount to apply exceeds the unapplied amount of {memo['number']}.")
    for invoice, amount in plan:
        _apply(call, memo, invoice, amount)
    return _memo_reply(memo)


@route("GET", "/v1/credit-memos/{key}")
@route("GET", "/v1/creditmemos/{key}")
def get_memo(call: Call) -> Reply:
    return _memo_reply(must_find(call, "credit_memos", call.args["key"]))


@route("GET", "/v1/credit-memos")
@route("GET", "/v1/creditmemos")
def list_memos(call: Call) -> Reply:
    filters = {k: call.param(k) for k in ("accountId", "accountNumber", "status", "referredInvoiceId") if call.param(k)}
    rows = [m for m in call.tenant.credit_memos.values() if all(m.get(k) == v for k, v in filters.items())]
    rows.sort(key=lambda m: m["number"], reverse=True)
    return Reply(v1_page(call, [render.v1(m) for m in rows], "creditmemos"))
