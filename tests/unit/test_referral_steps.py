"""A referral's steps through the one command path, without HTTP or PostgreSQL: the in-memory
store and a fake vault stand in for them (given a person and their referral, when a step is
taken, then its events, its answer, or its refusal)."""

import json
import uuid
from datetime import date
from types import SimpleNamespace

import pytest

from contracts.referrals.events import registry
from services.referrals.access import ReferralAccess
from services.referrals.domain import Person, Referral, registration
from services.referrals.settings import ReferralSettings
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.events import Actor, Context
from shared.eventstore import ConcurrencyError, InMemoryEventStore
from shared.settings import load
from shared.web import NotFound

pytestmark = pytest.mark.unit

LEAD = Principal("alex", "team_lead", "leeds-mind")
BY_LEAD = Context("leeds-mind", Actor("alex", "team_lead"))
RECEIVED_ON = date(2026, 3, 2)


class FakeVault:
    def __init__(self):
        self.sealed: dict[uuid.UUID, tuple[str, str]] = {}

    def seal_text(self, cur, subject, words, text_id):
        self.sealed[text_id] = (subject, words)


class Referrals(ReferralAccess):
    """What the referrals service's steps use of it: its store, settings, vault and audit log."""

    def __init__(self):
        self.store = InMemoryEventStore(registry)
        self.config = load(ReferralSettings, {})
        self.vault = FakeVault()
        self.audit = None


def request(if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match else {}
    return SimpleNamespace(headers=headers, peerlink_request_id=str(uuid.uuid4()))


@pytest.fixture
def node():
    """A person registered by leeds-mind, and a referral of them received."""
    node = Referrals()
    person = Person(str(uuid.uuid4()))
    event, _ = registration(
        person.id,
        {
            "full_name": "Jo Bloggs",
            "date_of_birth": date(1986, 4, 12),
            "gender": "woman",
            "ethnicity": "white",
        },
        RECEIVED_ON,
    )
    node.store.append("person", person.id, 0, [event], BY_LEAD)
    referral = Referral(str(uuid.uuid4()))
    details = {
        "person_id": person.id,
        "source": "gp",
        "source_group": "primary_care",
        "received_on": RECEIVED_ON.isoformat(),
        "urgency": "routine",
        "needs": [],
        "risk_level": "none_known",
        "is_carer_referral": False,
    }
    node.store.append("referral", referral.id, 0, referral.receive(details), BY_LEAD)
    node.person_id, node.referral_id = person.id, referral.id
    return node


def accept(r, on):
    return r.accept("alex", on)


def test_a_step_is_appended_and_answered_with_the_referral_at_its_new_version(node):
    answer = node._step(request(), LEAD, node.referral_id, {}, accept)
    assert answer.status_code == 200 and answer.headers["ETag"] == '"2"'
    assert json.loads(answer.get_data())["status"] == "accepted"
    stored = node.store.read_stream("referral", node.referral_id)
    assert [e.event_type for e in stored] == ["ReferralReceived", "ReferralAccepted"]


def test_a_step_on_a_version_the_client_no_longer_sees_stores_nothing(node):
    with pytest.raises(ConcurrencyError):
        node._step(request('"3"'), LEAD, node.referral_id, {}, accept)
    assert len(node.store.read_stream("referral", node.referral_id)) == 1


def test_another_partners_referral_is_not_there_and_a_peer_worker_sees_only_their_own(node):
    with pytest.raises(NotFound):
        node._step(request(), Principal("kim", "team_lead", "lslcs"), node.referral_id, {}, accept)
    with pytest.raises(Forbidden):
        node._step(
            request(), Principal("sam", "peer_worker", "leeds-mind"), node.referral_id, {}, accept
        )


def test_words_a_step_names_are_sealed_under_the_persons_key(node):
    text_id = str(uuid.uuid4())
    node._step(
        request(),
        LEAD,
        node.referral_id,
        {},
        lambda r, on: r.correct("urgency", "soon", "alex", on, text_id),
        texts={text_id: "the GP rang back: it is soon"},
    )
    assert node.vault.sealed == {
        uuid.UUID(text_id): (node.person_id, "the GP rang back: it is soon")
    }


def test_an_erased_persons_referral_can_only_be_ended(node):
    person = Person.fold(node.person_id, node.store.read_stream("person", node.person_id))
    node.store.append(
        "person",
        person.id,
        person.version,
        person.erase("person_request"),
        BY_LEAD,
    )
    with pytest.raises(RuleBroken) as refused:
        node._step(request(), LEAD, node.referral_id, {}, accept)
    assert refused.value.rule == "NoSupportForAnErasedPerson"
    node._step(
        request(),
        LEAD,
        node.referral_id,
        {},
        lambda r, on: r.close_without_contact("alex", on, "person_declined"),
        ending=True,
    )
    stored = node.store.read_stream("referral", node.referral_id)
    assert stored[-1].event_type == "ReferralClosedWithoutContact"
