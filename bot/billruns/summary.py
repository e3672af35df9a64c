"""Bill-run summaries (pure): invoices streamed in, one summary out, in memory that does not grow with them.

`pair_with_previous()` walks the bill run's invoices and the previous bill run's invoices, both
sorted by account id, side by side, so each invoice meets its account's previous amount without a
lookup table. `Summarizer` keeps counts and totals per currency, and only the top increases and a
few examples (heaps and short lists), whatever the number of invoices.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import count

from pydantic import BaseModel

__all__ = ["BillRunSummary", "Increase", "InvoiceRow", "Summarizer", "pair_with_previous"]


@dataclass(frozen=True)
class InvoiceRow:
    """What a summary needs of one invoice."""

    invoice_number: str
    account_id: str
    account_number: str
    account_name: str
    amount: Decimal
    currency: str
    invoice_date: date


class Increase(BaseModel):
    invoice_number: str
    account_number: str
    account_name: str
    currency: str
    amount: Decimal
    previous: Decimal
    increase: Decimal


class BillRunSummary(BaseModel):
    bill_run_number: str
    bill_run_id: str
    status: str
    target_date: date | None
    invoices: int
    accounts: int
    credit_memos: int
    totals: dict[str, Decimal]
    previous_number: str | None = None
    previous_invoices: int | None = None
    previous_totals: dict[str, Decimal] = {}
    increases: list[Increase] = []
    zero_amount: int = 0
    zero_examples: list[str] = []
    first_invoices: int = 0
    first_examples: list[str] = []
    errors: list[str] = []


def pair_with_previous(current: Iterable[InvoiceRow], previous: Iterable[InvoiceRow],
                       on_previous: Callable[[InvoiceRow], None] | None = None
                       ) -> Iterator[tuple[InvoiceRow, Decimal | None]]:
    """Each current invoice with its account's latest amount in `previous` (None if absent); both sorted by
    account id. `on_previous` sees every previous invoice once (for the previous run's totals)."""
    prev_iter = iter(previous)
    pending = next(prev_iter, None)
    account: str | None = None
    latest: InvoiceRow | None = None
    for row in current:
        if row.account_id != account:
            account, latest = row.account_id, None
            while pending is not None and pending.account_id <= row.account_id:
                if on_previous:
                    on_previous(pending)
                if pending.account_id == row.account_id and (latest is None
                                                             or pending.invoice_date >= latest.invoice_date):
                    latest = pending
                pending = next(prev_iter, None)
        yield row, latest.amount if latest else None
    while pending is not None:  # the rest of the previous run still counts in its totals
        if on_previous:
            on_previous(pending)
        pending = next(prev_iter, None)


@dataclass
class Summarizer:
    """Feed it `(invoice, previous amount)`; `summary()` at the end. Memory: O(top + examples).

    `position` (the invoice's place in the run, default: the order of `add` calls) decides ties
    between equal increases and which examples are kept, so rows may be added out of order (e.g.
    once their account's earlier invoice is known) with the same result, as long as each
    account's rows are added together.
    """

    top: int = 5
    examples: int = 5
    invoices: int = 0
    accounts: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)
    _heap: list[tuple[Decimal, int, Increase]] = field(default_factory=list)
    _tie: Iterator[int] = field(default_factory=count)
    _last_account: str | None = None
    zero_amount: int = 0
    _zero: list[tuple[int, str]] = field(default_factory=list)
    first_invoices: int = 0
    _first: list[tuple[int, str]] = field(default_factory=list)

    @property
    def zero_examples(self) -> list[str]:
        return [label for _, label in self._zero]

    @property
    def first_examples(self) -> list[str]:
        return [label for _, label in self._first]

    def _example(self, kept: list[tuple[int, str]], position: int, label: str) -> None:
        if len(kept) < self.examples or position < kept[-1][0]:
            bisect.insort(kept, (position, label))
            del kept[self.examples:]

    def add(self, row: InvoiceRow, previous: Decimal | None, *, first: bool = False,
            position: int | None = None) -> None:
        position = next(self._tie) if position is None else position
        self.invoices += 1
        if row.account_id != self._last_account:
            self.accounts += 1
            self._last_account = row.account_id
        self.totals[row.currency] = self.totals.get(row.currency, Decimal(0)) + row.amount
        label = f"{row.invoice_number} ({row.account_name})"
        if row.amount == 0:
            self.zero_amount += 1
            self._example(self._zero, position, label)
        if first:
            self.first_invoices += 1
            self._example(self._first, position, label)
        if previous is not None and row.amount > previous:
            item = Increase(invoice_number=row.invoice_number, account_number=row.account_number,
                            account_name=row.account_name, currency=row.currency, amount=row.amount,
                            previous=previous, increase=row.amount - previous)
            entry = (item.increase, -position, item)  # the larger increase, then the earlier invoice, wins
            if len(self._heap) < self.top:
                heapq.heappush(self._heap, entry)
            elif entry[:2] > self._heap[0][:2]:
                heapq.heapreplace(self._heap, entry)

    def increases(self) -> list[Increase]:
        return [e[2] for e in sorted(self._heap, key=lambda e: (-e[0], -e[1]))]
