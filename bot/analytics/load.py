"""Reading the book from Zuora for the portfolio questions: Object Query pages, streamed.

Every request goes through the `ZuoraClient` (so through the process-wide Zuora concurrency budget,
its retries and deadline). Records are turned into `portfolio` records one page at a time and
handed on as an iterator: the aggregation keeps only its accumulators. A `Trace` records each query
exactly as sent (path, filters, sort, expands) and the number of records and pages read; answers
print it as their evidence.

Errors: a `ZuoraError` raised mid-stream propagates unchanged (the caller shows no partial table).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlencode

from bot.analytics.periods import Period
from bot.analytics.portfolio import AccountInfo, InvoiceRecord, PaymentRecord
from bot.zuora import ZuoraClient
from bot.zuora.base import query_params

__all__ = ["Loader", "Trace"]

PAGE_SIZE = 99


@dataclass
class Trace:
    """The queries an answer ran and what they read."""

    queries: list[str] = field(default_factory=list)
    records: int = 0
    pages: int = 0

    def add(self, path: str, params: list[tuple[str, Any]]) -> int:
        self.queries.append(f"GET {path}?{unquote(urlencode(params))}" if params else f"GET {path}")
        return len(self.queries) - 1


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


class Loader:
    """Streams accounts, invoices and payments for one answer, recording a `Trace`."""

    def __init__(self, client: ZuoraClient, *, page_size: int = PAGE_SIZE) -> None:
        self.zuora = client
        self.page_size = page_size
        self.trace = Trace()

    def _stream(self, path: str, filters: list[str], *, sort: str | None = None,
                expand: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        params = query_params(filters=filters, sort=sort, expand=expand)
        self.trace.add(path, params)
        for count, row in enumerate(self.zuora.iter_query(path, params, page_size=self.page_size)):
            if count % self.page_size == 0:
                self.trace.pages += 1
            self.trace.records += 1
            yield row

    def accounts(self) -> dict[str, AccountInfo]:
        """Every account with its bill-to country and state (one small record per account)."""
        out = {}
        for row in self._stream("/object-query/accounts", [], expand=("billto",)):
            bill_to = row.get("billTo") or {}
            out[row["id"]] = AccountInfo(row["id"], row["accountNumber"], row.get("name") or "", row.get("currency")
                                         or "", bill_to.get("country") or None, bill_to.get("state") or None)
        return out

    def invoices(self, filters: list[str], *, paid_on: dict[str, date] | None = None) -> Iterator[InvoiceRecord]:
        """Posted invoices matching `filters` (Object Query syntax, e.g. `balance.GT:0`)."""
        for row in self._stream("/object-query/invoices", ["status.EQ:Posted", *filters], sort="invoicedate.ASC"):
            yield InvoiceRecord(
                invoice_id=row["id"], invoice_number=row["invoiceNumber"], account_id=row["accountId"],
                currency=row.get("currency") or "", invoice_date=_date(row["invoiceDate"]) or date.min,
                due_date=_date(row.get("dueDate")), amount=_money(row.get("amount")),
                balance=_money(row.get("balance")), status=row.get("status") or "",
                paid_on=(paid_on or {}).get(row["id"]))

    def payments(self, filters: list[str], *, applications: bool = False) -> Iterator[tuple[PaymentRecord, list[
            tuple[str, date]]]]:
        """Payments matching `filters`, each with its applications `(invoice id, date)` when asked."""
        expand = ("paymentapplications",) if applications else ()
        for row in self._stream("/object-query/payments", filters, sort="effectivedate.ASC", expand=expand):
            record = PaymentRecord(
                payment_id=row["id"], payment_number=row.get("paymentNumber") or row.get("number") or "",
                account_id=row["accountId"], currency=row.get("currency") or "",
                effective_date=_date(row["effectiveDate"]) or date.min, amount=_money(row.get("amount")),
                status=row.get("status") or "", gateway_code=row.get("gatewayResponseCode"),
                gateway_message=row.get("gatewayResponse"))
            apps = [(a["invoiceId"], _date(a.get("effectiveDate")) or record.effective_date)
                    for a in row.get("paymentApplications") or [] if a.get("invoiceId")]
            yield record, apps

    # -- the inputs of each question ---------------------------------------------------------------

    def open_invoices(self) -> Iterator[InvoiceRecord]:
        return self.invoices(["balance.GT:0"])

    def invoices_due(self, period: Period) -> Iterator[InvoiceRecord]:
        """Invoices due in `period`, each with the date its last payment was applied (`paid_on`)."""
        paid_on: dict[str, date] = {}
        for _, apps in self.payments(["status.EQ:Processed", f"effectivedate.GE:{period.start}"], applications=True):
            for invoice_id, day in apps:
                if day > paid_on.get(invoice_id, date.min):
                    paid_on[invoice_id] = day
        return self.invoices([f"duedate.GE:{period.start}", f"duedate.LT:{period.end}"], paid_on=paid_on)

    def payments_for_leakage(self, period: Period) -> Iterator[PaymentRecord]:
        """Failed payments of the period, then processed payments from its start on (possible recoveries)."""
        yield from (p for p, _ in self.payments(
            ["status.EQ:Error", f"effectivedate.GE:{period.start}", f"effectivedate.LT:{period.end}"]))
        yield from (p for p, _ in self.payments(["status.EQ:Processed", f"effectivedate.GE:{period.start}"]))

    def values(self, period: Period, measure: str) -> Iterator[InvoiceRecord | PaymentRecord]:
        if measure == "payments":
            return (p for p, _ in self.payments(
                ["status.EQ:Processed", f"effectivedate.GE:{period.start}", f"effectivedate.LT:{period.end}"]))
        return self.invoices([f"invoicedate.GE:{period.start}", f"invoicedate.LT:{period.end}"])
