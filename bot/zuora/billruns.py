"""Bill runs: the v1 bill run and the Object Query billing run (which carries the counts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import AliasChoices, Field

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.errors import ZuoraNotFound
from bot.zuora.keys import segment

__all__ = ["BillRun", "BillRuns"]


class BillRun(ZuoraModel):
    """A bill run. Counts are only present when read through Object Query."""

    bill_run_id: str = Field(alias="id")
    bill_run_number: str = Field(validation_alias=AliasChoices("billRunNumber", "billingRunNumber"))
    name: str | None = None
    status: str
    target_date: date | None = Field(default=None, alias="targetDate")
    invoice_date: date | None = Field(default=None, alias="invoiceDate")
    number_of_invoices: int | None = Field(default=None, alias="numberOfInvoices")
    number_of_accounts: int | None = Field(default=None, alias="numberOfAccounts")
    number_of_credit_memos: int | None = Field(default=None, alias="numberOfCreditMemos")
    error_message: str | None = Field(default=None, alias="errorMessage")
    executed_date: str | None = Field(default=None, alias="executedDate")
    updated_date: str | None = Field(default=None, alias="updatedDate")


class BillRuns(Resource):
    """`client.bill_runs`."""

    def get(self, bill_run_id: str) -> BillRun:
        """A bill run by **id** (v1 takes no number here; see `by_number`)."""
        return BillRun.model_validate(self._client.get(f"/v1/bill-runs/{segment(bill_run_id)}"))

    def by_number(self, bill_run_number: str) -> BillRun:
        """A bill run with its counts, by number (`BR-…`), through Object Query."""
        body = self._client.get("/object-query/billing-runs",
                                query_params(filters=[f"billingrunnumber.EQ:{bill_run_number}"]))
        rows = body.get("data") or []
        if not rows:
            raise ZuoraNotFound(f"no bill run {bill_run_number!r} in Zuora", status=404,
                                method="GET", path="/object-query/billing-runs")
        return BillRun.model_validate(rows[0])

    def query(self, *, filters: list[str], sort: str | None = "targetdate.DESC",
              page_size: int = 50) -> Iterator[BillRun]:
        """Stream bill runs, e.g. `status.EQ:Completed` and `updateddate.GT:…` for a poller."""
        params = query_params(filters=filters, sort=sort)
        for row in self._client.iter_query("/object-query/billing-runs", params, page_size=page_size):
            yield BillRun.model_validate(row)
