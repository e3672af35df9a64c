"""Payment plan: a payment schedule that collects the amount in installments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, ZuoraRequest, tagged
from bot.actions.kinds.payment_retry import _find_schedule
from bot.money import CENT, money
from bot.zuora import ZuoraClient

__all__ = ["Installment", "PaymentPlan", "draft", "split"]


class Installment(BaseModel):
    model_config = ConfigDict(frozen=True)

    date: date
    amount: Decimal


def split(total: Decimal, dates: list[date]) -> list[Installment]:
    """`total` over `dates` in equal parts to the cent; the last part takes the remainder."""
    each = (total / len(dates)).quantize(CENT, rounding="ROUND_DOWN")
    amounts = [each] * (len(dates) - 1) + [total - each * (len(dates) - 1)]
    return [Installment(date=d, amount=a) for d, a in zip(dates, amounts, strict=True)]


class PaymentPlan(ProposalBase):
    """A payment schedule that collects the amount in installments on the given dates."""

    title: ClassVar[str] = "payment plan"
    editable: ClassVar[bool] = True

    kind: Literal["payment_plan"] = "payment_plan"
    installments: list[Installment] = Field(min_length=2, max_length=24)

    def model_post_init(self, context: Any) -> None:
        if self.installments and sum(i.amount for i in self.installments) != self.amount:
            object.__setattr__(self, "installments", split(self.amount, [i.date for i in self.installments]))
        super().model_post_init(context)

    def balance_after(self) -> Decimal | None:
        return None  # the balance falls as the installments are collected

    def sentence(self) -> str:
        first, last = self.installments[0].date, self.installments[-1].date
        return (f"Set up a payment plan for {money(self.amount, self.currency)} of {self.invoice_number}: "
                f"{len(self.installments)} installments from {first} to {last}.")

    def card_sections(self) -> list[tuple[str, str]]:
        return [("Installments", "\n".join(f"• {i.date}: {money(i.amount, self.currency)}"
                                           for i in self.installments))]

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        return ZuoraRequest(method="POST", path="/v1/payment-schedules", body={
            "accountId": self.account_id, "currency": self.currency,
            "billingDocument": {"id": self.invoice_id, "type": "Invoice"},
            "description": tagged(f"Payment plan approved in Slack: {self.reason}", ref),
            "items": [{"scheduledDate": i.date.isoformat(), "amount": i.amount} for i in self.installments]})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        number = body.get("paymentScheduleNumber")
        return Outcome("succeeded", f"Payment schedule {number} created.", document=number,
                       zuora_ids={"payment_schedule_id": str(body.get("id"))})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        return _find_schedule(client, self.account_id, ref) if ref else None

    def again(self, drafts: DraftContext) -> PaymentPlan:
        return draft(drafts, self.invoice_number or "", len(self.installments), self.reason)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, 28))


def draft(ctx: DraftContext, typed: str, installments: int, reason: str, amount: Decimal | None = None, *,
          extra: list[str] | None = None) -> PaymentPlan:
    if not 2 <= installments <= 24:
        raise ProposalError("A payment plan has 2 to 24 installments.")
    invoice, account = ctx._invoice(typed, open_balance=True)
    total = amount or invoice.balance
    first = ctx.today + timedelta(days=7)
    dates = [_add_months(first, n) for n in range(installments)]
    return PaymentPlan(**ctx._common(invoice, account, total, reason, invoice.balance, extra or []),
                       installments=split(total, dates))
