"""`python -m bot …`: the command line. Each subcommand parses its arguments and hands off.

Subcommands: `serve` (the Slack app over HTTP on `$PORT`), `socket` (the Slack app over Socket
Mode; both stop cleanly on SIGTERM/SIGINT within `SHUTDOWN_GRACE_SECONDS`), `ask` (answer a
billing question in the terminal), `poll --once` (the callouts' backstop), `audit export|verify`
(the approvals audit log), `sandbox` (the embedded Zuora emulator as an HTTP server), `migrate`
(bring the database schema up to date) and `demo` (a local page standing in for Slack, driving the
real app; see `bot.demo`). The commands themselves live in `bot.cli`, one module per subcommand; this
module parses the command line, sets up logging and turns `ConfigError` into one line (exit 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date

from bot.cli.ask import ask as _ask
from bot.cli.audit import audit as _audit
from bot.cli.demo import demo as _demo
from bot.cli.migrate import migrate as _migrate
from bot.cli.poll import poll as _poll
from bot.cli.sandbox import sandbox as _sandbox
from bot.cli.serve import serve as _serve
from bot.cli.serve import socket as _socket
from bot.config import ConfigError

__all__ = ["main"]


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
