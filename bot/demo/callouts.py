"""Zuora's events for the demo, made in its sandbox: the accounts a declined payment can be simulated for, and
the callout bodies of a declined payment (recorded in the sandbox first) and of the latest completed bill run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.demo.errors import DemoError

__all__ = ["billrun_body", "card_accounts", "decline_body"]


def card_accounts(tenant: Any) -> list[dict[str, str]]:
    """Accounts a declined payment can be simulated for (they pay by card)."""
    return [{"number": a["accountNumber"], "name": a["name"]}
            for a in sorted(tenant.accounts.values(), key=lambda a: a["accountNumber"])
            if a.get("defaultPaymentMethodId")][:12]


def decline_body(sandbox: Any, account: str | None) -> dict[str, Any]:
    """A declined card payment for `account`, recorded in the sandbox, as Zuora's callout body."""
    from bot.sandbox.payments import record_payment

    tenant = sandbox.tenant
    found = tenant.find("accounts", account or "")
    if found is None or not found.get("defaultPaymentMethodId"):
        raise DemoError(f"no card-paying account {account!r}")
    invoices = [tenant.invoices[i] for i in tenant.invoices_of[found["id"]]]
    with sandbox._lock:
        if invoices:
            latest = max(invoices, key=lambda i: i["invoiceDate"])
            if latest["balance"] <= 0 < latest["amount"]:
                latest["balance"] = latest["amount"]  # the invoice the card was charged for is open
            amount = latest["balance"] if latest["balance"] > 0 else Decimal("100.00")
        else:
            amount = Decimal("100.00")
        payment = record_payment(tenant, found, [], amount, tenant.today, "Electronic",
                                 found.get("defaultPaymentMethodId"), decline=("05", "Do not honor"))
    body = {"event": "PaymentDeclined", "PaymentId": payment["id"], "PaymentNumber": payment["number"],
            "AccountId": found["id"], "AccountNumber": found["accountNumber"], "AccountName": found["name"],
            "Amount": f"{payment['amount']}", "ErrorMessage": payment.get("gatewayResponse") or "",
            "GatewayResponseCode": payment.get("gatewayResponseCode") or ""}
    return body


def billrun_body(tenant: Any) -> dict[str, Any]:
    """The latest completed bill run, as Zuora's callout body."""
    runs = sorted((r for r in tenant.bill_runs.values() if r.get("status") == "Completed"),
                  key=lambda r: r.get("billRunNumber", ""))
    if not runs:
        raise DemoError("the sandbox has no completed bill run")
    run = runs[-1]
    body = {"event": "BillRunCompletion", "BillRunId": run["id"], "BillRunNumber": run.get("billRunNumber"),
            "Status": "Completed", "NumberOfInvoices": str(run.get("invoicesCount") or "")}
    return body
