"""The records the portfolio aggregations read (what `analytics.load` streams in from Zuora), and what
every report shares: the stand-in for an account the account map does not hold, and sums per currency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = ["ZERO", "AccountInfo", "InvoiceRecord", "PaymentRecord", "account_of", "per_currency"]

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class AccountInfo:
    """What the tables show about an account."""

    account_id: str
    account_number: str
    name: str
    currency: str
    country: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    """An invoice as the aggregations need it (`paid_on`: the date its balance reached zero, if it did)."""

    invoice_id: str
    invoice_number: str
    account_id: str
    currency: str
    invoice_date: date
    due_date: date | None
    amount: Decimal
    balance: Decimal
    status: str
    paid_on: date | None = None
    source_id: str | None = None
    """The bill run number (`BR-…`) when a bill run made the invoice."""


@dataclass(frozen=True)
class PaymentRecord:
    """A payment as the aggregations need it."""

    payment_id: str
    payment_number: str
    account_id: str
    currency: str
    effective_date: date
    amount: Decimal
    status: str
    gateway_code: str | None = None
    gateway_message: str | None = None


def account_of(accounts: dict[str, AccountInfo], account_id: str, currency: str) -> AccountInfo:
    """The account's info, or a stand-in for an account the map does not hold."""
    return accounts.get(account_id) or AccountInfo(account_id, account_id, "(unknown account)", currency)


def per_currency(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """The sum of `(currency, amount)` pairs per currency, currencies in the order they first appear."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for currency, amount in amounts:
        totals[currency] += amount
    return dict(totals)
