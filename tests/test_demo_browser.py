"""`python -m bot demo` in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Each test starts the demo on a free port (the real app, the sandbox, the fake Slack) and uses the page
as a person would: the composer, the user switcher, buttons, confirm dialogs, modals, the Zuora event
buttons, the App Home and Messages tabs. No browser is downloaded; when `chromium` cannot be found
the tests are skipped, saying so. A failed test leaves a screenshot in `test-artifacts/`
(`TEST_ARTIFACTS` overrides the folder).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.copilot.feedback import Feedback
from bot.demo.server import Demo
from bot.sandbox import ZuoraSandbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts")
REP, APPROVER, OUTSIDER = "U0REP001", "U0APPROVER", "U0OUTSIDER"

expect.set_options(timeout=20_000)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no `chromium` on PATH (apt-get install -y chromium); "
                                                          "the browser tests never download a browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-background-networking"])
        yield browser
        browser.close()


class Slow:
    """A sandbox whose answers can be held back (`hold()`) until `release()`: the status chip stays visible."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.sandboxes: list[ZuoraSandbox] = []

    def __call__(self) -> ZuoraSandbox:
        box = ZuoraSandbox(sleep=lambda seconds: self.gate.wait(seconds))
        self.sandboxes.append(box)
        return box

    def hold(self) -> None:
        self.sandboxes[-1].inject("/*", latency=60)

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def slow() -> Slow:
    return Slow()


@pytest.fixture
def demo(slow: Slow) -> Iterator[Demo]:
    d = Demo(port=0, sandbox=slow).start()
    yield d
    slow.release()
    d.close()


@pytest.fixture
def page(browser: Browser, demo: Demo, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{demo.url}/?user={REP}")
    expect(page.locator("#user")).to_have_value(REP)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed or errors:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        (ARTIFACTS / f"{request.node.name}.html").write_text(page.content())
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def say(page: Page, text: str) -> None:
    page.locator("#text").fill(text)
    page.locator("#send").click()


def become(page: Page, user: str) -> None:
    page.locator("#user").select_option(user)


def messages(page: Page) -> Any:
    return page.locator("#pane .msg")


def propose_credit(page: Page, amount: str = "50") -> Any:
    """As the rep, ask for a credit in #billing-support; returns the card's locator."""
    say(page, f'/billing credit INV-448 {amount} "goodwill"')
    card = messages(page).filter(has_text="Approval needed: credit memo")
    expect(card).to_have_count(1)
    return page.locator(f'#pane .msg[data-ts="{card.get_attribute("data-ts")}"]')  # the same message, whatever it says


def test_asking_why_an_invoice_is_higher_shows_the_five_drivers(page: Page) -> None:
    say(page, "/billing why is INV-42 higher")
    answer = messages(page).filter(has_text="is 554.54 USD higher than")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("Only visible to you")
    for driver in ("+250.00 USD", "+150.00 USD", "+82.26 USD", "+30.00 USD", "+42.28 USD"):
        expect(answer.locator("b", has_text=driver)).to_have_count(1)
    expect(answer).to_contain_text("The 5 drivers add up to +554.54 USD")
    become(page, OUTSIDER)  # an ephemeral answer is not shown to anyone else
    expect(messages(page).filter(has_text="is 554.54 USD higher than")).to_have_count(0)


def test_an_approver_approves_through_the_confirm_dialog_and_the_card_updates_in_place(page: Page) -> None:
    card = propose_credit(page)
    ts = card.get_attribute("data-ts")
    expect(card.get_by_role("button", name="Approve")).to_be_visible()
    card.get_by_role("button", name="Approve").click()  # the requester may not approve their own request
    page.get_by_role("dialog", name="Confirm").get_by_role("button", name="Approve").click()
    expect(messages(page).filter(has_text="You asked for this")).to_have_count(1)

    become(page, APPROVER)
    card.get_by_role("button", name="Approve").click()
    dialog = page.get_by_role("dialog", name="Confirm")
    expect(dialog).to_contain_text("Run this in Zuora?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(card).to_contain_text("Approval needed")  # nothing happened

    card.get_by_role("button", name="Approve").click()
    page.get_by_role("dialog", name="Confirm").get_by_role("button", name="Approve").click()
    done = page.locator(f'#pane .msg[data-ts="{ts}"]')
    expect(done).to_contain_text("Done: credit memo")  # the same message, updated in place
    expect(done).to_contain_text("(edited)")
    expect(done.get_by_role("button", name="Approve")).to_have_count(0)
    done.locator(".replies").click()
    expect(page.locator("#thread-pane")).to_contain_text("Credit memo CM")


def test_a_rejection_needs_a_reason_in_the_modal(page: Page) -> None:
    card = propose_credit(page)
    become(page, APPROVER)
    card.get_by_role("button", name="Reject").click()
    modal = page.get_by_role("dialog", name="Reject proposal")
    expect(modal).to_be_visible()
    modal.get_by_role("button", name="Reject").click()  # empty: the app's inline error, the modal stays
    expect(modal.get_by_role("alert")).to_contain_text("Say why")
    modal.get_by_label("Why?").fill("Already credited last month")
    modal.get_by_role("button", name="Reject").click()
    expect(modal).to_have_count(0)
    expect(card).to_contain_text("Rejected")
    expect(card).to_contain_text("Already credited last month")


def test_an_edit_with_an_invalid_amount_shows_the_modals_inline_error(page: Page) -> None:
    card = propose_credit(page)
    become(page, APPROVER)
    card.get_by_role("button", name="Edit amount").click()
    modal = page.get_by_role("dialog", name="Edit amount")
    field = modal.get_by_label("Amount (EUR)")
    expect(field).to_have_value("50")
    field.fill("fifty")
    modal.get_by_role("button", name="Save").click()
    expect(modal.get_by_role("alert")).to_be_visible()
    expect(modal).to_be_visible()
    expect(card).to_contain_text("50.00 EUR")
    field.fill("40")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_have_count(0)
    expect(card).to_contain_text("40.00 EUR")


def test_a_declined_payment_becomes_a_card_in_collections(page: Page) -> None:
    page.locator("#account").select_option("A00000007")
    page.get_by_role("button", name="A payment was declined").click()
    page.locator("#nav-collections").click()
    expect(page.locator("header#title")).to_contain_text("#collections")
    expect(messages(page).filter(has_text="Approval needed: collections escalation for Stark Logistics")
           ).to_have_count(1)


def test_app_home_lists_pending_approvals_for_the_approver_and_none_for_the_outsider(page: Page) -> None:
    propose_credit(page)
    become(page, APPROVER)
    page.locator("#nav-home").click()
    waiting = page.locator("#pane").get_by_text("Waiting for your approval")
    expect(waiting).to_be_visible()
    expect(page.locator("#pane")).to_contain_text("credit memo 50.00 EUR on INV00000448")
    become(page, OUTSIDER)
    expect(page.locator("#pane")).to_contain_text(re.compile(r"Waiting for your approval\s*none\s*Your requests"))
    expect(page.locator("#pane")).not_to_contain_text("credit memo 50.00 EUR on INV00000448")


def test_the_messages_tab_greets_with_prompts_shows_a_status_and_answers_in_a_thread(
        page: Page, demo: Demo, slow: Slow) -> None:
    page.locator("#nav-messages").click()
    greeting = messages(page).filter(has_text="I answer Zuora billing questions")
    expect(greeting).to_have_count(1)
    prompt = greeting.get_by_role("button", name="Why did an invoice go up?")
    expect(prompt).to_be_visible()
    slow.hold()  # Zuora answers only after release(): the status chip stays up meanwhile
    prompt.click()
    chip = greeting.locator("[data-status]")
    expect(chip).to_contain_text(re.compile(r"billing-copilot Comparing INV-42 with the invoice before it"))
    slow.release()
    expect(chip).to_have_count(0)
    greeting.locator(".replies").click()
    thread = page.locator("#thread-pane")
    expect(thread).to_contain_text("The 5 drivers add up to +554.54 USD")
    thread.get_by_role("button", name="👍 Helpful", exact=True).click()
    expect(thread).to_contain_text("found this helpful")
    turn = demo.services.db.execute("select id from conversation_turns order by id desc limit 1").fetchone()[0]
    assert Feedback(demo.services.db).of(turn) == {REP: "good"}

    page.locator("#thread-text").fill("and the one before?")  # a follow-up in the thread remembers the subject
    page.locator("#thread-send").click()
    expect(thread).to_contain_text("INV00000022", timeout=20_000)
