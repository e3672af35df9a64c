"""What the requester's words allow a model to propose (pure)."""

from __future__ import annotations

from decimal import Decimal

from bot.copilot.ask import Ask, kinds_named
from bot.copilot.router import route


def test_kinds_come_from_the_words_and_negations_take_them_back() -> None:
    assert kinds_named("credit INV-42 $50 for the outage") == {"credit_memo"}
    assert kinds_named("please write off INV-449 and send a reminder for INV-385") == {"write_off", "dunning_email"}
    assert kinds_named("don't write off INV-449, just remind them") == {"dunning_email"}
    assert kinds_named("never escalate A00000007, only retry INV-387") == {"payment_retry"}
    assert kinds_named("why is INV-42 higher?") == set()


def test_the_router_reads_negations_too() -> None:
    decision = route("don't write off INV-449, just remind them")
    assert decision.tool == "propose_dunning_email"


def test_a_call_must_match_kind_object_and_amount() -> None:
    ask = Ask.read("credit INV-448 $50 for the outage")
    assert ask.refusal("propose_credit_memo", {"invoice": "INV00000448", "amount": "50"}) is None
    assert ask.refusal("propose_credit_memo", {"invoice": "#448", "amount": "49.99"}) is None
    assert ask.refusal("get_invoice", {"invoice": "INV-449"}) is None  # reading is free
    for tool, args, code in (
            ("propose_write_off", {"invoice": "INV-448"}, "kind_not_asked"),
            ("propose_credit_memo", {"invoice": "INV-449", "amount": "50"}, "invoice_not_named"),
            ("propose_credit_memo", {"invoice": "INV-448", "amount": "50.01"}, "amount_above_ask"),
            ("propose_credit_memo", {"invoice": "INV-448", "amount": "NaN"}, "amount_invalid"),
            ("propose_credit_memo", {"invoice": "INV-448", "amount": "1e9"}, "amount_above_ask")):
        refusal = ask.refusal(tool, args)
        assert refusal is not None and refusal.code == code, (tool, args)
    assert Ask.read("retry INV-448").refusal("propose_payment_retry", {"invoice": "INV-448", "amount": 1}).code == \
        "amount_not_given"  # type: ignore[union-attr]


def test_objects_a_tool_resolved_from_named_ones_count() -> None:
    ask = Ask.read("escalate the account of INV-385 to collections")
    assert ask.refusal("propose_collections_escalation", {"account": "A00000005"}) is not None
    ask = ask.resolved({"invoice": "INV-385"}, {"invoice": "INV00000385", "account": "A00000005"})
    assert ask.refusal("propose_collections_escalation", {"account": "A00000005"}) is None
    unrelated = ask.resolved({"invoice": "INV-387"}, {"invoice": "INV00000387", "account": "A00000007"})
    assert unrelated.refusal("propose_collections_escalation", {"account": "A00000007"}) is not None
    by_name = Ask.read("escalate Umbrella Health").resolved({"account": "umbrella"}, {"account": "A00000005"})
    assert by_name.refusal("propose_collections_escalation", {"account": "A00000005"}) is None
    assert Ask.read("escalate the collections for the").refusal_of(
        {"kind": "collections_escalation", "account_number": "A00000007", "account_name": "The"}) is not None


def test_follow_ups_refer_back_only_when_they_name_nothing() -> None:
    earlier = ["credit INV-448 $50 for the outage"]
    ask = Ask.read("make it 40", earlier)
    assert ask.kinds == {"credit_memo"} and ask.amounts == (Decimal(40),) and "INV00000448" in ask.invoices
    assert Ask.read("goodwill", earlier).amounts == (Decimal(50),)
    assert Ask.read("why is INV-449 higher?", earlier).kinds == frozenset()
    about = Ask.read("yes, remind them", [], {"invoice": "INV00000385", "account": "A00000005"})
    assert about.refusal("propose_dunning_email", {"invoice": "INV-385"}) is None


def test_the_drafted_proposal_is_checked_as_zuora_resolved_it() -> None:
    ask = Ask.read("remind INV-385")
    assert ask.refusal_of({"kind": "dunning_email", "invoice_number": "INV00000385"}) is None
    refusal = ask.refusal_of({"kind": "dunning_email", "invoice_number": "INV00000387"})
    assert refusal is not None and refusal.code == "invoice_not_named"


def test_the_invoice_before_a_named_one_is_not_named() -> None:
    ask = Ask.read("write off INV-448").resolved({"invoice": "INV-448", "before": True},
                                                {"invoice": "INV00000401", "account": "A00000003"})
    refusal = ask.refusal("propose_write_off", {"invoice": "INV00000401"})
    assert refusal is not None and refusal.code == "invoice_not_named"


def test_names_typed_earlier_count_only_in_a_follow_up_that_names_nothing() -> None:
    earlier = ["what does Umbrella Health owe"]
    assert Ask.read("escalate A00000007", earlier).resolved({"account": "Umbrella"}, {"account": "A00000005"}) \
        .refusal("propose_collections_escalation", {"account": "A00000005"}) is not None
    assert Ask.read("escalate them", earlier).resolved({"account": "Umbrella"}, {"account": "A00000005"}) \
        .refusal("propose_collections_escalation", {"account": "A00000005"}) is None
