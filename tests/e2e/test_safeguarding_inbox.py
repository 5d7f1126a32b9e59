"""The safeguarding lead's inbox in a real headless browser (Debian's chromium): the overdue
concern listed first and coloured, its timeline, and the acknowledge and decide forms posted
without any script; a screenshot is kept under run/<stack>/screenshots/.

The service runs as a process of this test's own with a two-second acknowledgement deadline
for high-severity concerns, so a concern is overdue within the test (the shared stack keeps the
partner's real timescales)."""

from __future__ import annotations

import pytest
import requests

from shared.config import ROOT
from tests.browser import Browser
from tests.conftest import STACK, wait_for

pytest.register_assert_rewrite("tests.integration.safeguarding")
from tests.integration.safeguarding import headers  # noqa: E402

pytestmark = pytest.mark.e2e
# the fixtures: node_database, mailbox, services
pytest_plugins = ["tests.integration.safeguarding"]

FORM = {
    "age_group": "adult",
    "categories": ["domestic"],
    "immediate_risk": False,
    "what_happened": "Bruises she said came from a fall; partner answered every question.",
    "actions_taken": ["none"],
    "consent_given": True,
    "person_description": "Woman who came with her partner to the Monday group",
}


def raise_concern(service, stack_state, severity: str) -> str:
    response = requests.post(
        service.url + "/concerns",
        json={**FORM, "severity": severity},
        headers=headers(stack_state),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["concern_id"]


def submit(browser: Browser, form: str, **fields) -> str:
    """Fill a form's fields and press its button, as a lead would; the page that loads next."""
    script = "".join(
        f"document.querySelector('{form} [name={name}]').value = {value!r};"
        for name, value in fields.items()
    )
    browser._events.clear()
    browser.call(
        "Runtime.evaluate", expression=script + f"document.querySelector('{form} button').click()"
    )
    browser._wait_for("Page.loadEventFired")
    return browser.call(
        "Runtime.evaluate", expression="document.body.innerText", returnByValue=True
    )["result"]["value"]


def test_the_inbox_shows_the_overdue_concern_first_and_a_lead_acts_on_it(stack_state, services):
    service = services().start()
    standard = raise_concern(service, stack_state, "standard")
    overdue = raise_concern(service, stack_state, "high")
    lead = headers(stack_state, "safeguarding_lead", "lead-browser")

    def escalated() -> bool:
        page = requests.get(f"{service.url}/concerns/{overdue}", headers=lead, timeout=10)
        return page.json()["escalations"] != []

    wait_for(escalated, timeout=20, message="the acknowledgement deadline to pass")
    shot = ROOT / "run" / STACK / "screenshots" / "safeguarding-inbox.png"
    with Browser() as browser:
        page = browser.open(service.url + "/inbox", headers=lead)
        assert page.status == 200, page.text
        assert "Safeguarding inbox" in page.text
        order = page.evaluate(
            "[...document.querySelectorAll('tbody tr')].map(r => [r.dataset.concern, r.className])"
        )
        assert order == [[overdue, "overdue"], [standard, "on-time"]]
        colour = page.evaluate(
            "getComputedStyle(document.querySelector('tr.overdue td')).backgroundColor"
        )
        assert colour == "rgb(253, 226, 225)"
        page.screenshot(shot)
        assert shot.stat().st_size > 5_000

        page = browser.open(f"{service.url}/inbox/concerns/{overdue}", headers=lead)
        assert page.status == 200
        for words in ("Raised", "Deadline missed", "Bruises she said", "Monday group"):
            assert words in page.text
        after = submit(browser, "form[action$=acknowledge]")
        assert "Acknowledged" in after and "Record the decision" in after
        after = submit(
            browser,
            "form[action$=decide]",
            decision="section_42_referral",
            rationale="Needs the local authority's enquiry",
        )
        assert "section 42 referral" in after and "Needs the local authority" in after
        browser.open(service.url + "/inbox", headers=lead).screenshot(
            shot.with_name("safeguarding-inbox-after.png")
        )

        refused = browser.open(service.url + "/inbox", headers=headers(stack_state))
        assert refused.status == 403
    concern = requests.get(f"{service.url}/concerns/{overdue}", headers=lead, timeout=10).json()
    assert concern["status"] == "decided" and concern["decision"] == "section_42_referral"
    assert concern["acknowledged_by"] == "lead-browser"


def test_a_form_posted_from_another_site_is_refused_and_changes_nothing(stack_state, services):
    service = services().start()
    concern = raise_concern(service, stack_state, "standard")
    lead = headers(stack_state, "safeguarding_lead", "lead-browser")
    response = requests.post(
        f"{service.url}/inbox/concerns/{concern}/acknowledge",
        data={"expected_version": "1"},
        headers={**lead, "Sec-Fetch-Site": "cross-site"},
        timeout=10,
    )
    assert response.status_code == 403
    bad = requests.post(
        f"{service.url}/inbox/concerns/{concern}/decide",
        data={"decision": "tea"},
        headers=lead,
        timeout=10,
    )
    assert bad.status_code == 422 and "decision" in bad.json()["fields"]
    read = requests.get(f"{service.url}/concerns/{concern}", headers=lead, timeout=10).json()
    assert read["version"] == 1
