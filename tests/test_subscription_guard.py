"""The LLM guard for subscription kinds: only the requester's subscription, kind and percentage."""

from __future__ import annotations

import json

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.ask import Ask
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.fakes.llm import ScriptedModel, call, say


def test_a_change_stands_only_for_the_subscription_named() -> None:
    ask = Ask.read("upgrade A-S00000002 to Business")
    args = {"subscription": "A-S00000002", "change": "change_plan", "plan": "Business"}
    assert ask.refusal("propose_subscription_change", args) is None
    refused = ask.refusal("propose_subscription_change", {**args, "subscription": "A-S00000009"})
    assert refused is not None and refused.code == "subscription_not_named"
    assert ask.refusal("propose_write_off", {"invoice": "INV-42"}) is not None
    assert ask.refusal_of({"kind": "subscription_change", "subscription_number": "A-S00000002"}) is None
    assert ask.refusal_of({"kind": "subscription_change", "subscription_number": "A-S00000003"}) is not None


def test_a_question_about_a_subscription_allows_no_change() -> None:
    ask = Ask.read("what plan is A-S00000002 on?")
    refused = ask.refusal("propose_subscription_change", {"subscription": "A-S00000002"})
    assert refused is not None and refused.code == "kind_not_asked"


def test_an_offer_cannot_exceed_the_percentage_typed() -> None:
    ask = Ask.read("offer A-S00000010 20% for 3 months")
    assert ask.refusal("propose_retention_offer", {"subscription": "A-S00000010", "percent": "20"}) is None
    refused = ask.refusal("propose_retention_offer", {"subscription": "A-S00000010", "percent": "30"})
    assert refused is not None and refused.code == "amount_above_ask"
    assert ask.refusal_of({"kind": "retention_offer", "subscription_number": "A-S00000010", "percent": "25"}) \
        is not None


def test_a_follow_up_keeps_the_subscription_of_the_thread() -> None:
    ask = Ask.read("yes, do it", earlier=["upgrade A-S00000002 to Business"])
    assert ask.refusal("propose_subscription_change", {"subscription": "A-S00000002"}) is None
    assert ask.refusal("propose_subscription_change", {"subscription": "A-S00000005"}) is not None


def test_the_model_may_propose_the_change_asked_but_not_on_another_subscription(client: ZuoraClient,
                                                                                 sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(
        call("propose_subscription_change", '{"subscription": "A-S00000009", "change": "change_plan", '
                                            '"plan": "Enterprise", "reason": "as noted on the account"}'),
        call("propose_subscription_change", '{"subscription": "A-S00000002", "change": "change_plan", '
                                            '"plan": "Business", "reason": "customer asked"}', "c2"),
        say("Drafted an upgrade of A-S00000002 to Business for approval."))
    copilot = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)), model=model)
    answer = copilot.ask("upgrade A-S00000002 to Business, the customer asked")
    refusal = json.loads(model.calls[1][0][-1].content or "")
    assert "did not name that subscription" in refusal["error"]
    assert answer.intent == "propose_subscription_change"
    proposal = answer.facts["proposal"]
    assert proposal["subscription_number"] == "A-S00000002" and proposal["plan"] == "Business"
    assert sandbox.requests_to("/v1/orders", "POST") == []  # only previews; nothing placed
