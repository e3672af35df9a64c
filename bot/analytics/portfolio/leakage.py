"""Failed-payment leakage (pure): failed payments of a period that no later processed payment recovered,
grouped by month, quarter, bill-to country or state, or decline code."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot.analytics.periods import Period
from bot.analytics.portfolio.records import ZERO, AccountInfo, PaymentRecord, per_currency

__all__ = ["GROUPINGS", "LeakageGroup", "LeakageReport", "group_key", "leakage"]

GROUPINGS = ("month", "quarter", "country", "state", "code")
Grouping = Literal["month", "quarter", "country", "state", "code"]


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
    totals = per_currency((r.currency, r.leaked) for r in rows)
    failed_totals = per_currency((r.currency, r.failed) for r in rows)
    leaked.sort(key=lambda p: (-p.amount, p.payment_number))
    return LeakageReport(period, group_by, rows, totals, failed_totals, read, leaked)
