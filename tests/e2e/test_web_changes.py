"""Forms that change a record, sent twice: a double click, the same form in two tabs at once, the
back button and send again. Each is answered as the first was (where it led, with its notice)
and the record changes once; a form opened in another tab before the change, with a key of its
own and the version it was shown at, is still told that someone else changed the record. Each
journey ends by reading what the services then hold."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests import web
from tests.e2e.test_sessions import Api, ok
from tests.e2e.test_web_referrals import on_workforce
from tests.e2e.test_web_safeguarding import raise_by_api
from tests.web import check_page, errors_shown, send_at_once

pytestmark = pytest.mark.e2e

# the browser fixtures every web test shares
playwright_browser, web_as, web_url = web.playwright_browser, web.web_as, web.web_url


@pytest.fixture(scope="module")
def api(endpoints, auth):
    def make(role="team_lead", user=None, partner="leeds-mind", service="referrals"):
        return Api(endpoints["partners"][partner][service], auth(role, partner, user))

    return make


def events_of(history: list[dict], event_type: str) -> int:
    return sum(1 for event in history if event["event_type"] == event_type)


def test_a_referral_step_sent_twice_changes_the_referral_once_and_an_older_tab_is_told(api, web_as):
    suffix = uuid.uuid4().hex[:6]
    lead, first, second = f"tl-tw-{suffix}", f"pw-tw1-{suffix}", f"pw-tw2-{suffix}"
    on_workforce(api, first, f"Ash Twice {suffix}")
    on_workforce(api, second, f"Bo Twice {suffix}")
    referrals = api()
    born = {"full_name": f"Robin Twice-{suffix}", "date_of_birth": "1981-05-06"}
    person = ok(referrals.post("/people", born), 201)["person_id"]
    body = {"person_id": person, "source": "gp", "received_on": date.today().isoformat()}
    rid = ok(referrals.post("/referrals", body), 201)["referral_id"]
    ok(referrals.post(f"/referrals/{rid}/accept"))
    before = ok(referrals.get(f"/referrals/{rid}"))["version"]

    # the same team lead in two tabs, both opened before the change
    older = web_as("team_lead", user=lead)
    page = web_as("team_lead", user=lead)
    for tab in (older, page):
        tab.goto(tab.url.rstrip("/") + f"/referrals/{rid}/allocate")
    page.get_by_label("Worker").select_option(first)
    form = f"form[action='/referrals/{rid}/allocate']"

    # a double click: both answered with where the first led, the referral allocated once
    answers = send_at_once(page, form)
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    [location] = {a.headers["location"] for a in answers}
    assert location == f"/referrals/{rid}?done=referral-updated", location
    held = ok(referrals.get(f"/referrals/{rid}"))
    assert (held["version"], held["worker_id"]) == (before + 1, first)
    history = ok(referrals.get(f"/referrals/{rid}/history"))["events"]
    assert events_of(history, "ReferralAllocated") == 1, history

    # the back button and send again: the same answer and notice, nothing more changed
    [again] = send_at_once(page, form, times=1)
    assert (again.status_code, again.headers["location"]) == (303, location)
    page.goto(page.url.split("/referrals/")[0] + location)
    assert "The referral has been updated." in page.inner_text("main")
    assert "Someone else changed" not in page.inner_text("main")
    assert ok(referrals.get(f"/referrals/{rid}"))["version"] == before + 1

    # the older tab's form is another form: its own key, and the version before the change
    older.get_by_label("Worker").select_option(second)
    older.get_by_role("button", name="Allocate").click()
    shown = errors_shown(older)
    assert any(s.startswith("Someone else changed this record") for s in shown), shown
    check_page(older, "referral-step-changed-meanwhile")
    held = ok(referrals.get(f"/referrals/{rid}"))
    assert (held["version"], held["worker_id"]) == (before + 1, first)


def test_a_concern_acknowledged_and_noted_twice_at_once_changes_once_and_each_form_has_its_key(
    api, web_as
):
    suffix = uuid.uuid4().hex[:6]

    def concerns(role="safeguarding_lead", user=None):
        return api(role, user, service="safeguarding")

    cid = raise_by_api(concerns, f"pw-tw-{suffix}")["concern_id"]
    lead = web_as("safeguarding_lead", user=f"dsl-tw-{suffix}")
    address = lead.url.rstrip("/") + f"/safeguarding/concerns/{cid}"
    lead.goto(address)
    # a page of several forms: each its own key, so one sent never stands for another
    keys = lead.locator("input[name=form_key]").evaluate_all("inputs => inputs.map(i => i.value)")
    assert len(keys) >= 2 and len(set(keys)) == len(keys), keys

    answers = send_at_once(lead, "form[action$='/acknowledge']")
    assert [a.status_code for a in answers] == [303, 303], [a.text[:300] for a in answers]
    [location] = {a.headers["location"] for a in answers}
    assert location.endswith(f"/safeguarding/concerns/{cid}?done=concern-acknowledged")
    held = ok(concerns().get(f"/concerns/{cid}"))
    assert held["version"] == 2 and held["status"] == "acknowledged"
    assert events_of(held["timeline"], "ConcernAcknowledged") == 1

    lead.goto(address)
    lead.get_by_label("Note", exact=True).fill(f"Rang the GP surgery {suffix}.")
    answers = send_at_once(lead, "form[action$='/notes']", times=3)
    assert [a.status_code for a in answers] == [303] * 3, [a.text[:300] for a in answers]
    assert {a.headers["location"] for a in answers} == {
        f"/safeguarding/concerns/{cid}?done=concern-note-added"
    }
    held = ok(concerns().get(f"/concerns/{cid}"))
    assert held["version"] == 3 and events_of(held["timeline"], "ConcernNoteAdded") == 1
    lead.goto(lead.url.split("/safeguarding/")[0] + f"/safeguarding/concerns/{cid}")
    assert lead.inner_text("main").count(f"Rang the GP surgery {suffix}.") == 1
