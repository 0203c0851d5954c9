"""Walk through a running workbench (`make run`) in headless Chromium and save screenshots.

    .venv/bin/python scripts/tour.py [--url http://127.0.0.1:8000] [--upload FILE] [--out screenshots/tour]

Signs in as each demo user (passwords from var/demo_credentials.json), takes each
role's home page, the coder's 403 on an admin page, the system status (worker
round trip), the encoder, and, with --upload, an admin uploading an official file,
its progress, the diff and the activation; the coder's work queue and coding page
(claim next, add a CC by keyboard), the supervisor's audit queue and a case.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--upload", type=Path)
    parser.add_argument("--effective", default="2024-10-01")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots" / "tour")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    passwords = json.loads((ROOT / "var" / "demo_credentials.json").read_text())

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )

        def session(user: str):
            page = browser.new_context(
                viewport={"width": 1280, "height": 860}
            ).new_page()
            page.set_default_timeout(30000)
            page.goto(f"{args.url}/login/")
            page.get_by_label("Username").fill(user)
            page.get_by_label("Password").fill(passwords[user])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state("networkidle")
            return page

        def shot(page, name: str) -> None:
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            print(f"{name}: {page.url}")

        login = browser.new_page()
        login.goto(f"{args.url}/")
        shot(login, "01-login")
        for n, user in enumerate(["coder", "supervisor", "admin"], start=2):
            page = session(user)
            shot(page, f"0{n}-home-{user}")
            if user == "coder":
                response = page.goto(f"{args.url}/codesets/")
                print("coder on /codesets/:", response.status)
                shot(page, "05-coder-403")
                page.goto(f"{args.url}/codesets/encoder/")
                page.get_by_role("combobox", name="Code or words").type(
                    "diab mel type 2 hyperglyc", delay=30
                )
                page.get_by_role("listbox", name="Matching codes").get_by_role(
                    "option"
                ).first.wait_for()
                page.keyboard.press("ArrowDown")
                page.keyboard.press("Enter")
                page.get_by_test_id("code-panel").wait_for()
                shot(page, "06-encoder")
                page.goto(f"{args.url}/encounters/queue/?type=inpatient")
                shot(page, "14-work-queue")
                page.get_by_test_id("claim-next").click()
                page.get_by_test_id("document").first.wait_for()
                shot(page, "15-coding-page")
                # The principal, as the document's assessment names it (demo
                # documents say "ASSESSMENT: <title of the principal>.").
                text = page.get_by_test_id("document").first.inner_text()
                assessment = text.split("ASSESSMENT:", 1)[-1].split(".")[0]
                small = {"of", "and", "with", "without", "the", "for", "to", "in"}
                words = " ".join(
                    [w for w in assessment.replace(",", " ").split() if w not in small][
                        :8
                    ]
                )
                page.locator("#dx-0-code").focus()
                page.keyboard.type(words, delay=30)
                page.locator(f"#dx-0-suggest [data-query='{words}']").wait_for()
                page.keyboard.press("ArrowDown")
                page.keyboard.press("Enter")
                page.get_by_test_id("drg").filter(has_text="DRG").wait_for()
                page.keyboard.press("Alt+d")
                page.locator("#dx-1-code").wait_for()
                page.keyboard.type("hypo-osmol", delay=30)
                page.locator(".suggest [role=option]").first.wait_for()
                page.keyboard.press("ArrowDown")
                page.keyboard.press("Enter")
                page.locator("#dx-1-code[value]").wait_for()
                page.wait_for_timeout(500)
                shot(page, "16-coding-cc-added")
            if user == "supervisor":
                shot(page, "17-audit-queue")
                case = page.get_by_test_id("case-row").first
                if case.count():
                    case.get_by_role("link", name="Open").click()
                    page.get_by_test_id("review-actions").wait_for()
                    shot(page, "18-audit-case")
            if user == "admin":
                page.goto(f"{args.url}/status/")
                print("worker:", page.get_by_test_id("worker-status").inner_text())
                shot(page, "07-status")
                page.goto(f"{args.url}/codesets/")
                shot(page, "08-codesets")
                if args.upload:
                    page.get_by_role("link", name="Import a file").click()
                    page.get_by_label("File").set_input_files(str(args.upload))
                    page.get_by_role("button", name="Upload and import").click()
                    page.get_by_test_id("progress-message").wait_for()
                    time.sleep(1.5)
                    shot(page, "09-import-progress")
                    page.get_by_test_id("release-state").filter(
                        has_text="Staged"
                    ).wait_for(timeout=180000)
                    shot(page, "10-staged-diff")
                    page.get_by_test_id("tab-revised").click()
                    page.wait_for_load_state("networkidle")
                    shot(page, "11-diff-revised")
                    page.get_by_label("Effective from").fill(args.effective)
                    page.get_by_role("button", name="Activate release").click()
                    page.get_by_text("is now in force from").wait_for()
                    shot(page, "12-activated")
                    page.goto(f"{args.url}/codesets/")
                    shot(page, "13-codesets-after")
        browser.close()


if __name__ == "__main__":
    main()
