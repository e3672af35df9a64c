"""Settings: every environment variable the bot reads, validated once at start-up.

`load_settings()` reads the environment (and a `.env` file when present) and raises `ConfigError`
with one line naming the offending variable. Secret values never appear in error messages.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["DEMO", "DEFAULT_ZUORA_VERSION", "ConfigError", "Settings", "load_settings", "redact_url",
           "unknown_variables"]

DEFAULT_ZUORA_VERSION = "2025-08-12"
DEMO = "demo"
"""`ZUORA_BASE_URL=demo`: the embedded sandbox with its fictional demo tenant, asked for on purpose."""
_ZUORA_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{3}\.0)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SECRET_PARAM = re.compile(r"(?i)([?&;][^=&#]*(?:key|token|secret|password|passwd|pwd|sig|auth)[^=&#]*=)[^&#]*")


def redact_url(value: str) -> str:
    """`value` with credentials removed: `https://user:pass@host/?api_key=x` → `https://***@host/?api_key=***`."""
    query_at = min(i for i in (value.find("?"), value.find("#"), len(value)) if i != -1)
    at = value.rfind("@", 0, query_at)
    if at != -1:  # everything before the last '@' may be a credential, even in a malformed URL
        scheme = _SCHEME.match(value)
        value = value[:scheme.end() if scheme else 0] + "***" + value[at:]
    return _SECRET_PARAM.sub(r"\1***", value)


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable in one line."""


class Settings(BaseSettings):
    """The bot's configuration. Unset optional values mean the embedded default (see README)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    zuora_base_url: str | None = None
    """Unset or `demo` means the embedded sandbox (demo tenant, in-process); `serve` and `socket` need it set."""
    zuora_client_id: str | None = None
    zuora_client_secret: SecretStr | None = None
    zuora_version: str = DEFAULT_ZUORA_VERSION
    zuora_ui_url: str | None = None
    zuora_max_concurrency: int = Field(default=40, ge=1, le=200)
    """Zuora requests in flight at once from this process (Zuora's default per-tenant limit is 40)."""
    zuora_data_query: bool = False
    """Portfolio questions run as Data Query SQL jobs (the tenant needs Data Query) instead of Object Query."""

    llm_model: str | None = None
    """Any litellm model string; unset means the deterministic router and templates."""
    llm_api_base: str | None = None
    """Where the model is served, e.g. a local OpenAI-compatible server (`http://127.0.0.1:8000/v1`)."""
    llm_api_key: SecretStr | None = None
    """Optional: litellm otherwise reads the provider's own variable (`OPENAI_API_KEY`, …)."""
    llm_timeout_s: float = Field(default=20.0, gt=0)
    redact_pii: bool = True

    database_path: Path = Path("billing-copilot.db")
    """The SQLite file (one process), unless `DATABASE_URL` is set."""
    database_url: SecretStr | None = None
    """`postgresql://…`: PostgreSQL instead of the SQLite file, for several instances (see the README)."""
    database_pool_size: int = Field(default=10, ge=1, le=200)
    """PostgreSQL connections this process may hold at once."""
    approvers: Annotated[list[str], NoDecode] = []
    """Slack user ids (U…/W…) and/or user group ids (S…), comma-separated."""
    approval_tiers: str = ""
    """Amount tiers, parsed and validated by the approval policy."""
    approval_ttl_hours: float = Field(default=24.0, gt=0)
    write_off_two_approvers_above: Decimal | None = Field(default=Decimal(1000), ge=0)
    """Write-offs above this amount need two distinct approvers; unset it (empty) for one."""
    collections_channel: str | None = None

    zuora_callout_username: str | None = None
    zuora_callout_password: SecretStr | None = None
    zuora_callout_secret: SecretStr | None = None
    dunning_escalate_after_days: int = Field(default=60, ge=1)
    """A declined payment on an invoice overdue longer than this proposes a collections escalation."""
    dunning_max_attempts: int = Field(default=4, ge=1)
    """Failed attempts on an invoice after which no retry is proposed (escalation instead)."""
    billrun_poll_seconds: int = Field(default=300, ge=0)
    """0 disables the polling backstop."""
    billrun_follow_checks: int = Field(default=10, ge=1, le=11)
    """How many times a bill run started from Slack is looked at (5 s, 10 s, … capped at 2 min) before the card
    says to follow it in Zuora."""
    outbox_lease_seconds: float = Field(default=120.0, ge=10, le=3600)
    """How long an instance holds an outbox row it took (a callout's work, a card, a DM): the rows of an
    instance that died are taken by another after this long (at once by the next process on the same host)."""
    shutdown_grace_seconds: float = Field(default=20.0, ge=0, le=600)
    """On SIGTERM/SIGINT: how long in-flight work and the outbox get before the process exits."""
    read_only: bool = False
    approval_sweep_seconds: float = Field(default=60.0, gt=0)
    """How often expired proposals are closed and unconfirmed executions looked up in Zuora."""
    approval_put_grace_seconds: float = Field(default=300.0, ge=0)
    """A PUT sent less than this long before a crash is never re-sent: it may still land (looked up again)."""
    approval_stuck_seconds: float = Field(default=600.0, gt=0)
    """An execution older than this is settled by the sweep (its thread or process died); with several instances
    the only way one left `executing` by a dead instance is settled, as a live one may be running it."""
    audit_key: SecretStr | None = None
    """A secret outside the database: signs every audit row and the audit checkpoints."""
    audit_checkpoint_path: Path | None = None
    """Where signed audit checkpoints are appended (default: next to the database, `<file>.checkpoints`)."""
    audit_mirror: bool = False
    """Mirror every audit row to Zuora's `AI_Audit_Log` custom object."""
    slack_workers: int = Field(default=32, ge=1, le=512)
    """Threads answering Slack requests after the ack (they mostly wait on Zuora)."""
    slack_queue: int = Field(default=200, ge=0, le=100_000)
    """Slack requests that may wait for a worker; beyond that the user is told "busy" at once."""
    port: int = Field(default=3000, ge=1, le=65535)

    # -- subscription changes, retention offers (issue 16) --
    preview_ttl_minutes: int = Field(default=15, ge=0, le=1440)
    """A subscription change previewed longer ago than this is previewed again before it runs (0: always)."""
    retention_discount_plan: str = Field(default="Retention discount", min_length=1, max_length=100)
    """The catalog rate plan (a percentage discount) a retention offer adds."""
    retention_max_percent: Decimal = Field(default=Decimal(30), gt=0, le=100)
    """The largest retention discount that may be proposed, in percent."""
    retention_max_periods: int = Field(default=12, ge=1, le=36)
    """The most billing periods a retention discount may last."""

    # -- customer notes (issue 17) --
    customer_language_field: str = Field(default="Language__c", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,60}__c$")
    """Account custom field holding the customer's language (a code like `de` or a name like `German`)."""
    default_customer_language: str = "en"
    """The note language when neither the field nor the bill-to country gives one."""
    invoice_note_field: str = Field(default="AI_Summary__c", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,60}__c$")
    """Invoice Long Text custom field that takes the full note."""
    billrun_notes: bool = False
    """Draft a note per invoice after each completed bill run."""
    note_review_threshold: Decimal = Field(default=Decimal("10000"), ge=0)
    """Invoices at or above this total (in their own currency) get a review card of their own."""
    high_touch_field: str = Field(default="HighTouch__c", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,60}__c$")
    account_owner_field: str = Field(default="AccountOwner__c", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,60}__c$")
    note_autopilot: bool = False
    """Apply bill-run notes below the threshold without a click (each audited as applied by the autopilot)."""
    zuora_note_workflow_id: str | None = Field(default=None, pattern=r"^\d{1,18}$")
    """A Zuora workflow that emails `Subject`/`BodyHtml` to the account: enables `email note INV-42`."""

    @field_validator("default_customer_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        from bot.notes.language import UnknownLanguage, language_named

        try:
            return language_named(value)
        except UnknownLanguage as exc:
            raise ValueError(str(exc)) from None

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("approvers")
    @classmethod
    def _check_approvers(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not re.fullmatch(r"[UWS][A-Z0-9]{2,}", entry):
                raise ValueError(f"{entry!r} is not a Slack user id (U…/W…) or user group id (S…)")
        return value

    @field_validator("write_off_two_approvers_above", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("audit_key")
    @classmethod
    def _check_audit_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (a secret kept outside the database)")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        if value is not None and not re.match(r"^postgres(ql)?://", value.get_secret_value()):
            raise ValueError(f"{redact_url(value.get_secret_value())!r} is not a postgresql:// URL "
                             "(leave it unset for the SQLite file at DATABASE_PATH)")
        return value

    @field_validator("zuora_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not _ZUORA_VERSION.match(value):
            raise ValueError(f"{value!r} is not a Zuora minor version such as 2025-08-12 or 341.0")
        return value

    @field_validator("zuora_base_url", "zuora_ui_url", "slack_api_url", "llm_api_base")
    @classmethod
    def _check_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.field_name == "zuora_base_url" and value is not None and value.strip().lower() == DEMO:
            return DEMO
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{redact_url(value)!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _zuora_credentials(self) -> Settings:
        if not self.uses_sandbox and not (self.zuora_client_id and self.zuora_client_secret):
            missing = "ZUORA_CLIENT_ID" if not self.zuora_client_id else "ZUORA_CLIENT_SECRET"
            raise ValueError(f"{missing} is required when ZUORA_BASE_URL is set")
        if self.zuora_callout_username and not self.zuora_callout_password:
            raise ValueError("ZUORA_CALLOUT_PASSWORD is required when ZUORA_CALLOUT_USERNAME is set")
        return self

    @property
    def database(self) -> str | Path:
        """Where the data lives: the PostgreSQL URL if set, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.database_path

    def checkpoint_path(self, database: Path | None = None) -> Path:
        """Where audit checkpoints go for `database` (default: the configured database)."""
        db = database or self.database_path
        return self.audit_checkpoint_path or db.with_name(db.name + ".checkpoints")

    @property
    def uses_sandbox(self) -> bool:
        """True when no Zuora tenant is configured and the embedded sandbox serves the API."""
        return self.zuora_base_url in (None, DEMO)

    @property
    def demo(self) -> bool:
        """True when the operator asked for the demo tenant (`ZUORA_BASE_URL=demo`)."""
        return self.zuora_base_url == DEMO


def load_settings(**overrides: object) -> Settings:
    """Build `Settings` from the environment, raising `ConfigError` with a one-line message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []  # every invalid setting at once, still one line
        for err in exc.errors():
            loc = err.get("loc") or ()
            message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            problems.append(f"invalid setting {str(loc[0]).upper()}: {message}" if loc else
                            f"invalid settings: {message}")
        raise ConfigError("; ".join(problems)) from None


_OUR_PREFIXES = ("ZUORA_", "SLACK_", "LLM_", "APPROV", "DUNNING_", "BILLRUN_", "DATABASE_", "OUTBOX_",
                 "AUDIT_")  # APPROV: APPROVAL_… and APPROVERS
_NEAR = 0.9
"""Any other variable this close to a setting's name is a misspelling of it (`DATABSE_URL`)."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning line per variable in `environ` that looks like ours (`ZUORA_…`, `SLACK_…`, `LLM_…`,
    `APPROV…`, `DUNNING_…`, `BILLRUN_…`, `DATABASE_…`, `OUTBOX_…`, `AUDIT_…`), or is nearly a setting's name,
    but is no setting, naming the closest known one.

    Unknown variables are otherwise ignored, so a misspelt `ZUORA_BASE_URL` would leave the default.
    """
    known = sorted(name.upper() for name in Settings.model_fields)
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if upper in known or not (upper.startswith(_OUR_PREFIXES) or
                                  difflib.get_close_matches(upper, known, n=1, cutoff=_NEAR)):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "see README, \"Configuration\""
        lines.append(f"{name} is not a billing-copilot setting and is ignored ({hint})")
    return lines
