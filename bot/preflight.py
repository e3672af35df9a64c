"""Start-up checks for `serve` and `socket`: refuse to start on a configuration that would be wrong silently.

- Every missing setting the mode needs is named in one line (not one per restart), and so is
  `ZUORA_BASE_URL`: the fictional demo tenant serves real Slack users only when asked for by name
  (`ZUORA_BASE_URL=demo`).
- Variables that look like ours but are no setting (`ZUORA_BASEURL`) are warned about, with the closest
  known name (the environment and the `.env` file).
- Zuora is asked for a token: refused credentials, or a base URL that is not a Zuora REST API, stop the
  process with one line; an unreachable Zuora too (the operator sees it at once, not on the first question).
- `LLM_MODEL` without the `llm` extra, or without a key the provider needs, is a start-up error.

Every failure raises `ConfigError` (the command line prints it as one line and exits 2).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from bot.config import ConfigError, Settings, unknown_variables

__all__ = ["check_database", "check_llm", "check_port", "check_settings", "check_zuora", "demo_banner",
           "warn_unknown"]

log = logging.getLogger(__name__)

Mode = Literal["serve", "socket"]
_NEEDS: dict[str, tuple[str, ...]] = {"serve": ("slack_bot_token", "slack_signing_secret"),
                                      "socket": ("slack_bot_token", "slack_app_token")}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_settings(settings: Settings, mode: Mode) -> None:
    """Raise `ConfigError` naming every setting `mode` needs that is not set, in one line."""
    missing = [name.upper() for name in _NEEDS[mode] if not getattr(settings, name)]
    problems = []
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        problems.append(f'{_and(missing)} {verb} not set; required here (see README, "Slack set-up")')
    if settings.zuora_base_url is None:
        problems.append("ZUORA_BASE_URL is not set: set it to your tenant's REST URL (e.g. https://rest.zuora.com), "
                        "or to 'demo' to answer from the fictional demo tenant")
    if problems:
        raise ConfigError("; ".join(problems))


def warn_unknown(environ: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> list[str]:
    """Log (and return) a warning for each variable that looks like ours but is no setting."""
    names: dict[str, str] = dict(os.environ if environ is None else environ)
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values  # pydantic-settings' own .env reader

        names.update({k: v or "" for k, v in dotenv_values(dotenv).items()})
    lines = unknown_variables(names)
    for line in lines:
        log.warning("%s", line)
    return lines


def check_zuora(client: object, settings: Settings) -> None:
    """Fetch a Zuora token once; raise `ConfigError` in one line when Zuora refuses or cannot be reached."""
    from bot.config import redact_url
    from bot.zuora import ZuoraClient, ZuoraError, ZuoraSetupError

    assert isinstance(client, ZuoraClient)
    if settings.uses_sandbox:
        return
    where = redact_url(settings.zuora_base_url or "")
    try:
        client.authenticate()
    except ZuoraSetupError as exc:
        if exc.status in (400, 401, 403):
            raise ConfigError(f"Zuora at {where} refused ZUORA_CLIENT_ID/ZUORA_CLIENT_SECRET (HTTP {exc.status} "
                              "from /oauth/token): check the OAuth client in Zuora") from None
        raise ConfigError(f"ZUORA_BASE_URL {where} is not a Zuora REST API (POST /oauth/token answered "
                          f"{'HTTP ' + str(exc.status) if exc.status != 200 else 'without a token'}); "
                          "use your tenant's REST URL, e.g. https://rest.zuora.com") from None
    except ZuoraError as exc:
        raise ConfigError(f"Zuora at {where} cannot be reached to sign in ({type(exc).__name__}); check "
                          "ZUORA_BASE_URL and the network") from None


def check_llm(settings: Settings) -> None:
    """Raise `ConfigError` when `LLM_MODEL` is set but cannot work: no `llm` extra, or no usable key."""
    if not settings.llm_model:
        return
    from bot.copilot.llm import llm_problem

    problem = llm_problem(settings.llm_model, api_key=settings.llm_api_key is not None,
                          api_base=settings.llm_api_base)
    if problem:
        raise ConfigError(problem)


def demo_banner(settings: Settings) -> None:
    """Say in the log, loudly, that answers come from the fictional demo tenant."""
    if settings.demo:
        log.warning("DEMO MODE: ZUORA_BASE_URL=demo, so every answer comes from the fictional demo tenant in the "
                    "embedded sandbox and approvals change nothing real")


def check_port(host: str, port: int) -> None:
    """Raise `ConfigError` in one line when `host:port` cannot be listened on (in use, not allowed)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (check --host)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            probe.bind(address)
        except OSError as exc:
            why = "the port is in use by another process" if exc.errno == errno.EADDRINUSE else \
                (exc.strerror or str(exc))
            raise ConfigError(f"cannot listen on {host}:{port}: {why} (set PORT or --port)") from None


def check_database(path: Path | str, *, name: str = "DATABASE_PATH", create: bool = True) -> None:
    """Raise `ConfigError` in one line when the SQLite file at `path` cannot be opened for writing,
    or the PostgreSQL URL `path` cannot be connected to.

    With `create=False` the file must already exist (commands that read a database never create one).
    """
    import sqlite3

    from bot.storage import StorageUnavailable, is_url, open_db

    if is_url(path):
        try:
            open_db(path, migrate=False, pool_size=1).close()
        except StorageUnavailable as exc:
            raise ConfigError(str(exc).replace("DATABASE_URL", name)) from None
        return
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{name}={path} is a folder, not a database file")
    if not create and not path.is_file():
        raise ConfigError(f"{name}={path}: no such database file")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{name}={path}: {existing} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()
        with open(path, "ab"):
            pass
    except (OSError, sqlite3.Error) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{name}={path}: cannot open the database for writing ({why})") from None
