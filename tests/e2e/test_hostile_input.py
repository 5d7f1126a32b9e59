"""Hostile or careless input never reaches a 500: offsets too large for the database, bodies
nested without end, NUL bytes and unpaired surrogates, bodies that say they are too large, a
request id that is not one, a break-glass reason that is no reason. Each is a 4xx naming the
field and the rule, and nothing is recorded."""

from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e

PARTNER = "leeds-mind"
HUGE = "17463336397557439251087360"
LISTS = {
    "referrals": ["/referrals", "/workers", "/offers"],
    "sessions": ["/sessions", "/diary", "/plans", "/signposting", "/groups"],
    "safeguarding": ["/concerns"],
}


@pytest.fixture(scope="module")
def node(endpoints):
    return endpoints["partners"][PARTNER]


@pytest.fixture(scope="module")
def lead(auth):
    return auth("team_lead", PARTNER)


def refused(answer, status: int, field: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert field in body["message"], body
    return body


def test_an_offset_beyond_a_bigint_is_refused_on_every_list(node, lead, auth):
    for service, paths in LISTS.items():
        headers = auth("safeguarding_lead", PARTNER) if service == "safeguarding" else lead
        for path in paths:
            answer = requests.get(
                node[service] + path, params={"offset": HUGE}, headers=headers, timeout=10
            )
            body = refused(answer, 422, "offset")
            assert "9223372036854775807" in body["message"], (path, body)


def test_a_field_given_twice_in_a_query_is_refused_not_read_as_its_first(
    node, lead, endpoints, auth
):
    answer = requests.get(
        node["referrals"] + "/referrals?limit=1&limit=500", headers=lead, timeout=10
    )
    body = refused(answer, 422, "limit")
    assert "once" in body["message"], body
    hub = endpoints["hub"]["reporting"]
    answer = requests.get(
        hub + "/reports/referrals?from=2026-04-01&from=2025-04-01&to=2027-03-31",
        headers=auth("alliance_analyst", "alliance"),
        timeout=10,
    )
    refused(answer, 422, "from")
    # a list field may still be given more than once
    answer = requests.get(
        hub + "/internal/referral-counts?partner=leeds-mind&partner=mesmac",
        headers=auth("service", "alliance"),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def test_a_nul_byte_in_a_query_is_refused_before_the_database(node, lead):
    for service, path in (("referrals", "/referrals"), ("sessions", "/diary")):
        answer = requests.get(node[service] + path + "?worker_id=a%00b", headers=lead, timeout=10)
        body = refused(answer, 422, "worker_id")
        assert "NUL" in body["message"]


def test_a_body_nested_without_end_is_refused(node, lead):
    for service in ("referrals", "sessions", "safeguarding"):
        path = {"referrals": "/people", "sessions": "/groups", "safeguarding": "/concerns"}
        answer = requests.post(
            node[service] + path[service],
            data="[" * 100_000 + "]" * 100_000,
            headers={**lead, "Content-Type": "application/json"},
            timeout=10,
        )
        assert answer.status_code in (413, 422), answer.text
        answer = requests.post(
            node[service] + path[service],
            data='{"a":' * 40 + "1" + "}" * 40,
            headers={**lead, "Content-Type": "application/json"},
            timeout=10,
        )
        refused(answer, 422, "nested")


def test_an_unpaired_surrogate_in_text_is_refused_and_nothing_is_created(node, lead):
    before = requests.get(node["sessions"] + "/groups", headers=lead, timeout=10).json()["total"]
    answer = requests.post(
        node["sessions"] + "/groups",
        data=(
            '{"name": "Walk and talk", "kind": "peer_support_group", "capacity": 8,'
            ' "facilitator_ids": ["a\\ud800b"]}'
        ),
        headers={**lead, "Content-Type": "application/json"},
        timeout=10,
    )
    body = refused(answer, 422, "facilitator_ids")
    assert "surrogate" in body["message"]
    after = requests.get(node["sessions"] + "/groups", headers=lead, timeout=10).json()["total"]
    assert after == before


def test_a_body_declared_too_large_is_refused_unread(node, lead):
    answer = requests.post(
        node["referrals"] + "/people",
        data=b"{" + b" " * (300 * 1024) + b"}",
        headers={**lead, "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 413, answer.text


def test_a_request_id_that_is_not_a_uuid_is_replaced(node, lead):
    answer = requests.get(
        node["referrals"] + "/referrals",
        headers={**lead, "X-Request-Id": "<script>x</script>"},
        timeout=10,
    )
    assert answer.status_code == 200
    uuid.UUID(answer.headers["X-Request-Id"])
    mine = str(uuid.uuid4())
    answer = requests.get(
        node["referrals"] + "/referrals", headers={**lead, "X-Request-Id": mine}, timeout=10
    )
    assert answer.headers["X-Request-Id"] == mine


def test_a_break_glass_reason_must_be_a_reason(node, auth, register_person):
    person = register_person(PARTNER)
    for reason in ("x", "because\x07bell rings"):
        answer = requests.get(
            node["referrals"] + f"/people/{person}",
            headers={**auth("safeguarding_lead", PARTNER), "X-Break-Glass-Reason": reason},
            timeout=10,
        )
        refused(answer, 422, "X-Break-Glass-Reason")


def test_a_moment_whose_utc_offset_the_database_cannot_hold_is_refused(endpoints, auth):
    analyst = auth("alliance_analyst", "alliance")
    hub = endpoints["hub"]["reporting"]
    for path in ("/reports/referrals", "/dashboard"):
        answer = requests.get(
            hub + path, params={"as_at": "2020-08-09T06:37:48-16:42"}, headers=analyst, timeout=10
        )
        body = refused(answer, 422, "as_at")
        assert "UTC offset" in body["message"], body
        # the furthest offset a timestamp may carry is read, and found not to be a cut-off
        answer = requests.get(
            hub + path, params={"as_at": "2020-08-09T06:37:48-15:59"}, headers=analyst, timeout=10
        )
        body = refused(answer, 422, "as_at")
        assert "not a published cut-off" in body["message"], body
