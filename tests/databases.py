"""Test databases: a SQLite file per test, or a PostgreSQL schema per test in a database made for this run.

`TEST_DATABASE_URL` (set by `.ci/run`) names a PostgreSQL server database to connect to as an
administrator; the run creates its own database beside it (`bc_test_<pid>_<random>`), gives each
test a fresh schema there (the URL's `search_path`), and drops the database at the end. Without
`TEST_DATABASE_URL`, the PostgreSQL variants are not run and the run says so in one line.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["ENV", "PostgresForTests", "postgres_for_tests"]

ENV = "TEST_DATABASE_URL"


def _with_database(url: str, name: str, *, schema: str | None = None) -> str:
    parts = urlsplit(url)
    query = f"options=-csearch_path%3D{quote(schema)}" if schema else parts.query
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, query, ""))


class PostgresForTests:
    """The run's own database on the server `TEST_DATABASE_URL` names, made at first use and dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"bc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._made = False

    def _admin(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def _run(self) -> str:
        if not self._made:
            with self._admin() as conn:
                conn.execute(f'create database "{self.name}"')
            self._made = True
        return _with_database(self.admin_url, self.name)

    def schema(self) -> tuple[str, str]:
        """A fresh, empty schema: (its name, a URL whose connections use it)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._run(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'create schema "{name}"')
        return name, _with_database(self.admin_url, self.name, schema=name)

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self._run(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'drop schema if exists "{name}" cascade')

    def close(self) -> None:
        if self._made:
            with self._admin() as conn:
                conn.execute(f'drop database if exists "{self.name}" with (force)')
            self._made = False


_SERVER: PostgresForTests | None = None


def postgres_for_tests() -> PostgresForTests | None:
    """The run's PostgreSQL (None without `TEST_DATABASE_URL`)."""
    global _SERVER
    url = os.environ.get(ENV, "").strip()
    if not url:
        return None
    if _SERVER is None:
        _SERVER = PostgresForTests(url)
    return _SERVER
