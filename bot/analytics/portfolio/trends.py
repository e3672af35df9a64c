"""Invoices over time (pure): the totals of the latest bill runs per currency, and one account's invoice
history in a period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.analytics.periods import Period
from bot.analytics.portfolio.records import ZERO, AccountInfo, InvoiceRecord, per_currency

__all__ = ["BillRunInfo", "HistoryReport", "TrendReport", "TrendRow", "bill_run_trend", "invoice_history"]


@dataclass(frozen=True)
class BillRunInfo:
    number: str
    target_date: date | None


@dataclass(frozen=True)
class TrendRow:
    run: BillRunInfo
    currency: str
    invoices: int
    total: Decimal


@dataclass(frozen=True)
class TrendReport:
    rows: list[TrendRow]
    runs: int
    invoices_read: int


def bill_run_trend(runs: list[BillRunInfo], invoices: Iterable[InvoiceRecord]) -> TrendReport:
    """Totals per currency of each run's posted invoices, oldest run first."""
    sums: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    read = 0
    for inv in invoices:
        read += 1
        if inv.status == "Posted" and inv.source_id:
            sums[(inv.source_id, inv.currency)] += inv.amount
            counts[(inv.source_id, inv.currency)] += 1
    ordered = sorted(runs, key=lambda r: (r.target_date or date.min, r.number))
    rows = [TrendRow(run, currency, counts[(run.number, currency)], sums[(run.number, currency)])
            for run in ordered for currency in sorted({c for n, c in sums if n == run.number})]
    return TrendReport(rows, len(runs), read)


@dataclass(frozen=True)
class HistoryReport:
    account: AccountInfo
    period: Period
    invoices: list[InvoiceRecord]
    totals: dict[str, Decimal]
    open_totals: dict[str, Decimal]
    as_of: date

    def days_late(self, inv: InvoiceRecord) -> int:
        if inv.due_date is None:
            return 0
        if inv.balance > 0:
            return max(0, (self.as_of - inv.due_date).days)
        return max(0, (inv.paid_on - inv.due_date).days) if inv.paid_on else 0


def invoice_history(account: AccountInfo, invoices: Iterable[InvoiceRecord], period: Period,
                    today: date) -> HistoryReport:
    """One account's posted invoices dated in `period`, newest first, with totals per currency."""
    rows = [i for i in invoices if i.status == "Posted" and i.invoice_date in period and
            i.account_id == account.account_id]
    rows.sort(key=lambda i: (i.invoice_date, i.invoice_number), reverse=True)
    totals = per_currency((inv.currency, inv.amount) for inv in rows)
    open_totals = per_currency((inv.currency, inv.balance) for inv in rows)
    return HistoryReport(account, period, rows, totals, open_totals, today)
