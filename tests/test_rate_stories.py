"""The demo tenant's rate stories, explained by mechanism: a tax rate change, a discount rate change, and a volume
tier re-pricing the whole quantity (`bot.sandbox.seed`, `bot.copilot.explain`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.sandbox import STORIES, ZuoraSandbox
from bot.zuora import ZuoraClient

D = Decimal


@pytest.fixture
def copilot(client: ZuoraClient, sandbox: ZuoraSandbox) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)))


def _latest(sandbox: ZuoraSandbox, story: str) -> str:
    tenant = sandbox.tenant
    account = tenant.find("accounts", STORIES[story]["account"])
    assert account is not None
    return str(tenant.invoices[tenant.invoices_of[account["id"]][-1]]["invoiceNumber"])


def _drivers(copilot: Copilot, number: str) -> dict[str, dict]:
    answer = copilot.ask(f"explain {number}")
    assert answer.intent == "explain_invoice", answer.text
    drivers = answer.facts["drivers"]
    assert sum(D(d["amount"]) for d in drivers) == D(answer.facts["difference"])
    return {d["kind"]: d for d in drivers}


def test_tax_rate_change(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    drivers = _drivers(copilot, _latest(sandbox, "tax_rate_change"))
    assert list(drivers) == ["tax_change"]
    tax = drivers["tax_change"]
    assert (D(tax["rate_before"]), D(tax["rate_after"])) == STORIES["tax_rate_change"]["rates"]
    assert D(tax["base_before"]) == D(tax["base_after"]) == D("300.00") and D(tax["amount"]) == D("3.75")
    assert tax["sentence"].startswith("Tax rate went from 8.25 % to 9.5 % (taxable amount 300.00 USD → 300.00 USD)")


def test_discount_rate_change(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    drivers = _drivers(copilot, _latest(sandbox, "discount_rate_change"))
    discount = drivers["discount_changed"]
    assert (D(discount["rate_before"]), D(discount["rate_after"])) == STORIES["discount_rate_change"]["rates"]
    assert D(discount["base_after"]) == D("600.00") and D(discount["amount"]) == D("-60.00")
    assert "the discount rate went from 10 % to 20 % (of 600.00 USD → 600.00 USD of charges)" in discount["sentence"]
    assert "at the same 8.25 % rate" in drivers["tax_change"]["sentence"]


def test_volume_tier_reprices_the_whole_quantity(copilot: Copilot, sandbox: ZuoraSandbox) -> None:
    drivers = _drivers(copilot, _latest(sandbox, "volume_tier"))
    assert set(drivers) == {"quantity_change", "price_change", "tax_change"}
    tier = drivers["price_change"]
    before, after = STORIES["volume_tier"]["prices"]
    assert (D(tier["unit_price_before"]), D(tier["unit_price_after"]), D(tier["quantity_after"])) == \
        (before, after, D(15))
    assert D(tier["amount"]) == (after - before) * 15
    assert "on all 15 Seats (the whole quantity re-priced: a volume tier)" in tier["sentence"]
    assert D(drivers["quantity_change"]["amount"]) == before * 5


def test_the_rate_stories_leave_the_bill_runs_and_earlier_numbers_alone(sandbox: ZuoraSandbox) -> None:
    tenant = sandbox.tenant
    story_accounts = {STORIES[s]["account"] for s in ("tax_rate_change", "discount_rate_change", "volume_tier")}
    from bot.sandbox.portfolio_stories import PORTFOLIO_STORIES  # added last, also outside the bill runs

    portfolio_accounts = {v for story in PORTFOLIO_STORIES.values() for k, v in story.items() if k == "account"}
    portfolio_accounts |= set(PORTFOLIO_STORIES["declines_country"]["accounts"])  # type: ignore[arg-type]
    assert portfolio_accounts == {f"A{n:08d}" for n in range(74, 79)}  # after the rate stories' A00000071-73
    for invoice in tenant.invoices.values():
        account = tenant.accounts[invoice["accountId"]]["accountNumber"]
        assert (invoice["sourceId"] is None) == (account in story_accounts | portfolio_accounts)
        assert invoice["balance"] == 0 or account not in story_accounts  # paid: no overdue story changes
    assert tenant.find("invoices", "INV00000042")["amount"] == STORIES["price_increase"]["amount"]  # type: ignore[index]
