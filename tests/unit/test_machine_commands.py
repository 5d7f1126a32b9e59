"""Commands made by machines (consumers and timers) through the one command path, without
PostgreSQL or a broker: given a stream in the in-memory store, when an event is delivered (and
delivered again) or a timer ticks (and ticks again), then these events, each stored once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from contracts.referrals.events import registry as referral_events
from contracts.safeguarding.events import registry as safeguarding_events
from contracts.sessions.events import registry as session_events
from services.referrals.transfers import TransferReactions, offer_subject
from services.safeguarding.domain import Concern, ConcernDetails
from services.safeguarding.escalating import EscalationTimers
from services.safeguarding.settings import SafeguardingSettings
from services.safeguarding.signals import REPEATED_DID_NOT_ATTEND, RepeatedDidNotAttend
from services.sessions.discharge import BOOKED_FROM, OpenItemsClosing
from services.sessions.domain import Session
from shared.auth import Principal
from shared.events import SYSTEM, Actor, Context
from shared.eventstore import InMemoryEventStore
from shared.settings import load
from shared.workforce.roster import Roster, worker_events
from shared.workforce.workers import Worker

pytestmark = pytest.mark.unit

HERE, THERE = "leeds-mind", "lslcs"
SAM = Actor("sam", "peer_worker")


def delivered(event_type: str, payload: dict, partner: str = THERE, **envelope):
    """An event as a consumer is handed it."""
    return SimpleNamespace(
        event_id=uuid.uuid4(),
        event_type=event_type,
        payload=payload,
        partner_id=partner,
        stream_id=envelope.get("stream_id", str(uuid.uuid4())),
        correlation_id=uuid.uuid4(),
        recorded_at=envelope.get("recorded_at", datetime.now(UTC)),
        actor=envelope.get("actor", SAM),
    )


def stored(store, stream_type: str, stream_id) -> list:
    return store.read_stream(stream_type, str(stream_id))


# -- a partner's offer -----------------------------------------------------------------------


class OfferVault:
    def __init__(self):
        self.erased: list[uuid.UUID] = []

    def register(self, cur, subject, identifiers):
        pass

    def erase(self, cur, subject, reason):
        self.erased.append(subject)


def offered(offer_id: str):
    return delivered(
        "ReferralOffered",
        {
            "to_partner": HERE,
            "offer_id": offer_id,
            "offered_on": "2026-03-02",
            "source": "gp",
            "urgency": "routine",
            "needs": [],
            "risk_level": "none_known",
            "is_carer_referral": False,
        },
    )


def test_an_offer_delivered_again_is_received_once_caused_by_the_partners_event():
    store, offer_id = InMemoryEventStore(referral_events), str(uuid.uuid4())
    reactions, offer = TransferReactions(store, HERE, OfferVault()), offered(offer_id)
    reactions(offer)
    reactions(offer)
    [received] = stored(store, "offer", offer_id)
    assert received.event_type == "OfferReceived" and received.actor == SYSTEM
    assert received.causation_id == offer.event_id and received.partner_id == HERE


def test_an_offer_withdrawn_destroys_its_record_and_a_second_withdrawal_changes_nothing():
    store, offer_id, vault = InMemoryEventStore(referral_events), str(uuid.uuid4()), OfferVault()
    reactions = TransferReactions(store, HERE, vault)
    reactions(offered(offer_id))
    withdrawn = delivered(
        "ReferralOfferWithdrawn",
        {
            "to_partner": HERE,
            "offer_id": offer_id,
            "withdrawn_on": "2026-03-03",
            "reason": "needs_changed",
        },
    )
    reactions(withdrawn)
    reactions(withdrawn)
    assert [e.event_type for e in stored(store, "offer", offer_id)] == [
        "OfferReceived",
        "OfferWithdrawn",
    ]
    assert vault.erased == [offer_subject(offer_id)]


# -- a signal from the sessions service ------------------------------------------------------


def test_a_signal_delivered_again_suggests_one_concern_by_the_system():
    store, person = InMemoryEventStore(safeguarding_events), str(uuid.uuid4())
    signals = RepeatedDidNotAttend(store, HERE)
    attendance = delivered("AttendanceRecorded", {"status": "did_not_attend"}, HERE)
    signals.suggest(person, attendance)
    signals.suggest(person, attendance)
    [suggested] = store.read_after(0).events
    assert suggested.event_type == "ConcernSuggested" and suggested.actor == SYSTEM
    assert suggested.payload["signal"] == REPEATED_DID_NOT_ATTEND
    assert suggested.causation_id == attendance.event_id


# -- a discharge closing what is still booked ------------------------------------------------


class ReadModel:
    """The sessions read model as the discharge's queries see it."""

    def __init__(self, booked: list[str]):
        self.booked, self.rows = booked, []

    def execute(self, sql, params=None):
        self.rows = [(session_id,) for session_id in self.booked] if sql == BOOKED_FROM else []

    def fetchall(self):
        return self.rows


def booked(store, starts_at: datetime) -> str:
    session = Session(str(uuid.uuid4()))
    events = session.book(
        kind="one_to_one",
        planned_start_at=starts_at,
        planned_duration_minutes=50,
        mode="phone",
        location="remote",
        worker_ids=["sam"],
        by="sam",
        referral_id="referral-1",
        referral_status="active",
        person_id=str(uuid.uuid4()),
    )
    store.append("session", session.id, 0, events, Context(HERE, SAM))
    return session.id


def test_a_discharge_delivered_again_cancels_each_booked_session_once_by_its_worker():
    store = InMemoryEventStore(session_events)
    session_id = booked(store, datetime.now(UTC) + timedelta(days=2))
    discharge = delivered(
        "ReferralDischarged",
        {"close_open_items": True, "discharged_on": date.today().isoformat()},
        HERE,
        stream_id="referral-1",
    )
    closing = OpenItemsClosing(store, HERE)
    closing.apply(ReadModel([session_id]), discharge)
    closing.apply(ReadModel([session_id]), discharge)
    booking, cancelled = stored(store, "session", session_id)
    assert (cancelled.event_type, cancelled.actor) == ("SessionCancelled", SAM)
    assert cancelled.causation_id == discharge.event_id
    assert cancelled.payload["reason"] == "support_ended"


def test_a_session_cancelled_a_moment_before_the_discharge_is_left_as_it_is():
    store = InMemoryEventStore(session_events)
    session_id = booked(store, datetime.now(UTC) + timedelta(days=2))
    session = Session.fold(session_id, stored(store, "session", session_id))
    cancelling = session.cancel(cancelled_by="person", reason="person_unwell", by="sam")
    store.append("session", session_id, 1, cancelling, Context(HERE, SAM))
    discharge = delivered(
        "ReferralDischarged",
        {"close_open_items": True, "discharged_on": date.today().isoformat()},
        HERE,
        stream_id="referral-1",
    )
    OpenItemsClosing(store, HERE).apply(ReadModel([session_id]), discharge)
    assert [e.payload.get("cancelled_by") for e in stored(store, "session", session_id)] == [
        None,
        "person",
    ]


# -- a member of staff's first act -----------------------------------------------------------


def test_a_first_act_seen_twice_puts_the_worker_on_the_list_once():
    store = InMemoryEventStore(worker_events())
    roster, kit = Roster(store), Principal("kit", "peer_worker", HERE)
    roster._register_on_first_act(kit)
    roster._register_on_first_act(kit)
    [registered] = stored(store, "worker", "kit")
    assert registered.event_type == "WorkerRegistered" and registered.actor == SYSTEM


def test_a_worker_an_admin_registered_meanwhile_stays_as_the_admin_registered_them():
    store = InMemoryEventStore(worker_events())
    by_admin = Worker("kit").register("Kit Lee", ["peer_worker"], "rae", date.today())
    store.append("worker", "kit", 0, by_admin, Context(HERE, Actor("rae", "partner_admin")))
    Roster(store)._register_on_first_act(Principal("kit", "peer_worker", HERE))
    [registered] = stored(store, "worker", "kit")
    assert registered.actor.user_id == "rae"


# -- the deadline timer ----------------------------------------------------------------------


class Timers(EscalationTimers):
    def __init__(self, store):
        self.store, self.audit, self.name = store, None, "safeguarding"
        self.settings = SimpleNamespace(partner_id=HERE)
        self.config = load(SafeguardingSettings, {})


def raised_hours_ago(store, hours: int, partner: str = HERE) -> str:
    concern = Concern(str(uuid.uuid4()))
    details = ConcernDetails(
        age_group="adult",
        categories=("financial_material",),
        severity="immediate",
        immediate_risk=False,
        what_happened_text_id=uuid.uuid4(),
        actions_taken=("none",),
        consent_given=True,
        person_id=uuid.uuid4(),
    )
    raised = concern.raise_concern(details, "sam", datetime.now(UTC) - timedelta(hours=hours))
    store.append("concern", concern.id, 0, raised, Context(partner, SAM))
    return concern.id


def test_a_deadline_missed_is_recorded_by_the_system_once_however_often_the_timer_ticks():
    store = InMemoryEventStore(safeguarding_events)
    concern_id, now = raised_hours_ago(store, 3), datetime.now(UTC)
    timers = Timers(store)
    recorded = timers._record_escalations(concern_id, now)
    assert recorded > 0 and timers._record_escalations(concern_id, now) == 0
    history = stored(store, "concern", concern_id)
    assert len(history) == 1 + recorded
    assert all(event.actor == SYSTEM for event in history[1:])


def test_the_timer_records_nothing_on_another_partners_concern():
    store = InMemoryEventStore(safeguarding_events)
    concern_id = raised_hours_ago(store, 3, partner=THERE)
    assert Timers(store)._record_escalations(concern_id, datetime.now(UTC)) == 0
    assert len(stored(store, "concern", concern_id)) == 1
