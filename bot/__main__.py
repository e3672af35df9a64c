"""`python -m bot …`: the command line. Each subcommand parses its arguments and hands off.

Subcommands: `serve` (the Slack app over HTTP on `$PORT`), `socket` (the Slack app over Socket
Mode), `ask` (answer a billing question in the terminal), `poll --once` (the callouts' backstop),
`audit export|verify` (the approvals audit log), `sandbox` (the embedded Zuora emulator as an HTTP
server) and `migrate` (bring the database schema up to date).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import date
from typing import Any

from bot.config import ConfigError, load_settings

__all__ = ["main"]


def _ask(args: argparse.Namespace) -> int:
    from bot.app import build

    question = " ".join(args.question)
    services = build(load_settings(), database=False)
    try:
        answer = services.copilot.ask(question)
    finally:
        services.close()
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    print(answer.text)
    if answer.facts.get("proposal"):
        print("_note: approval cards are posted by the Slack app (`python -m bot serve`); from the terminal "
              "nothing is proposed or changed._")
    for note in answer.notes:
        print(f"_note: {note}_")
    if answer.citations:
        print("\nSources: " + ", ".join(f"{c.label} <{c.url}>" if c.url else c.label for c in answer.citations))
    if answer.follow_ups:
        print("Try next: " + " | ".join(answer.follow_ups))
    return 1 if answer.intent == "error" else 0


def _serve(args: argparse.Namespace) -> int:
    from bot.app import build, require, slack_app, wsgi
    from bot.web import serve

    settings = load_settings()
    require(settings, "slack_bot_token", "slack_signing_secret")
    services = build(settings)
    stop = threading.Event()
    def drain(signum: int, frame: Any) -> None:
        logging.getLogger(__name__).info("SIGTERM: no new requests; finishing the answers already taken")
        raise SystemExit(0)

    try:
        app = slack_app(services)
        _housekeeping(services, app, stop)
        signal.signal(signal.SIGTERM, drain)  # services.close() below finishes queued Slack work
        serve(wsgi(services, app), host=args.host, port=args.port or settings.port)
    finally:
        stop.set()
        services.close()
    return 0


def _housekeeping(services: Any, app: Any, stop: threading.Event) -> None:
    """Background threads: approvals (recover, then expire) and the bill-run/payment poller."""
    from bot.app import poller

    if services.desk is not None:
        threading.Thread(target=services.desk.housekeeping, args=(app.client, stop), name="approvals-housekeeping",
                         daemon=True).start()
    every = services.settings.billrun_poll_seconds
    if every > 0:
        threading.Thread(target=poller(services).run, args=(stop, float(every)), name="zuora-poller",
                         daemon=True).start()


def _poll(args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.app import build, poller, require, slack_app

    settings = load_settings()
    require(settings, "slack_bot_token")
    services = build(settings)
    try:
        slack_app(services, inbound=False)
        since = datetime.combine(args.since, datetime.min.time()) if args.since else None
        lines = poller(services).once(since=since)
    finally:
        services.close()  # posts what the pass queued
    for line in lines:
        print(line)
    print(f"poll: {len(lines)} new event(s) handled")
    return 0


def _socket(args: argparse.Namespace) -> int:
    from bot.app import build, require, slack_app
    from bot.slack import socket_mode_handler

    settings = load_settings()
    require(settings, "slack_bot_token", "slack_app_token")
    assert settings.slack_app_token is not None
    services = build(settings)
    stop = threading.Event()
    try:
        app = slack_app(services, socket_mode=True)
        _housekeeping(services, app, stop)
        handler = socket_mode_handler(app, settings.slack_app_token.get_secret_value())
        logging.getLogger(__name__).info("billing-copilot connected over Socket Mode; Ctrl-C stops it")
        handler.start()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        services.close()
    return 0


def _audit(args: argparse.Namespace) -> int:
    from bot.actions.audit import AuditLog
    from bot.storage import open_db

    path = args.database or load_settings().database_path
    audit = AuditLog(open_db(path))
    if args.audit_command == "verify":
        problems = audit.verify()
        count = sum(1 for _ in audit.rows())
        if problems:
            print(f"{path}: the audit log is NOT intact ({len(problems)} problem(s) in {count} rows):")
            for problem in problems:
                print(f"  {problem}")
            return 1
        print(f"{path}: the audit log is intact ({count} rows, hash chain verified)")
        return 0
    sys.stdout.write(audit.export(args.format, since=args.since.isoformat() if args.since else None))
    return 0


def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZuoraSandbox
    from bot.sandbox.server import SandboxServer

    sandbox = ZuoraSandbox(today=args.today, default_version=args.default_version)
    if args.latency:
        sandbox.inject("/*", latency=args.latency)
    server = SandboxServer(sandbox, args.host, args.port)
    tenant = sandbox.tenant
    print(f"Zuora sandbox listening on {server.url}", flush=True)
    print(f"  ZUORA_BASE_URL={server.url}")
    print(f"  ZUORA_CLIENT_ID={DEMO_CLIENT_ID}")
    print(f"  ZUORA_CLIENT_SECRET={DEMO_CLIENT_SECRET}")
    print(f"  demo tenant: {len(tenant.accounts)} accounts, {len(tenant.invoices)} invoices, "
          f"{len(tenant.bill_runs)} bill runs, today is {tenant.today}")
    print(f"  try: curl -s -X POST {server.url}/oauth/token -d grant_type=client_credentials "
          f"-d client_id={DEMO_CLIENT_ID} -d client_secret={DEMO_CLIENT_SECRET}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.storage import applied_migrations, migrate, open_db

    path = args.database or load_settings().database_path
    db = open_db(path, migrate=False)
    done = migrate(db)
    print(f"{path}: applied {len(done)} migration(s){': ' + ', '.join(done) if done else ''}; "
          f"schema at {applied_migrations(db)[-1]}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="billing-copilot: Zuora billing in Slack")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the Slack app over HTTP (POST /slack/events, GET /healthz)")
    serve.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT, else 3000)")
    serve.set_defaults(run=_serve)
    socket = sub.add_parser("socket", help="run the Slack app over Socket Mode (development: no public URL)")
    socket.set_defaults(run=_socket)
    ask = sub.add_parser("ask", help="answer a billing question in the terminal (embedded sandbox by default)")
    ask.add_argument("question", nargs="*", help='e.g. "why is INV-42 higher"')
    ask.add_argument("--json", action="store_true", help="print the whole answer (facts, citations) as JSON")
    ask.set_defaults(run=_ask)
    sandbox = sub.add_parser("sandbox", help="run the embedded Zuora sandbox as an HTTP server")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8089, help="0 picks a free port (default 8089)")
    sandbox.add_argument("--today", type=date.fromisoformat, default=None,
                         help="the demo tenant's 'today' (yyyy-mm-dd); dates in the tenant follow it")
    sandbox.add_argument("--default-version", default="186.0",
                         help="Zuora-Version assumed when a request sends none (default 186.0, as old tenants)")
    sandbox.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                         help="answer every request this much later (as a slow Zuora would; default 0)")
    sandbox.set_defaults(run=_sandbox)
    poll = sub.add_parser("poll", help="look in Zuora for bill runs and declined payments that callouts missed")
    poll.add_argument("--once", action="store_true", required=True, help="one pass, then exit")
    poll.add_argument("--since", type=date.fromisoformat, help="look back to this date instead of the stored mark")
    poll.set_defaults(run=_poll)
    audit = sub.add_parser("audit", help="export or verify the approvals audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = audit_sub.add_parser("export", help="print the audit rows as CSV or JSON Lines")
    export.add_argument("--since", type=date.fromisoformat, help="only rows from this date (yyyy-mm-dd, UTC)")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    audit_sub.add_parser("verify", help="check the hash chain; exit 1 if a row was changed or removed")
    for p in (export, audit_sub.choices["verify"]):
        p.add_argument("--database", help="database file (default: DATABASE_PATH)")
    audit.set_defaults(run=_audit)
    migrate = sub.add_parser("migrate", help="create or upgrade the SQLite database")
    migrate.add_argument("--database", help="database file (default: DATABASE_PATH)")
    migrate.set_defaults(run=_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    quiet = args.command == "ask"  # the terminal shows the answer; problems still print as warnings
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if getattr(args, "today", "absent") is None:
        from bot.sandbox import DEMO_TODAY

        args.today = DEMO_TODAY
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
