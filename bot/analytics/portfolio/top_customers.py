"""Top customers (pure): per currency, the accounts with the most payments received or invoiced in a
period, with each one's share of the currency's total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.analytics.periods import Period
from bot.analytics.portfolio.records import (
    ZERO,
    AccountInfo,
    InvoiceRecord,
    PaymentRecord,
    account_of,
    per_currency,
)

__all__ = ["MEASURES", "TopCustomer", "TopCustomersReport", "top_customers"]

MEASURES = ("payments", "invoiced")
Measure = Literal["payments", "invoiced"]


@dataclass(frozen=True)
class TopCustomer:
    account: AccountInfo
    currency: str
    value: Decimal
    documents: int
    share: Decimal
    """Percent of the currency's total, one decimal."""


@dataclass(frozen=True)
class TopCustomersReport:
    period: Period
    measure: str
    top: list[TopCustomer]
    totals: dict[str, Decimal]
    """currency -> total over every account (not only the top N)."""
    accounts: int
    records_read: int


def top_customers(records: Iterable[InvoiceRecord | PaymentRecord], accounts: dict[str, AccountInfo],
                  period: Period, measure: str, limit: int) -> TopCustomersReport:
    """Per currency, the `limit` accounts with the largest `measure` in `period`."""
    if measure not in MEASURES:
        raise ValueError(f"unsupported measure {measure!r}; supported: {', '.join(MEASURES)}")
    sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    docs: dict[tuple[str, str], int] = defaultdict(int)
    read = 0
    for r in records:
        read += 1
        if isinstance(r, PaymentRecord):
            if measure != "payments" or r.status != "Processed" or r.effective_date not in period:
                continue
        elif measure != "invoiced" or r.status != "Posted" or r.invoice_date not in period:
            continue
        sums[(r.account_id, r.currency)] += r.amount
        docs[(r.account_id, r.currency)] += 1
    totals = per_currency((currency, value) for (_, currency), value in sums.items())
    top = []
    for currency in sorted(totals, key=lambda c: (-totals[c], c)):  # amounts in different currencies never compare
        ranked = sorted(((k, v) for k, v in sums.items() if k[1] == currency), key=lambda kv: (-kv[1], kv[0]))
        top += [TopCustomer(account_of(accounts, account_id, currency), currency, value, docs[(account_id, currency)],
                            (value * 100 / totals[currency]).quantize(Decimal("0.1")) if totals[currency] else ZERO)
                for (account_id, _), value in ranked[:limit]]
    return TopCustomersReport(period, measure, top, totals, len(sums), read)
