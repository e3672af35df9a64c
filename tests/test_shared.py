"""Shared answers carry no contact details: the channel version of an answer (`bot.copilot.shared`), end to end."""

from __future__ import annotations

import json

import pytest

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.answers import Answer
from bot.copilot.shared import OMITTED, for_channel
from bot.sandbox import ZuoraSandbox
from bot.zuora import ZuoraClient
from tests.fakes.slack_api import FakeSlack
from tests.slack_stack import Stack

pytestmark = pytest.mark.both_databases


def _contact(sandbox: ZuoraSandbox, number: str) -> tuple[str, str]:
    contact = sandbox.tenant.accounts[next(k for k, a in sandbox.tenant.accounts.items()
                                           if a["accountNumber"] == number)]["billToContact"]
    return f"{contact['firstName']} {contact['lastName']}", contact["workEmail"]


def test_the_channel_version_of_an_account_answer_has_no_contact(client: ZuoraClient, sandbox: ZuoraSandbox) -> None:
    name, email = _contact(sandbox, "A00000003")
    answer = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))).ask("account A00000003")
    assert name in answer.text and email in answer.text  # the requester's own copy keeps them
    shared = for_channel(answer)
    dumped = shared.text + json.dumps(shared.facts)
    assert name not in dumped and email not in dumped and "Bill-to" not in shared.text
    assert shared.text.split("\n")[0] == answer.text.split("\n")[0]  # the balance line is unchanged
    assert "Contact details are left out" in shared.notes[-1]


def test_the_channel_version_masks_contact_shapes_but_not_amounts() -> None:
    answer = Answer(intent="get_account_summary", facts={"bill_to": {"name": "Ana Ito", "phone": "+1-555-123-4567"}},
                    text="Ana Ito (ana@northwind.example, +1-555-123-4567, 12 Harbour Street) owes *+554.54 USD*; "
                         "call 555-222-3333 today. INV00000042 is 1,234.50 USD.")
    shared = for_channel(answer)
    assert shared.text == (f"{OMITTED} ({OMITTED}, {OMITTED}, {OMITTED}) owes *+554.54 USD*; call {OMITTED} today. "
                           "INV00000042 is 1,234.50 USD.")
    assert shared.facts == {}
    plain = Answer(intent="explain_invoice", text="*+554.54 USD* higher", facts={"difference": "554.54"})
    assert for_channel(plain) is plain  # nothing to leave out: the same answer, no note


def test_a_mention_in_a_channel_leaves_contacts_out_a_dm_keeps_them(tmp_path: object, slack: FakeSlack) -> None:
    stack = Stack(tmp_path, slack)  # type: ignore[arg-type]
    try:
        name, email = _contact(stack.sandbox, "A00000003")
        stack.mention("account A00000003", ts="1790000100.000100")
        [update] = slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs)) and \
            slack.calls("chat.update")
        shown = json.dumps(update.body, ensure_ascii=False)
        assert "A00000003" in shown and name not in shown and email not in shown
        stack.event({"type": "message", "channel_type": "im", "channel": "D0REP001", "user": "U0REP001",
                     "text": "account A00000003", "ts": "1790000600.000100"})
        dm = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" and r.body.get("channel") == "D0REP001"
                                           for r in rs)) and \
            [r for r in slack.calls("chat.postMessage") if r.body.get("channel") == "D0REP001"][0]
        assert email in json.dumps(dm.body, ensure_ascii=False)  # only the requester reads a DM

        stack.command("account A00000003")  # ephemeral first, then "Post to channel"
        hook = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/") for r in rs)) and \
            [r for r in slack.requests if r.method.startswith("/hooks/")][0]
        assert email in json.dumps(hook.body, ensure_ascii=False)
        share = hook.body["blocks"][-1]["elements"][-1]
        stack.action("copilot.share", share["value"], ephemeral=True)
        posted = slack.wait_for(lambda rs: sum(r.method == "chat.postMessage" for r in rs) == 3) and \
            slack.calls("chat.postMessage")[-1]
        text = json.dumps(posted.body, ensure_ascii=False)
        assert posted.body["channel"] == "C0SUPPORT" and "Shared by" in text
        assert name not in text and email not in text
    finally:
        stack.close()
