"""Secrets in settings: URLs in configuration errors are shown without their credentials."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings, redact_url


@pytest.mark.parametrize(("variable", "value"), [
    ("zuora_base_url", "ftp://svc-user:hunter2-pw@rest.zuora.example/"),
    ("zuora_base_url", "rest.zuora.example:hunter2-pw@evil"),
    ("llm_api_base", "http//admin:hunter2-pw@127.0.0.1:8000/v1"),
    ("llm_api_base", "ws://127.0.0.1/v1?api_key=hunter2-pw"),
    ("slack_api_url", "slack.example/api?token=hunter2-pw&x=1"),
    ("zuora_ui_url", "javascript://u:hunter2-pw@x"),
])
def test_config_errors_never_echo_url_credentials(variable: str, value: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable.upper(), value)
    with pytest.raises(ConfigError) as raised:
        load_settings(zuora_client_id="id", zuora_client_secret="secret")
    message = str(raised.value)
    assert variable.upper() in message and "not an http(s) URL" in message
    assert "hunter2" not in message and "***" in message


def test_redact_url_keeps_what_an_operator_needs() -> None:
    assert redact_url("https://user:pass@rest.zuora.com/v1?pageSize=5") == "https://***@rest.zuora.com/v1?pageSize=5"
    assert redact_url("https://rest.zuora.com/?api_key=abc&x=1") == "https://rest.zuora.com/?api_key=***&x=1"
    assert redact_url("https://rest.zuora.com/v1") == "https://rest.zuora.com/v1"
