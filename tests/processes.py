"""The app as deployed, for tests and benchmarks that run it as processes: the Zuora sandbox in a process of its own
(told over its stdin what to count and slow down), `python -m bot serve` instances, and requests signed like
Slack's and sent like Zuora's callouts.

    sandbox = SandboxProcess(declines=300, latency=0.25)   # `python -m tests.processes sandbox …`
    serve = Instance("a", sandbox, slack, tmp_path, DATABASE_URL=url)   # started; `wait_up()` waits for /healthz
    serve.callout(sandbox.bodies[0], "n-0"); serve.click(value, trigger="t1"); serve.kill()
    sandbox.count("/v1/credit-memos/invoice/*", "POST")

The sandbox child answers one JSON line per command line: `{"op": "count", "pattern", "method"}` → `{"count": n}`,
`{"op": "inject", "pattern", "method", "latency"}`, `{"op": "clear"}` → `{"ok": true}`; it stops at end of input.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZuoraSandbox
from tests.fakes.slack_api import TEAM, FakeSlack

__all__ = ["APPROVER", "CALLOUT_AUTH", "COLLECT", "REP", "SECRET", "Instance", "SandboxProcess", "add_declines",
           "free_port", "until"]

ROOT = Path(__file__).resolve().parent.parent
SECRET, TOKEN = "processes-signing-secret-0123456789", "xoxb-test"
CALLOUT_AUTH = ("zuora", "processes-callout-password")
COLLECT = "C0COLLECT"
REP, APPROVER = "U0REP001", "U0APPROVER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def until(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- Zuora: the sandbox in its own process ---------------------------------------------------------------------


def add_declines(sandbox: ZuoraSandbox, n: int) -> list[dict[str, str]]:
    """`n` card-paying accounts (copies of a demo account), each with an unpaid invoice and a card just declined;
    returns the `PaymentDeclined` callout bodies Zuora would send for them (account numbers `B00000000`…)."""
    from bot.sandbox.payments import record_payment

    t = sandbox.tenant
    template = t.find("accounts", "A00000003")
    assert template is not None
    methods = [m for m in t.payment_methods.values() if m["accountId"] == template["id"]]
    latest = max((t.invoices[i] for i in t.invoices_of[template["id"]]), key=lambda i: i["invoiceDate"])
    bodies = []
    for k in range(n):
        account = dict(copy.deepcopy(template), id=t.new_id("account"), accountNumber=f"B{k:08d}", name=f"Load {k}")
        ids = {}
        for method in methods:
            ids[method["id"]] = t.new_id("payment_method")
            t.add("payment_methods", dict(copy.deepcopy(method), id=ids[method["id"]], accountId=account["id"]))
        account["defaultPaymentMethodId"] = ids.get(template.get("defaultPaymentMethodId"))
        t.add("accounts", account, "accountNumber")
        invoice = dict(copy.deepcopy(latest), id=t.new_id("invoice"), invoiceNumber=f"INV8{k:07d}",
                       accountId=account["id"], balance=latest["amount"])
        t.add("invoices", invoice, "invoiceNumber")
        t.invoices_of[account["id"]].append(invoice["id"])
        code = ("05", "Do not honor") if k % 3 else ("51", "Insufficient funds")
        payment = record_payment(t, account, [], invoice["amount"], t.today, "Electronic",
                                 account["defaultPaymentMethodId"], decline=code)
        bodies.append({"event": "PaymentDeclined", "PaymentId": payment["id"], "PaymentNumber": payment["number"],
                       "AccountId": account["id"], "AccountNumber": account["accountNumber"],
                       "AccountName": account["name"], "Amount": f"${payment['amount']:,}",
                       "ErrorMessage": payment.get("gatewayResponse") or "",
                       "GatewayResponseCode": payment.get("gatewayResponseCode") or ""})
    return bodies


def _sandbox_child(declines: int, latency: float) -> None:
    """The child: the demo tenant (plus `declines`), served over HTTP; commands on stdin, answers on stdout."""
    from bot.sandbox.server import SandboxServer

    sandbox = ZuoraSandbox()
    bodies = add_declines(sandbox, declines)
    if latency:
        sandbox.inject("/*", latency=latency)
    server = SandboxServer(sandbox, "127.0.0.1", 0).start()
    print(f"sandbox {server.url}", flush=True)
    print(json.dumps(bodies), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "count":
            answer: dict[str, Any] = {"count": len(sandbox.requests_to(command["pattern"], command["method"]))}
        elif op == "inject":
            sandbox.inject(command["pattern"], method=command["method"], latency=command["latency"])
            answer = {"ok": True}
        elif op == "clear":
            sandbox.clear_faults()
            answer = {"ok": True}
        else:
            answer = {"error": f"unknown op {op!r}"}
        print(json.dumps(answer), flush=True)
    server.close()


class SandboxProcess:
    """`python -m tests.processes sandbox`: the Zuora sandbox served from a process of its own."""

    def __init__(self, *, declines: int = 0, latency: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.processes", "sandbox", str(declines), str(latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert self.process.stdout is not None
        first = self.process.stdout.readline().strip()
        assert first.startswith("sandbox http://127.0.0.1:"), f"the sandbox did not start: {first!r}"
        self.url = first.split(" ", 1)[1]
        self.bodies: list[dict[str, str]] = json.loads(self.process.stdout.readline())
        """The callout bodies of the declines it was seeded with."""
        self._lock = threading.Lock()

    def _ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            return dict(json.loads(self.process.stdout.readline()))

    def count(self, pattern: str, method: str = "*") -> int:
        """Requests the sandbox received whose path matches the glob `pattern` (e.g. Zuora writes)."""
        return int(self._ask(op="count", pattern=pattern, method=method)["count"])

    def inject(self, pattern: str, *, method: str = "*", latency: float) -> None:
        """Answer matching requests `latency` seconds later, from now on."""
        self._ask(op="inject", pattern=pattern, method=method, latency=latency)

    def clear(self) -> None:
        """Remove every injected fault (requests already waiting still wait)."""
        self._ask(op="clear")

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- the app: `python -m bot serve` instances -------------------------------------------------------------------


class Instance:
    """One `python -m bot serve` process against the sandbox and the fake Slack; started at once, logging to
    `<tmp>/serve-<name>.log`. `env` adds or overrides settings (`DATABASE_URL`, `DATABASE_PATH`, …)."""

    def __init__(self, name: str, sandbox: SandboxProcess, slack: FakeSlack, tmp: Path, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.slack = slack
        self.log_path = Path(tmp) / f"serve-{name}.log"
        settings = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url,
                    "ZUORA_BASE_URL": sandbox.url, "ZUORA_CLIENT_ID": DEMO_CLIENT_ID,
                    "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET, "PORT": str(self.port), "BILLRUN_POLL_SECONDS": "0",
                    "APPROVERS": APPROVER, "COLLECTIONS_CHANNEL": COLLECT, "ZUORA_CALLOUT_USERNAME": CALLOUT_AUTH[0],
                    "ZUORA_CALLOUT_PASSWORD": CALLOUT_AUTH[1], "NO_PROXY": "127.0.0.1", **env}
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1"], cwd=tmp,
                                        env={**os.environ, "PYTHONPATH": str(ROOT), **settings},
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60, trust_env=False,
                                 limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
        self._n = 0
        self._n_lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    def up(self) -> bool:
        """Does /healthz answer 200? (Fails at once if the process has exited.)"""
        assert self.process.poll() is None, f"serve {self.name} exited:\n{self.output()[-3000:]}"
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def wait_up(self, timeout: float = 120.0) -> Instance:
        until(self.up, f"serve {self.name} to answer /healthz", timeout)
        return self

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def _next(self) -> int:
        with self._n_lock:
            self._n += 1
            return self._n

    # -- requests -------------------------------------------------------------------------------------------

    def post(self, body: str) -> httpx.Response:
        """A form body to `/slack/events`, signed like Slack signs it."""
        ts = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        return self.http.post("/slack/events", content=body.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature})

    def command(self, text: str, *, hook: str, user: str = REP, channel: str = COLLECT) -> httpx.Response:
        """`/billing <text>`; the answer goes to the fake Slack's hook `hook`."""
        n = self._next()
        return self.post(urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "acme", "channel_id": channel,
            "channel_name": "collections", "user_id": user, "user_name": "rep", "command": "/billing", "text": text,
            "api_app_id": "A0APP", "response_url": self.slack.hook(hook), "trigger_id": f"{self.name}.{n}.command"}))

    def click(self, value: str, *, trigger: str, action: str = "approval.approve", user: str = APPROVER,
              channel: str = COLLECT, message_ts: str = "1790000000.000001") -> httpx.Response:
        """A button on a card (`value` as the card carries it), clicked by `user`."""
        payload = {"type": "block_actions", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
                   "api_app_id": "A0APP", "token": "legacy", "trigger_id": trigger,
                   "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
                   "channel": {"id": channel, "name": "collections"}, "message": {"ts": message_ts},
                   "response_url": self.slack.hook(f"click-{trigger}"),
                   "actions": [{"type": "button", "action_id": action, "block_id": "b1", "value": value,
                                "action_ts": str(time.time())}]}
        return self.post("payload=" + quote(json.dumps(payload)))

    def callout(self, body: dict[str, Any], notification_id: str) -> httpx.Response:
        """A Zuora callout as Zuora sends it (Basic auth, its notification id)."""
        return self.http.post("/zuora/callouts", content=json.dumps(body).encode(), auth=CALLOUT_AUTH,
                              headers={"Content-Type": "application/json", "Zuora-Notification-Id": notification_id,
                                       "Zuora-Request-Id": f"req-{notification_id}-{time.monotonic_ns()}"})

    # -- ending -----------------------------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease given back."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (the process drains), then SIGKILL if it has not exited within `timeout`; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.http.close()
        if not self._log.closed:
            self._log.close()
        return self.process.returncode


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "sandbox":
        _sandbox_child(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit("usage: python -m tests.processes sandbox DECLINES LATENCY_S")
