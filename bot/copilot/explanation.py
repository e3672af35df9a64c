"""What the invoice explainer returns (pure data): the invoices it cites, the drivers of the difference,
and the explanation that holds them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.money import to_cents
from bot.zuora import Invoice

__all__ = ["Driver", "DriverKind", "Explanation", "InvoiceRef"]

DriverKind = Literal[
    "new_charge", "removed_charge", "quantity_change", "price_change", "proration", "usage_change",
    "discount_started", "discount_ended", "discount_changed", "one_time_charge", "tax_change", "credit",
    "unexplained",
]
_ZERO = Decimal(0)


class InvoiceRef(BaseModel):
    """The invoice facts an explanation cites."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    invoice_number: str
    invoice_date: date
    amount: Decimal
    tax_amount: Decimal
    currency: str
    account_id: str

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceRef:
        """The reference for a Zuora invoice."""
        return cls(invoice_id=invoice.invoice_id, invoice_number=invoice.invoice_number,
                   invoice_date=invoice.invoice_date, amount=to_cents(invoice.amount),
                   tax_amount=to_cents(invoice.tax_amount),
                   currency=invoice.currency, account_id=invoice.account_id)


class Driver(BaseModel):
    """One reason for the difference, with the amount it contributes and the lines it comes from."""

    model_config = ConfigDict(frozen=True)

    kind: DriverKind
    amount: Decimal
    """Signed: what this driver adds to the current invoice compared with the previous one."""
    currency: str
    sentence: str
    charge_name: str | None = None
    subscription_number: str | None = None
    period_start: date | None = None
    """The service period of the current invoice's lines (the previous invoice's when none)."""
    period_end: date | None = None
    current_item_ids: tuple[str, ...] = ()
    previous_item_ids: tuple[str, ...] = ()
    quantity_before: Decimal | None = None
    quantity_after: Decimal | None = None
    unit_price_before: Decimal | None = None
    unit_price_after: Decimal | None = None
    unit_of_measure: str | None = None
    rate_before: Decimal | None = None
    """For tax and percentage discounts: the rate in percent (`8.25`) on the previous invoice (a discount's only
    when it is a whole quarter of a percent that gives back the amount to the cent)."""
    rate_after: Decimal | None = None
    base_before: Decimal | None = None
    """The amount `rate_before` applies to (the taxable amount, or the discounted charges)."""
    base_after: Decimal | None = None


class Explanation(BaseModel):
    """Why an invoice differs from the account's previous one (or what a first invoice is made of)."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["comparison", "first_invoice", "mixed_currency"]
    invoice: InvoiceRef
    previous: InvoiceRef | None
    currency: str
    difference: Decimal | None
    """`invoice.amount - previous.amount`; None when there is nothing comparable."""
    direction: Literal["higher", "lower", "equal"] | None
    drivers: tuple[Driver, ...]
    summary: str

    @property
    def unexplained(self) -> Decimal:
        """The part of the difference no invoice line accounts for (zero when fully explained)."""
        return sum((d.amount for d in self.drivers if d.kind == "unexplained"), _ZERO)
