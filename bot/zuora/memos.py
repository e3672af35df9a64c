"""Credit memos: create one from an invoice (auto-posted and auto-applied), post, apply, read, list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field

from bot.zuora.base import Resource, ZuoraModel
from bot.zuora.keys import segment

__all__ = ["CreditMemo", "CreditMemos"]


class CreditMemo(ZuoraModel):
    """A credit memo (`CreditMemoResponse`)."""

    memo_id: str = Field(alias="id")
    memo_number: str = Field(alias="number")
    account_id: str = Field(alias="accountId")
    amount: Decimal
    applied_amount: Decimal = Field(default=Decimal(0), alias="appliedAmount")
    unapplied_amount: Decimal = Field(default=Decimal(0), alias="unappliedAmount")
    tax_amount: Decimal = Field(default=Decimal(0), alias="taxAmount")
    currency: str
    status: str
    reason_code: str | None = Field(default=None, alias="reasonCode")
    referred_invoice_id: str | None = Field(default=None, alias="referredInvoiceId")
    credit_memo_date: date | None = Field(default=None, alias="creditMemoDate")
    comment: str | None = None


class CreditMemos(Resource):
    """`client.credit_memos`."""

    def create_from_invoice(
        self,
        invoice_key: str,
        items: list[dict[str, Any]],
        *,
        reason_code: str,
        comment: str | None = None,
        auto_post: bool = True,
        auto_apply: bool = True,
        idempotency_key: str | None = None,
    ) -> CreditMemo:
        """Credit an invoice in one POST: posted and applied to it by Zuora when `auto_*` are set.

        `items` are `{"invoiceItemId": …, "amount": Decimal, "skuName": …}` as Zuora expects.
        """
        body: dict[str, Any] = {"items": items, "reasonCode": reason_code, "autoPost": auto_post,
                                "autoApplyToInvoiceUponPosting": auto_apply}
        if comment:
            body["comment"] = comment
        return CreditMemo.model_validate(self._client.post(
            f"/v1/credit-memos/invoice/{segment(invoice_key)}", body, idempotency_key=idempotency_key))

    def post(self, memo_key: str) -> CreditMemo:
        """Post a draft memo (PUT: no Idempotency-Key)."""
        return CreditMemo.model_validate(self._client.put(f"/v1/credit-memos/{segment(memo_key)}/post", {}))

    def apply(self, memo_key: str, *, invoice_id: str, amount: Decimal) -> CreditMemo:
        """Apply a posted memo to an invoice by id (PUT: re-read `unapplied_amount` before a retry)."""
        body = {"invoices": [{"invoiceId": invoice_id, "amount": amount}]}
        return CreditMemo.model_validate(self._client.put(f"/v1/credit-memos/{segment(memo_key)}/apply", body))

    def get(self, memo_key: str) -> CreditMemo:
        """A credit memo by id or number."""
        return CreditMemo.model_validate(self._client.get(f"/v1/credit-memos/{segment(memo_key)}"))

    def list(self, *, account_id: str | None = None, referred_invoice_id: str | None = None,
             page_size: int = 40) -> Iterator[CreditMemo]:
        """Stream credit memos of an account, or of one source invoice."""
        params = {k: v for k, v in {"accountId": account_id, "referredInvoiceId": referred_invoice_id}.items()
                  if v}
        for row in self._client.iter_v1("/v1/credit-memos", "creditmemos", params, page_size=page_size):
            yield CreditMemo.model_validate(row)
