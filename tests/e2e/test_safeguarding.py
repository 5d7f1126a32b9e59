"""The safeguarding API of the running alliance, end to end over HTTP: every command, bad input
on every endpoint, stale versions, who sees what, and the immediate-risk e-mail."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
import requests

from deploy.mailsink import read_mailbox
from deploy.stack import STACKS, mail_sink
from tests.conftest import STACK, wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()
LEAD = "safeguarding_lead"


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(role=LEAD, user=None, partner="leeds-mind", service="safeguarding"):
        session = requests.Session()
        session.headers.update(auth(role, partner, user))
        base = endpoints["partners"][partner][service]

        class Api:
            def get(self, path, **kw):
                return session.get(base + path, timeout=10, **kw)

            def post(self, path, body=None, **kw):
                return session.post(
                    base + path, json=body if body is not None else {}, timeout=10, **kw
                )

        return Api()

    return make


def form(**over) -> dict:
    return {
        "age_group": "adult",
        "categories": ["financial_material", "psychological_emotional"],
        "severity": "standard",
        "immediate_risk": False,
        "what_happened": "Said a relative keeps their bank card and shouts when asked for it.",
        "actions_taken": ["none"],
        "consent_given": True,
        "person_description": "Woman in her seventies who comes to the Thursday group.",
        **over,
    }


def raise_concern(api, role="peer_worker", user=None, **over) -> dict:
    response = api(role, user).post("/concerns", form(**over))
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    return response.json()


def version_of(api, concern_id: str) -> int:
    response = api().get(f"/concerns/{concern_id}")
    assert response.status_code == 200, response.text
    return response.json()["version"]


@pytest.fixture
def person(api) -> str:
    response = api("team_lead", service="referrals").post(
        "/people", {"full_name": "Safe Guarded", "date_of_birth": "1960-02-03"}
    )
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


def test_a_concern_from_raising_to_closing(api):
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    worker, lead = api("peer_worker", worker_id), api()
    concern = raise_concern(api, user=worker_id)
    cid = concern["concern_id"]
    assert concern["status"] == "raised" and concern["person_id"] is None
    assert concern["acknowledge_by"] and concern["raised_by"] == worker_id
    steps = [
        ("acknowledge", {"severity": "high"}, "acknowledged"),
        ("decide", {"decision": "internal_action_plan", "rationale": "Talk it through"}, "decided"),
    ]
    for version, (command, body, status) in enumerate(steps, start=1):
        response = lead.post(f"/concerns/{cid}/{command}", body, headers={"If-Match": str(version)})
        assert response.status_code == 200, (command, response.text)
        assert response.json()["status"] == status
    due = (TODAY + timedelta(days=3)).isoformat()
    added = lead.post(
        f"/concerns/{cid}/actions",
        {"kind": "welfare_check", "owner_id": worker_id, "due_on": due, "details": "Call her"},
    )
    assert added.status_code == 201, added.text
    action_id = added.headers["Location"].rsplit("/", 1)[1]
    assert added.json()["actions"][0]["owner_id"] == worker_id
    done = worker.post(f"/concerns/{cid}/actions/{action_id}/complete", {"notes": "She is safe"})
    assert done.status_code == 200, done.text
    note = worker.post(f"/concerns/{cid}/notes", {"text": "Her daughter now helps instead"})
    assert note.status_code == 201, note.text
    closed = lead.post(
        f"/concerns/{cid}/close", {"outcome": "risk_reduced", "desired_outcomes_met": "fully"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.headers["ETag"] == '"7"'

    read = lead.get(f"/concerns/{cid}").json()
    assert read["severity"] == "high" and read["decision"] == "internal_action_plan"
    assert [step["event_type"] for step in read["timeline"]] == [
        "ConcernRaised",
        "ConcernAcknowledged",
        "ConcernDecided",
        "ConcernActionAdded",
        "ConcernActionCompleted",
        "ConcernNoteAdded",
        "ConcernClosed",
    ]
    assert read["texts"]["what_happened_text"].startswith("Said a relative")
    assert read["timeline"][5]["texts"] == {"text": "Her daughter now helps instead"}
    assert read["timeline"][2]["by"] == "test-safeguarding_lead"

    history = lead.get(f"/concerns/{cid}/history").json()["events"]
    assert [e["version"] for e in history] == list(range(1, 8))
    words = json.dumps(history)
    for text in ("bank card", "Thursday group", "Talk it through", "She is safe", "daughter"):
        assert text not in words  # free text lives in the vault, never in an event


def test_a_concern_about_a_known_person_names_them_by_id_only(api, person):
    concern = raise_concern(api, person_id=person, person_description=None)
    assert concern["person_id"] == person
    read = api().get(f"/concerns/{concern['concern_id']}").json()
    assert "description_text" not in read["texts"]


def test_a_concern_about_an_erased_person_keeps_its_record_and_takes_no_new_words(api, person):
    concern = raise_concern(api, person_id=person, person_description=None)
    cid = concern["concern_id"]
    erased = api("partner_admin", service="referrals").post(
        f"/people/{person}/erasure", {"reason_code": "person_request", "reason": "asked to"}
    )
    assert erased.status_code == 200, erased.text
    read = api().get(f"/concerns/{cid}").json()
    assert read["texts"]["what_happened_text"] == "erased"
    refused = api().post(f"/concerns/{cid}/notes", {"text": "Called again"})
    assert refused.status_code == 409
    assert refused.json()["rule"] == "NothingIsWrittenAboutAnErasedPerson"
    assert api().post(f"/concerns/{cid}/acknowledge").status_code == 200  # no words: allowed
    assert version_of(api, cid) == 2


def test_a_person_identified_later_is_recorded_once(api, person):
    concern = raise_concern(api, role="team_lead")
    cid = concern["concern_id"]
    first = api().post(f"/concerns/{cid}/person", {"person_id": person})
    assert first.status_code == 200, first.text
    assert first.json()["person_id"] == person
    again = api().post(f"/concerns/{cid}/person", {"person_id": person})
    assert again.status_code == 409 and again.json()["rule"] == "PersonIsIdentifiedOnce"


def test_words_written_before_the_person_was_known_are_erased_with_them(api, person):
    concern = raise_concern(api, role="team_lead")  # a description, no person yet
    cid = concern["concern_id"]
    assert api().post(f"/concerns/{cid}/notes", {"text": "Seen again at the café"}).status_code
    identified = api().post(f"/concerns/{cid}/person", {"person_id": person})
    assert identified.status_code == 200, identified.text
    read = api().get(f"/concerns/{cid}").json()
    assert read["texts"]["what_happened_text"].startswith("Said a relative")
    assert read["texts"]["description_text"].startswith("Woman in her seventies")
    assert read["timeline"][1]["texts"] == {"text": "Seen again at the café"}

    erased = api("partner_admin", service="referrals").post(
        f"/people/{person}/erasure", {"reason_code": "person_request", "reason": "asked to"}
    )
    assert erased.status_code == 200, erased.text
    read = api().get(f"/concerns/{cid}").json()
    assert read["texts"] == {
        "what_happened_text": "erased",
        "description_text": "erased",
    }
    assert read["timeline"][1]["texts"] == {"text": "erased"}


def test_an_unknown_person_is_refused_naming_the_field(api):
    response = api("peer_worker").post(
        "/concerns", form(person_id=str(uuid.uuid4()), person_description=None)
    )
    assert response.status_code == 422, response.text
    assert "person_id" in response.json()["fields"]


def test_the_inbox_lists_open_concerns_by_deadline(api):
    raiser = f"worker-{uuid.uuid4().hex[:6]}"
    standard = raise_concern(api, user=raiser)
    immediate = raise_concern(
        api, user=raiser, severity="immediate", immediate_risk=True, actions_taken=["made_safe"]
    )
    closed_one = raise_concern(api, user=raiser, severity="high")
    lead = api()
    cid = closed_one["concern_id"]
    lead.post(f"/concerns/{cid}/acknowledge")
    lead.post(
        f"/concerns/{cid}/decide", {"decision": "no_further_action", "reason": "duplicate_concern"}
    )
    assert lead.post(f"/concerns/{cid}/close", {"outcome": "no_further_action"}).status_code == 200

    page = lead.get("/concerns", params={"raised_by": raiser}).json()
    # the immediate one is due in 15 minutes; the standard one at the end of the working day,
    # which just before closing time comes sooner
    by_deadline = sorted([immediate, standard], key=lambda c: c["acknowledge_by"])
    assert [i["concern_id"] for i in page["items"]] == [c["concern_id"] for c in by_deadline]
    assert page["total"] == 2 and page["items"][0]["open_deadline"] == "acknowledge"
    everything = lead.get("/concerns", params={"raised_by": raiser, "status": "any"}).json()
    assert everything["total"] == 3
    paged = lead.get("/concerns", params={"raised_by": raiser, "limit": 1, "offset": 1}).json()
    assert [i["concern_id"] for i in paged["items"]] == [by_deadline[1]["concern_id"]]
    high = lead.get("/concerns", params={"raised_by": raiser, "severity": "immediate"}).json()
    assert high["total"] == 1
    overdue = lead.get("/concerns", params={"raised_by": raiser, "overdue": "true"}).json()
    assert overdue["total"] == 0


def test_a_worker_sees_only_the_concerns_they_raised(api):
    mine, theirs = f"worker-{uuid.uuid4().hex[:6]}", f"worker-{uuid.uuid4().hex[:6]}"
    concern = raise_concern(api, user=mine)
    cid = concern["concern_id"]
    assert api("peer_worker", mine).get(f"/concerns/{cid}").status_code == 200
    assert api("peer_worker", theirs).get(f"/concerns/{cid}").status_code == 403
    assert api("partner_admin").get(f"/concerns/{cid}").status_code == 403
    assert (
        api("peer_worker", theirs).post(f"/concerns/{cid}/notes", {"text": "x"}).status_code == 403
    )
    listed = api("peer_worker", theirs).get("/concerns", params={"status": "any"}).json()
    assert cid not in [i["concern_id"] for i in listed["items"]]
    assert [i["concern_id"] for i in api("peer_worker", mine).get("/concerns").json()["items"]] == [
        cid
    ]
    assert version_of(api, cid) == 1


def test_another_partner_sees_no_concern(api):
    cid = raise_concern(api)["concern_id"]
    assert api(partner="mesmac").get(f"/concerns/{cid}").status_code == 404


def test_a_stale_version_is_refused_and_changes_nothing(api):
    cid = raise_concern(api)["concern_id"]
    lead = api()
    stale = lead.post(f"/concerns/{cid}/acknowledge", {"expected_version": 2})
    assert stale.status_code == 409 and stale.json()["actual_version"] == 1
    stale = lead.post(f"/concerns/{cid}/acknowledge", headers={"If-Match": '"3"'})
    assert stale.status_code == 409
    assert version_of(api, cid) == 1
    assert lead.post(f"/concerns/{cid}/acknowledge", headers={"If-Match": '"1"'}).status_code == 200
    again = lead.post(f"/concerns/{cid}/decide", {"decision": "police"}, headers={"If-Match": "1"})
    assert again.status_code == 409
    assert version_of(api, cid) == 2


def test_a_concern_read_sends_its_version_as_an_etag_that_every_command_takes(api):
    cid = raise_concern(api)["concern_id"]
    lead = api()
    read = lead.get(f"/concerns/{cid}")
    assert read.headers["ETag"] == f'"{read.json()["version"]}"' == '"1"'
    acknowledged = lead.post(
        f"/concerns/{cid}/acknowledge", headers={"If-Match": read.headers["ETag"]}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    etag = acknowledged.headers["ETag"]
    assert etag == '"2"' == lead.get(f"/concerns/{cid}").headers["ETag"]
    # each command refuses the version it was read at once a person's step came in between
    stale = {"If-Match": read.headers["ETag"]}
    due = (TODAY + timedelta(days=3)).isoformat()
    for path, body in [
        ("decide", {"decision": "police"}),
        ("notes", {"text": "A note on a stale page"}),
        ("close", {"outcome": "risk_removed"}),
        ("actions", {"kind": "welfare_check", "owner_id": "test-safeguarding_lead", "due_on": due}),
        ("person", {"person_id": str(uuid.uuid4())}),
    ]:
        response = lead.post(f"/concerns/{cid}/{path}", body, headers=stale)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["actual_version"] == 2, path
    weak = lead.post(
        f"/concerns/{cid}/decide", {"decision": "police"}, headers={"If-Match": f"W/{etag}"}
    )
    assert weak.status_code == 200 and weak.headers["ETag"] == '"3"', weak.text
    garbled = lead.post(f"/concerns/{cid}/notes", {"text": "x"}, headers={"If-Match": "three"})
    assert garbled.status_code == 422 and "If-Match" in garbled.json()["fields"]
    assert version_of(api, cid) == 3


def test_a_decided_concern_is_re_decided_only_with_a_reason_as_its_own_event(api):
    cid = raise_concern(api)["concern_id"]
    lead = api()
    assert lead.post(f"/concerns/{cid}/acknowledge").status_code == 200
    decided = lead.post(f"/concerns/{cid}/decide", {"decision": "internal_action_plan"})
    assert decided.status_code == 200, decided.text
    bare = lead.post(f"/concerns/{cid}/decide", {"decision": "police"})
    assert bare.status_code == 409, bare.text
    assert bare.json()["rule"] == "RevisingADecisionNeedsAReason"
    assert version_of(api, cid) == 3
    why = f"The police asked to take it on {uuid.uuid4().hex[:6]}"
    revised = api(user="another-lead").post(
        f"/concerns/{cid}/decide",
        {"decision": "police", "revision_reason": f"  {why}  ", "agency_reference": "WY-123"},
        headers={"If-Match": '"3"'},
    )
    assert revised.status_code == 200, revised.text
    body = revised.json()
    assert body["decision"] == "police" and body["decision_revisions"] == 1
    assert body["decided_at"] == decided.json()["decided_at"]  # the deadline was met then
    read = lead.get(f"/concerns/{cid}").json()
    step = read["timeline"][-1]
    assert step["event_type"] == "ConcernDecisionRevised" and step["by"] == "another-lead"
    assert step["details"]["previous_decision"] == "internal_action_plan"
    assert step["details"]["decision"] == "police"
    assert step["texts"]["revision_reason_text"] == why
    # the agency's case reference identifies the person: sealed, opened for the lead
    assert step["texts"]["agency_reference_text"] == "WY-123"
    history = lead.get(f"/concerns/{cid}/history").json()["events"]
    assert [e["event_type"] for e in history][-2:] == ["ConcernDecided", "ConcernDecisionRevised"]
    assert why not in json.dumps(history)  # sealed in the vault, like every concern's words
    assert "WY-123" not in json.dumps(history)
    listed = lead.get("/concerns", params={"status": "decided", "limit": 500}).json()["items"]
    assert [c["decision"] for c in listed if c["concern_id"] == cid] == ["police"]


def test_a_first_decision_takes_no_revision_reason(api):
    cid = raise_concern(api)["concern_id"]
    lead = api()
    assert lead.post(f"/concerns/{cid}/acknowledge").status_code == 200
    response = lead.post(
        f"/concerns/{cid}/decide", {"decision": "police", "revision_reason": "Changed my mind"}
    )
    assert response.status_code == 409
    assert response.json()["rule"] == "RevisingADecisionNeedsAReason"
    assert version_of(api, cid) == 2


def test_a_body_too_large_is_413_and_changes_nothing(api):
    cid = raise_concern(api)["concern_id"]
    response = api().post(f"/concerns/{cid}/notes", {"text": "x" * (300 * 1024)})
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert version_of(api, cid) == 1


def test_words_are_kept_trimmed(api):
    concern = raise_concern(api, what_happened="  Told us at the drop-in.\n ")
    read = api().get(f"/concerns/{concern['concern_id']}").json()
    assert read["texts"]["what_happened_text"] == "Told us at the drop-in."


def test_steps_out_of_order_break_a_named_rule(api):
    cid = raise_concern(api)["concern_id"]
    response = api().post(f"/concerns/{cid}/decide", {"decision": "police"})
    assert response.status_code == 409
    assert response.json()["rule"] == "DecisionNeedsAcknowledgement"
    closing = api().post(f"/concerns/{cid}/close", {"outcome": "risk_removed"})
    assert closing.json()["rule"] == "ClosingNeedsADecision"
    assert version_of(api, cid) == 1


BAD_INPUT = [
    ("raise", {"categories": []}, "categories"),
    ("raise", {"categories": ["neglect"]}, "categories"),
    ("raise", {"severity": "urgent"}, "severity"),
    ("raise", {"immediate_risk": True}, "severity"),
    ("raise", {"what_happened": ""}, "what_happened"),
    ("raise", {"actions_taken": ["none", "made_safe"]}, "actions_taken"),
    ("raise", {"consent_given": False}, "without_consent_reason"),
    ("raise", {"person_description": None}, "person_id"),
    ("raise", {"happened_on": (TODAY + timedelta(days=2)).isoformat()}, "happened_on"),
    ("raise", {"colour": "red"}, "colour"),
    ("person", {"person_id": "not-a-uuid"}, "person_id"),
    ("acknowledge", {"severity": "whenever"}, "severity"),
    ("acknowledge", {"expected_version": 0}, "expected_version"),
    ("decide", {}, "decision"),
    ("decide", {"decision": "no_further_action"}, "reason"),
    ("decide", {"decision": "police", "reason": "duplicate_concern"}, "reason"),
    ("actions", {"kind": "welfare_check", "owner_id": "w", "due_on": "2020-01-01"}, "due_on"),
    ("actions", {"kind": "tea", "owner_id": "w", "due_on": "2099-01-01"}, "kind"),
    ("actions", {"kind": "welfare_check", "due_on": "2099-01-01"}, "owner_id"),
    ("complete", {"outcome": "maybe"}, "outcome"),
    ("notes", {}, "text"),
    ("notes", {"text": "x" * 10001}, "text"),
    ("close", {"outcome": "fine"}, "outcome"),
    ("close", {"outcome": "risk_removed", "desired_outcomes_met": "yes"}, "desired_outcomes_met"),
    ("list", {"severity": "urgent"}, "severity"),
    ("list", {"limit": "0"}, "limit"),
    ("list", {"sort": "name"}, "sort"),
    ("suggest", {"signal": "hunch"}, "signal"),
    ("suggest", {"signal": "other"}, "person_id"),
    ("confirm", {}, "age_group"),
    ("dismiss", {"reason": "bored"}, "reason"),
    # words are trimmed, and spaces alone say nothing
    ("raise", {"what_happened": "   "}, "what_happened"),
    ("raise", {"person_description": " \t "}, "person_description"),
    ("raise", {"views": "  "}, "views"),
    ("raise", {"actions_taken_notes": "  "}, "actions_taken_notes"),
    ("decide", {"decision": "police", "rationale": "   "}, "rationale"),
    ("decide", {"decision": "police", "agency_reference": "  "}, "agency_reference"),
    ("decide", {"decision": "police", "revision_reason": "  "}, "revision_reason"),
    ("actions", {"kind": "welfare_check", "owner_id": "   ", "due_on": "2099-01-01"}, "owner_id"),
    (
        "actions",
        {"kind": "signpost", "owner_id": "w", "due_on": "2099-01-01", "details": " "},
        "details",
    ),
    ("complete", {"notes": "   "}, "notes"),
    ("notes", {"text": "    "}, "text"),
    ("close", {"outcome": "risk_removed", "notes": "  "}, "notes"),
    ("dismiss", {"reason": "duplicate", "notes": "  "}, "notes"),
    ("list", {"raised_by": "   "}, "raised_by"),
]


@pytest.mark.parametrize(("endpoint", "change", "field"), BAD_INPUT)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(api, endpoint, change, field):
    lead = api()
    cid = raise_concern(api)["concern_id"]
    paths = {
        "person": f"/concerns/{cid}/person",
        "acknowledge": f"/concerns/{cid}/acknowledge",
        "decide": f"/concerns/{cid}/decide",
        "actions": f"/concerns/{cid}/actions",
        "complete": f"/concerns/{cid}/actions/{uuid.uuid4()}/complete",
        "notes": f"/concerns/{cid}/notes",
        "close": f"/concerns/{cid}/close",
        "suggest": "/concerns/suggestions",
        "confirm": f"/concerns/{cid}/confirm",
        "dismiss": f"/concerns/{cid}/dismiss",
    }
    if endpoint == "raise":
        body = {k: v for k, v in {**form(), **change}.items() if v is not None}
        before = lead.get("/concerns", params={"status": "any", "limit": 1}).json()["total"]
        response = lead.post("/concerns", body)
    elif endpoint == "list":
        response = lead.get("/concerns", params=change)
    else:
        response = lead.post(paths[endpoint], change)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"], response.text
    assert version_of(api, cid) == 1
    if endpoint == "raise":
        after = lead.get("/concerns", params={"status": "any", "limit": 1}).json()["total"]
        assert after == before


def test_an_immediate_risk_concern_emails_the_duty_lead_at_once_naming_nobody(api, endpoints):
    description = f"Man by the canal bridge {uuid.uuid4().hex[:8]}"
    concern = raise_concern(
        api,
        severity="immediate",
        immediate_risk=True,
        actions_taken=["emergency_services_called"],
        informed=["police", "ambulance_service"],
        person_description=description,
    )
    cid = concern["concern_id"]
    mailbox = mail_sink(STACKS[STACK])["mailbox"]

    def delivered():
        return [m for m in read_mailbox(mailbox) if cid in m["body"]]

    [message] = wait_for(delivered, timeout=15, message="the immediate-risk e-mail")
    assert message["kind"] == "immediate_risk"
    assert message["rcpt_tos"] == ["duty-lead@leeds-mind.peerlink.test"]
    # the link opens the concern's page in the node's web app
    web = endpoints["partners"]["leeds-mind"]["web"]
    assert f"{web}/safeguarding/concerns/{cid}" in message["body"]
    for text in (description, "bank card", "canal"):
        assert text not in message["body"] + message["subject"]

    def recorded():
        items = api().get(f"/concerns/{cid}/notifications").json()["items"]
        return items if items and items[0]["status"] == "sent" else None

    [sent] = wait_for(recorded, timeout=10, message="the send recorded")
    assert sent["kind"] == "immediate_risk" and sent["rung"] == "duty_lead"
    assert [t["outcome"] for t in sent["tries"]] == ["sent"]
    assert api("peer_worker").get(f"/concerns/{cid}/notifications").status_code == 403


def test_a_suggested_concern_is_confirmed_by_a_worker_and_then_raised(api, person):
    worker_id = f"worker-{uuid.uuid4().hex[:6]}"
    worker = api("peer_worker", worker_id)
    sources = [str(uuid.uuid4()) for _ in range(3)]
    flag = {"person_id": person, "signal": "repeated_did_not_attend", "source_event_ids": sources}
    suggested = worker.post("/concerns/suggestions", flag)
    assert suggested.status_code == 201, suggested.text
    cid = suggested.json()["concern_id"]
    assert suggested.json()["status"] == "suggested" and suggested.json()["acknowledge_by"] is None
    again = worker.post("/concerns/suggestions", {**flag, "source_event_ids": sources[::-1]})
    assert again.status_code == 200 and again.json()["concern_id"] == cid  # flagged once
    assert cid in [
        i["concern_id"] for i in worker.get("/concerns", params={"status": "any"}).json()["items"]
    ]
    assert api().post(f"/concerns/{cid}/acknowledge").json()["rule"] == (
        "AcknowledgementNeedsARaisedConcern"
    )

    form_body = {k: v for k, v in form().items() if k != "person_description"}
    confirmed = worker.post(f"/concerns/{cid}/confirm", form_body, headers={"If-Match": "1"})
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["status"] == "raised" and body["person_id"] == person
    assert body["signal"] == "repeated_did_not_attend" and body["acknowledge_by"]
    read = api().get(f"/concerns/{cid}").json()
    assert read["texts"]["what_happened_text"].startswith("Said a relative")
    assert [s["event_type"] for s in read["timeline"]] == ["ConcernSuggested", "ConcernRaised"]


def test_a_suggested_concern_can_be_dismissed_with_a_reason(api, person):
    flag = {"person_id": person, "signal": "disengaged_after_crisis"}
    cid = api("peer_worker").post("/concerns/suggestions", flag).json()["concern_id"]
    bad = api("peer_worker").post(f"/concerns/{cid}/dismiss", {"reason": "bored"})
    assert bad.status_code == 422 and "reason" in bad.json()["fields"]
    dismissed = api("peer_worker").post(
        f"/concerns/{cid}/dismiss",
        {"reason": "person_contacted_and_safe", "notes": "Rang her; she is away visiting family"},
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    assert api().get("/concerns", params={"status": "dismissed"}).json()["total"] >= 1
    form_body = {k: v for k, v in form().items() if k != "person_description"}
    again = api("peer_worker").post(f"/concerns/{cid}/confirm", form_body)
    assert again.status_code == 409
    assert again.json()["rule"] == "OnlySuggestionsCanBeConfirmedOrDismissed"


def test_a_suggestion_for_an_unknown_person_is_refused_naming_the_field(api):
    flag = {"person_id": str(uuid.uuid4()), "signal": "risk_level_raised"}
    response = api("peer_worker").post("/concerns/suggestions", flag)
    assert response.status_code == 422 and "person_id" in response.json()["fields"]
