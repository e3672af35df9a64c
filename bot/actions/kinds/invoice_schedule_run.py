"""Invoice schedule run: bill one or more pending items of an invoice schedule now (zuora-api-2.md §20).

One item (a named one, or the next pending one) is `POST /v1/invoice-schedules/{id}/execute` with
that item's id, so Zuora runs exactly the item the approver saw; "all pending items up to today" is
one ad hoc bill run filtered on the schedule (`POST /v1/bill-runs`, filters take ids) with today as
target date. Either answer is a bill run: the outcome names it, and `bot.actions.follow` follows it
to the invoice (and posts the Draft invoice when `post_invoice`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, Snapshot, ZuoraRequest, tagged
from bot.money import count, money
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraNotFound
from bot.zuora.schedules import InvoiceSchedule, Schedules

__all__ = ["InvoiceScheduleRun", "ScheduleLine", "draft"]

Mode = Literal["item", "next", "due"]


class ScheduleLine(BaseModel):
    """A schedule item as the card shows it."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    position: int
    name: str
    run_date: date | None = None
    amount: Decimal


class InvoiceScheduleRun(ProposalBase):
    """Bill invoice-schedule items now; the bill run is then followed to the (posted) invoice."""

    title: ClassVar[str] = "invoice schedule run"

    kind: Literal["invoice_schedule_run"] = "invoice_schedule_run"
    schedule_id: str
    schedule_number: str
    mode: Mode
    items: list[ScheduleLine]
    target_date: date
    post_invoice: bool = True
    orders: list[str] = []

    def _limit_words(self) -> str:
        return f"the pending items of {self.schedule_number}"

    @property
    def target(self) -> str:
        return self.schedule_number

    def balance_after(self) -> Decimal | None:
        return None  # the invoice's tax and the time it posts are Zuora's: the card shows the balance now

    def _what(self) -> str:
        return ", ".join(f"item {i.position} “{i.name}” {money(i.amount, self.currency)}" for i in self.items)

    def sentence(self) -> str:
        then = "post the invoice" if self.post_invoice else "leave the invoice as a Draft for review"
        return (f"Bill {self.schedule_number} for {self.account_number} now: {self._what()} "
                f"(total {money(self.amount, self.currency)}), then {then}.")

    def card_sections(self) -> list[tuple[str, str]]:
        lines = [f"{i.position}. {i.name}: {money(i.amount, self.currency)}, run date "
                 f"{i.run_date or 'none (runs only when asked)'}" for i in self.items]
        how = ("one ad hoc bill run over the schedule, target date " if self.mode == "due" and len(self.items) > 1
               else "Zuora's execute for exactly this item, target date ")
        return [("What will be billed", "\n".join(lines)),
                ("How", f"{how}{self.target_date}; the bill run is followed until the invoice exists"
                        + ("; the Draft invoice is then posted." if self.post_invoice else "."))]

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        if len(self.items) == 1:
            return ZuoraRequest(method="POST", path=f"/v1/invoice-schedules/{self.schedule_id}/execute",
                                body={"scheduleItemId": self.items[0].item_id})
        return ZuoraRequest(method="POST", path="/v1/bill-runs", body={
            "name": tagged(f"Slack: {self.schedule_number} items due by {self.target_date}", ref, 100),
            "billRunFilters": [{"filterType": "InvoiceSchedule", "accountId": self.account_id,
                                "invoiceScheduleId": self.schedule_id}],
            "targetDate": self.target_date.isoformat(), "invoiceDate": self.target_date.isoformat(),
            "autoPost": False, "autoEmail": False, "noEmailForZeroAmountInvoice": True})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        number = str(body.get("billRunNumber") or body.get("id"))
        return Outcome("succeeded", f"Bill run {number} started for {self.schedule_number} "
                                    f"({count(len(self.items), 'item')}); following it to the invoice.",
                       document=number,
                       zuora_ids={"bill_run_id": str(body.get("id")), "bill_run_number": number})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        from bot.actions.kinds.bill_run import find_run

        return find_run(client, self.request(self.target_date, ref), ref, self.outcome)

    def reread(self, client: ZuoraClient, now: datetime | None = None, today: date | None = None) -> Snapshot:
        return _snapshot(client, Schedules(client).get(self.schedule_id), self.items)

    def again(self, drafts: DraftContext) -> InvoiceScheduleRun:
        position = self.items[0].position if self.mode == "item" else None
        return draft(drafts, self.schedule_number, self.mode, position, self.reason, post_invoice=self.post_invoice)


def _snapshot(client: ZuoraClient, schedule: InvoiceSchedule, lines: list[ScheduleLine]) -> Snapshot:
    """The account balance, the schedule's status and the chosen items' statuses: a change makes the card stale
    (a second click after the item ran, a schedule paused meanwhile)."""
    account = client.accounts.get(schedule.account_id)
    states = {i.item_id: i.status for i in schedule.items}
    items = ", ".join(f"item {line.position} {states.get(line.item_id, 'gone')}" for line in lines)
    return Snapshot(object_kind="account", object_id=account.account_id, balance=account.balance,
                    status=f"{schedule.number} {schedule.status}; {items}")


def draft(ctx: DraftContext, number: str, mode: Mode, position: int | None, reason: str, *,
          post_invoice: bool = True) -> InvoiceScheduleRun:
    """`mode` "item" (with `position`, 1-based), "next" (the earliest pending item) or "due" (every pending item
    whose run date has come)."""
    try:
        schedule = Schedules(ctx.client).get(number)
    except ZuoraNotFound:
        raise ProposalError(f"I couldn't find invoice schedule {number!r}.") from None
    if schedule.status == "Paused":
        raise ProposalError(f"{schedule.number} is paused: Zuora cannot execute a paused schedule. Resume it in "
                            f"Zuora first.")
    pending = schedule.pending()
    if not pending:
        raise ProposalError(f"{schedule.number} has no pending item ({schedule.status}); nothing to bill.")
    if mode == "item":
        if position is None or not 1 <= position <= len(schedule.items):
            raise ProposalError(f"{schedule.number} has {count(len(schedule.items), 'item')}; "
                                f"there is no item {position}.")
        item = schedule.items[position - 1]
        if item.status != "Pending":
            billed = f" (invoice {item.invoice_id})" if item.invoice_id else ""
            raise ProposalError(f"Item {position} of {schedule.number} is already {item.status}{billed}; "
                                f"nothing to bill.")
        if item is not pending[0]:
            first = pending[0]
            raise ProposalError(f"Zuora runs a schedule's items in order: item {schedule.position(first.item_id)} "
                                f"(“{first.name}”, run date {first.run_date or 'none'}) is still pending. Run that "
                                f"one first, or ask for “the next item”.")
        chosen = [item]
    elif mode == "next":
        chosen = pending[:1]
    else:
        chosen = schedule.due(ctx.today)
        if not chosen:
            nxt = pending[0].run_date
            raise ProposalError(f"No item of {schedule.number} is due by {ctx.today} (the next run date is "
                                f"{nxt or 'not set'}); ask for “the next item” to bill it early.")
    account = ctx.client.accounts.get(schedule.account_id)
    currency = schedule.currency or account.currency
    lines = [ScheduleLine(item_id=i.item_id, position=schedule.position(i.item_id), name=i.name or "item",
                          run_date=i.run_date, amount=i.billable) for i in chosen]
    total = sum((line.amount for line in lines), Decimal(0))
    if total <= 0:
        raise ProposalError(f"The chosen item(s) of {schedule.number} bill nothing ({money(total, currency)}).")
    target = max([ctx.today, *(line.run_date for line in lines if line.run_date)]) if len(lines) == 1 else ctx.today
    total_amount, billed = schedule.total_amount or Decimal(0), schedule.billed_amount or Decimal(0)
    evidence = [f"{schedule.number}: {schedule.status}, total {money(total_amount, currency)}, billed "
                f"{money(billed, currency)}, next run date {schedule.next_run_date or 'none'}"]
    if schedule.orders:
        evidence.append(f"Orders: {', '.join(schedule.orders[:10])}")
    return InvoiceScheduleRun(
        account_id=account.account_id, account_number=account.account_number, account_name=account.name,
        currency=currency, amount=total, reason=reason.strip() or "requested in Slack", evidence=evidence,
        limit=total, snapshot=_snapshot(ctx.client, schedule, lines), schedule_id=schedule.schedule_id,
        schedule_number=schedule.number, mode=mode, items=lines, target_date=target, post_invoice=post_invoice,
        orders=schedule.orders)
