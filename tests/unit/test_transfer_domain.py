"""Transfers between partners, without servers: what the person's consent allows an offer to
share and with whom, withdrawing an offer, what an erasure tells a partner, and the offer as
the receiving partner keeps it. Given these past events, when this command, then these new
events or this refusal."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from contracts.referrals.events import SharedRecord, registry
from services.referrals import domain
from services.referrals.domain import IncomingOffer, Referral, history_step, shared_record
from shared.events import SYSTEM, Context, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

DAY = date(2026, 4, 2)
CONSENT = {
    "to_share": True,
    "to_contact": True,
    "contact_methods": ["phone"],
    "contact_times": None,
    "recorded_on": "2026-03-02",
}
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
    "consent": CONSENT,
}
CODED = {"source": "gp", "urgency": "routine", "needs": [], "risk_level": "low"}


def given(*events: tuple[str, dict]) -> tuple[Referral, list]:
    """A referral folded from these events, stored first so their payloads are valid."""
    store = InMemoryEventStore(registry)
    stream = str(uuid.uuid4())
    store.append(
        "referral",
        stream,
        0,
        [NewEvent(t, p) for t, p in events],
        Context("leeds-mind", SYSTEM),
    )
    recorded = store.read_stream("referral", stream)
    return Referral.fold(stream, recorded), recorded


def offer(referral: Referral, to: str = "mesmac", shares=None) -> list:
    details = {"offer_id": str(uuid.uuid4()), **CODED, "is_carer_referral": False}
    events = referral.offer_to(to, "leeds-mind", "lead", DAY, details, shares)
    for event in events:
        registry.validate(event)
    return events


def with_consent(**consent) -> tuple[Referral, list]:
    return given(("ReferralReceived", {**RECEIVED, "consent": {**CONSENT, **consent}}))


def test_an_offer_shares_all_that_consent_allows_unless_told_less():
    referral, _ = with_consent()
    [offered] = offer(referral)
    assert offered.payload["shares"] == ["identifiers", "contact", "needs", "risk", "history"]
    narrower, _ = with_consent()
    [offered] = offer(narrower, shares=["history", "identifiers"])
    assert offered.payload["shares"] == ["identifiers", "history"]


def test_an_offer_to_a_partner_the_person_did_not_name_is_refused_naming_the_rule():
    # given consent to share with mesmac only
    referral, _ = with_consent(share_with=["mesmac"])
    # when offered to lslcs, then refused, and nothing is offered
    with pytest.raises(domain.OfferMustStayWithinConsent, match="with mesmac, not with lslcs"):
        offer(referral, to="lslcs")
    assert referral.offered_to is None
    assert offer(referral, to="mesmac")[0].payload["to_partner"] == "mesmac"


def test_sharing_more_than_the_person_consented_to_is_refused_naming_what():
    referral, _ = with_consent(shares=["identifiers", "needs"])
    with pytest.raises(domain.OfferMustStayWithinConsent, match="their risk, history"):
        offer(referral, shares=["identifiers", "risk", "history"])
    [offered] = offer(referral)
    assert offered.payload["shares"] == ["identifiers", "needs"]


def test_an_offer_always_carries_who_the_person_is():
    referral, _ = with_consent()
    with pytest.raises(domain.TransferCarriesWhoThePersonIs):
        offer(referral, shares=["needs"])
    without_identifiers, _ = with_consent(shares=["needs"])
    with pytest.raises(domain.TransferCarriesWhoThePersonIs):
        offer(without_identifiers)


def test_refused_consent_shares_nothing():
    referral, _ = with_consent(to_share=False, share_with=[], shares=[])
    with pytest.raises(domain.TransferNeedsConsentToShare):
        offer(referral)


def test_an_open_offer_is_withdrawn_and_the_referral_may_be_offered_again():
    referral, _ = with_consent()
    with pytest.raises(domain.NoOfferToWithdraw):
        referral.withdraw_offer("lead", DAY, "offered_in_error")
    [offered] = offer(referral)
    [withdrawn] = referral.withdraw_offer("lead", DAY, "offered_in_error")
    registry.validate(withdrawn)
    assert withdrawn.payload["offer_id"] == offered.payload["offer_id"]
    assert withdrawn.payload["to_partner"] == "mesmac" and referral.offered_to is None
    # an acceptance of the withdrawn offer transfers nothing: it is refused
    [refused] = referral.settle_offer(offered.payload["offer_id"], True, "mesmac", DAY)
    assert refused.event_type == "OfferAcceptanceRefused" and referral.status == "received"
    assert offer(referral, to="lslcs")[0].payload["to_partner"] == "lslcs"


def test_erasing_the_person_withdraws_an_open_offer():
    referral, _ = with_consent()
    offer(referral)
    [withdrawn] = referral.person_erased("admin", DAY)
    assert withdrawn.event_type == "ReferralOfferWithdrawn"
    assert withdrawn.payload["reason"] == "person_erased"


def test_erasing_a_transferred_person_tells_the_partner_it_went_to():
    referral, _ = with_consent()
    [offered] = offer(referral)
    referral.settle_offer(offered.payload["offer_id"], True, "mesmac", DAY)
    [notice] = referral.person_erased("admin", DAY)
    registry.validate(notice)
    assert notice.event_type == "TransferredPersonErased"
    assert notice.payload == {
        "to_partner": "mesmac",
        "offer_id": offered.payload["offer_id"],
        "erased_on": DAY.isoformat(),
    }
    assert referral.as_dict()["transferred_to"] == "mesmac"


def test_erasing_a_person_whose_referral_never_left_tells_no_one():
    referral, _ = with_consent()
    assert referral.person_erased("admin", DAY) == []


def _incoming() -> IncomingOffer:
    offer = IncomingOffer(str(uuid.uuid4()))
    details = {
        "offer_id": offer.id,
        "from_partner": "leeds-mind",
        "referral_id": str(uuid.uuid4()),
        "offered_on": DAY.isoformat(),
        **CODED,
        "is_carer_referral": False,
    }
    offer.receive(details, uuid.uuid4())
    return offer


def test_a_withdrawn_offer_can_no_longer_be_accepted():
    incoming = _incoming()
    [withdrawn] = incoming.withdrawn(DAY, "consent_withdrawn")
    registry.validate(withdrawn)
    assert incoming.status == "withdrawn"
    with pytest.raises(domain.OfferMustBeOpen):
        incoming.accept("lead", DAY, "r", str(uuid.uuid4()), "registered")


def test_an_accepted_offer_stays_accepted_when_the_partner_withdraws_it():
    incoming = _incoming()
    incoming.accept("lead", DAY, "r", str(uuid.uuid4()), "registered")
    with pytest.raises(domain.OfferMustBeOpen):
        incoming.withdrawn(DAY, "other")


def test_an_erasure_notice_is_recorded_once_for_an_accepted_offer_and_erases_nothing():
    incoming = _incoming()
    assert incoming.erasure_noticed(DAY) == []  # not accepted: nothing of theirs is here
    person = str(uuid.uuid4())
    incoming.accept("lead", DAY, "new-referral", person, "registered")
    [notice] = incoming.erasure_noticed(DAY)
    registry.validate(notice)
    assert notice.payload["person_id"] == person and notice.payload["new_referral_id"] == (
        "new-referral"
    )
    assert incoming.as_dict()["erasure_noticed_on"] == DAY.isoformat()
    assert incoming.erasure_noticed(DAY) == []


def test_the_shared_record_holds_only_the_parts_named_and_never_who_did_what():
    referral, events = given(
        ("ReferralReceived", RECEIVED),
        ("ReferralAccepted", {"accepted_by": "lead-7", "accepted_on": "2026-03-03"}),
        (
            "ReferralDeclined",
            {"declined_by": "lead-7", "declined_on": "2026-03-04", "reason": "outside_area"},
        ),
    )
    identifiers = {
        "full_name": "Jordan Ellis",
        "date_of_birth": "1961-03-17",
        "phone": "07700 900123",
        "nhs_number": "9434765919",
    }
    texts = {"needs_notes": "lonely since the move", "risk_notes": "none known"}
    record = shared_record(
        ["identifiers", "history"], identifiers, {"gender": "woman"}, referral, events, texts
    )
    SharedRecord().load(record)
    assert record["identifiers"] == {
        "full_name": "Jordan Ellis",
        "date_of_birth": "1961-03-17",
        "nhs_number": "9434765919",
    }
    assert "contact" not in record and "needs_notes" not in record and "risk_notes" not in record
    assert [step["event"] for step in record["history"]] == [
        "ReferralReceived",
        "ReferralAccepted",
        "ReferralDeclined",
    ]
    assert record["history"][2] == {
        "event": "ReferralDeclined",
        "on": "2026-03-04",
        "codes": {"reason": "outside_area"},
    }
    assert "lead-7" not in str(record)
    everything = shared_record(
        ["identifiers", "contact", "needs", "risk"], identifiers, {}, referral, events, texts
    )
    assert everything["contact"] == {"phone": "07700 900123"}
    assert everything["needs_notes"] == "lonely since the move"
    assert everything["contact_methods"] == ["phone"] and "history" not in everything


def test_a_history_step_keeps_codes_and_dates_only():
    _, [event] = given(("ReferralReceived", RECEIVED))
    step = history_step(event)
    assert step["on"] == "2026-03-02"
    assert set(step["codes"]) == {"source", "urgency", "risk_level", "needs"}


def test_an_offer_is_answered_on_or_after_the_day_it_was_made():
    offer = domain.IncomingOffer("offer-dated")
    offer.receive(
        {
            "offer_id": "offer-dated",
            "from_partner": "leeds-mind",
            "referral_id": "r-1",
            "offered_on": "2026-11-30",
            "source": "gp",
            "urgency": "routine",
            "needs": [],
            "risk_level": "low",
            "is_carer_referral": False,
        },
        None,
    )
    for answer in (
        lambda: offer.accept("lead", date(2026, 11, 19), "r-2", "p-1", "registered"),
        lambda: offer.decline("lead", date(2026, 11, 29), "no_capacity"),
    ):
        with pytest.raises(domain.ReferralTimelineRunsForward, match="before the partner offered"):
            answer()
    [accepted] = offer.accept("lead", date(2026, 11, 30), "r-2", "p-1", "registered")
    assert accepted.event_type == "OfferAccepted"


# -- a withdrawal crossing an acceptance (docs/decisions/0011) ---------------------------------


def test_an_acceptance_reaching_the_sender_after_the_withdrawal_is_refused_once():
    # given an offer to mesmac, withdrawn (the person withdrew consent)
    referral, _ = with_consent()
    [offered] = offer(referral)
    offer_id = offered.payload["offer_id"]
    referral.withdraw_consent("lead", DAY)
    # when mesmac's acceptance arrives, then it is refused and mesmac told; nothing transferred
    [refused] = referral.settle_offer(offer_id, True, "mesmac", DAY)
    registry.validate(refused)
    assert refused.event_type == "OfferAcceptanceRefused"
    assert refused.payload == {
        "to_partner": "mesmac",
        "offer_id": offer_id,
        "refused_on": DAY.isoformat(),
        "reason": "offer_withdrawn",
    }
    assert referral.status == "received" and referral.transferred_to is None
    # delivered again, it is refused once
    assert referral.settle_offer(offer_id, True, "mesmac", DAY) == []


def test_a_withdrawn_offer_is_refused_only_to_the_partner_it_was_made_to():
    referral, _ = with_consent()
    [offered] = offer(referral)
    referral.withdraw_offer("lead", DAY, "offered_in_error")
    with pytest.raises(domain.NoOfferToAnswer):
        referral.settle_offer(offered.payload["offer_id"], True, "lslcs", DAY)
    # a decline of the withdrawn offer needs no answer: nothing was made of it there
    with pytest.raises(domain.NoOfferToAnswer):
        referral.settle_offer(offered.payload["offer_id"], False, "mesmac", DAY)


def test_an_acceptance_reaching_the_sender_first_transfers_and_nothing_withdraws_it_after():
    referral, _ = with_consent()
    [offered] = offer(referral)
    [transferred] = referral.settle_offer(offered.payload["offer_id"], True, "mesmac", DAY)
    assert transferred.event_type == "ReferralTransferred"
    with pytest.raises(domain.NoOfferToWithdraw):
        referral.withdraw_offer("lead", DAY, "consent_withdrawn")
    # consent withdrawn now withdraws no offer: the transfer happened
    assert [e.event_type for e in referral.withdraw_consent("lead", DAY)] == ["ConsentWithdrawn"]


def _accepted_here(person: str = "registered") -> IncomingOffer:
    incoming = _incoming()
    incoming.accept("lead", DAY, "new-referral", str(uuid.uuid4()), person, ["phone"])
    return incoming


def test_an_offer_accepted_here_then_refused_there_shows_withdrawn_once():
    incoming = _accepted_here()
    [withdrawn] = incoming.withdrawn_after_acceptance(DAY, person_erased=True)
    registry.validate(withdrawn)
    assert withdrawn.event_type == "OfferWithdrawnAfterAcceptance"
    assert withdrawn.payload["new_referral_id"] == "new-referral"
    assert withdrawn.payload["person"] == "registered" and withdrawn.payload["person_erased"]
    assert incoming.as_dict()["status"] == "withdrawn"
    # told again (by the withdrawal and by the refusal): recorded once
    assert incoming.withdrawn_after_acceptance(DAY, person_erased=True) == []


def test_an_offer_not_accepted_here_is_not_withdrawn_after_acceptance():
    incoming = _incoming()
    assert incoming.withdrawn_after_acceptance(DAY, person_erased=False) == []
    incoming.withdrawn(DAY, "consent_withdrawn")  # the withdrawal came first: plain withdrawn
    assert incoming.withdrawn_after_acceptance(DAY, person_erased=False) == []


def _received_from(offer_id: str) -> Referral:
    transfer = {
        "from_partner": "leeds-mind",
        "offer_id": offer_id,
        "referral_id": str(uuid.uuid4()),
        "shares": ["identifiers"],
    }
    referral, _ = given(
        (
            "ReferralReceived",
            {**RECEIVED, "transferred_from": "leeds-mind", "transfer": transfer},
        )
    )
    return referral


def test_a_referral_received_from_a_withdrawn_offer_is_closed_once():
    offer_id = str(uuid.uuid4())
    referral = _received_from(offer_id)
    [closed] = referral.transfer_withdrawn(offer_id, DAY)
    registry.validate(closed)
    assert closed.event_type == "ReferralTransferWithdrawn"
    assert closed.payload == {
        "from_partner": "leeds-mind",
        "offer_id": offer_id,
        "withdrawn_on": DAY.isoformat(),
    }
    assert referral.status == "transfer_withdrawn"
    assert referral.transfer_withdrawn(offer_id, DAY) == []
    with pytest.raises(domain.ReferralMustBeAcceptedBeforeAllocation):
        referral.allocate("pw-1", "lead", DAY)


def test_only_the_offer_a_referral_came_from_closes_it():
    referral = _received_from(str(uuid.uuid4()))
    with pytest.raises(domain.NoOfferToAnswer):
        referral.transfer_withdrawn(str(uuid.uuid4()), DAY)
    made_here, _ = with_consent()
    with pytest.raises(domain.NoOfferToAnswer):
        made_here.transfer_withdrawn(str(uuid.uuid4()), DAY)


# -- linking an offer's person to someone registered here ---------------------------------------


def test_a_link_fills_what_the_record_here_lacks_and_names_what_differs_without_overwriting():
    held = {"full_name": "Quinn Abara", "date_of_birth": "1961-03-17", "phone": "07700 900111"}
    record = {
        "shares": ["identifiers", "contact"],
        "identifiers": {
            "full_name": "Quinn Abara",
            "date_of_birth": "1961-03-17",
            "nhs_number": "9434765919",
        },
        "contact": {"phone": "07700 900222", "email": "quinn@example.org", "address": None},
        "gender": "woman",
        "ethnicity": "black",
    }
    filled, codes, differing = domain.linked_record(held, {"ethnicity": "mixed"}, record)
    assert filled == {"nhs_number": "9434765919", "email": "quinn@example.org"}
    assert codes == {"gender": "woman"}
    assert differing == [
        {"field": "ethnicity", "here": "mixed", "shared": "black"},
        {"field": "phone", "here": "07700 900111", "shared": "07700 900222"},
    ]


def test_a_link_to_a_record_that_holds_it_all_changes_nothing():
    held = {"full_name": "Quinn Abara", "date_of_birth": "1961-03-17"}
    record = {"shares": ["identifiers"], "identifiers": dict(held), "gender": "not_known"}
    assert domain.linked_record(held, {"gender": "man"}, record) == ({}, {}, [])


def test_a_code_saying_nothing_is_known_here_is_filled_in_not_shown_as_a_difference():
    held = {"full_name": "Quinn Abara", "date_of_birth": "1961-03-17"}
    record = {"shares": ["identifiers"], "identifiers": dict(held), "gender": "woman"}
    coded = {"gender": "not_known", "ethnicity": "not_stated"}
    assert domain.linked_record(held, coded, record) == ({}, {"gender": "woman"}, [])


def test_what_a_link_filled_in_can_be_taken_out_again_as_an_event():
    person = domain.Person(str(uuid.uuid4()))
    [changed] = person.change_details({"date_of_birth": None, "postcode": None}, {}, DAY)
    registry.validate(changed)
    assert changed.payload["changed"] == ["date_of_birth", "postcode"]
    assert changed.payload["age_band"] is None and changed.payload["postcode_district"] is None
