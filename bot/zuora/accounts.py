"""Accounts: the account detail (flattened), the account summary, and the account update."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.keys import segment

__all__ = ["Account", "AccountRow", "AccountSummary", "Accounts", "Contact", "SummaryInvoice", "SummaryPayment"]


class Contact(ZuoraModel):
    """A bill-to / sold-to contact. Holds PII: never log it, redact it before an LLM sees it."""

    contact_id: str | None = Field(default=None, alias="id")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    work_email: str | None = Field(default=None, alias="workEmail")
    personal_email: str | None = Field(default=None, alias="personalEmail")
    work_phone: str | None = Field(default=None, alias="workPhone")
    address1: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip_code: str | None = Field(default=None, alias="zipCode")

    @property
    def email(self) -> str | None:
        """The work email, else the personal one."""
        return self.work_email or self.personal_email


class Account(ZuoraModel):
    """An account, flattened from `GET /v1/accounts/{key}` (`basicInfo`, `billingAndPayment`, `metrics`)."""

    account_id: str
    account_number: str
    name: str
    status: str
    currency: str
    balance: Decimal = Decimal(0)
    total_invoice_balance: Decimal = Decimal(0)
    credit_balance: Decimal = Decimal(0)
    bill_cycle_day: int | None = None
    payment_term: str | None = None
    auto_pay: bool = False
    default_payment_method_id: str | None = None
    bill_to: Contact | None = None
    sold_to: Contact | None = None
    custom_fields: dict[str, Any] = {}
    """Account custom fields (`…__c`), as Zuora returns them inside `basicInfo`."""

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "basicInfo" not in data:
            return data
        basic = data.get("basicInfo") or {}
        billing = data.get("billingAndPayment") or {}
        metrics = data.get("metrics") or {}
        return {
            "account_id": basic.get("id"), "account_number": basic.get("accountNumber"),
            "name": basic.get("name"), "status": basic.get("status"),
            "currency": billing.get("currency") or metrics.get("currency"),
            "balance": metrics.get("balance", 0),
            "total_invoice_balance": metrics.get("totalInvoiceBalance", 0),
            "credit_balance": metrics.get("creditBalance", 0),
            "bill_cycle_day": billing.get("billCycleDay"), "payment_term": billing.get("paymentTerm"),
            "auto_pay": bool(billing.get("autoPay")),
            "default_payment_method_id": billing.get("defaultPaymentMethodId")
            or basic.get("defaultPaymentMethodId"),
            "bill_to": data.get("billToContact"), "sold_to": data.get("soldToContact"),
            "custom_fields": {k: v for k, v in basic.items() if k.endswith("__c")},
        }


class SummaryInvoice(ZuoraModel):
    """One of the last six invoices in an account summary."""

    invoice_id: str = Field(alias="id")
    invoice_number: str = Field(alias="invoiceNumber")
    invoice_date: date = Field(alias="invoiceDate")
    due_date: date | None = Field(default=None, alias="dueDate")
    amount: Decimal
    balance: Decimal
    status: str


class PaidInvoice(ZuoraModel):
    """An invoice a summary payment was applied to."""

    invoice_id: str = Field(alias="invoiceId")
    invoice_number: str = Field(alias="invoiceNumber")
    applied_payment_amount: Decimal = Field(alias="appliedPaymentAmount")


class SummaryPayment(ZuoraModel):
    """One of the last six payments in an account summary."""

    payment_id: str = Field(alias="id")
    payment_number: str = Field(alias="paymentNumber")
    effective_date: date = Field(alias="effectiveDate")
    payment_type: str = Field(alias="paymentType")
    status: str
    paid_invoices: list[PaidInvoice] = Field(default=[], alias="paidInvoices")


class AccountSummary(ZuoraModel):
    """`GET /v1/accounts/{key}/summary`: the account with its latest invoices, payments and usage."""

    account_id: str
    account_number: str
    name: str
    status: str
    currency: str
    balance: Decimal
    last_invoice_date: date | None = None
    last_payment_date: date | None = None
    last_payment_amount: Decimal | None = None
    default_payment_method: dict[str, Any] | None = None
    invoices: list[SummaryInvoice] = []
    payments: list[SummaryPayment] = []
    bill_to: Contact | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "basicInfo" not in data:
            return data
        basic = data["basicInfo"] or {}
        return {
            "account_id": basic.get("id"), "account_number": basic.get("accountNumber"),
            "name": basic.get("name"), "status": basic.get("status"), "currency": basic.get("currency"),
            "balance": basic.get("balance", 0), "last_invoice_date": basic.get("lastInvoiceDate"),
            "last_payment_date": basic.get("lastPaymentDate"),
            "last_payment_amount": basic.get("lastPaymentAmount"),
            "default_payment_method": basic.get("defaultPaymentMethod"),
            "invoices": data.get("invoices") or [], "payments": data.get("payments") or [],
            "bill_to": data.get("billToContact"),
        }


class AccountRow(ZuoraModel):
    """An account as Object Query lists it (`ExpandedAccount`): no contacts, no custom fields."""

    account_id: str = Field(alias="id")
    account_number: str = Field(alias="accountNumber")
    name: str
    status: str
    currency: str
    balance: Decimal = Decimal(0)


class Accounts(Resource):
    """`client.accounts`: read accounts and update custom fields or settings."""

    def get(self, account_key: str) -> Account:
        """An account by id or number."""
        return Account.model_validate(self._client.get(f"/v1/accounts/{segment(account_key)}"))

    def summary(self, account_key: str) -> AccountSummary:
        """The account summary: balance, last six invoices and payments, default payment method."""
        return AccountSummary.model_validate(self._client.get(f"/v1/accounts/{segment(account_key)}/summary"))

    def search(self, name: str, *, limit: int = 10) -> list[AccountRow]:
        """Accounts whose name starts with `name` (case-insensitive), at most `limit` of them."""
        params = [*query_params(filters=[f"name.SW:{name.strip()}"], sort="name.ASC"), ("pageSize", limit)]
        return [AccountRow.model_validate(r) for r in self._client.get("/object-query/accounts", params)["data"]]

    def update(self, account_key: str, fields: dict[str, Any]) -> None:
        """Change only `fields` (custom fields top-level, e.g. `{"Collections_Status__c": "Escalated"}`).

        PUT carries no Idempotency-Key; setting the same values again is harmless.
        """
        self._client.put(f"/v1/accounts/{segment(account_key)}", fields)
