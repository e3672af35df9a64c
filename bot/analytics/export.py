"""Reports as tables, CSV text and PNG charts.

`table_of` and `to_csv` are pure. `chart_png` draws with matplotlib (Agg backend, no display),
imported on first use only, so answers that draw nothing never load it; it returns PNG bytes and
writes nothing.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.analytics.portfolio import (
    AGING_BUCKETS,
    AgingReport,
    HistoryReport,
    LatePayersReport,
    LeakageReport,
    TopCustomersReport,
    TrendReport,
)

__all__ = ["Report", "Table", "chart_png", "chart_spec", "csv_text", "table_of", "to_csv"]

Report = AgingReport | LatePayersReport | LeakageReport | TopCustomersReport | TrendReport | HistoryReport
Cell = str | int | Decimal | date | None
_CSV_INJECTION = ("=", "+", "-", "@", "\t", "\r")
_CHART_LOCK = threading.Lock()


@dataclass(frozen=True)
class Table:
    """Every row of an answer, as the CSV holds it."""

    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def table_of(report: Report) -> Table:
    """The full result of a report as one table (one row per account or group)."""
    if isinstance(report, AgingReport):
        return Table("aging", ("account_number", "account_name", "currency", *AGING_BUCKETS, "total",
                               "oldest_days_past_due", "oldest_invoice"),
                     [(a.account.account_number, a.account.name, a.currency, *(a.buckets[b] for b in AGING_BUCKETS),
                       a.total, a.oldest_days, a.oldest_invoice) for a in report.accounts])
    if isinstance(report, LatePayersReport):
        return Table("late_payers", ("account_number", "account_name", "late_invoices", "invoices_due",
                                     "average_days_late", "worst_days_late", "worst_invoice", "still_open"),
                     [(p.account.account_number, p.account.name, p.late_invoices, p.invoices_due,
                       p.average_days_late, p.worst_days_late, p.worst_invoice, p.open_late) for p in report.payers])
    if isinstance(report, TrendReport):
        return Table("bill_run_trend", ("bill_run", "target_date", "currency", "invoices", "total"),
                     [(r.run.number, r.run.target_date, r.currency, r.invoices, r.total) for r in report.rows])
    if isinstance(report, HistoryReport):
        return Table("invoice_history", ("invoice_number", "invoice_date", "due_date", "currency", "amount", "balance",
                                         "paid_on", "days_late"),
                     [(i.invoice_number, i.invoice_date, i.due_date, i.currency, i.amount, i.balance, i.paid_on,
                       report.days_late(i)) for i in report.invoices])
    if isinstance(report, LeakageReport):
        return Table(f"failed_payments_by_{report.group_by}", (report.group_by, "currency", "failed", "failed_count",
                                                               "recovered", "leaked", "leaked_count", "accounts"),
                     [(g.key, g.currency, g.failed, g.failed_count, g.recovered, g.leaked, g.leaked_count, g.accounts)
                      for g in report.groups])
    ranks: dict[str, int] = {}
    rows: list[tuple[Cell, ...]] = []
    for c in report.top:
        ranks[c.currency] = ranks.get(c.currency, 0) + 1
        rows.append((ranks[c.currency], c.account.account_number, c.account.name, c.currency, c.value, c.documents,
                     c.share))
    return Table(f"top_customers_by_{report.measure}", ("rank", "account_number", "account_name", "currency",
                                                         report.measure, "documents", "share_percent"), rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_CSV_INJECTION):
        return "'" + text  # a Zuora name like "=HYPERLINK(...)" must not become a spreadsheet formula
    return text


def to_csv(table: Table) -> str:
    """RFC 4180 CSV with a header row; amounts as plain decimals; text that a spreadsheet would run is quoted."""
    return csv_text(table.columns, table.rows)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV of `rows` under `columns` (see `to_csv`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def chart_spec(report: Report) -> dict[str, Any] | None:
    """What to draw (pure, JSON-able): `title`, `unit`, `labels`, `values` (decimal strings), `vertical`;
    None when there is nothing to draw. Amounts in different currencies are never on one chart."""
    vertical = False
    if isinstance(report, AgingReport):
        if not report.totals:
            return None
        currency = max(report.totals, key=lambda c: (sum(report.totals[c].values()), c))
        title, unit, vertical = f"Receivables aging as of {report.as_of} ({currency})", currency, True
        rows = [(b, report.totals[currency][b]) for b in AGING_BUCKETS]
    elif isinstance(report, LatePayersReport):
        title, unit = f"Average days paid late, {report.period.label}", "days"
        rows = [(p.account.name, p.average_days_late) for p in report.payers[:15]]
    elif isinstance(report, TrendReport):
        if not report.rows:
            return None
        totals: dict[str, Decimal] = {}
        for r in report.rows:
            totals[r.currency] = totals.get(r.currency, Decimal(0)) + r.total
        currency = max(totals, key=lambda c: (totals[c], c))
        title, unit, vertical = f"Bill-run totals, last {report.runs} runs ({currency})", currency, True
        rows = [(r.run.number, r.total) for r in report.rows if r.currency == currency]
    elif isinstance(report, HistoryReport):
        if not report.invoices:
            return None
        currency = report.invoices[0].currency
        title, unit, vertical = f"Invoices of {report.account.name}, {report.period.label} ({currency})", currency, True
        rows = [(str(i.invoice_date), i.amount) for i in reversed(report.invoices) if i.currency == currency]
    elif isinstance(report, LeakageReport):
        if not report.groups:
            return None
        currency = max(report.failed_totals, key=lambda c: (report.failed_totals[c], c))
        title, unit = f"Failed payments not recovered by {report.group_by}, {report.period.label} ({currency})", \
            currency
        vertical = report.group_by in ("month", "quarter")
        rows = [(g.key, g.leaked) for g in report.groups if g.currency == currency][:20]
    else:
        if not report.top:
            return None
        currency = report.top[0].currency  # the currency with the largest total
        title, unit = f"Top customers by {report.measure}, {report.period.label} ({currency})", currency
        rows = [(c.account.name, c.value) for c in report.top if c.currency == currency][:20]
    if not rows:
        return None
    return {"title": title, "unit": unit, "vertical": vertical, "labels": [str(label)[:28] for label, _ in rows],
            "values": [str(value) for _, value in rows]}


def chart_png(spec: dict[str, Any]) -> bytes:
    """A bar chart of `chart_spec(...)` as PNG bytes (float is used for drawing only)."""
    import matplotlib  # lazily: only answers with a chart pay for it

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    labels = [str(label) for label in spec["labels"]]
    values = [float(v) for v in spec["values"]]
    with _CHART_LOCK:  # no pyplot global state; Figure objects are still drawn one at a time
        fig = Figure(figsize=(8, max(3.0, 0.35 * len(labels) + 1.5)), dpi=100)
        ax = fig.add_subplot()
        if spec.get("vertical"):
            ax.bar(labels, values, color="#2f6db5")
            ax.set_ylabel(spec["unit"])
            ax.tick_params(axis="x", labelrotation=30)
        else:
            ax.barh(labels[::-1], values[::-1], color="#2f6db5")
            ax.set_xlabel(spec["unit"])
        ax.set_title(spec["title"], fontsize=10)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    return buffer.getvalue()
