"""`python -m bot demo` without a browser: the process, the page's API (refusals included) and the fake's workspace."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from bot.demo.server import Demo
from bot.demo.slack_api import BOT_USER, FakeSlack, Hook


@pytest.fixture
def demo() -> Iterator[Demo]:
    d = Demo(port=0).start()
    yield d
    d.close()


def wait(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_demo_process_prints_its_url_serves_the_page_and_stops_on_sigterm() -> None:
    env = {**os.environ, "ZUORA_BASE_URL": "https://tenant.example.com", "ZUORA_CLIENT_ID": "x",
           "ZUORA_CLIENT_SECRET": "y"}  # the demo ignores a configured tenant: always the sandbox
    with subprocess.Popen([sys.executable, "-m", "bot", "demo", "--port", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, env=env) as proc:
        _run_demo_process(proc)


def _run_demo_process(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        with httpx.Client(base_url=match.group(1), trust_env=False, timeout=10) as http:
            page = http.get("/")
            assert page.status_code == 200 and "billing-copilot demo" in page.text and "<script>" in page.text
            assert http.get("/healthz").json()["zuora"] == "sandbox"
            config = http.get("/demo/config").json()
            assert {u["id"] for u in config["users"]} >= {"U0REP001", "U0APPROVER", "U0OUTSIDER"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_port_in_use_is_one_clear_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "bot", "demo", "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_page_api_refuses_what_it_cannot_do(demo: Demo) -> None:
    with httpx.Client(base_url=demo.url, trust_env=False, timeout=30) as http:
        def post(name: str, body: object) -> httpx.Response:
            return http.post(f"/demo/{name}", content=body if isinstance(body, bytes) else json.dumps(body).encode())

        cases = [("send", {"user": "U0NOBODY", "channel": "C0SUPPORT", "text": "hi"}, "unknown user"),
                 ("send", {"user": "U0REP001", "channel": "C0SECRET", "text": "hi"}, "unknown channel"),
                 ("send", {"user": "U0REP001", "channel": "D0APPROVER", "text": "hi"}, "unknown channel"),
                 ("send", {"user": "U0REP001", "channel": "C0SUPPORT", "text": "   "}, "nothing to send"),
                 ("send", {"user": "U0REP001", "channel": "C0SUPPORT", "text": "/billing x", "thread_ts": "1.2"},
                  "not supported in threads"),
                 ("click", {"user": "U0REP001", "channel": "C0SUPPORT", "ts": "1.2", "action": {"action_id": "x"}},
                  "that message is gone"),
                 ("submit", {"user": "U0REP001", "values": {}}, "no modal is open"),
                 ("open", {"user": "U0REP001", "tab": "settings"}, "unknown tab"),
                 ("simulate", {"kind": "decline", "account": "A99999999"}, "no card-paying account"),
                 ("simulate", {"kind": "meteor"}, "unknown event"),
                 ("teleport", {}, "unknown request"),
                 ("send", b"{not json", ""), ("send", b"[1, 2]", "expected a JSON object"),
                 ("send", b"{" + b" " * 70_000 + b"}", "request too large")]
        for name, body, message in cases:
            answer = post(name, body)
            assert answer.status_code == 400 and message in answer.json()["error"], (name, body, answer.text)
        assert http.get("/demo/nothing").status_code == 404
        forged = http.post("/slack/events", content=b"command=/billing&text=hi", headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64})
        assert forged.status_code == 401  # the page's requests pass because the demo signs them, not by a bypass
        assert not any(demo.slack.workspace.messages.values())


def test_a_command_a_mention_and_a_click_go_through_the_real_app(demo: Demo) -> None:
    demo.send("U0REP001", "C0SUPPORT", '/billing credit INV-448 50 "goodwill"')
    messages = demo.slack.workspace.messages

    def card() -> dict | None:
        return next((m for m in messages.get("C0SUPPORT", []) if "approval.approve" in json.dumps(m["blocks"])), None)

    wait(lambda: card() is not None)
    posted = card()
    assert posted is not None and posted["user"] == BOT_USER and posted["ephemeral_for"] is None
    reject = next(e for b in posted["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "approval.reject")
    demo.click("U0APPROVER", reject, channel="C0SUPPORT", ts=posted["ts"])
    wait(lambda: "U0APPROVER" in demo.slack.workspace.modals)
    assert demo.submit("U0APPROVER", {"reason": {"reason": ""}})["errors"] == {
        "reason": "Say why, for the requester and the audit log."}
    assert demo.submit("U0APPROVER", {"reason": {"reason": "duplicate"}})["errors"] == {}
    assert "U0APPROVER" not in demo.slack.workspace.modals
    wait(lambda: "Rejected" in (demo.slack.find("C0SUPPORT", posted["ts"]) or {}).get("text", ""))

    ts = demo.send("U0REP001", "C0SUPPORT", "@billing-copilot show invoice 42")["ts"]
    wait(lambda: any(m["thread_ts"] == ts and m["user"] == BOT_USER and "INV00000042" in m["text"]
                     for m in messages["C0SUPPORT"]))

    demo.reset()
    assert not any(demo.slack.workspace.messages.values())
    assert demo.services.db.execute("select count(*) from proposals").fetchone()[0] == 0


def test_the_fakes_workspace_follows_response_urls_ephemerals_and_status_chips() -> None:
    slack = FakeSlack().start()
    try:
        auth = {"Authorization": "Bearer xoxb-test"}
        with httpx.Client(trust_env=False) as http:
            ts = http.post(f"{slack.api_url}chat.postMessage", json={"channel": "U0REP001", "text": "hello"},
                           headers=auth).json()["ts"]
            assert slack.find("D0REP001", ts)["text"] == "hello"  # a user id posts into the DM
            slack.hooks["a1"] = Hook("U0REP001", "D0REP001", message_ts=ts)
            http.post(slack.hook("a1"), json={"replace_original": True, "text": "replaced"})
            assert slack.find("D0REP001", ts)["text"] == "replaced" and slack.find("D0REP001", ts)["edited"]
            http.post(slack.hook("a1"), json={"response_type": "ephemeral", "text": "just you"})
            assert [m["ephemeral_for"] for m in slack.workspace.messages["D0REP001"]] == [None, "U0REP001"]
            http.post(f"{slack.api_url}assistant.threads.setStatus", headers=auth,
                      json={"channel_id": "D0REP001", "thread_ts": ts, "status": "Looking up A00000007…"})
            assert slack.workspace.statuses == {f"D0REP001/{ts}": "Looking up A00000007…"}
            http.post(f"{slack.api_url}chat.postMessage", headers=auth,
                      json={"channel": "D0REP001", "thread_ts": ts, "text": "the answer"})
            assert slack.workspace.statuses == {}  # the reply clears the chip, as in Slack
            http.post(slack.hook("a1"), json={"delete_original": True})
            assert slack.find("D0REP001", ts) is None
            refused = http.post(f"{slack.api_url}chat.postMessage", json={"channel": "C1", "text": "x"},
                                headers={"Authorization": "Bearer xoxb-wrong"}).json()
            assert refused == {"ok": False, "error": "invalid_auth"} and "C1" not in slack.workspace.messages
    finally:
        slack.close()


def test_uploaded_files_are_shown_in_their_message_and_served_back() -> None:
    from slack_sdk import WebClient

    slack = FakeSlack().start()
    try:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        client.files_upload_v2(channel="C0SUPPORT", content="invoice,amount\nINV00000042,868.46\n",
                               filename="overdue.csv", title="Overdue invoices", initial_comment="the export")
        [message] = slack.workspace.messages["C0SUPPORT"]
        [file] = message["files"]
        assert message["text"] == "the export" and file["title"] == "Overdue invoices"
        assert file["name"] == "overdue.csv" and file["mimetype"] == "text/csv"
        with httpx.Client(trust_env=False) as http:
            served = http.get(file["url_private"])
            assert served.status_code == 200 and served.text.startswith("invoice,amount")
            assert http.get(f"{slack.url}/files/F0NOPE/x.csv").status_code == 404
    finally:
        slack.close()
