"""Collections escalation: the account marked for collections (an account custom field; a PUT)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from bot.actions.kinds.base import (
    ESCALATION_FIELD,
    DraftContext,
    Outcome,
    ProposalBase,
    ProposalError,
    ZuoraRequest,
    account_snapshot,
)
from bot.money import count, money
from bot.zuora import ZuoraClient
from bot.zuora.errors import ZuoraNotFound

__all__ = ["ESCALATION_FIELD", "CollectionsEscalation", "draft"]


class CollectionsEscalation(ProposalBase):
    """The account marked for collections (an account custom field)."""

    title: ClassVar[str] = "collections escalation"

    kind: Literal["collections_escalation"] = "collections_escalation"
    fields: dict[str, str] = {ESCALATION_FIELD: "Escalated"}

    def _limit_words(self) -> str:
        return f"the overdue balance of {self.account_number}"

    def balance_after(self) -> Decimal | None:
        return None

    def sentence(self) -> str:
        changes = ", ".join(f"{k} = {v}" for k, v in self.fields.items())
        return (f"Escalate {self.account_name} ({self.account_number}) to collections for "
                f"{money(self.amount, self.currency)} overdue: set {changes} on the account.")

    def request(self, today: date, ref: str = "") -> ZuoraRequest:
        return ZuoraRequest(method="PUT", path=f"/v1/accounts/{self.account_id}", body=dict(self.fields))

    def outcome(self, client: ZuoraClient, body: dict[str, Any]) -> Outcome:
        return Outcome("succeeded", f"{self.account_number} marked for collections.", document=self.account_number)

    def find(self, client: ZuoraClient, ref: str) -> Outcome | None:
        account = client.accounts.get(self.account_id)
        if all(account.custom_fields.get(k) == v for k, v in self.fields.items()):
            return Outcome("succeeded", f"{self.account_number} marked for collections (found in Zuora).",
                           document=self.account_number)
        return None

    def again(self, drafts: DraftContext) -> CollectionsEscalation:
        return draft(drafts, self.account_number, self.reason)


def draft(ctx: DraftContext, typed: str, reason: str, *, extra: list[str] | None = None) -> CollectionsEscalation:
    key = typed.strip()
    try:
        account = ctx.client.accounts.get(key.upper() if len(key) != 32 else key)
    except ZuoraNotFound:
        raise ProposalError(f"There is no account {key!r}.") from None
    if account.custom_fields.get(ESCALATION_FIELD) == "Escalated":
        raise ProposalError(f"{account.account_number} is already escalated to collections.")
    overdue = list(ctx.client.invoices.query(filters=[
        f"accountid.EQ:{account.account_id}", "status.EQ:Posted", "balance.GT:0", f"duedate.LT:{ctx.today}"],
        sort="duedate.ASC", page_size=50))
    total = sum((i.balance for i in overdue), Decimal(0))
    if total <= 0:
        raise ProposalError(f"{account.account_number} has nothing overdue to escalate.")
    oldest = overdue[0]
    evidence = [f"{count(len(overdue), 'overdue invoice')}, {money(total, account.currency)} in total",
                f"oldest: {oldest.invoice_number}, due {oldest.due_date} "
                f"({(ctx.today - oldest.due_date).days if oldest.due_date else 0} days ago)"]
    return CollectionsEscalation(
        account_id=account.account_id, account_number=account.account_number, account_name=account.name,
        currency=account.currency, amount=total, limit=total, reason=reason.strip() or "overdue balance",
        evidence=[*evidence, *(extra or [])], snapshot=account_snapshot(account),
        fields={ESCALATION_FIELD: "Escalated"})
