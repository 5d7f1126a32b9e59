"""Commands that create a stream, through the one command path without HTTP or PostgreSQL: given
what the node holds in the in-memory store and a fake vault, when a person is registered, a
referral received (registering its people with it) or a concern raised or suggested, then these
events, vault rows and answer, or this refusal with nothing stored."""

from __future__ import annotations

import contextlib
import inspect
import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from contracts.referrals.events import registry as referral_events
from contracts.safeguarding.events import registry as safeguarding_events
from services.referrals.api import ReceiveReferralBody
from services.referrals.api_people import RegisterPersonBody
from services.referrals.intake import IntakeApi
from services.referrals.people import PeopleApi
from services.referrals.settings import ReferralSettings
from services.safeguarding.api import RaiseConcernBody, SuggestConcernBody
from services.safeguarding.raising import RaisingApi
from services.safeguarding.settings import SafeguardingSettings
from shared.aggregate import RuleBroken
from shared.auth import Principal
from shared.eventstore import InMemoryEventStore
from shared.settings import load
from shared.vault import PersonErased
from shared.web import BadRequest

pytestmark = pytest.mark.unit

PARTNER = "leeds-mind"
LEAD = Principal("alex", "team_lead", PARTNER)
SAM = Principal("sam", "peer_worker", PARTNER)
JO = {"full_name": "Jo Bloggs", "date_of_birth": "1986-04-12", "gender": "woman"}
KIM = {"full_name": "Kim Bloggs", "date_of_birth": "1950-01-30"}


class Vault:
    """The people vault's rows, kept as they are written (a refused command's rows are not
    undone here: the store is what the tests look at)."""

    def __init__(self, refusing=False):
        self.registered: dict[str, dict] = {}
        self.sealed: dict[uuid.UUID, tuple[str, str]] = {}
        self.refusing = refusing

    def register(self, cur, person_id, identifiers):
        self.registered[str(person_id)] = identifiers

    def standing(self, cur, person_id):
        return "registered" if str(person_id) in self.registered else None

    def standings(self, cur, person_ids):
        found = {uuid.UUID(str(p)): self.standing(cur, p) for p in person_ids}
        return {person_id: standing for person_id, standing in found.items() if standing}

    def seal_text(self, cur, subject, words, text_id):
        if self.refusing:
            raise PersonErased(subject)
        self.sealed[text_id] = (str(subject), words)

    def find_by_name_and_dob(self, cur, full_name, date_of_birth):
        return []

    def find_by_nhs_number(self, cur, nhs_number):
        return []


class NoReadModel:
    @contextlib.contextmanager
    def transaction(self):
        yield None


def handlers(routes: type, registry, settings, vault: Vault):
    """The routes of `routes` over the in-memory store, each called as its handler, past the
    HTTP edge (which authenticates and validates the body)."""

    class Handlers(routes):
        def __getattribute__(self, name):
            found = super().__getattribute__(name)
            if getattr(found, "peerlink_route", None) is not None:
                return inspect.unwrap(found).__get__(self)
            return found

    node = Handlers.__new__(Handlers)
    node.store = InMemoryEventStore(registry)
    node.store.db = NoReadModel()
    node.vault, node.audit, node.config = vault, None, load(settings, {})
    return node


class Referrals(IntakeApi, PeopleApi):
    pass


def referrals(vault: Vault | None = None):
    return handlers(Referrals, referral_events, ReferralSettings, vault or Vault())


def safeguarding(vault: Vault):
    return handlers(RaisingApi, safeguarding_events, SafeguardingSettings, vault)


def request():
    return SimpleNamespace(headers={}, peerlink_request_id=str(uuid.uuid4()))


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def everything(node) -> list:
    return node.store.read_after(0).events


# -- a person registered ---------------------------------------------------------------------


def test_a_person_is_registered_with_their_identifiers_in_the_vault_and_not_in_the_event():
    node = referrals()
    answer = node.register_person(request(), LEAD, RegisterPersonBody().load(JO))
    [registered] = everything(node)
    assert (registered.event_type, registered.version) == ("PersonRegistered", 1)
    assert registered.stream_id == answer["person_id"] and answer["version"] == 1
    assert registered.actor.user_id == "alex" and "full_name" not in registered.payload
    assert node.vault.registered[answer["person_id"]]["full_name"] == "Jo Bloggs"


# -- a referral received, its people registered with it -------------------------------------


def receiving(**given) -> dict:
    return ReceiveReferralBody().load(
        {"source": "gp", "received_on": today(), "needs_notes": "Low since the winter", **given}
    )


def test_a_referral_registers_its_person_and_the_one_they_care_for_in_one_transaction():
    node = referrals()
    body = receiving(person=JO, cared_for_person=KIM, is_carer_referral=True)
    response = node.receive(request(), SAM, body)

    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    first, second, received = everything(node)
    assert [e.event_type for e in (first, second, received)] == [
        "PersonRegistered",
        "PersonRegistered",
        "ReferralReceived",
    ]
    assert [e.position for e in (first, second, received)] == [1, 2, 3]
    assert received.payload["person_id"] == first.stream_id
    assert received.payload["cared_for_person_id"] == second.stream_id
    assert set(node.vault.registered) == {first.stream_id, second.stream_id}
    needs = uuid.UUID(received.payload["needs_text_id"])
    assert node.vault.sealed == {needs: (first.stream_id, "Low since the winter")}
    assert json.loads(response.get_data())["referral_id"] == received.stream_id


def test_a_referral_whose_words_are_refused_registers_nobody_and_records_nothing():
    node = referrals(Vault(refusing=True))
    body = receiving(person=JO, cared_for_person=KIM, is_carer_referral=True)
    with pytest.raises(RuleBroken) as refused:
        node.receive(request(), SAM, body)
    assert refused.value.rule == "NothingIsWrittenAboutAnErasedPerson"
    assert everything(node) == []


def test_a_referral_of_someone_registered_here_is_received_on_its_own_stream():
    node = referrals()
    person_id = node.register_person(request(), LEAD, RegisterPersonBody().load(JO))["person_id"]
    response = node.receive(request(), SAM, receiving(person_id=person_id))
    assert response.status_code == 201
    received = everything(node)[-1]
    assert (received.event_type, received.version) == ("ReferralReceived", 1)
    assert received.payload["person_id"] == person_id


def test_an_if_match_sent_with_a_create_is_neither_refused_nor_taken_as_its_version():
    node = referrals()
    stale = SimpleNamespace(headers={"If-Match": '"7"'}, peerlink_request_id=str(uuid.uuid4()))
    response = node.receive(stale, SAM, receiving(person=JO))
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    assert [e.version for e in everything(node)] == [1, 1]


# -- a concern raised, or suggested by a signal ----------------------------------------------


CONCERN = {
    "age_group": "adult",
    "categories": ["financial_material"],
    "severity": "high",
    "immediate_risk": False,
    "what_happened": "Her son takes her pension each week",
    "actions_taken": ["none"],
    "consent_given": True,
}


def test_a_concern_about_someone_registered_is_raised_with_its_words_sealed_under_them():
    person, vault = str(uuid.uuid4()), Vault()
    vault.registered[person] = {}
    node = safeguarding(vault)
    response = node.raise_concern(
        request(), SAM, RaiseConcernBody().load({**CONCERN, "person_id": person})
    )
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    [raised] = everything(node)
    assert (raised.event_type, raised.actor.user_id) == ("ConcernRaised", "sam")
    text_id = uuid.UUID(raised.payload["what_happened_text_id"])
    assert vault.sealed == {text_id: (person, CONCERN["what_happened"])}


def test_a_concern_about_someone_not_registered_here_is_refused_and_nothing_is_recorded():
    node = safeguarding(Vault())
    body = RaiseConcernBody().load({**CONCERN, "person_id": str(uuid.uuid4())})
    with pytest.raises(BadRequest) as invalid:
        node.raise_concern(request(), SAM, body)
    assert invalid.value.field_name == "person_id"
    assert everything(node) == []


def test_a_signal_sent_again_suggests_one_concern():
    person, vault = str(uuid.uuid4()), Vault()
    vault.registered[person] = {}
    node = safeguarding(vault)
    body = SuggestConcernBody().load(
        {
            "person_id": person,
            "signal": "repeated_did_not_attend",
            "source_event_ids": [str(uuid.uuid4())],
        }
    )
    first = node.suggest(request(), LEAD, body)
    again = node.suggest(request(), LEAD, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.headers["ETag"] == again.headers["ETag"] == '"1"'
    assert [e.event_type for e in everything(node)] == ["ConcernSuggested"]
