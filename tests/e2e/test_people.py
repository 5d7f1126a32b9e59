"""The people API: identifiers in the vault, search without decrypting, audit, break-glass,
subject access and erasure that leaves nothing readable while reports still count."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

import psycopg2
import pytest
import requests

from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.e2e


def nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


@pytest.fixture
def person_details():
    rng = random.Random()
    return {
        "full_name": f"Morgan Test-{uuid.uuid4().hex[:8]}",
        "date_of_birth": f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "nhs_number": nhs_number(rng),
        "postcode": f"LS{rng.randint(1, 28)} {rng.randint(1, 9)}QZ",
        "phone": "0113 496 0000",
        "gender": "non_binary",
        "ethnicity": "mixed",
    }


@pytest.fixture(scope="module")
def people(endpoints, auth):
    def call(method, path, role="team_lead", partner="leeds-mind", user=None, **kw):
        return requests.request(
            method,
            endpoints["partners"][partner]["referrals"] + path,
            headers={**auth(role, partner, user), **kw.pop("headers", {})},
            timeout=10,
            **kw,
        )

    return call


def register(people, details) -> dict:
    response = people("POST", "/people", json=details)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_person_is_registered_read_changed_and_found(people, person_details):
    person = register(people, person_details)
    pid = person["person_id"]
    assert person["identifiers"]["full_name"] == person_details["full_name"]
    assert person["postcode_district"] == person_details["postcode"].split()[0]
    assert person["gender"] == "non_binary" and person["age_band"] in (
        "25_34",
        "35_44",
        "45_54",
        "55_64",
        "65_plus",
    )
    read = people("GET", f"/people/{pid}").json()
    assert read["identifiers"] == person["identifiers"]
    changed = people("POST", f"/people/{pid}", json={"phone": "0113 496 0999"})
    assert changed.status_code == 200 and changed.json()["identifiers"]["phone"] == "0113 496 0999"
    history = people("GET", f"/people/{pid}/history").json()["versions"]
    assert [v["identifiers"]["phone"] for v in history] == ["0113 496 0000", "0113 496 0999"]
    found = people("POST", "/people/search", json={"nhs_number": person_details["nhs_number"]})
    assert found.json()["people"] == [pid]
    by_name = people(
        "POST",
        "/people/search",
        json={
            "full_name": person_details["full_name"].upper(),
            "date_of_birth": person_details["date_of_birth"],
        },
    ).json()["people"]
    assert by_name == [pid]
    again = register(people, {**person_details, "phone": None})
    assert again["possible_duplicates"] == [pid]


BAD = [
    ({"date_of_birth": "1990-01-01"}, "full_name"),
    ({"full_name": "A B"}, "date_of_birth"),
    ({"full_name": "A B", "date_of_birth": "1990-01-01", "nhs_number": "123"}, "nhs_number"),
    ({"full_name": "A B", "date_of_birth": "1990-01-01", "nhs_number": "9434765918"}, "nhs_number"),
    (
        {"full_name": "A B", "date_of_birth": (date.today() + timedelta(days=1)).isoformat()},
        "date_of_birth",
    ),
    ({"full_name": "x" * 201, "date_of_birth": "1990-01-01"}, "full_name"),
    ({"full_name": 7, "date_of_birth": "1990-01-01"}, "full_name"),
    ({"full_name": "A B", "date_of_birth": "1990-01-01", "religion": "none"}, "religion"),
    ({"full_name": "A B", "date_of_birth": "1990-01-01", "postcode": "nowhere"}, "postcode"),
    ({"full_name": "A B", "date_of_birth": "1990-01-01", "gender": "unknown"}, "gender"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_registrations_are_422_naming_the_field_and_store_nothing(
    people, endpoints, auth, body, field
):
    feed = endpoints["partners"]["leeds-mind"]["referrals"] + "/events"

    def page(after: int, limit: int) -> dict:
        params = {"after": after, "limit": limit}
        return requests.get(feed, params=params, headers=auth("service"), timeout=10).json()

    # the feed's end, however many events the suite has stored before
    head = page(0, 5000)
    while head["events"]:
        head = page(head["next_after"], 5000)
    response = people("POST", "/people", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]
    after = page(head["next_after"], 10)
    # (the feed the hub reads withholds who acted: no one registered anyone meanwhile)
    assert [e for e in after["events"] if e["event_type"] == "PersonRegistered"] == []


def test_bad_changes_searches_and_erasures_are_422(people, person_details):
    pid = register(people, person_details)["person_id"]
    assert (
        "nhs_number"
        in people("POST", f"/people/{pid}", json={"nhs_number": "1111111112"}).json()["fields"]
    )
    assert "email" in people("POST", f"/people/{pid}", json={"email": "no"}).json()["fields"]
    assert "body" in people("POST", f"/people/{pid}", json={}).json()["fields"]
    assert people("POST", "/people/search", json={}).status_code == 422
    assert people("POST", "/people/search", json={"full_name": "A"}).status_code == 422
    assert (
        "nhs_number" in people("POST", "/people/search", json={"nhs_number": "12"}).json()["fields"]
    )
    erase = people(
        "POST", f"/people/{pid}/erasure", role="partner_admin", json={"reason_code": "because"}
    )
    assert erase.status_code == 422 and {"reason_code", "reason"} <= set(erase.json()["fields"])
    assert people("GET", f"/people/{pid}").json()["version"] == 1


def test_who_may_see_a_person(people, person_details):
    pid = register(people, person_details)["person_id"]
    assert people("GET", f"/people/{pid}", partner="mesmac").status_code == 404
    assert people("GET", f"/people/{pid}", role="peer_worker", user="pw-x").status_code == 403
    assert people("GET", f"/people/{pid}", role="alliance_analyst").status_code == 403
    assert people("GET", f"/people/{pid}", role="operator").status_code == 403
    lead = people("GET", f"/people/{pid}", role="safeguarding_lead")
    assert lead.status_code == 403 and "X-Break-Glass-Reason" in lead.json()["message"]
    glass = people(
        "GET",
        f"/people/{pid}",
        role="safeguarding_lead",
        user="sl-1",
        headers={"X-Break-Glass-Reason": "immediate risk reported by a neighbour"},
    )
    assert glass.status_code == 200
    trail = people("GET", "/audit", role="partner_admin", params={"person_id": pid}).json()
    assert ("break_glass", "sl-1", "immediate risk reported by a neighbour") in [
        (e["action"], e["user_id"], e["reason"]) for e in trail["entries"]
    ]
    # a peer worker sees the people on their own caseload
    referral = people(
        "POST",
        "/referrals",
        json={"person_id": pid, "source": "self", "received_on": date.today().isoformat()},
    )
    rid = referral.json()["referral_id"]
    people("POST", f"/referrals/{rid}/accept", json={})
    people("POST", "/workers", role="partner_admin", json={"worker_id": "pw-mine"})
    people("POST", f"/referrals/{rid}/allocate", json={"worker_id": "pw-mine"})
    assert people("GET", f"/people/{pid}", role="peer_worker", user="pw-mine").status_code == 200
    assert (
        people(
            "POST", f"/people/{pid}/erasure", json={"reason_code": "other", "reason": "x"}
        ).status_code
        == 403
    )


def raw_text_of_database(dsn: str) -> str:
    """Every row of every table of a database, as text: what an attacker with a copy sees."""
    conn = psycopg2.connect(dsn)
    chunks = []
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                " AND table_type = 'BASE TABLE'"
            )
            for schema, table in cur.fetchall():
                cur.execute(f'SELECT t::text FROM "{schema}"."{table}" t')
                chunks += [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    return "\n".join(chunks)


def test_erasure_leaves_nothing_readable_and_reports_still_count(
    people, person_details, stack_state, endpoints, auth
):
    pid = register(people, person_details)["person_id"]
    people("GET", f"/people/{pid}")
    posted = people(
        "POST",
        "/referrals",
        json={"person_id": pid, "source": "carer", "received_on": date.today().isoformat()},
    )
    assert posted.status_code == 201, posted.text
    referral = posted.json()

    def hub_count():
        rows = requests.get(
            f"{endpoints['hub']['reporting']}/internal/referral-counts",
            params={"partner": "leeds-mind"},
            headers=auth("service", "alliance"),
            timeout=10,
        ).json()
        return sum(r["referrals"] for r in rows["rows"] if r["source"] == "carer")

    before = hub_count()
    posted = people(
        "POST",
        "/referrals",
        json={"person_id": pid, "source": "carer", "received_on": date.today().isoformat()},
    )
    assert posted.status_code == 201, posted.text
    referral = posted.json()
    wait_for(lambda: hub_count() >= before + 1, message="the referral counted at the hub")
    counted = before + 1
    export = people("GET", f"/people/{pid}/export", role="partner_admin").json()
    assert export["person"]["identifiers"]["nhs_number"] == person_details["nhs_number"]
    assert referral["referral_id"] in [
        r["stream_id"]
        for r in export["records"]["referrals"]
        if r["event_type"] == "ReferralReceived"
    ]
    assert {"read", "change"} <= {e["action"] for e in export["audit"]}

    erased = people(
        "POST",
        f"/people/{pid}/erasure",
        role="partner_admin",
        json={"reason_code": "person_request", "reason": "asked in writing"},
    )
    assert erased.status_code == 200 and erased.json()["status"] == "erased"
    after = people("GET", f"/people/{pid}").json()
    assert after["status"] == "erased" and after["identifiers"] is None
    assert after["gender"] == "non_binary"  # the anonymous, coded record remains
    assert (
        people("POST", "/people/search", json={"nhs_number": person_details["nhs_number"]}).json()[
            "people"
        ]
        == []
    )
    assert people("POST", f"/people/{pid}", json={"phone": "0113"}).status_code in (409, 422)

    secrets = [
        person_details["full_name"],
        person_details["nhs_number"],
        person_details["date_of_birth"],
        person_details["postcode"],
    ]
    everything = "\n".join(raw_text_of_database(dsn) for dsn in stack_state["owner_dsn"].values())
    logs = "\n".join(
        p.read_text(errors="replace")
        for p in (ROOT / "run" / stack_state["stack"] / "logs").glob("*.log")
    )
    for secret in secrets:
        assert secret not in everything, secret
        assert secret not in logs, secret
    assert hub_count() >= counted  # erasure takes nothing from the figures
    export = people("GET", f"/people/{pid}/export", role="partner_admin").json()
    assert export["person"]["status"] == "erased" and export["person"]["identifiers"] is None
