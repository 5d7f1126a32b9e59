"""Given these past events, when this command, then these new events or this refusal."""

import uuid
from datetime import date

import pytest

from services.referrals import domain
from services.referrals.domain import Referral
from services.referrals.schemas import registry
from shared.aggregate import RuleBroken
from shared.events import SYSTEM, Context, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)
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
