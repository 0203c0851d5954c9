"""Issue 14, narrow screens: at 390 px (a phone; a tablet at the bedside is wider) each
main page fits without the page scrolling sideways, and Sign out is on screen.
Screenshots at 1440x900 and 390x844 of every page land in ./screenshots/narrow-*."""

from __future__ import annotations

import pytest

from codesets.models import Release
from encounters.demo import demo_payment_rates_ensure
from encounters.models import AuditBatch
from encounters.services import encounter_claim
from tests.browser.test_audit_review import case_in_review  # noqa: F401  (fixture)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.conftest import SCREENSHOTS
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1440, "height": 900}
NARROW = {"width": 390, "height": 844}


# Words (hyphens are break points of their own) that the page lays out across lines,
# outside <code>.
BROKEN_WORDS_JS = """(() => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector('main'),
                                           NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    // A file layout or a digest in <code> may be longer than any phone is wide.
    if (node.parentElement.closest('code, pre')) continue;
    const re = /[^\\s\\-\u2013\u2014]{4,}/g;
    for (let m = re.exec(node.textContent); m; m = re.exec(node.textContent)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()]
        .filter(r => r.width > 0).map(r => Math.round(r.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out.slice(0, 10);
})()"""


def _check_pages(browser, live_server, user, password, pages) -> None:
    """Sign ``user`` in at each size, open each (name, path) and check it at 390."""
    for size in (WIDE, NARROW):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Sign out").wait_for()
        for name, path in pages:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / f"narrow-{name}-{size['width']}.png"),
                full_page=True,
            )
            if size is NARROW:
                widths = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                if widths[0] > widths[1]:
                    # Name the culprits: the outermost elements past the right edge.
                    wide = page.evaluate(
                        """[...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > innerWidth
                          && e.parentElement.getBoundingClientRect().right
                             <= innerWidth)
                        .map(e => e.tagName + '.' + e.className + '#' + e.id)"""
                    )
                    pytest.fail(f"{name} scrolls sideways: {widths} {wide}")
                # Nor is a box narrower than the words in it (a column squeezed to
                # a letter or two: "SECTI / ON", a cell a word per line).
                broken = page.evaluate(BROKEN_WORDS_JS)
                assert not broken, f"{name} breaks words: {broken}"
                sign_out = page.get_by_role("button", name="Sign out")
                assert sign_out.is_visible(), name
                box = sign_out.bounding_box()
                assert box is not None
                assert box["x"] >= 0, name
                assert box["x"] + box["width"] <= NARROW["width"], name
        context.close()


def test_a_coders_pages_fit_390_px(
    browser,
    live_server,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    # Claimed, so the queue lists it as the coder's and the coding form opens.
    encounter = encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    pages = [
        ("queue", "/encounters/queue/"),
        ("coding-form", f"/encounters/{encounter.id}/"),
        ("encoder", "/codesets/encoder/"),
        ("pcs-builder", "/codesets/encoder/pcs-builder/"),
        ("pcs-builder-step", "/codesets/encoder/pcs-builder/?code=0DT"),
    ]
    _check_pages(browser, live_server, coder, password, pages)


def test_a_supervisors_audit_queue_and_case_fit_390_px(
    browser,
    live_server,
    supervisor,
    password,
    case_in_review,  # noqa: F811
):
    batch = AuditBatch.objects.create(
        requested_by=supervisor,
        reason="Quarterly review of the pneumonia cases",
        encounter_ids=[case_in_review.id],
    )
    pages = [
        ("audit-queue", "/encounters/audit/"),
        ("audit-case", f"/encounters/{case_in_review.id}/"),
        ("batch-new", "/encounters/audit/batches/new/"),
        ("batch", f"/encounters/audit/batches/{batch.id}/"),
    ]
    _check_pages(browser, live_server, supervisor, password, pages)


def test_an_admins_code_sets_and_users_pages_fit_390_px(
    browser,
    live_server,
    codeset_admin,
    coder,
    password,
    code_sets,  # noqa: F811
):
    release = Release.objects.order_by("id").first()
    assert release is not None
    demo_payment_rates_ensure([2026])
    pages = [
        ("codesets", "/codesets/"),
        ("release", f"/codesets/releases/{release.id}/"),
        ("import", "/codesets/import/"),
        ("users", "/users/"),
        ("user", f"/users/{coder.id}/"),
        ("status", "/status/"),
        ("payment-rates", "/codesets/payment-rates/"),
    ]
    _check_pages(browser, live_server, codeset_admin, password, pages)
