"""Reading the book from Zuora for the portfolio questions: Object Query pages, streamed.

Every request goes through the `ZuoraClient` (so through the process-wide Zuora concurrency budget,
its retries and deadline). Records are turned into `portfolio` records one page at a time and
handed on as an iterator: the aggregation keeps only its accumulators. A `Trace` records each query
exactly as sent (path, filters, sort, expands) and the number of records and pages read; answers
print it as their evidence.

Errors: a `ZuoraError` raised mid-stream propagates unchanged (the caller shows no partial table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any
from urllib.parse import unquote, urlencode

from bot.analytics.periods import Period
from bot.analytics.portfolio import AccountInfo, BillRunInfo, InvoiceRecord, PaymentRecord
from bot.zuora import ZuoraClient
from bot.zuora.base import query_params

__all__ = ["Loader", "SqlLoader", "Trace", "loader_for"]

PAGE_SIZE = 99
_CENT = Decimal("0.01")


@dataclass
class Trace:
    """The queries an answer ran and what they read."""

    queries: list[str] = field(default_factory=list)
    records: int = 0
    pages: int = 0

    def add(self, path: str, params: list[tuple[str, Any]]) -> int:
        self.queries.append(f"GET {path}?{unquote(urlencode(params))}" if params else f"GET {path}")
        return len(self.queries) - 1


_ID = re.compile(r"^[0-9a-f]{32}$")
_RUN = re.compile(r"^BR-\d{1,12}$")


def _check_id(value: str) -> str:
    """A Zuora id (32 hex) read back from Zuora, checked before it goes into a filter or a query."""
    if not _ID.match(value):
        raise ValueError("not a Zuora id")
    return value


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _money(value: Any) -> Decimal:
    """An amount with at least two decimals (JSON's `1800.0` reads as `1800.00`; sub-cent digits are kept)."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value or 0))
    exponent = amount.as_tuple().exponent
    return amount.quantize(_CENT) if isinstance(exponent, int) and exponent > -2 else amount


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
                paid_on=(paid_on or {}).get(row["id"]), source_id=row.get("sourceId"))

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

    def bill_runs(self, count: int) -> list[BillRunInfo]:
        """The newest `count` completed bill runs."""
        rows = self._stream("/object-query/billing-runs", ["status.EQ:Completed"], sort="targetdate.DESC")
        return [BillRunInfo(r["billingRunNumber"], _date(r.get("targetDate"))) for r in islice(rows, count)]

    def run_invoices(self, runs: list[BillRunInfo]) -> Iterator[InvoiceRecord]:
        if not runs:
            return iter(())
        return self.invoices([f"sourceid.IN:[{','.join(r.number for r in runs)}]"])

    def account_invoices(self, account_id: str, period: Period) -> Iterator[InvoiceRecord]:
        """One account's invoices dated in `period`, each with the date it was paid in full."""
        _check_id(account_id)
        paid_on: dict[str, date] = {}
        for _, apps in self.payments([f"accountid.EQ:{account_id}", "status.EQ:Processed"], applications=True):
            for invoice_id, day in apps:
                paid_on[invoice_id] = max(day, paid_on.get(invoice_id, date.min))
        return self.invoices([f"accountid.EQ:{account_id}", f"invoicedate.GE:{period.start}",
                              f"invoicedate.LT:{period.end}"], paid_on=paid_on)

    def values(self, period: Period, measure: str) -> Iterator[InvoiceRecord | PaymentRecord]:
        if measure == "payments":
            return (p for p, _ in self.payments(
                ["status.EQ:Processed", f"effectivedate.GE:{period.start}", f"effectivedate.LT:{period.end}"]))
        return self.invoices([f"invoicedate.GE:{period.start}", f"invoicedate.LT:{period.end}"])


# -- Data Query (ZUORA_DATA_QUERY=true): the same records from SQL jobs ---------------------------------

_SQL = {
    "accounts": "SELECT a.id, a.accountnumber, a.name, a.currency, c.country, c.state FROM account a "
                "LEFT JOIN contact c ON c.id = a.billtoid",
    "runs": "SELECT billingrunnumber, targetdate FROM billingrun WHERE status = 'Completed' "
            "ORDER BY targetdate DESC LIMIT {count:d}",
    "invoices": "SELECT id, invoicenumber, accountid, currency, invoicedate, duedate, amount, balance, status, "
                "sourceid FROM invoice WHERE status = 'Posted'{where} ORDER BY invoicedate, invoicenumber",
    "paid_on": "SELECT pa.invoiceid, max(pa.effectivedate) AS paidon FROM paymentapplication pa "
               "JOIN payment p ON p.id = pa.paymentid WHERE p.status = 'Processed' AND p.effectivedate >= {start} "
               "GROUP BY pa.invoiceid",
    "payments": "SELECT id, paymentnumber, accountid, currency, effectivedate, amount, status, gatewayresponsecode, "
                "gatewayresponse FROM payment WHERE status = {status}{where} ORDER BY effectivedate, paymentnumber",
}


def _d(day: date) -> str:
    """A date as a Trino literal; only `date` objects get here, so nothing typed reaches the SQL text."""
    if not isinstance(day, date):
        raise TypeError("dates only")
    return f"DATE '{day.isoformat()}'"


_STATUSES = {"Processed": "'Processed'", "Error": "'Error'"}


class SqlLoader(Loader):
    """Like `Loader`, from Data Query jobs: one job per input, rows streamed from its JSON Lines result.

    The SQL comes from the templates above; the only values put into it are `date`s (rendered by `_d`)
    and fixed status words, so nothing a user or a model typed ever becomes SQL.
    """

    def _rows(self, sql: str) -> Iterator[dict[str, Any]]:
        self.trace.queries.append(sql)
        self.trace.pages += 1  # one job
        for row in self.zuora.data_query.rows(sql):
            self.trace.records += 1
            yield row

    def accounts(self) -> dict[str, AccountInfo]:
        return {r["id"]: AccountInfo(r["id"], r["accountnumber"], r.get("name") or "", r.get("currency") or "",
                                     r.get("country") or None, r.get("state") or None)
                for r in self._rows(_SQL["accounts"])}

    def invoices(self, filters: list[str], *, paid_on: dict[str, date] | None = None) -> Iterator[InvoiceRecord]:
        raise NotImplementedError("SqlLoader reads invoices through _invoices")

    def _invoices(self, where: str, paid_on: dict[str, date] | None = None) -> Iterator[InvoiceRecord]:
        for r in self._rows(_SQL["invoices"].format(where=where)):
            yield InvoiceRecord(
                invoice_id=r["id"], invoice_number=r["invoicenumber"], account_id=r["accountid"],
                currency=r.get("currency") or "", invoice_date=_date(r["invoicedate"]) or date.min,
                due_date=_date(r.get("duedate")), amount=_money(r.get("amount")), balance=_money(r.get("balance")),
                status=r.get("status") or "", paid_on=(paid_on or {}).get(r["id"]), source_id=r.get("sourceid"))

    def _payments(self, status: str, where: str) -> Iterator[PaymentRecord]:
        for r in self._rows(_SQL["payments"].format(status=_STATUSES[status], where=where)):
            yield PaymentRecord(
                payment_id=r["id"], payment_number=r.get("paymentnumber") or "", account_id=r["accountid"],
                currency=r.get("currency") or "", effective_date=_date(r["effectivedate"]) or date.min,
                amount=_money(r.get("amount")), status=r.get("status") or "",
                gateway_code=r.get("gatewayresponsecode"), gateway_message=r.get("gatewayresponse"))

    def open_invoices(self) -> Iterator[InvoiceRecord]:
        return self._invoices(" AND balance > 0")

    def invoices_due(self, period: Period) -> Iterator[InvoiceRecord]:
        paid_on = {r["invoiceid"]: _date(r["paidon"]) or date.min
                   for r in self._rows(_SQL["paid_on"].format(start=_d(period.start)))}
        return self._invoices(f" AND duedate >= {_d(period.start)} AND duedate < {_d(period.end)}", paid_on)

    def payments_for_leakage(self, period: Period) -> Iterator[PaymentRecord]:
        yield from self._payments("Error", f" AND effectivedate >= {_d(period.start)} AND effectivedate < "
                                           f"{_d(period.end)}")
        yield from self._payments("Processed", f" AND effectivedate >= {_d(period.start)}")

    def bill_runs(self, count: int) -> list[BillRunInfo]:
        return [BillRunInfo(r["billingrunnumber"], _date(r.get("targetdate")))
                for r in self._rows(_SQL["runs"].format(count=int(count)))]

    def run_invoices(self, runs: list[BillRunInfo]) -> Iterator[InvoiceRecord]:
        if not runs:
            return iter(())
        numbers = ", ".join(f"'{r.number}'" for r in runs if _RUN.match(r.number))
        return self._invoices(f" AND sourceid IN ({numbers})")

    def account_invoices(self, account_id: str, period: Period) -> Iterator[InvoiceRecord]:
        key = f"'{_check_id(account_id)}'"
        paid_on = {r["invoiceid"]: _date(r["paidon"]) or date.min for r in self._rows(
            "SELECT pa.invoiceid, max(pa.effectivedate) AS paidon FROM paymentapplication pa JOIN payment p "
            f"ON p.id = pa.paymentid WHERE p.status = 'Processed' AND p.accountid = {key} GROUP BY pa.invoiceid")}
        return self._invoices(f" AND accountid = {key} AND invoicedate >= {_d(period.start)} AND invoicedate < "
                              f"{_d(period.end)}", paid_on)

    def values(self, period: Period, measure: str) -> Iterator[InvoiceRecord | PaymentRecord]:
        where = "effectivedate" if measure == "payments" else "invoicedate"
        bounds = f" AND {where} >= {_d(period.start)} AND {where} < {_d(period.end)}"
        if measure == "payments":
            return self._payments("Processed", bounds)
        return self._invoices(bounds)


def loader_for(client: ZuoraClient, *, data_query: bool) -> Loader:
    """The loader the tenant is configured for (`ZUORA_DATA_QUERY`)."""
    return SqlLoader(client) if data_query else Loader(client)
