"""README "Slack set-up", followed literally where no real workspace is needed: the HTTP commands as a process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.storage import is_url, open_db
from tests.fakes.slack_api import FakeSlack
from tests.fakes.socket_mode import FakeSocketMode

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[1]


def setup_block(command: str) -> dict[str, str]:
    """The `export …` line of the README code block that runs `command`, as variables."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Slack set-up", 1)[1]
    for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        lines = [line.strip() for line in block.strip().splitlines()]
        if lines[-1] == command:
            return dict(pair.split("=", 1) for pair in lines[0].removeprefix("export ").split())
    raise AssertionError(f"README has no set-up block ending with {command!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_mode_as_the_readme_says(tmp_path: Path, database: str, slack: FakeSlack) -> None:
    variables = setup_block("python -m bot serve")
    assert set(variables) == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ZUORA_BASE_URL", "PORT"}
    assert variables["ZUORA_BASE_URL"] == "demo"
    secret, port = "readme-secret", free_port()
    env = {**os.environ, **variables, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": secret,
           "PORT": str(port), "SLACK_API_URL": slack.api_url}
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert http.get("/healthz").json()["ok"] is True
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.stdout.read() if process.stdout else ""
                    assert time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.1)

            def signed(body: str, content_type: str) -> httpx.Response:
                ts = str(int(time.time()))
                signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
                return http.post("/slack/events", content=body, headers={
                    "Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})

            # Slack checks the Request URL when it is saved in the app settings
            challenge = signed(json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}),
                               "application/json")
            assert challenge.json() == {"challenge": "c-123"}
            form = urlencode({"command": "/billing", "text": "why is INV-42 higher", "user_id": "U1",
                              "channel_id": "C1", "team_id": "T0000001", "response_url": slack.hook("readme")})
            ack = signed(form, "application/x-www-form-urlencoded")
            assert ack.status_code == 200 and "Comparing INV-42" in ack.text
            [answer] = slack.wait_for(lambda rs: any(r.method == "/hooks/readme" for r in rs)) and \
                slack.calls("/hooks/readme")
            assert "INV00000042 vs INV00000022: +554.54 USD" in json.dumps(answer.body["blocks"])
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "listening on http://0.0.0.0:" in output
    assert "DEMO MODE: ZUORA_BASE_URL=demo" in output
    assert "xoxb-test" not in output and secret not in output
    if is_url(database):  # DATABASE_URL (the test's schema): the conversation is there, and no file was made
        assert not (tmp_path / "billing-copilot.db").exists()
        assert open_db(database, migrate=False).execute("select count(*) from conversation_turns").fetchone() == (1,)
    else:
        assert (tmp_path / "billing-copilot.db").exists()  # the default DATABASE_PATH, in the working directory


def test_socket_mode_as_the_readme_says(tmp_path: Path, slack: FakeSlack) -> None:
    variables = setup_block("python -m bot socket")
    assert set(variables) == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "ZUORA_BASE_URL"}
    socket_mode = FakeSocketMode()
    slack.socket_url = socket_mode.url
    env = {**os.environ, **variables, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
           "SLACK_API_URL": slack.api_url}
    process = subprocess.Popen([sys.executable, "-m", "bot", "socket"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert socket_mode.connected.wait(60), "the app did not connect"
        command = {"command": "/billing", "text": "why is INV-42 higher", "user_id": "U1", "channel_id": "C1",
                   "team_id": "T0000001", "api_app_id": "A0APP", "response_url": slack.hook("socket")}
        socket_mode.send({"envelope_id": "env-1", "type": "slash_commands", "accepts_response_payload": True,
                          "payload": command})
        ack = socket_mode.ack_of("env-1")
        assert "Comparing INV-42 with the invoice before it" in json.dumps(ack.get("payload"), ensure_ascii=False)
        [answer] = slack.wait_for(lambda rs: any(r.method == "/hooks/socket" for r in rs)) and \
            slack.calls("/hooks/socket")
        assert "INV00000042 vs INV00000022: +554.54 USD" in json.dumps(answer.body["blocks"])
        event = {"type": "event_callback", "event_id": "Ev0SOCKET", "team_id": "T0000001", "api_app_id": "A0APP",
                 "event": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1790002000.000100",
                           "text": "<@UBOT0001> and the one before?"}}
        socket_mode.send({"envelope_id": "env-2", "type": "events_api", "payload": event})
        assert socket_mode.ack_of("env-2")
        update = slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs)) and slack.calls("chat.update")
        assert update[0].body["channel"] == "C1"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
        socket_mode.close()
    assert [r.authorization for r in slack.calls("apps.connections.open")][:1] == ["Bearer xapp-test"]
    assert "xoxb-test" not in output and "xapp-test" not in output


@pytest.mark.parametrize(("command", "missing"), [("serve", "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are"),
                                                  ("socket", "SLACK_APP_TOKEN is")])
def test_missing_settings_stop_the_process_with_one_line_naming_all(tmp_path: Path, command: str,
                                                                    missing: str) -> None:
    env = {**os.environ, **({"SLACK_BOT_TOKEN": "xoxb-test"} if command == "socket" else {})}
    done = subprocess.run([sys.executable, "-m", "bot", command], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f'error: {missing} not set; required here (see README, "Slack set-up"); ZUORA_BASE_URL is not set: set it '
        "to your tenant's REST URL (e.g. https://rest.zuora.com), or to 'demo' to answer from the fictional demo "
        "tenant"]
    assert not (tmp_path / "billing-copilot.db").exists()  # refused before anything was created
    assert setup_block(f"python -m bot {command}")  # the README tells how to set it
