"""The command line and the HTTP edge as an operator meets them: HEAD without a body, one-line errors for a port in
use and a database path that cannot work, `--database` paths that do not exist, and test servers that stop
cleanly."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import waitress

from bot.__main__ import main
from bot.config import ConfigError
from bot.preflight import check_database, check_port
from bot.web import make_wsgi
from tests.slack_stack import stop_server


def _ok(environ: dict, start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])  # type: ignore[operator]
    return [b"ok"]


def test_head_healthz_sends_headers_only_and_keeps_the_connection_usable() -> None:
    app = make_wsgi(_ok, lambda: {"ok": True, "database": "ok"})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, asyncore_loop_timeout=0.05)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)  # type: ignore[union-attr]
        conn.request("GET", "/healthz")
        get = conn.getresponse()
        body = get.read()
        conn.request("HEAD", "/healthz")
        head = conn.getresponse()
        assert head.status == 200 and head.read() == b""
        assert head.getheader("Content-Length") == get.getheader("Content-Length") == str(len(body))
        for _ in range(2):  # the same connection: nothing left over from the HEAD answer
            conn.request("GET", "/healthz")
            again = conn.getresponse()
            assert again.status == 200 and json.loads(again.read()) == {"ok": True, "database": "ok"}
        conn.close()
    finally:
        stop_server(server, thread)


def test_test_servers_stop_without_a_bad_file_descriptor(caplog: pytest.LogCaptureFixture) -> None:
    """Many start/request/stop cycles: no worker may touch the loop's trigger after it is closed."""
    caplog.set_level(logging.ERROR, logger="waitress")
    for _ in range(60):
        server = waitress.create_server(_ok, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)  # type: ignore[union-attr]
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"ok"
        conn.close()
        stop_server(server, thread)
        assert not thread.is_alive()
    # an EBADF in a worker is logged by waitress as "Exception when servicing …" (ERROR); a "Task queue depth"
    # warning only says a request came before a worker thread was idle
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as err:
            check_port("127.0.0.1", port)
    assert str(err.value) == f"cannot listen on 127.0.0.1:{port}: the port is in use by another process " \
                             "(set PORT or --port)"
    check_port("127.0.0.1", port)  # free again


def test_serve_on_a_port_in_use_stops_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "ZUORA_BASE_URL": "demo"}
        done = subprocess.run([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use by another process (set PORT or --port)")


def test_database_paths_that_cannot_work_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"^DATABASE_PATH=.*/file/bot.db: .*/file is a file, not a folder$"):
        check_database(blocker / "bot.db")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root may write anywhere
        with pytest.raises(ConfigError, match=r"cannot open the database for writing"):
            check_database(locked / "bot.db")
    with pytest.raises(ConfigError, match=r"is a folder, not a database file$"):
        check_database(tmp_path)
    with pytest.raises(ConfigError, match=r": no such database file$"):
        check_database(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()

    assert main(["migrate", "--database", str(blocker / "bot.db")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --database={blocker / 'bot.db'}: {blocker} is a file, not a folder"]


@pytest.mark.parametrize("action", ["verify", "export", "checkpoint"])
def test_audit_refuses_a_database_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       action: str) -> None:
    typo = tmp_path / "no-such-folder" / "typo.db"
    assert main(["audit", action, "--database", str(typo)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {typo}: no such database file"]
    assert not typo.parent.exists()


def test_serve_with_an_unwritable_database_path_stops_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "ZUORA_BASE_URL": "demo",
           "DATABASE_PATH": str(blocker / "bot.db")}
    done = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: DATABASE_PATH={blocker / 'bot.db'}: {blocker} is a file, not a folder")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def test_a_database_url_that_cannot_be_reached_is_one_line_without_its_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = _closed_port()
    url = f"postgresql://billing:s3cret-pw@127.0.0.1:{port}/billing"
    shown = f"postgresql://***@127.0.0.1:{port}/billing"
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "ZUORA_BASE_URL": "demo",
           "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "s3cret-pw" not in done.stderr + done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"error: DATABASE_URL={shown}: cannot connect (") and "Connection refused" in line

    assert main(["migrate", "--database", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --database={shown}: cannot connect (")
    assert main(["audit", "verify", "--database", url]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and shown in err[0] and "cannot connect" in err[0]
    assert "s3cret-pw" not in err[0] and not list(tmp_path.glob("*.db"))  # and no SQLite file made instead
