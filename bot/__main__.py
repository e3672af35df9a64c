"""`python -m bot …`: the command line. Each subcommand parses its arguments and hands off.

Subcommands: `serve` (the Slack app over HTTP on `$PORT`), `socket` (the Slack app over Socket
Mode; both stop cleanly on SIGTERM/SIGINT within `SHUTDOWN_GRACE_SECONDS`), `ask` (answer a
billing question in the terminal), `poll --once` (the callouts' backstop), `audit export|verify`
(the approvals audit log), `sandbox` (the embedded Zuora emulator as an HTTP server), `migrate`
(bring the database schema up to date) and `demo` (a local page standing in for Slack, driving the
real app; see `bot.demo`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from bot.config import ConfigError, load_settings
from bot.money import count as counted

__all__ = ["main"]

log = logging.getLogger("bot")


def _ask(args: argparse.Namespace) -> int:
    from bot import preflight
    from bot.app import build

    question = " ".join(args.question)
    settings = load_settings()
    preflight.warn_unknown()
    preflight.check_llm(settings)  # LLM_MODEL without the llm extra or a key: one line, not a traceback
    services = build(settings, database=False)
    try:
        answer = services.copilot.ask(question)
    finally:
        services.close()
    if not _write_answer_files(args, answer):
        return 2
    code = 1 if answer.intent == "error" else 0  # the same for every --format
    if args.format == "json":
        print(answer.model_dump_json(indent=2))
        return code
    lines = [answer.text]
    if answer.facts.get("proposal"):
        lines.append("_note: approval cards are posted by the Slack app (`python -m bot serve`); from the terminal "
                     "nothing is proposed or changed._")
    lines += [f"_note: {note}_" for note in answer.notes]
    if answer.citations:
        lines.append("\nSources: " + ", ".join(f"<{c.url}|{c.label}>" if c.url else c.label
                                               for c in answer.citations))
    if answer.follow_ups:
        lines.append("Try next: " + " | ".join(answer.follow_ups))
    text = "\n".join(lines)
    if args.format == "text":
        from bot.terminal import plain

        text = plain(text)
    print(text)
    return code


def _write_answer_files(args: argparse.Namespace, answer: Any) -> bool:
    """`ask --csv FILE --chart FILE`: write the answer's full table and chart; False (said why) if impossible."""
    from bot.copilot.portfolio import answer_chart, answer_csv

    wanted = [(kind, path) for kind, path in (("csv", args.csv), ("chart", args.chart)) if path]
    for kind, path in wanted:
        made = answer_csv(answer.facts) if kind == "csv" else answer_chart(answer.facts)
        if made is None:
            print(f"_note: this answer has no {'table' if kind == 'csv' else 'chart'}; {path} was not written._",
                  file=sys.stderr)
            continue
        data = made[1].encode() if isinstance(made[1], str) else made[1]
        try:
            with open(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            print(f"error: cannot write --{kind} {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True


def _on_stop_signals(stop: Callable[[str], None]) -> None:
    """SIGTERM and SIGINT call `stop(name)` once (in a thread of its own); a second one exits at once."""
    seen: list[int] = []

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if seen:
            logging.getLogger(__name__).warning("%s again: exiting now", name)
            os._exit(1)
        seen.append(signum)
        threading.Thread(target=stop, args=(name,), name="shutdown", daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # a parent may have blocked them


def _serve(args: argparse.Namespace) -> int:
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

        _on_stop_signals(stop)
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
    print(f"poll: {counted(len(lines), 'new event')} handled")
    return 0


def _socket(args: argparse.Namespace) -> int:
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
        _on_stop_signals(lambda name: (log.info("%s: closing the Socket Mode connection", name), stopping.set()))
        handler.connect()
        log.info("billing-copilot connected over Socket Mode; Ctrl-C stops it")
        stopping.wait()
        handler.close()  # no new events; what was received finishes below
    finally:
        services.close()
    log.info("stopped cleanly")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.actions.audit import AuditLog
    from bot.config import redact_url
    from bot.storage import StorageUnavailable, database_errors, is_url, open_db
    from bot.zuora.errors import ZuoraError

    settings = load_settings()
    target = args.database or settings.database
    url = is_url(target)
    path = redact_url(str(target)) if url else Path(target)
    if not url and not Path(target).exists():
        print(f"error: {path}: no such database file", file=sys.stderr)
        return 1
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    if settings.audit_mirror and settings.uses_sandbox and args.audit_command in ("verify", "mirror"):
        print("error: AUDIT_MIRROR is set but ZUORA_BASE_URL is not: there is no Zuora tenant to compare with",
              file=sys.stderr)
        return 1
    try:
        db = open_db(target, migrate=False)
        audit = AuditLog(db, key=key, checkpoints=settings.checkpoint_path(None if url else Path(target)))
        if args.audit_command == "verify":
            from bot.actions.approvals import unaudited
            from bot.actions.store import Store

            problems = audit.verify()
            if "proposals" in db.table_names():
                problems += unaudited(Store(db), audit)
            mirror = _mirror_for(settings, audit) if settings.audit_mirror else None
            if mirror is not None:
                problems += mirror.compare()
            count = audit.head()[0]
        elif args.audit_command == "mirror":
            if not settings.audit_mirror:
                print("error: AUDIT_MIRROR is not set", file=sys.stderr)
                return 1
            sent = _mirror_for(settings, audit).flush()
            print(f"{path}: {counted(sent, 'audit row')} mirrored to Zuora's AI_Audit_Log")
            return 0
        elif args.audit_command == "checkpoint":
            point = audit.checkpoint()
            print(f"{path}: " + (f"checkpoint written ({point.count} rows, head {point.head[:12]}…)" if point else
                                 "nothing to do (AUDIT_KEY unset, or no new rows since the last checkpoint)"))
            return 0
        else:
            sys.stdout.write(audit.export(args.format, since=args.since.isoformat() if args.since else None))
            return 0
    except StorageUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except database_errors() as exc:
        print(f"error: {path}: the audit log cannot be read ({str(exc).splitlines()[0] if str(exc) else exc})",
              file=sys.stderr)
        return 1
    except ZuoraError as exc:
        print(f"error: Zuora's AI_Audit_Log could not be read or written ({type(exc).__name__})", file=sys.stderr)
        return 1
    if problems:
        print(f"{path}: the audit log is NOT intact: " + "; ".join(problems)[:2000])
        return 1
    anchors = [a for a, on in (("signed checkpoints", bool(key)), ("Zuora mirror", settings.audit_mirror)) if on]
    print(f"{path}: the audit log is intact ({count} rows, hash chain verified"
          f"{', checked against ' + ' and '.join(anchors) if anchors else '; no anchor outside the database'})")
    return 0


def _mirror_for(settings: Any, audit: Any) -> Any:
    from bot.actions.mirror import AuditMirror
    from bot.app import zuora_client

    return AuditMirror(zuora_client(settings), audit, redact=settings.redact_pii)


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


def _demo(args: argparse.Namespace) -> int:
    from bot.demo.server import Demo

    logging.getLogger().setLevel(logging.WARNING)  # the page is the interface; problems still print
    started = time.monotonic()
    try:
        demo = Demo(host=args.host, port=args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); try --port", file=sys.stderr)
        return 1
    stopping = threading.Event()
    _on_stop_signals(lambda name: stopping.set())
    demo.start()
    print(f"billing-copilot demo: open {demo.url}  (ready in {time.monotonic() - started:.1f} s; Ctrl-C stops it)",
          flush=True)
    print("  the real app on the embedded Zuora sandbox, a throwaway database and a local stand-in for Slack"
          + ("" if demo.services.settings.llm_model else "; no LLM (set LLM_MODEL to use one)"), flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"  warning: listening on {args.host}: anyone who reaches it can act as any demo user", flush=True)
    try:
        stopping.wait()
    finally:
        demo.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.config import redact_url
    from bot.preflight import check_database
    from bot.storage import applied_migrations, is_url, migrate, open_db

    settings = load_settings()
    path = args.database or settings.database
    check_database(path, name="--database" if args.database else
                   "DATABASE_URL" if settings.database_url else "DATABASE_PATH")
    db = open_db(path, migrate=False)
    done = migrate(db)
    head = applied_migrations(db)[-1]
    db.close()
    where = redact_url(str(path)) if is_url(path) else path
    print(f"{where}: applied {counted(len(done), 'migration')}{': ' + ', '.join(done) if done else ''}; "
          f"schema at {head}")
    return 0


def _program_name() -> str:
    """`billing-copilot` when run as the installed script, else `python -m bot`."""
    import os

    name = os.path.basename(sys.argv[0] if sys.argv else "")
    return name if name and name not in ("__main__.py", "-c") and not name.endswith(".py") else "python -m bot"


def _version() -> str:
    from bot import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_program_name(), description="billing-copilot: Zuora billing in Slack",
                                     epilog="exit codes: 0 done; 1 the command ran and the answer or check is an "
                                            "error; 2 bad command line or configuration")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the Slack app over HTTP (POST /slack/events, GET /healthz)")
    serve.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default $PORT, else 3000)")
    serve.set_defaults(run=_serve)
    socket = sub.add_parser("socket", help="run the Slack app over Socket Mode (development: no public URL)")
    socket.set_defaults(run=_socket)
    ask = sub.add_parser("ask", help="answer a billing question in the terminal (embedded sandbox by default)")
    ask.add_argument("question", nargs="*", help='e.g. "why is INV-42 higher"')
    ask.add_argument("--format", choices=("text", "mrkdwn", "json"), default="text",
                     help="text (default: plain terminal text), mrkdwn (as Slack shows it), json (the whole answer: "
                          "facts, citations)")
    ask.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    ask.add_argument("--csv", metavar="FILE", help="write a portfolio answer's full table as CSV")
    ask.add_argument("--chart", metavar="FILE", help="write a portfolio answer's chart as PNG")
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
    audit_sub.add_parser("verify", help="check the chain against its anchors; exit 1 (one line) if anything is wrong")
    audit_sub.add_parser("checkpoint", help="write a signed checkpoint (needs AUDIT_KEY)")
    audit_sub.add_parser("mirror", help="send the rows not yet mirrored to Zuora's AI_Audit_Log (AUDIT_MIRROR)")
    for p in (export, *(audit_sub.choices[n] for n in ("verify", "checkpoint", "mirror"))):
        p.add_argument("--database", help="database file or postgresql:// URL (default: DATABASE_URL, else "
                                          "DATABASE_PATH)")
    audit.set_defaults(run=_audit)
    demo = sub.add_parser("demo", help="a local page standing in for Slack, driving the real app (no workspace needed)")
    demo.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=3000, help="port (default 3000; 0 picks a free one)")
    demo.set_defaults(run=_demo)
    migrate = sub.add_parser("migrate", help="create or upgrade the database (several instances may run it at once)")
    migrate.add_argument("--database", help="database file or postgresql:// URL (default: DATABASE_URL, "
                                            "else DATABASE_PATH)")
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
    except BrokenPipeError:  # `… | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
