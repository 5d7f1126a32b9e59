"""Operations and access across the running test alliance: health, metrics, OpenAPI, tokens,
the event feed, and one event travelling from a partner node to the hub's report."""

from __future__ import annotations

import time
import uuid
from datetime import date

import jwt
import pytest
import requests

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e


def every_url(endpoints) -> list[str]:
    urls = list(endpoints["hub"].values())
    for node in endpoints["partners"].values():
        urls += list(node.values())
    return urls


def test_every_service_is_healthy_and_says_what_it_checked(endpoints):
    urls = every_url(endpoints)
    assert len(urls) == 14
    for url in urls:
        response = requests.get(f"{url}/health", timeout=10)
        assert response.status_code == 200, url
        body = response.json()
        assert body["status"] == "ok"
        assert body["checks"]["database"] == "ok" and body["checks"]["broker"] == "ok", url


def forged_tokens(jwt_secret):
    now = int(time.time())
    claims = {
        "sub": "x",
        "role": "operator",
        "partner": "leeds-mind",
        "iss": "peerlink",
        "iat": now,
        "exp": now + 600,
    }
    return {
        "garbage": "abc.def.ghi",
        "other-secret": jwt.encode(claims, "another secret entirely, long enough", "HS256"),
        "alg-none": jwt.encode(claims, None, algorithm="none"),
        "expired": jwt.encode({**claims, "exp": now - 5}, jwt_secret, "HS256"),
    }


def test_metrics_need_an_operator_token(endpoints, auth, jwt_secret):
    for url in every_url(endpoints):
        assert requests.get(f"{url}/metrics", timeout=10).status_code == 401, url
        for name, token in forged_tokens(jwt_secret).items():
            response = requests.get(
                f"{url}/metrics", timeout=10, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 401, (url, name)
        forbidden = requests.get(f"{url}/metrics", headers=auth("peer_worker"), timeout=10)
        assert forbidden.status_code == 403, url
        assert (
            requests.get(f"{url}/metrics", headers=auth("operator"), timeout=10).status_code == 200
        ), url


def post_referral(endpoints, auth, partner: str, source: str = "gp") -> dict:
    response = requests.post(
        f"{endpoints['partners'][partner]['referrals']}/referrals",
        json={
            "person_id": str(uuid.uuid4()),
            "source": source,
            "received_on": date.today().isoformat(),
        },
        headers=auth("team_lead", partner),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def metric_names(url: str, auth) -> set[str]:
    text = requests.get(f"{url}/metrics", headers=auth("operator"), timeout=10).text
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_the_metrics_name_what_each_process_does(endpoints, auth):
    post_referral(endpoints, auth, "leeds-mind")
    node = endpoints["partners"]["leeds-mind"]
    service = metric_names(node["referrals"], auth)
    assert {
        "peerlink_events_appended_total",
        "peerlink_event_append_duration_seconds_bucket",
        "peerlink_http_requests_total",
    } <= service
    worker = metric_names(node["worker"], auth)
    assert {"peerlink_relay_lag_events", "peerlink_relay_lag_seconds"} <= worker
    hub = wait_for(
        lambda: (
            (names := metric_names(endpoints["hub"]["worker"], auth))
            >= {"peerlink_consumer_applied_total", "peerlink_consumer_lag_seconds"}
            and names
        ),
        message="hub consumer metrics",
    )
    assert all(name.startswith(("peerlink_", "python_", "process_")) for name in hub)


def test_every_service_publishes_its_openapi_document(endpoints):
    node = endpoints["partners"]["lslcs"]
    for url in (
        node["referrals"],
        node["sessions"],
        node["safeguarding"],
        endpoints["hub"]["reporting"],
    ):
        document = requests.get(f"{url}/openapi.json", timeout=10).json()
        assert document["openapi"].startswith("3.")
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert "/health" in document["paths"]
    referrals = requests.get(f"{node['referrals']}/openapi.json", timeout=10).json()
    assert {
        "/referrals",
        "/referrals/{referral_id}",
        "/referrals/{referral_id}/accept",
        "/events",
        "/offers",
    } <= set(referrals["paths"])
    post = referrals["paths"]["/referrals"]["post"]
    assert "422" in post["responses"] and post["security"] == [{"bearer": []}]


def test_requests_without_a_valid_token_are_401(endpoints, jwt_secret):
    url = f"{endpoints['partners']['mesmac']['referrals']}/referrals"
    assert requests.get(url, timeout=10).status_code == 401
    for token in forged_tokens(jwt_secret).values():
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"


def test_the_event_feed_is_for_services_of_the_same_partner_or_the_hub(endpoints, auth):
    referral = post_referral(endpoints, auth, "mesmac")
    url = f"{endpoints['partners']['mesmac']['referrals']}/events"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers=auth("team_lead", "mesmac"), timeout=10).status_code == 403
    assert requests.get(url, headers=auth("service", "lslcs"), timeout=10).status_code == 403
    assert (
        requests.get(
            url, params={"limit": 0}, headers=auth("service", "mesmac"), timeout=10
        ).status_code
        == 422
    )
    for partner in ("mesmac", "alliance"):
        body = requests.get(
            url, params={"limit": 5000}, headers=auth("service", partner), timeout=10
        ).json()
        positions = [e["position"] for e in body["events"]]
        assert positions == sorted(positions) and body["next_after"] == positions[-1]
        assert referral["referral_id"] in {e["stream_id"] for e in body["events"]}
    event = body["events"][0]
    assert set(event) == {
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
    page = requests.get(
        url,
        params={"after": positions[0], "limit": 1},
        headers=auth("service", "mesmac"),
        timeout=10,
    ).json()
    assert [e["position"] for e in page["events"]] == positions[1:2]


def report_count(endpoints, auth, partner: str, source: str) -> int:
    rows = requests.get(
        f"{endpoints['hub']['reporting']}/reports/referrals",
        params={"partner": partner},
        headers=auth("alliance_analyst", "alliance"),
        timeout=10,
    ).json()["rows"]
    month = date.today().replace(day=1).isoformat()
    return sum(r["referrals"] for r in rows if r["source"] == source and r["month"] == month)


def test_an_event_travels_from_a_partner_node_to_the_hub_report(endpoints, auth):
    before = report_count(endpoints, auth, "lslcs", "crisis_service")
    post_referral(endpoints, auth, "lslcs", "crisis_service")
    wait_for(
        lambda: report_count(endpoints, auth, "lslcs", "crisis_service") == before + 1,
        timeout=20,
        message="the referral counted at the hub",
    )
    time.sleep(0.5)  # a duplicate application would show now
    assert report_count(endpoints, auth, "lslcs", "crisis_service") == before + 1
    forbidden = requests.get(
        f"{endpoints['hub']['reporting']}/reports/referrals",
        headers=auth("team_lead", "lslcs"),
        timeout=10,
    )
    assert forbidden.status_code == 403
