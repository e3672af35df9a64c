"""The proposal kinds, registered in one place: `KIND_MODELS` below is the only list of them.

Each kind is one module here (its model, its draft checks against Zuora, its exact request, what
its answer means, how to find its effect after a crash, the facts its card shows); see `base`.
A new kind is a new module plus one entry in `KIND_MODELS`. Not kinds: `base` (what every kind shares),
`subscription_plans` and `subscription_preview` (what the two subscription kinds share).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from bot.actions.kinds.base import (
    DraftContext,
    Outcome,
    ProposalBase,
    ProposalError,
    Snapshot,
    ZuoraRequest,
    account_snapshot,
    invoice_snapshot,
)
from bot.actions.kinds.bill_run import BillRunNow
from bot.actions.kinds.collections_escalation import CollectionsEscalation
from bot.actions.kinds.credit_memo import CreditItem, CreditMemo
from bot.actions.kinds.dunning_email import DunningEmail
from bot.actions.kinds.invoice_note import InvoiceNote
from bot.actions.kinds.invoice_schedule_run import InvoiceScheduleRun
from bot.actions.kinds.note_email import NoteEmail
from bot.actions.kinds.payment_plan import Installment, PaymentPlan, split
from bot.actions.kinds.payment_retry import PaymentRetry
from bot.actions.kinds.retention_offer import RetentionOffer
from bot.actions.kinds.subscription_change import SubscriptionChange
from bot.actions.kinds.write_off import WriteOff

__all__ = ["EDITABLE", "KINDS", "KIND_MODELS", "CollectionsEscalation", "CreditItem", "CreditMemo", "DraftContext",
           "DunningEmail", "Installment", "InvoiceNote", "NoteEmail", "Outcome", "PaymentPlan", "PaymentRetry",
           "Proposal", "ProposalBase", "ProposalError", "RetentionOffer", "Snapshot", "SubscriptionChange", "WriteOff",
           "ZuoraRequest", "account_snapshot", "invoice_snapshot", "parse_proposal", "split"]
__all__ += ["BillRunNow", "InvoiceScheduleRun"]

KIND_MODELS: tuple[type[ProposalBase], ...] = (CreditMemo, WriteOff, PaymentRetry, PaymentPlan, DunningEmail,
                                               CollectionsEscalation, SubscriptionChange, RetentionOffer,
                                               InvoiceScheduleRun, BillRunNow, InvoiceNote, NoteEmail)
KINDS = tuple(m.model_fields["kind"].default for m in KIND_MODELS)
EDITABLE = tuple(m.model_fields["kind"].default for m in KIND_MODELS if m.editable)
"""Kinds whose amount an approver may edit (a write-off is always the whole balance)."""

Proposal = Annotated[CreditMemo | WriteOff | PaymentRetry | PaymentPlan | DunningEmail | CollectionsEscalation
                     | SubscriptionChange | RetentionOffer | InvoiceScheduleRun | BillRunNow | InvoiceNote | NoteEmail,
                     Field(discriminator="kind")]
_ADAPTER: TypeAdapter[Proposal] = TypeAdapter(Proposal)
assert set(KINDS) == {m.model_fields["kind"].default for m in Proposal.__origin__.__args__}  # type: ignore[attr-defined]


def parse_proposal(data: dict[str, Any] | str) -> Proposal:
    """A proposal from its JSON (a dict or a string), validated again."""
    if isinstance(data, str):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)
