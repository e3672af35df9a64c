"""Invoice schedules (zuora-api-2.md §20): the v1 schedule with its items, and the schedules of an account.

`Schedules(client)` reads them; the writes (execute, bill runs, posting) are proposals' requests, sent
by `bot.actions.executor` with an Idempotency-Key.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field

from bot.zuora.base import Resource, ZuoraModel, query_params
from bot.zuora.keys import segment

__all__ = ["InvoiceSchedule", "ScheduleItem", "Schedules"]


class ScheduleItem(ZuoraModel):
    item_id: str = Field(alias="id")
    name: str | None = None
    amount: Decimal | None = None
    percentage: Decimal | None = None
    actual_amount: Decimal | None = Field(default=None, alias="actualAmount")
    run_date: date | None = Field(default=None, alias="runDate")
    status: str
    """`Pending` → `Executing` → `Processed` (or `Canceled`)."""
    invoice_id: str | None = Field(default=None, alias="invoiceId")
    credit_memo_id: str | None = Field(default=None, alias="creditMemoId")

    @property
    def billable(self) -> Decimal:
        """What the item bills: its actual amount (it drops after charge removals), else its amount."""
        return self.actual_amount if self.actual_amount is not None else (self.amount or Decimal(0))


class InvoiceSchedule(ZuoraModel):
    schedule_id: str = Field(alias="id")
    number: str
    account_id: str = Field(alias="accountId")
    status: str
    """`Pending`, `PartiallyProcessed`, `Paused`, `FullyProcessed`."""
    currency: str | None = None
    """In Zuora's docs sample, not in the SDK model: callers fall back to the account's currency."""
    orders: list[str] = []
    notes: str | None = None
    next_run_date: date | None = Field(default=None, alias="nextRunDate")
    total_amount: Decimal | None = Field(default=None, alias="totalAmount")
    billed_amount: Decimal | None = Field(default=None, alias="billedAmount")
    unbilled_amount: Decimal | None = Field(default=None, alias="unbilledAmount")
    items: list[ScheduleItem] = Field(default=[], alias="scheduleItems")
    specific_subscriptions: list[dict[str, object]] = Field(default=[], alias="specificSubscriptions")

    def pending(self) -> list[ScheduleItem]:
        return [i for i in self.items if i.status == "Pending"]

    def due(self, today: date) -> list[ScheduleItem]:
        """Pending items whose run date has come (due today or overdue)."""
        return [i for i in self.pending() if i.run_date is not None and i.run_date <= today]

    def position(self, item_id: str) -> int:
        """The item's 1-based place in the schedule (how people name it: "item 2")."""
        return next(n for n, i in enumerate(self.items, start=1) if i.item_id == item_id)

    def subscriptions(self) -> list[str]:
        return [str(s.get("subscriptionKey")) for s in self.specific_subscriptions if s.get("subscriptionKey")]


class Schedules(Resource):
    """Invoice schedules: by number or id, and those of an account."""

    def get(self, key: str) -> InvoiceSchedule:
        return InvoiceSchedule.model_validate(self._client.get(f"/v1/invoice-schedules/{segment(key)}"))

    def of_account(self, account_id: str) -> list[InvoiceSchedule]:
        """Every schedule of the account (Object Query for the ids, then v1 for the items)."""
        params = query_params(filters=[f"accountid.EQ:{account_id}"], sort="number.ASC")
        rows = list(self._client.iter_query("/object-query/invoice-schedules", params))
        return [self.get(str(row["id"])) for row in rows]
