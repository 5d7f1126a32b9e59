"""Given a partner's earliest date and a referral's timeline, when a session, measure,
signposting or concern is dated, then it is kept or refused by a named rule."""

import uuid
from datetime import UTC, date, datetime

import pytest

from contracts.sessions.measures import SWEMWBS_ITEMS
from services.safeguarding import domain as safeguarding
from services.safeguarding.domain import Concern
from services.sessions import domain
from services.sessions.domain import PersonMeasures, Session, Signposting
from services.sessions.projections import _referral_dates
from shared.aggregate import ReferenceRefused

pytestmark = pytest.mark.unit

PERSON = str(uuid.uuid4())
REFERRAL = str(uuid.uuid4())
EARLIEST = date(2000, 1, 1)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RECEIVED = date(2026, 1, 5)
DISCHARGED = date(2026, 3, 1)
SWEMWBS = dict.fromkeys(SWEMWBS_ITEMS, 3)


def on(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def booking(**changes) -> dict:
    return {
        "kind": "one_to_one",
        "planned_start_at": on(date(2026, 3, 11)),
        "planned_duration_minutes": 60,
        "mode": "phone",
        "location": "remote",
        "worker_ids": ["w1"],
        "by": "w1",
        "referral_id": REFERRAL,
        "referral_status": "active",
        "person_id": PERSON,
        "earliest": EARLIEST,
        "referral_received_on": RECEIVED,
        **changes,
    }


def held(**changes) -> dict:
    return {**booking(), "actual_start_at": on(date(2026, 2, 2)), "now": NOW, **changes}


def record_held(**changes) -> list:
    details = held(**changes)
    for name in ("planned_start_at", "planned_duration_minutes"):
        details.pop(name)
    return Session("s1").record(duration_minutes=50, **details)


def refused(rule, act, field=None):
    with pytest.raises(rule) as refusal:
        act()
    if field is not None:
        assert isinstance(refusal.value, ReferenceRefused)
        assert refusal.value.field_name == field
    return refusal.value


# -- the partner's earliest date -----------------------------------------------------------------


def test_a_held_session_before_the_earliest_date_is_refused_naming_the_field():
    refusal = refused(
        domain.DateMustNotPrecedeTheEarliestDate,
        lambda: record_held(actual_start_at=on(date(1990, 1, 1)), kind="drop_in", **_no_referral()),
        "actual_start_at",
    )
    assert "1990-01-01 is before 2000-01-01" in refusal.message


def test_a_booking_before_the_earliest_date_is_refused_naming_the_field():
    refused(
        domain.DateMustNotPrecedeTheEarliestDate,
        lambda: Session("s1").book(**booking(planned_start_at=on(date(1999, 12, 31)))),
        "planned_start_at",
    )


def test_a_session_on_the_earliest_date_is_kept():
    events = record_held(
        actual_start_at=on(EARLIEST), kind="drop_in", location="base", **_no_referral()
    )
    assert [e.event_type for e in events] == ["SessionRecorded"]


def test_a_measure_before_the_earliest_date_is_refused_naming_taken_on():
    refused(
        domain.DateMustNotPrecedeTheEarliestDate,
        lambda: PersonMeasures(PERSON).record(
            measure="swemwbs",
            timepoint="start",
            answers=SWEMWBS,
            taken_on=date(1900, 1, 1),
            today=NOW.date(),
            by="w1",
            earliest=EARLIEST,
        ),
        "taken_on",
    )


def test_a_signposting_before_the_earliest_date_is_refused_naming_on():
    refused(
        domain.DateMustNotPrecedeTheEarliestDate,
        lambda: Signposting("sp1").record(
            person_id=PERSON,
            destination="benefits_and_money",
            by="w1",
            on=date(1990, 1, 1),
            earliest=EARLIEST,
        ),
        "on",
    )


def test_without_an_earliest_date_no_floor_is_applied():
    assert domain.not_before_earliest("on", date(1900, 1, 1), None) == date(1900, 1, 1)


# -- the referral's timeline ---------------------------------------------------------------------


def test_a_one_to_one_before_the_referral_was_received_is_a_conflict_with_the_timeline():
    refusal = refused(
        domain.SessionCannotPrecedeTheReferral,
        lambda: record_held(actual_start_at=on(date(2026, 1, 4))),
    )
    assert isinstance(refusal, domain.ReferralTimelineRunsForward)
    assert not isinstance(refusal, ReferenceRefused)  # a conflict (409), not invalid input
    assert refusal.rule == "SessionCannotPrecedeTheReferral"
    assert "received on 2026-01-05" in refusal.message


def test_a_one_to_one_on_the_day_the_referral_was_received_is_kept():
    events = record_held(actual_start_at=on(RECEIVED))
    assert events[0].payload["actual_start_at"].startswith("2026-01-05")


def test_a_one_to_one_before_the_first_contact_is_a_conflict_naming_the_first_contact():
    contacted = date(2026, 1, 12)
    refusal = refused(
        domain.SessionCannotPrecedeTheFirstContact,
        lambda: record_held(
            actual_start_at=on(date(2026, 1, 9)), referral_first_contact_on=contacted
        ),
        None,
    )
    assert isinstance(refusal, domain.ReferralTimelineRunsForward)
    assert "first contact on 2026-01-12" in refusal.message


def test_a_one_to_one_on_the_day_of_the_first_contact_may_be_that_contact():
    contacted = date(2026, 1, 12)
    events = record_held(actual_start_at=on(contacted), referral_first_contact_on=contacted)
    assert [e.event_type for e in events] == ["SessionRecorded"]


def test_booking_a_one_to_one_before_the_first_contact_is_refused():
    refused(
        domain.SessionCannotPrecedeTheFirstContact,
        lambda: Session("s1").book(
            **booking(planned_start_at=on(date(2026, 1, 8))),
            referral_first_contact_on=date(2026, 1, 12),
        ),
        None,
    )


def test_carer_support_booked_before_the_referral_is_refused():
    refused(
        domain.SessionCannotPrecedeTheReferral,
        lambda: Session("s1").book(**booking(kind="carer", planned_start_at=on(date(2025, 12, 1)))),
    )


def test_a_one_to_one_after_the_referral_ended_is_refused():
    refused(
        domain.SessionCannotFollowTheDischarge,
        lambda: record_held(actual_start_at=on(date(2026, 3, 2)), referral_ended_on=DISCHARGED),
        None,
    )
    events = record_held(actual_start_at=on(DISCHARGED), referral_ended_on=DISCHARGED)
    assert [e.event_type for e in events] == ["SessionRecorded"]


def test_a_booked_one_to_one_recorded_after_the_discharge_is_refused():
    session = Session("s1")
    session.book(**booking(planned_start_at=on(date(2026, 2, 27))))
    refused(
        domain.SessionCannotFollowTheDischarge,
        lambda: session.record(
            actual_start_at=on(date(2026, 3, 3)),
            duration_minutes=50,
            by="w1",
            now=NOW,
            earliest=EARLIEST,
            referral_received_on=RECEIVED,
            referral_ended_on=DISCHARGED,
        ),
    )
    assert session.status == "booked"


def test_a_drop_in_is_not_bound_by_any_referral():
    events = record_held(
        actual_start_at=on(date(2025, 1, 1)),
        kind="drop_in",
        location="base",
        **_no_referral(),
        referral_received_on=RECEIVED,
    )
    assert [e.event_type for e in events] == ["SessionRecorded"]


def _no_referral() -> dict:
    return {"referral_id": None, "referral_status": None, "person_id": None}


# -- what the sessions service learns of a referral's dates --------------------------------------


@pytest.mark.parametrize(
    ("event_type", "payload", "dates"),
    [
        ("ReferralDischarged", {"discharged_on": "2026-03-01"}, (None, None, "2026-03-01")),
        ("ReferralClosedWithoutContact", {"closed_on": "2026-02-01"}, (None, None, "2026-02-01")),
        ("ReferralTransferred", {"transferred_on": "2026-02-03"}, (None, None, "2026-02-03")),
        ("FirstContactMade", {"contacted_on": "2026-01-09"}, (None, "2026-01-09", None)),
        (
            "ReferralCorrected",
            {"field": "received_on", "value": "2026-01-02"},
            ("2026-01-02", None, None),
        ),
        (
            "ReferralCorrected",
            {"field": "first_contact_on", "value": "2026-01-07"},
            (None, "2026-01-07", None),
        ),
        (
            "ReferralCorrected",
            {"field": "discharged_on", "value": "2026-03-04"},
            (None, None, "2026-03-04"),
        ),
        ("ReferralCorrected", {"field": "urgency", "value": "urgent"}, (None, None, None)),
        ("ReferralAccepted", {"accepted_on": "2026-01-06"}, (None, None, None)),
    ],
)
def test_the_referral_dates_each_event_sets(event_type, payload, dates):
    assert _referral_dates(event_type, payload) == dates


# -- safeguarding ------------------------------------------------------------------------------


def concern_details(**change) -> safeguarding.ConcernDetails:
    fields = {
        "age_group": "adult",
        "categories": ("financial_material",),
        "severity": "standard",
        "immediate_risk": False,
        "what_happened_text_id": uuid.uuid4(),
        "actions_taken": ("none",),
        "consent_given": True,
        "person_id": uuid.UUID(PERSON),
    }
    return safeguarding.ConcernDetails(**{**fields, **change})


def test_a_concern_dated_before_1900_is_refused_naming_happened_on():
    concern = Concern("c1")
    refused(
        safeguarding.ConcernDateMustNotPrecedeTheEarliestConcernDate,
        lambda: concern.raise_concern(concern_details(happened_on=date(1899, 12, 31)), "w1", NOW),
        "happened_on",
    )
    assert concern.status is None


def test_a_disclosure_of_abuse_long_past_is_raised_with_the_day_it_happened():
    # an adult telling of their childhood: long before the partner's earliest records
    happened = date(1987, 6, 1)
    assert happened < EARLIEST
    events = Concern("c1").raise_concern(concern_details(happened_on=happened), "w1", NOW)
    assert events[0].payload["happened_on"] == "1987-06-01"


def test_a_concern_dated_1900_is_raised():
    events = Concern("c1").raise_concern(
        concern_details(happened_on=safeguarding.EARLIEST_HAPPENED_ON), "w1", NOW
    )
    assert events[0].payload["happened_on"] == "1900-01-01"


def test_a_measure_for_a_referral_is_taken_on_or_after_it_was_received():
    from services.sessions import domain as sessions

    sessions.measure_within_the_referral(date(2026, 11, 2), date(2026, 11, 2))
    sessions.measure_within_the_referral(date(2026, 11, 2), None)
    with pytest.raises(sessions.MeasureCannotPrecedeTheReferral, match="2026-11-02"):
        sessions.measure_within_the_referral(date(2020, 1, 1), date(2026, 11, 2))


def test_a_measure_before_the_first_contact_is_a_conflict_naming_the_first_contact():
    contacted = date(2026, 1, 12)
    with pytest.raises(domain.MeasureCannotPrecedeTheFirstContact) as refusal:
        domain.measure_within_the_referral(date(2026, 1, 9), RECEIVED, contacted)
    assert isinstance(refusal.value, domain.ReferralTimelineRunsForward)
    assert not isinstance(refusal.value, ReferenceRefused)  # a conflict (409), not invalid input
    assert refusal.value.rule == "MeasureCannotPrecedeTheFirstContact"
    assert "first contact on 2026-01-12" in refusal.value.message
    assert "taken on 2026-01-09" in refusal.value.message


def test_a_measure_on_the_day_of_the_first_contact_may_be_the_baseline_taken_at_it():
    contacted = date(2026, 1, 12)
    domain.measure_within_the_referral(contacted, RECEIVED, contacted)
    domain.measure_within_the_referral(date(2026, 2, 1), RECEIVED, contacted)


def test_a_measure_before_any_first_contact_is_recorded_is_kept_as_a_session_is():
    # the meeting it was taken at may be the first contact, recorded afterwards
    domain.measure_within_the_referral(date(2026, 1, 9), RECEIVED, None)
    record_held(actual_start_at=on(date(2026, 1, 9)), referral_first_contact_on=None)


def test_a_measure_before_the_referral_is_refused_as_that_even_with_a_first_contact():
    with pytest.raises(domain.MeasureCannotPrecedeTheReferral):
        domain.measure_within_the_referral(date(2026, 1, 4), RECEIVED, date(2026, 1, 12))
