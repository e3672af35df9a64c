"""Portfolio answers in Slack end to end: the fields section, then the CSV and the chart uploaded through
files.getUploadURLExternal + the upload + files.completeUploadExternal, in the thread (mentions) or the
asker's DM (ephemeral /billing answers); a failed upload is said, the answer stands."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.copilot.answers import Answer
from bot.slack.blocks import answer_message
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import Stack

pytestmark = pytest.mark.both_databases


@pytest.fixture
def stack(tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> Iterator[Stack]:
    caplog.set_level(logging.DEBUG)
    s = Stack(tmp_path, slack)
    yield s
    s.close()


def _done(slack: FakeSlack) -> list[Recorded]:
    return slack.wait_for(lambda rs: any(r.method == "files.completeUploadExternal" for r in rs))


def test_a_mention_gets_the_table_then_the_csv_and_chart_in_its_thread(stack: Stack, slack: FakeSlack) -> None:
    stack.mention("failed payments last 12 months by country", ts="1790000100.000100")
    requests = _done(slack)
    [update] = [r for r in requests if r.method == "chat.update"]
    blocks = update.body["blocks"]
    fields = next(b for b in blocks if b.get("fields"))
    labels = [f["text"].split("\n")[0] for f in fields["fields"]]
    assert labels[:2] == ["*Period*", "*As of*"] and "*Total USD*" in labels and len(fields["fields"]) <= 10
    text = json.dumps(blocks)
    assert "4,584.07 USD" in text and "object-query/payments" in text
    asked = [r for r in requests if r.method == "files.getUploadURLExternal"]
    assert sorted(r.body["filename"] for r in asked) == ["failed_payments-2026-11-20.csv",
                                                          "failed_payments-2026-11-20.png"]
    [done] = [r for r in requests if r.method == "files.completeUploadExternal"]
    assert done.body["channel_id"] == "C0SUPPORT" and done.body["thread_ts"] == "1790000100.000100"
    ids = [f["id"] for f in json.loads(done.body["files"])]
    data = {f: slack.files[f]["content"] for f in ids}
    table = next(v for v in data.values() if not v.startswith(b"\x89PNG"))
    rows = list(csv.DictReader(io.StringIO(table.decode())))
    assert {(r["country"], r["leaked"]) for r in rows} >= {("United States", "4584.07")}
    assert any(v.startswith(b"\x89PNG") for v in data.values())


def test_billing_command_sends_the_files_to_the_askers_dm(stack: Stack, slack: FakeSlack) -> None:
    stack.command("top 5 customers by revenue last 12 months")
    requests = _done(slack)
    [done] = [r for r in requests if r.method == "files.completeUploadExternal"]
    [opened] = [r for r in requests if r.method == "conversations.open"]
    assert done.body["channel_id"].startswith("D") and "thread_ts" not in done.body
    assert opened.body["users"]
    [answer] = [r for r in requests if r.method.startswith("/hooks/") and "Top customers" in json.dumps(r.body)]
    assert answer.body["response_type"] == "ephemeral"


def test_a_failed_upload_is_said_and_the_answer_stands(stack: Stack, slack: FakeSlack) -> None:
    slack.fail("files.getUploadURLExternal", "missing_scope")
    stack.mention("aging", ts="1790000300.000100")
    requests = slack.wait_for(lambda rs: any("could not be attached" in str(r.body.get("text")) for r in rs))
    assert any(r.method == "chat.update" and "Receivables aging" in json.dumps(r.body) for r in requests)
    note = next(r for r in requests if "could not be attached" in str(r.body.get("text")))
    assert "missing_scope" in note.body["text"] and note.body["thread_ts"] == "1790000300.000100"


def test_other_answers_upload_nothing_and_zuora_names_are_escaped(stack: Stack, slack: FakeSlack) -> None:
    stack.mention("show invoice 42", ts="1790000400.000100")
    slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs))
    assert not slack.calls("files.getUploadURLExternal")
    facts = {"question": "top_customers", "as_of": "2026-11-20", "sentence": "<!channel>", "period_start": "2026-10-01",
             "period_end": "2026-10-31", "columns": ["account_name"], "rows": [{"account_name": "<!channel>"}],
             "totals": {"USD": "1.00", "<!here>": "2"}, "records_read": 1}
    message = answer_message(Answer(text="*Top* <!channel>", intent="top_customers", facts=facts))
    dumped = json.dumps(message["blocks"])
    assert "<!channel>" not in dumped and "<!here>" not in dumped and "&lt;!here&gt;" in dumped
