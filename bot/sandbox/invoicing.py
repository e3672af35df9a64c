"""Posting subscription invoices in the sandbox: the bills of a placed order and `billing-documents/generate`,
with the same item records as the seeded bill runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.sandbox.billing import Line, month_end, order_lines
from bot.sandbox.state import Tenant

__all__ = ["billed_through", "generate", "post_invoice"]

D = Decimal


def billed_through(tenant: Tenant, sub: dict[str, Any]) -> date:
    """The last day a subscription's recurring charges are billed to (the seeded bill runs bill this month)."""
    return tenant.billed_through.get(sub["id"], month_end(tenant.today))


def post_invoice(tenant: Tenant, account: dict[str, Any], sub: dict[str, Any], day: date, lines: list[Line], *,
                 source: str) -> dict[str, Any]:
    """Post an invoice with `lines` for `sub`, dated `day`, as the bill runs do (same item records)."""
    from bot.sandbox.history import add_item  # the seed's item writer: one shape for every invoice item

    created = tenant.now()
    subtotal = sum((ln.amount for ln in lines), D(0))
    tax = sum((ln.tax for ln in lines), D(0))
    invoice = tenant.add("invoices", {
        "id": tenant.new_id("invoice"), "invoiceNumber": tenant.next_number("invoice", "INV{:08d}"),
        "accountId": account["id"], "amount": subtotal + tax, "amountWithoutTax": subtotal, "taxAmount": tax,
        "balance": subtotal + tax, "paymentAmount": D(0), "creditMemoAmount": D(0), "adjustmentAmount": D(0),
        "refundAmount": D(0), "currency": account["currency"], "invoiceDate": day,
        "dueDate": day + timedelta(days=30), "targetDate": day, "postedDate": day, "status": "Posted",
        "source": source, "sourceId": None, "sourceType": "Subscription", "billRunId": None,
        "autoPay": account["autoPay"], "paymentTerm": account["paymentTerm"],
        "includesOneTime": False, "includesRecurring": True, "includesUsage": False,
        "createdDate": created, "updatedDate": created, "postedBy": "billing-automation",
    }, "invoiceNumber")
    tenant.invoices_of[account["id"]].append(invoice["id"])
    ids = {id(ln): tenant.new_id("item") for ln in lines}
    for ln in lines:
        add_item(tenant, invoice, sub, ln, ids, account, created)
    return invoice


def generate(tenant: Tenant, account: dict[str, Any], target: date) -> list[dict[str, Any]]:
    """Bill every active subscription of `account` through `target` (recurring charges, in advance)."""
    posted = []
    for sub in list(tenant.subscriptions.values()):
        if sub["accountId"] != account["id"] or sub["status"] != "Active":
            continue
        charges = [c for rp in sub["ratePlans"] for c in rp["charges"]]
        bills = order_lines(charges, charges, changed_from=None, billed_through=billed_through(tenant, sub),
                            through=target, tax_rate=account["taxRate"])
        for day, lines in bills:
            posted.append(post_invoice(tenant, account, sub, day, lines, source="API"))
        if bills:
            tenant.billed_through[sub["id"]] = month_end(bills[-1][0])
    return posted
