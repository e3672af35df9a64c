"""Payments in the sandbox: record a processed or declined payment and its effects.

A processed payment lowers the invoice and account balances and resets the payment method's
failure count; a declined one is stored with `status: "Error"` and the gateway's code and message,
and raises the payment method's `numConsecutiveFailures` (Zuora's behaviour as far as the docs and
samples show; the exact decline envelope is an assumption, see zuora-api.md §6e).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from bot.sandbox.state import Tenant

__all__ = ["DECLINE_CARDS", "record_payment"]

DECLINE_CARDS = {
    # last four digits of a card → (gateway response code, message), like a gateway's test cards
    "0002": ("05", "Do not honor"),
    "9995": ("51", "Insufficient funds"),
    "0069": ("54", "Expired card"),
    "0119": ("43", "Stolen card, pick up"),
}


def record_payment(
    tenant: Tenant,
    account: dict,
    applications: list[tuple[dict, Decimal]],
    amount: Decimal,
    day: date,
    payment_type: str,
    payment_method_id: str | None,
    *,
    decline: tuple[str, str] | None = None,
    comment: str | None = None,
) -> dict:
    """Store a payment for `amount`, applied to each `(invoice, amount)` unless declined; return it."""
    stamp = datetime.combine(day, time(2, 30)) if day < tenant.today else tenant.now()
    declined = decline is not None
    applied = Decimal(0) if declined else sum((part for _, part in applications), Decimal(0))
    payment = tenant.add("payments", {
        "id": tenant.new_id("payment"), "number": tenant.next_number("payment", "P-{:08d}"),
        "accountId": account["id"], "accountNumber": account["accountNumber"], "amount": amount,
        "appliedAmount": applied, "unappliedAmount": Decimal(0) if declined else amount - applied,
        "refundAmount": Decimal(0), "creditBalanceAmount": Decimal(0), "currency": account["currency"],
        "effectiveDate": day, "type": payment_type, "status": "Error" if declined else "Processed",
        "paymentMethodId": payment_method_id, "gatewayId": "gw-demo-1" if payment_type == "Electronic" else None,
        "gatewayResponse": decline[1] if decline else ("Approved" if payment_type == "Electronic" else None),
        "gatewayResponseCode": decline[0] if decline else ("00" if payment_type == "Electronic" else None),
        "gatewayState": ("NotSubmitted" if declined else "Settled") if payment_type == "Electronic"
        else "NotSubmitted",
        "referenceId": tenant.new_id("gwref")[:18] if payment_type == "Electronic" else None,
        "comment": comment, "createdDate": stamp, "updatedDate": stamp, "submittedOn": stamp,
        "applications": [],
    }, "number")
    tenant.payments_of[account["id"]].append(payment["id"])
    for invoice, part in [] if declined else applications:
        tenant.apply_to_invoice(invoice, part, kind="payment")
        payment["applications"].append({"id": tenant.new_id("paymentpart"), "invoiceId": invoice["id"],
                                         "amount": part, "createdDate": stamp})
    pm = tenant.payment_methods.get(payment_method_id or "")
    if pm is not None and payment_type == "Electronic":
        pm["lastTransactionDateTime"] = stamp
        pm["updatedDate"] = stamp
        if declined:
            pm["numConsecutiveFailures"] += 1
            pm["totalNumberOfErrorPayments"] += 1
            pm["lastTransaction"] = "Declined"
            pm["lastFailedSaleTransactionDate"] = stamp
        else:
            pm["numConsecutiveFailures"] = 0
            pm["totalNumberOfProcessedPayments"] += 1
            pm["lastTransaction"] = "Approved"
    return payment
