"""The fake Slack Web API now lives in the product (`bot.demo.slack_api`, the demo's Slack); tests import it here."""

from bot.demo.slack_api import BOT_ID, BOT_USER, TEAM, FakeSlack, Recorded

__all__ = ["BOT_ID", "BOT_USER", "TEAM", "FakeSlack", "Recorded"]
