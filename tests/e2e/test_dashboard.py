"""The alliance dashboard loaded in a real headless browser (Debian's chromium) as an analyst:
figures for every partner, charts drawn, a screenshot kept; other roles are refused."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.reporting.grid import financial_year_of
from shared.config import PARTNERS, ROOT
from tests.browser import Browser
from tests.conftest import STACK
from tests.e2e.test_reports import Api, some_work, wait_until_hub_has_read_everything

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node(endpoints, auth):
    def make(partner, service="sessions", role="team_lead", user=None):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def test_the_dashboard_shows_every_partners_figures_in_a_real_browser(
    endpoints, auth, node, stack_state
):
    hub = Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))
    some_work(node, "leeds-mind", f"dash{uuid.uuid4().hex[:4]}")
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    url = endpoints["hub"]["reporting"] + "/dashboard"
    shot = ROOT / "run" / STACK / "screenshots" / "dashboard.png"
    with Browser() as browser:
        page = browser.open(url, headers=auth("alliance_analyst", "alliance"))
        assert page.status == 200, page.text
        assert "Peerlink alliance dashboard" in page.text
        for partner in PARTNERS:
            assert partner in page.text
        assert "Referrals received per month" in page.text
        bars = page.evaluate("document.querySelectorAll('svg.chart rect').length")
        assert bars > 0
        drawn = page.evaluate(
            "[...document.querySelectorAll('svg.chart rect')]"
            ".filter(r => +r.getAttribute('height') > 0).length"
        )
        assert drawn > 0, "some bar has a height: the charts show figures"
        width = page.evaluate("document.querySelector('svg.chart').getBoundingClientRect().width")
        assert width > 100
        page.screenshot(shot)
        assert shot.stat().st_size > 5_000
        # a partner's people are not signed in at the hub; the hub's own operator may not
        assert browser.open(url, headers=auth("team_lead", "leeds-mind")).status == 401
        refused = browser.open(url, headers=auth("operator", "alliance"))
        assert refused.status == 403
        anonymous = browser.open(url, headers={})
        assert anonymous.status == 401
    year = financial_year_of(date.today())
    response = hub.get("/dashboard", year=year.start.year)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert f"financial year {year.label}" in response.text


def test_the_dashboard_refuses_bad_input(endpoints, auth):
    hub = Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))
    for params, field in [
        ({"months": 3}, "months"),
        ({"year": 1999}, "year"),
        ({"partner": "atlantis"}, "partner"),
        ({"partner": ["lslcs", "mesmac"]}, "partner"),
        ({"as_at": "2001-01-01T00:00:00Z"}, "as_at"),
    ]:
        response = hub.get("/dashboard", **params)
        assert response.status_code == 422 and field in response.json()["fields"], response.text
