"""The referrals API of the running test alliance, end to end over HTTP."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import requests

from tests.conftest import STACK, wait_for

pytestmark = pytest.mark.e2e

TODAY = date.today()


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(partner="leeds-mind", role="team_lead", user=None):
        session = requests.Session()
        session.headers.update(auth(role, partner, user))
        base = endpoints["partners"][partner]["referrals"]

        class Api:
            def get(self, path, **kw):
                return session.get(base + path, timeout=10, **kw)

            def post(self, path, body=None, **kw):
                return session.post(
                    base + path, json=body if body is not None else {}, timeout=10, **kw
                )

        return Api()

    return make


def new_referral(api, partner="leeds-mind", **over) -> dict:
    """A referral received ten days ago, its person registered with it unless `over` names
    them."""
    received = (TODAY - timedelta(days=10)).isoformat()
    body = {
        "person": {
            "full_name": f"Reg Ferral {uuid.uuid4().hex[:8]}",
            "date_of_birth": "1988-08-08",
        },
        "source": "cmht",
        "received_on": received,
        "urgency": "soon",
        "needs": ["isolation", "anxiety"],
        "risk_level": "low",
        "consent": {
            "to_share": True,
            "to_contact": True,
            "contact_methods": ["phone"],
            "recorded_on": received,
        },
        **over,
    }
    if "person_id" in over:
        del body["person"]
    response = api(partner).post("/referrals", body)
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    return response.json()


def test_a_referral_from_creation_to_discharge(api, register_worker):
    lead, worker = api(), api(role="peer_worker", user=register_worker("worker-e2e-1"))
    referral = new_referral(api)
    rid = referral["referral_id"]
    assert referral["status"] == "received" and referral["source_group"].startswith("local")
    steps = [
        (lead, "accept", {}, "accepted"),
        (lead, "allocate", {"worker_id": "worker-e2e-1"}, "allocated"),
        (worker, "first-contact", {}, "active"),
        (worker, "hold", {"reason": "hospital_admission"}, "on_hold"),
        (worker, "resume", {}, "active"),
        (worker, "discharge", {"reason": "goals_met"}, "discharged"),
    ]
    for version, (who, command, body, status) in enumerate(steps, start=1):
        response = who.post(
            f"/referrals/{rid}/{command}", body, headers={"If-Match": f'"{version}"'}
        )
        assert response.status_code == 200, (command, response.text)
        assert response.json()["status"] == status
        assert response.headers["ETag"] == f'"{version + 1}"'
    history = lead.get(f"/referrals/{rid}/history").json()["events"]
    assert [e["event_type"] for e in history] == [
        "ReferralReceived",
        "ReferralAccepted",
        "ReferralAllocated",
        "FirstContactMade",
        "ReferralPutOnHold",
        "ReferralResumed",
        "ReferralDischarged",
    ]
    assert history[3]["actor"] == {"user_id": "worker-e2e-1", "role": "peer_worker"}
    assert lead.get(f"/referrals/{rid}").json()["outcome_reason"] == "goals_met"


def test_a_stale_version_is_refused_with_409_and_changes_nothing(api):
    lead = api()
    rid = new_referral(api)["referral_id"]
    assert lead.post(f"/referrals/{rid}/accept", {"expected_version": 1}).status_code == 200
    stale = lead.post(
        f"/referrals/{rid}/decline", {"reason": "outside_area"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 409
    assert stale.json()["actual_version"] == 2
    stale_body = lead.post(f"/referrals/{rid}/allocate", {"worker_id": "w", "expected_version": 1})
    assert stale_body.status_code == 409
    assert lead.get(f"/referrals/{rid}").json()["version"] == 2


def test_an_impossible_move_is_a_409_naming_the_rule(api):
    lead = api()
    rid = new_referral(api)["referral_id"]
    lead.post(f"/referrals/{rid}/decline", {"reason": "outside_area"})
    response = lead.post(f"/referrals/{rid}/allocate", {"worker_id": "w1"})
    assert response.status_code == 409
    assert response.json()["rule"] == "ReferralMustBeAcceptedBeforeAllocation"
    assert response.json()["message"] == "a declined referral cannot be allocated"


BAD_INPUT = [
    ("/referrals", {"source": "gp", "received_on": "2026-01-01"}, "person_id"),
    (
        "/referrals",
        {"person_id": "not-a-uuid", "source": "gp", "received_on": "2026-01-01"},
        "person_id",
    ),
    (
        "/referrals",
        {"person_id": str(uuid.uuid4()), "source": "postman", "received_on": "2026-01-01"},
        "source",
    ),
    (
        "/referrals",
        {
            "person_id": str(uuid.uuid4()),
            "source": "gp",
            "received_on": (TODAY + timedelta(days=2)).isoformat(),
        },
        "received_on",
    ),
    (
        "/referrals",
        {
            "person_id": str(uuid.uuid4()),
            "source": "gp",
            "received_on": "2026-01-01",
            "colour": "blue",
        },
        "colour",
    ),
    (
        "/referrals",
        {
            "person_id": str(uuid.uuid4()),
            "source": "gp",
            "received_on": "2026-01-01",
            "needs_notes": "x" * 5001,
        },
        "needs_notes",
    ),
    (
        "/referrals",
        {
            "person_id": str(uuid.uuid4()),
            "source": "gp",
            "received_on": "2026-01-01",
            "cared_for_person_id": str(uuid.uuid4()),
        },
        "cared_for_person_id",
    ),
    ("{rid}/accept", {"on": "yesterday"}, "on"),
    ("{rid}/accept", {"expected_version": 0}, "expected_version"),
    ("{rid}/decline", {"reason": "bored"}, "reason"),
    ("{rid}/decline", {}, "reason"),
    ("{rid}/allocate", {}, "worker_id"),
    ("{rid}/allocate", {"worker_id": ""}, "worker_id"),
    ("{rid}/first-contact", {"on": (TODAY + timedelta(days=1)).isoformat()}, "on"),
    ("{rid}/hold", {"reason": 7}, "reason"),
    ("{rid}/discharge", {"reason": "finished"}, "reason"),
    ("{rid}/close", {"reason": None}, "reason"),
    ("{rid}/offer", {"to_partner": "elsewhere"}, "to_partner"),
    ("{rid}/resume", {"unexpected": True}, "unexpected"),
]


@pytest.mark.parametrize(
    ("path", "body", "field"), BAD_INPUT, ids=[f"{p.split('/')[-1]}-{f}" for p, _, f in BAD_INPUT]
)
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(api, path, body, field):
    lead = api()
    rid = new_referral(api)["referral_id"]
    before = lead.get(f"/referrals/{rid}/history").json()["events"]
    count_before = lead.get("/referrals", params={"limit": 1}).json()["total"]
    response = lead.post(path.replace("{rid}", f"/referrals/{rid}"), body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    assert field in response.json()["message"]
    assert lead.get(f"/referrals/{rid}/history").json()["events"] == before
    assert lead.get("/referrals", params={"limit": 1}).json()["total"] == count_before


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_a_422(endpoints, auth, raw):
    response = requests.post(
        endpoints["partners"]["leeds-mind"]["referrals"] + "/referrals",
        data=raw,
        headers=auth("team_lead"),
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"body": ["must be a JSON object"]}


def test_lists_filter_and_page(api, register_worker):
    lead = api(partner="lslcs")
    worker = register_worker(f"worker-list-{uuid.uuid4().hex[:6]}", "lslcs")
    mine = [new_referral(api, "lslcs", source="self")["referral_id"] for _ in range(3)]
    lead.post(f"/referrals/{mine[0]}/accept", {})
    lead.post(f"/referrals/{mine[0]}/allocate", {"worker_id": worker})
    by_worker = lead.get("/referrals", params={"worker_id": worker}).json()
    assert [i["referral_id"] for i in by_worker["items"]] == [mine[0]]
    page = lead.get("/referrals", params={"source": "self", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["total"] >= 3
    second = lead.get("/referrals", params={"source": "self", "limit": 2, "offset": 2}).json()
    assert {i["referral_id"] for i in page["items"]}.isdisjoint(
        i["referral_id"] for i in second["items"]
    )
    overdue = lead.get("/referrals", params={"overdue": "true", "limit": 500}).json()["items"]
    assert mine[1] in {i["referral_id"] for i in overdue}  # received 10 days ago, no contact
    assert all(i["is_first_contact_overdue"] for i in overdue)
    assert lead.get("/referrals", params={"status": "bogus"}).status_code == 422
    assert lead.get("/referrals", params={"limit": 0}).status_code == 422
    caseloads = lead.get("/caseloads").json()
    assert {"worker_id": worker, "caseload": 1, "is_over_cap": False} in caseloads["workers"]


def test_who_may_see_a_referral(api):
    rid = new_referral(api)["referral_id"]
    assert api(partner="mesmac").get(f"/referrals/{rid}").status_code == 404
    assert api(partner="mesmac").post(f"/referrals/{rid}/accept").status_code == 404
    assert api(role="peer_worker", user="someone-else").get(f"/referrals/{rid}").status_code == 403
    assert api(role="alliance_analyst").get(f"/referrals/{rid}").status_code == 403
    assert api(role="peer_worker").post(f"/referrals/{rid}/accept").status_code == 403
    assert api().get(f"/referrals/{uuid.uuid4()}").status_code == 404


def _node(partner: str) -> list[str]:
    return [f"{partner}-referrals", f"{partner}-worker"]


def test_a_transfer_reaches_a_partner_whose_node_was_down(api):
    from deploy import stack as local

    alliance = local.STACKS[STACK]
    specs = {spec["name"]: spec for spec in local.process_table(alliance)}
    leeds, mesmac = api(), api(partner="mesmac")
    referral = new_referral(api, needs=["identity"])
    rid = referral["referral_id"]
    for name in _node("mesmac"):
        assert local.stop_process(alliance, name)
    try:
        offered = leeds.post(f"/referrals/{rid}/offer", {"to_partner": "mesmac"})
        assert offered.status_code == 200, offered.text
        assert offered.json()["offered_to"] == "mesmac"
    finally:
        for name in _node("mesmac"):
            local.start_process(alliance, specs[name])
        for name in _node("mesmac"):
            local.wait_healthy(specs[name]["health"])

    def offer_arrived():
        items = mesmac.get("/offers", params={"status": "received", "limit": 500}).json()
        return [o for o in items["items"] if o["referral_id"] == rid]

    [offer] = wait_for(offer_arrived, timeout=30, message="the offer at MESMAC")
    assert offer["from_partner"] == "leeds-mind" and offer["needs"] == ["identity"]
    assert "person_id" not in offer
    seen = {"If-Match": f'"{offer["version"]}"'}
    accepted = mesmac.post(f"/offers/{offer['offer_id']}/accept", headers=seen)
    assert accepted.status_code == 200, accepted.text
    # answered like every other command: the offer at its new version, that version its ETag
    assert accepted.json()["status"] == "accepted"
    assert accepted.headers["ETag"] == f'"{accepted.json()["version"]}"' != seen["If-Match"]
    again = mesmac.post(f"/offers/{offer['offer_id']}/accept")
    assert again.status_code == 409
    new_id = accepted.json()["new_referral_id"]
    here = mesmac.get(f"/referrals/{new_id}").json()
    assert here["transferred_from"] == "leeds-mind" and here["status"] == "received"
    wait_for(
        lambda: leeds.get(f"/referrals/{rid}").json()["status"] == "transferred",
        timeout=30,
        message="Leeds Mind sees the transfer",
    )
    history = leeds.get(f"/referrals/{rid}/history").json()["events"]
    assert [e["event_type"] for e in history][-2:] == ["ReferralOffered", "ReferralTransferred"]


def test_a_declined_offer_returns_the_referral_to_its_partner(api):
    leeds, lslcs = api(), api(partner="lslcs")
    rid = new_referral(api)["referral_id"]
    leeds.post(f"/referrals/{rid}/offer", {"to_partner": "lslcs"})

    def offer_arrived():
        items = lslcs.get("/offers", params={"status": "received", "limit": 500}).json()
        return [o for o in items["items"] if o["referral_id"] == rid]

    [offer] = wait_for(offer_arrived, timeout=30, message="the offer at LSLCS")
    bad = lslcs.post(f"/offers/{offer['offer_id']}/decline", {"reason": "meh"})
    assert bad.status_code == 422 and "reason" in bad.json()["fields"]
    declined = lslcs.post(f"/offers/{offer['offer_id']}/decline", {"reason": "no_capacity"})
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert declined.headers["ETag"] == f'"{declined.json()["version"]}"'
    wait_for(
        lambda: leeds.get(f"/referrals/{rid}").json()["offered_to"] is None,
        timeout=30,
        message="Leeds Mind sees the decline",
    )
    assert leeds.get(f"/referrals/{rid}").json()["status"] == "received"
    assert api(partner="mesmac").get(f"/offers/{offer['offer_id']}").status_code == 404


def test_the_sessions_service_learns_each_referrals_status_from_its_events(
    api, stack_state, register_worker
):
    import psycopg2

    register_worker("w-react", "lslcs")
    lead, worker = api(partner="lslcs"), api(partner="lslcs", role="peer_worker", user="w-react")
    rid = new_referral(api, "lslcs")["referral_id"]
    conn = psycopg2.connect(stack_state["owner_dsn"]["peerlink_lslcs"])
    conn.autocommit = True

    def status():
        with conn.cursor() as cur:
            cur.execute(
                "SELECT status, worker_id FROM sessions.referral_status WHERE referral_id = %s",
                (rid,),
            )
            return cur.fetchone()

    try:
        assert wait_for(status, message="received")[0] == "received"
        lead.post(f"/referrals/{rid}/accept")
        lead.post(f"/referrals/{rid}/allocate", {"worker_id": "w-react"})
        worker.post(f"/referrals/{rid}/first-contact")
        wait_for(lambda: status() == ("active", "w-react"), message="active at sessions")
        worker.post(f"/referrals/{rid}/discharge", {"reason": "goals_met"})
        wait_for(lambda: status() == ("discharged", "w-react"), message="discharged")
    finally:
        conn.close()


def test_reads_and_changes_of_a_persons_referral_are_in_their_audit_trail(api):
    referral = new_referral(api, "mesmac")
    person, rid = referral["person_id"], referral["referral_id"]
    lead = api(partner="mesmac", user="lead-audit")
    request_id = str(uuid.uuid4())
    lead.get(f"/referrals/{rid}", headers={"X-Request-Id": request_id})
    lead.post(f"/referrals/{rid}/accept")
    admin = api(partner="mesmac", role="partner_admin")
    trail = admin.get("/audit", params={"person_id": person}).json()
    actions = [(e["action"], e["user_id"], e["record_id"]) for e in trail["entries"]]
    assert ("read", "lead-audit", rid) in actions
    assert ("change", "lead-audit", rid) in actions
    read = next(e for e in trail["entries"] if e["action"] == "read")
    assert read["request_id"] == request_id and read["role"] == "team_lead"
    assert "status" in read["fields"]
    assert api(partner="mesmac").get("/audit", params={"person_id": person}).status_code == 403
    missing = admin.get("/audit")
    assert missing.status_code == 422 and "person_id" in missing.json()["fields"]
    assert (
        api(partner="lslcs", role="partner_admin")
        .get("/audit", params={"person_id": person})
        .json()["entries"]
        == []
    )
