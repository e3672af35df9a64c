"""Settings, storage and the command line."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.config import ConfigError, load_settings
from bot.storage import MIGRATIONS, applied_migrations, migrate, open_db


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.uses_sandbox and settings.zuora_version == "2025-08-12" and settings.redact_pii
    assert settings.llm_model is None and settings.read_only is False


@pytest.mark.parametrize(("env", "message"), [
    ({"ZUORA_VERSION": "latest"}, "invalid setting ZUORA_VERSION"),
    ({"APPROVERS": "U123ABC, not-a-user"}, "invalid setting APPROVERS: 'not-a-user'"),
    ({"ZUORA_BASE_URL": "https://rest.zuora.com"}, "ZUORA_CLIENT_ID is required"),
    ({"ZUORA_BASE_URL": "rest.zuora.com", "ZUORA_CLIENT_ID": "x", "ZUORA_CLIENT_SECRET": "y"},
     "invalid setting ZUORA_BASE_URL"),
    ({"LLM_TIMEOUT_S": "0"}, "invalid setting LLM_TIMEOUT_S"),
    ({"READ_ONLY": "maybe"}, "invalid setting READ_ONLY"),
])
def test_invalid_settings_fail_with_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict,
                                                                 message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_secrets_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZUORA_BASE_URL", "https://rest.zuora.com")
    monkeypatch.setenv("ZUORA_CLIENT_SECRET", "s3cr3t-value")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "s3cr3t-value" not in str(err.value)
    monkeypatch.setenv("ZUORA_CLIENT_ID", "id")
    assert "s3cr3t-value" not in repr(load_settings())


def test_approvers_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPROVERS", "U01AAA, S02LEADS ,W03BBB")
    assert load_settings().approvers == ["U01AAA", "S02LEADS", "W03BBB"]


def test_open_db_settings_and_migrations(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sub" / "bot.db")
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert db.execute("pragma synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("pragma busy_timeout").fetchone()[0] == 5000
    assert applied_migrations(db) == [m.__name__ for m in MIGRATIONS]
    assert migrate(db) == []  # idempotent
    assert "kv" in db.table_names()


@pytest.mark.both_databases
def test_a_failing_migration_leaves_nothing_behind(database: str) -> None:
    db = open_db(database)

    def m999_broken(database: object) -> None:
        db.execute("create table half_done (x text)")
        raise RuntimeError("boom")

    MIGRATIONS.append(m999_broken)
    try:
        with pytest.raises(RuntimeError):
            migrate(db)
    finally:
        MIGRATIONS.remove(m999_broken)
    assert "half_done" not in db.table_names()
    assert "m999_broken" not in applied_migrations(db)


@pytest.mark.both_databases
def test_concurrent_migrations_apply_once(database: str) -> None:
    results: list[list[str]] = []
    dbs = [open_db(database, migrate=False) for _ in range(4)]
    threads = [threading.Thread(target=lambda d=d: results.append(migrate(d))) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = [name for r in results for name in r]  # each in its own transaction: several connections may share
    assert sorted(applied) == [m.__name__ for m in MIGRATIONS]  # the work, but every migration runs exactly once
    assert open_db(database, migrate=False).execute("select count(*) from _migrations").fetchone()[0] == len(MIGRATIONS)


@pytest.mark.both_databases
def test_cli_migrate(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database", database]) == 0
    names = ", ".join(m.__name__ for m in MIGRATIONS)
    assert f"applied {len(MIGRATIONS)} migrations: {names}" in capsys.readouterr().out
    assert main(["migrate", "--database", database]) == 0
    assert "applied 0 migrations" in capsys.readouterr().out


def test_cli_reports_bad_settings_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    monkeypatch.setenv("ZUORA_VERSION", "nope")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: invalid setting ZUORA_VERSION: 'nope' is not a Zuora minor version such as 2025-08-12 or 341.0"]


def test_cli_sandbox_serves_and_prints_credentials() -> None:
    with subprocess.Popen([sys.executable, "-m", "bot", "sandbox", "--port", "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            _check_sandbox_process(proc)
        finally:
            proc.terminate()


def _check_sandbox_process(proc: subprocess.Popen[str]) -> None:
    import httpx

    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    first = proc.stdout.readline() if proc.stdout else ""
    assert first.startswith("Zuora sandbox listening on http://127.0.0.1:")
    url = first.split()[-1]
    token = httpx.post(f"{url}/oauth/token", data={"grant_type": "client_credentials", "client_id": DEMO_CLIENT_ID,
                                                   "client_secret": DEMO_CLIENT_SECRET}, timeout=10)
    assert token.status_code == 200 and token.json()["expires_in"] == 3599


@pytest.mark.both_databases
def test_threads_sharing_the_connection_never_end_each_others_transactions(database: str) -> None:
    """A bare statement from one thread inside another thread's transaction used to end it ("cannot commit")."""
    from bot.storage import locked, transaction

    db = open_db(database)
    db.execute("create table t (k text primary key, v text)")
    errors: list[str] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                with transaction(db):
                    db.execute("insert into t values (?, 'a')", [f"{n}-{i}"])
                    db.execute("update t set v = 'b' where k = ?", [f"{n}-{i}"])
                with locked(db):
                    db.execute("update t set v = 'c' where k = ?", [f"{n}-{i}"])
        except Exception as exc:  # the assertion below reports it
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("select count(*), min(v), max(v) from t").fetchone() == (320, "c", "c")
