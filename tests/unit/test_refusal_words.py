"""A refusal for a role reads as a sentence: "a <role> may not <what the route does>"."""

import pytest

from services.referrals.service import ReferralsService
from services.reporting.service import ReportingService
from services.safeguarding.service import SafeguardingService
from services.sessions.service import SessionsService
from shared.web import IMPERATIVES, forbidden_phrase, routes_of

pytestmark = pytest.mark.unit

ROUTES = [
    route
    for service in (ReferralsService, SessionsService, SafeguardingService, ReportingService)
    for route in routes_of(service)
    if not route.public
]


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_every_refusal_for_a_role_names_what_the_route_does(route):
    phrase = forbidden_phrase(route)
    assert phrase.split()[0] in IMPERATIVES
    if route.method != "GET":
        assert phrase == route.summary[0].lower() + route.summary[1:]


def test_the_dashboard_refusal_reads_as_a_sentence():
    [dashboard] = [r for r in routes_of(ReportingService) if r.path == "/dashboard"]
    assert forbidden_phrase(dashboard).startswith("read the alliance dashboard")
