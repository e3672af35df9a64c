"""Composition: build the Zuora client, the copilot, the database and the Slack app from `Settings`.

With no `ZUORA_BASE_URL`, the Zuora client talks to an in-process embedded sandbox (the demo
tenant), and "today" is the demo tenant's today so the stories stay true.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlite_utils

from bot.actions import Approvals, AuditLog, Policy, PolicyError
from bot.billruns.subscribers import Subscribers
from bot.config import ConfigError, Settings
from bot.copilot import Copilot, DemoCopilot, LiteLLMModel, Toolbox, ToolContext
from bot.copilot.history import History
from bot.storage import open_db
from bot.zuora import ZuoraClient

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.sandbox import ZuoraSandbox
    from bot.web import WSGIApp

__all__ = ["Services", "build", "dispatch", "poller", "require", "slack_app", "wsgi", "zuora_client"]


@dataclass
class Services:
    """The long-lived objects a process needs."""

    settings: Settings
    zuora: ZuoraClient
    copilot: Copilot
    today: Callable[[], date]
    db: sqlite_utils.Database
    history: History
    subscribers: Subscribers
    approvals: Approvals | None = None
    """None when no approvers are configured (proposals are then switched off)."""
    sandbox: ZuoraSandbox | None = None
    """The embedded sandbox, when no Zuora tenant is configured."""
    desk: Any = None
    """The Slack approval desk, once `slack_app()` has built it."""
    notifier: Any = None
    """Posts what Zuora's events lead to (cards, digests, DMs), once `slack_app()` has built it."""

    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="callout"))
    """Runs callout work after the HTTP response."""

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        if self.notifier is not None:
            self.notifier.close()
        self.zuora.close()
        self.db.close()


def _zuora(settings: Settings, sandbox: ZuoraSandbox | None) -> tuple[ZuoraClient, Callable[[], date],
                                                                      ZuoraSandbox | None]:
    if not settings.uses_sandbox:
        secret = settings.zuora_client_secret.get_secret_value() if settings.zuora_client_secret else ""
        client = ZuoraClient(settings.zuora_base_url, client_id=settings.zuora_client_id or "",
                             client_secret=secret, version=settings.zuora_version)
        return client, date.today, None
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox

    box = sandbox or ZuoraSandbox()
    client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         version=settings.zuora_version, transport=httpx.MockTransport(box.handle))
    return client, lambda: box.tenant.today, box


def zuora_client(settings: Settings) -> ZuoraClient:
    """A Zuora client for `settings` alone (the CLI's audit commands)."""
    return _zuora(settings, None)[0]


def build(settings: Settings, *, sandbox: ZuoraSandbox | None = None, database: bool = True) -> Services:
    """Wire the services for `settings` (Zuora and the LLM are not contacted until first use).

    `sandbox` replaces the embedded one (tests inject latency or faults into it); `database=False`
    keeps everything in memory (the `ask` command needs no file).
    """
    zuora, today, box = _zuora(settings, sandbox)
    model = None
    if settings.llm_model:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        model = LiteLLMModel(settings.llm_model, api_base=settings.llm_api_base, api_key=key)
    toolbox = Toolbox(ToolContext(zuora, today=today), ui_url=settings.zuora_ui_url)
    copilot = (DemoCopilot if settings.demo else Copilot)(toolbox, model=model, redact_pii=settings.redact_pii,
                                                          timeout_s=settings.llm_timeout_s)
    try:
        policy = Policy.parse(settings.approvers, settings.approval_tiers, settings.write_off_two_approvers_above)
    except PolicyError as exc:
        raise ConfigError(f"invalid setting {exc}") from None
    db = open_db(settings.database_path if database else ":memory:")
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    audit = AuditLog(db, key=key, checkpoints=settings.checkpoint_path() if database else None)
    approvals = Approvals(db, zuora, policy, read_only=settings.read_only,
                          ttl=timedelta(hours=settings.approval_ttl_hours), today=today, audit=audit,
                          put_grace=timedelta(seconds=settings.approval_put_grace_seconds)) \
        if settings.approvers else None
    return Services(settings=settings, zuora=zuora, copilot=copilot, today=today, db=db, history=History(db),
                    subscribers=Subscribers(db), approvals=approvals, sandbox=box)


def require(settings: Settings, *names: str) -> None:
    """Fail with one line naming the first of `names` (settings fields) that is not set."""
    for name in names:
        if not getattr(settings, name):
            raise ConfigError(f"{name.upper()} is not set; it is required here (see README, \"Slack set-up\")")


def slack_app(services: Services, *, socket_mode: bool = False, listener_executor: Executor | None = None,
              inbound: bool = True) -> App:
    """The Bolt app for `services` (checks the bot token with Slack's `auth.test`).

    `inbound=False` (e.g. `poll --once`) needs only the bot token: nothing is received from Slack.
    """
    from bot.slack import SlackDeps, create_app
    from bot.slack.approvals import Desk, Groups
    from bot.slack.billruns import subscription_section
    from bot.slack.blocks import waiting_sections
    from bot.slack.cards import home_section
    from bot.slack.middleware import EventLog
    from bot.slack.notifier import Notifier

    settings = services.settings
    require(settings, "slack_bot_token", *(() if not inbound else
                                           ("slack_app_token",) if socket_mode else ("slack_signing_secret",)))
    assert settings.slack_bot_token is not None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    mirror = None
    if services.approvals and settings.audit_mirror:
        from bot.actions.mirror import AuditMirror

        mirror = AuditMirror(services.zuora, services.approvals.audit, redact=settings.redact_pii)
    desk = Desk(services.approvals, Groups(services.approvals.policy.groups), mirror=mirror, demo=settings.demo) \
        if services.approvals else None
    services.desk = desk

    def home_sections(client: Any, user: str) -> list[Any]:
        approvals = ("Approvals", home_section(*desk.home(client, user))) if desk else waiting_sections()[0]
        return [approvals, ("Bill-run summaries", subscription_section(services.subscribers.is_subscribed(user)))]

    deps = SlackDeps(copilot=services.copilot, history=services.history, events=EventLog(services.db), desk=desk,
                     collections_channel=settings.collections_channel, subscribers=services.subscribers,
                     home_sections=home_sections)
    app = create_app(deps, token=settings.slack_bot_token.get_secret_value(), signing_secret=secret,
                     api_url=settings.slack_api_url, socket_mode=socket_mode or not inbound,
                     listener_executor=listener_executor)
    services.notifier = Notifier(desk, app.client, channel=settings.collections_channel)
    return app


def dispatch(services: Services) -> Callable[[Any], str]:
    """What a Zuora callout (or a poller find) leads to; returns a one-line summary for the inbox."""
    from bot.actions.dunning import DunningRules
    from bot.webhooks.declines import handle_declined

    settings = services.settings
    rules = DunningRules(max_attempts=settings.dunning_max_attempts,
                         escalate_after_days=settings.dunning_escalate_after_days)

    def run(callout: Any) -> str:
        if callout.event == "PaymentDeclined":
            if services.approvals is None:
                return "not proposed: approvals are off (set APPROVERS)"
            result = handle_declined(services.zuora, services.approvals, callout.object_id, today=services.today(),
                                     rules=rules)
            if result.proposal is None or services.notifier is None:
                return result.summary
            return f"{result.summary} {services.notifier.propose(result.proposal)}"
        return bill_run_completed(services, callout.object_id)

    return run


def poller(services: Services) -> Any:
    """The polling backstop over the same inbox and dispatch as the callouts."""
    from bot.webhooks.poller import Poller

    return Poller(services.zuora, services.db, dispatch(services))


def bill_run_completed(services: Services, key: str) -> str:
    """Summarise a completed bill run and DM each subscriber once; returns what happened."""
    from bot.billruns import find_bill_run, summarize
    from bot.slack.billruns import billrun_message
    from bot.zuora.errors import ZuoraNotFound

    try:
        run = find_bill_run(services.zuora, key)
    except ZuoraNotFound:
        return f"Zuora has no bill run {key}; nothing to do."
    if run.status != "Completed":
        return f"Bill run {run.bill_run_number} is {run.status}; a summary is sent once it is completed."
    subscribers = services.subscribers.all()
    if not subscribers or services.notifier is None:
        return f"Bill run {run.bill_run_number}: nobody subscribed."
    message = billrun_message(summarize(services.zuora, run))
    sent = 0
    for user in subscribers:
        if not services.subscribers.claim(run.bill_run_id, user):
            continue  # already told about this bill run
        if services.notifier.dm(user, message):
            sent += 1
        else:
            services.subscribers.release(run.bill_run_id, user)
    return f"Bill run {run.bill_run_number}: summary sent to {sent} subscriber(s)."


def wsgi(services: Services, app: App) -> WSGIApp:
    """The HTTP application: Slack events and the health check."""
    from bot.slack import wsgi_handler
    from bot.web import make_wsgi
    from bot.webhooks.http import callout_app
    from bot.webhooks.inbox import Inbox

    settings = services.settings
    handler = wsgi_handler(app, settings.slack_signing_secret.get_secret_value()
                           if settings.slack_signing_secret else None)
    callouts = callout_app(
        inbox=Inbox(services.db), dispatch=dispatch(services), executor=services.executor,
        username=settings.zuora_callout_username,
        password=settings.zuora_callout_password.get_secret_value() if settings.zuora_callout_password else None,
        secret=settings.zuora_callout_secret.get_secret_value() if settings.zuora_callout_secret else None)

    def health() -> dict[str, Any]:
        services.db.execute("select 1").fetchone()
        return {"ok": True, "database": "ok", "zuora": "sandbox" if services.sandbox else "configured",
                "llm": bool(services.settings.llm_model)}

    return make_wsgi(handler, health, callouts)
