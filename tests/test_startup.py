"""Start-up and configuration an operator can trust: the demo tenant only on purpose, every problem named at once,
misspelt variables pointed out, Zuora's refusal told apart from an outage, an LLM without a key refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.app import build
from bot.config import ConfigError, load_settings, unknown_variables
from bot.copilot.agent import DEMO_NOTE
from bot.preflight import check_llm, check_settings, check_zuora, warn_unknown
from bot.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ZuoraSandbox
from bot.sandbox.server import SandboxServer
from bot.zuora import ZuoraClient, ZuoraSetupError
from tests.conftest import FakeClock, make_client

pytestmark = pytest.mark.both_databases


def test_misspelt_variables_get_a_warning_with_the_closest_name(tmp_path: Path) -> None:
    env = {"ZUORA_BASEURL": "https://rest.zuora.com", "SLACK_BOT_TOKN": "x", "LLM_MODLE": "gpt", "APPROVER": "U1",
           "BILLRUN_POLL_SECOND": "5", "DUNNING_WHATEVER": "1", "ZUORA_BASE_URL": "demo", "PATH": "/bin",
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "SLACK_API_URL": "x"}
    lines = unknown_variables(env)
    assert lines == [
        "APPROVER is not a billing-copilot setting and is ignored (did you mean APPROVERS?)",
        "BILLRUN_POLL_SECOND is not a billing-copilot setting and is ignored (did you mean BILLRUN_POLL_SECONDS?)",
        'DUNNING_WHATEVER is not a billing-copilot setting and is ignored (see README, "Configuration")',
        "LLM_MODLE is not a billing-copilot setting and is ignored (did you mean LLM_MODEL?)",
        "SLACK_BOT_TOKN is not a billing-copilot setting and is ignored (did you mean SLACK_BOT_TOKEN?)",
        "ZUORA_BASEURL is not a billing-copilot setting and is ignored (did you mean ZUORA_BASE_URL?)",
    ]
    (tmp_path / ".env").write_text("ZUORA_CLIENT_SECRETT=abc\n")
    assert warn_unknown({}, tmp_path / ".env") == [
        "ZUORA_CLIENT_SECRETT is not a billing-copilot setting and is ignored (did you mean ZUORA_CLIENT_SECRET?)"]


def test_every_invalid_setting_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZUORA_VERSION", "latest")
    monkeypatch.setenv("READ_ONLY", "maybe")
    monkeypatch.setenv("LLM_TIMEOUT_S", "0")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "\n" not in text
    for name in ("ZUORA_VERSION", "READ_ONLY", "LLM_TIMEOUT_S"):
        assert f"invalid setting {name}:" in text


def test_database_settings_garbled_misspelt_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL that is not PostgreSQL is refused in one line without its password; an empty one means the SQLite file;
    a misspelt name is pointed out; a lease too short to finish any work is refused."""
    monkeypatch.setenv("DATABASE_URL", "mysql://billing:hunter2@db.internal/billing")
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "\n" not in text and "hunter2" not in text
    assert "invalid setting DATABASE_URL:" in text and "is not a postgresql:// URL" in text
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert load_settings().database == Path("billing-copilot.db")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/x")
    assert load_settings().database == "postgres://u:p@db/x"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("OUTBOX_LEASE_SECONDS", "1")
    with pytest.raises(ConfigError, match="invalid setting OUTBOX_LEASE_SECONDS:"):
        load_settings()
    assert unknown_variables({"DATABSE_URL": "postgresql://db/x"}) == [
        "DATABSE_URL is not a billing-copilot setting and is ignored (did you mean DATABASE_URL?)"]


def test_serve_and_socket_need_the_demo_tenant_asked_for_by_name() -> None:
    settings = load_settings(slack_bot_token="xoxb-1", slack_signing_secret="s", slack_app_token="xapp-1")
    for mode in ("serve", "socket"):
        with pytest.raises(ConfigError, match="ZUORA_BASE_URL is not set: .* or to 'demo'"):
            check_settings(settings, mode)  # type: ignore[arg-type]
    demo = load_settings(slack_bot_token="xoxb-1", slack_signing_secret="s", zuora_base_url=" Demo ")
    check_settings(demo, "serve")
    assert demo.demo and demo.uses_sandbox and demo.zuora_base_url == "demo"
    with pytest.raises(ConfigError) as err:
        check_settings(load_settings(zuora_base_url="demo"), "serve")
    assert str(err.value) == 'SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set; required here (see README, ' \
                             '"Slack set-up")'


def test_every_demo_answer_says_demo_data() -> None:
    services = build(load_settings(zuora_base_url="demo"), database=False)
    try:
        for question in ("why is INV-42 higher", "account A00000003", "explain INV-777777"):
            assert services.copilot.ask(question).notes[-1] == DEMO_NOTE
    finally:
        services.close()
    services = build(load_settings(), database=False)  # `ask` with nothing configured: no marker needed
    try:
        assert DEMO_NOTE not in services.copilot.ask("why is INV-42 higher").notes
    finally:
        services.close()


# -- Zuora: a refusal is a configuration problem, not an outage, and not missing data -----------------


def _client(handler: object) -> ZuoraClient:
    clock = FakeClock()
    return ZuoraClient("https://zuora.example", client_id="id", client_secret="secret",
                       transport=httpx.MockTransport(handler), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize(("response", "message"), [
    (httpx.Response(401, json={"message": "invalid_client"}),
     "Zuora at https://zuora.example refused ZUORA_CLIENT_ID/ZUORA_CLIENT_SECRET (HTTP 401 from /oauth/token)"),
    (httpx.Response(404, text="<html>Not Found</html>"),
     "ZUORA_BASE_URL https://zuora.example is not a Zuora REST API (POST /oauth/token answered HTTP 404)"),
    (httpx.Response(200, text="<html>Welcome</html>"),
     "ZUORA_BASE_URL https://zuora.example is not a Zuora REST API (POST /oauth/token answered without a token)"),
])
def test_start_up_stops_when_zuora_refuses_or_is_not_zuora(response: httpx.Response, message: str) -> None:
    settings = load_settings(zuora_base_url="https://zuora.example", zuora_client_id="id", zuora_client_secret="x")
    with _client(lambda request: response) as client, pytest.raises(ConfigError) as err:
        check_zuora(client, settings)
    assert str(err.value).startswith(message) and "secret" not in str(err.value).replace("CLIENT_SECRET", "")


def test_an_outage_at_the_token_endpoint_is_not_called_a_configuration_problem() -> None:
    from bot.zuora import ZuoraServerError

    with _client(lambda request: httpx.Response(503, json={"message": "down"})) as client, \
            pytest.raises(ZuoraServerError) as err:
        client.authenticate()
    assert not isinstance(err.value, ZuoraSetupError)


@pytest.mark.parametrize("token_status", [401, 404])
def test_answers_say_what_to_check_when_zuora_refuses_the_sign_in(sandbox: ZuoraSandbox, clock: FakeClock,
                                                                  token_status: int) -> None:
    from bot.copilot import Copilot, Toolbox, ToolContext

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(token_status, json={"message": "no"})
        return sandbox.handle(request)

    with make_client(sandbox, clock, transport=httpx.MockTransport(handler)) as client:
        answer = Copilot(Toolbox(ToolContext(client, today=lambda: sandbox.tenant.today))).ask("explain INV-42")
    assert answer.intent == "error" and answer.facts["error_kind"] == "setup"
    assert "cannot sign in to Zuora" in answer.text and "ZUORA_CLIENT_SECRET" in answer.text
    assert "not answering" not in answer.text and "couldn't find" not in answer.text


def test_serve_stops_with_one_line_when_zuora_refuses_the_credentials(tmp_path: Path) -> None:
    with SandboxServer(ZuoraSandbox()) as zuora:
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "ZUORA_BASE_URL": zuora.url,
               "ZUORA_CLIENT_ID": DEMO_CLIENT_ID, "ZUORA_CLIENT_SECRET": DEMO_CLIENT_SECRET + "-wrong",
               "SLACK_SIGNING_SECRETS": "typo", "SLACK_API_URL": "http://127.0.0.1:9/"}
        done = subprocess.run([sys.executable, "-m", "bot", "serve", "--port", "0"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert "SLACK_SIGNING_SECRETS is not a billing-copilot setting and is ignored (did you mean " \
           "SLACK_SIGNING_SECRET?)" in lines[0]
    assert lines[-1] == (f"error: Zuora at {zuora.url} refused ZUORA_CLIENT_ID/ZUORA_CLIENT_SECRET (HTTP 401 from "
                         "/oauth/token): check the OAuth client in Zuora")
    assert "Traceback" not in done.stderr and DEMO_CLIENT_SECRET not in done.stderr


# -- the LLM ---------------------------------------------------------------------------------------------------


def test_an_llm_model_without_a_usable_key_is_a_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^LLM_MODEL=openai/gpt-4o-mini cannot be used: OPENAI_API_KEY is not set"):
        check_llm(load_settings(llm_model="openai/gpt-4o-mini"))
    check_llm(load_settings(llm_model="openai/gpt-4o-mini", llm_api_key="sk-test"))
    check_llm(load_settings(llm_model="openai/local", llm_api_base="http://127.0.0.1:8000/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    check_llm(load_settings(llm_model="openai/gpt-4o-mini"))
    check_llm(load_settings())  # no LLM_MODEL: nothing to check


def test_without_the_llm_extra_the_message_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "litellm", None)  # what a missing package looks like to `import`
    with pytest.raises(ConfigError, match=r"the llm extra is not installed: pip install 'billing-copilot\[llm\]'"):
        check_llm(load_settings(llm_model="openai/gpt-4o-mini", llm_api_key="sk-test"))


def test_litellm_prints_no_banner_when_a_call_fails(capfd: pytest.CaptureFixture[str]) -> None:
    from bot.copilot.llm import LiteLLMModel, LLMError, Message

    model = LiteLLMModel("openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1", api_key="sk-test")
    with pytest.raises(LLMError):
        model.complete([Message(role="user", content="hi")], [], timeout=2)
    out, err = capfd.readouterr()
    assert "Give Feedback" not in out + err and "Get Help" not in out + err and "sk-test" not in out + err


def test_env_example_and_readme_list_every_setting(tmp_path: Path) -> None:
    """`.env.example` names every setting once (no misspelt name among them), and the README names each."""
    from bot.config import Settings

    text = (Path(__file__).parent.parent / ".env.example").read_text()
    listed = [line.removeprefix("# ").split("=", 1)[0] for line in text.splitlines()
              if line.startswith("# ") and "=" in line and line[2:3].isupper() and " " not in line.split("=")[0][2:]]
    assert sorted(listed) == sorted(name.upper() for name in Settings.model_fields)
    assert unknown_variables(dict.fromkeys(listed, "")) == []
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert [name for name in listed if f"`{name}`" not in readme] == []
