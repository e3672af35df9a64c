"""Invoice schedules and ad hoc bill runs in the copilot: the read tool (`list_invoice_schedules`), the two
`propose_*` tools (they only draft; nothing is written to Zuora) and the answer template.

An account, a subscription (`A-S…`) or an order (`O-…`) number leads to the account's schedules;
for a subscription or an order, only the schedules that name it are shown.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bot.actions.drafts import Drafts
from bot.copilot.propose import _proposed
from bot.copilot.results import AccountRef, Citation, ProposalResult, Result
from bot.copilot.tools import AccountKey, ToolContext, ToolError, tool
from bot.money import count, money
from bot.zuora.errors import ZuoraNotFound
from bot.zuora.schedules import Schedules

if TYPE_CHECKING:
    from bot.copilot.answers import Answer

__all__ = ["SchedulesResult", "list_invoice_schedules", "propose_bill_run", "propose_invoice_schedule_run",
           "render_schedules"]

_SCHEDULE = re.compile(r"^(IS-\d{3,12}|[0-9a-f]{32})$", re.IGNORECASE)
_KEY = re.compile(r"^(A\d{3,12}|A-S\d{3,12}|O-\d{3,12}|[0-9a-f]{32})$", re.IGNORECASE)


def _schedule_key(value: str) -> str:
    if not _SCHEDULE.fullmatch(value.strip()):
        raise ValueError("not an invoice schedule number (IS-00000003) or a 32-hex id")
    return value.strip().upper() if value.strip().upper().startswith("IS-") else value.strip()


def _owner_key(value: str) -> str:
    if not _KEY.fullmatch(value.strip()):
        raise ValueError("not an account (A00000010), subscription (A-S00000010) or order (O-00000001) number")
    return value.strip().upper() if not re.fullmatch(r"[0-9a-f]{32}", value.strip()) else value.strip()


ScheduleKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_schedule_key)]
OwnerKey = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_owner_key)]


class ItemInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    position: int
    name: str
    run_date: date | None
    amount: Decimal
    percentage: Decimal | None = None
    status: str
    invoice_id: str | None = None
    invoice_number: str | None = None
    due: bool = False


class ScheduleInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    schedule_id: str
    number: str
    status: str
    currency: str
    total: Decimal
    billed: Decimal
    next_run_date: date | None
    orders: list[str]
    items: list[ItemInfo]


class SchedulesResult(Result):
    """`list_invoice_schedules`: the schedules, their items and what is due or overdue."""

    account: AccountRef
    asked: str
    today: date
    schedules: list[ScheduleInfo]

    def citations(self) -> list[Citation]:
        return [self.account.cite()]


class SchedulesArgs(BaseModel):
    key: OwnerKey = Field(description="Account (A00000010), subscription (A-S00000010) or order (O-00000001) number")


@tool(SchedulesArgs)
def list_invoice_schedules(ctx: ToolContext, args: SchedulesArgs) -> SchedulesResult:
    """List the invoice schedules of an account (or of a subscription or order): each item's date, amount or
    percentage, status and billing document, and which items are due or overdue to run."""
    client, key = ctx.client, args.key
    if key.startswith("A-S"):
        account_key, match = str(client.subscriptions.get(key).account_id or ""), key
    elif key.startswith("O-"):
        try:
            order = client.get(f"/v1/orders/{key}")
        except ZuoraNotFound:
            raise ToolError("not_found", f"I couldn't find order {key} in Zuora; try its account number.") from None
        subs = [str(s.get("subscriptionNumber")) for s in (order.get("order") or {}).get("subscriptions") or []]
        account_key, match = str((order.get("order") or {}).get("existingAccountNumber") or ""), key
        if not account_key and subs:
            account_key = str(client.subscriptions.get(subs[0]).account_id or "")
    else:
        account_key, match = key, ""
    if not account_key:
        raise ToolError("not_found", f"I couldn't find the account of {key}.")
    account = client.accounts.get(account_key)
    today = ctx.today()
    out = []
    numbers: dict[str, str] = {}

    def invoice_number(invoice_id: str | None) -> str | None:
        if not invoice_id or len(numbers) >= 20:
            return None
        if invoice_id not in numbers:
            numbers[invoice_id] = client.invoices.get(invoice_id).invoice_number
        return numbers[invoice_id]

    for s in Schedules(client).of_account(account.account_id):
        if match and match not in s.orders and match not in s.subscriptions():
            continue
        currency = s.currency or account.currency
        items = [ItemInfo(position=n, name=i.name or "item", run_date=i.run_date, amount=i.billable,
                          percentage=i.percentage, status=i.status, invoice_id=i.invoice_id,
                          invoice_number=invoice_number(i.invoice_id),
                          due=i.status == "Pending" and i.run_date is not None and i.run_date <= today)
                 for n, i in enumerate(s.items, start=1)]
        out.append(ScheduleInfo(schedule_id=s.schedule_id, number=s.number, status=s.status, currency=currency,
                                total=s.total_amount or Decimal(0), billed=s.billed_amount or Decimal(0),
                                next_run_date=s.next_run_date, orders=s.orders, items=items))
    return SchedulesResult(account=AccountRef(account_id=account.account_id, account_number=account.account_number,
                                              name=account.name), asked=key, today=today, schedules=out)


class ScheduleRunArgs(BaseModel):
    schedule: ScheduleKey = Field(description="Invoice schedule number, e.g. IS-00000003")
    which: Literal["item", "next", "due"] = Field(description="`item` (give `item`), `next` (the next pending item) "
                                                              "or `due` (all pending items up to today)")
    item: int | None = Field(default=None, ge=1, le=50, description="The item's position (1-based) when which=item")
    post_invoice: bool = Field(default=True, description="Post the Draft invoice once it exists")
    reason: str = Field(default="requested in Slack", min_length=1, max_length=300)


@tool(ScheduleRunArgs)
def propose_invoice_schedule_run(ctx: ToolContext, args: ScheduleRunArgs) -> ProposalResult:
    """Propose billing invoice-schedule items now (one item, the next one, or every pending item up to today).
    Only drafts a proposal that an approver must approve in Slack; nothing changes in Zuora now."""
    if args.which == "item" and args.item is None:
        raise ToolError("invalid", "Which item? Say its number, e.g. `run schedule IS-00000003 item 2`.")
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).invoice_schedule_run(
        args.schedule, args.which, args.item, args.reason, post_invoice=args.post_invoice))


class BillRunArgs(BaseModel):
    account: AccountKey = Field(description="Account number, e.g. A00000010")
    target_date: date | None = Field(default=None, description="Bill every period that starts by this date; "
                                                               "omit for today")
    post_invoice: bool = Field(default=True, description="Post the Draft invoice(s) once they exist")
    reason: str = Field(default="requested in Slack", min_length=1, max_length=300)


@tool(BillRunArgs)
def propose_bill_run(ctx: ToolContext, args: BillRunArgs) -> ProposalResult:
    """Propose an ad hoc bill run for one account now (optionally up to a target date). Only drafts a proposal
    for approval; nothing changes in Zuora now."""
    try:
        return _proposed(lambda: Drafts(ctx.client, ctx.today()).bill_run(args.account, args.target_date,
                                                                           args.reason, post_invoice=args.post_invoice))
    except ZuoraNotFound:
        raise ToolError("not_found", f"I couldn't find account {args.account}.") from None


def render_schedules(r: SchedulesResult) -> Answer:
    from bot.copilot.answers import _answer

    head = f"*{r.account.name}* ({r.account.account_number})"
    if not r.schedules:
        scope = f" for {r.asked}" if r.asked != r.account.account_number else ""
        return _answer("list_invoice_schedules", r, [f"{head} has no invoice schedules{scope}."],
                       [f"bill {r.account.account_number} now"])
    lines = [f"{head}: {count(len(r.schedules), 'invoice schedule')}, as of {r.today}"]
    follow_ups = []
    for s in r.schedules:
        lines.append(f"*{s.number}* · {s.status} · total {money(s.total, s.currency)}, billed "
                     f"{money(s.billed, s.currency)}" + (f" · orders {', '.join(s.orders[:5])}" if s.orders else ""))
        for i in s.items:
            share = f" ({i.percentage.normalize():f}%)" if i.percentage is not None else ""
            doc = f", invoice {i.invoice_number or i.invoice_id}" if i.invoice_id else ""
            flag = ""
            if i.due:
                flag = " · *overdue*" if i.run_date and i.run_date < r.today else " · *due today*"
            lines.append(f"  {i.position}. {i.name}: {money(i.amount, s.currency)}{share}, run date "
                         f"{i.run_date or 'none'}, {i.status}{doc}{flag}")
        due = [i for i in s.items if i.due]
        if s.status == "Paused":
            lines.append("  Paused: Zuora cannot execute it until it is resumed.")
        elif due:
            lines.append(f"  {count(len(due), 'item')} due or overdue to run.")
            follow_ups.append(f"run schedule {s.number} all pending items up to today")
        elif any(i.status == "Pending" for i in s.items):
            follow_ups.append(f"run schedule {s.number} the next item")
    return _answer("list_invoice_schedules", r, lines, follow_ups[:3])
