"""The copilot's `propose_*` tools: they draft a proposal validated against Zuora, and never write to it.

A drafted proposal comes back as a `ProposalResult`; the Slack layer stores it and posts its
approval card. A request that does not fit the data becomes a `ToolError("invalid", …)`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from bot.actions.drafts import Drafts
from bot.actions.kinds import retention_offer, subscription_change
from bot.actions.proposals import Proposal, ProposalError
from bot.copilot.results import ProposalResult
from bot.copilot.tools import AccountKey, InvoiceKey, SubscriptionKey, ToolContext, ToolError, tool

__all__ = ["propose_collections_escalation", "propose_credit_memo", "propose_dunning_email", "propose_payment_plan",
           "propose_payment_retry", "propose_retention_offer", "propose_subscription_change", "propose_write_off"]


class _ProposeArgs(BaseModel):
    reason: str = Field(min_length=1, max_length=300, description="Why, in the requester's words")


class CreditArgs(_ProposeArgs):
    invoice: InvoiceKey = Field(description="Invoice number as typed")
    amount: Decimal = Field(gt=0, description="Amount to credit, in the invoice currency, as the requester said it")


class InvoiceActionArgs(_ProposeArgs):
    invoice: InvoiceKey = Field(description="Invoice number as typed")


class RetryArgs(InvoiceActionArgs):
    amount: Decimal | None = Field(default=None, gt=0, description="Omit to retry the whole open balance")


class PlanArgs(InvoiceActionArgs):
    installments: int = Field(ge=2, le=24, description="Number of monthly installments")


class EscalationArgs(_ProposeArgs):
    account: AccountKey = Field(description="Account number, e.g. A00000007")


def _proposed(make: Callable[[], Proposal]) -> ProposalResult:
    try:
        proposal = make()
    except ProposalError as exc:
        raise ToolError("invalid", str(exc)) from None
    return ProposalResult(kind=proposal.kind, sentence=proposal.sentence(), proposal=proposal.model_dump(mode="json"))


@tool(CreditArgs)
def propose_credit_memo(ctx: ToolContext, args: CreditArgs) -> ProposalResult:
    """Propose a credit memo on an invoice (posted and applied to it). Only drafts a proposal that an approver
    must approve in Slack; nothing changes in Zuora now. Use the amount the requester asked for."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).credit_memo(args.invoice, args.amount, args.reason))


@tool(InvoiceActionArgs)
def propose_write_off(ctx: ToolContext, args: InvoiceActionArgs) -> ProposalResult:
    """Propose writing off an invoice's whole open balance. Only drafts a proposal for approval."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).write_off(args.invoice, args.reason))


@tool(RetryArgs)
def propose_payment_retry(ctx: ToolContext, args: RetryArgs) -> ProposalResult:
    """Propose charging an invoice's open balance (or part of it) again to the account's default payment
    method. Only drafts a proposal for approval."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).payment_retry(args.invoice, args.amount, args.reason))


@tool(PlanArgs)
def propose_payment_plan(ctx: ToolContext, args: PlanArgs) -> ProposalResult:
    """Propose a payment plan: the invoice's open balance in monthly installments. Only drafts a proposal."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).payment_plan(args.invoice, args.installments,
                                                                          args.reason))


@tool(InvoiceActionArgs)
def propose_dunning_email(ctx: ToolContext, args: InvoiceActionArgs) -> ProposalResult:
    """Propose emailing an unpaid invoice again to the customer's bill-to contact. Only drafts a proposal."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).dunning_email(args.invoice, args.reason))


@tool(EscalationArgs)
def propose_collections_escalation(ctx: ToolContext, args: EscalationArgs) -> ProposalResult:
    """Propose escalating an account with overdue invoices to collections. Only drafts a proposal."""
    return _proposed(lambda: Drafts(ctx.client, ctx.today()).collections_escalation(args.account, args.reason))


# -- subscription changes (issue 16) ---------------------------------------------------------------


class SubscriptionChangeArgs(_ProposeArgs):
    subscription: SubscriptionKey = Field(description="Subscription number as typed, e.g. A-S00000002")
    change: Literal["change_plan", "add_product", "update_quantity", "remove_product"] = Field(
        description="change_plan: upgrade/downgrade to another plan; add_product / remove_product: an add-on; "
                    "update_quantity: seats or another per-unit charge")
    plan: str = Field(min_length=1, max_length=100, description="The plan or product as the requester named it "
                                                                "(e.g. Business, SMS add-on), or the unit (seats)")
    quantity: Decimal | None = Field(default=None, description="update_quantity only: the number they said")
    delta: bool = Field(default=False, description="update_quantity only: true when they said add/remove N (a "
                                                   "change), false when they said set to N")
    when: Literal["auto", "today", "next_period", "renewal"] = Field(
        default="auto", description="When the requester said it should take effect; auto lets Zuora's previews decide")


@tool(SubscriptionChangeArgs)
def propose_subscription_change(ctx: ToolContext, args: SubscriptionChangeArgs) -> ProposalResult:
    """Propose changing a subscription (plan, add-on, quantity) as one Zuora order. Zuora previews it effective
    today and at the next period; only drafts a proposal that an approver must approve in Slack."""
    return _proposed(lambda: subscription_change.draft(
        Drafts(ctx.client, ctx.today()), args.subscription, args.change, plan=args.plan, quantity=args.quantity,
        delta=args.delta, when=args.when, reason=args.reason, ttl_minutes=ctx.changes.preview_ttl_minutes,
        now=ctx.now()))


class RetentionOfferArgs(_ProposeArgs):
    subscription: SubscriptionKey = Field(description="Subscription number as typed, e.g. A-S00000010")
    percent: Decimal = Field(gt=0, le=100, description="The discount in percent, as the requester said it")
    periods: int = Field(default=3, ge=1, le=120, description="How many billing periods it lasts")


@tool(RetentionOfferArgs)
def propose_retention_offer(ctx: ToolContext, args: RetentionOfferArgs) -> ProposalResult:
    """Propose a retention offer: a percentage discount on a subscription for N billing periods, added as a Zuora
    order with the tenant's discount plan. Previewed by Zuora; only drafts a proposal for approval."""
    return _proposed(lambda: retention_offer.draft(
        Drafts(ctx.client, ctx.today()), args.subscription, args.percent, args.periods, reason=args.reason,
        settings=ctx.changes, now=ctx.now()))
