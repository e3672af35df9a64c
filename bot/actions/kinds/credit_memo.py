"""Credit memo: a memo from an invoice, posted and applied to it by Zuora in one POST."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ZuoraRequest, tagged
from bot.money import money
from bot.zuora import ZuoraClient

__all__ = ["CreditItem", "CreditMemo", "draft", "reason_code_for"]

_REASON_CODES = (  # tenant-configured in Zuora; these are Zuora's documented examples
    (re.compile(r"outage|downtime|incident|sla", re.I), "Service Outage Credit"),
    (re.compile(r"error|mistake|wrong|incorrect|overcharg|double", re.I), "Correcting invoice error"),
)


def reason_code_for(reason: str) -> str:
    """The Zuora reason code for a free-text reason ("for the outage" → "Service Outage Credit")."""
    return next((code for pattern, code in _REASON_CODES if pattern.search(reason)), "Goodwill")


class CreditItem(BaseModel):
    """An invoice line a credit memo can credit, up to `available`."""

    model_config = ConfigDict(frozen=True)

    invoice_item_id: str
    sku: str | None = None
    available: Decimal


class CreditMemo(ProposalBase):
    """A credit memo from an invoice, posted and applied to it by Zuora in one POST."""

    title: ClassVar[str] = "credit memo"
    editable: ClassVar[bool] = True

    kind: Literal["credit_memo"] = "credit_memo"
    reason_code: str
    items: list[CreditItem]

    def _limit_words(self) -> str:
        return f"the charges of {self.invoice_number}"

    def sentence(self) -> str:
        return (f"Create a {money(self.amount, self.currency)} credit memo on {self.invoice_number} "
                f"(reason code “{self.reason_code}”), posted and applied to the invoice.")

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        items, left = [], self.amount
        for item in self.items:
            if left <= 0:
                break
            part = min(left, item.available)
            items.append({"invoiceItemId": item.invoice_item_id, "amount": part, "skuName": item.sku or ""})
            left -= part
        return ZuoraRequest(method="POST", path=f"/v1/credit-memos/invoice/{self.invoice_id}", body={
            "items": items, "reasonCode": self.reason_code, "comment": tagged(self.reason, ref), "autoPost": True,
            "autoApplyToInvoiceUponPosting": True})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        return Outcome("succeeded", f"Credit memo {body.get('number')} created, posted and applied.",
                       document=body.get("number"), zuora_ids={"credit_memo_id": str(body.get("id"))})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        for memo in client.credit_memos.list(referred_invoice_id=self.invoice_id):
            if ref and ref in (memo.comment or ""):
                return Outcome("succeeded", f"Credit memo {memo.memo_number} created (found in Zuora).",
                               document=memo.memo_number, zuora_ids={"credit_memo_id": memo.memo_id})
        return None

    def again(self, drafts: DraftContext) -> CreditMemo:
        return draft(drafts, self.invoice_number or "", self.amount, self.reason)


def draft(ctx: DraftContext, typed: str, amount: Decimal, reason: str) -> CreditMemo:
    invoice, account = ctx._invoice(typed, open_balance=False)
    items = [CreditItem(invoice_item_id=i.item_id, sku=i.sku, available=i.charge_amount)
             for i in ctx.client.invoices.items(invoice.invoice_id) if i.charge_amount > 0]
    limit = sum((i.available for i in items), Decimal(0))
    return CreditMemo(**ctx._common(invoice, account, amount, reason, limit, []), reason_code=reason_code_for(reason),
                      items=items)
