"""`demo`: a local page standing in for Slack, driving the real app (see `bot.demo`)."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from bot.cli.signals import on_stop_signals


def demo(args: argparse.Namespace) -> int:
    from bot.demo.server import Demo

    logging.getLogger().setLevel(logging.WARNING)  # the page is the interface; problems still print
    started = time.monotonic()
    try:
        demo = Demo(host=args.host, port=args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); try --port", file=sys.stderr)
        return 1
    stopping = threading.Event()
    on_stop_signals(lambda name: stopping.set())
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
