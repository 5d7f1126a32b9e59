"""The safeguarding service's command handlers without HTTP or PostgreSQL: given a concern's
events in the in-memory store, when a lead or a worker acts through the one command path, then
these events and sealed words, or this refusal with nothing recorded."""

from __future__ import annotations

import inspect
import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from contracts.safeguarding.events import registry
from services.safeguarding.domain import Concern, ConcernDetails
from services.safeguarding.domain.deadlines import Timescales, due_escalations
from services.safeguarding.handling import HandlingApi
from services.safeguarding.settings import SafeguardingSettings
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.events import SYSTEM, Actor, Context
from shared.eventstore import ConcurrencyError, InMemoryEventStore
from shared.settings import load
from shared.vault import PersonErased
from shared.web import NotFound

pytestmark = pytest.mark.unit

PARTNER = "leeds-mind"
LEAD = Principal("lee", "safeguarding_lead", PARTNER)
RAISER = Principal("sam", "peer_worker", PARTNER)
DECISION = {"decision": "police", "rationale": "He was threatened again at the weekend"}


class Vault:
    def __init__(self, erased=()):
        self.sealed: dict[uuid.UUID, tuple[str, str]] = {}
        self.erased = {str(person) for person in erased}

    def seal_text(self, cur, subject, words, text_id):
        if str(subject) in self.erased:
            raise PersonErased(subject)
        self.sealed[text_id] = (str(subject), words)


class Handlers(HandlingApi):
    def __init__(self, store, vault):
        self.store, self.vault, self.audit = store, vault, None
        self.config = load(SafeguardingSettings, {})


def request(if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match else {}
    return SimpleNamespace(headers=headers, peerlink_request_id=str(uuid.uuid4()))


def by(principal: Principal, partner: str = PARTNER) -> Context:
    return Context(partner, Actor(principal.user_id, principal.role))


def acknowledged(person: uuid.UUID, partner: str = PARTNER) -> tuple[InMemoryEventStore, str]:
    """An immediate concern raised three hours ago and acknowledged at once: its decision, due
    within the hour, is late."""
    store, concern = InMemoryEventStore(registry), Concern(str(uuid.uuid4()))
    raised_at = datetime.now(UTC) - timedelta(hours=3)
    details = ConcernDetails(
        age_group="adult",
        categories=("financial_material",),
        severity="immediate",
        immediate_risk=False,
        what_happened_text_id=uuid.uuid4(),
        actions_taken=("none",),
        consent_given=True,
        person_id=person,
    )
    raised = concern.raise_concern(details, RAISER.user_id, raised_at)
    store.append("concern", concern.id, 0, raised, by(RAISER, partner))
    acknowledging = concern.acknowledge(LEAD.user_id, raised_at + timedelta(minutes=5))
    store.append("concern", concern.id, 1, acknowledging, by(LEAD, partner))
    return store, concern.id


def decide(store, vault, concern_id, principal=LEAD, if_match=None, body=DECISION):
    handler = inspect.unwrap(HandlingApi.record_decision)
    return handler(Handlers(store, vault), request(if_match), principal, concern_id, body)


def types_of(store, concern_id) -> list[str]:
    return [event.event_type for event in store.read_stream("concern", concern_id)]


def timer_records_the_missed_decision(store, concern_id) -> None:
    concern = Concern.fold(concern_id, store.read_stream("concern", concern_id))
    missed = concern.record_escalations(due_escalations(concern, datetime.now(UTC), Timescales()))
    assert missed, "the decision deadline has passed"
    store.append("concern", concern_id, 2, missed, Context(PARTNER, SYSTEM))


def test_a_lead_decides_on_the_version_they_saw_though_the_timer_recorded_a_deadline_since():
    person, vault = uuid.uuid4(), Vault()
    store, concern_id = acknowledged(person)
    timer_records_the_missed_decision(store, concern_id)
    version = len(store.read_stream("concern", concern_id))

    response = decide(store, vault, concern_id, if_match='"2"')

    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{version + 1}"'
    assert json.loads(response.get_data())["decision"] == "police"
    decided = store.read_stream("concern", concern_id)[-1]
    assert (decided.event_type, decided.actor.user_id) == ("ConcernDecided", LEAD.user_id)
    rationale = uuid.UUID(decided.payload["rationale_text_id"])
    assert vault.sealed == {rationale: (str(person), DECISION["rationale"])}


def test_a_step_a_person_took_since_the_lead_looked_makes_their_page_stale():
    store, concern_id = acknowledged(uuid.uuid4())
    concern = Concern.fold(concern_id, store.read_stream("concern", concern_id))
    note = concern.add_note(uuid.uuid4(), RAISER.user_id, datetime.now(UTC))
    store.append("concern", concern_id, 2, note, by(RAISER))

    with pytest.raises(ConcurrencyError):
        decide(store, Vault(), concern_id, if_match='"2"')
    assert types_of(store, concern_id)[-1] == "ConcernNoteAdded"


def test_words_about_an_erased_person_are_refused_and_nothing_is_recorded():
    person = uuid.uuid4()
    store, concern_id = acknowledged(person)

    with pytest.raises(RuleBroken) as refused:
        decide(store, Vault(erased=[person]), concern_id)

    assert refused.value.rule == "NothingIsWrittenAboutAnErasedPerson"
    assert refused.value.message.endswith("record it without words")
    assert types_of(store, concern_id) == ["ConcernRaised", "ConcernAcknowledged"]


def test_a_concern_is_not_there_for_another_partner_nor_for_a_worker_who_did_not_raise_it():
    store, concern_id = acknowledged(uuid.uuid4(), partner="lslcs")
    with pytest.raises(NotFound):
        decide(store, Vault(), concern_id)

    store, concern_id = acknowledged(uuid.uuid4())
    colleague = Principal("kit", "peer_worker", PARTNER)
    handler = inspect.unwrap(HandlingApi.add_note)
    with pytest.raises(Forbidden):
        handler(Handlers(store, Vault()), request(), colleague, concern_id, {"text": "seen"})
    assert len(store.read_stream("concern", concern_id)) == 2
