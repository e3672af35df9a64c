"""Payments, payment methods and payment schedules (payment plans)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.keys import segment

__all__ = ["Payment", "PaymentMethod", "PaymentMethods", "PaymentPart", "PaymentSchedule",
           "PaymentScheduleItem", "PaymentSchedules", "Payments"]

PM_TYPE_KEYS = ("creditcard", "creditcardreferencetransaction", "debitcard", "ach", "banktransfer", "paypal")


class Payment(ZuoraModel):
    """A payment (v1 `Payment`, or Object Query `ExpandedPayment`)."""

    payment_id: str = Field(alias="id")
    payment_number: str = Field(validation_alias=AliasChoices("number", "paymentNumber"))
    account_id: str = Field(alias="accountId")
    amount: Decimal
    applied_amount: Decimal = Field(default=Decimal(0), alias="appliedAmount")
    unapplied_amount: Decimal = Field(default=Decimal(0), alias="unappliedAmount")
    refund_amount: Decimal = Field(default=Decimal(0), alias="refundAmount")
    currency: str
    effective_date: date = Field(alias="effectiveDate")
    payment_type: str = Field(alias="type")
    """`Electronic` (through a gateway) or `External`."""
    status: str
    """`Processed`, `Error`, `Processing`, `Canceled`, …"""
    payment_method_id: str | None = Field(default=None, alias="paymentMethodId")
    gateway_response: str | None = Field(default=None, alias="gatewayResponse")
    gateway_response_code: str | None = Field(default=None, alias="gatewayResponseCode")
    gateway_state: str | None = Field(default=None, alias="gatewayState")
    comment: str | None = None
    updated_date: str | None = Field(default=None, alias="updatedDate")
    created_date: str | None = Field(default=None, alias="createdDate")


class PaymentPart(ZuoraModel):
    """How much of a payment went to one invoice."""

    part_id: str = Field(alias="id")
    invoice_id: str | None = Field(default=None, alias="invoiceId")
    amount: Decimal


class PaymentMethod(ZuoraModel):
    """A payment method. Only the masked card number (last four digits) is ever exposed."""

    payment_method_id: str = Field(alias="id")
    method_type: str = Field(alias="type")
    is_default: bool = Field(default=False, alias="isDefault")
    status: str | None = None
    card_number: str | None = Field(default=None, validation_alias=AliasChoices("cardNumber",
                                                                                 "creditCardMaskNumber"))
    card_type: str | None = Field(default=None, alias="creditCardType")
    expiration_month: int | None = Field(default=None, alias="expirationMonth")
    expiration_year: int | None = Field(default=None, alias="expirationYear")
    bank_name: str | None = Field(default=None, alias="bankName")
    num_consecutive_failures: int = Field(default=0, alias="numConsecutiveFailures")
    last_transaction: str | None = Field(default=None, alias="lastTransaction")
    last_failed_sale_transaction_date: str | None = Field(default=None, alias="lastFailedSaleTransactionDate")

    @property
    def last4(self) -> str | None:
        """The last four characters of the masked card or account number."""
        return self.card_number[-4:] if self.card_number else None

    def expired(self, today: date) -> bool:
        """True when a card's expiry month is before `today`'s month."""
        if not (self.expiration_month and self.expiration_year):
            return False
        return (self.expiration_year, self.expiration_month) < (today.year, today.month)


class PaymentScheduleItem(ZuoraModel):
    """One installment of a payment schedule."""

    item_number: int = Field(alias="number")
    scheduled_date: date = Field(alias="scheduledDate")
    amount: Decimal
    currency: str | None = None
    status: str


class PaymentSchedule(ZuoraModel):
    """A payment schedule (payment plan)."""

    schedule_id: str = Field(alias="id")
    schedule_number: str = Field(alias="paymentScheduleNumber")
    account_id: str = Field(alias="accountId")
    status: str
    total_amount: Decimal = Field(alias="totalAmount")
    items: list[PaymentScheduleItem] = []
    billing_documents: list[dict[str, Any]] = Field(default=[], alias="billingDocuments")


class Payments(Resource):
    """`client.payments`: read payments and create one (a retry is a new Electronic payment)."""

    def get(self, payment_key: str) -> Payment:
        """A payment by id or number (`P-…`)."""
        return Payment.model_validate(self._client.get(f"/v1/payments/{segment(payment_key)}"))

    def list(self, account_id: str, *, status: str | None = None, sort: str = "+effectiveDate",
             page_size: int = 40) -> Iterator[Payment]:
        """Stream an account's payments (v1; `+field` sorts *descending*, as Zuora documents)."""
        params: dict[str, Any] = {"accountId": account_id, "sort": sort}
        if status:
            params["status"] = status
        for row in self._client.iter_v1("/v1/payments", "payments", params, page_size=page_size):
            yield Payment.model_validate(row)

    def parts(self, payment_key: str) -> list[PaymentPart]:
        """The invoices a payment was applied to."""
        return [PaymentPart.model_validate(r) for r in self._client.iter_v1(
            f"/v1/payments/{segment(payment_key)}/parts", "parts")]

    def query(self, *, filters: list[str], sort: str | None = "effectivedate.DESC",
              page_size: int = 50) -> Iterator[Payment]:
        """Stream payments through Object Query (e.g. `status.EQ:Error`, `updateddate.GT:…`)."""
        params = query_params(filters=filters, sort=sort)
        for row in self._client.iter_query("/object-query/payments", params, page_size=page_size):
            yield Payment.model_validate(row)

    def create(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> Payment:
        """Create a payment (`Electronic` charges the gateway now). Returns the Processed payment.

        A gateway decline raises `ZuoraAPIError` whose messages carry the gateway's text.
        """
        body = self._client.post("/v1/payments", body, idempotency_key=idempotency_key)
        return Payment.model_validate(body)


class PaymentMethods(Resource):
    """`client.payment_methods`: an account's payment methods."""

    def get(self, payment_method_id: str) -> PaymentMethod:
        """One payment method by id."""
        return PaymentMethod.model_validate(self._client.get(f"/v1/payment-methods/{segment(payment_method_id)}"))

    def of_account(self, account_key: str) -> list[PaymentMethod]:
        """Every payment method of an account (Zuora groups them under per-type keys)."""
        body = self._client.get(f"/v1/accounts/{segment(account_key)}/payment-methods")
        return [PaymentMethod.model_validate(pm) for key in PM_TYPE_KEYS for pm in body.get(key) or []]

    def default(self, account_key: str) -> PaymentMethod:
        """The account's default payment method."""
        return PaymentMethod.model_validate(
            self._client.get(f"/v1/accounts/{segment(account_key)}/payment-methods/default"))


class PaymentSchedules(Resource):
    """`client.payment_schedules`: create, read, list and cancel payment plans."""

    def create(self, body: dict[str, Any], *, idempotency_key: str | None = None) -> PaymentSchedule:
        """Create a payment schedule (custom `items[]`, or recurring `period`/`occurrences`)."""
        return PaymentSchedule.model_validate(
            self._client.post("/v1/payment-schedules", body, idempotency_key=idempotency_key))

    def get(self, schedule_key: str) -> PaymentSchedule:
        """A payment schedule by id or number."""
        return PaymentSchedule.model_validate(self._client.get(f"/v1/payment-schedules/{segment(schedule_key)}"))

    def of_account(self, account_id: str) -> list[PaymentSchedule]:
        """An account's payment schedules (Zuora answers a bare JSON array)."""
        rows = self._client.get("/v1/payment-schedules", {"accountId": account_id})
        return [PaymentSchedule.model_validate(r) for r in rows]

    def cancel(self, schedule_key: str, *, cancel_date: date) -> PaymentSchedule:
        """Cancel the schedule's pending items from `cancel_date` on (PUT: no Idempotency-Key)."""
        body = {"cancelDate": cancel_date.isoformat()}
        return PaymentSchedule.model_validate(self._client.put(f"/v1/payment-schedules/{segment(schedule_key)}/cancel",
                                                               body))
