"""Note email: a reviewed customer note emailed through a Zuora workflow (`ZUORA_NOTE_WORKFLOW_ID`, zuora-api-2.md §23).

Zuora's invoice email cannot carry custom text; a workflow whose "Notifications: Email" task sends
`Subject` and `BodyHtml` to the account can. One POST `/workflows/{id}/run` with the proposal id as
Idempotency-Key; Zuora keeps no trace we could look up, so a re-send relies on that key. Posted
invoices only (the customer gets what they can pay).
"""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field

from bot.actions.kinds.base import Outcome, ProposalBase, ProposalError, ZuoraRequest
from bot.zuora import ZuoraClient

__all__ = ["NoteEmail"]


class NoteEmail(ProposalBase):
    """A customer note emailed to the account through a Zuora workflow, once approved."""

    title: ClassVar[str] = "note email"

    kind: Literal["note_email"] = "note_email"
    language: str = Field(min_length=2, max_length=16)
    subject: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=8192)
    english: str = Field(min_length=1, max_length=8192)
    workflow_id: str = Field(pattern=r"^\d{1,18}$")

    def model_post_init(self, _: Any) -> None:
        if self.amount < 0 or self.amount > self.limit:
            raise ProposalError("A note's amount is the invoice total.")

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        return (f"Email the customer note ({self.language}) for {self.invoice_number} to {self.account_name} "
                f"through Zuora workflow {self.workflow_id}.")

    def card_sections(self) -> list[tuple[str, str]]:
        sections = [("Subject", self.subject), (f"Email to the customer ({self.language})", f">{self.note}")]
        if self.language != "en":
            sections.append(("The same in English", f">{self.english}"))
        return sections

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        body_html = "<p>" + html.escape(self.note).replace("\n", "<br>") + "</p>"
        return ZuoraRequest(method="POST", path=f"/workflows/{self.workflow_id}/run", body={
            "AccountId": self.account_id, "InvoiceId": self.invoice_id, "InvoiceNumber": self.invoice_number,
            "Subject": self.subject, "BodyHtml": body_html})

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        run = str(body.get("id") or "")
        return Outcome("succeeded", f"Note for {self.invoice_number} sent to Zuora workflow {self.workflow_id} "
                                    f"(run {run or '?'}, {body.get('status') or 'queued'}).",
                       document=f"workflow run {run}" if run else self.invoice_number, zuora_ids={"workflow_run": run})
