"""Portfolio aggregations (pure, no I/O): records in, tables out. Money is `Decimal` with its currency;
dates are `date`s; every function takes the tenant's `today` rather than reading a clock.

Each function consumes an iterable once (records may stream from Zuora page by page) and keeps only
per-group accumulators, except where a group needs its members (late payers keep one entry per
late invoice of the period, leakage keeps the failed payments of the period until recovery is known).

Definitions (what the answers say):
- **aging**: open balance of posted invoices by days past due on `today`: current (not yet due),
  1-30, 31-60, 61-90, 90+; per currency; plus the accounts with money in the two oldest buckets.
- **late payers**: invoices *due* in the period; an invoice is late when it was paid in full after its
  due date (days late = last payment date - due date) or is still open after it (today - due date).
  Accounts ranked by average days late, then worst.
- **leakage**: failed (`Error`) payments dated in the period that no later processed payment of the
  same account and currency recovered (each processed payment dated on or after a failure recovers
  at most one failure, oldest first, when it is at least as large), grouped by month, quarter,
  bill-to country or state, or decline code.
- **bill-run trend**: per bill run (newest N completed), the count and sum of its posted invoices
  per currency, oldest run first.
- **invoice history**: one account's posted invoices in the period, with how late each was paid.
- **top customers**: per account, the sum of processed payments (`payments`) or of posted invoice
  amounts (`invoiced`) dated in the period; ranked within each currency (amounts in different
  currencies are never compared), the currency with the largest total first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from bot.analytics.periods import Period

__all__ = ["BillRunInfo", "HistoryReport", "TrendReport", "TrendRow", "bill_run_trend", "invoice_history",
           "AGING_BUCKETS", "GROUPINGS", "MEASURES", "AccountInfo", "AgingAccount", "AgingReport",
           "InvoiceRecord", "LatePayer", "LatePayersReport", "LeakageGroup", "LeakageReport", "PaymentRecord",
           "TopCustomer", "TopCustomersReport", "aging", "bucket_of", "group_key", "late_payers", "leakage",
           "top_customers"]

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
GROUPINGS = ("month", "quarter", "country", "state", "code")
MEASURES = ("payments", "invoiced")
Grouping = Literal["month", "quarter", "country", "state", "code"]
Measure = Literal["payments", "invoiced"]
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


# -- aging -----------------------------------------------------------------------------------------

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
    rows = [AgingAccount(_account(accounts, account_id, currency), currency, buckets, *oldest[(account_id, currency)])
            for (account_id, currency), buckets in per.items()]
    rows.sort(key=lambda a: (-a.oldest_days, -a.total, a.account.account_number))
    return AgingReport(today, totals, counts, rows, read)


def _account(accounts: dict[str, AccountInfo], account_id: str, currency: str) -> AccountInfo:
    return accounts.get(account_id) or AccountInfo(account_id, account_id, "(unknown account)", currency)


# -- late payers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LatePayer:
    account: AccountInfo
    late_invoices: int
    invoices_due: int
    average_days_late: Decimal
    worst_days_late: int
    worst_invoice: str
    open_late: int
    """Late invoices still unpaid."""


@dataclass(frozen=True)
class LatePayersReport:
    period: Period
    as_of: date
    payers: list[LatePayer]
    invoices_due: int
    late_invoices: int
    invoices_read: int


def late_payers(invoices: Iterable[InvoiceRecord], accounts: dict[str, AccountInfo], period: Period,
                today: date) -> LatePayersReport:
    """Accounts with invoices due in `period` that were paid late or are still open past due."""
    due: dict[str, int] = defaultdict(int)
    late: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
    read = 0
    for inv in invoices:
        read += 1
        if inv.status != "Posted" or inv.due_date is None or inv.due_date not in period or inv.amount <= 0:
            continue
        if inv.due_date > today:
            continue
        due[inv.account_id] += 1
        if inv.balance > 0:
            days, still_open = (today - inv.due_date).days, True
        elif inv.paid_on is not None:
            days, still_open = (inv.paid_on - inv.due_date).days, False
        else:
            continue  # settled without a payment date (credit memo, write-off): not a late payment
        if days > 0:
            late[inv.account_id].append((days, inv.invoice_number, still_open))
    payers = []
    for account_id, rows in late.items():
        worst = max(rows)
        average = (Decimal(sum(d for d, _, _ in rows)) / len(rows)).quantize(Decimal("0.1"))
        info = accounts.get(account_id) or AccountInfo(account_id, account_id, "(unknown account)", "")
        payers.append(LatePayer(info, len(rows), due[account_id], average, worst[0], worst[1],
                                sum(o for _, _, o in rows)))
    payers.sort(key=lambda p: (-p.average_days_late, -p.worst_days_late, p.account.account_number))
    return LatePayersReport(period, today, payers, sum(due.values()), sum(len(r) for r in late.values()), read)


# -- failed-payment leakage ------------------------------------------------------------------------

@dataclass(frozen=True)
class LeakageGroup:
    key: str
    currency: str
    failed: Decimal
    failed_count: int
    recovered: Decimal
    leaked: Decimal
    leaked_count: int
    accounts: int


@dataclass(frozen=True)
class LeakageReport:
    period: Period
    group_by: str
    groups: list[LeakageGroup]
    totals: dict[str, Decimal]
    """currency -> leaked amount."""
    failed_totals: dict[str, Decimal]
    payments_read: int
    unrecovered: list[PaymentRecord] = field(default_factory=list)


def group_key(grouping: str, payment: PaymentRecord, account: AccountInfo | None) -> str:
    """The group a failed payment falls in."""
    day = payment.effective_date
    if grouping == "month":
        return f"{day:%Y-%m}"
    if grouping == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if grouping == "country":
        return (account.country if account else None) or "(no country)"
    if grouping == "state":
        return (account.state if account else None) or "(no state)"
    if grouping == "code":
        return f"{payment.gateway_code or '?'} {payment.gateway_message or ''}".strip()
    raise ValueError(f"unsupported grouping {grouping!r}; supported: {', '.join(GROUPINGS)}")


def leakage(payments: Iterable[PaymentRecord], accounts: dict[str, AccountInfo], period: Period,
            group_by: str) -> LeakageReport:
    """Failed payments in `period` not recovered by a later processed payment, grouped by `group_by`.

    `payments` must give the failed payments first, then the processed ones dated from the period's start on
    (including after it: they can recover its failures); only processed payments of accounts with a failure
    are kept.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"unsupported grouping {group_by!r}; supported: {', '.join(GROUPINGS)}")
    failed: dict[tuple[str, str], list[PaymentRecord]] = defaultdict(list)
    processed: dict[tuple[str, str], list[PaymentRecord]] = defaultdict(list)
    read = 0
    for p in payments:
        read += 1
        key = (p.account_id, p.currency)
        if p.status == "Error" and p.effective_date in period:
            failed[key].append(p)
        elif p.status == "Processed" and p.effective_date >= period.start and key in failed:
            processed[key].append(p)  # only accounts with failures: memory follows the failures, not the book
    leaked: list[PaymentRecord] = []
    recovered: list[PaymentRecord] = []
    for key, fails in failed.items():
        fails.sort(key=lambda p: (p.effective_date, p.payment_number))
        pool = sorted(processed.get(key, []), key=lambda p: (p.effective_date, p.payment_number))
        used: set[str] = set()
        for f in fails:
            match = next((p for p in pool if p.payment_id not in used and p.effective_date >= f.effective_date
                          and p.amount >= f.amount), None)
            if match is None:
                leaked.append(f)
            else:
                used.add(match.payment_id)
                recovered.append(f)
    groups: dict[tuple[str, str], dict[str, object]] = {}
    for f, is_leak in [(f, False) for f in recovered] + [(f, True) for f in leaked]:
        g = groups.setdefault((group_key(group_by, f, accounts.get(f.account_id)), f.currency), {
            "failed": ZERO, "failed_count": 0, "recovered": ZERO, "leaked": ZERO, "leaked_count": 0,
            "accounts": set()})
        g["failed"] += f.amount  # type: ignore[operator]
        g["failed_count"] += 1  # type: ignore[operator]
        if is_leak:
            g["leaked"] += f.amount  # type: ignore[operator]
            g["leaked_count"] += 1  # type: ignore[operator]
            g["accounts"].add(f.account_id)  # type: ignore[attr-defined]
        else:
            g["recovered"] += f.amount  # type: ignore[operator]
    rows = [LeakageGroup(key, currency, g["failed"], g["failed_count"], g["recovered"], g["leaked"],  # type: ignore[arg-type]
                         g["leaked_count"], len(g["accounts"]))  # type: ignore[arg-type]
            for (key, currency), g in groups.items()]
    if group_by in ("month", "quarter"):
        rows.sort(key=lambda r: (r.key, r.currency))
    else:
        rows.sort(key=lambda r: (-r.leaked, r.key, r.currency))
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    failed_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        totals[r.currency] += r.leaked
        failed_totals[r.currency] += r.failed
    leaked.sort(key=lambda p: (-p.amount, p.payment_number))
    return LeakageReport(period, group_by, rows, dict(totals), dict(failed_totals), read, leaked)


# -- top customers ---------------------------------------------------------------------------------

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
            value = r.amount
        else:
            if measure != "invoiced" or r.status != "Posted" or r.invoice_date not in period:
                continue
            value = r.amount
        sums[(r.account_id, r.currency)] += value
        docs[(r.account_id, r.currency)] += 1
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (_, currency), value in sums.items():
        totals[currency] += value
    top = []
    for currency in sorted(totals, key=lambda c: (-totals[c], c)):  # amounts in different currencies never compare
        ranked = sorted(((k, v) for k, v in sums.items() if k[1] == currency), key=lambda kv: (-kv[1], kv[0]))
        top += [TopCustomer(_account(accounts, account_id, currency), currency, value, docs[(account_id, currency)],
                            (value * 100 / totals[currency]).quantize(Decimal("0.1")) if totals[currency] else ZERO)
                for (account_id, _), value in ranked[:limit]]
    return TopCustomersReport(period, measure, top, dict(totals), len(sums), read)


# -- bill-run trend and one account's invoice history ----------------------------------------------

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
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    open_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for inv in rows:
        totals[inv.currency] += inv.amount
        open_totals[inv.currency] += inv.balance
    return HistoryReport(account, period, rows, dict(totals), dict(open_totals), today)
