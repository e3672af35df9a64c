"""Payment retry: a new electronic payment for an invoice, now or on a later day (a one-item payment schedule)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, ZuoraRequest, tagged
from bot.money import money
from bot.zuora import ZuoraClient

__all__ = ["PaymentRetry", "draft"]


class PaymentRetry(ProposalBase):
    """A new electronic payment for an invoice: charged when approved, or on `on` (a one-item payment schedule)."""

    title: ClassVar[str] = "payment retry"
    editable: ClassVar[bool] = True

    kind: Literal["payment_retry"] = "payment_retry"
    payment_method_id: str
    payment_method: str
    """How people recognise it, without card digits: "the default Visa card"."""
    on: date | None = None
    """A later day to charge (e.g. the customer's usual payday); None: when approved."""

    def sentence(self) -> str:
        when = f"on {self.on}" if self.on else "now"
        return (f"Charge {money(self.amount, self.currency)} {when} to {self.payment_method} and apply it to "
                f"{self.invoice_number}.")

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        comment = tagged(f"Retry approved in Slack: {self.reason}", ref)
        if self.on and self.on > today:
            return ZuoraRequest(method="POST", path="/v1/payment-schedules", body={
                "accountId": self.account_id, "currency": self.currency, "paymentMethodId": self.payment_method_id,
                "billingDocument": {"id": self.invoice_id, "type": "Invoice"}, "description": comment,
                "items": [{"scheduledDate": self.on.isoformat(), "amount": self.amount}]})
        return ZuoraRequest(method="POST", path="/v1/payments", body={
            "type": "Electronic", "accountId": self.account_id, "amount": self.amount, "currency": self.currency,
            "effectiveDate": today.isoformat(), "paymentMethodId": self.payment_method_id,
            "invoices": [{"invoiceId": self.invoice_id, "amount": self.amount}], "comment": comment})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        if body.get("paymentScheduleNumber"):
            number = body["paymentScheduleNumber"]
            return Outcome("succeeded", f"Retry scheduled for {self.on} ({number}).", document=number,
                           zuora_ids={"payment_schedule_id": str(body.get("id"))})
        return Outcome("succeeded", f"Payment {body.get('number')} processed for "
                                    f"{Decimal(str(body.get('amount')))} {self.currency}.",
                       document=body.get("number"), zuora_ids={"payment_id": str(body.get("id"))})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        if not ref:
            return None
        for payment in client.payments.list(self.account_id):
            if ref in (payment.comment or ""):
                if payment.status == "Error":
                    return Outcome("failed", f"Zuora refused: payment {payment.payment_number} was declined.",
                                   document=payment.payment_number)
                return Outcome("succeeded", f"Payment {payment.payment_number} processed (found in Zuora).",
                               document=payment.payment_number, zuora_ids={"payment_id": payment.payment_id})
        return _find_schedule(client, self.account_id, ref)

    def again(self, drafts: DraftContext) -> PaymentRetry:
        return draft(drafts, self.invoice_number or "", None, self.reason)


def _find_schedule(client: ZuoraClient, account_id: str, ref: str) -> Outcome | None:
    rows = client.get("/v1/payment-schedules", {"accountId": account_id})
    for row in rows if isinstance(rows, list) else []:
        if ref in str(row.get("description") or ""):
            number = row.get("paymentScheduleNumber")
            return Outcome("succeeded", f"Payment schedule {number} created (found in Zuora).", document=number,
                           zuora_ids={"payment_schedule_id": str(row.get("id"))})
    return None


def draft(ctx: DraftContext, typed: str, amount: Decimal | None, reason: str, *, on: date | None = None,
          payment_method_id: str | None = None, extra: list[str] | None = None) -> PaymentRetry:
    invoice, account = ctx._invoice(typed, open_balance=True)
    method_id = payment_method_id or account.default_payment_method_id
    if not method_id:
        raise ProposalError(f"{account.account_number} has no default payment method to charge.")
    method = ctx.client.payment_methods.get(method_id)
    default = "default" if method_id == account.default_payment_method_id else "backup"
    if method.expired(ctx.today):
        raise ProposalError(f"The {default} payment method of {account.account_number} has expired; ask the "
                            f"customer to update it before retrying.")
    label = f"the {default} {method.card_type} card" if method.card_type else \
        f"the {default} {method.method_type} payment method"  # no card digits: the card is visible in a channel
    evidence = [f"{label}: {method.num_consecutive_failures} consecutive failures"] \
        if method.num_consecutive_failures else []
    return PaymentRetry(**ctx._common(invoice, account, amount or invoice.balance, reason, invoice.balance,
                                      [*evidence, *(extra or [])]),
                        payment_method_id=method.payment_method_id, payment_method=label, on=on)
