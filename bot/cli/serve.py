"""`serve` and `socket`: the Slack app as a long-running process (HTTP or Socket Mode).

Both check their configuration first (`_preflight`, `_preflight_zuora`: one line and exit 2 on a
problem, raised as `ConfigError` to `bot.__main__.main`), start the background housekeeping and stop
cleanly on SIGTERM/SIGINT within `SHUTDOWN_GRACE_SECONDS`.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.cli.signals import on_stop_signals
from bot.config import load_settings

log = logging.getLogger("bot")


def serve(args: argparse.Namespace) -> int:
    from bot.app import build, slack_app, wsgi
    from bot.web import Server

    settings = load_settings()
    _preflight(settings, "serve", port=(args.host, args.port or settings.port))
    services = build(settings)
    _preflight_zuora(services)
    grace = settings.shutdown_grace_seconds
    deadline: list[float] = []
    try:
        app = slack_app(services)
        _housekeeping(services, app, services.stop)
        server = Server(wsgi(services, app), host=args.host, port=args.port or settings.port)

        def stop(name: str) -> None:
            deadline.append(time.monotonic() + grace)
            log.info("%s: no new requests; in-flight work and the outbox get up to %.0f s "
                     "(SHUTDOWN_GRACE_SECONDS)", name, grace)
            server.stop(grace)

        on_stop_signals(stop)
        server.run()
    finally:
        left = max(0.0, deadline[0] - time.monotonic()) if deadline else grace
        services.close(left)
    log.info("stopped cleanly")
    return 0


def _preflight(settings: Any, mode: Any, *, port: tuple[str, int] | None = None) -> None:
    """Before anything is built: unknown variables warned about, missing settings all named, LLM usable,
    the port free and the database writable."""
    from bot import preflight

    preflight.warn_unknown()
    preflight.check_settings(settings, mode)
    preflight.check_llm(settings)
    if port is not None:
        preflight.check_port(*port)
    preflight.check_database(settings.database, name="DATABASE_URL" if settings.database_url else "DATABASE_PATH")
    preflight.demo_banner(settings)


def _preflight_zuora(services: Any) -> None:
    """A Zuora token, fetched now: wrong credentials or URL stop the process with one line."""
    from bot import preflight

    try:
        preflight.check_zuora(services.zuora, services.settings)
    except BaseException:
        services.close()
        raise


def _housekeeping(services: Any, app: Any, stop: threading.Event) -> None:
    """Background threads: approvals (recover, then expire) and the bill-run/payment poller.

    They run on every instance, but each pass only on the one holding the loop's lease (`bot.storage.leases`):
    several instances on one database sweep and poll once, not once each. A lease outlasts three waits
    between passes; an instance that dies keeps it until then, one that stops gives it up (here, when its
    thread ends).
    """
    from datetime import timedelta

    from bot.app import poller
    from bot.storage import is_postgres
    from bot.storage.leases import Leader, Leases

    leases = Leases(services.db)

    def leader(name: str, every: float) -> Leader:
        return Leader(leases, name, services.outbox.owner, timedelta(seconds=max(3 * every, 30.0)))

    def holding(lease: Leader, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            finally:
                lease.release()
        return run

    if services.desk is not None:
        sweep = services.settings.approval_sweep_seconds
        sweeper = leader("approvals-housekeeping", sweep)
        services.spawn("approvals-housekeeping", holding(sweeper, lambda: services.desk.housekeeping(
            app.client, stop, every=sweep, leader=sweeper, alone=not is_postgres(services.db))))
    every = services.settings.billrun_poll_seconds
    if every > 0:
        polling = leader("zuora-poller", every)
        services.spawn("zuora-poller", holding(polling, lambda: poller(services).run(stop, float(every),
                                                                                    leader=polling)))


def socket(args: argparse.Namespace) -> int:
    from bot.app import build, slack_app
    from bot.slack import socket_mode_handler

    settings = load_settings()
    _preflight(settings, "socket")
    assert settings.slack_app_token is not None
    services = build(settings)
    _preflight_zuora(services)
    stopping = threading.Event()
    try:
        app = slack_app(services, socket_mode=True)
        _housekeeping(services, app, services.stop)
        handler = socket_mode_handler(app, settings.slack_app_token.get_secret_value())
        on_stop_signals(lambda name: (log.info("%s: closing the Socket Mode connection", name), stopping.set()))
        handler.connect()
        log.info("billing-copilot connected over Socket Mode; Ctrl-C stops it")
        stopping.wait()
        handler.close()  # no new events; what was received finishes below
    finally:
        services.close()
    log.info("stopped cleanly")
    return 0
