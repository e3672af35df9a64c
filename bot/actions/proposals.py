"""Proposal kinds, for callers that import them from here: the kinds live in `bot.actions.kinds` (one module each).

A proposal is what an approver sees and what runs after the click: the account and invoice, the
amount and currency, the reason and evidence, the largest amount the data allows (`limit`), and a
`Snapshot` of the object as it was when the card was made (re-read before executing: if it moved,
the proposal is stale). `request()` builds the one Zuora call; it is stored with the proposal and
sent as is, with the proposal id as `Idempotency-Key` when Zuora accepts one (POST).
"""

from __future__ import annotations

from bot.actions.kinds import (
    EDITABLE,
    KINDS,
    CollectionsEscalation,
    CreditItem,
    CreditMemo,
    DunningEmail,
    Installment,
    PaymentPlan,
    PaymentRetry,
    Proposal,
    ProposalError,
    Snapshot,
    WriteOff,
    ZuoraRequest,
    parse_proposal,
    split,
)

__all__ = [
    "EDITABLE", "KINDS", "CollectionsEscalation", "CreditItem", "CreditMemo", "DunningEmail", "Installment",
    "PaymentPlan", "PaymentRetry", "Proposal", "ProposalError", "Snapshot", "WriteOff", "ZuoraRequest",
    "parse_proposal", "split",
]
