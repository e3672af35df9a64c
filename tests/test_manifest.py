"""manifest.yml against the code: every command, event and action the code handles, and exactly the scopes it needs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.copilot import Copilot, Toolbox, ToolContext
from bot.copilot.history import History
from bot.slack import listeners
from bot.slack.blocks import ACTION_FOLLOW_UP, ACTION_SHARE
from bot.slack.conversation import SlackDeps
from bot.slack.middleware import EventLog
from bot.storage import open_db
from bot.zuora import ZuoraClient

ROOT = Path(__file__).resolve().parents[1]
SCOPES_OF_METHOD = {  # Slack's docs: the bot scope each Web API method needs (None: no scope)
    "auth.test": None, "chat.postMessage": "chat:write", "chat.update": "chat:write", "views.publish": None,
    "views.open": None, "conversations.open": "im:write", "users.info": "users:read",
    "usergroups.users.list": "usergroups:read", "assistant.threads.setStatus": "assistant:write",
    "files.upload.v2": "files:write"}  # files_upload_v2: files.getUploadURLExternal + files.completeUploadExternal
SCOPES_OF_EVENT = {"app_mention": "app_mentions:read", "message.im": "im:history", "app_home_opened": None}


class Recorder:
    """Stands in for the Bolt app: records what the listeners register."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.events: list[str] = []
        self.actions: list[str | re.Pattern[str]] = []

    def _record(self, into: list[Any], key: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        into.append(key)
        return lambda fn: fn

    def command(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._record(self.commands, name)

    def event(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._record(self.events, name)

    def action(self, key: str | re.Pattern[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._record(self.actions, key)


def registered(client: ZuoraClient) -> Recorder:
    db = open_db(":memory:")
    deps = SlackDeps(copilot=Copilot(Toolbox(ToolContext(client))), history=History(db), events=EventLog(db))
    recorder = Recorder()
    listeners.register(recorder, deps)
    return recorder


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def web_api_methods() -> set[str]:
    """Every Web API method the Slack package calls (`client.chat_postMessage(` → chat.postMessage)."""
    methods = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for name in re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()):
            family, _, rest = name.partition("_")
            methods.add(f"{family}.{rest.replace('_', '.')}")
    return methods


def test_every_command_event_and_action_the_code_handles_is_in_the_manifest(client: ZuoraClient) -> None:
    recorder, m = registered(client), manifest()
    commands = {c["command"] for c in m["features"]["slash_commands"]}
    assert set(recorder.commands) == commands == {"/billing"}
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    handled = {"message.im" if e == "message" else e for e in recorder.events}  # the listener keeps DMs only
    assert handled == events
    assert m["settings"]["interactivity"]["is_enabled"] is True and recorder.actions
    for action_id in (f"{ACTION_FOLLOW_UP}.0", f"{ACTION_FOLLOW_UP}.3", ACTION_SHARE):
        assert any(a == action_id if isinstance(a, str) else a.match(action_id) for a in recorder.actions), action_id


def test_the_manifest_asks_for_exactly_the_scopes_the_code_needs(client: ZuoraClient) -> None:
    methods = web_api_methods()
    assert {"chat.postMessage", "chat.update", "views.publish"} <= methods
    assert methods <= set(SCOPES_OF_METHOD), f"add the scope of {methods - set(SCOPES_OF_METHOD)} to this test"
    needed = {SCOPES_OF_METHOD[m] for m in methods} | {"commands"}
    needed |= {SCOPES_OF_EVENT[e] for e in manifest()["settings"]["event_subscriptions"]["bot_events"]}
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed - {None}


def test_the_manifest_keeps_dms_open_and_within_slacks_limits() -> None:
    m = manifest()
    home = m["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is False
    assert home["home_tab_enabled"] is True and m["features"]["bot_user"]["display_name"]
    assert len(m["display_information"]["name"]) <= 35 and len(m["display_information"]["description"]) <= 140
    for command in m["features"]["slash_commands"]:
        assert command["description"] and command["usage_hint"] and len(command["usage_hint"]) <= 1000
        assert command["url"].endswith("/slack/events")
    urls = {m["settings"]["event_subscriptions"]["request_url"], m["settings"]["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().startswith("https://")


def test_the_agent_view_matches_the_code() -> None:
    """Slack's agent messaging experience (not the older `assistant_view`), with the greeting's prompts."""
    from bot.slack.agent import SUGGESTED_PROMPTS

    features = manifest()["features"]
    agent = features["agent_view"]
    assert "assistant_view" not in features and 0 < len(agent["agent_description"]) <= 300
    assert [(p["title"], p["message"]) for p in agent["suggested_prompts"]] == list(SUGGESTED_PROMPTS)
    assert len(agent["suggested_prompts"]) <= 4 and "assistant:write" in manifest()["oauth_config"]["scopes"]["bot"]
