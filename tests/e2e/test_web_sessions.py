"""Sessions, groups, plans, measures and signposting in the browser: a peer worker records a
one-to-one with its notes and a SWEMWBS, a group's register, a drop-in, and drafts, revises and
prints a crisis and safety plan; each journey then checks what the sessions API holds, bad input
is shown in an error summary and changes nothing, every page meets WCAG 2.2 AA (axe-core) and
fits a 320 px phone, and a one-to-one is recorded with the keyboard alone."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta

import pytest

from services.web.app import LONDON
from tests import web
from tests.e2e.test_sessions import (
    Api,
    active_referral,
    ok,
    register_person,
    wait_until_sessions_sees,
)
from tests.web import check_page, errors_shown, tab_to

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def new_worker() -> str:
    return f"pw-web-{uuid.uuid4().hex[:8]}"


def person_on_caseload(api, stack_state, worker: str) -> tuple[str, str]:
    """Someone in active support allocated to the worker: (person_id, name)."""
    person = register_person(api)
    name = ok(api("referrals").get(f"/people/{person}"))["identifiers"]["full_name"]
    referral = active_referral(api, person, worker)
    wait_until_sessions_sees(stack_state, referral, "active")
    return person, name


def sessions_of(api, worker: str, **query) -> list[dict]:
    return ok(api(role="peer_worker", user=worker).get("/sessions", **query))["items"]


def started(page, hours_ago: int) -> None:
    """The session's date and start time, so long ago."""
    start = datetime.now(LONDON) - timedelta(hours=hours_ago)
    for part, value in (("day", start.day), ("month", start.month), ("year", start.year)):
        page.locator(f"#on-{part}").fill(str(value))
    page.get_by_label("Start time").fill(start.strftime("%H:%M"))


def heading(page) -> str:
    return page.get_by_role("heading", level=1).first.inner_text()


def test_a_one_to_one_is_recorded_with_its_notes_and_then_a_swemwbs(
    api, stack_state, web_as, web_url
):
    worker = new_worker()
    person, name = person_on_caseload(api, stack_state, worker)
    page = web_as("peer_worker", user=worker)

    page.get_by_role("link", name="Record a session").first.click()
    page.wait_for_url("**/sessions/new")
    check_page(page, "record-a-session")
    # nothing chosen: the error summary names what is missing, and nothing is recorded
    page.get_by_role("button", name="Save the session").click()
    assert "Select what kind of session it was" in errors_shown(page)
    assert sessions_of(api, worker) == []

    page.get_by_label("One-to-one", exact=True).check()
    page.get_by_label("Who was the one-to-one with?").select_option(label=name)
    page.get_by_label("How long did it last, in minutes").fill("50")
    page.get_by_label("How did it happen").select_option("phone")
    page.get_by_label("Where was it").select_option("remote")
    page.get_by_text("Themes talked about").first.click()
    page.get_by_label("Anxiety").check()
    page.get_by_text("Actions agreed").first.click()
    page.get_by_label("Measure due").check()
    page.get_by_label("Notes", exact=True).fill(
        "Talked through the week; trying the walking group."
    )
    page.get_by_role("button", name="Save the session").click()
    assert heading(page).startswith("My day"), errors_shown(page)
    assert "The session has been recorded." in page.inner_text("main")

    [held] = sessions_of(api, worker, person_id=person)
    assert (held["kind"], held["status"], held["duration_minutes"]) == ("one_to_one", "held", 50)
    assert (held["mode"], held["location"], held["seen"]) == ("phone", "remote", 1)
    notes = ok(api(role="peer_worker", user=worker).get(f"/sessions/{held['session_id']}/notes"))
    assert notes["notes"]["themes"] == ["anxiety"]
    assert notes["notes"]["actions"] == ["measure_due"]
    assert notes["notes"]["text"] == "Talked through the week; trying the walking group."

    page.goto(f"{web_url()}/sessions/{held['session_id']}")
    assert "Talked through the week" in page.inner_text("main")
    check_page(page, "session")

    page.get_by_role("link", name=f"Record a measure (SWEMWBS) for {name}").click()
    check_page(page, "record-a-measure")
    page.get_by_role("button", name="Save the SWEMWBS").click()
    assert "Select an answer to statement 1" in errors_shown(page)
    assert (
        ok(api(role="peer_worker", user=worker).get(f"/people/{person}/measures"))["measures"] == []
    )
    page.get_by_label("At the start of support").check()
    for statement in range(1, 8):
        group = page.get_by_role("group", name=f"{statement}. ", exact=False)
        group.first.get_by_label("Often").check()
    page.get_by_role("button", name="Save the SWEMWBS").click()
    page.wait_for_url(re.compile(rf"/people/{person}\?done=measure-recorded$"))
    [measure] = ok(api(role="peer_worker", user=worker).get(f"/people/{person}/measures"))[
        "measures"
    ]
    assert (measure["measure"], measure["timepoint"]) == ("swemwbs", "start")
    assert measure["taken_on"] == datetime.now(LONDON).date().isoformat()
    assert measure["metric_score"] == 25.03  # a raw 28 on Warwick's conversion table

    page.goto(f"{web_url()}/people/{person}/signposting/new?session_id={held['session_id']}")
    check_page(page, "signposting")
    page.get_by_label("Where were they signposted?").select_option("housing")
    page.get_by_role("button", name="Record signposting").click()
    assert "The signposting has been recorded." in page.inner_text("main")
    page.get_by_label("Taken up", exact=True).check()
    page.get_by_role("button", name="Save").click()
    [signposted] = ok(api(role="peer_worker", user=worker).get("/signposting", person_id=person))[
        "items"
    ]
    assert (signposted["destination"], signposted["outcome"]) == ("housing", "taken_up")
    assert signposted["session_id"] == held["session_id"]


def test_a_group_session_is_recorded_from_its_register(api, stack_state, web_as, web_url):
    worker = new_worker()
    newcomer, newcomer_name = person_on_caseload(api, stack_state, worker)
    lead = api()
    group = ok(
        lead.post(
            "/groups",
            {
                "name": f"Walk and talk {uuid.uuid4().hex[:4]}",
                "kind": "weekly_peer_group",
                "capacity": 3,
                "facilitator_ids": [worker],
                "on": (date.today() - timedelta(days=30)).isoformat(),
            },
        ),
        201,
    )
    gid = group["group_id"]
    members = [register_person(api) for _ in range(3)]
    for person in members:
        ok(lead.post(f"/groups/{gid}/join", {"person_id": person}))
    absent = ok(api("referrals").get(f"/people/{members[1]}"))["identifiers"]["full_name"]

    page = web_as("peer_worker", user=worker)
    page.get_by_role("link", name="Groups").first.click()
    check_page(page, "groups")
    page.get_by_role("link", name=group["name"]).click()
    check_page(page, "group")
    # the group is full: someone from the caseload joins its waiting list
    page.get_by_label("Who joins?").select_option(label=newcomer_name)
    page.get_by_role("button", name="Add to the group").click()
    assert "The group has been updated." in page.inner_text("main")
    assert ok(lead.get(f"/groups/{gid}"))["waiting_list"] == [newcomer]

    page.get_by_role("link", name="Record a session of this group").click()
    # the register lists every member, each marked as attended to begin with
    for person in members:
        assert page.locator(f"#attendance-{person}").input_value() == "attended"
    assert page.locator(f"#attendance-{newcomer}").count() == 0
    page.get_by_label(absent).select_option("did_not_attend")
    started(page, hours_ago=2)
    page.get_by_label("How long did it last, in minutes").fill("90")
    page.get_by_label("How did it happen").select_option("outdoors_walk_and_talk")
    page.get_by_label("Where was it").select_option("outdoors")
    page.get_by_role("button", name="Save the session").click()
    assert heading(page).startswith("My day"), errors_shown(page)

    register = ok(lead.get(f"/groups/{gid}/register"))
    [held] = register["sessions"]
    assert (held["status"], held["duration_minutes"]) == ("held", 90)
    marks = {row["person_id"]: row["attendance"][0]["status"] for row in register["people"]}
    assert marks == {
        members[0]: "attended",
        members[1]: "did_not_attend",
        members[2]: "attended",
        newcomer: None,
    }

    page.goto(f"{web_url()}/groups/{gid}/register")
    assert "Did not attend" in page.inner_text("main")
    check_page(page, "group-register")

    # a member leaves: the first waiting takes the place
    page.goto(f"{web_url()}/groups/{gid}")
    page.get_by_label("Who leaves?").select_option(label=absent)
    page.get_by_label("Why", exact=True).select_option("moved_away")
    page.get_by_role("button", name="Take off the group").click()
    after = ok(lead.get(f"/groups/{gid}"))
    assert after["members"] == [members[0], members[2], newcomer]
    assert after["waiting_list"] == []

    # a peer worker creates a group of their own, facilitating it
    page.goto(f"{web_url()}/groups")
    page.get_by_role("link", name="Create a group").click()
    check_page(page, "create-a-group")
    page.get_by_label("Name of the group").fill("   ")
    page.get_by_role("button", name="Create the group").click()
    assert errors_shown(page) == [
        "Enter the group's name",
        "Select the kind of group",
        "Enter the number of places",
    ]
    page.get_by_label("Name of the group").fill("Hearing voices group")
    page.get_by_label("Kind of group").select_option("weekly_peer_group")
    page.get_by_label("Number of places").fill("8")
    page.get_by_role("button", name="Create the group").click()
    assert "The group has been created." in page.inner_text("main")
    created = page.url.split("/groups/")[1].split("?")[0]
    made = ok(lead.get(f"/groups/{created}"))
    assert (made["name"], made["capacity"], made["facilitator_ids"]) == (
        "Hearing voices group",
        8,
        [worker],
    )


def test_a_drop_in_is_recorded_with_its_anonymous_count(api, stack_state, web_as, web_url):
    worker = new_worker()
    person, name = person_on_caseload(api, stack_state, worker)
    page = web_as("peer_worker", user=worker)
    page.goto(f"{web_url()}/sessions/new")
    page.get_by_label("Drop-in", exact=True).check()
    page.get_by_label("How many came without giving a name?").fill("lots")
    page.get_by_label(name).check()
    page.get_by_role("button", name="Save the session").click()
    assert errors_shown(page) == ["How many came without giving a name must be a whole number"]
    assert sessions_of(api, worker) == []

    page.get_by_label("How many came without giving a name?").fill("7")
    page.get_by_role("button", name="Save the session").click()
    assert heading(page).startswith("My day"), errors_shown(page)
    [drop_in] = sessions_of(api, worker, kind="drop_in")
    assert (drop_in["status"], drop_in["anonymous_attendees"], drop_in["seen"]) == ("held", 7, 1)
    recorded = ok(api(role="peer_worker", user=worker).get(f"/sessions/{drop_in['session_id']}"))
    assert recorded["attendance"] == [
        {"person_id": person, "status": "attended", "attendance_code": "5"}
    ]


def test_a_crisis_plan_is_drafted_revised_against_its_version_and_printed(
    api, stack_state, web_as, web_url
):
    worker = new_worker()
    person, name = person_on_caseload(api, stack_state, worker)
    page = web_as("peer_worker", user=worker)
    page.get_by_role("link", name="Plans").first.click()
    check_page(page, "plans")
    page.get_by_role("link", name=f"Draft a plan for {name}").click()
    check_page(page, "choose-a-plan")
    page.get_by_role("link", name="Crisis and safety plan").click()
    check_page(page, "draft-a-plan")
    page.get_by_label("Sleep changes").check()
    page.get_by_label("Warning signs in their words").fill("I stop answering my phone.")
    page.locator("#person-type-0").select_option("friend")
    page.locator("#person-contact-0").fill("Jo, 07700 900123")
    page.locator("#service-type-0").select_option("samaritans")
    page.get_by_role("button", name="Save the plan").click()
    assert "The plan has been saved." in page.inner_text("main")
    check_page(page, "plan")
    plan_id = page.url.split("/plans/")[1].split("?")[0]

    page.get_by_role("link", name="Revise the plan").click()
    assert page.get_by_label("Warning signs in their words").input_value() == (
        "I stop answering my phone."
    )
    page.get_by_label("Warning signs in their words").fill("I stop answering my phone or door.")
    page.locator("#service-type-1").select_option("crisis_line")
    page.locator("#service-contact-1").fill("Leeds crisis line, 0800 000 0000")
    page.get_by_label("Why is it revised?").select_option("after_a_crisis")
    page.get_by_role("button", name="Save the revised plan").click()
    assert "The plan has been saved." in page.inner_text("main")

    plan = ok(api(role="peer_worker", user=worker).get(f"/plans/{plan_id}"))
    assert (plan["kind"], plan["revision"], plan["person_id"]) == ("crisis_safety", 2, person)
    content, texts = plan["content"], plan["texts"]
    assert content["warning_signs"] == ["sleep_changes"]
    assert texts[content["warning_signs_text_id"]] == "I stop answering my phone or door."
    assert [c["type"] for c in content["people"]] == ["friend"]
    assert texts[content["people"][0]["contact_text_id"]] == "Jo, 07700 900123"
    assert [c["type"] for c in content["services"]] == ["samaritans", "crisis_line"]
    assert texts[content["services"][1]["contact_text_id"]] == "Leeds crisis line, 0800 000 0000"

    # someone else revises it while this worker has the form open: nothing is overwritten
    page.get_by_role("link", name="Revise the plan").click()
    elsewhere = dict(content, what_helps=["music"])
    ok(
        api(role="peer_worker", user=worker).post(
            f"/plans/{plan_id}/revise",
            {"kind": "crisis_safety", "content": elsewhere, "reason": "person_asked"},
        )
    )
    page.get_by_label("Going outside or walking").check()
    page.get_by_label("Why is it revised?").select_option("person_asked")
    page.get_by_role("button", name="Save the revised plan").click()
    assert any("Someone else changed this record" in e for e in errors_shown(page))
    plan = ok(api(role="peer_worker", user=worker).get(f"/plans/{plan_id}"))
    assert (plan["revision"], plan["content"]["what_helps"]) == (3, ["music"])

    page.goto(f"{web_url()}/plans/{plan_id}/print")
    printed = page.inner_text("main")
    assert name in printed
    assert "I stop answering my phone or door." in printed
    assert "Jo, 07700 900123" in printed and "Leeds crisis line, 0800 000 0000" in printed
    assert "Samaritans" in printed
    check_page(page, "plan-print")

    # reviewed, its interval changed, closed: each as the API then holds it
    page.get_by_role("link", name="Back to the plan").click()
    page.get_by_label("Reviewed with the person: no changes needed").check()
    page.get_by_role("button", name="Record the review").click()
    assert "The plan's review has been recorded." in page.inner_text("main")
    page.get_by_label("Review it every how many days?").fill("30")
    page.get_by_role("button", name="Change how often").click()
    page.get_by_label("Why is it closed?").select_option("replaced_by_another_plan")
    page.get_by_role("button", name="Close the plan").click()
    plan = ok(api(role="peer_worker", user=worker).get(f"/plans/{plan_id}"))
    today = datetime.now(LONDON).date()
    assert plan["last_reviewed_on"] == today.isoformat()
    assert (plan["review_interval_days"], plan["status"]) == (30, "closed")

    # a recovery and wellbeing plan: a goal and its first step, in the person's words
    page.goto(f"{web_url()}/plans/new?person_id={person}&kind=recovery_wellbeing")
    page.locator("#goal-area-0").select_option("connection_and_community")
    page.locator("#goal-text-0").fill("Get to know people in my area.")
    page.locator("#goal-0-step-0").fill("Go to the Tuesday walk.")
    page.get_by_role("button", name="Save the plan").click()
    assert "The plan has been saved." in page.inner_text("main"), errors_shown(page)
    recovery = ok(
        api(role="peer_worker", user=worker).get(
            f"/plans/{page.url.split('/plans/')[1].split('?')[0]}"
        )
    )
    [goal] = recovery["content"]["goals"]
    assert goal["life_area"] == "connection_and_community"
    assert recovery["texts"][goal["text_id"]] == "Get to know people in my area."
    assert [recovery["texts"][step["text_id"]] for step in goal["steps"]] == [
        "Go to the Tuesday walk."
    ]


def test_a_one_to_one_is_recorded_with_the_keyboard_alone(api, stack_state, web_as, web_url):
    worker = new_worker()
    person, name = person_on_caseload(api, stack_state, worker)
    page = web_as("peer_worker", user=worker)
    tab_to(page, "Record a session")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sessions/new")
    tab_to(page, "One-to-one")
    page.keyboard.press("Space")
    tab_to(page, "Who was the one-to-one with?")
    page.keyboard.press("ArrowDown")
    tab_to(page, "How long did it last, in minutes")
    page.keyboard.press("Control+A")
    page.keyboard.type("30")
    tab_to(page, "Notes")
    page.keyboard.type("Met for a coffee and a chat.")
    tab_to(page, "Save the session")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/\?done=session-recorded$"))

    [held] = sessions_of(api, worker, person_id=person)
    assert (held["kind"], held["duration_minutes"], held["seen"]) == ("one_to_one", 30, 1)
    notes = ok(api(role="peer_worker", user=worker).get(f"/sessions/{held['session_id']}/notes"))
    assert notes["notes"]["text"] == "Met for a coffee and a chat."


def test_a_booked_one_to_one_is_held_corrected_and_voided_from_its_page(
    api, stack_state, web_as, web_url
):
    worker = new_worker()
    person, name = person_on_caseload(api, stack_state, worker)
    page = web_as("peer_worker", user=worker)
    page.get_by_role("link", name="Record a session").first.click()
    page.get_by_role("link", name="Book a session for later").click()
    check_page(page, "book-a-session")
    page.get_by_label("One-to-one", exact=True).check()
    page.get_by_label("Who is the one-to-one with?").select_option(label=name)
    started(page, hours_ago=2)
    page.get_by_role("button", name="Book the session").click()
    assert "The session has been booked." in page.inner_text("main")
    [booked] = sessions_of(api, worker, person_id=person)
    assert (booked["status"], booked["duration_minutes"]) == ("booked", 60)

    page.get_by_role("link", name="Record it as held").click()
    check_page(page, "record-a-booked-session")
    page.get_by_label(f"Did {name} come?").select_option("late_seen")
    page.get_by_label("Notes", exact=True).fill("Arrived after the bus was late.")
    page.get_by_role("button", name="Save as held").click()
    assert heading(page).startswith("My day"), errors_shown(page)
    pw = api(role="peer_worker", user=worker)
    held = ok(pw.get(f"/sessions/{booked['session_id']}"))
    assert held["status"] == "held"
    assert [a["status"] for a in held["attendance"]] == ["late_seen"]

    page.goto(f"{web_url()}/sessions/{booked['session_id']}")
    page.get_by_label("Their attendance").select_option("attended")
    page.get_by_label("Why it is corrected").select_option("recorded_in_error")
    page.get_by_role("button", name="Correct attendance").click()
    assert "The session has been updated." in page.inner_text("main")
    corrected = ok(pw.get(f"/sessions/{booked['session_id']}"))
    assert [a["status"] for a in corrected["attendance"]] == ["attended"]
    assert len(corrected["attendance_history"]) == 2

    # the notes corrected: without a reason nothing changes
    page.get_by_label("Notes", exact=True).fill("Arrived on time after all.")
    page.get_by_role("button", name="Save the notes").click()
    assert errors_shown(page) == ["Select why"]
    history = ok(pw.get(f"/sessions/{booked['session_id']}/notes/history"))["history"]
    assert [h["text"] for h in history] == ["Arrived after the bus was late."]
    page.get_by_label("Why they are corrected").select_option("new_information")
    page.get_by_role("button", name="Save the notes").click()
    assert "The notes have been saved." in page.inner_text("main")
    history = ok(pw.get(f"/sessions/{booked['session_id']}/notes/history"))["history"]
    assert [(h["text"], h["reason"]) for h in history] == [
        ("Arrived after the bus was late.", None),
        ("Arrived on time after all.", "new_information"),
    ]
    assert "Notes history" in page.inner_text("main")

    page.get_by_label("Why it is voided").select_option("duplicate")
    page.get_by_role("button", name="Void the session").click()
    voided = ok(pw.get(f"/sessions/{booked['session_id']}"))
    assert (voided["status"], voided["voided"]["reason"]) == ("voided", "duplicate")

    # another booked session is cancelled from its page
    tomorrow = datetime.now(LONDON).replace(microsecond=0) + timedelta(days=1)
    later = ok(
        pw.post(
            "/sessions",
            {
                "kind": "one_to_one",
                "referral_id": booked["referral_id"],
                "mode": "phone",
                "location": "remote",
                "worker_ids": [worker],
                "planned_start_at": tomorrow.isoformat(),
            },
        ),
        201,
    )
    page.goto(f"{web_url()}/sessions/{later['session_id']}")
    page.get_by_label("The person", exact=True).check()
    page.get_by_label("Why", exact=True).select_option("person_unwell")
    page.get_by_role("button", name="Cancel the session").click()
    cancelled = ok(pw.get(f"/sessions/{later['session_id']}"))
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancellation"]["cancelled_by"] == "person"


def test_a_groups_facilitators_are_shown_by_name_and_a_group_sent_twice_is_created_once(
    api, web_as, web_url
):
    worker = new_worker()
    worker_name = f"Kofi Mensah {worker[-6:]}"
    # signing in here with a provider that gives their name (the workforce has none for them)
    page = web_as("peer_worker", user=worker, name=worker_name)
    page.goto(f"{web_url()}/groups/new")
    group_name = f"Allotment group {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name of the group").fill(group_name)
    page.get_by_label("Kind of group").select_option("weekly_peer_group")
    page.get_by_label("Number of places").fill("6")

    answers = web.send_at_once(page, "form[action='/groups/new']")
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    [location] = {a.headers["location"] for a in answers}
    made = ok(api().get("/groups", facilitator_id=worker))["items"]
    assert [g["name"] for g in made] == [group_name], made
    assert location == f"/groups/{made[0]['group_id']}?done=group-created"

    # a team lead sees the facilitator by name, and chooses by name whom to take off
    lead = web_as("team_lead")
    lead.goto(f"{web_url()}{location}")
    facilitators = lead.locator(".nhsuk-summary-list__row", has_text="Facilitators")
    assert facilitators.locator("dd").first.inner_text().strip() == worker_name
    check_page(lead, "group-facilitators-by-name")
