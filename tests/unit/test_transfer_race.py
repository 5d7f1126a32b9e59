"""A withdrawal crossing an acceptance, on the in-memory store (docs/decisions/0011): whatever
order the partner's withdrawal, its refusal of the acceptance and their redeliveries arrive in,
the offering node refuses an acceptance that reached it after the withdrawal, and the accepting
node closes the referral it made, erases a person only that acceptance registered, and keeps
someone it linked, without what the link filled in."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from contracts.referrals.events import registry
from services.referrals.domain import IncomingOffer, Person, Referral
from services.referrals.transfers import TransferReactions
from shared.commands import Commands
from shared.events import SYSTEM, Actor, Context, NewEvent
from shared.eventstore import InMemoryEventStore

pytestmark = pytest.mark.unit

HERE, THERE = "mesmac", "leeds-mind"
DAY = date(2026, 3, 3)
CODED = {"source": "gp", "urgency": "routine", "needs": [], "risk_level": "low"}


class PeopleVault:
    """The vault's verbs these reactions use, remembering what they did."""

    def __init__(self):
        self.erased: list[str] = []
        self.updated: list[tuple[str, dict]] = []

    def erase(self, cur, subject, reason):
        self.erased.append(str(subject))

    def update(self, cur, subject, changes):
        self.updated.append((str(subject), dict(changes)))


def delivered(event_type: str, payload: dict, partner: str = THERE, stream_id=None):
    """An event of the partner's as the inbound consumer is handed it."""
    return SimpleNamespace(
        event_id=uuid.uuid4(),
        event_type=event_type,
        payload=payload,
        partner_id=partner,
        stream_id=stream_id or str(uuid.uuid4()),
        correlation_id=uuid.uuid4(),
        recorded_at=datetime.now(UTC),
        actor=Actor("lead", "team_lead"),
    )


class Receiving:
    """The accepting node: an offer from THERE accepted here, its referral and its person."""

    def __init__(self, person: str = "registered", other_referrals: tuple[str, ...] = ()):
        self.store = InMemoryEventStore(registry)
        self.vault = PeopleVault()
        self.offer_id, self.person_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.referral_id, self.their_referral = str(uuid.uuid4()), str(uuid.uuid4())
        self.reactions = TransferReactions(
            self.store,
            HERE,
            self.vault,
            referrals_of=lambda person_id: [self.referral_id, *other_referrals],
        )
        self.reactions(
            delivered(
                "ReferralOffered",
                {
                    "to_partner": HERE,
                    "offer_id": self.offer_id,
                    "offered_on": "2026-03-02",
                    **CODED,
                    "is_carer_referral": False,
                },
                stream_id=self.their_referral,
            )
        )
        commands, here = Commands(self.store), Context(HERE, Actor("lead", "team_lead"))
        registered = {
            "person_id": self.person_id,
            "age_band": "55_64",
            "gender": "woman",
            "ethnicity": "mixed",
            "postcode_district": None,
        }
        commands.apply(
            Person(self.person_id),
            lambda p: p.decide([NewEvent("PersonRegistered", registered)]),
            here,
        )
        received = {
            "person_id": self.person_id,
            "source": "partner_organisation",
            "source_group": "independent_or_voluntary",
            "received_on": DAY.isoformat(),
            "urgency": "routine",
            "transferred_from": THERE,
            "transfer": {
                "from_partner": THERE,
                "offer_id": self.offer_id,
                "referral_id": self.their_referral,
                "shares": ["identifiers"],
            },
        }
        commands.apply(Referral(self.referral_id), lambda r: r.receive(received), here)
        offer, _ = commands.load(IncomingOffer, self.offer_id)
        filled = ["phone"] if person == "linked" else None
        commands.apply(
            offer,
            lambda o: o.accept("lead", DAY, self.referral_id, self.person_id, person, filled),
            here,
        )

    def withdrawal(self):
        return delivered(
            "ReferralOfferWithdrawn",
            {
                "to_partner": HERE,
                "offer_id": self.offer_id,
                "withdrawn_on": DAY.isoformat(),
                "reason": "consent_withdrawn",
            },
            stream_id=self.their_referral,
        )

    def refusal(self):
        return delivered(
            "OfferAcceptanceRefused",
            {
                "to_partner": HERE,
                "offer_id": self.offer_id,
                "refused_on": DAY.isoformat(),
                "reason": "offer_withdrawn",
            },
            stream_id=self.their_referral,
        )

    def types(self, stream_type: str, stream_id: str) -> list[str]:
        return [e.event_type for e in self.store.read_stream(stream_type, stream_id)]


@pytest.mark.parametrize("first", ["withdrawal", "refusal"])
def test_whichever_notice_comes_first_the_referral_is_closed_and_the_person_erased_once(first):
    here = Receiving()
    notices = [here.withdrawal(), here.refusal()]
    if first == "refusal":
        notices.reverse()
    for notice in [*notices, *notices]:  # each delivered twice
        here.reactions(notice)
    assert here.types("offer", here.offer_id) == [
        "OfferReceived",
        "OfferAccepted",
        "OfferWithdrawnAfterAcceptance",
    ]
    [*_, withdrawn] = here.store.read_stream("offer", here.offer_id)
    assert withdrawn.payload["person_erased"] is True and withdrawn.actor == SYSTEM
    assert here.types("referral", here.referral_id) == [
        "ReferralReceived",
        "ReferralTransferWithdrawn",
    ]
    [*_, erased] = here.store.read_stream("person", here.person_id)
    assert erased.event_type == "PersonErased" and erased.payload["reason_code"] == (
        "transfer_withdrawn"
    )
    assert here.vault.erased == [here.person_id]
    offer, _ = Commands(here.store).load(IncomingOffer, here.offer_id)
    assert offer.as_dict()["status"] == "withdrawn"


def test_a_person_with_another_referral_here_is_kept():
    here = Receiving(other_referrals=(str(uuid.uuid4()),))
    here.reactions(here.withdrawal())
    assert here.types("referral", here.referral_id)[-1] == "ReferralTransferWithdrawn"
    assert here.types("person", here.person_id) == ["PersonRegistered"]
    assert here.vault.erased == []
    [*_, withdrawn] = here.store.read_stream("offer", here.offer_id)
    assert withdrawn.payload["person_erased"] is False


def test_someone_linked_is_kept_without_what_the_link_filled_in():
    here = Receiving(person="linked")
    here.reactions(here.refusal())
    here.reactions(here.withdrawal())
    assert here.vault.erased == []
    assert here.vault.updated == [(here.person_id, {"phone": None})]
    [registered, unfilled] = here.store.read_stream("person", here.person_id)
    assert unfilled.event_type == "PersonDetailsChanged"
    assert unfilled.payload["changed"] == ["phone"]


def test_a_refusal_from_another_partner_changes_nothing():
    here = Receiving()
    forged = here.refusal()
    forged.partner_id = "lslcs"
    here.reactions(forged)
    assert here.types("offer", here.offer_id)[-1] == "OfferAccepted"
    assert here.vault.erased == []


# -- the offering node -------------------------------------------------------------------------


def offering_node(withdrawn: bool):
    """THERE's view, as the offering node: a referral offered to HERE (withdrawn, or not)."""
    store = InMemoryEventStore(registry)
    referral_id, offer_id = str(uuid.uuid4()), str(uuid.uuid4())
    consent = {
        "to_share": True,
        "to_contact": True,
        "contact_methods": ["phone"],
        "recorded_on": "2026-03-02",
    }
    received = {
        "person_id": str(uuid.uuid4()),
        "source": "gp",
        "source_group": "primary_care",
        "received_on": "2026-03-02",
        "urgency": "routine",
        "consent": consent,
    }
    commands, there = Commands(store), Context(THERE, Actor("lead", "team_lead"))
    commands.apply(Referral(referral_id), lambda r: r.receive(received), there)
    referral, _ = commands.load(Referral, referral_id)
    share = {"offer_id": offer_id, **CODED, "is_carer_referral": False}
    commands.apply(referral, lambda r: r.offer_to(HERE, THERE, "lead", DAY, share), there)
    if withdrawn:
        commands.apply(referral, lambda r: r.withdraw_consent("lead", DAY), there)
    accepted = delivered(
        "OfferAccepted",
        {
            "offer_id": offer_id,
            "from_partner": THERE,
            "referral_id": referral_id,
            "new_referral_id": str(uuid.uuid4()),
            "accepted_on": DAY.isoformat(),
        },
        partner=HERE,
    )
    return store, referral_id, TransferReactions(store, THERE), accepted


def test_an_acceptance_after_the_withdrawal_is_refused_there_once_however_often_delivered():
    store, referral_id, reactions, accepted = offering_node(withdrawn=True)
    reactions(accepted)
    reactions(accepted)
    events = store.read_stream("referral", referral_id)
    assert [e.event_type for e in events][-3:] == [
        "ConsentWithdrawn",
        "ReferralOfferWithdrawn",
        "OfferAcceptanceRefused",
    ]
    assert events[-1].payload["to_partner"] == HERE and events[-1].causation_id == (
        accepted.event_id
    )
    referral, _ = Commands(store).load(Referral, referral_id)
    assert referral.status == "received" and referral.transferred_to is None


def test_an_acceptance_before_any_withdrawal_transfers_the_referral():
    store, referral_id, reactions, accepted = offering_node(withdrawn=False)
    reactions(accepted)
    referral, _ = Commands(store).load(Referral, referral_id)
    assert referral.status == "transferred" and referral.transferred_to == HERE
