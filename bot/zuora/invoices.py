"""Invoices: read one (by id, number or a short form a person typed), its items, its neighbours,
the invoices of a bill run; and the invoice writes (write-off, email).

Field names differ between v1 and Object Query (`subscriptionName` vs `subscriptionNumber`,
`processingType` "Discount" vs "1", `unitOfMeasure` vs `uOM`, …): the models accept both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.errors import InvoiceNotFound, ZuoraNotFound
from bot.zuora.keys import segment

__all__ = ["Invoice", "InvoiceItem", "InvoiceMatch", "Invoices", "UsageRateDetail", "invoice_number_forms"]

_OQ_PROCESSING_TYPES = {"0": "Charge", "1": "Discount", "2": "Prepayment", "3": "Tax"}


class InvoiceItem(ZuoraModel):
    """One line of an invoice (v1 `InvoiceItem` or Object Query `ExpandedInvoiceItem`)."""

    item_id: str = Field(alias="id")
    charge_id: str | None = Field(default=None, validation_alias=AliasChoices("chargeId", "ratePlanChargeId"))
    """The rate plan charge *segment* id: it changes when the charge is amended."""
    charge_number: str | None = Field(default=None, alias="chargeNumber")
    """Stable across segments; only Object Query returns it."""
    charge_name: str = Field(default="", alias="chargeName")
    charge_type: str | None = Field(default=None, alias="chargeType")
    """`OneTime`, `Recurring` or `Usage`; absent from Object Query items."""
    charge_amount: Decimal = Field(default=Decimal(0), alias="chargeAmount")
    """Excludes tax; negative on discount lines."""
    tax_amount: Decimal = Field(default=Decimal(0), alias="taxAmount")
    quantity: Decimal | None = None
    unit_price: Decimal | None = Field(default=None, alias="unitPrice")
    unit_of_measure: str | None = Field(default=None, validation_alias=AliasChoices("unitOfMeasure", "uOM"))
    service_start_date: date | None = Field(default=None, alias="serviceStartDate")
    service_end_date: date | None = Field(default=None, alias="serviceEndDate")
    """The last day of the service period (inclusive)."""
    processing_type: str | None = Field(default=None, alias="processingType")
    applied_to_item_id: str | None = Field(
        default=None, validation_alias=AliasChoices("appliedToItemId", "appliedToInvoiceItemId"))
    subscription_id: str | None = Field(default=None, alias="subscriptionId")
    subscription_number: str | None = Field(
        default=None, validation_alias=AliasChoices("subscriptionName", "subscriptionNumber"))
    sku: str | None = Field(default=None, validation_alias=AliasChoices("sku", "sKU"))
    product_name: str | None = Field(default=None, alias="productName")

    @field_validator("processing_type", mode="before")
    @classmethod
    def _processing_type(cls, value: Any) -> Any:
        return _OQ_PROCESSING_TYPES.get(value, value) if isinstance(value, str) else value

    @property
    def is_discount(self) -> bool:
        """True for a discount line (negative amount applied to another item)."""
        return self.processing_type == "Discount"

    @property
    def total(self) -> Decimal:
        """Charge amount plus tax."""
        return self.charge_amount + self.tax_amount


class Invoice(ZuoraModel):
    """An invoice header (v1 `InvoiceResponse` or Object Query `ExpandedInvoice`)."""

    invoice_id: str = Field(alias="id")
    invoice_number: str = Field(alias="invoiceNumber")
    account_id: str = Field(alias="accountId")
    amount: Decimal
    amount_without_tax: Decimal = Field(default=Decimal(0), alias="amountWithoutTax")
    tax_amount: Decimal = Field(default=Decimal(0), alias="taxAmount")
    balance: Decimal = Decimal(0)
    payment_amount: Decimal = Field(default=Decimal(0), alias="paymentAmount")
    credit_memo_amount: Decimal = Field(default=Decimal(0), alias="creditMemoAmount")
    currency: str
    invoice_date: date = Field(alias="invoiceDate")
    due_date: date | None = Field(default=None, alias="dueDate")
    target_date: date | None = Field(default=None, alias="targetDate")
    status: str
    source: str | None = None
    source_id: str | None = Field(default=None, alias="sourceId")
    """The bill run *number* (`BR-…`) when a bill run generated the invoice."""
    bill_run_id: str | None = Field(default=None, alias="billRunId")
    updated_date: str | None = Field(default=None, alias="updatedDate")
    account: dict[str, Any] | None = None
    """Filled only when read through Object Query with `expand[]=account`."""
    items: list[InvoiceItem] = Field(default=[], alias="invoiceItems")
    """Filled only when read through Object Query with `expand[]=invoiceitems`."""


class UsageRateDetail(ZuoraModel):
    """How Zuora rated a usage invoice item (`usage-rate-detail`)."""

    invoice_item_id: str = Field(alias="invoiceItemId")
    charge_number: str | None = Field(default=None, alias="chargeNumber")
    quantity: Decimal | None = None
    list_price: str | None = Field(default=None, alias="listPrice")
    unit_of_measure: str | None = Field(default=None, alias="uom")
    service_period: str | None = Field(default=None, alias="servicePeriod")
    rate_detail: str | None = Field(default=None, alias="rateDetail")
    amount_without_tax: Decimal | None = Field(default=None, alias="amountWithoutTax")

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> Any:
        return Decimal(str(value)) if isinstance(value, str) and value.strip() else value


@dataclass(frozen=True)
class InvoiceMatch:
    """The invoice found for what a person typed, and which form of the number matched."""

    invoice: Invoice
    typed: str
    matched: str

    @property
    def exact(self) -> bool:
        """False when a short form (`INV-42`, `#42`, …) was expanded to the tenant's number."""
        return self.typed.strip() == self.matched


_SHORT = re.compile(r"^\s*(?:#|inv(?:oice)?)?[\s\-_#]*0*(\d{1,12})\s*$", re.IGNORECASE)
_ZUORA_ID = re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE)


def invoice_number_forms(typed: str, *, digits: int = 8) -> list[str]:
    """The invoice keys to try for `typed`, most likely first: `INV-42` → `['INV00000042', 'INV-42']`."""
    text = typed.strip()
    if not text:
        return []
    if _ZUORA_ID.match(text):
        return [text.lower()]
    forms: list[str] = []
    match = _SHORT.match(text)
    if match:
        forms.append(f"INV{int(match.group(1)):0{digits}d}")
    literal = text.upper()
    if re.fullmatch(r"[A-Z0-9][A-Z0-9\-_]{1,48}", literal) and literal not in forms and not literal.isdigit():
        forms.append(literal)
    return forms


class Invoices(Resource):
    """`client.invoices`: read invoices and their items; write-off and email."""

    def get(self, invoice_key: str) -> Invoice:
        """One invoice by id or number (v1; items not included)."""
        return Invoice.model_validate(self._client.get(f"/v1/invoices/{segment(invoice_key)}"))

    def find(self, typed: str) -> InvoiceMatch:
        """Resolve what a person typed (`INV00000042`, `INV-42`, `inv42`, `#42`, `42`) to an invoice."""
        tried: list[str] = []
        for form in invoice_number_forms(typed):
            tried.append(form)
            try:
                return InvoiceMatch(invoice=self.get(form), typed=typed, matched=form)
            except ZuoraNotFound:
                continue
        raise InvoiceNotFound(typed, tried)

    def items(self, invoice_key: str) -> list[InvoiceItem]:
        """Every item of an invoice (v1, paged at Zuora's maximum of 40)."""
        rows = self._client.iter_v1(f"/v1/invoices/{segment(invoice_key)}/items", "invoiceItems")
        return [InvoiceItem.model_validate(row) for row in rows]

    def query(self, *, filters: list[str], sort: str | None = None, expand: tuple[str, ...] = (),
              page_size: int = 50) -> Iterator[Invoice]:
        """Stream invoices matching Object Query filters such as `"accountid.EQ:…"`."""
        params = query_params(filters=filters, sort=sort, expand=expand)
        for row in self._client.iter_query("/object-query/invoices", params, page_size=page_size):
            yield Invoice.model_validate(row)

    def previous(self, invoice: Invoice, *, with_items: bool = True) -> Invoice | None:
        """The same account's latest posted invoice dated before `invoice`, or None for a first invoice.

        With `with_items`, its items come in the same request (`expand[]=invoiceitems`, pageSize 99).
        """
        return self.before(invoice.account_id, invoice.invoice_date, with_items=with_items)

    def before(self, account_id: str, day: date, *, with_items: bool = False) -> Invoice | None:
        """The account's latest posted invoice dated before `day`, or None."""
        params = query_params(
            filters=[f"accountid.EQ:{account_id}", f"invoicedate.LT:{day}", "status.EQ:Posted"],
            sort="invoicedate.DESC", expand=("invoiceitems",) if with_items else ())
        body = self._client.get("/object-query/invoices", [*params, ("pageSize", 99 if with_items else 1)])
        rows = body.get("data") or []
        return Invoice.model_validate(rows[0]) if rows else None

    def of_bill_run(self, bill_run_number: str, *, page_size: int = 99, sort: str | None = None,
                    expand: tuple[str, ...] = ()) -> Iterator[Invoice]:
        """Stream the invoices a bill run generated (`sourceid.EQ:BR-…`), page by page."""
        return self.query(filters=[f"sourceid.EQ:{bill_run_number}"], page_size=page_size, sort=sort, expand=expand)

    def query_items(self, invoice_id: str) -> list[InvoiceItem]:
        """An invoice's items through Object Query (these carry the stable `chargeNumber`)."""
        params = query_params(filters=[f"invoiceid.EQ:{invoice_id}"])
        rows = self._client.iter_query("/object-query/invoice-items", params, page_size=99)
        return [InvoiceItem.model_validate(row) for row in rows]

    def usage_rate_detail(self, invoice_item_id: str) -> UsageRateDetail:
        """How a usage item was rated."""
        body = self._client.get(f"/v1/invoices/invoice-item/{segment(invoice_item_id)}/usage-rate-detail")
        return UsageRateDetail.model_validate(body["data"])

    def write_off(self, invoice_key: str, *, reason_code: str = "Write-off", comment: str | None = None,
                  memo_date: date | None = None) -> str:
        """Write off the whole open balance (PUT: no Idempotency-Key; re-read the balance first).

        Returns the id of the credit memo Zuora created and applied.
        """
        body: dict[str, Any] = {"reasonCode": reason_code}
        if comment:
            body["comment"] = comment
        if memo_date:
            body["memoDate"] = memo_date.isoformat()
        result = self._client.put(f"/v1/invoices/{segment(invoice_key)}/write-off", body)
        return str(result["creditMemo"]["id"])

    def email(self, invoice_key: str, *, email_addresses: list[str] | None = None,
              idempotency_key: str | None = None) -> None:
        """Email the invoice: to `email_addresses`, or to the bill-to contact when None."""
        body: dict[str, Any] = {"useEmailTemplateSetting": False, "includeAdditionalEmailAddresses": False}
        if email_addresses:
            body["emailAddresses"] = ",".join(email_addresses)
        self._client.post(f"/v1/invoices/{segment(invoice_key)}/emails", body, idempotency_key=idempotency_key)
