"""The Slack app end to end: signed requests over real HTTP, the sandbox behind, a fake Slack Web API in front."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import build, slack_app
from bot.config import ConfigError, load_settings
from tests.fakes.slack_api import BOT_ID, BOT_USER, FakeSlack, Recorded
from tests.slack_stack import SECRET, TOKEN, Stack

pytestmark = pytest.mark.both_databases

DRIVERS = ("+250.00 USD", "+150.00 USD", "+82.26 USD", "+30.00 USD", "+42.28 USD")


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> Iterator[Stack]:
    caplog.set_level(logging.DEBUG)
    s = Stack(tmp_path, slack)
    yield s
    s.close()
    assert TOKEN not in caplog.text and SECRET not in caplog.text, "a secret reached the logs"


def blocks_text(recorded: Recorded) -> str:
    return json.dumps(recorded.body.get("blocks", []), ensure_ascii=False)


def hooks(requests: list[Recorded]) -> list[Recorded]:
    return [r for r in requests if r.method.startswith("/hooks/")]


def zuora_calls(stack: Stack) -> list[str]:
    return [r.path for r in stack.sandbox.requests if r.path != "/oauth/token"]


# -- /billing --------------------------------------------------------------------------------------


def test_billing_acks_at_once_then_answers_with_the_drivers(stack: Stack, slack: FakeSlack) -> None:
    response = stack.command("why is INV-42 higher")
    assert response.status_code == 200
    assert response.text == ":hourglass_flowing_sand: Comparing INV-42 with the invoice before it…"
    [answer] = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 1))
    body = answer.body
    assert body["response_type"] == "ephemeral" and body["replace_original"] is False
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text",
                                                            "text": "INV00000042 vs INV00000022: +554.54 USD"}}
    for amount in DRIVERS:
        assert amount in blocks_text(answer)
    assert "Sources: INV00000042, INV00000022" in blocks_text(answer)
    share = body["blocks"][-1]["elements"][-1]
    assert share["action_id"] == "copilot.share" and share["text"]["text"] == "Post to channel"
    assert body["text"].startswith("*INV00000042* (868.46 USD")


def test_ack_stays_fast_while_zuora_takes_10_s(stack: Stack, slack: FakeSlack) -> None:
    stack.sandbox.inject("/v1/invoices/*", latency=10)
    started = time.monotonic()
    response = stack.command("why is INV-42 higher")
    acked_in = time.monotonic() - started
    assert response.status_code == 200 and "Comparing INV-42" in response.text
    assert acked_in < 3, f"Slack gives up after 3 s; the ack took {acked_in:.1f} s"
    assert hooks(slack.requests) == []  # the answer is still being worked out
    stack.release.set()  # end the latency early
    [answer] = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 1))
    assert "+554.54 USD" in blocks_text(answer)


@pytest.mark.parametrize("text", ["", "help", "  HELP  "])
def test_help_and_empty_show_the_usage_without_asking_zuora(stack: Stack, text: str) -> None:
    response = stack.command(text)
    assert response.status_code == 200
    body = response.json()
    assert body["text"].startswith("*Usage:* `/billing <question>`")
    assert "`/billing why is INV-42 higher`" in body["text"]
    assert zuora_calls(stack) == []


def test_unknown_invoice_says_what_was_tried_with_a_reference_in_the_logs(
        stack: Stack, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    stack.command("why is INV-999999 higher")
    [answer] = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 1))
    text = blocks_text(answer)
    assert "I couldn't find invoice 'INV-999999'" in text
    assert "Tried: Comparing INV-999999 with the invoice before it" in text
    reference = text.split("Reference: `")[1].split("`")[0]
    assert f"ref={reference} answer failed: kind=not_found tool=explain_invoice" in caplog.text
    assert "copilot.share" not in text  # nothing worth sharing


def test_unknown_account_and_zuora_down(stack: Stack, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    stack.command("what does A99999999 owe")
    stack.sandbox.inject("/v1/invoices/*", statuses=[503] * 20)
    stack.command("show invoice 42")
    answers = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 2))
    by_hook = {a.method: blocks_text(a) for a in answers}
    unknown, down = by_hook["/hooks/r1"], by_hook["/hooks/r2"]
    assert "There is no account 'A99999999'" in unknown and "Tried: Looking up account A99999999" in unknown
    assert "Zuora is not answering right now" in down and "nothing was changed" in down
    assert "Tried: Looking up invoice 42 ·" in down
    for text in (unknown, down):
        reference = text.split("Reference: `")[1].split("`")[0]
        assert f"ref={reference}" in caplog.text


# -- verification ----------------------------------------------------------------------------------


def test_bad_signature_and_stale_timestamp_are_refused_before_any_work(stack: Stack, slack: FakeSlack) -> None:
    bad = stack.command("why is INV-42 higher", signature="v0=" + "0" * 64)
    stale = stack.command("why is INV-42 higher", timestamp=int(time.time()) - 301)
    assert (bad.status_code, stale.status_code) == (401, 401)
    time.sleep(0.3)
    assert zuora_calls(stack) == [] and hooks(slack.requests) == []


def test_garbage_bodies_get_a_400_not_a_crash(stack: Stack) -> None:
    for body, content_type in (("{not json", "application/json"),
                               ("payload=%7Bbad", "application/x-www-form-urlencoded")):
        response = stack.post(body, content_type)
        assert response.status_code == 400
        assert response.json() == {"error": "the body is neither JSON nor form data"}
    assert stack.http.get("/healthz").status_code == 200
    assert zuora_calls(stack) == []


def test_url_verification_echoes_the_challenge(stack: Stack) -> None:
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    response = stack.post(body, "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_healthz_and_unknown_paths(stack: Stack) -> None:
    health = stack.http.get("/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True, "database": "ok", "zuora": "sandbox",
                                                            "llm": False}
    assert stack.http.get("/nope").status_code == 404
    assert stack.http.get("/slack/events").status_code == 405


# -- mentions, DMs, memory, retries -----------------------------------------------------------------


def _answered(slack: FakeSlack, n: int) -> list[Recorded]:
    return slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= n)


def test_a_mention_is_answered_in_its_thread_through_a_placeholder(stack: Stack, slack: FakeSlack) -> None:
    assert stack.mention("why is INV-42 higher", ts="1790000100.000100").status_code == 200
    requests = _answered(slack, 1)
    [placeholder] = [r for r in requests if r.method == "chat.postMessage"]
    assert placeholder.body["channel"] == "C0SUPPORT" and placeholder.body["thread_ts"] == "1790000100.000100"
    assert "Comparing INV-42 with the invoice before it" in placeholder.body["text"]
    [update] = [r for r in requests if r.method == "chat.update"]
    assert update.body["channel"] == "C0SUPPORT"
    assert update.body["ts"] == slack.calls("chat.postMessage")[0].body.get("ts", update.body["ts"])
    for amount in DRIVERS:
        assert amount in blocks_text(update)
    assert placeholder.authorization == f"Bearer {TOKEN}"


def test_a_follow_up_in_the_thread_uses_the_conversation(stack: Stack, slack: FakeSlack) -> None:
    stack.mention("why is INV-42 higher", ts="1790000200.000100")
    _answered(slack, 1)
    stack.mention("and the one before?", ts="1790000300.000100", thread_ts="1790000200.000100")
    second = _answered(slack, 2)
    update = [r for r in second if r.method == "chat.update"][1]
    header = update.body["blocks"][0]["text"]["text"]
    assert header.startswith("INV00000022 vs ")
    placeholders = [r for r in second if r.method == "chat.postMessage"]
    assert placeholders[1].body["thread_ts"] == "1790000200.000100"
    assert "Comparing INV00000022 with the invoice before it" in placeholders[1].body["text"]
    # the same words in another thread have nothing to refer to
    stack.mention("and the one before?", ts="1790000400.000100")
    third = [r for r in _answered(slack, 3) if r.method == "chat.update"][2]
    assert "I didn't understand that" in third.body["text"]


def test_the_same_event_delivered_twice_is_answered_once(stack: Stack, slack: FakeSlack) -> None:
    first = stack.mention("show invoice 42", ts="1790000500.000100", event_id="Ev0DUPLICATE", retry=1)
    again = stack.mention("show invoice 42", ts="1790000500.000100", event_id="Ev0DUPLICATE", retry=2)
    assert (first.status_code, again.status_code) == (200, 200)
    _answered(slack, 1)
    time.sleep(0.5)
    assert len(slack.calls("chat.postMessage")) == 1 and len(slack.calls("chat.update")) == 1


def test_direct_messages_are_answered_and_the_bot_ignores_itself(stack: Stack, slack: FakeSlack) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0REP001", "user": "U0REP001", "text": "what does "
          "A00000007 owe", "ts": "1790000600.000100"}
    stack.event({**dm, "user": BOT_USER, "bot_id": BOT_ID, "ts": "1790000600.000050"})  # our own message
    stack.event({**dm, "subtype": "message_changed", "ts": "1790000600.000060"})  # an edit
    stack.event({**dm, "channel_type": "channel", "channel": "C0OTHER", "ts": "1790000600.000070"})
    stack.event(dm)
    # the Messages tab (agent experience): the thread's status chip first, then the answer in the thread
    requests = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" for r in rs))
    methods = [r.method for r in requests if r.method in ("assistant.threads.setStatus", "chat.postMessage")]
    assert methods == ["assistant.threads.setStatus", "chat.postMessage"]
    status = slack.calls("assistant.threads.setStatus")[0].body
    assert status == {"channel_id": "D0REP001", "thread_ts": "1790000600.000100",
                      "status": "Looking up account A00000007…", "team_id": "T0000001"}
    answer = slack.calls("chat.postMessage")[0]
    assert answer.body["channel"] == "D0REP001" and "A00000007" in answer.body["text"]
    assert answer.body["thread_ts"] == "1790000600.000100"
    time.sleep(0.3)
    assert len(slack.calls("chat.postMessage")) == 1 and not slack.calls("chat.update")

    # thumbs down, then thumbs up from the same person: one verdict recorded (the latest), the buttons replaced
    feedback = answer.body["blocks"][-1]
    assert [e["action_id"] for e in feedback["elements"]] == ["copilot.feedback.good", "copilot.feedback.bad"]
    turn = feedback["elements"][0]["value"]
    message = {"ts": "1790000003.000100", "text": answer.body["text"], "blocks": answer.body["blocks"]}
    stack.action("copilot.feedback.bad", turn, channel="D0REP001", message=message)
    slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs))
    stack.action("copilot.feedback.good", turn, channel="D0REP001", message=message)
    slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.update"]) >= 2)
    from bot.copilot.feedback import Feedback

    assert Feedback(stack.services.db).of(int(turn)) == {"U0REP001": "good"}
    update = slack.calls("chat.update")[-1].body
    assert update["ts"] == "1790000003.000100" and "found this helpful" in json.dumps(update["blocks"])
    assert "copilot.feedback" not in json.dumps(update["blocks"]) and "A00000007" in json.dumps(update["blocks"])
    stack.action("copilot.feedback.good", "999999", channel="D0REP001", message=message)  # an unknown answer
    slack.wait_for(lambda rs: any("no longer available" in json.dumps(r.body) for r in rs
                                  if r.method.startswith("/hooks/")))


def test_opening_the_messages_tab_greets_once_a_day_with_suggested_prompts(stack: Stack, slack: FakeSlack) -> None:
    from bot.slack.agent import SUGGESTED_PROMPTS

    for _ in range(2):
        stack.event({"type": "app_home_opened", "user": "U0REP001", "channel": "D0REP001", "tab": "messages"})
    [greeting] = slack.wait_for(lambda rs: any(r.method == "chat.postMessage" for r in rs)) and \
        slack.calls("chat.postMessage")
    prompts = [e for b in greeting.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert greeting.body["channel"] == "D0REP001" and "<@U0REP001>" in greeting.body["text"]
    assert [(p["text"]["text"], p["value"]) for p in prompts] == list(SUGGESTED_PROMPTS)
    assert all(p["action_id"].startswith("copilot.follow_up.") for p in prompts)
    time.sleep(0.3)
    assert len(slack.calls("chat.postMessage")) == 1  # the second opening: no second greeting


def test_slack_rate_limits_are_retried(stack: Stack, slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
    stack.mention("show invoice 42", ts="1790000700.000100")
    requests = _answered(slack, 1)
    assert [r.method for r in requests if r.method == "chat.postMessage"] == ["chat.postMessage"] * 2


def test_an_unexpected_failure_tells_the_user_a_logged_reference(stack: Stack, slack: FakeSlack,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    slack.fail("chat.postMessage", "channel_not_found")  # the placeholder cannot be posted
    stack.mention("show invoice 42", ts="1790000800.000100")
    posts = slack.wait_for(lambda rs: len([r for r in rs if r.method == "chat.postMessage"]) == 2)
    oops = [r for r in posts if r.method == "chat.postMessage"][1]
    assert "Something went wrong on my side" in oops.body["text"] and "Nothing was changed" in oops.body["text"]
    assert oops.body["thread_ts"] == "1790000800.000100"
    reference = oops.body["text"].split("Reference: `")[1].split("`")[0]
    assert f"ref={reference} unhandled SlackApiError" in caplog.text


# -- buttons and App Home --------------------------------------------------------------------------


def test_post_to_channel_shares_the_ephemeral_answer(stack: Stack, slack: FakeSlack) -> None:
    stack.command("why is INV-42 higher")
    [answer] = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 1))
    share = answer.body["blocks"][-1]["elements"][-1]
    assert stack.action("copilot.share", share["value"], user="U0SOMEONE", ephemeral=True).status_code == 200
    refusal = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 2))[1]
    assert refusal.body["text"] == "Only <@U0REP001>, who asked, can post this answer."
    slack.fail("chat.postMessage", "not_in_channel")
    stack.action("copilot.share", share["value"], ephemeral=True)
    advice = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 3))[2]
    assert "invite me with `/invite @billing-copilot`" in advice.body["text"]
    stack.action("copilot.share", share["value"], ephemeral=True)
    requests = slack.wait_for(lambda rs: len(hooks(rs)) == 4)
    posted = [r for r in requests if r.method == "chat.postMessage"][-1]
    assert posted.body["channel"] == "C0SUPPORT" and "+554.54 USD" in blocks_text(posted)
    assert "Shared by <@U0REP001>, who asked: “why is INV-42 higher”" in blocks_text(posted)
    assert "copilot.share" not in blocks_text(posted)
    done = hooks(requests)[3]
    assert done.body["replace_original"] is True and done.body["text"] == ":white_check_mark: Posted to <#C0SUPPORT>."


def test_a_follow_up_button_answers_where_it_was_clicked(stack: Stack, slack: FakeSlack) -> None:
    stack.action("copilot.follow_up.0", "show INV00000022", ephemeral=True)
    [answer] = hooks(slack.wait_for(lambda rs: len(hooks(rs)) == 1))
    assert answer.body["response_type"] == "ephemeral" and "INV00000022" in answer.body["text"]
    message = {"type": "message", "ts": "1790000900.000200", "thread_ts": "1790000900.000100", "text": "…"}
    stack.action("copilot.follow_up.1", "show INV00000022", message=message)
    update = [r for r in _answered(slack, 1) if r.method == "chat.update"][0]
    placeholder = slack.calls("chat.postMessage")[0]
    assert placeholder.body["thread_ts"] == "1790000900.000100" and "INV00000022" in update.body["text"]


def test_app_home_lists_capabilities_examples_and_sections(stack: Stack, slack: FakeSlack) -> None:
    stack.event({"type": "app_home_opened", "user": "U0REP001", "channel": "D0REP001", "tab": "messages"})
    stack.event({"type": "app_home_opened", "user": "U0REP001", "channel": "D0REP001", "tab": "home"})
    [publish] = slack.wait_for(lambda rs: any(r.method == "views.publish" for r in rs)) and \
        slack.calls("views.publish")
    assert publish.body["user_id"] == "U0REP001"
    view: dict[str, Any] = publish.body["view"]
    text = json.dumps(view)
    assert view["type"] == "home" and "/billing why is INV-42 higher" in text
    assert "Pending approvals" in text and "Bill-run summaries" in text


# -- start-up -------------------------------------------------------------------------------------


def test_a_refused_token_fails_at_start_up_in_one_line(tmp_path: Path, slack: FakeSlack) -> None:
    settings = load_settings(slack_bot_token="xoxb-wrong", slack_signing_secret=SECRET, slack_api_url=slack.api_url,
                             database_path=tmp_path / "x.db")
    services = build(settings)
    with pytest.raises(ConfigError) as caught:
        slack_app(services)
    services.close()
    assert str(caught.value) == f"Slack refused SLACK_BOT_TOKEN at {slack.api_url} (invalid_auth)"
    assert "xoxb-wrong" not in str(caught.value)


def test_missing_tokens_fail_at_start_up_in_one_line(tmp_path: Path) -> None:
    services = build(load_settings(database_path=tmp_path / "x.db"))
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN is not set"):
        slack_app(services)
    services.settings = load_settings(slack_bot_token="xoxb-1", database_path=tmp_path / "x.db")
    with pytest.raises(ConfigError, match=r"^SLACK_SIGNING_SECRET is not set"):
        slack_app(services)
    with pytest.raises(ConfigError, match=r"^SLACK_APP_TOKEN is not set"):
        slack_app(services, socket_mode=True)
    services.close()
    assert httpx  # keep the import honest for type checkers
