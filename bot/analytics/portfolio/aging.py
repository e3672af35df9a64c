"""Receivables aging (pure): the open balance of posted invoices by days past due on `today`, per currency
and per account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.analytics.portfolio.records import ZERO, AccountInfo, InvoiceRecord, account_of

__all__ = ["AGING_BUCKETS", "AgingAccount", "AgingReport", "aging", "bucket_of"]

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


def bucket_of(due: date | None, today: date) -> str:
    """The aging bucket of an open invoice due on `due`."""
    days = (today - due).days if due else 0
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


@dataclass(frozen=True)
class AgingAccount:
    account: AccountInfo
    currency: str
    buckets: dict[str, Decimal]
    oldest_days: int
    oldest_invoice: str

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


@dataclass(frozen=True)
class AgingReport:
    as_of: date
    totals: dict[str, dict[str, Decimal]]
    """currency -> bucket -> open balance (every bucket present)."""
    counts: dict[str, dict[str, int]]
    """currency -> bucket -> open invoices."""
    accounts: list[AgingAccount]
    """Every account with an open balance, oldest money first."""
    invoices_read: int

    def oldest(self) -> list[AgingAccount]:
        """The accounts with money in the two oldest buckets (61-90, 90+)."""
        return [a for a in self.accounts if a.buckets["61-90"] or a.buckets["90+"]]


def aging(invoices: Iterable[InvoiceRecord], accounts: dict[str, AccountInfo], today: date) -> AgingReport:
    """Open balances of posted invoices by bucket, per currency and per account."""
    totals: dict[str, dict[str, Decimal]] = {}
    counts: dict[str, dict[str, int]] = {}
    per: dict[tuple[str, str], dict[str, Decimal]] = {}
    oldest: dict[tuple[str, str], tuple[int, str]] = {}
    read = 0
    for inv in invoices:
        read += 1
        if inv.status != "Posted" or inv.balance <= 0:
            continue
        bucket = bucket_of(inv.due_date, today)
        totals.setdefault(inv.currency, dict.fromkeys(AGING_BUCKETS, ZERO))[bucket] += inv.balance
        counts.setdefault(inv.currency, dict.fromkeys(AGING_BUCKETS, 0))[bucket] += 1
        key = (inv.account_id, inv.currency)
        per.setdefault(key, dict.fromkeys(AGING_BUCKETS, ZERO))[bucket] += inv.balance
        days = max(0, (today - inv.due_date).days) if inv.due_date else 0
        if key not in oldest or days > oldest[key][0]:
            oldest[key] = (days, inv.invoice_number)
    rows = [AgingAccount(account_of(accounts, account_id, currency), currency, buckets, *oldest[(account_id, currency)])
            for (account_id, currency), buckets in per.items()]
    rows.sort(key=lambda a: (-a.oldest_days, -a.total, a.account.account_number))
    return AgingReport(today, totals, counts, rows, read)
