"""Write-off: an invoice's whole open balance written off (Zuora creates and applies a credit memo; a PUT)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any, ClassVar, Literal

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, ZuoraRequest, tagged
from bot.money import money
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraError

__all__ = ["WriteOff", "draft"]


class WriteOff(ProposalBase):
    """A write-off of an invoice's whole open balance (Zuora creates and applies a credit memo)."""

    title: ClassVar[str] = "write-off"
    two_approvers_above_limit: ClassVar[bool] = True

    kind: Literal["write_off"] = "write_off"

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        if self.amount != self.snapshot.balance:
            raise ProposalError("A write-off is always the whole open balance of the invoice.")

    def sentence(self) -> str:
        return f"Write off the whole open balance of {self.invoice_number}: {money(self.amount, self.currency)}."

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        return ZuoraRequest(method="PUT", path=f"/v1/invoices/{self.invoice_id}/write-off",
                            body={"reasonCode": "Write-off", "comment": tagged(self.reason, ref)})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        memo_id = str((body.get("creditMemo") or {}).get("id") or "")
        number = None
        with contextlib.suppress(ZuoraError):  # the write-off is done; only the memo's number would be missing
            number = client.credit_memos.get(memo_id).memo_number if memo_id else None
        return Outcome("succeeded", f"Written off with credit memo {number or memo_id}.", document=number,
                       zuora_ids={"credit_memo_id": memo_id})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        memos = [m for m in client.credit_memos.list(referred_invoice_id=self.invoice_id)
                 if m.reason_code == "Write-off"]
        ours = [m for m in memos if ref and ref in (m.comment or "")]
        if not ours and client.invoices.get(self.invoice_id or "").balance == 0:
            ours = memos  # written off by a request that did not carry our reference
        if not ours:
            return None
        memo = ours[-1]
        return Outcome("succeeded", f"Written off with credit memo {memo.memo_number} (found in Zuora).",
                       document=memo.memo_number, zuora_ids={"credit_memo_id": memo.memo_id})

    def again(self, drafts: DraftContext) -> WriteOff:
        return draft(drafts, self.invoice_number or "", self.reason)


def draft(ctx: DraftContext, typed: str, reason: str) -> WriteOff:
    invoice, account = ctx._invoice(typed, open_balance=True)
    late = (ctx.today - invoice.due_date).days if invoice.due_date else 0
    evidence = [f"{late} days past due"] if late > 0 else []
    return WriteOff(**ctx._common(invoice, account, invoice.balance, reason, invoice.balance, evidence))
