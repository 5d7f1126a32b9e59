"""The retention review: people past the partner's retention period since their last contact
are flagged once, listed for partner admins, and nothing is erased by the review itself."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.e2e.test_reports import Api, ok

pytestmark = pytest.mark.e2e

TODAY = date.today()


@pytest.fixture
def referrals(endpoints, auth):
    def make(role="partner_admin", partner="leeds-mind"):
        return Api(endpoints["partners"][partner]["referrals"], auth(role, partner))

    return make


def test_people_past_retention_are_flagged_once_and_listed(referrals):
    admin = referrals()
    person = ok(
        admin.post(
            "/people",
            {"full_name": f"Retention Test {uuid.uuid4().hex[:8]}", "date_of_birth": "1970-01-01"},
        ),
        201,
    )["person_id"]
    # twenty years and a day from now, today's last contact is past the default period
    later = TODAY.replace(year=TODAY.year + 20) + timedelta(days=1)
    review = ok(admin.post("/people/retention-review", {"as_of": later.isoformat()}))
    assert review["retention_years"] == 20
    due = {item["person_id"]: item for item in review["due"]}
    assert due[person]["last_contact_on"] == TODAY.isoformat()
    assert due[person]["flagged_at"] is not None
    again = ok(admin.post("/people/retention-review", {"as_of": later.isoformat()}))
    assert again["flagged"] == 0
    trail = ok(admin.get("/audit", person_id=person))["entries"]
    flags = [e for e in trail if (e.get("detail") or {}).get("event_type") == "PersonRetentionDue"]
    assert len(flags) == 1, trail
    # as of today nobody registered today is due, and the person is still readable
    assert person not in {i["person_id"] for i in ok(admin.get("/people/retention-due"))["items"]}
    assert ok(admin.get(f"/people/{person}"))["person_id"] == person


def test_the_retention_review_is_for_partner_admins_and_never_looks_back(referrals):
    assert referrals("team_lead").post("/people/retention-review", {}).status_code == 403
    assert referrals("peer_worker").get("/people/retention-due").status_code == 403
    past = referrals().post("/people/retention-review", {"as_of": "2020-01-01"})
    assert past.status_code == 422 and "as_of" in past.json()["fields"]
    bad = referrals().post("/people/retention-review", {"as_of": "soon"})
    assert bad.status_code == 422 and "as_of" in bad.json()["fields"]
