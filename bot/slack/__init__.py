"""The Slack surface: the Bolt app, its listeners, Block Kit builders. The only importer of slack_bolt / slack_sdk.

`create_app()` builds a synchronous Bolt `App` on a `WebClient` pointed at `SLACK_API_URL`, with
retries on connection errors and on 429 (`Retry-After`), the event dedupe middleware, every
listener and one error handler. The error handler logs the exception with a reference id (never a
token or the signing secret) and tells the user that reference, where the request allows a reply,
and only for a request Slack signed (or that came over Socket Mode): it never acts on an
unverified body. `wsgi_handler()` puts `verify.verified()` in front of Bolt, so a request that
fails verification never reaches Bolt at all.

Acks never wait: Bolt runs each listener on the request thread (`process_before_response`, so no
thread polls for the ack) and listeners hand their work to `later` (`bot.slack.workpool`): a
bounded pool whose full queue answers "busy" at once. Work that fails reaches the same error handler.

Exceptions at this boundary:

    ConfigError (bot.config)   Slack refused the token at start-up, or a required token is missing
    slack_sdk.errors.SlackApiError / SlackClientError
                               raised inside listeners; reach the error handler and are logged
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from bot.config import ConfigError
from bot.slack import listeners
from bot.slack.blocks import oops_message
from bot.slack.conversation import SlackDeps
from bot.slack.middleware import dedupe_events
from bot.slack.verify import Signature, verified
from bot.slack.workpool import Later, WorkPool

__all__ = ["Later", "SlackDeps", "WorkPool", "create_app", "socket_mode_handler", "wsgi_handler"]

log = logging.getLogger(__name__)


def create_app(deps: SlackDeps, *, token: str, signing_secret: str | None, api_url: str,
               socket_mode: bool = False, listener_executor: Executor | None = None,
               timeout: int = 30, later: Later | None = None) -> App:
    """The Bolt app with every listener registered; checks the token with `auth.test` (one clear line if refused).

    `later` takes the listeners' work after the ack (its owner closes it); by default a pool of 32
    workers and 200 waiting jobs.
    """
    client = WebClient(token=token, base_url=api_url, timeout=timeout,
                       retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2),
                                       RateLimitErrorRetryHandler(max_retry_count=3)])
    try:
        app = App(client=client, signing_secret=signing_secret, request_verification_enabled=not socket_mode,
                  listener_executor=listener_executor, logger=_bolt_logger(), process_before_response=True)
    except BoltError as exc:
        raise ConfigError(f"Slack refused SLACK_BOT_TOKEN at {api_url} ({_reason(exc)})") from None
    except Exception as exc:  # network errors of any kind mean the same to the operator
        raise ConfigError(f"could not reach Slack at {api_url} to check SLACK_BOT_TOKEN ({type(exc).__name__})"
                          ) from None
    app.use(dedupe_events(deps.events))
    on_error = _error_handler(deps, None if socket_mode else Signature(signing_secret))
    later = later or Later(WorkPool(32, 200), WorkPool(4, 1000, name="slack-quick"))
    later.on_error = on_error
    listeners.register(app, deps, later)
    app.error(on_error)
    return app


class _UnusedTokenWarning(logging.Filter):
    """Drops Bolt's warning that the SLACK_BOT_TOKEN variable is unused: we pass the client on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


class _Short(logging.Filter):
    """Caps Bolt's log lines (it logs whole request bodies, with their `response_url`s, in some messages)."""

    limit = 300

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > self.limit or "body:" in message:
            record.msg, record.args = message.split("body:")[0][:self.limit] + " …(cut)", ()
        return True


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("slack_bolt")
    for kind in (_UnusedTokenWarning, _Short):
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
    return logger


def _reason(exc: BoltError) -> str:
    text = str(exc)
    for code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
        if code in text:
            return code
    return text.splitlines()[0][:120] if text else type(exc).__name__


def _error_handler(deps: SlackDeps, signature: Signature | None) -> Any:
    """`signature` None: Socket Mode (Slack's own connection); else only signed requests get a reply.

    Bolt passes `request`; code that calls the handler itself for work a listener started (the
    listener only ran for a verified request) may leave it out.
    """

    def on_error(error: Exception, body: dict[str, Any], client: WebClient, request: BoltRequest | None = None
                 ) -> None:
        reference = deps.new_ref()
        if signature is not None and request is not None and request.mode != "socket_mode" and not signature.signed(
                request.headers, request.raw_body.encode()):
            log.warning("ref=%s %s on an unverified request; nobody is told", reference, type(error).__name__)
            return
        kind = str(body.get("command") or body.get("type") or "request")[:40]
        log.error("ref=%s unhandled %s in a %s listener", reference, type(error).__name__, kind, exc_info=error)
        message = oops_message(reference)
        try:
            if body.get("response_url"):
                WebhookClient(body["response_url"]).send(response_type="ephemeral", replace_original=False, **message)
            elif isinstance(body.get("event"), dict) and body["event"].get("channel"):
                event = body["event"]
                client.chat_postMessage(channel=event["channel"], thread_ts=event.get("thread_ts") or event.get("ts"),
                                        **message)
        except Exception as exc:
            log.warning("ref=%s could not tell the user (%s)", reference, type(exc).__name__)

    return on_error


def wsgi_handler(app: App, signing_secret: str | None) -> Any:
    """The WSGI app for `POST /slack/events`: Bolt's adapter behind `verify.verified()` (no secret: all refused)."""
    return verified(SlackRequestHandler(app), Signature(signing_secret))


def socket_mode_handler(app: App, app_token: str) -> Any:
    """A Socket Mode connection for `app` (the stdlib-based handler; no public URL needed)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(app, app_token)
