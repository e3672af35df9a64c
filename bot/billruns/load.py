"""Load a bill run from Zuora and summarise it, streaming its invoices page by page (and the previous run's).

Both runs' invoices come sorted by account id, so they pair up without a lookup table. An invoice
whose account is not in the previous run costs one request to tell a first invoice from an
account that skipped a run.

    bot.zuora.errors.ZuoraError     Zuora could not be read
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import islice

from bot.billruns.summary import BillRunSummary, InvoiceRow, Summarizer, pair_with_previous
from bot.zuora import BillRun, ZuoraClient

__all__ = ["find_bill_run", "summarize"]


def find_bill_run(client: ZuoraClient, key: str) -> BillRun:
    """A bill run with its counts, by number (`BR-…`) or id."""
    if key.upper().startswith("BR-"):
        return client.bill_runs.by_number(key.upper())
    return client.bill_runs.by_number(client.bill_runs.get(key).bill_run_number)


def _rows(client: ZuoraClient, bill_run_number: str) -> Iterator[InvoiceRow]:
    for inv in client.invoices.of_bill_run(bill_run_number, sort="accountid.ASC", expand=("account",)):
        account = inv.account or {}
        yield InvoiceRow(invoice_number=inv.invoice_number, account_id=inv.account_id,
                         account_number=str(account.get("accountNumber") or "?"),
                         account_name=str(account.get("name") or "?"), amount=inv.amount, currency=inv.currency,
                         invoice_date=inv.invoice_date)


def summarize(client: ZuoraClient, run: BillRun, *, top: int = 5) -> BillRunSummary:
    previous = next(islice(client.bill_runs.query(
        filters=["status.EQ:Completed", f"targetdate.LT:{run.target_date}"], sort="targetdate.DESC",
        page_size=1), 1), None) if run.target_date else None
    previous_totals: dict[str, Decimal] = {}
    previous_count = [0]

    def count_previous(row: InvoiceRow) -> None:
        previous_count[0] += 1
        previous_totals[row.currency] = previous_totals.get(row.currency, Decimal(0)) + row.amount

    summarizer = Summarizer(top=top)
    before = _rows(client, previous.bill_run_number) if previous else iter(())
    for row, previous_amount in pair_with_previous(_rows(client, run.bill_run_number), before, count_previous):
        first = False
        if previous_amount is None:
            earlier = client.invoices.before(row.account_id, row.invoice_date)
            first = earlier is None
            previous_amount = earlier.amount if earlier else None
        summarizer.add(row, previous_amount, first=first)
    errors = [run.error_message] if run.error_message else []
    return BillRunSummary(
        bill_run_number=run.bill_run_number, bill_run_id=run.bill_run_id, status=run.status,
        target_date=run.target_date, invoices=summarizer.invoices, accounts=summarizer.accounts,
        credit_memos=run.number_of_credit_memos or 0, totals=summarizer.totals,
        previous_number=previous.bill_run_number if previous else None,
        previous_invoices=previous_count[0] if previous else None, previous_totals=previous_totals,
        increases=summarizer.increases(), zero_amount=summarizer.zero_amount,
        zero_examples=summarizer.zero_examples, first_invoices=summarizer.first_invoices,
        first_examples=summarizer.first_examples, errors=errors)
