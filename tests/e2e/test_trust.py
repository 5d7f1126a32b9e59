"""Partners as separate trust domains, against the running alliance: a node takes tokens only
from its own partner's provider (and the hub's machine credential on its event feeds), the hub
only from its own, and every claim of a token is checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid

import jwt
import pytest
import requests

from shared.config import node_audience
from tests.forgery import forged, signing_key

pytestmark = pytest.mark.e2e
TIMEOUT = 10


def _routes(url: str) -> list[tuple[str, str]]:
    """Every route of a service that needs a token, path parameters filled with made-up ids."""
    document = requests.get(f"{url}/openapi.json", timeout=TIMEOUT).json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                found.append((method.upper(), re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path)))
    return found


def _call(method: str, url: str, headers: dict) -> requests.Response:
    return requests.request(method, url, headers=headers, json={}, timeout=TIMEOUT)


def hs256_by_hand(claims: dict, secret: bytes) -> str:
    """PyJWT refuses to sign with a key document as an HMAC secret; an attacker would not."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(signature)}"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_from_another_partners_provider_is_401_on_every_route_of_a_node(endpoints, auth):
    lslcs = auth("partner_admin", "lslcs", "trust-lslcs-admin")
    node = endpoints["partners"]["leeds-mind"]
    checked = 0
    for service, url in node.items():
        if service == "worker":
            response = requests.get(f"{url}/metrics", headers=lslcs, timeout=TIMEOUT)
            assert response.status_code == 401, (service, response.text)
            continue
        for method, path in _routes(url):
            response = _call(method, f"{url}{path}", lslcs)
            assert response.status_code == 401, (service, method, path, response.status_code)
            assert response.json()["error"] == "unauthenticated"
            checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    "name",
    ["expired", "over-long", "wrong-audience", "future", "no-expiry", "unknown-key"],
)
def test_a_token_signed_by_the_partners_own_key_but_wrong_in_a_claim_is_401(
    stack_state, endpoints, name
):
    now = int(time.time())
    token = {
        "expired": lambda: forged(stack_state, iat=now - 900, exp=now - 300),
        "over-long": lambda: forged(stack_state, iat=now, exp=now + 30 * 24 * 3600),
        "wrong-audience": lambda: forged(stack_state, aud=node_audience("lslcs")),
        "future": lambda: forged(stack_state, iat=now + 900, exp=now + 1200),
        "no-expiry": lambda: forged(stack_state, exp=None),
        "unknown-key": lambda: jwt.encode(
            jwt.decode(forged(stack_state), options={"verify_signature": False}),
            signing_key(stack_state, "lslcs")[0],
            algorithm="RS256",
            headers={"kid": "not-a-key-of-leeds-mind"},
        ),
    }[name]()
    url = f"{endpoints['partners']['leeds-mind']['referrals']}/referrals"
    response = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthenticated"


def test_a_symmetric_or_unsigned_token_is_401(stack_state, endpoints):
    now = int(time.time())
    claims = {
        "iss": stack_state["endpoints"]["identity"]["leeds-mind"],
        "aud": node_audience("leeds-mind"),
        "sub": "intruder",
        "roles": ["partner_admin"],
        "iat": now,
        "exp": now + 600,
    }
    public_jwks = requests.get(
        f"{stack_state['endpoints']['identity']['leeds-mind']}/jwks", timeout=TIMEOUT
    ).text
    url = f"{endpoints['partners']['leeds-mind']['referrals']}/referrals"
    for token in (
        jwt.encode(claims, "a secret two organisations might share", algorithm="HS256"),
        # the public key document as an HMAC secret: the classic algorithm confusion
        hs256_by_hand(claims, public_jwks.encode()),
        jwt.encode(claims, None, algorithm="none"),
    ):
        response = requests.get(url, headers=bearer(token), timeout=TIMEOUT)
        assert response.status_code == 401, response.text


def test_a_correctly_signed_token_is_accepted(stack_state, endpoints):
    """The forgeries above fail for their one wrong claim, not because forging is broken."""
    url = f"{endpoints['partners']['leeds-mind']['referrals']}/referrals"
    response = requests.get(url, headers=bearer(forged(stack_state)), timeout=TIMEOUT)
    assert response.status_code == 200, response.text


def test_the_hub_refuses_a_partners_analyst(endpoints, auth):
    url = f"{endpoints['hub']['reporting']}/reports/referrals"
    response = requests.get(
        url, headers=auth("alliance_analyst", "leeds-mind", "trust-analyst"), timeout=TIMEOUT
    )
    assert response.status_code == 401, response.text
    assert requests.get(url, headers=auth("alliance_analyst", "alliance"), timeout=TIMEOUT).ok


def test_a_partners_provider_cannot_make_its_people_hub_services(stack_state, endpoints):
    from deploy import idp

    feed = f"{endpoints['partners']['leeds-mind']['referrals']}/events"
    for role in ("service", "alliance_analyst"):
        user = f"trust-{role}-{uuid.uuid4().hex[:6]}"
        idp.ensure_account(
            stack_state["idp"]["database_url"], "leeds-mind", user, "pw-" + user, [role], user
        )
        token = idp.login(
            stack_state["endpoints"]["identity"]["leeds-mind"],
            user,
            "pw-" + user,
            resource=node_audience("leeds-mind"),
        )
        response = requests.get(feed, headers=bearer(token), params={"limit": 1}, timeout=TIMEOUT)
        assert response.status_code == 403, response.text
        assert "no Peerlink role" in response.json()["message"]


def test_the_hubs_machine_credential_reads_event_feeds_and_nothing_else(endpoints, auth):
    node = endpoints["partners"]["lslcs"]
    hub = auth("service", "lslcs")
    assert requests.get(f"{node['sessions']}/events", headers=hub, timeout=TIMEOUT).ok
    for url in (
        f"{node['referrals']}/referrals",
        f"{node['referrals']}/metrics",
        f"{node['sessions']}/plans",
        f"{node['safeguarding']}/concerns",
    ):
        assert requests.get(url, headers=hub, timeout=TIMEOUT).status_code == 403, url
    # a token the hub's provider made for lslcs is no token at leeds-mind
    other = f"{endpoints['partners']['leeds-mind']['referrals']}/events"
    assert requests.get(other, headers=hub, timeout=TIMEOUT).status_code == 401


def test_the_hubs_internal_counts_are_for_the_hubs_own_machine_credential(endpoints, auth):
    url = f"{endpoints['hub']['reporting']}/internal/referral-counts"
    assert requests.get(url, headers=auth("service", "alliance"), timeout=TIMEOUT).ok
    for headers, status in (
        (auth("alliance_analyst", "alliance"), 403),
        (auth("operator", "alliance"), 403),
        (auth("partner_admin", "lslcs", "trust-lslcs-admin"), 401),
        (auth("service", "lslcs"), 401),  # the hub's credential, but made for a node
    ):
        response = requests.get(url, headers=headers, timeout=TIMEOUT)
        assert response.status_code == status, response.text
