"""Operations and access across the running test alliance, over HTTP: health, metrics, OpenAPI
documents, tokens, the referrals API and its event feed, and one referral travelling from a
partner node to the hub's report."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for
from tests.disclosure import pseudonyms_of
from tests.forgery import forgeries

pytestmark = pytest.mark.e2e

TIMEOUT = 10
ENVELOPE = {
    "event_id",
    "stream_type",
    "stream_id",
    "version",
    "position",
    "event_type",
    "schema_version",
    "partner_id",
    "occurred_at",
    "recorded_at",
    "actor",
    "correlation_id",
    "causation_id",
    "payload",
}


def today() -> date:
    """The services' calendar: they refuse a received_on after today in UTC."""
    return datetime.now(UTC).date()


def get(url: str, headers: dict | None = None, **kw) -> requests.Response:
    return requests.get(url, headers=headers, timeout=TIMEOUT, **kw)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def every_url(endpoints) -> list[str]:
    return [url for _, url in every_owned_url(endpoints)]


def every_owned_url(endpoints) -> list[tuple[str, str]]:
    """(whose process it is, its URL) for every process: the hub's are `alliance`'s, and each
    side trusts only its own provider's operators."""
    owned = [("alliance", url) for url in endpoints["hub"].values()]
    for partner, node in endpoints["partners"].items():
        owned += [(partner, url) for url in node.values()]
    return owned


def node_services(endpoints) -> list[tuple[str, str, str]]:
    return [
        (partner, service, url)
        for partner, node in endpoints["partners"].items()
        for service, url in node.items()
        if service != "worker"
    ]


# -- health ------------------------------------------------------------------------------------


def test_every_process_is_healthy_and_says_it_checked_what_it_depends_on(endpoints):
    urls = every_url(endpoints)
    assert len(urls) == 2 + 5 * len(endpoints["partners"])
    # the people's pages use no broker: they need their partner's sign-in provider instead
    pages = {node["web"] for node in endpoints["partners"].values()}
    for url in urls:
        response = get(f"{url}/health")
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        assert body["status"] == "ok", url
        assert body["checks"]["database"] == "ok", url
        assert body["checks"]["provider" if url in pages else "broker"] == "ok", url


# -- tokens and metrics ------------------------------------------------------------------------


def test_metrics_refuse_a_missing_or_invalid_token_with_401(endpoints, stack_state):
    forged = forgeries(stack_state)
    for url in every_url(endpoints):
        response = get(f"{url}/metrics")
        assert response.status_code == 401, url
        assert response.json()["error"] == "unauthenticated", url
        for name, token in forged.items():
            response = get(f"{url}/metrics", bearer(token))
            assert response.status_code == 401, (url, name)
            assert "peerlink_" not in response.text, (url, name)


def test_metrics_are_for_operators_not_peer_workers(endpoints, auth):
    for owner, url in every_owned_url(endpoints):
        # the hub has no peer workers: its own analysts are no operators either
        other_role = "alliance_analyst" if owner == "alliance" else "peer_worker"
        forbidden = get(f"{url}/metrics", auth(other_role, owner))
        assert forbidden.status_code == 403, url
        assert "peerlink_" not in forbidden.text, url
        allowed = get(f"{url}/metrics", auth("operator", owner))
        assert allowed.status_code == 200, url
        assert allowed.headers["Content-Type"].startswith("text/plain"), url
        assert "# TYPE peerlink_" in allowed.text, url


def samples(url: str, auth, owner: str = "leeds-mind") -> dict[str, float]:
    """Every sample of a process's metrics summed over its labels, by sample name (read by an
    operator of the partner, or of the hub, whose process it is)."""
    response = get(f"{url}/metrics", auth("operator", owner))
    assert response.status_code == 200, url
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_the_metrics_follow_a_referral_through_service_relay_and_hub_consumer(endpoints, auth):
    node = endpoints["partners"]["leeds-mind"]
    hub_worker = endpoints["hub"]["worker"]
    service_before = samples(node["referrals"], auth)
    relay_before = samples(node["worker"], auth)
    hub_before = samples(hub_worker, auth, "alliance")

    post_referral(endpoints, auth, "leeds-mind")

    service = samples(node["referrals"], auth)
    assert service["peerlink_events_appended_total"] >= (
        service_before.get("peerlink_events_appended_total", 0) + 1
    )
    assert service["peerlink_event_append_duration_seconds_count"] >= 1
    assert "peerlink_event_append_duration_seconds_bucket" in service
    assert service["peerlink_http_requests_total"] > service_before.get(
        "peerlink_http_requests_total", 0
    )
    assert "peerlink_http_request_duration_seconds_bucket" in service

    relay = wait_for(
        lambda: (
            (now := samples(node["worker"], auth)).get("peerlink_relay_published_total", 0)
            > relay_before.get("peerlink_relay_published_total", 0)
            and now
        ),
        message="the node relay to publish the referral",
    )
    assert {"peerlink_relay_lag_events", "peerlink_relay_lag_seconds"} <= set(relay)

    hub = wait_for(
        lambda: (
            (now := samples(hub_worker, auth, "alliance")).get("peerlink_consumer_applied_total", 0)
            > hub_before.get("peerlink_consumer_applied_total", 0)
            and now
        ),
        message="the hub consumer to apply the referral",
    )
    assert hub["peerlink_consumer_lag_seconds"] >= 0
    assert all(
        name.startswith(("peerlink_", "python_", "process_")) for name in (*service, *relay, *hub)
    )


# -- OpenAPI -----------------------------------------------------------------------------------


def test_every_service_publishes_an_openapi_3_document_of_its_routes(endpoints):
    services = [(s, url) for _, s, url in node_services(endpoints)]
    services.append(("reporting", endpoints["hub"]["reporting"]))
    own_paths = {
        "referrals": {"/referrals", "/referrals/{referral_id}", "/events"},
        "sessions": {"/events", "/sessions", "/groups/{group_id}/register"},
        "safeguarding": {"/events"},
        "reporting": {"/reports", "/reports/{name}", "/reports/freshness", "/reports/cutoffs"},
        "web": {"/", "/auth/login", "/auth/callback", "/auth/logout"},
    }
    for service, url in services:
        response = get(f"{url}/openapi.json")
        assert response.status_code == 200, url
        document = response.json()
        assert document["openapi"].startswith("3."), url
        assert document["components"]["securitySchemes"]["bearer"] == {
            "type": "http",
            "scheme": "bearer",
        }, url
        assert {"/health", "/metrics", "/openapi.json"} | own_paths[service] <= set(
            document["paths"]
        ), url
        assert "security" not in document["paths"]["/health"]["get"], url
        assert document["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}], url


def test_every_delivery_worker_publishes_its_openapi_document(endpoints):
    workers = [endpoints["partners"][p]["worker"] for p in endpoints["partners"]]
    workers.append(endpoints["hub"]["worker"])
    for url in workers:
        response = get(f"{url}/openapi.json")
        assert response.status_code == 200, url
        document = response.json()
        assert document["openapi"].startswith("3."), url
        assert set(document["paths"]) == {"/health", "/metrics", "/openapi.json"}, url
        assert document["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}], url


def test_every_documented_query_parameter_is_one_named_field(endpoints):
    services = [(s, url) for _, s, url in node_services(endpoints)]
    services.append(("reporting", endpoints["hub"]["reporting"]))
    for service, url in services:
        document = get(f"{url}/openapi.json").json()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for parameter in operation.get("parameters", []):
                    assert parameter.get("name") and "type" in parameter["schema"], (
                        service,
                        method,
                        path,
                        parameter,
                    )
                success = [c for c in operation["responses"] if c[0] in "23"]
                assert len(success) == 1, (service, method, path)


def test_the_referrals_document_matches_what_the_service_answers(endpoints):
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    document = get(f"{url}/openapi.json").json()
    post = document["paths"]["/referrals"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert {"201", "401", "403", "422"} <= set(post["responses"])
    assert "requestBody" in post
    assert "get" in document["paths"]["/referrals/{referral_id}"]
    feed = document["paths"]["/events"]["get"]
    assert feed["security"] == [{"bearer": []}]
    # every documented operation exists: without a token it is refused, never "not found"
    for path, operations in document["paths"].items():
        concrete = re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)
        for method, operation in operations.items():
            response = requests.request(method, url + concrete, timeout=TIMEOUT)
            expected = 401 if operation.get("security") else 200
            assert response.status_code == expected, (method, path, response.status_code)


# -- the referrals API -------------------------------------------------------------------------


def referral_body(source: str = "gp", **overrides) -> dict:
    return {
        "person_id": str(uuid.uuid4()),
        "source": source,
        "received_on": today().isoformat(),
        "urgency": "soon",
        **overrides,
    }


def registers_its_person(body: dict) -> dict:
    """The referral `body` with its person registered in the same request."""
    person = {"full_name": f"Ops Person {uuid.uuid4().hex[:8]}", "date_of_birth": "1975-04-03"}
    return {"person": person, **{k: v for k, v in body.items() if k != "person_id"}}


def registered_person(endpoints, auth, partner: str = "leeds-mind") -> str:
    response = requests.post(
        f"{endpoints['partners'][partner]['referrals']}/people",
        json={"full_name": f"Ops Person {uuid.uuid4().hex[:8]}", "date_of_birth": "1975-04-03"},
        headers=auth("team_lead", partner),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()["person_id"]


def post_referral(endpoints, auth, partner: str, source: str = "gp", user=None) -> dict:
    response = requests.post(
        f"{endpoints['partners'][partner]['referrals']}/referrals",
        json=registers_its_person(referral_body(source)),
        headers=auth("team_lead", partner, user),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()


def read_feed(endpoints, auth, partner: str, after: int = 0, limit: int = 5000) -> dict:
    response = get(
        f"{endpoints['partners'][partner]['referrals']}/events",
        auth("service", partner),
        params={"after": after, "limit": limit},
    )
    assert response.status_code == 200, response.text
    return response.json()


def feed_head(endpoints, auth, partner: str) -> int:
    """The position of the last event in a partner's referrals feed."""
    after = 0
    while True:
        page = read_feed(endpoints, auth, partner, after)
        if not page["events"]:
            return after
        after = page["next_after"]


def stored_since(endpoints, auth, partner: str, head: int, user: str) -> list[dict]:
    """Events appended to the partner's referrals store after `head` by `user`, read from the
    store itself (the feed the hub reads withholds who acted): other traffic does not count."""
    import json

    import psycopg2

    from shared.config import database_name
    from tests.conftest import ROOT, STACK

    state = json.loads((ROOT / "run" / STACK / "stack.json").read_text())
    conn = psycopg2.connect(state["owner_dsn"][database_name(partner)])
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT event_type, stream_id, partner_id, actor_id, actor_role, payload"
                " FROM referrals.events WHERE position > %s AND actor_id = %s ORDER BY position",
                (head, user),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    return [
        {
            "event_type": event_type,
            "stream_id": stream_id,
            "partner_id": partner_id,
            "actor": {"user_id": actor, "role": role},
            "payload": payload,
        }
        for event_type, stream_id, partner_id, actor, role, payload in rows
    ]


def a_user() -> str:
    return f"ops-{uuid.uuid4().hex[:10]}"


def test_a_team_lead_records_a_referral_and_reads_it_back(endpoints, auth):
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    user = a_user()
    person = registered_person(endpoints, auth)
    head = feed_head(endpoints, auth, "leeds-mind")
    body = referral_body("crisis_service", urgency="urgent", person_id=person)

    created = requests.post(
        f"{url}/referrals", json=body, headers=auth("team_lead", user=user), timeout=TIMEOUT
    )

    assert created.status_code == 201, created.text
    referral = created.json()
    assert referral["status"] == "received" and referral["version"] == 1
    for name in ("person_id", "source", "received_on", "urgency"):
        assert referral[name] == body[name], name
    read = get(f"{url}/referrals/{referral['referral_id']}", auth("team_lead"))
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'
    assert {k: v for k, v in read.json().items() if k in referral} == referral
    [event] = stored_since(endpoints, auth, "leeds-mind", head, user)
    assert event["event_type"] == "ReferralReceived"
    assert event["stream_id"] == referral["referral_id"]
    assert event["partner_id"] == "leeds-mind"
    assert event["actor"] == {"user_id": user, "role": "team_lead"}
    assert event["payload"]["person_id"] == body["person_id"]


def test_a_created_referral_reads_back_exactly_as_it_was_returned(endpoints, auth):
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    created = post_referral(endpoints, auth, "leeds-mind")
    read = get(f"{url}/referrals/{created['referral_id']}", auth("team_lead")).json()
    # a read also opens the referral's sealed words and lists its corrections (none yet)
    assert read.pop("texts") == {} and read.pop("corrections") == []
    assert set(read) == set(created), set(read) ^ set(created)
    assert read == created


def without(name: str) -> dict:
    body = referral_body()
    del body[name]
    return body


BAD_INPUT = [
    ("missing-person", without("person_id"), "person_id"),
    ("missing-source", without("source"), "source"),
    ("missing-received-on", without("received_on"), "received_on"),
    ("person-not-a-uuid", referral_body(person_id=12345), "person_id"),
    ("received-on-not-a-date", referral_body(received_on="last tuesday"), "received_on"),
    ("received-on-a-list", referral_body(received_on=["2026-01-01"]), "received_on"),
    ("urgency-a-number", referral_body(urgency=3), "urgency"),
    ("unknown-source", referral_body(source="hospital"), "source"),
    ("unknown-urgency", referral_body(urgency="whenever"), "urgency"),
    ("unknown-field", referral_body(nhs_number="943 476 5919"), "nhs_number"),
    ("received-in-the-future", referral_body(received_on="2999-01-01"), "received_on"),
    ("not-json", b"person_id=1&source=gp", "body"),
    ("a-json-list", b'[{"source": "gp"}]', "body"),
]


@pytest.mark.parametrize(
    ("body", "field"), [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT]
)
def test_bad_referral_input_is_a_422_naming_the_field_and_stores_nothing(
    endpoints, auth, body, field
):
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    user = a_user()
    head = feed_head(endpoints, auth, "leeds-mind")
    sent = {"data": body} if isinstance(body, bytes) else {"json": body}

    response = requests.post(
        f"{url}/referrals", headers=auth("team_lead", user=user), timeout=TIMEOUT, **sent
    )

    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid"
    assert field in answer["fields"], answer
    assert field in answer["message"]
    assert stored_since(endpoints, auth, "leeds-mind", head, user) == []


def test_another_partners_team_lead_finds_no_such_referral(endpoints, auth):
    referral = post_referral(endpoints, auth, "leeds-mind")
    path = f"/referrals/{referral['referral_id']}"
    # on their own node it does not exist; on the owning partner's they are not signed in
    for node, status in (("mesmac", 404), ("leeds-mind", 401)):
        response = get(endpoints["partners"][node]["referrals"] + path, auth("team_lead", "mesmac"))
        assert response.status_code == status, node
        assert referral["person_id"] not in response.text


@pytest.mark.parametrize("role", ["alliance_analyst", "operator", "service"])
def test_only_partner_staff_may_record_a_referral(endpoints, auth, role):
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    user = a_user()
    head = feed_head(endpoints, auth, "leeds-mind")

    refused = requests.post(
        f"{url}/referrals",
        json=referral_body(),
        headers=auth(role, "leeds-mind", user),
        timeout=TIMEOUT,
    )

    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "forbidden"
    assert stored_since(endpoints, auth, "leeds-mind", head, user) == []


def test_recording_a_referral_needs_a_valid_token(endpoints, auth, stack_state):
    url = f"{endpoints['partners']['leeds-mind']['referrals']}/referrals"
    head = feed_head(endpoints, auth, "leeds-mind")
    assert requests.post(url, json=referral_body(), timeout=TIMEOUT).status_code == 401
    for name, token in forgeries(stack_state).items():
        response = requests.post(url, json=referral_body(), headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 401, name
        assert response.json()["error"] == "unauthenticated", name
    assert stored_since(endpoints, auth, "leeds-mind", head, "intruder") == []


def test_a_node_refuses_a_referral_from_another_partners_staff(endpoints, auth):
    """A mesmac token must not record a referral in leeds-mind's store: it would be stored
    there as a mesmac record and counted in mesmac's figures at the hub."""
    url = endpoints["partners"]["leeds-mind"]["referrals"]
    user = a_user()
    head = feed_head(endpoints, auth, "leeds-mind")

    response = requests.post(
        f"{url}/referrals",
        json=referral_body(),
        headers=auth("team_lead", "mesmac", user),
        timeout=TIMEOUT,
    )

    stored = stored_since(endpoints, auth, "leeds-mind", head, user)
    assert response.status_code == 401, response.text
    assert stored == [], [(e["event_type"], e["partner_id"]) for e in stored]


# -- the event feed ----------------------------------------------------------------------------


def test_the_event_feed_is_for_the_hubs_machine_credential_made_for_this_node(endpoints, auth):
    url = f"{endpoints['partners']['mesmac']['referrals']}/events"
    assert get(url).status_code == 401
    for role, partner, status in [
        ("team_lead", "mesmac", 403),
        ("operator", "mesmac", 403),
        ("team_lead", "lslcs", 401),
        ("service", "lslcs", 401),  # the hub's credential, made for another node
    ]:
        response = get(url, auth(role, partner))
        assert response.status_code == status, (role, partner)
        assert "events" not in response.json()
    response = get(url, auth("service", "mesmac"))
    assert response.status_code == 200
    assert response.json()["source"] == "mesmac/referrals"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5001}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "start"}, "after"),
    ],
    ids=["limit-0", "limit-5001", "limit-negative", "limit-text", "after-negative", "after-text"],
)
def test_the_event_feed_refuses_a_page_out_of_range_with_422(endpoints, auth, params, field):
    url = f"{endpoints['partners']['mesmac']['referrals']}/events"
    response = get(url, auth("service", "mesmac"), params=params)
    assert response.status_code == 422
    assert field in response.json()["fields"]


def test_the_event_feed_pages_in_position_order_with_the_whole_envelope(endpoints, auth):
    referral = post_referral(endpoints, auth, "mesmac")
    everything = []
    after = 0
    while page := read_feed(endpoints, auth, "mesmac", after)["events"]:
        everything += page
        after = page[-1]["position"]
    positions = [e["position"] for e in everything]
    assert positions == sorted(set(positions)) and positions[0] >= 1
    # the hub's credential reads the referral under the partner's pseudonym for it
    pseudonym = pseudonyms_of("mesmac").stream("referral", referral["referral_id"])
    mine = [e for e in everything if e["stream_id"] == pseudonym]
    assert [e["event_type"] for e in mine] == ["ReferralReceived"]
    assert referral["referral_id"] not in str(everything)

    for event in everything:
        assert set(event) == ENVELOPE, event["position"]
        uuid.UUID(event["event_id"])
        uuid.UUID(event["correlation_id"])
        assert event["causation_id"] is None or uuid.UUID(event["causation_id"])
        assert event["partner_id"] == "mesmac"
        assert event["version"] >= 1 and event["schema_version"] >= 1
        assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
        assert datetime.fromisoformat(event["recorded_at"]).tzinfo is not None
        assert set(event["actor"]) == {"user_id", "role"}
        assert isinstance(event["payload"], dict)

    # small pages give the same events, and an exhausted feed says where to continue
    paged, after = [], 0
    for _ in range(3):
        page = read_feed(endpoints, auth, "mesmac", after, limit=2)
        paged += page["events"]
        after = page["next_after"]
        assert after == paged[-1]["position"]
    assert paged == everything[: len(paged)]
    end = read_feed(endpoints, auth, "mesmac", everything[-1]["position"])
    assert end["events"] == [] or end["events"][0]["position"] > everything[-1]["position"]


# -- a partner node to the hub -----------------------------------------------------------------


def report_count(endpoints, auth, partner: str, source: str) -> int:
    response = get(
        f"{endpoints['hub']['reporting']}/internal/referral-counts",
        auth("service", "alliance"),
        params={"partner": partner},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert {r["partner_id"] for r in rows} <= {partner}
    month = today().replace(day=1).isoformat()
    return sum(r["referrals"] for r in rows if r["source"] == source and r["month"] == month)


def test_a_referral_on_a_partner_node_is_counted_once_in_the_hub_report(endpoints, auth):
    before = report_count(endpoints, auth, "lslcs", "crisis_service")

    post_referral(endpoints, auth, "lslcs", "crisis_service")

    counted = wait_for(
        lambda: (
            report_count(endpoints, auth, "lslcs", "crisis_service") > before
            and report_count(endpoints, auth, "lslcs", "crisis_service")
        ),
        timeout=20,
        message="the referral counted at the hub",
    )
    assert counted == before + 1
    # once a later referral from the same feed is counted, the first still counts once
    carers = report_count(endpoints, auth, "lslcs", "carer")
    post_referral(endpoints, auth, "lslcs", "carer")
    wait_for(
        lambda: report_count(endpoints, auth, "lslcs", "carer") == carers + 1,
        timeout=20,
        message="a second referral counted at the hub",
    )
    assert report_count(endpoints, auth, "lslcs", "crisis_service") == before + 1


def test_the_hub_report_is_for_alliance_analysts(endpoints, auth):
    url = f"{endpoints['hub']['reporting']}/reports/referrals"
    assert get(url).status_code == 401
    assert get(url, auth("team_lead", "lslcs")).status_code == 401
    assert get(url, auth("operator", "alliance")).status_code == 403
    assert get(url, auth("alliance_analyst", "alliance")).status_code == 200
