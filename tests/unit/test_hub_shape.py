"""What of a partner's events the hub may have: keyed pseudonyms for every id, no member of
staff, dates (or the hour) for moments, and only the fields the allow-list names; an offer's
message to the partner it is for, with the ids both nodes need."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest

from contracts.hub import (
    HUB_FIELDS,
    PSEUDONYM,
    WITHHELD_USER,
    Pseudonyms,
    conform,
    hub_envelope,
    kept_names,
    partner_envelope,
    pseudonym_digest,
)
from services.reporting.grid import OffTheGrid, financial_year_of, period, periods_of_year

pytestmark = pytest.mark.unit

LEEDS = Pseudonyms(b"leeds-mind's own key for the hub's pseudonyms, 32+")
MESMAC = Pseudonyms(b"mesmac's own key for the hub's pseudonyms, 32 bytes+")


def envelope(event_type: str, payload: dict, stream_type="session", stream_id=None) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "stream_type": stream_type,
        "stream_id": stream_id or str(uuid.uuid4()),
        "version": 1,
        "position": 7,
        "event_type": event_type,
        "schema_version": 1,
        "partner_id": "leeds-mind",
        "occurred_at": "2026-07-03T14:27:31.123456+00:00",
        "recorded_at": "2026-07-03T14:27:31.223456+00:00",
        "actor": {"user_id": "alex.walker@leedsmind.org", "role": "peer_worker"},
        "correlation_id": str(uuid.uuid4()),
        "causation_id": str(uuid.uuid4()),
        "payload": payload,
    }


def test_every_id_is_a_keyed_pseudonym_and_the_member_of_staff_is_withheld():
    person = str(uuid.uuid4())
    given = envelope(
        "AttendanceRecorded", {"person_id": person, "status": "attended", "marked_by": "alex"}
    )
    shaped = hub_envelope(given, LEEDS)
    text = json.dumps(shaped)
    for value in (given["event_id"], given["stream_id"], given["correlation_id"], person):
        assert value not in text
    assert "alex" not in text
    assert shaped["actor"] == {"user_id": WITHHELD_USER, "role": "peer_worker"}
    assert shaped["payload"] == {"person_id": LEEDS.person(person), "status": "attended"}
    assert PSEUDONYM.fullmatch(shaped["payload"]["person_id"])
    uuid.UUID(shaped["event_id"])
    # the same id, the same pseudonym; another partner's key, another pseudonym
    assert hub_envelope(given, LEEDS)["stream_id"] == shaped["stream_id"]
    assert hub_envelope(given, MESMAC)["payload"]["person_id"] != LEEDS.person(person)


def test_a_persons_measures_stream_is_known_by_the_persons_pseudonym():
    person = str(uuid.uuid4())
    given = envelope(
        "MeasureRecorded",
        {"person_id": person, "measure": "swemwbs", "taken_on": "2026-07-03", "referral_id": "r"},
        stream_type="person_measures",
        stream_id=person,
    )
    shaped = hub_envelope(given, LEEDS)
    assert shaped["stream_id"] == shaped["payload"]["person_id"] == LEEDS.person(person)
    assert "referral_id" not in shaped["payload"]


def test_moments_cross_as_days_or_hours_and_demographics_not_at_all():
    session = hub_envelope(
        envelope(
            "SessionRecorded", {"kind": "group", "actual_start_at": "2026-07-03T23:30:00-02:00"}
        ),
        LEEDS,
    )
    assert session["payload"] == {"kind": "group", "held_on": "2026-07-04"}
    raised = hub_envelope(
        envelope("ConcernRaised", {"raised_at": "2026-07-03T14:27:31.5+00:00", "severity": "high"}),
        LEEDS,
    )
    assert raised["payload"]["raised_at"] == "2026-07-03T14:00:00+00:00"
    moved = hub_envelope(
        envelope("ReferralTransferred", {"to_partner": "mesmac", "transferred_on": "2026-07-19"}),
        LEEDS,
    )
    assert moved["payload"] == {"transferred_on": "2026-07-01"}
    registered = envelope(
        "PersonRegistered",
        {"age_band": "25-34", "gender": "woman", "postcode_district": "LS7"},
        stream_type="person",
    )
    assert hub_envelope(registered, LEEDS)["payload"] == {}
    assert "PersonRegistered" not in HUB_FIELDS
    for fields in HUB_FIELDS.values():
        assert not {"postcode_district", "worker_id", "offer_id", "group_id"} & set(fields)


def test_an_erased_person_crosses_under_a_pseudonym_derived_for_the_erasure():
    person = str(uuid.uuid4())
    mark = envelope("AttendanceRecorded", {"person_id": person, "status": "attended"})
    after = hub_envelope(mark, LEEDS, frozenset({person}))
    assert after["payload"]["person_id"] == LEEDS.erased_person(person) != LEEDS.person(person)
    erased = hub_envelope(
        envelope("PersonErased", {"person_id": person}, stream_type="person", stream_id=person),
        LEEDS,
    )
    # the notice names the old pseudonym by its digest alone, and the new one as its stream
    assert erased["stream_id"] == LEEDS.erased_person(person)
    assert erased["payload"] == {"replaces": pseudonym_digest("leeds-mind", LEEDS.person(person))}
    assert LEEDS.person(person) not in json.dumps(erased)


def test_an_offer_goes_to_the_partner_it_is_for_with_the_ids_both_need_and_never_to_the_hub():
    offer = envelope(
        "ReferralOffered",
        {"to_partner": "mesmac", "offer_id": "o-1", "offered_on": "2026-07-03", "notes_id": "n"},
        stream_type="referral",
    )
    recipient, sent = partner_envelope(offer)
    assert recipient == "mesmac"
    assert sent["payload"] == {
        "to_partner": "mesmac",
        "offer_id": "o-1",
        "offered_on": "2026-07-03",
    }
    assert sent["stream_id"] == offer["stream_id"]
    assert hub_envelope(offer, LEEDS)["payload"] == {}
    answer = envelope(
        "OfferAccepted", {"from_partner": "leeds-mind", "offer_id": "o-1", "referral_id": "r"}
    )
    assert partner_envelope(answer)[0] == "leeds-mind"
    assert partner_envelope(envelope("SessionRecorded", {})) is None


def test_the_hub_keeps_only_named_fields_and_a_person_field_only_as_a_pseudonym():
    raw = str(uuid.uuid4())
    assert conform("AttendanceRecorded", {"person_id": raw, "status": "attended"}) == {
        "status": "attended"
    }
    held = conform("ReferralReceived", {"source": "gp", "received_on": "2026-07-03T10:00:00+00:00"})
    assert held == {"source": "gp", "received_on": "2026-07-03"}
    assert conform("WorkerRegistered", {"worker_id": "alex"}) is None
    assert kept_names("ReferralCorrected") == {"field", "value"}


def test_the_grid_is_months_quarters_of_the_financial_year_and_financial_years():
    year = financial_year_of(date(2027, 2, 14))
    assert (year.start.isoformat(), year.end.isoformat(), year.label) == (
        "2026-04-01",
        "2027-03-31",
        "2026-27",
    )
    labels = [p.label for p in periods_of_year(year)]
    assert labels[:2] == ["2026-04", "2026-05"] and labels[-5:] == [
        "2026-27 Q1",
        "2026-27 Q2",
        "2026-27 Q3",
        "2026-27 Q4",
        "2026-27",
    ]
    assert period(date(2027, 1, 1), date(2027, 3, 31)).label == "2026-27 Q4"
    assert period(date(2026, 2, 1), date(2026, 2, 28)).kind == "month"
    for start, end in [
        (date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 5, 1), date(2026, 6, 30)),
        (date(2026, 7, 1), date(2026, 7, 30)),
        (date(2026, 2, 1), date(2026, 4, 30)),
    ]:
        with pytest.raises(OffTheGrid):
            period(start, end)
