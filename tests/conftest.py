"""Shared fixtures: a hermetic environment, a fake clock, the sandbox and a client wired to it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox
from bot.zuora import RetryPolicy, ZuoraClient
from tests.databases import ENV as PG_ENV
from tests.databases import postgres_for_tests
from tests.fakes.slack_api import FakeSlack

_SCRUB = ("SLACK_", "ZUORA_", "LLM_", "OPENAI", "ANTHROPIC", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
          "APPROVERS", "APPROVAL_", "DATABASE_PATH", "DATABASE_URL", "DATABASE_POOL", "READ_ONLY",
          "COLLECTIONS_CHANNEL", "BILLRUN_", "PORT",
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
    """The attack suite's tried / held table (`tests/attack.py`), when any attack ran; PostgreSQL tests left out."""
    from tests.attack import table

    for line in _PG_LEFT_OUT:
        terminalreporter.write_line(line)

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


# -- databases: a test marked `both_databases` runs on SQLite and on PostgreSQL ------------------------

_PG_LEFT_OUT: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run the test on SQLite and on PostgreSQL (`database`)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("database", ["sqlite", "postgresql"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without `TEST_DATABASE_URL`, the PostgreSQL variants are left out (and the run says so once)."""
    if postgres_for_tests() is not None:
        return
    keep = [item for item in items if not item.name.endswith("[postgresql]") and "[postgresql-" not in item.name]
    left = [item for item in items if item not in keep]
    if left:
        _PG_LEFT_OUT.append(f"{len(left)} PostgreSQL test(s) not run: {PG_ENV} is not set "
                            f"(.ci/run sets it to the local server)")
        config.hook.pytest_deselected(items=left)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str:
    server = postgres_for_tests()
    return f"databases: SQLite and PostgreSQL ({PG_ENV})" if server else f"databases: SQLite only ({PG_ENV} not set)"


def pytest_unconfigure(config: pytest.Config) -> None:
    server = postgres_for_tests()
    if server is not None:
        server.close()


class Databases:
    """Fresh databases of the test's kind: `new()` gives a SQLite path or a PostgreSQL URL (its own schema)."""

    def __init__(self, kind: str, tmp_path: object) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self._schemas: list[str] = []

    def new(self, name: str = "bot.db") -> str:
        if self.kind == "sqlite":
            return str(self.tmp_path / name)  # type: ignore[operator]
        server = postgres_for_tests()
        assert server is not None
        schema, url = server.schema()
        self._schemas.append(schema)
        return url

    def close(self) -> None:
        server = postgres_for_tests()
        for schema in self._schemas:
            assert server is not None
            server.drop_schema(schema)


def _kind(request: pytest.FixtureRequest) -> str:
    callspec = getattr(request.node, "callspec", None)
    return str(callspec.params.get("database", "sqlite")) if callspec is not None else "sqlite"


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[Databases]:
    made = Databases(_kind(request), tmp_path)
    yield made
    made.close()


@pytest.fixture(autouse=True)
def database(request: pytest.FixtureRequest, databases: Databases, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database (a SQLite path, or a PostgreSQL URL also set as `DATABASE_URL` for the app under test)."""
    if databases.kind == "sqlite":
        return databases.new()
    url = databases.new()
    monkeypatch.setenv("DATABASE_URL", url)
    return url
