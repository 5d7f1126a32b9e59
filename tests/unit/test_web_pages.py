"""What a signed-in page does with a form that makes or changes a record (once per form key, a
second post sent where the first led), with staff (by name where one is known) and with a
service's refusal (a rule in plain words, at its field)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from services.web import pages
from services.web.api import Refused, Unavailable
from services.web.app import Page, PageRefused
from services.web.form_keys import Claim, is_form_key, new_form_key
from services.web.sessions import Session

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class FakeFormKeys:
    """Form keys in memory, as web.form_keys keeps them (one claim per person and key)."""

    def __init__(self):
        self.keys: dict[tuple[str, str], str | None] = {}

    def claim(self, user_id, key, now) -> Claim:
        if (user_id, key) in self.keys:
            return Claim(is_first=False, location=self.keys[(user_id, key)])
        self.keys[(user_id, key)] = None
        return Claim(is_first=True)

    def made(self, user_id, key, location):
        self.keys[(user_id, key)] = location

    def give_back(self, user_id, key):
        if self.keys.get((user_id, key), "") is None:
            del self.keys[(user_id, key)]


class FakeRecords:
    def __init__(self, names=None):
        self.form_keys = FakeFormKeys()
        self.names = names or {}

    def staff_names(self):
        return dict(self.names)


class FakeApi:
    """The node's workforce list as the referrals service answers it."""

    def __init__(self, workers=()):
        self.workers = list(workers)
        self.asked = 0

    def get(self, service, path, **params):
        assert (service, path) == ("referrals", "/workers"), (service, path)
        self.asked += 1
        return {"items": self.workers}


def a_page(
    form=None, user_id="sam", role="peer_worker", name="sam", records=None, api=None
) -> Page:
    request = EnvironBuilder(method="POST", path="/referrals/new", data=form or {}).get_request()
    session = Session(
        user_id=user_id,
        name=name,
        role=role,
        access_token="at",
        access_token_expires_at=NOW + timedelta(hours=1),
        id_token="it",
        csrf_token="csrf",
        created_at=NOW,
        last_seen_at=NOW,
    )
    return Page(
        request=request,
        session=session,
        api=api or FakeApi(),
        partner_id="leeds-mind",
        issuer="https://idp.example",
        records=records or FakeRecords(),
    )


class Maker:
    """A form's post: makes a record each time it is run, and answers with where it is."""

    def __init__(self, answer=None):
        self.made = 0
        self.answer = answer

    def __call__(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer is not None:
            return self.answer
        self.made += 1
        return pages.see_other(f"/referrals/r{self.made}?done=referral-recorded", "issuer")


def test_a_form_sent_again_goes_where_the_first_led_and_makes_nothing_more():
    records, key, make = FakeRecords(), new_form_key(), Maker()
    first = a_page({"form_key": key}, records=records).once(make)
    again = a_page({"form_key": key}, records=records).once(make)
    assert make.made == 1
    assert first.status_code == again.status_code == 303
    assert again.location == first.location == "/referrals/r1?done=referral-recorded"
    # another form (a new key), or the same key from someone else, makes a record of its own
    a_page({"form_key": new_form_key()}, records=records).once(make)
    a_page({"form_key": key}, user_id="alex", records=records).once(make)
    assert make.made == 3


def test_a_form_answered_with_its_errors_or_refused_may_be_corrected_and_sent_again():
    records, key = FakeRecords(), new_form_key()
    errors = pages.html("the form again, with its errors", "issuer", status=422)
    assert a_page({"form_key": key}, records=records).once(Maker(errors)).status_code == 422
    refusal = Refused(422, "invalid", "received_on: in the future", rule="DateMustNotBeInTheFuture")
    with pytest.raises(Refused):
        a_page({"form_key": key}, records=records).once(Maker(refusal))
    make = Maker()
    assert a_page({"form_key": key}, records=records).once(make).status_code == 303
    assert make.made == 1


def test_a_form_whose_record_may_have_been_made_is_not_made_again():
    records, key = FakeRecords(), new_form_key()
    with pytest.raises(Unavailable):
        a_page({"form_key": key}, records=records).once(Maker(Unavailable("no answer")))
    make = Maker()
    with pytest.raises(PageRefused) as refused:
        a_page({"form_key": key}, records=records).once(make)
    assert refused.value.status == 409 and "sent twice" in refused.value.message
    assert make.made == 0


def test_a_record_made_before_a_later_part_was_refused_is_not_made_again():
    records, key = FakeRecords(), new_form_key()
    page = a_page({"form_key": key}, records=records)

    def session_then_notes_refused():
        page.made_at("/sessions/s1")
        return pages.html("recorded, but its notes were not saved", "issuer", status=422)

    page.once(session_then_notes_refused)
    make = Maker()
    again = a_page({"form_key": key}, records=records).once(make)
    assert (again.status_code, again.location, make.made) == (303, "/sessions/s1", 0)


def test_a_form_without_its_key_is_refused_and_makes_nothing():
    make = Maker()
    for form in ({}, {"form_key": "short"}, {"form_key": "x" * 42 + "!"}):
        with pytest.raises(PageRefused) as refused:
            a_page(form).once(make)
        assert refused.value.status == 400
    assert make.made == 0


def test_a_form_shown_again_keeps_its_key_and_a_new_form_gets_a_new_one():
    key = new_form_key()
    assert a_page({"form_key": key}).form_key == key
    fresh = a_page({})
    assert fresh.form_key != key and fresh.form_key == fresh.form_key


class Changer:
    """A form's post that changes a record at the version the form was shown at: refused as a
    change made meanwhile (409 conflict) when the record has moved on, as the services refuse
    If-Match."""

    def __init__(self, page: Page, record: dict):
        self.page = page
        self.record = record

    def __call__(self):
        seen = int(self.page.form["version"])
        if seen != self.record["version"]:
            raise Refused(409, "conflict", f"expected version {seen}, the record is at a later one")
        self.record["version"] += 1
        return pages.see_other("/referrals/r1?done=referral-updated", "issuer")


def test_a_change_sent_twice_is_answered_as_the_first_and_a_form_opened_before_it_is_refused():
    records, key, record = FakeRecords(), new_form_key(), {"version": 3}
    answers = []
    for _ in range(2):  # a double click, or the back button and send again
        page = a_page({"form_key": key, "version": "3"}, records=records)
        answers.append(page.once(Changer(page, record)))
    assert record["version"] == 4
    assert [(a.status_code, a.location) for a in answers] == [
        (303, "/referrals/r1?done=referral-updated")
    ] * 2
    # another tab, opened before the change: a key of its own and the version it was shown at
    stale = a_page({"form_key": new_form_key(), "version": "3"}, records=records)
    with pytest.raises(Refused) as refused:
        stale.once(Changer(stale, record))
    assert refused.value.code == "conflict" and record["version"] == 4


def test_every_form_that_makes_or_changes_a_record_is_sent_once_per_key():
    from services.web.service import WebService

    # posts that change no record: searches, and signing out
    changes_nothing = {"/admin/find", "/auth/logout", "/people/find", "/referrals/new/find"}
    posts = {
        route.path: getattr(handler, "peerlink_once", False)
        for name in dir(WebService)
        if (route := getattr(handler := getattr(WebService, name), "peerlink_route", None))
        and route.method == "POST"
    }
    assert set(posts) >= changes_nothing
    assert {path for path, once in posts.items() if not once} == changes_nothing


def test_every_form_posted_carries_a_one_time_key_and_each_change_form_a_new_one():
    templates = Path(pages.__file__).parent / "templates"
    # the forms that change no record: a search, and signing out
    keyless = {"people/_search.html", "base.html"}
    missing = []
    for path in sorted(templates.rglob("*.html")):
        text = path.read_text()
        for opened in re.finditer(r'<form[^>]*method="post"', text):
            start = text[opened.start() : opened.start() + 400]
            if "change_key()" not in start and "form_key(page)" not in start:
                missing.append(str(path.relative_to(templates)))
    assert sorted(set(missing)) == sorted(keyless)
    macro = '{% from "macros.html" import change_key %}{{ change_key() }}{{ change_key() }}'
    page = a_page({"form_key": new_form_key()})
    keys = re.findall(r'value="([^"]+)"', pages.TEMPLATES.from_string(macro).render(page=page))
    assert len(set(keys)) == 2 and all(is_form_key(k) for k in keys)
    assert page.form_key not in keys  # never the key the page was posted with


def test_staff_are_named_by_the_workforce_then_their_sign_in_then_their_id():
    records = FakeRecords({"kofi": "Kofi Mensah", "jo": "Jo at sign-in"})
    workforce = FakeApi([{"worker_id": "jo", "display_name": "Jo Bloggs"}, {"worker_id": "x"}])
    lead = a_page(role="team_lead", user_id="alex", records=records, api=workforce)
    assert lead.name_of("jo") == "Jo Bloggs"
    assert lead.name_of("kofi") == "Kofi Mensah"
    assert lead.name_of("x") == "x" and lead.name_of("nobody") == "nobody"
    assert lead.names_of(["kofi", "jo"]) == "Kofi Mensah, Jo Bloggs"
    assert workforce.asked == 1  # once per page
    # who may not read the workforce list is told the names people's sign-ins gave
    worker = a_page(role="peer_worker", user_id="sam", name="Sam Peer", records=records)
    assert worker.name_of("jo") == "Jo at sign-in" and worker.name_of("sam") == "Sam Peer"
    assert worker.api.asked == 0


def test_a_rule_a_peer_worker_meets_often_is_said_in_plain_words_at_its_field():
    page = a_page()
    refusal = Refused(
        422,
        "invalid",
        "received_on: 2026-12-03 is in the future; record what has happened",
        fields={"received_on": ["2026-12-03 is in the future; record what has happened"]},
        rule="DateMustNotBeInTheFuture",
    )
    assert page.refused(refusal) == {
        "received_on": "The date cannot be in the future: record what has happened."
    }
    earliest = Refused(
        422,
        "invalid",
        "...",
        fields={"happened_on": ["1900-01-03 is before 2000-01-01, the earliest date ..."]},
        rule="DateMustNotPrecedeTheEarliestDate",
    )
    assert a_page().refused(earliest) == {
        "happened_on": "The date is before the earliest date your organisation records in "
        "Peerlink (1 January 2000). Check the year."
    }
    # a concern's own floor: what happened may be long before the organisation's records
    concern_floor = Refused(
        422,
        "invalid",
        "...",
        fields={
            "happened_on": [
                "1899-01-03 is before 1900-01-01, the earliest date a concern may say it happened"
            ]
        },
        rule="ConcernDateMustNotPrecedeTheEarliestConcernDate",
    )
    assert a_page().refused(concern_floor) == {
        "happened_on": "The date is before the earliest date a concern can record "
        "(1 January 1900). Check the year."
    }


def test_a_rule_without_a_field_is_said_in_plain_words_in_the_summary():
    refusal = Refused(
        409,
        "rule_broken",
        "a received referral cannot be allocated",
        rule="ReferralMustBeAcceptedBeforeAllocation",
    )
    assert a_page().refused(refusal) == {
        "_summary": "The referral must be accepted before it is allocated to a worker."
    }
    # a rule with no words of the web app's own is shown in the service's
    other = Refused(409, "rule_broken", "the plan is already closed", rule="SomeRareRule")
    assert a_page().refused(other) == {"_summary": "The plan is already closed."}
