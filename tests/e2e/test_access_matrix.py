"""Every role against every endpoint of every service: a role a route does not name gets 403,
one it names never does; another partner's people are not signed in on a node at all (401)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from services.referrals.service import ReferralsService
from services.reporting.service import ReportingService
from services.safeguarding.service import SafeguardingService
from services.sessions.service import SessionsService
from services.web.service import WebService
from shared.auth import ROLES
from shared.web import routes_of

pytestmark = pytest.mark.e2e

SERVICES = {
    "referrals": ReferralsService,
    "sessions": SessionsService,
    "safeguarding": SafeguardingService,
    "reporting": ReportingService,
    "web": WebService,
}
PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def cases():
    for service, cls in SERVICES.items():
        for spec in routes_of(cls):
            if spec.public:
                continue
            for role in ROLES:
                yield pytest.param(
                    service, spec, role, id=f"{service}-{spec.method}-{spec.path}-{role}"
                )


def base_url(endpoints, service: str) -> str:
    if service == "reporting":
        return endpoints["hub"]["reporting"]
    return endpoints["partners"]["leeds-mind"][service]


def call(url: str, spec, headers: dict) -> requests.Response:
    path = PARAM.sub(lambda _: str(uuid.uuid4()), spec.path)
    return requests.request(
        spec.method,
        url + path,
        json={} if spec.method != "GET" else None,
        headers=headers,
        timeout=10,
    )


@pytest.mark.parametrize(("service", "spec", "role"), list(cases()))
def test_a_role_is_refused_exactly_where_the_policy_says(endpoints, auth, service, spec, role):
    # each side's own provider: the hub's for the hub, the node's own for a node (and the
    # hub's machine credential, made for the node, for `service`)
    partner = "alliance" if service == "reporting" else "leeds-mind"
    response = call(base_url(endpoints, service), spec, auth(role, partner))
    if role in spec.roles:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text


def record_routes():
    for service in ("referrals", "sessions", "safeguarding"):
        for spec in routes_of(SERVICES[service]):
            if PARAM.search(spec.path) and not spec.public:
                yield pytest.param(service, spec, id=f"{service}-{spec.method}-{spec.path}")


@pytest.fixture(scope="module")
def leeds_referral(endpoints, auth) -> str:
    response = requests.post(
        f"{endpoints['partners']['leeds-mind']['referrals']}/referrals",
        json={
            "person": {"full_name": "Matrix Person", "date_of_birth": "1970-01-01"},
            "source": "gp",
            "received_on": "2026-01-05",
        },
        headers=auth("team_lead"),
        timeout=10,
    )
    assert response.status_code == 201
    return response.json()["referral_id"]


@pytest.mark.parametrize(("service", "spec"), list(record_routes()))
def test_another_partners_people_are_unauthenticated_and_change_nothing(
    endpoints, auth, leeds_referral, service, spec
):
    role = next(r for r in spec.roles if r != "service")
    url = base_url(endpoints, service) + spec.path.replace("<string:referral_id>", leeds_referral)
    url = PARAM.sub(lambda _: str(uuid.uuid4()), url)
    response = requests.request(
        spec.method,
        url,
        json={} if spec.method != "GET" else None,
        headers=auth(role, "mesmac"),
        timeout=10,
    )
    assert response.status_code == 401, response.text
    assert "not issued by a provider this service trusts" in response.json()["message"]
    own = requests.request(
        "GET",
        base_url(endpoints, "referrals") + f"/referrals/{leeds_referral}",
        headers=auth("team_lead"),
        timeout=10,
    )
    assert own.json()["version"] == 1  # nothing was changed by the attempt
