"""Shared fixtures: a hermetic environment, a fake clock, the sandbox and a client wired to it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.zuora import RetryPolicy, ZuoraClient
from tests.fakes.slack_api import FakeSlack

_SCRUB = ("SLACK_", "ZUORA_", "LLM_", "OPENAI", "ANTHROPIC", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
          "APPROVERS", "APPROVAL_", "DATABASE_PATH", "READ_ONLY", "COLLECTIONS_CHANNEL", "BILLRUN_", "PORT",
          "REDACT_PII")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    """No test sees the developer's Slack, Zuora, LLM or proxy settings, nor a `.env` file."""
    for key in list(os.environ):
        if key.upper().startswith(_SCRUB):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


class FakeClock:
    """A clock that only moves when told to (or when something sleeps on it)."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> ZuoraSandbox:
    return ZuoraSandbox(clock=clock, sleep=clock.sleep)


def make_client(sandbox: ZuoraSandbox, clock: FakeClock, **kwargs: object) -> ZuoraClient:
    """A client on the in-process sandbox, with the fake clock, no real sleeping and no jitter."""
    options: dict[str, object] = {"transport": httpx.MockTransport(sandbox.handle), "sleep": clock.sleep,
                                  "clock": clock, "random": lambda: 1.0, "retry": RetryPolicy(deadline=60.0)}
    options.update(kwargs)
    return ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, **options)  # type: ignore[arg-type]


@pytest.fixture
def client(sandbox: ZuoraSandbox, clock: FakeClock) -> Iterator[ZuoraClient]:
    with make_client(sandbox, clock) as c:
        yield c


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A local fake of Slack's Web API (port 0), closed after the test."""
    fake = FakeSlack().start()
    yield fake
    fake.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The attack suite's tried / held table (`tests/attack.py`), when any attack ran."""
    from tests.attack import table

    lines = table()
    if lines:
        terminalreporter.section("attack suite: tried / held")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A backstop for the attack suite: the run fails if any category did not hold every attempt."""
    from tests.attack import tally

    if exitstatus == 0 and any(held != tried for tried, held in tally().values()):
        session.exitstatus = 1


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Each phase's report on the item (`item.rep_call`), so fixtures can keep artifacts of a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
