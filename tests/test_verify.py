"""The edge's building blocks, one by one: Slack's signature check, body limits, the mrkdwn escape."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from typing import Any

import pytest

from bot.limits import BodyTooLarge, BodyUnreadable, json_depth, read_body, too_deep
from bot.slack.mrkdwn import escape, mention
from bot.slack.verify import Signature, verified

SECRET = "s3cret"
NOW = 1_790_000_000


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(("timestamp", "signature", "why"), [
    (str(NOW), sign(b"{}", str(NOW)), None),
    (str(NOW - 300), sign(b"{}", str(NOW - 300)), None),
    (None, sign(b"{}", str(NOW)), "no timestamp"),
    ("", sign(b"{}", ""), "no timestamp"),
    ("abc", sign(b"{}", "abc"), "malformed timestamp"),
    ("1e10", sign(b"{}", "1e10"), "malformed timestamp"),
    ("9" * 13, sign(b"{}", "9" * 13), "malformed timestamp"),
    ("\u0661\u0662", sign(b"{}", "12"), "malformed timestamp"),
    (str(NOW - 301), sign(b"{}", str(NOW - 301)), "stale timestamp"),
    (str(NOW + 301), sign(b"{}", str(NOW + 301)), "stale timestamp"),
    (str(NOW), None, "no signature"),
    (str(NOW), "v0=" + "g" * 64, "malformed signature"),
    (str(NOW), sign(b"{}", str(NOW)).upper(), "malformed signature"),
    (str(NOW), sign(b"{}", str(NOW), "other"), "bad signature"),
    (str(NOW), sign(b"{ }", str(NOW)), "bad signature"),
])
def test_each_reason_a_signature_is_refused(timestamp: str | None, signature: str | None, why: str | None) -> None:
    assert Signature(SECRET, now=lambda: NOW).problem(timestamp, signature, b"{}") == why


def test_no_secret_refuses_everything_and_signed_ignores_age_only() -> None:
    assert Signature(None).problem(str(NOW), sign(b"", str(NOW)), b"") == "no signing secret configured"
    old = str(NOW - 3600)
    check = Signature(SECRET, now=lambda: NOW)
    assert check.signed({"x-slack-request-timestamp": [old], "x-slack-signature": [sign(b"x", old)]}, b"x")
    assert not check.signed({"x-slack-request-timestamp": ["abc"], "x-slack-signature": [sign(b"x", "abc")]}, b"x")
    assert not check.signed({"x-slack-request-timestamp": [old, old], "x-slack-signature": [sign(b"x", old)]}, b"x")


def test_json_depth_ignores_brackets_inside_strings_and_escaped_quotes() -> None:
    assert json_depth(b'{"text": "[[[[{{{{ \\" [[[[ \\\\", "a": [[1]]}') == 3
    assert json_depth(b"[" * 10 + b"]" * 10) == 10
    assert json_depth(b"[" * 1000, stop=64) == 65  # stops counting past the limit
    legit = json.dumps({"event": {"text": "[" * 5000 + '"' + "{" * 5000}, "blocks": [[[[]]]]}).encode()
    assert not too_deep(legit)
    assert too_deep(b"payload=" + b"%5B" * 65)
    assert not too_deep(b"text=" + b"%5B" * 5000)  # a command's text is never parsed as JSON


def _environ(body: bytes, length: str | None = None) -> dict[str, Any]:
    return {"CONTENT_LENGTH": str(len(body)) if length is None else length, "wsgi.input": io.BytesIO(body)}


def test_read_body_refuses_before_reading() -> None:
    assert read_body(_environ(b"abc"), 10) == b"abc"
    assert read_body(_environ(b"", ""), 10) == b""
    for length in ("x", "-1", "1.5", "9" * 30):
        with pytest.raises(BodyUnreadable):
            read_body(_environ(b"abc", length), 10)
    environ = _environ(b"a" * 11)
    with pytest.raises(BodyTooLarge):
        read_body(environ, 10)
    assert environ["wsgi.input"].tell() == 0


def test_the_guard_hands_on_exactly_the_signed_body() -> None:
    seen: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"])))
        start_response("200 OK", [])
        return [b""]

    guarded = verified(app, Signature(SECRET, now=lambda: NOW))
    body = b'{"type": "url_verification"}'
    environ = {**_environ(body), "HTTP_X_SLACK_REQUEST_TIMESTAMP": str(NOW),
               "HTTP_X_SLACK_SIGNATURE": sign(body, str(NOW))}
    statuses: list[str] = []
    guarded(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["200 OK"] and seen == [body]


@pytest.mark.parametrize(("text", "shown"), [
    ("<!channel>", "&lt;!channel&gt;"), ("a & b", "a &amp; b"), ("&lt;", "&amp;lt;"),
    ("<https://evil|click>", "&lt;https://evil|click&gt;"), ("*bold* _it_", "*bold* _it_"), ("", ""),
])
def test_escape_replaces_exactly_slacks_three(text: str, shown: str) -> None:
    assert escape(text) == shown


def test_mention_only_for_user_ids() -> None:
    assert mention("U0REP001") == "<@U0REP001>"
    assert mention("W12345") == "<@W12345>"
    assert mention("U1> <!channel") == "U1&gt; &lt;!channel"
    assert mention("zuora") == "zuora"


@pytest.mark.parametrize(("body", "status"), [(b"ssl_check=1&token=abc", "200 OK"), (b"ssl_check=1", "200 OK"),
                                              (b"ssl_check=1&token=abc&command=/billing", "401 Unauthorized"),
                                              (b"ssl_check=0&token=abc", "401 Unauthorized"),
                                              (b'{"ssl_check": "1"}', "401 Unauthorized")])
def test_only_slacks_unsigned_ssl_check_gets_through_and_it_reaches_nothing(body: bytes, status: str) -> None:
    reached: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(True)
        return [b""]

    statuses: list[str] = []
    verified(app, Signature(SECRET, now=lambda: NOW))(_environ(body), lambda s, headers: statuses.append(s))
    assert statuses == [status] and reached == []


def test_escape_with_a_limit_never_cuts_an_entity() -> None:
    assert escape("<" * 10, 10) == "&lt;&lt;…"
    assert escape("ab<", 5) == "ab…"
    assert escape("short", 10) == "short"
    for limit in range(1, 40):
        out = escape("a<b&c>d" * 5, limit)
        assert len(out) <= limit and "&" not in out.replace("&lt;", "").replace("&gt;", "").replace("&amp;", "")
