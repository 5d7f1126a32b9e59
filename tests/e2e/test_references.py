"""Every reference points at someone real: a referral names a person registered on this node (or
registers them with it, in one transaction), and a worker named in a record is on the partner's
workforce and has not left. Each refusal is a 422 naming the field and the rule, and records
nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from tests.e2e.test_sessions import Api

pytestmark = pytest.mark.e2e

TODAY = date.today()
RECEIVED = (TODAY - timedelta(days=5)).isoformat()


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="referrals", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


@pytest.fixture(scope="module")
def events_naming(stack_state):
    """events_naming(schema, text) -> how many of the node's events in that service's store
    carry `text` anywhere in their payload."""
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_leeds_mind"])
    conn.autocommit = True

    def count(schema: str, text: str) -> int:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT count(*) FROM {schema}.events WHERE position(%s IN payload::text) > 0",
                (text,),
            )
            return cur.fetchone()[0]

    yield count
    conn.close()


def refused(response, field: str, rule: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in body["fields"], body
    assert body["rule"] == rule, body


def nobody() -> str:
    return f"nobody-{uuid.uuid4().hex[:8]}"


def referral_body(**over) -> dict:
    return {"source": "gp", "received_on": RECEIVED, "urgency": "soon", **over}


def accepted_referral(api, person_id: str) -> dict:
    lead = api()
    made = lead.post("/referrals", referral_body(person_id=person_id))
    assert made.status_code == 201, made.text
    rid = made.json()["referral_id"]
    assert lead.post(f"/referrals/{rid}/accept").status_code == 200
    return lead.get(f"/referrals/{rid}").json()


# -- people ---------------------------------------------------------------------------------------


def test_a_referral_for_a_person_never_registered_is_refused_and_nothing_is_recorded(
    api, events_naming
):
    made_up = str(uuid.uuid4())
    response = api().post("/referrals", referral_body(person_id=made_up))
    refused(response, "person_id", "ReferralNamesARegisteredPerson")
    assert "register them first" in response.json()["message"]
    assert events_naming("referrals", made_up) == 0


def test_an_erased_person_cannot_be_referred_again_under_their_old_id(
    api, register_person, events_naming
):
    person = register_person()
    erased = api(role="partner_admin").post(
        f"/people/{person}/erasure", {"reason_code": "person_request", "reason": "asked to"}
    )
    assert erased.status_code == 200, erased.text
    before = events_naming("referrals", person)
    response = api().post("/referrals", referral_body(person_id=person))
    refused(response, "person_id", "ErasedPersonCannotBeReferred")
    assert events_naming("referrals", person) == before


def test_a_carer_referrals_cared_for_person_must_be_registered(api, register_person, events_naming):
    carer, made_up = register_person(), str(uuid.uuid4())
    response = api().post(
        "/referrals",
        referral_body(
            person_id=carer, source="carer", is_carer_referral=True, cared_for_person_id=made_up
        ),
    )
    refused(response, "cared_for_person_id", "ReferralNamesARegisteredPerson")
    assert events_naming("referrals", made_up) == 0
    assert events_naming("referrals", carer) == 1  # their registration, no referral


def test_a_carers_referral_does_not_name_the_carer_as_the_person_cared_for(
    api, register_person, events_naming
):
    carer = register_person()
    response = api().post(
        "/referrals",
        referral_body(
            person_id=carer, source="carer", is_carer_referral=True, cared_for_person_id=carer
        ),
    )
    refused(response, "cared_for_person_id", "ACarerCaresForSomeoneElse")
    assert events_naming("referrals", carer) == 1  # their registration, no referral


def test_another_partners_person_is_not_a_person_of_this_node(api, register_person):
    theirs = register_person("lslcs")
    response = api().post("/referrals", referral_body(person_id=theirs))
    refused(response, "person_id", "ReferralNamesARegisteredPerson")


def test_a_person_registered_with_their_referral_is_in_the_vault_and_the_referral_names_them(
    api,
):
    name = f"Robin Referred-{uuid.uuid4().hex[:8]}"
    response = api().post(
        "/referrals",
        referral_body(
            person={"full_name": name, "date_of_birth": "1979-05-06", "gender": "woman"},
            is_carer_referral=True,
            source="carer",
            cared_for_person={"full_name": f"{name} Senior", "date_of_birth": "1950-01-02"},
        ),
    )
    assert response.status_code == 201, response.text
    referral = response.json()
    for field, full_name in (("person_id", name), ("cared_for_person_id", f"{name} Senior")):
        person = api().get(f"/people/{referral[field]}")
        assert person.status_code == 200, person.text
        assert person.json()["identifiers"]["full_name"] == full_name
    assert api().get(f"/people/{referral['person_id']}").json()["gender"] == "woman"


def test_a_referral_refused_registers_nobody(api, events_naming):
    name = f"Nora Notrecorded-{uuid.uuid4().hex[:8]}"
    made_up = str(uuid.uuid4())
    response = api().post(
        "/referrals",
        referral_body(
            person={"full_name": name, "date_of_birth": "1981-07-08"},
            is_carer_referral=True,
            source="carer",
            cared_for_person_id=made_up,
        ),
    )
    refused(response, "cared_for_person_id", "ReferralNamesARegisteredPerson")
    found = api().post("/people/search", {"full_name": name, "date_of_birth": "1981-07-08"})
    assert found.status_code == 200 and found.json()["people"] == []
    assert events_naming("referrals", made_up) == 0


def test_a_referral_names_its_person_one_way_only(api, register_person):
    body = referral_body(
        person_id=register_person(), person={"full_name": "Two Ways", "date_of_birth": "1990-01-01"}
    )
    response = api().post("/referrals", body)
    assert response.status_code == 422 and "person_id" in response.json()["fields"]
    neither = api().post("/referrals", referral_body())
    assert neither.status_code == 422 and "person_id" in neither.json()["fields"]


# -- the workforce --------------------------------------------------------------------------------


def test_partner_admins_register_list_and_record_leavers_and_team_leads_read(api):
    admin, lead = api(role="partner_admin"), api()
    worker_id = nobody()
    made = admin.post(
        "/workers",
        {"worker_id": worker_id, "display_name": "Nia Newstarter", "roles": ["peer_worker"]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "registered" and made.headers["ETag"] == '"1"'
    again = admin.post("/workers", {"worker_id": worker_id})
    assert again.status_code == 409 and again.json()["rule"] == "WorkerIsRegisteredOnce"

    listed = lead.get("/workers", limit=500).json()
    assert worker_id in [w["worker_id"] for w in listed["items"]] or listed["total"] > 500
    page = lead.get("/workers", limit=1, offset=1).json()
    assert len(page["items"]) == 1 and page["total"] == listed["total"]
    assert lead.get(f"/workers/{worker_id}").json()["display_name"] == "Nia Newstarter"

    left = admin.post(f"/workers/{worker_id}/leave", {"reason": "left_the_organisation"})
    assert left.status_code == 200, left.text
    assert left.json()["status"] == "left" and left.json()["left_on"] == TODAY.isoformat()
    gone = lead.get("/workers", status="left", limit=500).json()["items"]
    assert worker_id in [w["worker_id"] for w in gone]
    twice = admin.post(f"/workers/{worker_id}/leave", {"reason": "other"})
    assert twice.status_code == 409 and twice.json()["rule"] == "OnlyARegisteredWorkerLeaves"


def test_only_partner_admins_change_the_workforce(api):
    for role in ("peer_worker", "team_lead", "safeguarding_lead"):
        response = api(role=role).post("/workers", {"worker_id": nobody()})
        assert response.status_code == 403, (role, response.text)
    assert api(role="peer_worker").get("/workers").status_code == 403
    assert api(partner="lslcs").get(f"/workers/{nobody()}").status_code == 404


def test_a_member_of_staff_is_on_the_workforce_from_the_first_time_they_act(api):
    worker_id = nobody()
    lead = api()
    assert lead.get(f"/workers/{worker_id}").status_code == 404
    assert api("sessions", "peer_worker", worker_id).get("/sessions").status_code == 200
    found = lead.get(f"/workers/{worker_id}")
    assert found.status_code == 200, found.text
    assert found.json()["roles"] == ["peer_worker"] and found.json()["status"] == "registered"


def test_allocating_to_a_worker_not_on_the_workforce_is_refused_and_nothing_is_recorded(
    api, register_person, events_naming
):
    referral = accepted_referral(api, register_person())
    rid, typo = referral["referral_id"], nobody()
    response = api().post(f"/referrals/{rid}/allocate", {"worker_id": typo})
    refused(response, "worker_id", "WorkerMustBeRegistered")
    assert api().get(f"/referrals/{rid}").json()["version"] == referral["version"]
    assert events_naming("referrals", typo) == 0


def test_reallocating_to_a_worker_who_left_is_refused(api, register_person, register_worker):
    referral = accepted_referral(api, register_person())
    rid = referral["referral_id"]
    first, leaver = register_worker(nobody()), register_worker(nobody())
    assert api().post(f"/referrals/{rid}/allocate", {"worker_id": first}).status_code == 200
    left = api(role="partner_admin").post(f"/workers/{leaver}/leave", {"reason": "changed_role"})
    assert left.status_code == 200, left.text
    response = api().post(f"/referrals/{rid}/allocate", {"worker_id": leaver})
    refused(response, "worker_id", "WorkerMustNotHaveLeft")
    after = api().get(f"/referrals/{rid}").json()
    assert after["worker_id"] == first and after["version"] == referral["version"] + 1
    history = api().get(f"/referrals/{rid}/history").json()["events"]
    assert leaver not in str(history)


def test_a_team_lead_may_allocate_to_themselves_without_being_registered_first(
    api, register_person
):
    lead_id = nobody()
    referral = accepted_referral(api, register_person())
    lead = api(role="team_lead", user=lead_id)
    response = lead.post(f"/referrals/{referral['referral_id']}/allocate", {"worker_id": lead_id})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("role", ["partner_admin", "safeguarding_lead"])
def test_a_referral_is_not_allocated_to_a_worker_who_holds_no_caseload(
    api, register_person, register_worker, role
):
    referral = accepted_referral(api, register_person())
    rid, admin = referral["referral_id"], register_worker(nobody(), role=role)
    response = api().post(f"/referrals/{rid}/allocate", {"worker_id": admin})
    refused(response, "worker_id", "AllocatedWorkerMustHoldACaseload")
    after = api().get(f"/referrals/{rid}").json()
    assert after["worker_id"] is None and after["version"] == referral["version"]


def test_a_partner_admin_may_not_allocate_to_themselves(api, register_person):
    admin_id = nobody()
    referral = accepted_referral(api, register_person())
    admin = api(role="partner_admin", user=admin_id)
    response = admin.post(f"/referrals/{referral['referral_id']}/allocate", {"worker_id": admin_id})
    refused(response, "worker_id", "AllocatedWorkerMustHoldACaseload")
    # a peer worker on the workforce may be allocated it
    worker = api(role="partner_admin").post("/workers", {"worker_id": nobody()}).json()
    allocated = admin.post(
        f"/referrals/{referral['referral_id']}/allocate", {"worker_id": worker["worker_id"]}
    )
    assert allocated.status_code == 200, allocated.text


# -- sessions and safeguarding name workers too ----------------------------------------------------


def _session(worker_ids, **over) -> dict:
    return {
        "kind": "drop_in",
        "mode": "face_to_face_base",
        "location": "peer_support_base",
        "worker_ids": worker_ids,
        **over,
    }


@pytest.mark.parametrize("path", ["/sessions", "/sessions/held"])
def test_a_session_run_by_a_worker_not_on_the_workforce_is_refused(api, events_naming, path):
    typo = nobody()
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    body = (
        _session([typo], planned_start_at=when.isoformat())
        if path == "/sessions"
        else _session([typo], actual_start_at=when.isoformat(), duration_minutes=60)
    )
    refused(api("sessions").post(path, body), "worker_ids", "WorkerMustBeRegistered")
    assert events_naming("sessions", typo) == 0


def test_a_booked_session_recorded_with_a_worker_added_who_left_is_refused(
    api, register_worker, events_naming
):
    booked_by, leaver = register_worker(nobody()), register_worker(nobody())
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    session = api("sessions").post(
        "/sessions", _session([booked_by], planned_start_at=when.isoformat())
    )
    assert session.status_code == 201, session.text
    sid = session.json()["session_id"]
    assert api(role="partner_admin").post(f"/workers/{leaver}/leave", {"reason": "other"}).ok
    response = api("sessions").post(
        f"/sessions/{sid}/record",
        {
            "actual_start_at": when.isoformat(),
            "duration_minutes": 45,
            "worker_ids": [booked_by, leaver],
        },
    )
    refused(response, "worker_ids", "WorkerMustNotHaveLeft")
    assert api("sessions").get(f"/sessions/{sid}").json()["status"] == "booked"
    assert events_naming("sessions", leaver) == 0


def test_a_group_facilitated_by_a_worker_not_on_the_workforce_is_refused(
    api, register_worker, events_naming
):
    typo, facilitator = nobody(), register_worker(nobody())
    group = {"name": "Wednesday walk", "kind": "weekly_peer_group", "capacity": 8}
    response = api("sessions").post("/groups", {**group, "facilitator_ids": [facilitator, typo]})
    refused(response, "facilitator_ids", "WorkerMustBeRegistered")
    assert events_naming("sessions", typo) == 0

    made = api("sessions").post("/groups", {**group, "facilitator_ids": [facilitator]})
    assert made.status_code == 201, made.text
    gid = made.json()["group_id"]
    added = api("sessions").post(f"/groups/{gid}/facilitators", {"worker_id": typo})
    refused(added, "worker_id", "WorkerMustBeRegistered")
    assert api("sessions").get(f"/groups/{gid}").json()["facilitator_ids"] == [facilitator]
    assert events_naming("sessions", typo) == 0


def test_a_safeguarding_action_owned_by_a_worker_not_on_the_workforce_is_refused(
    api, events_naming
):
    raised = api("safeguarding", "peer_worker").post(
        "/concerns",
        {
            "age_group": "adult",
            "categories": ["self_neglect"],
            "severity": "standard",
            "immediate_risk": False,
            "what_happened": "Has not been eating.",
            "actions_taken": ["none"],
            "consent_given": True,
            "person_description": "A man at the Monday drop-in",
        },
    )
    assert raised.status_code == 201, raised.text
    cid, typo = raised.json()["concern_id"], nobody()
    lead = api("safeguarding", "safeguarding_lead")
    assert lead.post(f"/concerns/{cid}/acknowledge", {}).status_code == 200
    due = (TODAY + timedelta(days=2)).isoformat()
    response = lead.post(
        f"/concerns/{cid}/actions", {"kind": "welfare_check", "owner_id": typo, "due_on": due}
    )
    refused(response, "owner_id", "WorkerMustBeRegistered")
    assert lead.get(f"/concerns/{cid}").json()["actions"] == []
    assert events_naming("safeguarding", typo) == 0
