"""Dunning email: the invoice emailed again to the bill-to contact (the drafted note is for the approver)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ZuoraRequest
from bot.money import money
from bot.zuora import ZuoraClient

__all__ = ["DunningEmail", "draft"]


class DunningEmail(ProposalBase):
    """The invoice emailed again to the bill-to contact; the drafted note is for the approver to read."""

    title: ClassVar[str] = "reminder email"

    kind: Literal["dunning_email"] = "dunning_email"
    note: str = Field(max_length=1500)

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        return f"Email {self.invoice_number} again to the bill-to contact of {self.account_name}."

    def card_sections(self) -> list[tuple[str, str]]:
        return [("Drafted note", f">{self.note}")]

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        # Zuora keeps no trace of an email we could look up: a re-send relies on the Idempotency-Key.
        return ZuoraRequest(method="POST", path=f"/v1/invoices/{self.invoice_id}/emails",
                            body={"useEmailTemplateSetting": False, "includeAdditionalEmailAddresses": False})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        return Outcome("succeeded", f"{self.invoice_number} emailed to the bill-to contact.",
                       document=self.invoice_number)

    def again(self, drafts: DraftContext) -> DunningEmail:
        return draft(drafts, self.invoice_number or "", self.reason)


def draft(ctx: DraftContext, typed: str, reason: str, *, extra: list[str] | None = None,
          ask: str = "Please let us know if anything is holding up payment.") -> DunningEmail:
    invoice, account = ctx._invoice(typed, open_balance=True)
    late = (ctx.today - invoice.due_date).days if invoice.due_date else 0
    when = f"was due on {invoice.due_date} ({late} days ago)" if late > 0 else f"is due on {invoice.due_date}"
    note = (f"Hello {account.name} team, a reminder that invoice {invoice.invoice_number} for "
            f"{money(invoice.amount, invoice.currency)} {when}; {money(invoice.balance, invoice.currency)} is "
            f"still open. The invoice is attached. {ask}")
    return DunningEmail(**ctx._common(invoice, account, invoice.balance, reason, invoice.balance, extra or []),
                        note=note)
