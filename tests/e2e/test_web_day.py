"""My day in the browser: a peer worker signs in and sees their day's sessions, their caseload
by name with each person's next contact, and the concerns they raised; every part of it is
reached by keyboard, meets WCAG 2.2 AA (axe-core) and fits a 320 px phone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import web
from tests.e2e.test_sessions import (
    Api,
    active_referral,
    ok,
    register_person,
    wait_until_sessions_sees,
)
from tests.web import check_page, tab_to

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def test_a_peer_worker_sees_their_day_caseload_and_next_contacts(api, stack_state, web_as):
    worker = f"pw-day-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    name = ok(api("referrals").get(f"/people/{person}"))["identifiers"]["full_name"]
    referral = active_referral(api, person, worker)
    wait_until_sessions_sees(stack_state, referral, "active")
    later_today = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    booked = ok(
        api(role="peer_worker", user=worker).post(
            "/sessions",
            {
                "kind": "one_to_one",
                "referral_id": referral,
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": later_today.isoformat(),
                "planned_duration_minutes": 45,
            },
        ),
        201,
    )

    page = web_as("peer_worker", user=worker)
    caseload = page.locator("table", has=page.locator("caption", has_text="allocated to you"))
    assert caseload.get_by_role("link", name=name).count() == 1
    assert "None booked" not in caseload.inner_text()
    assert "One to one" in page.inner_text("main")
    assert page.locator(f"a[href='/sessions/{booked['session_id']}']").count() >= 1
    check_page(page, "my-day")

    # by keyboard: from the top of the page to the person's record
    page.goto(page.url)
    tab_to(page, name)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/people/{person}")


def test_my_day_without_a_sign_in_goes_to_sign_in_and_comes_back(
    web_url, playwright_browser, tokens
):
    context = playwright_browser.new_context()
    page = context.new_page()
    page.goto(web_url() + "/")
    assert page.get_by_role("button", name="Sign in").count() == 1
    answer = page.request.get(web_url() + "/referrals?status=received", max_redirects=0)
    assert answer.status == 303
    assert answer.headers["location"] == "/auth/login?next=%2Freferrals%3Fstatus%3Dreceived"

    # signing in from there lands back on the page asked for
    username, password = tokens.account("team_lead")
    page.goto(web_url() + "/referrals?status=received")
    page.locator("[name=username]").fill(username)
    page.locator("[name=password]").fill(password)
    page.locator("button[type=submit]").click()
    page.wait_for_url(web_url() + "/referrals?status=received")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Referrals")
    assert page.get_by_label("Show").input_value() == "received"
    context.close()
