"""Two screenshots of `python -m bot demo` for the README: `python scripts/screenshots.py [OUT_DIR]` (default docs/).

Starts the demo on a free port, drives it in headless Chromium (Debian's `chromium`, through
Playwright; nothing is downloaded) and writes `demo-approval.png` (a credit requested by the rep,
approved by an approver through the confirm dialog, the card updated and the thread opened) and
`demo-messages.png` (the Messages tab: greeting, suggested prompts, an answer in its thread).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bot.demo.server import Demo

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path) -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("error: no `chromium` on PATH (apt-get install -y chromium)", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=30_000)
    demo = Demo(port=0).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1440, "height": 860})
            page.goto(f"{demo.url}/?user=U0REP001")
            page.locator("#text").fill("/billing why is INV-42 higher")
            page.locator("#send").click()
            expect(page.locator("#pane")).to_contain_text("The 5 drivers add up")
            page.locator("#text").fill('/billing credit INV-448 50 "goodwill"')
            page.locator("#send").click()
            card = page.locator("#pane .msg").filter(has_text="Approval needed: credit memo")
            expect(card).to_have_count(1)
            ts = card.get_attribute("data-ts")
            page.locator("#user").select_option("U0APPROVER")
            card.get_by_role("button", name="Approve").click()
            page.get_by_role("dialog", name="Confirm").get_by_role("button", name="Approve").click()
            done = page.locator(f'#pane .msg[data-ts="{ts}"]')
            expect(done).to_contain_text("Done: credit memo")
            done.locator(".replies").click()
            expect(page.locator("#thread-pane")).to_contain_text("Credit memo CM")
            page.screenshot(path=str(out / "demo-approval.png"))

            page.locator("#user").select_option("U0REP001")
            page.locator("#nav-messages").click()
            greeting = page.locator("#pane .msg").filter(has_text="I answer Zuora billing questions")
            greeting.get_by_role("button", name="What does an account owe?").click()
            greeting.locator(".replies").click()
            expect(page.locator("#thread-pane")).to_contain_text("Stark Logistics")
            page.screenshot(path=str(out / "demo-messages.png"))
            browser.close()
    finally:
        demo.close()
    for name in ("demo-approval.png", "demo-messages.png"):
        print(out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"))
