"""A person in the browser: found by name and date of birth, their page with referrals,
timeline and SWEMWBS drawn over time against the meaningful-change band (with the same scores
as a table), registering someone who may be registered already, and changing their details
without overwriting a change someone else made meanwhile."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest

from tests import web
from tests.e2e.test_sessions import Api, ok, swemwbs
from tests.web import check_page, errors_shown

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url

TODAY = date.today()


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="referrals", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def a_person(api, born="1982-09-14") -> tuple[str, str]:
    name = f"Alex Moor-{uuid.uuid4().hex[:8]}"
    person = ok(api().post("/people", {"full_name": name, "date_of_birth": born}), 201)
    return person["person_id"], name


def fill_date(page, name: str, day: date) -> None:
    page.locator(f"#{name}-day").fill(str(day.day))
    page.locator(f"#{name}-month").fill(str(day.month))
    page.locator(f"#{name}-year").fill(str(day.year))


def test_a_persons_page_draws_swemwbs_against_the_meaningful_change_band(api, web_as):
    person, name = a_person(api)
    received = (TODAY - timedelta(days=70)).isoformat()
    body = {"person_id": person, "source": "gp", "received_on": received}
    referral = ok(api().post("/referrals", body), 201)["referral_id"]
    for days_ago, score, timepoint in ((60, 15, "start"), (30, 19, "review"), (2, 26, "review")):
        measure = {
            "measure": "swemwbs",
            "timepoint": timepoint,
            "taken_on": (TODAY - timedelta(days=days_ago)).isoformat(),
            "answers": swemwbs(score),
        }
        ok(api("sessions").post(f"/people/{person}/measures", measure), 201)
    held = ok(api("sessions").get(f"/people/{person}/measures"))

    page = web_as("team_lead")
    page.get_by_role("link", name="People", exact=True).click()
    check_page(page, "people")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1982, 9, 14))
    page.get_by_role("button", name="Search").click()
    assert "1 person found" in page.inner_text("main")
    check_page(page, "people-found")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(f"**/people/{person}")
    check_page(page, "person")

    main = page.inner_text("main")
    assert "recorded in the person's audit trail" in main
    assert page.locator(f"a[href='/referrals/{referral}']").count() == 1
    theirs = ok(api().get("/referrals", person_id=person))["items"]
    assert [r["referral_id"] for r in theirs] == [referral]
    chart = page.locator("svg.peerlink-chart")
    assert chart.get_attribute("role") == "img"
    assert chart.locator("circle").count() == 3
    change = held["changes"]["swemwbs"]
    first, threshold = change["first"]["score"], change["threshold"]
    low, high = round(max(first - threshold, 7), 2), round(min(first + threshold, 35), 2)
    assert f"the shaded band, from {low:g} to {high:g}" in chart.locator("desc").text_content()
    assert chart.locator("rect").count() == 1
    table = page.locator("table", has=page.locator("caption", has_text="SWEMWBS scores"))
    scores = [m["metric_score"] for m in sorted(held["measures"], key=lambda m: m["taken_on"])]
    cells = table.locator("tbody tr td:last-child").all_inner_texts()
    assert [float(c.replace("Score", "").strip()) for c in cells] == scores
    assert f"A change of {threshold:g} points or more is meaningful" in main
    for href in (
        f"/sessions/new?person_id={person}",
        f"/people/{person}/measures/new",
        f"/plans/new?person_id={person}",
        f"/concerns/new?person_id={person}",
    ):
        assert page.locator(f"main a[href='{href}']").count() == 1
    assert "Measure recorded" in page.locator("table", has_text="When").last.inner_text()


def test_registering_someone_who_may_be_registered_asks_who_they_are(api, web_as):
    person, name = a_person(api, born="1961-01-20")
    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + "/people/new")
    check_page(page, "person-register")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1961, 1, 20))
    page.get_by_role("button", name="Register person").click()
    assert errors_shown(page) == [
        "Select the person already registered, or say that this is someone new"
    ]
    page.get_by_label("Someone else: register them as a new person").check()
    page.get_by_role("button", name="Register person").click()
    page.wait_for_url(re.compile(r".*/people/[0-9a-f-]{36}\?done=person-registered"))
    new_id = re.search(r"/people/([0-9a-f-]{36})", page.url).group(1)
    assert new_id != person
    both = ok(api().post("/people/search", {"full_name": name, "date_of_birth": "1961-01-20"}))
    assert sorted(both["people"]) == sorted([person, new_id])


def test_details_are_changed_and_a_change_made_meanwhile_is_never_overwritten(api, web_as):
    person, name = a_person(api)
    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + f"/people/{person}")
    page.get_by_role("link", name="Change their details").click()
    check_page(page, "person-edit")
    page.get_by_label("Phone number (optional)").fill("0113 496 0000")
    page.get_by_label("Pronouns (optional)").fill("they/them")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"**/people/{person}?done=person-updated")
    identifiers = ok(api().get(f"/people/{person}"))["identifiers"]
    assert identifiers["phone"] == "0113 496 0000" and identifiers["pronouns"] == "they/them"

    # someone else changes them while the form is open: the form's change is refused
    page.get_by_role("link", name="Change their details").click()
    ok(api().post(f"/people/{person}", {"preferred_name": "Al"}))
    page.get_by_label("Pronouns (optional)").fill("she/her")
    page.get_by_role("button", name="Save changes").click()
    [message] = errors_shown(page)
    assert message.startswith("Someone else changed this record while you were working on it")
    identifiers = ok(api().get(f"/people/{person}"))["identifiers"]
    assert identifiers["pronouns"] == "they/them" and identifiers["preferred_name"] == "Al"

    # a bad value is shown at its field and changes nothing
    page.goto(page.url.split("/people/")[0] + f"/people/{person}/edit")
    page.get_by_label("Postcode (optional)").fill("LS 3HB7")
    page.get_by_role("button", name="Save changes").click()
    [message] = errors_shown(page)
    assert message == "Postcode: must be a UK postcode, e.g. LS7 3HB."
    assert "postcode" not in ok(api().get(f"/people/{person}"))["identifiers"]
