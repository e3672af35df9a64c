"""The embedded Zuora sandbox: the demo tenant behind an emulator of Zuora's REST API.

In-process: `httpx.MockTransport(ZuoraSandbox().handle)`. Over HTTP: `python -m bot sandbox`.
This package never imports `bot.zuora`: it is built from Zuora's documented behaviour, not from our
client, so the two cannot share a bug.
"""

from bot.sandbox.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, LoggedRequest, ZuoraSandbox
from bot.sandbox.seed import DEMO_TODAY, build_demo_tenant
from bot.sandbox.stories import STORIES

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_TODAY", "SANDBOX_URL", "STORIES", "LoggedRequest",
           "ZuoraSandbox", "build_demo_tenant"]
