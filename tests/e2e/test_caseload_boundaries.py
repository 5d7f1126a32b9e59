"""A peer worker's caseload is not widened by their own recording: attendance, a group place or
notes about someone off their caseload are refused (403, the rule named) and change nothing, so
the person's records stay closed to them; a team lead may, and so may the person's own worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.e2e.test_sessions import (
    NOW,
    TODAY,
    Api,
    active_referral,
    ok,
    on_workforce,
    register_person,
    swemwbs,
    wait_until_sessions_sees,
)

pytestmark = pytest.mark.e2e

RULE = "PeerWorkerRecordsOnlyTheirCaseload"


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(service="sessions", role="team_lead", user=None, partner="leeds-mind"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


class World:
    """A peer worker with one person allocated to them (`mine`) and one who is not (`theirs`),
    whose plan, sealed text and measures a lead recorded."""

    def __init__(self, api, stack_state):
        self.worker = f"pw-case-{uuid.uuid4().hex[:6]}"
        on_workforce(api, self.worker, "pw-colleague")
        self.lead = api()
        self.pw = api(role="peer_worker", user=self.worker)
        self.mine = register_person(api)
        self.referral_id = active_referral(api, self.mine, self.worker)
        wait_until_sessions_sees(stack_state, self.referral_id, "active")
        self.theirs = register_person(api)
        self.text_id = ok(
            self.lead.post("/texts", {"person_id": self.theirs, "text": "Call my brother"}), 201
        )["text_id"]
        self.plan_id = ok(
            self.lead.post(
                "/plans",
                {
                    "person_id": self.theirs,
                    "kind": "crisis_safety",
                    "content": {
                        "services": [{"type": "crisis_line"}],
                        "people": [{"type": "family_member", "contact_text_id": self.text_id}],
                    },
                },
            ),
            201,
        )["plan_id"]
        ok(
            self.lead.post(
                f"/people/{self.theirs}/measures",
                {
                    "measure": "swemwbs",
                    "timepoint": "start",
                    "taken_on": TODAY.isoformat(),
                    "answers": swemwbs(20),
                },
            ),
            201,
        )

    def group(self, facilitators) -> str:
        body = {
            "name": f"Thursday walk {uuid.uuid4().hex[:4]}",
            "kind": "social_activity",
            "capacity": 8,
            "facilitator_ids": facilitators,
        }
        return ok(self.lead.post("/groups", body), 201)["group_id"]

    def timeline(self, person) -> list:
        return ok(self.lead.get(f"/people/{person}/timeline", limit=500))["items"]

    def assert_closed_to_the_worker(self, person=None) -> None:
        """What `theirs` has on record stays closed to the peer worker."""
        person = person or self.theirs
        pw = self.pw
        assert pw.get(f"/plans/{self.plan_id}").status_code == 403
        assert pw.get("/plans", person_id=person).status_code == 403
        assert pw.get(f"/texts/{self.text_id}").status_code == 403
        assert pw.get(f"/people/{person}/measures").status_code == 403
        assert pw.get(f"/people/{person}/timeline").status_code == 403


@pytest.fixture
def world(api, stack_state):
    return World(api, stack_state)


def drop_in(worker, *people, hours_ago=3, **extra) -> dict:
    return {
        "kind": "drop_in",
        "mode": "face_to_face_base",
        "location": "peer_support_base",
        "worker_ids": [worker],
        "actual_start_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "duration_minutes": 60,
        "attendance": [{"person_id": p, "status": "attended"} for p in people],
        **extra,
    }


def group_session(group_id, worker, *people, hours_ago=3) -> dict:
    body = drop_in(worker, *people, hours_ago=hours_ago)
    return {**body, "kind": "group", "group_id": group_id, "location": "community_venue"}


def refused(response) -> dict:
    assert response.status_code == 403, response.text
    body = response.json()
    assert RULE in body["message"], body
    assert body.get("rule", RULE) == RULE
    return body


# -- refused: each way a peer worker could link themselves to someone --------------------------


def test_a_drop_in_recorded_with_someone_off_the_caseload_is_refused_and_records_nothing(world):
    before = world.timeline(world.theirs), world.timeline(world.mine)
    alone = world.pw.post("/sessions/held", drop_in(world.worker, world.theirs))
    refused(alone)
    # with their own person beside: still the whole request is refused
    mixed = world.pw.post(
        "/sessions/held", drop_in(world.worker, world.mine, world.theirs, anonymous_attendees=3)
    )
    refused(mixed)
    assert (world.timeline(world.theirs), world.timeline(world.mine)) == before
    assert ok(world.lead.get("/sessions", person_id=world.theirs))["total"] == 0
    assert ok(world.pw.get("/sessions", worker_id=world.worker))["total"] == 0
    world.assert_closed_to_the_worker()


def test_a_booked_session_recorded_with_someone_off_the_caseload_is_refused(world):
    booked = ok(
        world.lead.post(
            "/sessions",
            {
                "kind": "drop_in",
                "mode": "face_to_face_base",
                "location": "peer_support_base",
                "worker_ids": [world.worker],
                "planned_start_at": (NOW - timedelta(hours=2)).isoformat(),
            },
        ),
        201,
    )
    sid = booked["session_id"]
    response = world.pw.post(
        f"/sessions/{sid}/record",
        {
            "actual_start_at": (NOW - timedelta(hours=2)).isoformat(),
            "duration_minutes": 45,
            "attendance": [{"person_id": world.theirs, "status": "attended"}],
        },
    )
    refused(response)
    session = ok(world.lead.get(f"/sessions/{sid}"))
    assert session["status"] == "booked" and session["version"] == 1
    assert session["attendance"] == []
    world.assert_closed_to_the_worker()


def test_attendance_added_to_a_held_session_for_someone_off_the_caseload_is_refused(world):
    session = ok(world.pw.post("/sessions/held", drop_in(world.worker, world.mine)), 201)
    sid = session["session_id"]
    before = world.timeline(world.theirs)
    response = world.pw.post(
        f"/sessions/{sid}/attendance", {"person_id": world.theirs, "status": "attended"}
    )
    refused(response)
    after = ok(world.lead.get(f"/sessions/{sid}"))
    assert after["version"] == session["version"]
    assert [a["person_id"] for a in after["attendance"]] == [world.mine]
    assert world.timeline(world.theirs) == before
    world.assert_closed_to_the_worker()


def test_adding_someone_off_the_caseload_to_a_group_they_facilitate_is_refused(world):
    gid = world.group([world.worker])
    before = world.timeline(world.theirs)
    response = world.pw.post(f"/groups/{gid}/join", {"person_id": world.theirs})
    refused(response)
    group = ok(world.lead.get(f"/groups/{gid}"))
    assert group["members"] == [] and group["waiting_list"] == [] and group["version"] == 1
    assert ok(world.lead.get(f"/groups/{gid}/register"))["people"] == []
    assert world.timeline(world.theirs) == before
    world.assert_closed_to_the_worker()
    # nor can a session of the group they facilitate bring the person in
    refused(world.pw.post("/sessions/held", group_session(gid, world.worker, world.theirs)))
    assert ok(world.lead.get("/sessions", group_id=gid))["total"] == 0


def test_correcting_or_writing_notes_about_someone_off_the_caseload_is_refused(world):
    """A colleague ran a session of the worker's group and recorded someone who is not a member:
    the facilitator may act on the session, but not about that person."""
    gid = world.group([world.worker])
    session = ok(
        world.lead.post("/sessions/held", group_session(gid, "pw-colleague", world.theirs)), 201
    )
    sid = session["session_id"]
    before = world.timeline(world.theirs)
    correct = world.pw.post(
        f"/sessions/{sid}/attendance/correct",
        {"person_id": world.theirs, "status": "late_seen", "reason": "new_information"},
    )
    refused(correct)
    notes = world.pw.post(
        f"/sessions/{sid}/notes",
        {
            "themes": ["isolation_and_connection"],
            "text": "Said they had not left the house all week",
            "about_person_id": world.theirs,
        },
    )
    refused(notes)
    after = ok(world.lead.get(f"/sessions/{sid}"))
    assert after["version"] == session["version"] and after["notes"] is None
    assert after["attendance"][0]["status"] == "attended"
    assert world.timeline(world.theirs) == before
    world.assert_closed_to_the_worker()


def test_naming_themselves_on_a_booked_session_does_not_bring_in_who_it_already_names(world):
    """A lead booked a session of the worker's group for a colleague and recorded someone's
    did-not-attend; the facilitator may not record it as theirs and so come to see that person."""
    gid = world.group([world.worker])
    start = NOW - timedelta(hours=2)
    booked = ok(
        world.lead.post(
            "/sessions",
            {
                "kind": "group",
                "group_id": gid,
                "mode": "community_venue",
                "location": "community_venue",
                "worker_ids": ["pw-colleague"],
                "planned_start_at": start.isoformat(),
            },
        ),
        201,
    )
    sid = booked["session_id"]
    marked = ok(
        world.lead.post(
            f"/sessions/{sid}/attendance", {"person_id": world.theirs, "status": "did_not_attend"}
        )
    )
    response = world.pw.post(
        f"/sessions/{sid}/record",
        {
            "actual_start_at": start.isoformat(),
            "duration_minutes": 60,
            "worker_ids": [world.worker],
        },
    )
    refused(response)
    after = ok(world.lead.get(f"/sessions/{sid}"))
    assert after["status"] == "booked" and after["version"] == marked["version"]
    assert after["worker_ids"] == ["pw-colleague"]
    world.assert_closed_to_the_worker()


# -- allowed -------------------------------------------------------------------------------------


def test_a_team_lead_records_anyone_of_their_partner(world):
    gid = world.group([world.worker])
    lead = world.lead
    joined = ok(lead.post(f"/groups/{gid}/join", {"person_id": world.theirs}))
    assert joined["members"] == [world.theirs]
    session = ok(lead.post("/sessions/held", drop_in("pw-colleague", world.theirs)), 201)
    sid = session["session_id"]
    ok(
        lead.post(
            f"/sessions/{sid}/attendance/correct",
            {"person_id": world.theirs, "status": "late_seen", "reason": "new_information"},
        )
    )
    ok(lead.post(f"/sessions/{sid}/notes", {"text": "Came early", "about_person_id": world.theirs}))
    events = {item["event_type"] for item in world.timeline(world.theirs)}
    assert {"GroupMemberJoined", "AttendanceRecorded", "AttendanceCorrected"} <= events
    # and what a lead linked, the group's facilitator now works with
    ok(world.pw.post("/sessions/held", group_session(gid, world.worker, world.theirs)), 201)


def test_a_peer_worker_records_the_people_on_their_caseload(api, world):
    pw, mine = world.pw, world.mine
    session = ok(pw.post("/sessions/held", drop_in(world.worker, mine)), 201)
    sid = session["session_id"]
    ok(
        pw.post(
            f"/sessions/{sid}/attendance/correct",
            {"person_id": mine, "status": "late_seen", "reason": "recorded_in_error"},
        )
    )
    ok(pw.post(f"/sessions/{sid}/notes", {"text": "Brought a friend", "about_person_id": mine}))
    gid = world.group([world.worker])
    assert ok(pw.post(f"/groups/{gid}/join", {"person_id": mine}))["members"] == [mine]
    # a member a lead added is on the facilitator's caseload too
    member = register_person(api)
    ok(world.lead.post(f"/groups/{gid}/join", {"person_id": member}))
    held = ok(pw.post("/sessions/held", group_session(gid, world.worker, mine, member)), 201)
    assert {a["person_id"] for a in held["attendance"]} == {mine, member}
    assert ok(pw.get(f"/people/{mine}/timeline"))["total"] >= 4


def test_a_colleague_covering_a_one_to_one_records_the_person_it_was_booked_for(api, world):
    """A lead books a one-to-one of the worker's referral for a colleague to cover."""
    cover = f"pw-cover-{uuid.uuid4().hex[:6]}"
    on_workforce(api, cover)
    start = NOW - timedelta(hours=2)
    booked = ok(
        world.lead.post(
            "/sessions",
            {
                "kind": "one_to_one",
                "referral_id": world.referral_id,
                "mode": "phone",
                "location": "remote",
                "worker_ids": [cover],
                "planned_start_at": start.isoformat(),
            },
        ),
        201,
    )
    colleague = api(role="peer_worker", user=cover)
    held = ok(
        colleague.post(
            f"/sessions/{booked['session_id']}/record",
            {
                "actual_start_at": start.isoformat(),
                "duration_minutes": 30,
                "attendance": [{"person_id": world.mine, "status": "attended"}],
            },
        )
    )
    assert held["status"] == "held" and held["attendance"][0]["person_id"] == world.mine
    # the cover does not make the person theirs to bring to a drop-in
    refused(colleague.post("/sessions/held", drop_in(cover, world.mine)))


# -- a cover for a group's session ---------------------------------------------------------------

GROUP_RULE = "PeerWorkerSeesOnlyTheMembersOfGroupsTheyFacilitate"


def closed_group(response) -> None:
    assert response.status_code == 403, response.text
    assert GROUP_RULE in response.json()["message"], response.text


def group_booking(group_id, workers, start) -> dict:
    return {
        "kind": "group",
        "group_id": group_id,
        "mode": "community_venue",
        "location": "community_venue",
        "worker_ids": workers,
        "planned_start_at": start.isoformat(),
    }


def held_with(person, start) -> dict:
    return {
        "actual_start_at": start.isoformat(),
        "duration_minutes": 60,
        "attendance": [{"person_id": person, "status": "attended"}],
    }


def group_with_a_member(api, world) -> tuple[str, str]:
    """A group the worker facilitates, with a member a lead added."""
    gid = world.group([world.worker])
    member = register_person(api)
    ok(world.lead.post(f"/groups/{gid}/join", {"person_id": member}))
    return gid, member


def test_a_cover_a_lead_named_reads_and_takes_that_sessions_register_and_no_other(api, world):
    cover = f"pw-cover-{uuid.uuid4().hex[:6]}"
    on_workforce(api, cover)
    gid, member = group_with_a_member(api, world)
    start = NOW - timedelta(hours=3)
    covered = ok(world.lead.post("/sessions", group_booking(gid, [cover], start)), 201)
    sid = covered["session_id"]
    other_start = NOW - timedelta(days=7)
    other = ok(world.lead.post("/sessions", group_booking(gid, [world.worker], other_start)), 201)
    colleague = api(role="peer_worker", user=cover)

    register = ok(colleague.get(f"/groups/{gid}/register", session_id=sid, names="true"))
    assert [s["session_id"] for s in register["sessions"]] == [sid]
    [row] = register["people"]
    assert row["person_id"] == member and row["full_name"].startswith("Sam Sessions-")
    held = ok(colleague.post(f"/sessions/{sid}/record", held_with(member, start)))
    assert held["status"] == "held"
    assert [(a["person_id"], a["status"]) for a in held["attendance"]] == [(member, "attended")]
    taken = ok(colleague.get(f"/groups/{gid}/register", session_id=sid))
    assert taken["people"][0]["attendance"][0]["status"] == "attended"

    # the group's whole register, its other sessions and who is in it stay closed to them
    closed_group(colleague.get(f"/groups/{gid}/register"))
    closed_group(colleague.get(f"/groups/{gid}/register", session_id=other["session_id"]))
    closed_group(colleague.get(f"/groups/{gid}"))
    attend = {"person_id": member, "status": "did_not_attend"}
    response = colleague.post(f"/sessions/{other['session_id']}/attendance", attend)
    assert response.status_code == 403, response.text
    assert ok(world.lead.get(f"/sessions/{other['session_id']}"))["attendance"] == []
    # and a session of another group is not this group's register
    another_group = world.group(["pw-colleague"])
    elsewhere = ok(world.lead.post("/sessions", group_booking(another_group, [cover], start)), 201)
    response = colleague.get(f"/groups/{gid}/register", session_id=elsewhere["session_id"])
    assert response.status_code == 404, response.text


def test_a_cover_a_facilitator_named_takes_the_register_of_that_session(api, world):
    cover = f"pw-cover-{uuid.uuid4().hex[:6]}"
    on_workforce(api, cover)
    gid, member = group_with_a_member(api, world)
    start = NOW - timedelta(hours=4)
    booked = ok(world.pw.post("/sessions", group_booking(gid, [world.worker, cover], start)), 201)
    colleague = api(role="peer_worker", user=cover)
    ok(colleague.get(f"/groups/{gid}/register", session_id=booked["session_id"]))
    held = ok(colleague.post(f"/sessions/{booked['session_id']}/record", held_with(member, start)))
    assert [a["person_id"] for a in held["attendance"]] == [member]


def test_a_peer_worker_naming_themselves_on_a_groups_session_opens_nothing(api, world):
    """Any peer worker may record a group's session they run; their own naming does not make
    its group's people theirs to read or record."""
    stranger = f"pw-self-{uuid.uuid4().hex[:6]}"
    on_workforce(api, stranger)
    gid, member = group_with_a_member(api, world)
    start = NOW - timedelta(hours=5)
    own = api(role="peer_worker", user=stranger)
    booked = ok(own.post("/sessions", group_booking(gid, [stranger], start)), 201)
    sid = booked["session_id"]
    closed_group(own.get(f"/groups/{gid}/register", session_id=sid, names="true"))
    refused(own.post(f"/sessions/{sid}/record", held_with(member, start)))
    after = ok(world.lead.get(f"/sessions/{sid}"))
    assert after["status"] == "booked" and after["attendance"] == []
    # nor does a peer worker who does not facilitate the group name a cover for it
    cover = f"pw-cover-{uuid.uuid4().hex[:6]}"
    on_workforce(api, cover)
    later = start + timedelta(minutes=30)
    named = ok(own.post("/sessions", group_booking(gid, [stranger, cover], later)), 201)
    colleague = api(role="peer_worker", user=cover)
    closed_group(colleague.get(f"/groups/{gid}/register", session_id=named["session_id"]))
    refused(colleague.post(f"/sessions/{named['session_id']}/record", held_with(member, later)))
