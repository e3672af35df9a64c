"""Ad hoc bill run: bill one account now, up to a target date (zuora-api-2.md §21).

`POST /v1/bill-runs` with an `Account` filter (filters take the account **id**, not its number),
`targetDate` (required for ad hoc runs though the SDK does not say so), usage excluded and no
auto-post: the invoices come out as Drafts, and `bot.actions.follow` follows the run and posts them
when `post_invoice`. The card's lines are the account's recurring charges from Zuora for each
billing month between what was last invoiced and the target date (an estimate before tax; the
follow-up reports Zuora's own invoice amounts).
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

__all__ = ["BillLine", "BillRunNow", "draft"]


class BillLine(BaseModel):
    """One charge for one billing month, as the card shows it."""

    model_config = ConfigDict(frozen=True)

    month: date
    subscription: str
    charge: str
    amount: Decimal
    detail: str = ""


class BillRunNow(ProposalBase):
    """An ad hoc bill run for one account; the run is then followed to its invoices."""

    title: ClassVar[str] = "ad hoc bill run"

    kind: Literal["bill_run"] = "bill_run"
    target_date: date
    invoice_date: date
    invoiced_through: date | None = None
    """The target date of the account's latest invoice when the card was made."""
    lines: list[BillLine]
    post_invoice: bool = True

    def _limit_words(self) -> str:
        return "the estimate"

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        then = "post the invoice(s)" if self.post_invoice else "leave the invoice(s) as Drafts for review"
        return (f"Run an ad hoc bill run for {self.account_number} with target date {self.target_date} (about "
                f"{money(self.amount, self.currency)} before tax, usage excluded), then {then}.")

    def card_sections(self) -> list[tuple[str, str]]:
        shown = self.lines[:15]
        rows = [f"{line.month:%b %Y} · {line.subscription} · {line.charge}: {money(line.amount, self.currency)}"
                + (f" ({line.detail})" if line.detail else "") for line in shown]
        if len(self.lines) > len(shown):
            rows.append(f"… and {count(len(self.lines) - len(shown), 'more line')}")
        return [("What will be billed", "\n".join(rows)),
                ("How", f"last invoiced for the period starting {self.invoiced_through or 'never'}; Zuora bills "
                        f"every period that starts "
                        f"by {self.target_date}, invoice date {self.invoice_date}. The bill run is followed until the "
                        f"invoices exist" + ("; Drafts are then posted." if self.post_invoice else "."))]

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        return ZuoraRequest(method="POST", path="/v1/bill-runs", body={
            "name": tagged(f"Slack ad hoc {self.account_number}", ref, 100),
            "billRunFilters": [{"filterType": "Account", "accountId": self.account_id}],
            "targetDate": self.target_date.isoformat(), "invoiceDate": self.invoice_date.isoformat(),
            "autoPost": False, "autoEmail": False, "noEmailForZeroAmountInvoice": True,
            "chargeTypeToExclude": ["Usage"]})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        number = str(body.get("billRunNumber") or body.get("id"))
        return Outcome("succeeded", f"Bill run {number} started for {self.account_number}; following it to the "
                                    f"invoice.", document=number,
                       zuora_ids={"bill_run_id": str(body.get("id")), "bill_run_number": number})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        return find_run(client, self.request(date.today(), ref), ref, self.outcome)

    def reread(self, client: ZuoraClient, now: datetime | None = None, today: date | None = None) -> Snapshot:
        account = client.accounts.get(self.account_id)
        through = _invoiced_through(client, account.account_id)
        return _snapshot(account.account_id, account.balance, account.status, through)

    def again(self, drafts: DraftContext) -> BillRunNow:
        target = max(self.target_date, drafts.today)
        return draft(drafts, self.account_number, target, self.reason, post_invoice=self.post_invoice)


def find_run(client: ZuoraClient, request: ZuoraRequest, ref: str, outcome: Any) -> Outcome | None:
    """The bill run a `POST /v1/bill-runs` made, found by its name (which carries the proposal id)."""
    name = request.body.get("name") if request.path == "/v1/bill-runs" else None
    if not ref or not name:
        return None  # an execute: re-sent with the same Idempotency-Key, Zuora answers with the stored run
    for run in client.bill_runs.query(filters=[f"name.EQ:{name}"], sort=None, page_size=10):
        found: Outcome = outcome(client, {"id": run.bill_run_id, "billRunNumber": run.bill_run_number})
        return Outcome(found.status, found.message.replace(" started", " found in Zuora"), found.document,
                       found.zuora_ids)
    return None


def _snapshot(account_id: str, balance: Decimal, status: str, through: date | None) -> Snapshot:
    return Snapshot(object_kind="account", object_id=account_id, balance=balance,
                    status=f"{status}; invoiced through {through or 'never'}")


def _invoiced_through(client: ZuoraClient, account_id: str) -> date | None:
    dates = []
    for n, invoice in enumerate(client.invoices.query(filters=[f"accountid.EQ:{account_id}"],
                                                      sort="invoicedate.DESC", page_size=10)):
        if n >= 10:
            break
        if invoice.status != "Canceled" and invoice.target_date is not None:
            dates.append(invoice.target_date)
    return max(dates, default=None)


def _months(after: date | None, target: date) -> list[date]:
    first = target.replace(day=1)
    out = []
    month = first if after is None else date(after.year + after.month // 12, after.month % 12 + 1, 1)
    while month <= target:
        out.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out[:24]


def _lines(client: ZuoraClient, account_key: str, months: list[date]) -> list[BillLine]:
    summary = client.get(f"/v1/accounts/{account_key}/summary")
    numbers = [str(s.get("subscriptionNumber")) for s in summary.get("subscriptions") or []
               if s.get("status") == "Active" and s.get("subscriptionNumber")]
    lines: list[BillLine] = []
    for number in numbers[:20]:
        sub = client.subscriptions.get(number)
        for month in months:
            recurring = Decimal(0)
            discounts = []
            for plan in sub.rate_plans:
                for charge in plan.charges:
                    live = (charge.effective_start_date is None or charge.effective_start_date <= month) and (
                        charge.effective_end_date is None or month < charge.effective_end_date)
                    if charge.charge_type != "Recurring" or not live:
                        continue
                    if charge.model == "DiscountPercentage" and charge.discount_percentage:
                        discounts.append(charge)
                        continue
                    if charge.price is None:
                        continue
                    qty = charge.quantity if charge.model == "PerUnit" and charge.quantity is not None else Decimal(1)
                    amount = (charge.price * qty).quantize(Decimal("0.01"))
                    recurring += amount
                    detail = f"{qty.normalize():f} × {charge.price:.2f}" if charge.model == "PerUnit" else ""
                    lines.append(BillLine(month=month, subscription=number, charge=charge.name, amount=amount,
                                          detail=detail))
            for charge in discounts:
                off = -(recurring * (charge.discount_percentage or Decimal(0)) / 100).quantize(Decimal("0.01"))
                if off:
                    lines.append(BillLine(month=month, subscription=number, charge=charge.name, amount=off,
                                          detail=f"{charge.discount_percentage}% off"))
    return lines


def draft(ctx: DraftContext, typed: str, target: date | None, reason: str, *,
          post_invoice: bool = True) -> BillRunNow:
    try:
        account = ctx.client.accounts.get(typed)
    except ZuoraNotFound:
        raise ProposalError(f"I couldn't find account {typed!r}.") from None
    if account.status != "Active":
        raise ProposalError(f"{account.account_number} is {account.status}; only active accounts are billed.")
    target = target or ctx.today
    if target < ctx.today:
        raise ProposalError(f"The target date {target} is in the past; give today or a later date.")
    through = _invoiced_through(ctx.client, account.account_id)
    months = _months(through, target)
    if not months:
        assert through is not None
        nxt = date(through.year + through.month // 12, through.month % 12 + 1, 1)
        raise ProposalError(f"Nothing to bill: {account.account_number} is already invoiced for the period starting "
                            f"{through}. The next period starts {nxt}: ask `/billing bill {account.account_number} "
                            f"on {nxt}`.")
    lines = _lines(ctx.client, account.account_number, months)
    total = sum((line.amount for line in lines), Decimal(0))
    if total <= 0:
        raise ProposalError(f"Nothing to bill: the recurring charges of {account.account_number} come to "
                            f"{money(total, account.currency)} up to {target}.")
    return BillRunNow(
        account_id=account.account_id, account_number=account.account_number, account_name=account.name,
        currency=account.currency, amount=total, reason=reason.strip() or "requested in Slack",
        evidence=[f"Latest invoice target date: {through or 'none'}", f"Billing months: "
                  f"{', '.join(f'{m:%b %Y}' for m in months)}"],
        limit=total, snapshot=_snapshot(account.account_id, account.balance, account.status, through),
        target_date=target, invoice_date=ctx.today, invoiced_through=through, lines=lines, post_invoice=post_invoice)
