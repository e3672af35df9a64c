"""Composition: build the Zuora client, the copilot, the database and the Slack app from `Settings`.

With no `ZUORA_BASE_URL`, the Zuora client talks to an in-process embedded sandbox (the demo
tenant), and "today" is the demo tenant's today so the stories stay true.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import sqlite_utils

from bot.actions import Approvals, AuditLog, Policy, PolicyError
from bot.actions.dunning import DunningRules
from bot.actions.follow import FOLLOW_TOPIC, Follower
from bot.actions.kinds.subscription_change import ChangeSettings
from bot.actions.outbox import Outbox, Worker
from bot.billruns.subscribers import Subscribers
from bot.config import ConfigError, Settings
from bot.copilot import Copilot, DemoCopilot, LiteLLMModel, Toolbox, ToolContext
from bot.copilot.feedback import Feedback
from bot.copilot.history import History
from bot.copilot.notes import NoteSettings
from bot.storage import is_postgres, open_db
from bot.webhooks.billrun_notes import NotePlan
from bot.webhooks.events import DM_TOPIC, NOTE_TOPIC, PROPOSE_TOPIC, Events
from bot.webhooks.inbox import CALLOUT_TOPIC
from bot.zuora import ZuoraClient

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.sandbox import ZuoraSandbox
    from bot.web import WSGIApp

log = logging.getLogger(__name__)

__all__ = ["Services", "build", "poller", "require", "slack_app", "wsgi", "zuora_client"]


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
    outbox: Outbox
    events: Events
    """What Zuora's events lead to (the outbox's `callout` rows)."""
    follower: Follower | None = None
    """Follows bill runs that approved proposals started (the outbox's `follow` rows); None without approvals."""
    approvals: Approvals | None = None
    """None when no approvers are configured (proposals are then switched off)."""
    sandbox: ZuoraSandbox | None = None
    """The embedded sandbox, when no Zuora tenant is configured."""
    desk: Any = None
    """The Slack approval desk, once `slack_app()` has built it."""
    notifier: Any = None
    """Posts what Zuora's events lead to (cards, digests, DMs), once `slack_app()` has built it."""
    listeners: ThreadPoolExecutor | None = None
    """Runs the Slack listeners (clicks execute here), when `slack_app()` made the pool."""
    worker: Worker | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    """Set at shutdown: background threads end."""
    threads: list[threading.Thread] = field(default_factory=list)

    later: Any = None
    """The Slack work pools (`bot.slack.workpool.Later`), once `slack_app()` has built them."""

    def start(self) -> None:
        """Start draining the outbox: callouts' work on a pool, posts and DMs through the notifier."""
        if self.worker is not None:
            return
        self.outbox.release_dead()
        # The previous process's card backstops: due now. Not with several instances: a live one's desk may be
        # updating that card right now (its row comes due after its delay if the desk does not get there).
        self.outbox.wake_waiting(*(() if is_postgres(self.db) else ("card",)))
        handlers = {CALLOUT_TOPIC: self.events.handle, NOTE_TOPIC: self.events.apply_note}
        if self.follower is not None:
            handlers[FOLLOW_TOPIC] = self.follower.handle
        self.worker = Worker(self.outbox, handlers, threads=8, name="callout")
        self.spawn("outbox-callouts", self.worker.run, self.stop)
        if self.notifier is not None:
            self.spawn("outbox-notifier", self.notifier.run, self.stop)

    def spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        """A background thread that `close()` waits for (within the grace period); it must end on `stop`."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def close(self, grace: float | None = None) -> None:
        """Stop background work, give in-flight work and the outbox up to `grace` seconds
        (default `SHUTDOWN_GRACE_SECONDS`), then close connections. What is left stays in the outbox."""
        budget = self.settings.shutdown_grace_seconds if grace is None else grace
        deadline = time.monotonic() + budget
        self.stop.set()
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self.listeners is not None and not _within(self.listeners.shutdown, deadline):
            log.warning("shutdown: Slack listeners still running after %.0f s", budget)
        if self.later is not None and not self.later.close(max(0.0, deadline - time.monotonic())):
            log.warning("shutdown: Slack answers still running after %.0f s", budget)
        if self.worker is not None and not self.worker.close(max(0.0, deadline - time.monotonic())):
            log.warning("shutdown: callout work still running after %.0f s; it is taken again at the next start",
                        budget)
        if self.notifier is not None and not self.notifier.flush(self.notifier.clock() + max(
                0.0, deadline - time.monotonic())):
            log.warning("shutdown: %d message(s) left in the outbox for the next start",
                        self.outbox.due([PROPOSE_TOPIC, DM_TOPIC, "card"]))
        self.outbox.release_mine()
        self.zuora.close()
        self.db.close()


def _within(call: Callable[[], object], deadline: float) -> bool:
    """Run a blocking `call` for at most until `deadline`; True if it returned."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    return not thread.is_alive()


def _zuora(settings: Settings, sandbox: ZuoraSandbox | None) -> tuple[ZuoraClient, Callable[[], date],
                                                                      ZuoraSandbox | None]:
    if not settings.uses_sandbox:
        secret = settings.zuora_client_secret.get_secret_value() if settings.zuora_client_secret else ""
        client = ZuoraClient(settings.zuora_base_url, client_id=settings.zuora_client_id or "",
                             client_secret=secret, version=settings.zuora_version,
                             max_concurrency=settings.zuora_max_concurrency)
        return client, date.today, None
    from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SANDBOX_URL, ZuoraSandbox

    box = sandbox or ZuoraSandbox()
    client = ZuoraClient(SANDBOX_URL, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         version=settings.zuora_version, transport=httpx.MockTransport(box.handle),
                         max_concurrency=settings.zuora_max_concurrency)
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
    toolbox = Toolbox(ToolContext(zuora, today=today, changes=ChangeSettings.of(settings),
                                  data_query=settings.zuora_data_query,
                                  notes=NoteSettings.of(settings, model)),
                      ui_url=settings.zuora_ui_url)
    copilot = (DemoCopilot if settings.demo else Copilot)(toolbox, model=model, redact_pii=settings.redact_pii,
                                                          timeout_s=settings.llm_timeout_s)
    try:
        policy = Policy.parse(settings.approvers, settings.approval_tiers, settings.write_off_two_approvers_above)
    except PolicyError as exc:
        raise ConfigError(f"invalid setting {exc}") from None
    db = open_db(settings.database if database else ":memory:", pool_size=settings.database_pool_size)
    key = settings.audit_key.get_secret_value() if settings.audit_key else None
    audit = AuditLog(db, key=key, checkpoints=settings.checkpoint_path() if database else None)
    approvals = Approvals(db, zuora, policy, read_only=settings.read_only,
                          ttl=timedelta(hours=settings.approval_ttl_hours), today=today, audit=audit,
                          put_grace=timedelta(seconds=settings.approval_put_grace_seconds)) \
        if settings.approvers else None
    outbox = Outbox(db, lease=timedelta(seconds=settings.outbox_lease_seconds))
    subscribers = Subscribers(db)
    rules = DunningRules(max_attempts=settings.dunning_max_attempts,
                         escalate_after_days=settings.dunning_escalate_after_days)
    events = Events(zuora=zuora, db=db, outbox=outbox, approvals=approvals, channel=settings.collections_channel,
                    subscribers=subscribers, today=today, rules=rules)
    if settings.billrun_notes:
        events.notes = NotePlan.of(settings, NoteSettings.of(settings, model))
    follower = _follower(settings, approvals, outbox, events)
    return Services(settings=settings, zuora=zuora, copilot=copilot, today=today, db=db, history=History(db),
                    subscribers=subscribers, outbox=outbox, events=events, approvals=approvals, sandbox=box,
                    follower=follower)


def _follower(settings: Settings, approvals: Approvals | None, outbox: Outbox, events: Events) -> Follower | None:
    """Bill runs started by approved proposals are followed to their invoices; a completion callout hurries the
    follow-up, and a completed run is summarised for bill-run subscribers like any other."""
    if approvals is None:
        return None
    from bot.webhooks.callouts import Callout

    def completed(bill_run_id: str) -> None:
        events.take(Callout(event="BillRunCompletion", object_id=bill_run_id, fields={}, notification_id=None),
                    source="follow")

    follower = Follower(approvals, outbox, callouts=bool(settings.zuora_callout_username or
                                                         settings.zuora_callout_secret),
                        max_checks=settings.billrun_follow_checks, completed=completed)
    approvals.on_change = follower.on_change
    events.on_bill_run = follower.hurry
    return follower


def _card_backstop(outbox: Outbox, follower: Follower | None = None) -> Callable[[Any, str, str], None]:
    """Each transition (inside its transaction) records the card update it needs, due in 30 s: the desk
    does it at once and marks it done; after a crash in between, the notifier does it. A success that
    started a bill run also records its follow-up (`follower`)."""
    from bot.slack.approvals import CARD_TOPIC

    def record(proposal: Any, action: str, status: str) -> None:
        if follower is not None:
            follower.on_change(proposal, action, status)
        if action == "proposed":
            return  # the card is posted by whoever proposed it
        announce = status in ("succeeded", "failed")
        kind = "announce" if announce else "update"
        outbox.add(CARD_TOPIC, f"{CARD_TOPIC}:{proposal.id}:{kind}:{uuid.uuid4().hex}",
                   {"id": proposal.id, "status": status, "announce": announce}, lane=proposal.channel,
                   delay=timedelta(seconds=30))

    return record


def require(settings: Settings, *names: str) -> None:
    """Fail with one line naming the first of `names` (settings fields) that is not set."""
    for name in names:
        if not getattr(settings, name):
            raise ConfigError(f"{name.upper()} is not set; it is required here (see README, \"Slack set-up\")")


def slack_app(services: Services, *, socket_mode: bool = False, listener_executor: Executor | None = None,
              inbound: bool = True, start: bool = True) -> App:
    """The Bolt app for `services` (checks the bot token with Slack's `auth.test`), with the outbox drained
    in the background (`start=False`: not yet; call `services.start()`).

    `inbound=False` (e.g. `poll --once`) needs only the bot token: nothing is received from Slack.
    """
    from bot.slack import Later, SlackDeps, WorkPool, create_app
    from bot.slack.approvals import Desk, Groups
    from bot.slack.billruns import billrun_message, subscription_section
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
    desk = Desk(services.approvals, Groups(services.approvals.policy.groups), services.outbox, mirror=mirror,
                demo=settings.demo) \
        if services.approvals else None
    if services.approvals is not None:
        services.approvals.on_change = _card_backstop(services.outbox, services.follower)
    services.desk = desk

    def home_sections(client: Any, user: str) -> list[Any]:
        approvals = ("Approvals", home_section(*desk.home(client, user))) if desk else waiting_sections()[0]
        return [approvals, ("Bill-run summaries", subscription_section(services.subscribers.is_subscribed(user)))]

    deps = SlackDeps(copilot=services.copilot, history=services.history, events=EventLog(services.db), desk=desk,
                     collections_channel=settings.collections_channel, subscribers=services.subscribers,
                     home_sections=home_sections, feedback=Feedback(services.db))
    if listener_executor is None:
        services.listeners = listener_executor = ThreadPoolExecutor(10, thread_name_prefix="slack-listener")
    services.later = Later(WorkPool(settings.slack_workers, settings.slack_queue),
                           WorkPool(4, 1000, name="slack-quick"))
    app = create_app(deps, token=settings.slack_bot_token.get_secret_value(), signing_secret=secret,
                     api_url=settings.slack_api_url, socket_mode=socket_mode or not inbound,
                     listener_executor=listener_executor, later=services.later)
    services.notifier = Notifier(desk, app.client, services.outbox, subscribers=services.subscribers)
    services.events.billrun_message = billrun_message
    if start:
        services.start()
    return app


def poller(services: Services) -> Any:
    """The polling backstop over the same inbox and outbox as the callouts."""
    from bot.webhooks.poller import Poller

    return Poller(services.zuora, services.db, services.events)


def wsgi(services: Services, app: App) -> WSGIApp:
    """The HTTP application: Slack events and the health check."""
    from bot.slack import wsgi_handler
    from bot.web import make_wsgi
    from bot.webhooks.http import callout_app

    settings = services.settings
    handler = wsgi_handler(app, settings.slack_signing_secret.get_secret_value()
                           if settings.slack_signing_secret else None)
    callouts = callout_app(
        take=lambda callout: services.events.take(callout, source="callout"),
        username=settings.zuora_callout_username,
        password=settings.zuora_callout_password.get_secret_value() if settings.zuora_callout_password else None,
        secret=settings.zuora_callout_secret.get_secret_value() if settings.zuora_callout_secret else None)

    def health() -> dict[str, Any]:
        services.db.execute("select 1").fetchone()
        return {"ok": True, "database": "ok", "zuora": "sandbox" if services.sandbox else "configured",
                "llm": bool(services.settings.llm_model)}

    return make_wsgi(handler, health, callouts)
