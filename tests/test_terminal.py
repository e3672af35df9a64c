"""Slack mrkdwn as terminal text (`bot.terminal.plain`)."""

from __future__ import annotations

import pytest

from bot.terminal import plain


@pytest.mark.parametrize(("mrkdwn", "text"), [
    ("*INV00000042* is *554.54 USD higher*", "INV00000042 is 554.54 USD higher"),
    ("_note: read as INV00000042._", "note: read as INV00000042."),
    ("~old~ new", "old new"),
    (":warning: Zuora is down", "! Zuora is down"),
    (":white_check_mark: done :tada:", "✓ done"),
    ("<https://z.test/i?a=1&amp;b=2|INV00000022>", "INV00000022 (https://z.test/i?a=1&b=2)"),
    ("<https://z.test/x>", "https://z.test/x"),
    ("<@U0REP001> and <#C0SUPPORT|support> <!here>", "@U0REP001 and #support @here"),
    ("AT&amp;T &lt;script&gt;", "AT&T <script>"),
    ("at 10:30:00, snake_case_name, 2*3*4", "at 10:30:00, snake_case_name, 2*3*4"),
    ("`*kept*` as *code*", "`*kept*` as code"),
    ("• *+250.00 USD* API calls\n• *+150.00 USD* Seats", "• +250.00 USD API calls\n• +150.00 USD Seats"),
])
def test_plain(mrkdwn: str, text: str) -> None:
    assert plain(mrkdwn) == text
