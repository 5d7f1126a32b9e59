"""Referrals in the browser: a team lead records a referral for someone new (found first, then
registered with it), accepts and allocates it, and the peer worker records first contact; a
possible duplicate is shown as a choice; bad input shows the error summary and records nothing;
the team lead's caseloads page; and a referral recorded with the keyboard alone. Each journey
ends by reading what the referrals API then holds."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.web.app import uk_date
from tests import web
from tests.conftest import wait_for
from tests.e2e.test_sessions import Api, ok, wait_until_sessions_sees
from tests.web import check_page, errors_shown, send_at_once, tab_to

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url

TODAY = date.today()


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(role="team_lead", user=None, partner="leeds-mind", service="referrals"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def a_name() -> str:
    return f"Robin Ashby-{uuid.uuid4().hex[:8]}"


def on_workforce(api, worker: str, name: str) -> None:
    answer = api("partner_admin").post(
        "/workers", {"worker_id": worker, "display_name": name, "roles": ["peer_worker"]}
    )
    assert answer.status_code in (201, 409), answer.text


def found(api, full_name: str, born: str) -> list[str]:
    body = {"full_name": full_name, "date_of_birth": born}
    return ok(api().post("/people/search", body))["people"]


def referral_id_of(page) -> str:
    match = re.search(r"/referrals/([0-9a-f-]{36})", page.url)
    assert match, page.url
    return match.group(1)


def fill_date(page, name: str, day: date) -> None:
    page.locator(f"#{name}-day").fill(str(day.day))
    page.locator(f"#{name}-month").fill(str(day.month))
    page.locator(f"#{name}-year").fill(str(day.year))


def test_a_referral_for_someone_new_is_recorded_accepted_allocated_and_contacted(api, web_as):
    worker = f"pw-ref-{uuid.uuid4().hex[:6]}"
    worker_name = f"Jo Worker {worker[-6:]}"
    on_workforce(api, worker, worker_name)
    name = a_name()
    page = web_as("team_lead")

    # the waiting list, then the person looked for first: nobody found, so registered with it
    page.get_by_role("link", name="Referrals", exact=True).click()
    page.wait_for_url("**/referrals")
    check_page(page, "referrals")
    page.get_by_role("link", name="Record a referral").click()
    check_page(page, "referral-find")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1990, 5, 17))
    page.get_by_role("button", name="Find the person").click()
    assert "No one registered here has that NHS number" in page.inner_text("main")
    assert page.get_by_label("Full name").input_value() == name
    check_page(page, "referral-new")
    page.get_by_label("Where did the referral come from?").select_option("gp")
    page.get_by_label("Soon").check()
    page.get_by_label("Anxiety").check()
    page.get_by_label("Isolation").check()
    page.get_by_label("Notes about their needs (optional)").fill("Finds it hard to leave home.")
    page.get_by_label("Low", exact=True).check()
    page.locator("#to_contact").check()
    page.locator("#to_share").check()
    page.get_by_label("Phone", exact=True).check()
    page.get_by_role("button", name="Record referral").click()
    page.wait_for_url(re.compile(r".*/referrals/[0-9a-f-]{36}\?done=referral-recorded"))
    assert "The referral has been recorded." in page.inner_text("main")
    check_page(page, "referral")
    referral_id = referral_id_of(page)

    lead = api()
    held = ok(lead.get(f"/referrals/{referral_id}"))
    assert held["status"] == "received" and held["source"] == "gp" and held["urgency"] == "soon"
    assert held["needs"] == ["anxiety", "isolation"] and held["risk_level"] == "low"
    assert held["texts"]["needs_notes"] == "Finds it hard to leave home."
    assert held["consent"]["to_share"] is True and held["consent"]["contact_methods"] == ["phone"]
    person = ok(lead.get(f"/people/{held['person_id']}"))
    assert person["identifiers"]["full_name"] == name
    assert person["identifiers"]["date_of_birth"] == "1990-05-17"

    # accepted, then allocated from the select of workers with their caseloads
    page.get_by_role("link", name="Decline the referral").click()
    check_page(page, "referral-decline")
    page.go_back()
    page.get_by_role("link", name="Accept the referral").click()
    check_page(page, "referral-accept")
    page.get_by_role("button", name="Accept referral").click()
    assert "The referral has been updated." in page.inner_text("main")
    page.get_by_role("link", name="Allocate the referral").click()
    option = page.locator("#worker_id option", has_text=worker_name)
    assert re.search(r"\(\d+ on caseload\)", option.inner_text())
    page.get_by_label("Worker").select_option(worker)
    check_page(page, "referral-allocate")
    page.get_by_role("button", name="Allocate").click()
    assert "The referral has been updated." in page.inner_text("main")
    assert worker_name in page.inner_text("main")
    held = ok(lead.get(f"/referrals/{referral_id}"))
    assert held["status"] == "allocated" and held["worker_id"] == worker
    assert held["timeline"]["accepted_on"] == TODAY.isoformat()

    # the peer worker records first contact from their caseload
    mine = web_as("peer_worker", user=worker)
    mine.get_by_role("link", name=name).first.click()
    mine.wait_for_url(f"**/people/{held['person_id']}")
    mine.locator(f"a[href='/referrals/{referral_id}']").first.click()
    mine.get_by_role("link", name="Record first contact").click()
    check_page(mine, "referral-first-contact")
    mine.get_by_role("button", name="Record first contact").click()
    assert "The referral has been updated." in mine.inner_text("main")
    held = ok(lead.get(f"/referrals/{referral_id}"))
    assert held["status"] == "active" and held["first_contact_on"] == TODAY.isoformat()


def test_someone_registered_already_is_offered_instead_of_registering_them_twice(api, web_as):
    name = a_name()
    existing = ok(api().post("/people", {"full_name": name, "date_of_birth": "1975-11-02"}), 201)
    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + "/referrals/new?person=new")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1975, 11, 2))
    page.get_by_label("Where did the referral come from?").select_option("self")
    page.get_by_role("button", name="Record referral").click()

    assert "They may be registered already" in page.inner_text("main")
    assert errors_shown(page) == [
        "Select the person already registered, or say that this is someone new"
    ]
    check_page(page, "referral-possible-duplicate")
    assert found(api, name, "1975-11-02") == [existing["person_id"]]
    page.get_by_label(re.compile(re.escape(name) + ", born 2 November 1975")).check()
    page.get_by_role("button", name="Record referral").click()
    page.wait_for_url(re.compile(r".*\?done=referral-recorded"))

    held = ok(api().get(f"/referrals/{referral_id_of(page)}"))
    assert held["person_id"] == existing["person_id"] and held["source"] == "self"
    assert found(api, name, "1975-11-02") == [existing["person_id"]]


def test_a_referral_form_sent_twice_at_once_registers_the_person_and_records_the_referral_once(
    api, web_as
):
    name = a_name()
    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + "/referrals/new?person=new")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1979, 8, 14))
    page.get_by_label("Where did the referral come from?").select_option("gp")
    check_page(page, "referral-new-for-someone-new")

    # a double click, or the same form in two tabs: both answered with the one referral
    answers = send_at_once(page, "form[action='/referrals/new']")
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    [location] = {a.headers["location"] for a in answers}
    assert re.search(r"/referrals/[0-9a-f-]{36}\?done=referral-recorded$", location), location
    [person] = found(api, name, "1979-08-14")
    held = ok(api().get("/referrals", person_id=person))
    assert held["total"] == 1, held

    # the back button and send again: the same answer, still one of each
    [again] = send_at_once(page, "form[action='/referrals/new']", times=1)
    assert again.status_code == 303 and again.headers["location"] == location
    assert found(api, name, "1979-08-14") == [person]
    assert ok(api().get("/referrals", person_id=person))["total"] == 1
    page.goto(page.url.split("/referrals/")[0] + location)
    assert "The referral has been recorded." in page.inner_text("main")

    # a form that made nothing (refused) may be corrected and sent again
    page.goto(page.url.split("/referrals/")[0] + "/referrals/new?person=new")
    page.get_by_label("Full name").fill(name + " Junior")
    fill_date(page, "date_of_birth", date(2001, 3, 9))
    page.get_by_label("Where did the referral come from?").select_option("gp")
    fill_date(page, "received_on", TODAY + timedelta(days=2))
    page.get_by_role("button", name="Record referral").click()
    assert len(errors_shown(page)) == 1
    fill_date(page, "received_on", TODAY)
    page.get_by_role("button", name="Record referral").click()
    page.wait_for_url(re.compile(r".*/referrals/[0-9a-f-]{36}\?done=referral-recorded"))
    assert len(found(api, name + " Junior", "2001-03-09")) == 1


def test_bad_input_shows_the_error_summary_and_records_nothing(api, web_as):
    name = a_name()
    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + "/referrals/new?person=new")
    page.get_by_label("Full name").fill(name)
    fill_date(page, "date_of_birth", date(1988, 2, 3))
    page.locator("#received_on-day").fill("31")
    page.locator("#received_on-month").fill("2")
    page.get_by_role("button", name="Record referral").click()
    assert errors_shown(page) == [
        "Select where the referral came from",
        "The date the referral was received must be a real date, for example 27 3 2026",
    ]
    assert page.title().startswith("Error:")
    # the summary links to its field
    page.get_by_role("link", name="Select where the referral came from").click()
    assert page.evaluate("document.activeElement.id") == "source"
    check_page(page, "referral-new-errors")

    # what only the service can tell (a date still to come) is shown at its field too
    page.get_by_label("Where did the referral come from?").select_option("gp")
    fill_date(page, "received_on", TODAY + timedelta(days=3))
    page.get_by_role("button", name="Record referral").click()
    [message] = errors_shown(page)
    assert message == "The date cannot be in the future: record what has happened."
    assert page.locator("#received_on-error").count() == 1
    assert page.locator(".nhsuk-error-summary a[href='#received_on']").count() == 1
    assert found(api, name, "1988-02-03") == []


def test_the_team_leads_caseloads_and_the_waiting_list_to_allocate_from(api, web_as):
    worker = f"pw-team-{uuid.uuid4().hex[:6]}"
    worker_name = f"Sam Caseload {worker[-6:]}"
    on_workforce(api, worker, worker_name)
    lead = api()
    person = ok(lead.post("/people", {"full_name": a_name(), "date_of_birth": "1969-07-30"}), 201)
    body = {"person_id": person["person_id"], "source": "cmht", "received_on": TODAY.isoformat()}
    carried = ok(lead.post("/referrals", body), 201)["referral_id"]
    ok(lead.post(f"/referrals/{carried}/accept"))
    ok(lead.post(f"/referrals/{carried}/allocate", {"worker_id": worker}))
    waiting = ok(lead.post("/referrals", body), 201)["referral_id"]
    ok(lead.post(f"/referrals/{waiting}/accept"))

    page = web_as("team_lead")
    page.get_by_role("link", name="Caseloads").click()
    page.wait_for_url("**/team")
    check_page(page, "team")
    caseloads = ok(lead.get("/caseloads"))
    row = page.locator("tr", has_text=worker_name)
    assert f"1 of {caseloads['caseload_cap']}" in row.inner_text()
    allocate = page.locator(f"a[href='/referrals/{waiting}/allocate']")
    assert allocate.count() == 1
    row.get_by_role("link", name=re.compile("caseload")).click()
    assert page.locator(f"a[href='/referrals/{carried}']").count() == 1

    page.go_back()
    page.locator(f"a[href='/referrals/{waiting}/allocate']").click()
    page.get_by_label("Worker").select_option(worker)
    page.get_by_role("button", name="Allocate").click()
    assert "The referral has been updated." in page.inner_text("main")
    assert ok(lead.get(f"/referrals/{waiting}"))["worker_id"] == worker
    assert {"worker_id": worker, "caseload": 2, "is_over_cap": False} in ok(lead.get("/caseloads"))[
        "workers"
    ]


def test_a_referral_is_recorded_with_the_keyboard_alone(api, web_as):
    name = a_name()
    page = web_as("team_lead")
    tab_to(page, "Referrals")
    page.keyboard.press("Enter")
    page.wait_for_url("**/referrals")
    tab_to(page, "Record a referral")
    page.keyboard.press("Enter")
    page.wait_for_url("**/referrals/new")
    tab_to(page, "Full name")
    page.keyboard.type(name)
    for part in ("12", "6", "1999"):
        page.keyboard.press("Tab")
        page.keyboard.type(part)
    tab_to(page, "Find the person")
    page.keyboard.press("Enter")
    page.wait_for_url("**/referrals/new/find")
    tab_to(page, "Where did the referral come from?")
    page.keyboard.type("Self")
    tab_to(page, "Routine")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    tab_to(page, "Low mood")
    page.keyboard.press("Space")
    tab_to(page, "Record referral")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*\?done=referral-recorded"))

    held = ok(api().get(f"/referrals/{referral_id_of(page)}"))
    assert held["source"] == "self" and held["needs"] == ["low_mood"]
    assert held["urgency"] == "urgent"
    assert held["received_on"] == TODAY.isoformat()
    assert ok(api().get(f"/people/{held['person_id']}"))["identifiers"] == {
        "full_name": name,
        "date_of_birth": "1999-06-12",
    }


def test_hold_resume_correct_and_discharge_with_what_is_still_open(api, web_as, stack_state):
    worker = f"pw-steps-{uuid.uuid4().hex[:6]}"
    on_workforce(api, worker, f"Kit Steps {worker[-6:]}")
    lead = api()
    person = ok(lead.post("/people", {"full_name": a_name(), "date_of_birth": "1993-03-09"}), 201)
    received = TODAY - timedelta(days=30)
    body = {"person_id": person["person_id"], "source": "gp", "received_on": received.isoformat()}
    rid = ok(lead.post("/referrals", body), 201)["referral_id"]
    ok(lead.post(f"/referrals/{rid}/accept"))
    ok(lead.post(f"/referrals/{rid}/allocate", {"worker_id": worker}))
    ok(lead.post(f"/referrals/{rid}/first-contact"))
    wait_until_sessions_sees(stack_state, rid, "active")
    tomorrow = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=1)
    booking = {
        "kind": "one_to_one",
        "referral_id": rid,
        "mode": "phone",
        "location": "remote",
        "worker_ids": [worker],
        "planned_start_at": tomorrow.isoformat(),
        "planned_duration_minutes": 45,
    }
    ok(api(service="sessions").post("/sessions", booking), 201)

    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + f"/referrals/{rid}/consent")
    check_page(page, "referral-consent")
    page.get_by_role("link", name="Back to the referral").click()

    # someone else changes the referral while the form is open: nothing is overwritten
    page.get_by_role("link", name="Put support on hold").click()
    check_page(page, "referral-hold")
    correction = {"field": "urgency", "value": "urgent", "reason": "The GP phoned back"}
    ok(lead.post(f"/referrals/{rid}/correct", correction))
    page.get_by_label("Hospital admission").check()
    page.get_by_role("button", name="Put on hold").click()
    [message] = errors_shown(page)
    assert message.startswith("Someone else changed this record while you were working on it")
    assert ok(lead.get(f"/referrals/{rid}"))["status"] == "active"
    page.goto(page.url)
    page.get_by_label("Hospital admission").check()
    page.get_by_role("button", name="Put on hold").click()
    assert ok(lead.get(f"/referrals/{rid}"))["status"] == "on_hold"
    page.get_by_role("link", name="Resume support").click()
    page.get_by_role("button", name="Resume support").click()
    assert ok(lead.get(f"/referrals/{rid}"))["status"] == "active"

    # a correction that would run the timeline backwards is refused, then one that does not
    page.get_by_role("link", name="Correct a date or coded detail").click()
    page.get_by_label("What was recorded wrongly?").select_option("first_contact_on")
    page.get_by_role("button", name="Continue").click()
    check_page(page, "referral-correct")
    fill_date(page, "value", received - timedelta(days=2))
    page.get_by_label("Why is it being corrected?").fill("Typed from the wrong letter")
    page.get_by_role("button", name="Record correction").click()
    [message] = errors_shown(page)
    first_wrong = uk_date(received - timedelta(days=2))
    assert message == (
        f"Date of first contact ({first_wrong}) is before date allocated ({uk_date(TODAY)}):"
        " a referral is first contact on or after it is allocated."
    )
    assert page.locator("#value-error").count() == 1
    held = ok(lead.get(f"/referrals/{rid}"))
    assert held["timeline"]["first_contact_on"] == TODAY.isoformat() and not held["corrections"][1:]
    page.get_by_role("link", name="Correct something else").click()
    page.get_by_label("What was recorded wrongly?").select_option("received_on")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Why is it being corrected?").fill("Typed from the wrong letter")
    earlier = received - timedelta(days=4)
    fill_date(page, "value", earlier)
    page.get_by_role("button", name="Record correction").click()
    assert "The referral has been updated." in page.inner_text("main")
    held = ok(lead.get(f"/referrals/{rid}"))
    assert held["timeline"]["received_on"] == earlier.isoformat()
    assert held["corrections"][-1]["reason"] == "Typed from the wrong letter"
    corrections = page.get_by_role(
        "table", name="Corrections made to this referral, with the reasons"
    )
    assert "Typed from the wrong letter" in corrections.inner_text()

    # discharge shows what is still open first, and cancels it when asked to
    page.get_by_role("link", name="Discharge from support").click()
    assert "Still open for this person" in page.inner_text("main")
    assert page.locator("main li", has_text="(for this referral)").count() == 1
    check_page(page, "referral-discharge")
    page.get_by_label("Goals met").check()
    page.locator("#close_open_items").check()
    page.get_by_role("button", name="Discharge").click()
    held = ok(lead.get(f"/referrals/{rid}"))
    assert held["status"] == "discharged" and held["outcome_reason"] == "goals_met"
    assert held["timeline"]["discharged_on"] == TODAY.isoformat()

    page.goto(page.url.split("/referrals/")[0] + "/referrals/offers")
    check_page(page, "referral-offers")


def test_a_referral_is_offered_with_consent_and_the_partner_accepts_it(api, web_as):
    name = a_name()
    lead = api()
    person = ok(lead.post("/people", {"full_name": name, "date_of_birth": "1984-08-08"}), 201)
    body = {
        "person_id": person["person_id"],
        "source": "gp",
        "received_on": TODAY.isoformat(),
        "needs": ["identity"],
        "consent": {"to_share": True, "to_contact": True, "recorded_on": TODAY.isoformat()},
    }
    rid = ok(lead.post("/referrals", body), 201)["referral_id"]

    page = web_as("team_lead")
    page.goto(page.url.rstrip("/") + f"/referrals/{rid}")
    page.get_by_role("link", name="Offer to another partner").click()
    check_page(page, "referral-offer")
    page.get_by_label("MESMAC").check()
    page.get_by_role("button", name="Offer referral").click()
    assert "The referral has been updated." in page.inner_text("main")
    assert ok(lead.get(f"/referrals/{rid}"))["offered_to"] == "mesmac"
    # one offer at a time: while it is open it may be withdrawn, not made again
    assert page.get_by_role("link", name="Withdraw the offer").count() == 1
    assert page.get_by_role("link", name="Offer to another partner").count() == 0

    history = ok(lead.get(f"/referrals/{rid}/history"))["events"]
    [offer_id] = [e["payload"]["offer_id"] for e in history if e["event_type"] == "ReferralOffered"]
    theirs = web_as("team_lead", partner="mesmac")
    offers = theirs.url.rstrip("/") + "/referrals/offers"
    # other tests offer referrals from Leeds Mind too: this one is found by its own link
    this_offer = theirs.locator(f'a[href="/referrals/offers/{offer_id}"]')

    def offered():
        theirs.goto(offers)
        return this_offer.count() == 1

    wait_for(offered, timeout=30, message="the offer never reached mesmac")
    assert this_offer.inner_text() == "Leeds Mind"
    check_page(theirs, "referral-offers-received")
    this_offer.click()

    def arrived():
        theirs.reload()
        return theirs.get_by_role("heading", level=1).inner_text() == name

    wait_for(arrived, timeout=30, message="the person's record never arrived")
    check_page(theirs, "referral-offer-answer")
    theirs.get_by_label("Accept: it becomes a referral here").check()
    theirs.get_by_role("button", name="Send answer").click()
    theirs.wait_for_url(re.compile(r".*/referrals/[0-9a-f-]{36}\?done=referral-recorded"))
    accepted = ok(api(partner="mesmac").get(f"/referrals/{referral_id_of(theirs)}"))
    assert accepted["transferred_from"] == "leeds-mind" and accepted["needs"] == ["identity"]
    there = ok(api(partner="mesmac").get(f"/people/{accepted['person_id']}"))
    assert there["identifiers"]["full_name"] == name
