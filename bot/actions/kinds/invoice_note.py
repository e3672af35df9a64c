"""Invoice note: a reviewed, customer-facing summary written to the invoice in Zuora (one PUT, zuora-api-2.md §22).

A Draft invoice gets the short form in `comments` (≤ 255) and the full note in a Long Text custom
field (`INVOICE_NOTE_FIELD`); a Posted invoice gets the custom field only (the one field Zuora lets
us change on a posted invoice for this purpose). A cancelled invoice gets no note. PUT takes no
Idempotency-Key: the claim plus the stale re-read guard it, and `find()` reads the field back.
The note's text is drafted elsewhere (`bot.copilot.notes`); the proposal carries it as written,
in the customer's language and in English for the reviewer.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field

from bot.actions.kinds.base import DraftContext, Outcome, ProposalBase, ProposalError, ZuoraRequest, invoice_snapshot
from bot.zuora import Account, Invoice, ZuoraClient
from bot.zuora.errors import InvoiceNotFound

__all__ = ["NOTE_LIMIT", "InvoiceNote", "note_target", "short_form"]

NOTE_LIMIT = 8192
"""The largest Long Text custom field in Zuora."""
_WRITABLE = ("Draft", "Posted")


class InvoiceNote(ProposalBase):
    """A customer-facing note for one invoice, to be written into Zuora once approved."""

    title: ClassVar[str] = "invoice note"
    text_editable: ClassVar[bool] = True

    kind: Literal["invoice_note"] = "invoice_note"
    language: str = Field(min_length=2, max_length=16)
    note: str = Field(min_length=1, max_length=NOTE_LIMIT)
    english: str = Field(min_length=1, max_length=NOTE_LIMIT)
    short: str = Field(min_length=1, max_length=255)
    field: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,60}__c$")
    """The invoice's Long Text custom field that takes the full note."""
    invoice_status: Literal["Draft", "Posted"]
    autopilot: bool = False
    """Drafted to be applied without a click (`NOTE_AUTOPILOT`); the audit names the autopilot."""

    def model_post_init(self, _: Any) -> None:
        # A note moves no money: the amount is the invoice's total, shown for context and used for tiers.
        if self.amount < 0 or self.amount > self.limit:
            raise ProposalError("A note's amount is the invoice total.")

    def balance_after(self) -> Decimal | None:
        return None

    def editable_text(self) -> str:
        return self.note

    def with_text(self, text: str) -> InvoiceNote:
        cleaned = "\n".join(line.rstrip() for line in text.strip().splitlines())
        if not cleaned:
            raise ProposalError("The note cannot be empty; reject the proposal to skip this invoice.")
        if len(cleaned) > NOTE_LIMIT:
            raise ProposalError(f"The note is {len(cleaned):,} characters; {self.field} holds {NOTE_LIMIT:,}.")
        return InvoiceNote.model_validate({**self.model_dump(), "note": cleaned, "short": short_form(cleaned),
                                           "autopilot": False})

    def sentence(self) -> str:
        where = f"`comments` and {self.field}" if self.invoice_status == "Draft" else self.field
        return (f"Write the customer note ({self.language}) into {where} on {self.invoice_status.lower()} invoice "
                f"{self.invoice_number}.")

    def card_sections(self) -> list[tuple[str, str]]:
        sections = [(f"Note for the customer ({self.language})", f">{self.note}")]
        if self.language != "en":
            sections.append(("The same in English", f">{self.english}"))
        if self.invoice_status == "Draft":
            sections.append(("Short form for `comments`", f">{self.short}"))
        return sections

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        body: dict[str, Any] = {self.field: self.note}
        if self.invoice_status == "Draft":
            body["comments"] = self.short
        return ZuoraRequest(method="PUT", path=f"/v1/invoices/{self.invoice_id}", body=body)

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        return Outcome("succeeded", f"Note written to {self.invoice_number} ({self.field}).",
                       document=str(body.get("number") or self.invoice_number),
                       zuora_ids={"invoice_id": self.invoice_id or ""})

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        raw = client.get(f"/v1/invoices/{self.invoice_id}")
        if raw.get(self.field) == self.note:
            return Outcome("succeeded", f"Note found on {self.invoice_number} ({self.field}).",
                           document=self.invoice_number, zuora_ids={"invoice_id": self.invoice_id or ""})
        return None

    def again(self, drafts: DraftContext) -> InvoiceNote:
        invoice, account = note_target(drafts, self.invoice_number or "")
        return self.model_copy(update={"snapshot": invoice_snapshot(invoice), "invoice_status": invoice.status,
                                       "account_name": account.name, "amount": max(invoice.amount, Decimal(0)),
                                       "limit": max(invoice.amount, Decimal(0))})


def short_form(text: str, limit: int = 255) -> str:
    """`text` on one line, cut to `limit` characters at a word boundary with an ellipsis when too long."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    # no space near the end (Japanese): cut at the limit
    cut = cut[:space] if space > limit // 2 else cut[:limit - 1]
    return cut.rstrip(" ,;:-–") + "…"


def note_target(ctx: DraftContext, typed: str) -> tuple[Invoice, Account]:
    """The invoice a note may be written to (Draft or Posted) and its account."""
    try:
        invoice = ctx.client.invoices.find(typed).invoice
    except InvoiceNotFound as exc:
        raise ProposalError(f"I couldn't find invoice {exc.typed!r}.") from None
    if invoice.status not in _WRITABLE:
        raise ProposalError(f"{invoice.invoice_number} is {invoice.status}; a note goes only on a draft or posted "
                            f"invoice.")
    return invoice, ctx.client.accounts.get(invoice.account_id)
