"""`python -m bot ask`: the terminal answer and its JSON, on the embedded defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from bot.__main__ import main
from bot.copilot.routing.mentions import account_name


def test_ask_prints_the_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--format", "mrkdwn", "why", "is", "INV-42", "higher"]) == 0
    out = capsys.readouterr().out
    assert "*INV00000042* (868.46 USD, 2026-02-01) is *554.54 USD higher* than *INV00000022*" in out
    assert "The 5 drivers add up to +554.54 USD." in out
    assert "Sources: INV00000042, INV00000022" in out


def test_ask_json_drivers_sum_to_the_difference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "why is INV-42 higher"]) == 0
    answer = json.loads(capsys.readouterr().out)
    facts = answer["facts"]
    assert answer["source"] == "deterministic" and answer["intent"] == "explain_invoice"
    assert sum(Decimal(d["amount"]) for d in facts["drivers"]) == Decimal(facts["difference"]) == \
        Decimal(facts["invoice"]["amount"]) - Decimal(facts["previous"]["amount"])
    assert {c["label"] for c in answer["citations"]} == {"INV00000042", "INV00000022"}


def test_ask_prints_plain_text_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "why is INV-42 higher"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("INV00000042 (868.46 USD, 2026-02-01) is 554.54 USD higher than INV00000022")
    assert "*" not in out and ":warning:" not in out and "note: INV-42 was read as INV00000042." in out
    assert main(["ask", "explain INV-777777"]) == 1
    assert capsys.readouterr().out.startswith("! I couldn't find invoice 'INV-777777'")


@pytest.mark.parametrize("fmt", [["--json"], ["--format", "json"], ["--format", "mrkdwn"], []])
def test_every_format_exits_1_on_an_error_answer(capsys: pytest.CaptureFixture[str], fmt: list[str]) -> None:
    assert main(["ask", *fmt, "explain INV-777777"]) == 1
    if "json" in " ".join(fmt):
        assert json.loads(capsys.readouterr().out)["intent"] == "error"


def test_version_and_program_name(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import __version__

    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/billing-copilot", "--version"])
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out == f"billing-copilot {__version__}\n"
    monkeypatch.setattr(sys, "argv", ["/x/bot/__main__.py"])
    with pytest.raises(SystemExit) as done:
        main(["nonsense"])
    assert done.value.code == 2 and capsys.readouterr().err.startswith("usage: python -m bot ")


def test_ask_errors_exit_1_with_a_human_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "explain INV-777777"]) == 1
    out = capsys.readouterr()
    assert "I couldn't find invoice 'INV-777777'" in out.out and "Traceback" not in out.err


def test_ask_with_nothing_typed_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask"]) == 0
    assert "I answer billing questions from Zuora" in capsys.readouterr().out


def test_fresh_process_answers_without_importing_litellm(tmp_path: object) -> None:
    code = ("import sys; from bot.__main__ import main; rc = main(['ask', 'who is overdue']); "
            "print('LITELLM' if 'litellm' in sys.modules else 'NO-LITELLM'); sys.exit(rc)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "ZUORA_", "SLACK_"))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    # Stark Logistics and Umbrella Health (4), Kestrel's aging story (5), the two Brazil decline stories (2 each)
    assert "13 overdue invoices from 5 accounts" in result.stdout and result.stdout.strip().endswith("NO-LITELLM")


@pytest.mark.parametrize(("question", "name"), [
    ("what does Stark Logistics owe?", "Stark Logistics"), ("payments for acme corp please", "acme corp"),
    ("what does A00000007 owe", None), ("who is overdue", None), ("did Umbrella Health pay", "Umbrella Health"),
])
def test_account_name(question: str, name: str | None) -> None:
    assert account_name(question) == name


def test_ask_with_an_llm_model_but_no_llm_extra_is_one_line(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    monkeypatch.setitem(sys.modules, "litellm", None)  # what a venv without the llm extra looks like to `import`
    assert main(["ask", "why is INV-42 higher"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == ("error: LLM_MODEL is set but the llm extra is not installed: pip install "
                                            "'billing-copilot[llm]' (or unset LLM_MODEL for the deterministic answers)")
    assert "Traceback" not in err
