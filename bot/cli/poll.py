"""`poll --once`: one pass of the backstop that looks in Zuora for bill runs and declined payments callouts missed."""

from __future__ import annotations

import argparse

from bot.config import load_settings
from bot.money import count as counted


def poll(args: argparse.Namespace) -> int:
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
