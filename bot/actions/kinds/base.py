"""What every proposal kind shares: the model base, the snapshot, the Zuora request, the outcome, draft helpers.

A kind (one module next to this one) subclasses `ProposalBase` and fills in what differs: its
fields, `sentence()` (what will happen, in one line), `request()` (the exact Zuora call),
`outcome()` (what Zuora's answer means), `find()` (the effect looked up in Zuora, for recovery),
`card_sections()` (extra facts for the card) and `again()` (draft it again from today's data).
The shared flow (approvals, cards, recovery, audit) only calls these; it never names a kind.

    ProposalError      a proposal that does not fit the data (amount too large, invoice not posted, …)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.money import CENT, money, to_cents
from bot.zuora import Account, Invoice, ZuoraClient
from bot.zuora.errors import InvoiceNotFound

if TYPE_CHECKING:
    from bot.actions.kinds import Proposal

__all__ = ["DraftContext", "Outcome", "ProposalBase", "ProposalError", "Snapshot", "ZuoraRequest",
           "account_snapshot", "invoice_snapshot", "tagged"]

ESCALATION_FIELD = "Collections_Status__c"


class ProposalError(Exception):
    """The proposal does not fit the data; the message says why, for a person."""


class Snapshot(BaseModel):
    """The object as the card showed it; if it differs at execution time, the proposal is stale."""

    model_config = ConfigDict(frozen=True)

    object_kind: Literal["invoice", "account"]
    object_id: str
    balance: Decimal
    status: str
    updated: str | None = None

    def differences(self, now: Snapshot) -> list[str]:
        """What changed, in words ("balance 868.46 → 0")."""
        out = []
        if now.balance != self.balance:
            out.append(f"balance {to_cents(self.balance)} → {to_cents(now.balance)}")
        if now.status != self.status:
            out.append(f"status {self.status} → {now.status}")
        if now.updated != self.updated and not out:
            out.append(f"updated at {now.updated}")
        return out


class ZuoraRequest(BaseModel):
    """One Zuora call, stored with the proposal and sent exactly as stored."""

    model_config = ConfigDict(frozen=True)

    method: Literal["POST", "PUT"]
    path: str
    body: dict[str, Any]

    def digest(self) -> str:
        """SHA-256 of the method, path and canonical body (what the audit log records).

        Numbers are written in one form (`50`, `50.0` and `Decimal("50.00")` alike), so the digest
        survives the round trip through the database.
        """
        canonical = json.dumps(_canonical([self.method, self.path, self.body]), sort_keys=True,
                               separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return f"#{format(Decimal(str(value)).normalize(), 'f')}"
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class Outcome:
    """What came of sending (or looking for) a proposal's request in Zuora.

    succeeded   Zuora did it; `document` names what it created (CM…, P-…, PS-…) or changed
    failed      Zuora refused (a business error: final); `message` says why in plain words
    unknown     no usable answer (timeouts, 5xx, a request still in flight): a read settles it later
    """

    status: Literal["succeeded", "failed", "unknown"]
    message: str
    document: str | None = None
    zuora_ids: dict[str, str] = field(default_factory=dict)


def tagged(text: str, ref: str, limit: int = 255) -> str:
    """`text` with the proposal reference appended (so recovery can find the document in Zuora)."""
    if not ref:
        return text[:limit]
    tag = f" [proposal {ref}]"
    return text[:limit - len(tag)] + tag


def invoice_snapshot(invoice: Invoice) -> Snapshot:
    return Snapshot(object_kind="invoice", object_id=invoice.invoice_id, balance=invoice.balance,
                    status=invoice.status, updated=invoice.updated_date)


def account_snapshot(account: Account) -> Snapshot:
    flag = account.custom_fields.get(ESCALATION_FIELD) or "-"
    return Snapshot(object_kind="account", object_id=account.account_id, balance=account.balance,
                    status=f"{account.status}, {ESCALATION_FIELD}={flag}")


class DraftContext:
    """Zuora reads shared by the kinds' draft checks; `today` is the tenant's date."""

    def __init__(self, client: ZuoraClient, today: date) -> None:
        self.client = client
        self.today = today

    def _invoice(self, typed: str, *, open_balance: bool) -> tuple[Invoice, Account]:
        try:
            invoice = self.client.invoices.find(typed).invoice
        except InvoiceNotFound as exc:
            raise ProposalError(f"I couldn't find invoice {exc.typed!r}.") from None
        if invoice.status != "Posted":
            raise ProposalError(f"{invoice.invoice_number} is {invoice.status}; only posted invoices can be acted on.")
        if open_balance and invoice.balance <= 0:
            raise ProposalError(f"{invoice.invoice_number} has no open balance.")
        return invoice, self.client.accounts.get(invoice.account_id)

    def _common(self, invoice: Invoice, account: Account, amount: Decimal, reason: str, limit: Decimal,
                evidence: list[str]) -> dict[str, Any]:
        due = f", due {invoice.due_date}" if invoice.due_date else ""
        return {"account_id": account.account_id, "account_number": account.account_number,
                "account_name": account.name, "currency": invoice.currency, "amount": amount,
                "reason": reason.strip() or "no reason given", "invoice_id": invoice.invoice_id,
                "invoice_number": invoice.invoice_number, "limit": limit, "snapshot": invoice_snapshot(invoice),
                "evidence": [f"{invoice.invoice_number}: {money(invoice.amount, invoice.currency)}, open balance "
                             f"{money(invoice.balance, invoice.currency)}{due}", *evidence]}


class ProposalBase(BaseModel):
    """Fields and checks every kind shares; see the module docstring for what a kind adds."""

    model_config = ConfigDict(frozen=True)

    title: ClassVar[str] = "proposal"
    """How a card names the kind ("credit memo")."""
    editable: ClassVar[bool] = False
    """Whether an approver may edit the amount."""
    text_editable: ClassVar[bool] = False
    """Whether an approver may edit the text (`with_text`), e.g. a customer note."""
    two_approvers_above_limit: ClassVar[bool] = False
    """Whether `WRITE_OFF_TWO_APPROVERS_ABOVE` applies (two different approvers above that amount)."""

    account_id: str
    account_number: str
    account_name: str
    currency: str
    amount: Decimal
    reason: str = Field(min_length=1, max_length=500)
    evidence: list[str] = []
    invoice_id: str | None = None
    invoice_number: str | None = None
    limit: Decimal
    """The largest amount the data allows for this proposal (for edits)."""
    snapshot: Snapshot

    def model_post_init(self, _: Any) -> None:
        if self.amount <= 0:
            raise ProposalError(f"The amount must be more than zero (got {money(self.amount, self.currency)}).")
        if self.amount != self.amount.quantize(CENT):
            raise ProposalError(f"{self.amount} has more than two decimals; amounts are to the cent.")
        if self.amount > self.limit:
            raise ProposalError(f"{money(self.amount, self.currency)} is more than {self._limit_words()} "
                                f"({money(self.limit, self.currency)}).")

    def _limit_words(self) -> str:
        return f"the open balance of {self.invoice_number}"

    @property
    def target(self) -> str:
        """The object it acts on: the invoice number, else the account number."""
        return self.invoice_number or self.account_number

    def balance_after(self) -> Decimal | None:
        """The open balance once it has run (None when it does not change the balance now)."""
        return max(self.snapshot.balance - self.amount, Decimal(0))

    def with_amount(self, amount: Decimal) -> Proposal:
        """The same proposal for another amount, validated again."""
        from bot.actions.kinds import parse_proposal

        if not self.editable:
            raise ProposalError("The amount of this kind of proposal cannot be edited.")
        return parse_proposal({**self.model_dump(), "amount": amount})

    def with_text(self, text: str) -> Proposal:
        """The same proposal with an approver's text, validated again (kinds with `text_editable`)."""
        raise ProposalError("The text of this kind of proposal cannot be edited.")

    def editable_text(self) -> str:
        """The text an approver may edit (kinds with `text_editable`)."""
        return ""

    def reread(self, client: ZuoraClient) -> Snapshot:
        """The object now, for the stale check before executing."""
        if self.snapshot.object_kind == "invoice":
            return invoice_snapshot(client.invoices.get(self.snapshot.object_id))
        return account_snapshot(client.accounts.get(self.snapshot.object_id))

    def card_sections(self) -> list[tuple[str, str]]:
        """Extra facts for the card, as (title, text) sections."""
        return []

    # -- what a kind must say -----------------------------------------------------------------------

    def sentence(self) -> str:
        raise NotImplementedError

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        """The one Zuora call; `ref` (the proposal id) is written into a comment where Zuora keeps one."""
        raise NotImplementedError

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        """What Zuora's 2xx answer to `request()` means."""
        raise NotImplementedError

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        """The request's effect looked up in Zuora (after a crash): an Outcome if it is there, None if not
        or if it cannot be told. Raises `ZuoraError` when Zuora cannot be read."""
        return None

    def again(self, drafts: DraftContext) -> Proposal:
        """The same request drafted again from today's data (after a stale or expired card)."""
        raise NotImplementedError
