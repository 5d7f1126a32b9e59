"""A partner administrator in the browser: finds a person, downloads everything held about them
(subject access), erases them after a warning and a reason that does not identify them, and
reads the audit trail; runs the retention review; marks a worker as left. Each journey ends by
reading what the API then holds."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from tests import web
from tests.e2e.test_sessions import Api, ok
from tests.web import check_page, errors_shown

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner]["referrals"], auth(role, partner, user))

    return make


def test_a_person_is_exported_and_erased_by_the_partner_admin(api, web_as):
    name = f"Casey Vaughan-{uuid.uuid4().hex[:8]}"
    lead = api()
    person = ok(lead.post("/people", {"full_name": name, "date_of_birth": "1979-04-03"}), 201)
    person_id = person["person_id"]
    body = {
        "person_id": person_id,
        "source": "self",
        "received_on": date.today().isoformat(),
        "needs_notes": "Wants to rebuild confidence after a hospital stay.",
    }
    ok(lead.post("/referrals", body), 201)

    page = web_as("partner_admin")
    page.get_by_role("link", name="Administration").click()
    page.wait_for_url("**/admin")
    check_page(page, "admin")
    page.get_by_label("Full name").fill(name)
    page.locator("#date_of_birth-day").fill("3")
    page.locator("#date_of_birth-month").fill("4")
    page.locator("#date_of_birth-year").fill("1979")
    page.get_by_role("button", name="Find the person").click()
    check_page(page, "admin-found")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(f"**/admin/people/{person_id}")
    check_page(page, "admin-person")

    # the export is a download, kept in no cache
    with page.expect_download() as download:
        page.get_by_role("link", name="Download subject access export").click()
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert exported["person"]["identifiers"]["full_name"] == name
    assert body["needs_notes"] in exported["texts"].values()
    assert [e["event_type"] for e in exported["records"]["referrals"]][:2] == [
        "PersonRegistered",
        "ReferralReceived",
    ]
    answer = page.request.get(page.url + "/export")
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    assert answer.headers["cache-control"] == "no-store"

    # erasure: a warning, then a reason that must not identify them
    page.get_by_role("link", name="Erase this person").click()
    assert "This cannot be undone" in page.inner_text("main")
    check_page(page, "admin-erase")
    page.get_by_role("button", name="Erase this person").click()
    assert errors_shown(page) == [
        "Select why they are being erased",
        "Enter the reason in your words",
    ]
    page.get_by_label("The person asked").check()
    page.get_by_label("The reason, in your words").fill(f"{name} asked us to forget them")
    page.get_by_role("button", name="Erase this person").click()
    [message] = errors_shown(page)
    # in plain words: the reason outlives their details, so it must not say who they are
    assert message.startswith("The reason is kept after their details are erased"), message
    assert ok(lead.get(f"/people/{person_id}"))["status"] == "active"

    reason = page.get_by_label("The reason, in your words")
    reason.fill("Asked at their last session to be forgotten")
    page.get_by_role("button", name="Erase this person").click()
    page.wait_for_url(f"**/admin/people/{person_id}?done=person-erased")
    assert "The person's identifiers have been erased." in page.inner_text("main")
    assert ok(lead.get(f"/people/{person_id}"))["status"] == "erased"
    trail = page.locator("#audit ~ table").inner_text()
    assert "Export person" in trail and "Erase person" in trail


def test_the_retention_review_runs_and_a_worker_is_marked_as_left(api, web_as):
    worker = f"pw-leaves-{uuid.uuid4().hex[:6]}"
    admin = api("partner_admin")
    leaver = f"Lee Leaving {worker[-6:]}"
    ok(admin.post("/workers", {"worker_id": worker, "display_name": leaver}), 201)

    page = web_as("partner_admin")
    page.goto(page.url.rstrip("/") + "/admin")
    page.get_by_role("link", name="Retention review").click()
    check_page(page, "admin-retention")
    page.get_by_role("button", name="Run the review now").click()
    assert "The retention review has run." in page.inner_text("main")

    page.goto(page.url.split("/admin")[0] + "/admin")
    page.get_by_role("link", name="Workforce").click()
    check_page(page, "admin-workers")
    page.locator("tr", has_text=leaver).get_by_role("link", name="Mark as left").click()
    check_page(page, "admin-worker-leave")
    page.get_by_label("Left the organisation").check()
    page.get_by_role("button", name="Mark as left").click()
    page.wait_for_url("**/admin/workers?done=worker-updated")
    held = ok(admin.get(f"/workers/{worker}"))
    assert held["status"] == "left" and held["left_on"] == date.today().isoformat()
    assert "Left " in page.locator("tr", has_text=leaver).inner_text()
