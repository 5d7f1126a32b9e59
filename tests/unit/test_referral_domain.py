"""Given these past events, when this command, then these new events or this refusal."""

import uuid
from datetime import date

import pytest

from contracts.referrals.events import registry
from services.referrals import domain
from services.referrals.domain import Referral
from shared.aggregate import RuleBroken
from shared.events import SYSTEM, Context, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

DAY = date(2026, 4, 2)  # after every step of PATHS
RECEIVED = {
    "person_id": str(uuid.uuid4()),
    "source": "gp",
    "source_group": "primary_care",
    "received_on": "2026-03-02",
    "urgency": "routine",
    "needs": ["isolation"],
    "risk_level": "low",
    "preferred_contact_mode": "phone",
    "is_carer_referral": False,
    "cared_for_person_id": None,
    "referrer": {"organisation": "Chapeltown surgery"},
    "consent": {
        "to_share": True,
        "to_contact": True,
        "contact_methods": ["phone"],
        "contact_times": None,
        "recorded_on": "2026-03-02",
    },
}

OFFER_DETAILS = {
    "offer_id": str(uuid.uuid4()),
    "source": "gp",
    "urgency": "routine",
    "needs": [],
    "risk_level": "low",
    "is_carer_referral": False,
}

# The events that bring a referral to each state.
PATHS = {
    "received": [("ReferralReceived", RECEIVED)],
    "accepted": [
        ("ReferralReceived", RECEIVED),
        ("ReferralAccepted", {"accepted_by": "lead", "accepted_on": "2026-03-03"}),
    ],
    "declined": [
        ("ReferralReceived", RECEIVED),
        (
            "ReferralDeclined",
            {"declined_by": "lead", "declined_on": "2026-03-03", "reason": "outside_area"},
        ),
    ],
}
PATHS["allocated"] = PATHS["accepted"] + [
    ("ReferralAllocated", {"worker_id": "w1", "allocated_by": "lead", "allocated_on": "2026-03-03"})
]
PATHS["active"] = PATHS["allocated"] + [
    ("FirstContactMade", {"contacted_by": "w1", "contacted_on": "2026-03-04"})
]
PATHS["on_hold"] = PATHS["active"] + [
    ("ReferralPutOnHold", {"by": "w1", "on": "2026-03-05", "reason": "hospital_admission"})
]
PATHS["discharged"] = PATHS["active"] + [
    (
        "ReferralDischarged",
        {"discharged_by": "w1", "discharged_on": "2026-04-01", "reason": "goals_met"},
    )
]
PATHS["closed_without_contact"] = PATHS["allocated"] + [
    (
        "ReferralClosedWithoutContact",
        {"closed_by": "lead", "closed_on": "2026-03-20", "reason": "unable_to_contact"},
    )
]
PATHS["transferred"] = PATHS["accepted"] + [
    (
        "ReferralOffered",
        {**OFFER_DETAILS, "to_partner": "mesmac", "offered_by": "lead", "offered_on": "2026-03-03"},
    ),
    ("ReferralTransferred", {"to_partner": "mesmac", "transferred_on": "2026-03-04"}),
]


def given(state: str) -> Referral:
    """Fold the events of PATHS[state] through a real store, so their payloads are valid."""
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    events = [NewEvent(t, p) for t, p in PATHS[state]]
    store.append("referral", stream, 0, events, Context("leeds-mind", SYSTEM))
    return Referral.fold(stream, store.read_stream("referral", stream))


COMMANDS = {
    "accept": (lambda r: r.accept("lead", DAY), "ReferralAccepted"),
    "decline": (lambda r: r.decline("lead", DAY, "outside_area"), "ReferralDeclined"),
    "allocate": (lambda r: r.allocate("w2", "lead", DAY), None),
    "first_contact": (lambda r: r.record_first_contact("w1", DAY), "FirstContactMade"),
    "hold": (lambda r: r.put_on_hold("w1", DAY, "person_request"), "ReferralPutOnHold"),
    "resume": (lambda r: r.resume("w1", DAY), "ReferralResumed"),
    "discharge": (lambda r: r.discharge("w1", DAY, "goals_met"), "ReferralDischarged"),
    "close": (
        lambda r: r.close_without_contact("lead", DAY, "unable_to_contact"),
        "ReferralClosedWithoutContact",
    ),
    "offer": (
        lambda r: r.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS),
        "ReferralOffered",
    ),
}

ALLOWED = {
    "accept": {"received"},
    "decline": {"received"},
    "allocate": {"accepted", "allocated", "active", "on_hold"},
    "first_contact": {"allocated"},
    "hold": {"active"},
    "resume": {"on_hold"},
    "discharge": {"active", "on_hold"},
    "close": {"received", "accepted", "allocated"},
    "offer": {"received", "accepted", "allocated", "active", "on_hold"},
}

CASES = [(command, state) for command in COMMANDS for state in PATHS]


@pytest.mark.parametrize(("command", "state"), CASES, ids=[f"{c}-from-{s}" for c, s in CASES])
def test_every_command_from_every_state(command, state):
    referral = given(state)
    act, expected_type = COMMANDS[command]
    if state in ALLOWED[command]:
        events = act(referral)
        assert len(events) == 1
        if expected_type:
            assert events[0].event_type == expected_type
        for event in events:  # every decided event is valid for its registered schema
            registry.validate(event)
    else:
        with pytest.raises(RuleBroken) as refusal:
            act(referral)
        assert refusal.value.message and refusal.value.rule


def test_allocating_an_accepted_referral_allocates_and_an_allocated_one_reallocates():
    referral = given("accepted")
    [event] = referral.allocate("w1", "lead", DAY)
    assert event.event_type == "ReferralAllocated" and referral.status == "allocated"
    [event] = referral.allocate("w2", "lead", DAY)
    assert event.event_type == "ReferralReallocated"
    assert event.payload["previous_worker_id"] == "w1" and referral.worker_id == "w2"


def test_a_declined_referral_cannot_be_allocated():
    with pytest.raises(
        domain.ReferralMustBeAcceptedBeforeAllocation,
        match="a declined referral cannot be allocated",
    ):
        given("declined").allocate("w1", "lead", DAY)


def test_reallocating_to_the_same_worker_is_refused():
    with pytest.raises(domain.ReallocationMustChangeWorker):
        given("allocated").allocate("w1", "lead", DAY)


def test_discharging_before_any_contact_points_to_closing_without_contact():
    with pytest.raises(domain.DischargeNeedsActiveSupport, match="closed without contact"):
        given("allocated").discharge("w1", DAY, "goals_met")


def test_first_contact_cannot_be_before_the_referral_was_received():
    with pytest.raises(domain.FirstContactCannotPrecedeReferral):
        given("allocated").record_first_contact("w1", date(2026, 3, 1))


@pytest.mark.parametrize(
    "consent",
    [None, {**RECEIVED["consent"], "to_share": False}],
    ids=["consent-not-recorded", "consent-refused"],
)
def test_an_offer_needs_consent_to_share(consent):
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    no_consent = {**RECEIVED, "consent": consent}
    store.append(
        "referral",
        stream,
        0,
        [NewEvent("ReferralReceived", no_consent)],
        Context("leeds-mind", SYSTEM),
    )
    referral = Referral.fold(stream, store.read_stream("referral", stream))
    with pytest.raises(domain.TransferNeedsConsentToShare):
        referral.offer_to(
            "mesmac", "leeds-mind", "lead", DAY, {**OFFER_DETAILS, "offer_id": str(uuid.uuid4())}
        )


def test_an_offer_goes_to_another_partner_and_one_at_a_time():
    referral = given("accepted")
    with pytest.raises(domain.TransferMustGoToAnotherPartner):
        referral.offer_to("leeds-mind", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    referral.offer_to(
        "mesmac", "leeds-mind", "lead", DAY, {**OFFER_DETAILS, "offer_id": str(uuid.uuid4())}
    )
    with pytest.raises(domain.OneOfferAtATime):
        referral.offer_to(
            "lslcs", "leeds-mind", "lead", DAY, {**OFFER_DETAILS, "offer_id": str(uuid.uuid4())}
        )


def test_a_declined_offer_can_be_followed_by_another_and_an_accepted_one_ends_the_referral():
    referral = given("accepted")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    referral.offer_to("mesmac", "leeds-mind", "lead", DAY, {**OFFER_DETAILS, "offer_id": first})
    with pytest.raises(domain.NoOfferToAnswer):
        referral.settle_offer(first, True, "lslcs", DAY)
    [declined] = referral.settle_offer(first, False, "mesmac", DAY)
    assert declined.event_type == "ReferralOfferDeclined" and referral.offered_to is None
    referral.offer_to("mesmac", "leeds-mind", "lead", DAY, {**OFFER_DETAILS, "offer_id": second})
    with pytest.raises(domain.NoOfferToAnswer):  # an old answer does not settle a new offer
        referral.settle_offer(first, True, "mesmac", DAY)
    [done] = referral.settle_offer(second, True, "mesmac", DAY)
    assert done.event_type == "ReferralTransferred" and referral.status == "transferred"
    assert not referral.is_open


def test_a_referral_is_received_once():
    with pytest.raises(domain.ReferralMustBeNew):
        given("received").receive(RECEIVED)


def test_a_carers_referral_does_not_name_the_carer_as_the_person_they_care_for():
    carer = {**RECEIVED, "is_carer_referral": True, "source": "carer"}
    with pytest.raises(domain.ACarerCaresForSomeoneElse) as refused:
        Referral("r").receive({**carer, "cared_for_person_id": carer["person_id"]})
    assert refused.value.field_name == "cared_for_person_id"
    [event] = Referral("r").receive({**carer, "cared_for_person_id": str(uuid.uuid4())})
    assert event.event_type == "ReferralReceived"


# -- one timeline per referral -----------------------------------------------------------------


def step(state: str, extra: list[tuple[str, dict]]) -> Referral:
    """Fold PATHS[state] and then `extra` events through a real store."""
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    events = [NewEvent(t, p) for t, p in PATHS[state] + extra]
    store.append("referral", stream, 0, events, Context("leeds-mind", SYSTEM))
    return Referral.fold(stream, store.read_stream("referral", stream))


@pytest.mark.parametrize(
    ("state", "act"),
    [
        ("received", lambda r: r.accept("lead", date(2026, 3, 1))),
        ("received", lambda r: r.decline("lead", date(2026, 3, 1), "outside_area")),
        ("accepted", lambda r: r.allocate("w1", "lead", date(2026, 3, 2))),
        ("allocated", lambda r: r.allocate("w2", "lead", date(2026, 3, 2))),
        ("allocated", lambda r: r.close_without_contact("lead", date(2026, 3, 2), "other")),
        ("active", lambda r: r.put_on_hold("w1", date(2026, 3, 3), "other")),
        ("active", lambda r: r.discharge("w1", date(2026, 3, 3), "goals_met")),
        ("on_hold", lambda r: r.resume("w1", date(2026, 3, 4))),
        ("on_hold", lambda r: r.discharge("w1", date(2026, 3, 4), "goals_met")),
    ],
    ids=[
        "accepted-before-received",
        "declined-before-received",
        "allocated-before-accepted",
        "reallocated-before-the-allocation-it-replaces",
        "closed-before-allocated",
        "held-before-first-contact",
        "discharged-before-first-contact",
        "resumed-before-the-hold",
        "discharged-before-the-hold",
    ],
)
def test_a_step_dated_before_the_step_it_follows_is_refused(state, act):
    referral = given(state)
    with pytest.raises(domain.ReferralTimelineRunsForward, match="on or after"):
        act(referral)


def test_a_step_on_the_same_day_as_the_one_before_is_kept():
    [event] = given("accepted").allocate("w1", "lead", date(2026, 3, 3))
    assert event.payload["allocated_on"] == "2026-03-03"


CALENDAR = domain.Calendar(today=date(2026, 5, 1), earliest=date(2000, 1, 1))


def test_a_date_in_the_future_is_invalid_input_naming_the_field():
    with pytest.raises(domain.DateMustNotBeInTheFuture) as refusal:
        CALENDAR.check("received_on", date(2026, 5, 2))
    assert refusal.value.field_name == "received_on"


def test_a_date_before_the_partners_earliest_is_invalid_input():
    with pytest.raises(domain.DateMustNotPrecedeTheEarliestDate, match="2000-01-01"):
        CALENDAR.check("received_on", date(6, 1, 7))
    assert CALENDAR.check("on", date(2000, 1, 1)) == date(2000, 1, 1)


def test_text_of_nothing_but_spaces_is_refused_and_text_is_trimmed():
    with pytest.raises(domain.TextMustHaveContent):
        domain.text_with_content("needs_notes", "   ")
    assert domain.text_with_content("needs_notes", "  lonely \n") == "lonely"


# -- corrections ---------------------------------------------------------------------------------

REASON = str(uuid.uuid4())


def test_correcting_the_received_date_records_who_why_old_and_new():
    referral = given("active")
    [event] = referral.correct("received_on", date(2026, 3, 1), "lead", DAY, REASON)
    registry.validate(event)
    assert event.event_type == "ReferralCorrected"
    assert event.payload == {
        "field": "received_on",
        "value": "2026-03-01",
        "previous_value": "2026-03-02",
        "corrected_by": "lead",
        "corrected_on": DAY.isoformat(),
        "reason_text_id": REASON,
    }
    assert referral.received_on == date(2026, 3, 1)
    assert referral.as_dict()["received_on"] == date(2026, 3, 1)


def test_a_correction_that_would_break_the_timeline_is_refused():
    with pytest.raises(domain.ReferralTimelineRunsForward):
        given("active").correct("received_on", date(2026, 3, 5), "lead", DAY, REASON)
    with pytest.raises(domain.ReferralTimelineRunsForward):
        given("discharged").correct("first_contact_on", date(2026, 4, 2), "lead", DAY, REASON)


def test_a_corrected_date_is_folded_and_the_next_step_follows_it():
    referral = step(
        "allocated",
        [
            (
                "ReferralCorrected",
                {
                    "field": "allocated_on",
                    "value": "2026-03-10",
                    "previous_value": "2026-03-03",
                    "corrected_by": "lead",
                    "corrected_on": "2026-03-11",
                    "reason_text_id": REASON,
                },
            )
        ],
    )
    with pytest.raises(domain.ReferralTimelineRunsForward):
        referral.record_first_contact("w1", date(2026, 3, 9))
    [event] = referral.record_first_contact("w1", date(2026, 3, 10))
    assert event.event_type == "FirstContactMade"


def test_a_step_not_yet_recorded_cannot_be_corrected():
    with pytest.raises(domain.CorrectionNeedsTheStepRecorded):
        given("accepted").correct("first_contact_on", date(2026, 3, 4), "lead", DAY, REASON)


def test_a_correction_must_change_the_value():
    with pytest.raises(domain.CorrectionMustChangeTheValue):
        given("received").correct("source", "gp", "lead", DAY, REASON)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("worker_id", "w9", domain.CorrectionMustNameACorrectableField),
        ("source", "postman", domain.CorrectionValueMustBeValid),
        ("needs", ["flying"], domain.CorrectionValueMustBeValid),
        ("received_on", "last week", domain.CorrectionValueMustBeValid),
    ],
)
def test_a_correction_to_an_unknown_field_or_value_is_invalid_input(field, value, rule):
    with pytest.raises(rule):
        given("received").correct(field, value, "lead", DAY, REASON)


def test_coded_fields_and_the_outcome_reason_can_be_corrected():
    referral = given("discharged")
    [source] = referral.correct("source", "self", "lead", DAY, REASON)
    assert source.payload["previous_value"] == "gp" and referral.details["source"] == "self"
    assert referral.details["source_group"] == "self_referral"
    [needs] = referral.correct("needs", ["housing", "anxiety"], "lead", DAY, REASON)
    assert needs.payload["value"] == ["anxiety", "housing"]
    [reason] = referral.correct("outcome_reason", "moved_away", "lead", DAY, REASON)
    assert reason.payload["previous_value"] == "goals_met"
    assert referral.outcome_reason == "moved_away"
    with pytest.raises(domain.CorrectionValueMustBeValid):  # a decline reason, not a discharge's
        referral.correct("outcome_reason", "outside_area", "lead", DAY, REASON)
    with pytest.raises(domain.CorrectionNeedsTheStepRecorded):
        given("active").correct("outcome_reason", "moved_away", "lead", DAY, REASON)


# -- consent at any time -------------------------------------------------------------------------

CONSENT = {
    "to_share": True,
    "to_contact": True,
    "contact_methods": ["phone"],
    "contact_times_text_id": None,
    "recorded_on": "2026-03-05",
}


def test_consent_recorded_after_the_referral_lets_it_be_offered():
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    without = NewEvent("ReferralReceived", {**RECEIVED, "consent": None})
    store.append("referral", stream, 0, [without], Context("leeds-mind", SYSTEM))
    referral = Referral.fold(stream, store.read_stream("referral", stream))
    with pytest.raises(domain.TransferNeedsConsentToShare):
        referral.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    [event] = referral.record_consent(CONSENT, "w1")
    registry.validate(event)
    assert event.event_type == "ConsentRecorded" and referral.consent_to_share
    [offered] = referral.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    assert offered.event_type == "ReferralOffered"


def test_withdrawn_consent_blocks_an_offer_until_given_again():
    referral = given("accepted")
    [event] = referral.withdraw_consent("w1", DAY)
    registry.validate(event)
    assert referral.consent["to_share"] is False
    with pytest.raises(domain.OfferNeedsConsentNotWithdrawn, match="withdrew"):
        referral.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    referral.record_consent(CONSENT, "w1")
    [offered] = referral.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    assert offered.event_type == "ReferralOffered"


def test_withdrawing_consent_withdraws_an_offer_still_open():
    # given a referral offered to mesmac and not yet answered
    referral = given("accepted")
    [offered] = referral.offer_to("mesmac", "leeds-mind", "lead", DAY, OFFER_DETAILS)
    # when the person withdraws their consent
    events = referral.withdraw_consent("w1", DAY)
    # then the offer is withdrawn with it, as its own event naming the offer
    assert [e.event_type for e in events] == ["ConsentWithdrawn", "ReferralOfferWithdrawn"]
    for event in events:
        registry.validate(event)
    withdrawn = events[1].payload
    assert withdrawn["offer_id"] == offered.payload["offer_id"]
    assert (withdrawn["to_partner"], withdrawn["reason"]) == ("mesmac", "consent_withdrawn")
    assert referral.offered_to is None
    # and a late acceptance from the partner transfers nothing: it is refused
    [refused] = referral.settle_offer(offered.payload["offer_id"], True, "mesmac", DAY)
    assert refused.event_type == "OfferAcceptanceRefused" and referral.status == "accepted"


def test_withdrawing_consent_with_no_offer_open_withdraws_nothing_else():
    [event] = given("accepted").withdraw_consent("w1", DAY)
    assert event.event_type == "ConsentWithdrawn"


def test_consent_is_withdrawn_once_until_it_is_given_again():
    referral = given("accepted")
    referral.withdraw_consent("w1", DAY)
    with pytest.raises(domain.ConsentIsWithdrawnOnce, match="record their consent again"):
        referral.withdraw_consent("w1", DAY)
    referral.record_consent(CONSENT, "w1")
    [event] = referral.withdraw_consent("w1", DAY)
    assert event.event_type == "ConsentWithdrawn"


def test_a_discharge_says_whether_the_worker_asked_to_close_what_is_open():
    [kept] = given("active").discharge("w1", DAY, "goals_met")
    [closing] = given("active").discharge("w1", DAY, "goals_met", close_open_items=True)
    registry.validate(closing)
    assert kept.payload["close_open_items"] is False
    assert closing.payload["close_open_items"] is True


# -- first contact <= sessions held <= discharge -------------------------------------------------

HELD = domain.SessionsHeld(first=date(2026, 3, 10), last=date(2026, 3, 24))


def test_a_discharge_dated_before_a_session_held_is_refused():
    referral = given("active")
    with pytest.raises(domain.DischargeCannotPrecedeASessionHeld, match="2026-03-24") as refusal:
        referral.discharge("w1", date(2026, 3, 20), "goals_met", held=HELD)
    assert isinstance(refusal.value, domain.ReferralTimelineRunsForward)
    assert referral.status == "active"
    [event] = referral.discharge("w1", date(2026, 3, 24), "goals_met", held=HELD)
    assert event.payload["discharged_on"] == "2026-03-24"


def test_correcting_a_date_past_the_sessions_held_is_refused():
    active = given("active")
    with pytest.raises(domain.FirstContactCannotFollowASessionHeld, match="2026-03-10"):
        active.correct("first_contact_on", "2026-03-11", "lead", DAY, REASON, held=HELD)
    [moved] = active.correct("first_contact_on", "2026-03-10", "lead", DAY, REASON, held=HELD)
    assert moved.payload["value"] == "2026-03-10"
    discharged = given("discharged")
    with pytest.raises(domain.DischargeCannotPrecedeASessionHeld):
        discharged.correct("discharged_on", "2026-03-23", "lead", DAY, REASON, held=HELD)


MEASURED = domain.MeasuresTaken(first=date(2026, 3, 8))


def test_correcting_the_first_contact_past_a_measure_taken_is_refused():
    active = given("active")
    with pytest.raises(domain.FirstContactCannotFollowAMeasureTaken, match="2026-03-08") as refusal:
        active.correct("first_contact_on", "2026-03-09", "lead", DAY, REASON, measured=MEASURED)
    assert isinstance(refusal.value, domain.ReferralTimelineRunsForward)
    assert "2026-03-09" in refusal.value.message
    # the measure bounds it before the sessions held do, and on its day it is within both
    with pytest.raises(domain.FirstContactCannotFollowAMeasureTaken):
        active.correct(
            "first_contact_on", "2026-03-09", "lead", DAY, REASON, held=HELD, measured=MEASURED
        )
    [moved] = active.correct(
        "first_contact_on", "2026-03-08", "lead", DAY, REASON, held=HELD, measured=MEASURED
    )
    assert moved.payload["value"] == "2026-03-08"
