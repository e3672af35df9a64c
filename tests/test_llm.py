"""The copilot with an LLM: a scripted model for the loop's rules, and real litellm against a loopback
OpenAI-compatible stub for the adapter."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from bot.app import build
from bot.config import load_settings
from bot.copilot import Copilot, LLMError, Message, Toolbox, ToolContext
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.conftest import FakeClock
from tests.fakes.llm import ScriptedModel, call, say
from tests.fakes.openai_stub import OpenAIStub, error, text, tool_calls

GROUNDED = ("*INV00000042* is *554.54 USD* higher than INV00000022: usage +250.00 USD, seats +150.00 USD, "
            "proration +82.26 USD, the discount ended (+30.00 USD) and tax +42.28 USD.")


def _copilot(client: ZuoraClient, sandbox: ZuoraSandbox, model: Any, **kw: Any) -> Copilot:
    return Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today)), model=model, **kw)


def _contact(sandbox: ZuoraSandbox, account_number: str) -> list[str]:
    account = sandbox.tenant.find("accounts", account_number)
    assert account is not None
    c = account["billToContact"]
    return [account["name"], c["firstName"], c["lastName"], c["workEmail"], c["workPhone"], c["address1"]]


def test_model_uses_tools_and_writes_the_answer(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("explain_invoice", '{"invoice": "INV-42"}'), say(GROUNDED))
    answer = _copilot(client, sandbox, model).ask("why is INV-42 higher?")
    assert answer.source == "llm" and answer.text == GROUNDED and answer.intent == "explain_invoice"
    assert sum(Decimal(d["amount"]) for d in answer.facts["drivers"]) == Decimal("554.54")
    assert [c.label for c in answer.citations] == ["INV00000042", "INV00000022"]
    first_messages, first_tools, _ = model.calls[0]
    assert first_messages[0].role == "system" and "Never invent a number" in (first_messages[0].content or "")
    assert {t["function"]["name"] for t in first_tools} >= {"explain_invoice", "get_account_summary"}
    tool_message = model.calls[1][0][-1]
    assert tool_message.role == "tool"
    assert json.loads(tool_message.content or "")["explanation"]["difference"] == "554.54"


def test_no_customer_pii_reaches_the_model_and_placeholders_come_back(client: ZuoraClient,
                                                                      sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("get_account_summary", '{"account": "A00000007"}'),
                          call("list_payments", '{"account": "[NAME_1]", "limit": 3}', "c2"),
                          say("[NAME_1] owes *27,125.07 USD*; contact [NAME_2] at [EMAIL_1]."))
    answer = _copilot(client, sandbox, model).ask(
        "what does A00000007 owe? they say card 4111 1111 1111 1111 was charged")
    seen = model.seen()
    for secret in _contact(sandbox, "A00000007"):
        assert secret not in seen, secret
    assert "4111 1111 1111 1111" not in seen and "card ending 1111" in seen
    assert answer.source == "llm" and answer.intent == "list_payments"  # "[NAME_1]" was restored for the tool
    name, first, last, email = _contact(sandbox, "A00000007")[:4]
    assert answer.text == f"{name} owes *27,125.07 USD*; contact {first} {last} at {email}."


def test_without_redaction_the_model_sees_names(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("get_account_summary", '{"account": "A00000007"}'), say("Owes 27,125.07 USD."))
    _copilot(client, sandbox, model, redact_pii=False).ask("what does A00000007 owe")
    assert _contact(sandbox, "A00000007")[3] in model.seen()


def test_an_invented_amount_falls_back_to_the_deterministic_answer(client: ZuoraClient, sandbox: ZuoraSandbox,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedModel(call("explain_invoice", '{"invoice": "INV-42"}'),
                          say("INV00000042 is 554.54 USD higher, a 176.65% jump, mostly a 612.40 USD usage spike."))
    with caplog.at_level(logging.WARNING, logger="bot.copilot.agent"):
        answer = _copilot(client, sandbox, model).ask("why is INV-42 higher")
    assert answer.source == "deterministic" and "*554.54 USD higher*" in answer.text
    assert any("not found in Zuora data: 176.65%, 612.40" in n for n in answer.notes)
    assert "falling back" in caplog.text and "why is INV-42" not in caplog.text
    assert "2 number(s) not found" in caplog.text and "612" not in caplog.text  # the model's text stays out of logs


def test_tool_calls_are_capped(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(*[call("get_invoice", json.dumps({"invoice": str(n)}), f"c{n}") for n in range(1, 9)])
    answer = _copilot(client, sandbox, model, max_tool_calls=6).ask("tell me everything")
    assert [bool(tools) for _, tools, _ in model.calls] == [True] * 6 + [False]
    assert len(sandbox.requests_to("/v1/invoices/*/items")) == 6
    assert answer.source == "deterministic" and any("more than 6 tool calls" in n for n in answer.notes)


def test_several_calls_in_one_turn_count_against_the_cap(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    from bot.copilot import Completion, ToolCall

    many = Completion(tool_calls=tuple(ToolCall(f"c{n}", "get_invoice", json.dumps({"invoice": str(n)}))
                                       for n in range(1, 10)))
    model = ScriptedModel(many, say("Done."))
    answer = _copilot(client, sandbox, model, max_tool_calls=6).ask("show INV-1 to INV-9")
    assert len(sandbox.requests_to("/v1/invoices/*/items")) == 6
    assert len([m for m in model.calls[1][0] if m.role == "tool"]) == 6
    assert answer.source == "llm" and answer.text == "Done."


def test_bad_tool_arguments_go_back_to_the_model(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("explain_invoice", "{not json"), call("explain_invoice", '{"invoice": 42}', "c2"),
                          call("explain_invoice", '{"invoice": "INV-42"}', "c3"), say(GROUNDED))
    answer = _copilot(client, sandbox, model).ask("why is INV-42 higher")
    errors = [json.loads(m.content or "{}") for m in model.calls[3][0] if m.role == "tool"]
    assert errors[0] == {"error": "The arguments were not a JSON object.", "error_kind": "invalid"}
    assert errors[1]["error_kind"] == "invalid" and "invoice" in errors[1]["error"]
    assert answer.source == "llm"


def test_model_errors_and_timeouts_fall_back(client: ZuoraClient, sandbox: ZuoraSandbox, clock: FakeClock) -> None:
    failing = ScriptedModel(LLMError("RateLimitError: slow down"))
    answer = _copilot(client, sandbox, failing).ask("why is INV-42 higher")
    assert answer.source == "deterministic" and any("the language model failed (ref " in n for n in answer.notes)

    def slow(messages: list[Message], tools: list[dict[str, Any]]) -> Any:
        clock.advance(30)
        return call("explain_invoice", '{"invoice": "INV-42"}')

    sluggish = ScriptedModel(slow)
    answer = _copilot(client, sandbox, sluggish, timeout_s=20, clock=clock).ask("why is INV-42 higher")
    assert len(sluggish.calls) == 1 and sluggish.calls[0][2] == 20
    assert answer.source == "deterministic" and any("within 20 s" in n for n in answer.notes)


def test_empty_question_never_reaches_the_model(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel()
    assert _copilot(client, sandbox, model).ask("  ").intent == "help"
    assert model.calls == []


# -- real litellm, over HTTP, against the loopback stub -------------------------------------------


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    server = OpenAIStub()
    yield server
    server.close()


def _llm_copilot(stub: OpenAIStub, timeout: float = 20.0) -> Copilot:
    settings = load_settings(llm_model="openai/stub-model", llm_api_base=stub.url, llm_api_key="test-key",
                             llm_timeout_s=timeout)
    return build(settings).copilot


def test_litellm_calls_tools_then_answers(stub: OpenAIStub) -> None:
    stub.queue(tool_calls(("explain_invoice", {"invoice": "INV-42"})), text(GROUNDED))
    answer = _llm_copilot(stub).ask("why is INV-42 higher")
    assert answer.source == "llm" and answer.text == GROUNDED
    first, second = stub.requests
    assert first["model"] == "stub-model" and first["messages"][1] == {"role": "user", "content":
                                                                        "why is INV-42 higher"}
    names = {t["function"]["name"] for t in first["tools"]}
    assert names >= {"explain_invoice", "get_invoice", "get_account_summary", "list_payments",
                     "list_overdue_invoices", "get_subscription", "get_usage", "propose_credit_memo"}
    assert second["messages"][2]["tool_calls"][0]["function"]["name"] == "explain_invoice"
    result = json.loads(second["messages"][3]["content"])
    assert second["messages"][3]["role"] == "tool" and result["explanation"]["difference"] == "554.54"


def test_litellm_invented_amount_falls_back(stub: OpenAIStub) -> None:
    stub.queue(tool_calls(("explain_invoice", {"invoice": "INV-42"})),
               text("INV00000042 went up by 612.00 USD because of seats."))
    answer = _llm_copilot(stub).ask("why is INV-42 higher")
    assert answer.source == "deterministic" and "*554.54 USD higher*" in answer.text
    assert any("612" in n for n in answer.notes)


def test_litellm_timeout_falls_back(stub: OpenAIStub) -> None:
    stub.queue(text("too late"), delay=3.0)
    answer = _llm_copilot(stub, timeout=0.5).ask("why is INV-42 higher")
    assert answer.source == "deterministic" and "*554.54 USD higher*" in answer.text
    assert any("the language model failed (ref " in n or "within" in n for n in answer.notes)


def test_no_fixture_pii_reaches_the_stub(stub: OpenAIStub) -> None:
    stub.queue(tool_calls(("get_account_summary", {"account": "stark"}), ("list_overdue_invoices", {})),
               text("[NAME_1] owes *27,125.07 USD*."))
    answer = _llm_copilot(stub).ask("what does Stark Logistics owe? email ben.okafor@starklogistics.example or "
                                    "call +1-555-222-3333; card 4242424242424242")
    sent = json.dumps(stub.requests)
    tenant = ZuoraSandbox().tenant
    for account in tenant.accounts.values():  # the overdue list names other customers too
        contact = account["billToContact"]
        for secret in (contact["workEmail"], contact["workPhone"], contact["address1"],
                       f'{contact["firstName"]} {contact["lastName"]}'):
            assert secret not in sent, secret
    for overdue in ("Stark Logistics", "Umbrella Health"):
        assert overdue not in sent
    assert "4242424242424242" not in sent and "+1-555-222-3333" not in sent
    assert answer.source == "llm" and answer.text == "Stark Logistics owes *27,125.07 USD*."


def test_the_model_sees_the_thread_so_far_without_earlier_pii(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    from bot.copilot.answers import Exchange

    name = _contact(sandbox, "A00000007")[0]
    deterministic = _copilot(client, sandbox, None)
    first = deterministic.ask(f"what does {name} owe")
    assert first.intent == "get_account_summary" and name in first.text
    earlier = [Exchange(question=f"what does {name} owe", answer=first)]
    model = ScriptedModel(call("list_payments", '{"account": "A00000007"}'), say("They have 3 payments."))
    answer = _copilot(client, sandbox, model).ask("and their payments?", earlier)
    assert answer.source == "llm", answer.notes
    messages = model.calls[0][0]
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2].content == "(answered with get_account_summary; about account A00000007)"
    assert messages[1].content == "what does [NAME_1] owe" and name not in model.seen()
    # without redaction the model gets the earlier answer's text
    plain = ScriptedModel(say("See above."))
    _copilot(client, sandbox, plain, redact_pii=False).ask("thanks, and the total?", earlier)
    assert plain.calls[0][0][2].content == first.text


def test_the_model_can_only_propose_what_was_asked(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("propose_credit_memo", '{"invoice": "INV-448", "amount": 500, "reason": "outage"}'),
                          call("propose_credit_memo", '{"invoice": "INV-448", "amount": "50", "reason": "outage"}',
                               "c2"),
                          say("Drafted a 50.00 USD credit on INV00000448 for approval."))
    answer = _copilot(client, sandbox, model).ask("credit INV-448 $50 for the outage")
    refusal = json.loads(model.calls[1][0][-1].content or "")
    assert refusal == {"error": "Refused: 500 is more than the requester asked for (50): propose at most what "
                                "they asked.", "error_kind": "invalid"}
    assert "Dropped a proposal the request did not ask for (credit_memo: amount above ask)." in answer.notes
    assert answer.source == "llm" and answer.intent == "propose_credit_memo"
    proposal = answer.facts["proposal"]
    assert proposal["amount"] == "50" and proposal["reason_code"] == "Service Outage Credit"
    assert sandbox.requests_to("/v1/credit-memos/*", "POST") == []  # proposing writes nothing


def test_without_an_amount_in_the_question_the_model_cannot_pick_one(client: ZuoraClient,
                                                                      sandbox: ZuoraSandbox) -> None:
    model = ScriptedModel(call("propose_payment_retry", '{"invoice": "INV-448", "amount": 10, "reason": "x"}'),
                          say("How much should I retry?"))
    answer = _copilot(client, sandbox, model).ask("retry INV-448 please")
    assert "did not say an amount" in (model.calls[1][0][-1].content or "")
    assert answer.source == "deterministic" and any("(payment_retry: amount not given)" in n for n in answer.notes)
    assert answer.facts["proposal"]["amount"] == "3678.81"  # the router drafts what was asked: the open balance


def test_provider_error_text_never_reaches_users_or_logs(stub: OpenAIStub, caplog: pytest.LogCaptureFixture,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    from bot.slack.blocks import answer_message

    secret = "sk-canary-9f8e7d6c5b4a"
    stub.queue(error(401, "Incorrect API key provided: {authorization}. You can find your key at ..."))
    settings = load_settings(llm_model="openai/stub-model", llm_api_base=stub.url, llm_api_key=secret)
    with caplog.at_level(logging.DEBUG):
        answer = build(settings).copilot.ask("why is INV-42 higher")
    assert len(stub.requests) == 1  # litellm really asked the stub
    assert answer.source == "deterministic" and "*554.54 USD higher*" in answer.text
    note = next(n for n in answer.notes if "language model failed" in n)
    assert re.fullmatch(r"Deterministic answer: the language model failed \(ref [0-9a-f]{8}\)\.", note)
    ref = note.split("ref ")[1].rstrip(").")
    slack_bound = json.dumps(answer_message(answer)) + answer.model_dump_json()
    out, err = capfd.readouterr()
    for where in (slack_bound, caplog.text, out, err):
        assert secret not in where and "Incorrect API key" not in where
    failed = [r for r in caplog.records if r.getMessage().startswith("copilot: the language model failed")]
    assert len(failed) == 1 and ref in failed[0].getMessage() and "AuthenticationError" in failed[0].getMessage()


def test_a_proposal_beyond_the_ask_is_dropped_with_a_note_and_a_log_line_without_pii(
        client: ZuoraClient, sandbox: ZuoraSandbox, caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedModel(call("propose_write_off", '{"invoice": "INV-449", "reason": "per the invoice note"}'),
                          say("I drafted a write-off of INV00000449 for approval."))
    with caplog.at_level(logging.DEBUG, logger="bot.copilot"):
        answer = _copilot(client, sandbox, model).ask("credit INV-448 $50 for the outage, Zelda Quibble asked")
    assert "Dropped a proposal the request did not ask for (write_off: kind not asked)." in answer.notes
    assert answer.source == "deterministic" and answer.facts["proposal"]["kind"] == "credit_memo"  # what was asked
    assert answer.facts["proposal"]["invoice_number"] == "INV00000448" and "write-off" not in answer.text
    assert "dropped a propose_write_off call the requester did not ask for (kind_not_asked)" in caplog.text
    for private in ("Zelda", "Quibble", "outage", "Initech", "Globex"):
        assert private not in caplog.text, private
