"""Load a bill run from Zuora and summarise it, streaming its invoices page by page (and the previous run's).

Both runs' invoices come sorted by account id, so they pair up without a lookup table. Each run is
read on its own thread, a couple of pages ahead of the summary (a cursor walk is sequential, so
the two walks overlap instead of alternating). Invoices whose account is not in the previous run
are resolved in batches: one Object Query with an `accountid.IN:[…]` filter tells, for up to
`batch` accounts at once, a first invoice from an account that skipped a run. Only those accounts'
rows wait for their batch (the summary takes rows out of order, by position), in a window of
bounded size, so memory stays flat however many invoices there are.

    bot.zuora.errors.ZuoraError     Zuora could not be read
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

from bot.billruns.summary import BillRunSummary, InvoiceRow, Summarizer, pair_with_previous
from bot.zuora import BillRun, Invoice, ZuoraClient
from bot.zuora.base import query_params

__all__ = ["find_bill_run", "latest_before", "ReadAhead", "summarize"]

BATCH = 50
"""Accounts per `IN` filter (about 1.8 kB of URL with 32-character ids)."""
WINDOW = 2500
"""Held rows (of accounts missing from the previous run) after which their batch is sent anyway."""
_PAGE = 99
_DONE = object()


def find_bill_run(client: ZuoraClient, key: str) -> BillRun:
    """A bill run with its counts, by number (`BR-…`) or id."""
    if key.upper().startswith("BR-"):
        return client.bill_runs.by_number(key.upper())
    return client.bill_runs.by_number(client.bill_runs.get(key).bill_run_number)


def _rows(client: ZuoraClient, bill_run_number: str) -> Iterator[InvoiceRow]:
    for inv in client.invoices.of_bill_run(bill_run_number, page_size=_PAGE, sort="accountid.ASC",
                                           expand=("account",)):
        account = inv.account or {}
        yield InvoiceRow(invoice_number=inv.invoice_number, account_id=inv.account_id,
                         account_number=str(account.get("accountNumber") or "?"),
                         account_name=str(account.get("name") or "?"), amount=inv.amount, currency=inv.currency,
                         invoice_date=inv.invoice_date)


class ReadAhead(Iterator[Any]):
    """Iterate `items` on a thread, at most `size` items ahead of the consumer; errors re-raised in order.

    `close()` (or running out) stops the thread; nothing is left running after the consumer leaves.
    """

    def __init__(self, items: Iterable[Any], size: int = 2 * _PAGE, *, name: str = "read-ahead") -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._fill, args=(iter(items),), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self, items: Iterator[Any]) -> None:
        try:
            for item in items:
                if not self._put((True, item)):
                    return
        except BaseException as exc:
            self._put((False, exc))
            return
        self._put((False, _DONE))

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        ok, item = self._queue.get()
        if ok:
            return item
        self._finished = True
        self._thread.join()
        if item is _DONE:
            raise StopIteration
        raise item

    def close(self) -> None:
        """Stop reading ahead (the thread ends within a moment)."""
        self._finished = True
        self._stop.set()
        self._thread.join(5)


def latest_before(client: ZuoraClient, account_ids: Iterable[str], day: date) -> dict[str, Invoice | None]:
    """Each account's latest posted invoice dated before `day` (None: it has none), `IN`-filtered in batches.

    One request per batch in the usual case; when a page is full, the accounts it did not settle are
    asked again (each full page settles at least one account, so this ends).
    """
    wanted = list(dict.fromkeys(account_ids))
    found: dict[str, Invoice | None] = {}
    for start in range(0, len(wanted), BATCH):
        open_ids = wanted[start:start + BATCH]
        while open_ids:
            params = query_params(filters=[f"accountid.IN:[{','.join(open_ids)}]", f"invoicedate.LT:{day}",
                                           "status.EQ:Posted"], sort="invoicedate.DESC")
            body = client.get("/object-query/invoices", [*params, ("pageSize", _PAGE)])
            for row in body.get("data") or []:
                invoice = Invoice.model_validate(row)
                if invoice.account_id not in found and invoice.invoice_date < day:
                    found[invoice.account_id] = invoice
            open_ids = [a for a in open_ids if a not in found] if body.get("nextPage") else []
        for account_id in wanted[start:start + BATCH]:
            found.setdefault(account_id, None)
    return found


class _Pending:
    """Invoices whose account is not in the previous run, held until a batch of such accounts is resolved.

    The others go to the summary at once: with each row's position in the run, the summary does not
    depend on the order rows arrive in, so only the held rows cost memory.
    """

    def __init__(self, client: ZuoraClient, summarizer: Summarizer, *, batch: int, window: int) -> None:
        self.client, self.summarizer = client, summarizer
        self.batch, self.window = batch, window
        self.rows: list[tuple[int, InvoiceRow]] = []
        self.missing: dict[date, dict[str, None]] = {}
        self._accounts = 0

    def add(self, position: int, row: InvoiceRow, previous: Decimal | None) -> None:
        if previous is not None:
            self.summarizer.add(row, previous, position=position)
            return
        accounts = self.missing.setdefault(row.invoice_date, {})
        if row.account_id not in accounts:
            if self._accounts >= self.batch:
                self.flush()  # an account's rows stay together: flush before a new account, never inside one
                accounts = self.missing.setdefault(row.invoice_date, {})
            accounts[row.account_id] = None
            self._accounts += 1
        self.rows.append((position, row))
        if len(self.rows) >= self.window and self._accounts > 1:
            self.flush(keep=row.account_id)

    def flush(self, keep: str | None = None) -> None:
        """Resolve the held accounts (all but `keep`, whose rows may still be coming) and add their rows."""
        held = [(p, r) for p, r in self.rows if r.account_id == keep]
        ready = [(p, r) for p, r in self.rows if r.account_id != keep]
        wanted = {day: [a for a in accounts if a != keep] for day, accounts in self.missing.items()}
        earlier = {day: latest_before(self.client, accounts, day) for day, accounts in wanted.items() if accounts}
        for position, row in ready:
            invoice = earlier[row.invoice_date][row.account_id]
            self.summarizer.add(row, invoice.amount if invoice else None, first=invoice is None, position=position)
        self.rows = held
        self.missing = {held[0][1].invoice_date: {keep: None}} if held and keep else {}
        self._accounts = len(self.missing)


def summarize(client: ZuoraClient, run: BillRun, *, top: int = 5, batch: int = BATCH,
              window: int = WINDOW) -> BillRunSummary:
    """Summarise `run` against the completed bill run before it (both streamed; see the module docstring)."""
    current = ReadAhead(_rows(client, run.bill_run_number), name="billrun-current")
    before: ReadAhead | None = None
    try:
        previous = next(islice(client.bill_runs.query(
            filters=["status.EQ:Completed", f"targetdate.LT:{run.target_date}"], sort="targetdate.DESC",
            page_size=1), 1), None) if run.target_date else None
        if previous:
            before = ReadAhead(_rows(client, previous.bill_run_number), name="billrun-previous")
        previous_totals: dict[str, Decimal] = {}
        previous_count = [0]

        def count_previous(row: InvoiceRow) -> None:
            previous_count[0] += 1
            previous_totals[row.currency] = previous_totals.get(row.currency, Decimal(0)) + row.amount

        summarizer = Summarizer(top=top)
        pending = _Pending(client, summarizer, batch=batch, window=window)
        pairs = pair_with_previous(current, before or iter(()), count_previous)
        for position, (row, previous_amount) in enumerate(pairs):
            pending.add(position, row, previous_amount)
        pending.flush()
    finally:
        current.close()
        if before is not None:
            before.close()
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
