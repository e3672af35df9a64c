"""The attack suite, Slack/HTTP edge: forged, garbled and replayed Slack requests, fuzzed amounts, `/billing`
texts and callout bodies, and mention/link payloads planted in every Block Kit builder and in the sandbox.

Every attempt is counted in `tests.attack` (the tried / held table is printed at the end of the run)
and every category must hold 100 %. "Nothing happened" is checked by ordering, not by waiting: the
whole app is stopped (its listener and callout pools drained) before the final comparison of the
fake Slack's recorded requests, the sandbox's requests and every table of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt import BoltRequest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.actions.drafts import Drafts
from bot.actions.kinds import retention_offer, subscription_change
from bot.actions.store import Record
from bot.billruns.summary import BillRunSummary, Increase
from bot.copilot.answers import Answer
from bot.copilot.results import Citation
from bot.money import MAX_INTEGER_DIGITS, AmountError, parse_amount
from bot.slack.billruns import billrun_message
from bot.slack.blocks import answer_message, progress_message
from bot.slack.cards import EDIT_VIEW, REJECT_VIEW, approval_card, digest_card, edit_modal, home_section
from bot.slack.mrkdwn import escape
from bot.storage import open_db
from bot.zuora import ZuoraClient
from tests.attack import record
from tests.fakes.slack_api import BOT_USER, TEAM, FakeSlack, Recorded
from tests.slack_stack import CALLOUT_PASSWORD, CALLOUT_USER, SECRET, Stack, callout
from tests.test_blocks import valid

REP, APPROVER = "U0REP001", "U0APPROVER"
COLLECT = "C0COLLECT"
SETTINGS = {"approvers": APPROVER, "collections_channel": COLLECT, "zuora_callout_username": CALLOUT_USER,
            "zuora_callout_password": CALLOUT_PASSWORD}
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
MARKER = "ZZBODYMARKERZZ"
"""Planted in every forged body: it must never reach the logs."""


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> Iterator[Stack]:
    caplog.set_level(logging.DEBUG)
    s = Stack(tmp_path, slack, **SETTINGS)
    yield s
    if not getattr(s, "stopped", False):
        s.close()


def stop(stack: Stack) -> None:
    """Stop the app and drain its pools: whatever a request set in motion has happened after this."""
    stack.close()
    stack.stopped = True  # type: ignore[attr-defined]


def tables(stack: Stack, *, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every row of every table of the app's database (read through a connection of our own)."""
    db = open_db(stack.services.settings.database, migrate=False)
    try:
        names = sorted(db.table_names())
        return {n: sorted(repr(tuple(row)) for row in db.execute(f'select * from "{n}"').fetchall())
                for n in names if n not in skip}
    finally:
        db.close()


def world(stack: Stack, *, skip: tuple[str, ...] = ()) -> tuple[int, int, dict[str, list[str]]]:
    """What the app has done so far: requests to Slack (Web API and response_urls), to Zuora, and the database."""
    return len(stack.slack.requests), len(stack.sandbox.requests), tables(stack, skip=skip)


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def call_wsgi(app: Any, environ: dict[str, Any]) -> str:
    """Call a WSGI app directly (for headers no HTTP client would send); returns the status line."""
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        statuses.append(status)

    b"".join(app(environ, start_response))
    return statuses[0]


def hold_all(category: str, attempts: list[tuple[str, bool]], final: bool) -> None:
    """Record each attempt (held only if it held and the final check after draining held too); assert all held."""
    failed = [name for name, held in attempts if not record(category, held and final)]
    assert final, f"{category}: something happened after the requests were answered"
    assert not failed, f"{category}: not held: {failed}"


# -- forged and garbled Slack requests ----------------------------------------------------------------


def bait(stack: Stack) -> list[tuple[str, bytes, str]]:
    """Bodies an attacker would send: each names a response_url and a channel, the error handler's targets."""
    hook = stack.slack.hook("forged")
    command = urlencode({"token": "x", "team_id": TEAM, "channel_id": "C0SUPPORT", "user_id": REP,
                         "command": "/billing", "text": f'credit INV-448 50 "{MARKER}"', "response_url": hook,
                         "trigger_id": "forged.1"})
    action = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": APPROVER, "team_id": TEAM},
              "trigger_id": "forged.2", "response_url": hook, "channel": {"id": "C0SUPPORT"},
              "container": {"type": "message", "channel_id": "C0SUPPORT", "message_ts": "1.1"},
              "actions": [{"type": "button", "action_id": "approval.approve", "block_id": "b", "value": MARKER}]}
    event = {"type": "event_callback", "team_id": TEAM, "event_id": "EvFORGED0001", "api_app_id": "A0APP",
             "event": {"type": "app_mention", "channel": "C0SUPPORT", "user": REP, "ts": "1790000000.000100",
                       "text": f"<@{BOT_USER}> show invoice 42 {MARKER}"}}
    view = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": APPROVER, "team_id": TEAM},
            "trigger_id": "forged.3", "response_urls": [{"response_url": hook}],
            "view": {"id": "V0FORGED", "type": "modal", "callback_id": REJECT_VIEW, "private_metadata": MARKER,
                     "state": {"values": {"reason": {"reason": {"value": MARKER}}}}}}
    return [("command", command.encode(), FORM),
            ("block action", ("payload=" + quote(json.dumps(action))).encode(), FORM),
            ("event", json.dumps(event).encode(), JSON),
            ("view submission", ("payload=" + quote(json.dumps(view))).encode(), FORM)]


def header_variants(body: bytes) -> list[tuple[str, dict[str, str], bytes]]:
    """Missing, garbled, stale and wrong timestamps and signatures (timestamps signed with the real secret, so the
    timestamp check itself must refuse them)."""
    now = str(int(time.time()))

    def ts(value: str) -> dict[str, str]:
        return {"X-Slack-Request-Timestamp": value, "X-Slack-Signature": sign(body, value)}

    good = sign(body, now)
    return [
        ("no headers", {}, body),
        ("no timestamp", {"X-Slack-Signature": good}, body),
        ("empty timestamp", ts(""), body),
        ("non-numeric timestamp", ts("abc"), body),
        ("exponent timestamp", ts("1e10"), body),
        ("negative timestamp", ts("-1"), body),
        ("fractional timestamp", ts(f"{now}.5"), body),
        ("hex timestamp", ts("0x6a000000"), body),
        ("spaced timestamp", ts(f"{now[:5]} {now[5:]}"), body),
        ("huge timestamp", ts("9" * 40), body),
        ("year 5000 timestamp", ts("99999999999"), body),
        ("stale timestamp", ts(str(int(now) - 360)), body),  # 5 minutes and a margin for a slow machine
        ("future timestamp", ts(str(int(now) + 360)), body),
        ("no signature", {"X-Slack-Request-Timestamp": now}, body),
        ("empty signature", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": ""}, body),
        ("zero signature", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}, body),
        ("v1 scheme", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v1=" + good[3:]}, body),
        ("uppercase hex", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + good[3:].upper()}, body),
        ("truncated signature", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": good[:-2]}, body),
        ("two signatures", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": f"{good},{good}"}, body),
        ("other secret", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign(body, now, "guessed")}, body),
        ("body changed after signing", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": good},
         body + b"&user_id=U0ADMIN"),
        ("signed for another second", {"X-Slack-Request-Timestamp": now,
                                       "X-Slack-Signature": sign(body, str(int(now) - 1))}, body),
    ]


def test_forged_and_garbled_slack_requests_get_a_4xx_and_cause_nothing(stack: Stack, slack: FakeSlack,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    start = world(stack)
    attempts: list[tuple[str, bool]] = []
    for kind, body, content_type in bait(stack):
        for name, headers, sent in header_variants(body):
            response = stack.http.post("/slack/events", content=sent, headers={"Content-Type": content_type,
                                                                                 **headers})
            attempts.append((f"{kind}: {name}", 400 <= response.status_code < 500 and world(stack) == start))
    now = str(int(time.time()))
    deep_json = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(RecursionError):
        json.loads(deep_json)  # what the depth cap prevents
    deep_event = json.dumps({"type": "event_callback", "event_id": "EvDEEP", "event": {"type": "app_mention"}}
                            ).replace('"app_mention"', '"app_mention", "x": ' + "[" * 50_000 + "]" * 50_000).encode()
    deep_form = ("payload=" + quote("{\"a\":" * 20_000 + "1" + "}" * 20_000)).encode()
    big = b"payload=" + b"x" * (1024 * 1024 + 1)
    for name, body, content_type, expected in (
            ("signed JSON nested 100k deep", deep_json, JSON, 400),
            ("signed event nested 50k deep", deep_event, JSON, 400),
            ("signed payload nested 20k deep", deep_form, FORM, 400),
            ("unsigned JSON nested 100k deep", deep_json, JSON, 401),
            ("signed body over 1 MiB", big, FORM, 413)):
        signature = sign(body, now) if name.startswith("signed") else "v0=" + "1" * 64
        response = stack.http.post("/slack/events", content=body, headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature})
        attempts.append((name, response.status_code == expected and world(stack) == start))
    for name, length, expected in (("garbled Content-Length", "abc", 400), ("negative Content-Length", "-5", 400),
                                   ("absurd Content-Length", "9" * 30, 400),
                                   ("Content-Length over the cap", str(50 * 1024 * 1024), 413)):
        body = bait(stack)[0][1]
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "SERVER_PROTOCOL": "HTTP/1.1",
                   "CONTENT_TYPE": FORM, "CONTENT_LENGTH": length, "wsgi.input": io.BytesIO(body),
                   "HTTP_X_SLACK_REQUEST_TIMESTAMP": now, "HTTP_X_SLACK_SIGNATURE": sign(body, now),
                   "REMOTE_ADDR": "127.0.0.1"}
        status = call_wsgi(stack.server.application, environ)  # type: ignore[union-attr]
        attempts.append((name, status.startswith(str(expected)) and world(stack) == start))
    refused = [r for r in caplog.records if r.name == "bot.slack.verify"]
    logs_ok = (MARKER not in caplog.text and len(refused) >= len(attempts)
               and all(len(r.getMessage()) < 160 for r in refused) and "response_url" not in caplog.text)
    attempts.append(("refused requests logged as short lines, without their bodies", logs_ok))
    stop(stack)
    hold_all("slack: forged or garbled request", attempts, world(stack) == start)


def test_behind_the_guard_the_error_handler_never_answers_an_unverified_request(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """Defence in depth: a garbled timestamp makes Bolt's own check raise; the error handler must stay silent. A
    well-formed but wrong signature makes Bolt log the request, body included: the log line is cut."""
    start = world(stack)
    attempts = []
    for kind, body, content_type in bait(stack):
        for timestamp in ("abc", "", "1e10", "9" * 40, str(int(time.time()))):
            response = stack.app.dispatch(BoltRequest(body=body.decode(), headers={
                "content-type": content_type, "x-slack-request-timestamp": timestamp,
                "x-slack-signature": "v0=" + "0" * 64}))
            attempts.append((f"{kind}: timestamp {timestamp[:8]!r}", response.status in (401, 500)
                             and world(stack) == start))
    bolt = [r.getMessage() for r in caplog.records if r.name.startswith("slack_bolt")]
    attempts.append(("Bolt's refusals logged without the body", MARKER not in caplog.text and bool(bolt)
                     and all(len(m) < 320 for m in bolt)))
    stop(stack)
    hold_all("slack: unverified request inside Bolt", attempts, world(stack) == start)


# -- replays ----------------------------------------------------------------------------------------


def _posted(slack: FakeSlack, method: str, n: int) -> list[Recorded]:
    return slack.wait_for(lambda rs: len([r for r in rs if r.method == method]) >= n)


def _card_id(slack: FakeSlack) -> str:
    cards = [r for r in slack.calls("chat.postMessage") if "approval.approve" in json.dumps(r.body.get("blocks"))]
    return [e for b in cards[-1].body["blocks"] if b["type"] == "actions" for e in b["elements"]][0]["value"]


def _latest_value(slack: FakeSlack) -> str:
    """The Approve button's value on the card as last posted or updated (an id, or `<id>:<version>`)."""
    cards = [r for r in slack.requests if r.method in ("chat.postMessage", "chat.update")
             and "approval.approve" in json.dumps(r.body.get("blocks"))]
    return next(e["value"] for b in cards[-1].body["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "approval.approve")


def _amount(stack: Stack, value: str) -> Decimal:
    record = stack.services.approvals.get(value.split(":")[0])  # type: ignore[union-attr]
    assert record is not None
    return record.proposal.amount


@pytest.mark.both_databases
def test_replayed_commands_clicks_submissions_and_events_do_nothing(stack: Stack, slack: FakeSlack) -> None:
    replays: list[tuple[str, int]] = []
    stack.command('credit INV-448 50 "goodwill"', user=REP)
    replays.append(("slash command that proposed a credit", len(stack.sent) - 1))
    _posted(slack, "chat.postMessage", 1)
    slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs))
    proposal = _card_id(slack)
    stack.action("approval.edit", proposal, user=APPROVER)
    replays.append(("Edit amount click", len(stack.sent) - 1))
    _posted(slack, "views.open", 1)
    for n, amount in enumerate(("60", "70"), start=1):
        value = _latest_value(slack)  # the card as it is now (a version, where cards carry one)
        assert stack.view_submission(EDIT_VIEW, value, {"amount": amount}, user=APPROVER).status_code == 200
        replays.append((f"edit submission {amount}", len(stack.sent) - 1))
        _posted(slack, "chat.update", n)
    stack.command("what does A00000007 owe", user=REP)
    replays.append(("slash command question", len(stack.sent) - 1))
    hook = f"/hooks/r{stack._n}"
    answer = slack.wait_for(lambda rs: any(r.method == hook for r in rs))
    share = [e for r in answer if r.method == hook for b in r.body["blocks"] if b["type"] == "actions"
             for e in b["elements"] if e["action_id"] == "copilot.share"][0]["value"]
    stack.action("copilot.share", share, user=REP, ephemeral=True)
    replays.append(("Post to channel click", len(stack.sent) - 1))
    _posted(slack, "chat.postMessage", 2)
    stack.mention("show invoice 42", ts="1790000500.000100")
    replays.append(("app mention event", len(stack.sent) - 1))
    _posted(slack, "chat.update", 3)
    stack.action("approval.approve", _latest_value(slack), user=APPROVER, message={"ts": "1790000000.000001"})
    replays.append(("Approve click", len(stack.sent) - 1))
    slack.wait_for(lambda rs: any(r.method == "chat.postMessage" and "Your proposal" in str(r.body.get("text"))
                                  for r in rs))
    assert len(stack.sandbox.requests_to("/v1/credit-memos/invoice/*", "POST")) == 1
    stack.command('credit INV-448 20 "second"', user=REP)
    _posted(slack, "chat.postMessage", 5)
    slack.wait_for(lambda rs: any(r.method == f"/hooks/r{stack._n}" for r in rs))
    second = _card_id(slack)
    assert stack.view_submission(REJECT_VIEW, second, {"reason": "not needed"}, user=APPROVER).status_code == 200
    replays.append(("reject submission", len(stack.sent) - 1))
    slack.wait_for(lambda rs: any("Rejected" in str(r.body.get("text")) for r in rs if r.method == "chat.update"))
    slack.wait_for(lambda rs: len([r for r in rs if "Your proposal" in str(r.body.get("text"))]) == 2)

    start = world(stack)
    attempts = []
    for name, index in replays * 2:  # each replayed twice, in the order they were first sent
        response = stack.replay(index)
        attempts.append((name, response.status_code == 200 and world(stack) == start))
    assert _amount(stack, proposal) == Decimal("70")  # the replayed "60" did not undo the later edit
    stop(stack)
    hold_all("slack: replayed request", attempts, world(stack) == start)


# -- bad amounts ------------------------------------------------------------------------------------

BAD_AMOUNTS = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "+inf", "1e999999999", "1E5", "1e-5",
               "9" * 29, "9" * 13, "1" + "0" * 12, "0001234567890123", "", "   ", "12.5.3", "0x10", "١٢٣", "1_000",
               "--5", "$$5", "5$", "50 USD EUR", "5,0000", "½", "1/2", "💰", "' OR 1=1 --", "<!channel>",
               "9" * 5000, "0.0000000000000000000001", "-50", "0", "50.005", "1,,000", ".", "-", "$"]


def test_the_amount_parser_refuses_the_corpus_with_a_clear_message() -> None:
    for text in BAD_AMOUNTS + ["1e5", "Infinity", "NaN"]:
        try:
            value = parse_amount(text)
        except AmountError as exc:
            held = 0 < len(str(exc)) < 200
        else:  # only well-formed numbers pass; the proposal's own checks refuse zero, negatives and sub-cents
            held = value.is_finite() and text.strip() in ("-50", "0", "50.005", "0.0000000000000000000001")
        record("amounts: parser corpus", held)
        assert held, text
    for text, value in (("125.50", "125.50"), ("$1,250.50", "1250.50"), ("€ 12", "12"), ("999999999999.99",
                                                                                       "999999999999.99")):
        assert record("amounts: parser corpus", parse_amount(text) == Decimal(value))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.from_regex(r"[+-]?[$€£]?[0-9,.eE ]{1,30}", fullmatch=True),
                 st.decimals(allow_nan=True, allow_infinity=True).map(str)))
def test_any_text_is_a_finite_amount_of_at_most_12_digits_or_refused(text: str) -> None:
    try:
        value = parse_amount(text)
    except AmountError:
        held = True
    else:
        held = value.is_finite() and len(str(abs(value)).split(".")[0].lstrip("0")) <= MAX_INTEGER_DIGITS
    assert record("amounts: parser fuzz", held), text


def test_bad_edited_amounts_are_refused_in_the_modal_and_change_nothing(stack: Stack, slack: FakeSlack) -> None:
    stack.command('credit INV-448 50 "goodwill"', user=REP)
    _posted(slack, "chat.postMessage", 1)
    slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs))
    proposal = _card_id(slack)
    start = world(stack, skip=("slack_triggers",))
    attempts = []
    for text in BAD_AMOUNTS:
        response = stack.view_submission(EDIT_VIEW, proposal, {"amount": text}, user=APPROVER)
        answer = response.json() if response.status_code == 200 and response.content else {}
        message = (answer.get("errors") or {}).get("amount", "")
        attempts.append((repr(text[:20]), answer.get("response_action") == "errors" and 0 < len(message) < 300
                         and world(stack, skip=("slack_triggers",)) == start))
    assert _amount(stack, proposal) == Decimal("50")
    stop(stack)
    hold_all("amounts: edited in the modal", attempts, world(stack, skip=("slack_triggers",)) == start)


BILLING_AMOUNTS = ["credit INV-448 NaN", 'credit INV-448 nan "x"', "credit INV-448 Infinity", "credit INV-448 -inf",
                   "credit INV-448 1e999999999", "credit INV-448 1E5 goodwill", "credit INV-448 " + "9" * 29,
                   "credit INV-448 9999999999999", "credit INV-448 1 000 000", "credit INV-448 $1,000,000,000,000,000",
                   "retry INV-448 NaN", "retry INV-448 1e6", "credit INV-448 ١٢٣", "credit INV-448 sNaN"]
BILLING_GARBAGE = ["<!channel> why is INV-42 higher", "[" * 3000, "{\"a\":" * 500, "\x00\x01\x02", "INV-" + "9" * 500,
                   "what does " + "A" * 2000 + " owe", "😀" * 500, "why is INV-99999999999999999999 higher",
                   "payments for <https://evil.example|Acme>", "account A00000007 &lt;!here&gt;", "%s%s%n",
                   "credit", "write off", "plan for INV-387 in 99999999999999999999 installments",
                   "plan for INV-387 in 300 installments"]


ANSWERED = ("slack_triggers", "conversation_turns", "sqlite_sequence")
"""What answering any new command writes: its trigger id and the conversation's memory."""


def test_the_billing_command_fuzz_corpus_never_fails_and_proposes_nothing(stack: Stack, slack: FakeSlack) -> None:
    start = tables(stack, skip=ANSWERED)
    attempts = []
    for text in BILLING_AMOUNTS + BILLING_GARBAGE:
        response = stack.command(text, user=REP)
        hook = f"/hooks/r{stack._n}"
        usage = "Usage" in response.text
        replies = [] if usage else [r for r in slack.wait_for(lambda rs, h=hook: any(r.method == h for r in rs))
                                    if r.method == hook]
        said = " ".join(str(r.body.get("text")) for r in replies)
        clear = text not in BILLING_AMOUNTS or any(w in said for w in ("not an amount", "exponent", "digits",
                                                                        "ambiguous", "How much"))
        attempts.append((repr(text[:30]), response.status_code == 200 and "Something went wrong" not in said
                         and clear and not slack.calls("chat.postMessage")))
    stop(stack)
    hold_all("amounts and text: /billing fuzz", attempts,
             tables(stack, skip=ANSWERED) == start
             and not slack.calls("chat.postMessage"))


# -- callout bodies ---------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_callout_fuzz_corpus_never_gets_a_5xx_and_refused_ones_change_nothing(stack: Stack, slack: FakeSlack) -> None:
    declined = {"event": "PaymentDeclined", "PaymentId": "8a90fuzz0000000000000000000000ff", "PaymentNumber": "P-999",
                "AccountNumber": "A00000003"}
    refused: list[tuple[str, dict[str, Any] | str, tuple[str, str] | None, str, int]] = [
        ("no credentials", declined, None, JSON, 401),
        ("wrong password", declined, (CALLOUT_USER, "guess"), JSON, 401),
        ("wrong user", declined, ("admin", CALLOUT_PASSWORD), JSON, 401),
        ("empty body", "", (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("not JSON", "{", (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("a JSON list", "[]", (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("null", "null", (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("nested 100k deep", "[" * 100_000 + "]" * 100_000, (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("object nested 20k deep", '{"a":' * 20_000 + "1" + "}" * 20_000, (CALLOUT_USER, CALLOUT_PASSWORD), JSON,
         400),
        ("nested, unauthenticated", "[" * 100_000, None, JSON, 401),
        ("over 256 KB", json.dumps({**declined, "pad": "x" * 300_000}), (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 413),
        ("unknown event", {**declined, "event": "<!channel>"}, (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("path in the id", {**declined, "PaymentId": "../accounts/A00000001"}, (CALLOUT_USER, CALLOUT_PASSWORD),
         JSON, 400),
        ("id too long", {**declined, "PaymentId": "9" * 500}, (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("no ids", {"event": "PaymentDeclined", "Amount": "NaN"}, (CALLOUT_USER, CALLOUT_PASSWORD), JSON, 400),
        ("form garbage", "%%%=&&&", (CALLOUT_USER, CALLOUT_PASSWORD), FORM, 400),
    ]
    start = world(stack)
    attempts = []
    for name, body, auth, content_type, expected in refused:
        response = callout(stack, body, auth=auth, content_type=content_type)
        attempts.append((name, response.status_code == expected and world(stack) == start))
    invalid_utf8 = stack.http.post("/zuora/callouts", content=b'{"event": "\xff\xfe"}', auth=(CALLOUT_USER,
                                                                                             CALLOUT_PASSWORD),
                                   headers={"Content-Type": JSON})
    attempts.append(("not UTF-8", invalid_utf8.status_code == 400 and world(stack) == start))
    taken = []
    for n, amount in enumerate(("NaN", "Infinity", "-Infinity", "1e999999999", "9" * 29, "$1,2,3", "<!channel>",
                                "[[[[", "")):
        body = {**declined, "PaymentId": f"8a90fuzz{n:024d}", "Amount": amount, "AccountName": "<!here>"}
        response = callout(stack, body, notification_id=f"fuzz-{n}")
        taken.append((f"Amount {amount[:12]!r}", response.status_code == 200))
    stop(stack)
    hold_all("callouts: refused bodies", attempts, world(stack)[0] == start[0])
    hold_all("callouts: odd fields (never parsed, no 5xx)", taken, not slack.calls("chat.postMessage"))


# -- mrkdwn escaping ---------------------------------------------------------------------------------

PAYLOADS = ["<!channel>", "<!here>", "<!everyone>", "<@U0EVIL66>", "<#C0EVIL66>", "<!subteam^S0EVIL66>",
            "<https://evil.example/x|click here>", "<mailto:evil@evil.example|support>", "<!date^0^{date}|evil>",
            "&lt;!channel&gt;", "&amp;lt;@U0EVIL66&amp;gt;", "&lt;https://evil.example|click&gt;",
            "*bold* _it_ ~strike~ `code` ```block```", "> quoted <!here>", "a & b < c > d", "<<!channel>>",
            "<!channel|x>", "ACME <!channel> Inc", "@channel @here", "x" * 4000 + "<!channel>", "<", ">", "&",
            "<https://evil.example>", "<tel:+15555550100|call us>", "<!here|here>"]
FORBIDDEN = ("!channel", "!here", "!everyone", "evil", "c0evil66", "s0evil66", "tel:")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
OUR_LINKS = "<https://z.example/"
"""Citation links to the configured Zuora UI (their labels are escaped text)."""


def mrkdwn_texts(message: Any) -> list[str]:
    """Every string Slack parses as mrkdwn: `mrkdwn` text objects and a message's top-level `text`."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message)
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        out.append(message["text"])
    return out


def no_live_payload(message: Any) -> bool:
    """No `<…>` token Slack would make live carries anything planted, and nothing asks Slack to link names."""
    tokens = [t.lower() for text in mrkdwn_texts(message) for t in re.findall(r"<[^<>]*>", text)
              if not t.startswith(OUR_LINKS)]
    return not any(f in t for t in tokens for f in FORBIDDEN) and "link_names" not in message and \
        message.get("parse") != "full"


def shown_once(message: Any, payload: str) -> bool:
    """The payload appears escaped exactly once (so it reads as typed), unless it is too long to be kept whole."""
    return len(payload) > 150 or any(escape(payload) in text for text in mrkdwn_texts(message))


def well_formed(message: dict[str, Any]) -> bool:
    """Still valid Block Kit within Slack's limits once the payloads are escaped (longer) and clipped."""
    try:
        if message.get("type") == "modal":
            View(**message).validate_json()
        elif "text" in message:
            valid(message)
        else:
            for block in message["blocks"]:
                Block.parse(block).validate_json()  # type: ignore[union-attr]
    except (AssertionError, SlackObjectFormationError):
        return False
    return True


def planted_records(client: ZuoraClient, sandbox: Any, payload: str) -> list[Record]:
    d = Drafts(client, sandbox.tenant.today)
    proposals = [d.credit_memo("INV-448", Decimal("50"), "goodwill"), d.write_off("INV-449", "uncollectable"),
                 d.payment_retry("INV-448", None, "card updated"), d.payment_plan("INV-387", 3, "asked for time"),
                 d.dunning_email("INV-385", "reminder"), d.collections_escalation("A00000007", "four months late"),
                 subscription_change.draft(d, "A-S00000002", "change_plan", plan="Business"),
                 retention_offer.draft(d, "A-S00000010", Decimal("20"), 3)]
    out = []
    for i, p in enumerate(proposals):
        update = {k: payload for k in ("account_name", "account_number", "invoice_number", "reason", "note",
                                       "payment_method", "plan", "from_plan", "recommendation")
                  if k in type(p).model_fields and getattr(p, k)}
        planted = p.model_copy(update={**update, "evidence": [payload, f"Dunning rule: {payload}"]})
        status = ("pending", "succeeded", "failed", "rejected", "stale", "unknown", "pending", "succeeded")[i]
        outcome = None if status == "pending" else {"message": payload, "by": "U0APPROVER", "at": NOW.isoformat()}
        out.append(Record(id=f"{i:032d}", status=status, proposal=planted,  # type: ignore[arg-type]
                          request=p.request(NOW.date()), requester=payload if i == 5 else REP, team=TEAM,
                          channel="C0", message_ts="1.1", approvals=(), outcome=outcome, created_at=NOW,
                          expires_at=NOW + timedelta(hours=24), updated_at=NOW))
    return out


def test_every_builder_shows_planted_mentions_and_links_as_text(client: ZuoraClient, sandbox: Any) -> None:
    failed = []
    for payload in PAYLOADS:
        answer = Answer(text=f"*Account* {payload}\n• owes 10.00 USD", intent="get_account_summary",
                        notes=[payload], follow_ups=[payload],
                        citations=[Citation(kind="account", label=payload, object_id="x",
                                            url=f"https://z.example/acc?id={payload}")])
        error = Answer(text=payload, intent="error", facts={"tried": payload})
        records = planted_records(client, sandbox, payload)
        summary = BillRunSummary(
            bill_run_number=payload, bill_run_id="x", status="Completed", target_date=date(2026, 11, 1),
            invoices=3, accounts=2, credit_memos=0, totals={"USD": Decimal("10")}, previous_number=payload,
            previous_invoices=2, previous_totals={"USD": Decimal("5")}, zero_amount=1, zero_examples=[payload],
            first_invoices=1, first_examples=[payload], errors=[payload],
            increases=[Increase(invoice_number=payload, account_number=payload, account_name=payload, currency="USD",
                                amount=Decimal("10"), previous=Decimal("5"), increase=Decimal("5"))])
        built: list[tuple[str, Any]] = [
            ("answer", answer_message(answer, share_value="1")),
            ("error answer", answer_message(error, reference="ref1")),
            ("shared answer", answer_message(answer, shared_by=REP, question=payload)),
            ("progress", progress_message(payload)),
            ("digest card", digest_card(records, now=NOW)),
            ("App Home approvals", {"blocks": home_section(records[:2], records[2:4], records[4:])}),
            ("bill-run DM", billrun_message(summary)),
        ]
        built += [(f"{r.proposal.kind} card ({r.status})", approval_card(r, who_may_approve="any approver", now=NOW))
                  for r in records]
        built += [(f"{r.proposal.kind} edit modal", edit_modal(r)) for r in records if r.status == "pending"]
        for name, message in built:
            held = no_live_payload(message) and (name == "App Home approvals" or shown_once(message, payload)) \
                and well_formed(message)
            if not record("mrkdwn: every builder", held):
                failed.append((name, payload[:30]))
    assert not failed, failed


def test_planted_zuora_text_and_typed_reasons_stay_text_through_slack(stack: Stack, slack: FakeSlack) -> None:
    """End to end: a poisoned account name, a typed reason and a rejection reason, through answers, "Post to channel",
    cards, their updates, announcements, DMs and a declined-payment card in the collections channel."""
    tenant = stack.sandbox.tenant
    poison = "<!channel> ACME <https://evil.example|click> &lt;@U0EVIL66&gt;"
    for number in ("A00000007", "A00000003"):
        tenant.find("accounts", number)["name"] = f"{poison} {number}"  # type: ignore[index]
    payment = next(p for p in tenant.payments.values() if p["status"] == "Error"
                   and p["accountId"] == tenant.find("accounts", "A00000003")["id"])  # type: ignore[index]
    payment["gatewayResponse"] = "<!here> call <tel:+15555550100|support> now"
    stack.command("what does A00000007 owe", user=REP)
    answer = slack.wait_for(lambda rs: any(r.method == "/hooks/r1" for r in rs))
    reply = [r for r in answer if r.method == "/hooks/r1"][0]
    assert "ACME" in json.dumps(reply.body)
    share = [e for b in reply.body["blocks"] if b["type"] == "actions" for e in b["elements"]
             if e["action_id"] == "copilot.share"][0]["value"]
    stack.action("copilot.share", share, user=REP, ephemeral=True)
    _posted(slack, "chat.postMessage", 1)
    invoice = next(i for i in tenant.invoices.values() if i["accountId"] == tenant.find("accounts", "A00000007")["id"]
                   and Decimal(str(i["balance"])) > 60)  # type: ignore[index]
    stack.command(f'credit {invoice["invoiceNumber"]} 50 "<!here> <@U0EVIL66> refund"', user=REP)
    _posted(slack, "chat.postMessage", 2)
    proposal = _card_id(slack)
    stack.view_submission(REJECT_VIEW, proposal, {"reason": "<!channel> no <https://evil.example|see>"},
                          user=APPROVER)
    slack.wait_for(lambda rs: len([r for r in rs if "Your proposal" in str(r.body.get("text"))]) == 1)
    assert callout(stack, {"event": "PaymentDeclined", "PaymentId": payment["id"]},
                   notification_id="poisoned").status_code == 200
    slack.wait_for(lambda rs: any(r.body.get("channel") == COLLECT for r in rs if r.method == "chat.postMessage"))
    stop(stack)
    seen = [r for r in slack.requests if r.method in ("chat.postMessage", "chat.update", "views.open")
            or r.method.startswith("/hooks/")]
    assert {"chat.postMessage", "chat.update", "/hooks/r1"} <= {r.method for r in seen}
    assert any("ACME" in json.dumps(r.body) for r in seen if r.body.get("channel") == COLLECT)
    failed = [r.method for r in seen if not record("mrkdwn: planted in Zuora and Slack, end to end",
                                                   no_live_payload(r.body))]
    assert not failed, failed
