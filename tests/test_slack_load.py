"""Under load: acks never wait for Zuora, a full work queue says "busy" at once, and the other routes still answer.

Zuora is slowed with the sandbox's injected latency, whose sleep waits on `stack.release`: while
that event is unset, every Zuora request the app makes is provably stuck inside the sandbox. The
assertions are about order (the ack arrived while Zuora was still holding the work), not about time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.slack.workpool import BUSY, WorkPool
from tests.fakes.slack_api import FakeSlack, Recorded
from tests.slack_stack import CALLOUT_PASSWORD, CALLOUT_USER, Stack, callout

pytestmark = pytest.mark.both_databases

SETTINGS = {"zuora_callout_username": CALLOUT_USER, "zuora_callout_password": CALLOUT_PASSWORD}


def hooks(requests: list[Recorded]) -> list[Recorded]:
    return [r for r in requests if r.method.startswith("/hooks/")]


def stuck_in_zuora(stack: Stack, n: int) -> None:
    """Wait (bounded) until `n` API requests have reached the slowed sandbox; they stay there until released."""
    deadline = time.monotonic() + 20
    while len([r for r in stack.sandbox.requests if r.path != "/oauth/token"]) < n:
        assert time.monotonic() < deadline, "the app never asked Zuora"
        time.sleep(0.005)


@pytest.fixture
def slowed(tmp_path: Path, slack: FakeSlack) -> Iterator[Callable[..., Stack]]:
    """Stacks whose Zuora answers nothing until `stack.release` is set."""
    stacks: list[Stack] = []

    def make(**settings: object) -> Stack:
        path = tmp_path / f"stack{len(stacks)}"
        path.mkdir()
        stack = Stack(path, slack, **SETTINGS, **settings)  # type: ignore[arg-type]
        stack.sandbox.inject("/v1/*", latency=60)
        stack.sandbox.inject("/object-query/*", latency=60)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.close()


@pytest.fixture
def slowed_stack(slowed: Callable[..., Stack]) -> Stack:
    return slowed()


def test_acks_arrive_while_zuora_holds_every_answer(slowed_stack: Stack, slack: FakeSlack) -> None:
    stack = slowed_stack
    first = stack.command("why is INV-42 higher")
    assert first.status_code == 200 and "Comparing INV-42" in first.text
    stuck_in_zuora(stack, 1)
    # more commands than Bolt's listener threads and waitress's threads together: each is acked at once
    acks = [stack.command(f"why is INV-{n} higher", user=f"U0LOAD{n:03d}") for n in range(40, 52)]
    mention = stack.mention("why is INV-42 higher", ts="1790000100.000100")
    click = stack.action("copilot.follow_up.0", "what does A00000003 owe", ephemeral=True)
    health = stack.http.get("/healthz")
    hint = callout(stack, {"event": "BillRunCompletion", "BillRunId": "BR-00000001"}, notification_id="n-load")
    assert not stack.release.is_set() and hooks(slack.requests) == []  # no answer has got past Zuora yet
    assert [a.status_code for a in acks] == [200] * 12 and all("Comparing INV-" in a.text for a in acks)
    assert mention.status_code == click.status_code == 200
    assert health.status_code == 200 and health.json()["ok"] is True
    assert hint.status_code == 200
    stack.release.set()
    answered = hooks(slack.wait_for(lambda rs: len(hooks(rs)) >= 14, timeout=30))
    assert not [h for h in answered if BUSY in json.dumps(h.body)]
    slack.wait_for(lambda rs: any(r.method == "chat.update" for r in rs), timeout=30)  # the mention's answer


def test_a_full_queue_tells_the_user_busy_at_once(slowed: Callable[..., Stack], slack: FakeSlack) -> None:
    stack = slowed(slack_workers=1, slack_queue=1)
    assert stack.command("why is INV-42 higher").status_code == 200  # the worker: stuck in Zuora
    stuck_in_zuora(stack, 1)
    queued = stack.command("what does A00000003 owe", user="U0REP002")  # waits for the worker
    refused = stack.command("show invoice 42", user="U0REP003")
    assert queued.status_code == 200 and queued.text not in ("", BUSY)
    assert refused.status_code == 200 and refused.text == BUSY  # the ack itself says so: ephemeral, at once

    click = stack.action("copilot.follow_up.0", "what does A00000003 owe", ephemeral=True)
    assert click.status_code == 200
    mention = stack.mention("why is INV-42 higher", ts="1790000200.000200")
    assert mention.status_code == 200
    told = slack.wait_for(lambda rs: any(r.method.startswith("/hooks/a") for r in rs)
                          and any(r.method == "chat.postMessage" for r in rs))
    [ephemeral] = [r for r in told if r.method.startswith("/hooks/a")]
    assert ephemeral.body["text"] == BUSY and ephemeral.body["response_type"] == "ephemeral"
    [in_thread] = [r for r in told if r.method == "chat.postMessage"]
    assert in_thread.body["text"] == BUSY and in_thread.body["thread_ts"] == "1790000200.000200"
    assert not stack.release.is_set() and hooks([r for r in told if r.method.startswith("/hooks/r")]) == []

    stack.release.set()  # the worker and the queued command finish; the refused ones were never queued
    answers = slack.wait_for(lambda rs: len([r for r in rs if r.method.startswith("/hooks/r")]) == 2, timeout=30)
    assert {r.method for r in answers if r.method.startswith("/hooks/r")} == {"/hooks/r1", "/hooks/r2"}
    assert stack.services.later.work_pool.stats()["rejected"] == 3


def test_the_work_pool_never_blocks_and_finishes_queued_work_on_close() -> None:
    import threading

    gate = threading.Event()
    done: list[int] = []
    pool = WorkPool(2, 3)

    def job(n: int) -> Callable[[], None]:
        def run() -> None:
            gate.wait(10)
            done.append(n)
        return run

    accepted = [pool.submit(job(n)) for n in range(7)]
    assert accepted == [True] * 5 + [False] * 2  # 2 running + 3 waiting; the rest refused at once
    gate.set()
    assert pool.close(timeout=10)
    assert sorted(done) == [0, 1, 2, 3, 4] and not pool.submit(job(9))
    assert pool.stats() == {"running": 0, "waiting": 0, "done": 5, "rejected": 3}
    with pytest.raises(ValueError):
        WorkPool(0, 1)


def test_a_failing_job_reaches_the_error_handler_with_its_request(slowed: Callable[..., Stack],
                                                                 slack: FakeSlack) -> None:
    stack = slowed()
    stack.release.set()
    seen: list[tuple[str, str]] = []
    later = stack.services.later
    later.on_error = lambda error, body, client: seen.append((type(error).__name__, body["command"]))

    def boom() -> None:
        raise RuntimeError("boom")

    assert later.work({"command": "/billing"}, None, boom)
    assert later.close(timeout=10)
    assert seen == [("RuntimeError", "/billing")]


@pytest.mark.parametrize(("name", "value"), [("SLACK_WORKERS", "0"), ("SLACK_QUEUE", "-1"), ("SLACK_WORKERS", "x")])
def test_bad_pool_settings_are_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                            value: str) -> None:
    from bot.config import ConfigError, load_settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^invalid setting {name}: "):
        load_settings()


def test_sigterm_finishes_the_answers_already_taken(tmp_path: Path, slack: FakeSlack) -> None:
    """A real `serve` process, a real slowed sandbox process: answers queued at SIGTERM are still delivered."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    from urllib.parse import urlencode

    import httpx
    from slack_sdk.signature import SignatureVerifier

    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    zuora = subprocess.Popen([sys.executable, "-m", "bot", "sandbox", "--port", "0", "--latency", "0.5"],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = None
    try:
        assert zuora.stdout is not None
        zuora_url = zuora.stdout.readline().split()[-1]
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "sigterm-secret",
               "SLACK_API_URL": slack.api_url, "ZUORA_BASE_URL": zuora_url, "ZUORA_CLIENT_ID": DEMO_CLIENT_ID,
               "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET, "SLACK_WORKERS": "1", "BILLRUN_POLL_SECONDS": "0",
               "PORT": str(port)}
        serve = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"], cwd=tmp_path,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert http.get("/healthz").status_code == 200
                    break
                except httpx.TransportError:
                    assert serve.poll() is None and time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.1)
            for n in range(3):  # one worker: one answer running, two waiting in the queue
                form = urlencode({"command": "/billing", "text": "why is INV-42 higher", "user_id": f"U{n}",
                                  "channel_id": "C1", "team_id": "T0000001", "response_url": slack.hook(f"t{n}")})
                ts = str(int(time.time()))
                signature = SignatureVerifier("sigterm-secret").generate_signature(timestamp=ts, body=form)
                ack = http.post("/slack/events", content=form, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": signature})
                assert ack.status_code == 200 and ack.text != BUSY
        assert hooks(slack.requests) == []  # each answer needs Zuora for at least a second
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=60)[0]
        assert serve.returncode == 0, output
        assert "SIGTERM: no new requests" in output
        assert sorted(r.method for r in hooks(slack.requests)) == ["/hooks/t0", "/hooks/t1", "/hooks/t2"]
        assert all("+554.54 USD" in json.dumps(r.body) for r in hooks(slack.requests))
    finally:
        for process in (serve, zuora):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
            if process is not None and process.stdout is not None:
                process.stdout.close()
