"""A member of staff whose place on the partner's workforce has ended may do nothing more on the
node, whatever their provider still vouches for; registered again, they may."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e
TIMEOUT = 15


def test_a_worker_who_has_left_is_refused_on_every_service_of_the_node(endpoints, auth):
    node = endpoints["partners"]["lslcs"]
    worker = f"leaver-{uuid.uuid4().hex[:8]}"
    theirs = auth("peer_worker", "lslcs", worker)
    reads = [f"{node['referrals']}/referrals", f"{node['sessions']}/sessions"]
    for url in reads:  # their first act puts them on the workforce
        assert requests.get(url, headers=theirs, timeout=TIMEOUT).status_code == 200, url
    admin = auth("partner_admin", "lslcs")
    left = requests.post(
        f"{node['referrals']}/workers/{worker}/leave",
        json={"reason": "left_the_organisation"},
        headers=admin,
        timeout=TIMEOUT,
    )
    assert left.status_code == 200, left.text

    def refused_everywhere():
        answers = [requests.get(url, headers=theirs, timeout=TIMEOUT) for url in reads]
        return all(a.status_code == 403 for a in answers) and answers

    answers = wait_for(refused_everywhere, timeout=45, message="the leaver refused everywhere")
    assert "WorkerMustNotHaveLeft" in answers[0].json()["message"]
    # nothing they try to record is kept
    person = requests.post(
        f"{node['referrals']}/people",
        json={"full_name": "Not Kept", "date_of_birth": "1980-02-02"},
        headers=theirs,
        timeout=TIMEOUT,
    )
    assert person.status_code == 403, person.text
    # the partner admin still sees them, as having left
    record = requests.get(f"{node['referrals']}/workers/{worker}", headers=admin, timeout=TIMEOUT)
    assert record.json()["status"] == "left", record.text
