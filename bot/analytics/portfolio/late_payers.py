"""Late payers (pure): accounts whose invoices due in a period were paid after the due date or are still
open past it, ranked by average days late."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.analytics.periods import Period
from bot.analytics.portfolio.records import AccountInfo, InvoiceRecord, account_of

__all__ = ["LatePayer", "LatePayersReport", "late_payers"]


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
        info = account_of(accounts, account_id, "")
        payers.append(LatePayer(info, len(rows), due[account_id], average, worst[0], worst[1],
                                sum(o for _, _, o in rows)))
    payers.sort(key=lambda p: (-p.average_days_late, -p.worst_days_late, p.account.account_number))
    return LatePayersReport(period, today, payers, sum(due.values()), sum(len(r) for r in late.values()), read)
