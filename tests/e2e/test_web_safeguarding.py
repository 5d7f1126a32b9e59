"""Safeguarding in the browser: a peer worker raises a concern (by mouse and by keyboard alone),
the lead finds it in the inbox, acknowledges and decides it, acts on it and closes it, and the
raiser follows its status from My day. Bad input and stale or forged forms show what went wrong
and change nothing; each journey ends by reading what the safeguarding API then holds."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests import web
from tests.e2e.test_sessions import (
    Api,
    active_referral,
    held_one_to_one,
    ok,
    register_person,
    when_sessions_sees,
)
from tests.web import check_page, errors_shown, tab_to

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url

CONCERN_PAGE = re.compile(r".*/safeguarding/concerns/([0-9a-f-]{36})(\?.*)?$")


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


@pytest.fixture(scope="module")
def concerns(api):
    """concerns(role="safeguarding_lead", user=None) -> the safeguarding API as that person."""

    def make(role="safeguarding_lead", user=None):
        return api("safeguarding", role, user)

    return make


def concern_id_of(page) -> str:
    found = CONCERN_PAGE.match(page.url)
    assert found, page.url
    return found.group(1)


def fill_a_standard_concern(page, category: str, what_happened: str) -> None:
    """The concern form filled in for an adult at no immediate risk who agreed, no action taken
    at once."""
    page.get_by_label("An adult (18 or over)").check()
    page.get_by_label(category).check()
    page.get_by_role("group", name="Is anyone at immediate risk").get_by_label("No").check()
    page.get_by_label("Standard", exact=True).check()
    page.get_by_label("What happened").fill(what_happened)
    page.get_by_label("No action taken at once").check()
    page.get_by_role("group", name="Has the person agreed").get_by_label("Yes").check()


def raise_by_api(concerns, worker: str, **over) -> dict:
    body = {
        "age_group": "adult",
        "categories": ["self_neglect"],
        "severity": "standard",
        "immediate_risk": False,
        "what_happened": "Flat very cold and no food in.",
        "actions_taken": ["none"],
        "consent_given": True,
        "person_description": f"Man at the Tuesday drop-in {uuid.uuid4().hex[:6]}",
        **over,
    }
    return ok(concerns("peer_worker", worker).post("/concerns", body), 201)


def test_a_raised_concern_is_acknowledged_and_decided_by_the_lead_and_followed_by_its_raiser(
    api, concerns, web_as
):
    worker = f"pw-sg-{uuid.uuid4().hex[:6]}"
    lead_id = f"dsl-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    name = ok(api("referrals", "team_lead").get(f"/people/{person}"))["identifiers"]["full_name"]
    active_referral(api, person, worker)

    # the person's page links here with their id: the form names them
    worker_page = web_as("peer_worker", user=worker)
    worker_page.goto(worker_page.url.rstrip("/") + f"/concerns/new?person_id={person}")
    assert name in worker_page.inner_text("main")
    worker_page.get_by_label("An adult (18 or over)").check()
    worker_page.get_by_label("Financial or material").check()
    worker_page.get_by_role("group", name="Is anyone at immediate risk").get_by_label("No").check()
    worker_page.get_by_label("High", exact=True).check()
    worker_page.get_by_label("What happened").fill(
        "Says her nephew takes her pension card every Friday and keeps the money."
    )
    worker_page.get_by_label("No action taken at once").check()
    worker_page.get_by_role("group", name="Has the person agreed").get_by_label("Yes").check()
    worker_page.get_by_label("What does the person want to happen?").fill(
        "Wants it to stop, without her nephew being in trouble."
    )
    worker_page.get_by_role("button", name="Raise the concern").click()
    worker_page.wait_for_url(CONCERN_PAGE)
    concern_id = concern_id_of(worker_page)
    main = worker_page.inner_text("main")
    assert "Your safeguarding lead has been told and will act on it." in main
    assert "they must acknowledge it by" in main
    assert "pension card every Friday" in main
    check_page(worker_page, "safeguarding-concern-raised")

    # My day: the concern the worker raised, with its status, links to its page
    worker_page.goto(worker_page.url.split("/safeguarding")[0] + "/")
    mine = worker_page.locator("h2#concerns + ul")
    link = mine.locator(f"a[href='/safeguarding/concerns/{concern_id}']")
    assert link.count() == 1
    assert "Raised" in mine.inner_text()

    # the lead: the inbox from the menu, filtered to high severity
    lead = web_as("safeguarding_lead", user=lead_id)
    lead.get_by_role("navigation", name="Menu").get_by_role("link", name="Safeguarding").click()
    lead.wait_for_url("**/safeguarding")
    assert lead.get_by_role("heading", level=1).inner_text() == "Safeguarding inbox"
    assert lead.locator(f"tr[data-concern='{concern_id}']").count() == 1
    lead.get_by_text("Filter the concerns").click()
    lead.get_by_label("Severity").select_option("high")
    lead.get_by_role("button", name="Show concerns").click()
    lead.wait_for_url(re.compile(r".*/safeguarding\?.*severity=high"))
    row = lead.locator(f"tr[data-concern='{concern_id}']")
    assert "High" in row.inner_text() and "Acknowledgement" in row.inner_text()
    assert "Standard" not in lead.locator("tbody").inner_text()
    check_page(lead, "safeguarding-inbox")

    row.get_by_role("link").click()
    lead.wait_for_url(CONCERN_PAGE)
    assert "pension card every Friday" in lead.inner_text("main")
    assert "E-mail sent about this concern" in lead.inner_text("main")
    lead.get_by_role("button", name="Acknowledge").click()
    lead.wait_for_url("**done=concern-acknowledged")
    assert "The concern has been acknowledged." in lead.inner_text("main")
    lead.get_by_label("Section 42 referral to the local authority").check()
    lead.get_by_label("Rationale (optional)").fill("She cannot stop it and wants help to.")
    lead.get_by_label("The agency's reference (optional)").fill("LA-2026-0042")
    lead.get_by_role("button", name="Record the decision").click()
    lead.wait_for_url("**done=concern-decided")
    main = lead.inner_text("main")
    assert "The decision has been recorded." in main
    assert "Agency's reference: LA-2026-0042" in main
    assert "She cannot stop it and wants help to." in main
    check_page(lead, "safeguarding-concern-lead")

    held = ok(concerns().get(f"/concerns/{concern_id}"))
    assert held["status"] == "decided" and held["decision"] == "section_42_referral"
    assert held["acknowledged_by"] == lead_id and held["raised_by"] == worker
    assert held["person_id"] == person and held["severity"] == "high"
    assert held["categories"] == ["financial_material"] and held["immediate_risk"] is False
    assert held["texts"]["views_text"] == "Wants it to stop, without her nephew being in trouble."
    decided = [s for s in held["timeline"] if s["event_type"] == "ConcernDecided"]
    assert decided[0]["texts"]["agency_reference_text"] == "LA-2026-0042"

    # the raiser sees it move on, and sees what a raiser may: no lead's forms, no e-mail
    worker_page.reload()
    assert "Decided" in worker_page.locator("h2#concerns + ul").inner_text()
    worker_page.locator(f"a[href='/safeguarding/concerns/{concern_id}']").click()
    worker_page.wait_for_url(CONCERN_PAGE)
    main = worker_page.inner_text("main")
    assert "Section 42 referral to the local authority" in main
    assert "Decide what happens" not in main and "Change the decision" not in main
    assert "Close the concern" not in main and "E-mail sent" not in main
    worker_page.get_by_label("Note", exact=True).fill("She rang to say the card is back.")
    worker_page.get_by_role("button", name="Add the note").click()
    worker_page.wait_for_url("**done=concern-note-added")
    notes = [
        s for s in ok(concerns().get(f"/concerns/{concern_id}"))["timeline"] if s["by"] == worker
    ]
    assert notes[-1]["texts"] == {"text": "She rang to say the card is back."}

    # the safeguarding menu item shows a peer worker the concerns they raised
    worker_page.get_by_role("navigation", name="Menu").get_by_role(
        "link", name="Safeguarding"
    ).click()
    worker_page.wait_for_url("**/safeguarding")
    assert worker_page.locator(f"tr[data-concern='{concern_id}']").count() == 1
    assert "Safeguarding inbox" not in worker_page.inner_text("main")
    check_page(worker_page, "safeguarding-mine")


def test_a_concern_is_raised_with_the_keyboard_alone(concerns, web_as):
    worker = f"pw-kb-{uuid.uuid4().hex[:6]}"
    description = f"Young man who sleeps by the canal bridge {uuid.uuid4().hex[:6]}"
    page = web_as("peer_worker", user=worker)

    tab_to(page, "Raise a safeguarding concern")
    page.keyboard.press("Enter")
    page.wait_for_url("**/concerns/new")
    tab_to(page, "Describe the person at risk")
    page.keyboard.type(description)
    tab_to(page, "An adult (18 or over)")
    page.keyboard.press("Space")
    tab_to(page, "Self-neglect")
    page.keyboard.press("Space")
    tab_to(page, "Yes")  # anyone at immediate risk? the first choice, then the next: No
    page.keyboard.press("ArrowDown")
    tab_to(page, "Immediate")  # how serious: down to Standard
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab_to(page, "What happened")
    page.keyboard.type("Has not eaten for days and will not see his GP.")
    tab_to(page, "GP told")
    page.keyboard.press("Space")
    tab_to(page, "Yes")  # the next Yes after the actions: has the person agreed?
    page.keyboard.press("Space")
    tab_to(page, "Raise the concern")
    page.keyboard.press("Enter")
    page.wait_for_url(CONCERN_PAGE)
    concern_id = concern_id_of(page)

    held = ok(concerns().get(f"/concerns/{concern_id}"))
    assert held["raised_by"] == worker and held["person_id"] is None
    assert held["texts"]["description_text"] == description
    assert held["categories"] == ["self_neglect"] and held["severity"] == "standard"
    assert held["immediate_risk"] is False and held["actions_taken"] == ["gp_informed"]
    assert held["consent_given"] is True


def test_a_concern_raised_from_a_session_names_its_person_and_day(api, concerns, web_as):
    worker = f"pw-ses-{uuid.uuid4().hex[:6]}"
    person = register_person(api)
    referral = active_referral(api, person, worker)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    session = when_sessions_sees(api, worker, held_one_to_one(referral, worker, start))
    day = start.astimezone(ZoneInfo("Europe/London")).date()

    page = web_as("peer_worker", user=worker)
    page.goto(page.url.rstrip("/") + f"/concerns/new?session_id={session['session_id']}")
    assert page.get_by_label("Person at risk").input_value() == person
    assert [page.get_by_label(box).input_value() for box in ("Day", "Month", "Year")] == [
        str(day.day),
        str(day.month),
        str(day.year),
    ]
    back = page.get_by_role("link", name="Back to the session")
    assert back.get_attribute("href") == f"/sessions/{session['session_id']}"
    fill_a_standard_concern(page, "Neglect and acts of omission", "Said the carer has not come.")
    page.get_by_role("button", name="Raise the concern").click()
    page.wait_for_url(CONCERN_PAGE)

    held = ok(concerns().get(f"/concerns/{concern_id_of(page)}"))
    assert held["person_id"] == person and held["raised_by"] == worker
    raised = next(s for s in held["timeline"] if s["event_type"] == "ConcernRaised")
    assert raised["details"]["happened_on"] == day.isoformat()


def test_bad_input_shows_the_error_summary_and_changes_nothing(concerns, web_as, web_url):
    worker = f"pw-bad-{uuid.uuid4().hex[:6]}"
    page = web_as("peer_worker", user=worker)
    page.goto(web_url() + "/concerns/new")
    page.get_by_role("button", name="Raise the concern").click()
    shown = errors_shown(page)
    for words in (
        "Choose the person at risk, or describe them if they are not known to us",
        "Select whether the concern is about an adult or a child",
        "Enter what happened",
        "Select at least one action taken at once",
        "Select whether the person consented",
    ):
        assert words in shown, shown
    assert page.title().startswith("Error:")
    check_page(page, "safeguarding-raise-errors")

    # the service's refusal (a date before the partner's earliest) at the field it names
    page.get_by_label("Describe the person at risk").fill("Woman at the Monday group")
    page.get_by_label("An adult (18 or over)").check()
    page.get_by_label("Physical", exact=True).check()
    page.get_by_role("group", name="Is anyone at immediate risk").get_by_label("Yes").check()
    page.get_by_label("High", exact=True).check()
    page.get_by_label("What happened").fill("Bruises on both arms.")
    page.get_by_label("No action taken at once").check()
    page.get_by_role("group", name="Has the person agreed").get_by_label("No").check()
    page.get_by_role("button", name="Raise the concern").click()
    shown = errors_shown(page)
    assert "Select immediate: someone is at immediate risk" in shown, shown
    assert "Select why you are going ahead without consent" in shown, shown
    assert page.get_by_label("What happened").input_value() == "Bruises on both arms."

    page.get_by_label("Immediate", exact=True).check()
    page.get_by_label("Others are at risk").check()
    page.get_by_label("Day").fill("3")
    page.get_by_label("Month").fill("1")
    page.get_by_label("Year").fill("1899")
    page.get_by_role("button", name="Raise the concern").click()
    shown = errors_shown(page)
    # in words for a peer worker, not the service's (which names the field and ISO dates)
    earliest = "The date is before the earliest date a concern can record (1 January 1900"
    assert any(s.startswith(earliest) and s.endswith("). Check the year.") for s in shown), shown
    assert page.locator(".nhsuk-error-summary a[href='#happened_on']").count() == 1

    raised = ok(concerns("peer_worker", worker).get("/concerns", status="any"))
    assert raised["total"] == 0


def test_a_lead_sees_a_stale_form_refused_and_a_forged_one_changes_nothing(concerns, web_as):
    worker = f"pw-st-{uuid.uuid4().hex[:6]}"
    concern = raise_by_api(concerns, worker, age_group="child", categories=["neglect"])
    cid = concern["concern_id"]
    first = web_as("safeguarding_lead", user=f"dsl-a-{uuid.uuid4().hex[:6]}")
    second = web_as("safeguarding_lead", user=f"dsl-b-{uuid.uuid4().hex[:6]}")
    address = first.url.rstrip("/") + f"/safeguarding/concerns/{cid}"
    first.goto(address)
    second.goto(address)
    second.get_by_role("button", name="Acknowledge").click()
    second.wait_for_url("**done=concern-acknowledged")

    first.get_by_role("button", name="Acknowledge").click()
    shown = errors_shown(first)
    assert any("Someone else changed this record" in s for s in shown), shown
    held = ok(concerns().get(f"/concerns/{cid}"))
    assert held["version"] == 2 and held["acknowledged_by"].startswith("dsl-b-")

    # a decision the rules refuse is shown at its field: a child's concern is not a section 42
    first.get_by_label("Section 42 referral to the local authority").check()
    first.get_by_role("button", name="Record the decision").click()
    assert first.locator("#decision-error").count() == 1
    assert any("section 42 referral" in s.lower() for s in errors_shown(first))
    # no further action needs its reason (the form says so before the service does)
    first.get_by_label("No further action", exact=True).check()
    first.get_by_role("button", name="Record the decision").click()
    assert "Select why no further action is needed" in errors_shown(first)
    check_page(first, "safeguarding-concern-errors")

    # a form without the session's key, or by a peer worker, changes nothing
    forged = first.request.post(
        address + "/decide", form={"decision": "police", "version": "2"}, max_redirects=0
    )
    assert forged.status == 403
    worker_page = web_as("peer_worker", user=worker)
    token = worker_page.locator("input[name=csrf_token]").first.input_value()
    refused = worker_page.request.post(
        address + "/acknowledge",
        form={"csrf_token": token, "ack_severity": "high", "version": "2"},
        max_redirects=0,
    )
    assert refused.status == 403
    assert ok(concerns().get(f"/concerns/{cid}"))["version"] == 2


def test_a_lead_acts_on_a_decided_concern_records_the_person_and_closes_it(
    api, concerns, web_as, register_worker
):
    worker = register_worker(f"pw-own-{uuid.uuid4().hex[:6]}")
    concern = raise_by_api(concerns, worker)
    cid = concern["concern_id"]
    person = register_person(api)
    deputy = web_as("safeguarding_lead", user=f"dsl-{uuid.uuid4().hex[:6]}")
    deputy.goto(deputy.url.rstrip("/") + f"/safeguarding/concerns/{cid}")
    deputy.get_by_role("button", name="Acknowledge").click()
    deputy.wait_for_url("**done=concern-acknowledged")
    deputy.get_by_label("Internal action plan").check()
    deputy.get_by_role("button", name="Record the decision").click()
    deputy.wait_for_url("**done=concern-decided")

    # an action for a worker on the list, due tomorrow
    due = date.today() + timedelta(days=1)
    deputy.get_by_label("Action", exact=True).select_option("welfare_check")
    deputy.get_by_label("Who will do it").fill(worker)
    deputy.get_by_label("Day").fill(str(due.day))
    deputy.get_by_label("Month").fill(str(due.month))
    deputy.get_by_label("Year").fill(str(due.year))
    deputy.get_by_role("button", name="Add the action").click()
    deputy.wait_for_url("**done=concern-action-added")
    assert "Welfare check" in deputy.locator("#actions + table").inner_text()

    # the person, described when it was raised, is known now
    deputy.get_by_label("The person's Peerlink id").fill(person)
    deputy.get_by_role("button", name="Record the person").click()
    deputy.wait_for_url("**done=concern-person-recorded")

    # closing with an action open is refused at the outcome
    deputy.get_by_label("Risk reduced").check()
    deputy.get_by_role("button", name="Close the concern").click()
    assert any("still open" in s for s in errors_shown(deputy)), errors_shown(deputy)
    # completing an action says how it ended: nothing is assumed
    deputy.get_by_role("button", name="Complete the action").click()
    assert any("how it ended" in s for s in errors_shown(deputy)), errors_shown(deputy)
    deputy.locator("input[name$='_outcome'][value='done']").check()
    deputy.get_by_role("button", name="Complete the action").click()
    deputy.wait_for_url("**done=concern-action-completed")
    deputy.get_by_label("Risk reduced").check()
    deputy.get_by_label("Partly met").check()
    deputy.get_by_role("button", name="Close the concern").click()
    deputy.wait_for_url("**done=concern-closed")
    check_page(deputy, "safeguarding-concern-closed")

    held = ok(concerns().get(f"/concerns/{cid}"))
    assert held["status"] == "closed" and held["outcome"] == "risk_reduced"
    assert held["person_id"] == person and held["decision"] == "internal_action_plan"
    [action] = held["actions"]
    assert action["owner_id"] == worker and action["due_on"] == due.isoformat()
    assert action["outcome"] == "done"


def test_a_deputising_team_lead_pages_through_the_inbox(concerns, web_as, endpoints, auth):
    worker = f"pw-many-{uuid.uuid4().hex[:6]}"
    for _ in range(21):
        raise_by_api(concerns, worker)
    lead = web_as("team_lead")
    lead.goto(lead.url.rstrip("/") + "/safeguarding?status=raised")
    total = ok(concerns().get("/concerns", status="raised"))["total"]
    assert f"{total} concerns (showing 1 to 20)" in lead.inner_text("main")
    assert lead.locator("tbody tr").count() == 20
    lead.get_by_role("link", name="Next").click()
    lead.wait_for_url("**offset=20*")
    assert "showing 21 to" in lead.inner_text("main")
    lead.get_by_role("link", name="Previous").click()
    lead.wait_for_url(re.compile(r".*/safeguarding\?status=raised$"))

    # the service's own inbox pages are retired: the lead's pages are these
    service = endpoints["partners"]["leeds-mind"]["safeguarding"]
    retired = requests.get(service + "/inbox", headers=auth("safeguarding_lead"), timeout=10)
    assert retired.status_code == 404


def test_staff_are_named_as_their_sign_in_names_them_and_a_concern_sent_twice_is_raised_once(
    concerns, web_as
):
    worker = f"pw-nm-{uuid.uuid4().hex[:6]}"
    worker_name = f"Priya Okafor {worker[-6:]}"
    # signing in here with a provider that gives their name: the web app knows it from then on
    page = web_as("peer_worker", user=worker, name=worker_name)
    page.goto(page.url.rstrip("/") + "/concerns/new")
    page.get_by_label("Describe the person at risk").fill(f"Man at the allotment {worker}")
    fill_a_standard_concern(page, "Self-neglect", "No heating and little food in.")

    # the same form sent twice at once raises one concern, both answered with it
    answers = web.send_at_once(page, "form[action='/concerns/new']")
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    [location] = {a.headers["location"] for a in answers}
    raised = ok(concerns("peer_worker", worker).get("/concerns", status="any"))
    assert raised["total"] == 1, raised
    assert location.endswith(
        f"/safeguarding/concerns/{raised['items'][0]['concern_id']}?done=concern-raised"
    )
    cid = raised["items"][0]["concern_id"]

    # the lead (who may not read the workforce list) sees who raised it by name, and their own
    # acknowledgement in the timeline by theirs, not by sign-in ids
    lead_id = f"dsl-nm-{uuid.uuid4().hex[:6]}"
    lead_name = f"Dana Whitlock {lead_id[-6:]}"
    lead = web_as("safeguarding_lead", user=lead_id, name=lead_name)
    lead.goto(lead.url.rstrip("/") + f"/safeguarding/concerns/{cid}")
    heading = lead.get_by_role("heading", level=1).inner_text()
    assert f"by {worker_name}" in heading and worker not in heading
    lead.get_by_role("button", name="Acknowledge").click()
    lead.wait_for_url("**done=concern-acknowledged")
    shown = lead.inner_text("main")
    assert f"by {lead_name}" in shown and lead_id not in shown
    check_page(lead, "safeguarding-concern-staff-by-name")
