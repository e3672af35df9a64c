"""Composition: build the Zuora client, the toolbox and the copilot from `Settings`.

With no `ZUORA_BASE_URL`, the Zuora client talks to an in-process embedded sandbox (the demo
tenant), and "today" is the demo tenant's today so the stories stay true.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import httpx

from bot.config import Settings
from bot.copilot import Copilot, LiteLLMModel, Toolbox, ToolContext
from bot.zuora import ZuoraClient

__all__ = ["Services", "build"]


@dataclass
class Services:
    """The long-lived objects a process needs."""

    settings: Settings
    zuora: ZuoraClient
    copilot: Copilot
    today: Callable[[], date]

    def close(self) -> None:
        self.zuora.close()


def _zuora(settings: Settings) -> tuple[ZuoraClient, Callable[[], date]]:
    if settings.zuora_base_url:
        secret = settings.zuora_client_secret.get_secret_value() if settings.zuora_client_secret else ""
        client = ZuoraClient(settings.zuora_base_url, client_id=settings.zuora_client_id or "",
                             client_secret=secret, version=settings.zuora_version)
        return client, date.today
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox

    sandbox = ZuoraSandbox()
    client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         version=settings.zuora_version, transport=httpx.MockTransport(sandbox.handle))
    return client, lambda: sandbox.tenant.today


def build(settings: Settings) -> Services:
    """Wire the services for `settings` (nothing is contacted until first use)."""
    zuora, today = _zuora(settings)
    model = None
    if settings.llm_model:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        model = LiteLLMModel(settings.llm_model, api_base=settings.llm_api_base, api_key=key)
    toolbox = Toolbox(ToolContext(zuora, today=today), ui_url=settings.zuora_ui_url)
    copilot = Copilot(toolbox, model=model, redact_pii=settings.redact_pii, timeout_s=settings.llm_timeout_s)
    return Services(settings=settings, zuora=zuora, copilot=copilot, today=today)
