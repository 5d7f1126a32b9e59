"""The sessions service's command handlers without HTTP or PostgreSQL: given a session's or a
group's events in the in-memory store, when a worker acts through the one command path, then
these events and sealed words, or this refusal with nothing recorded."""

from __future__ import annotations

import contextlib
import inspect
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from contracts.sessions.events import registry
from services.sessions.domain import Group, Session
from services.sessions.groups import GroupsApi
from services.sessions.recording import SessionRecording
from services.sessions.settings import SessionSettings
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.events import Actor, Context
from shared.eventstore import ConcurrencyError, InMemoryEventStore
from shared.settings import load
from shared.vault import PersonErased
from shared.web import BadRequest, NotFound

pytestmark = pytest.mark.unit

PARTNER = "leeds-mind"
LEAD = Principal("lee", "team_lead", PARTNER)
SAM = Principal("sam", "peer_worker", PARTNER)
KIT = Principal("kit", "peer_worker", PARTNER)
PERSON = str(uuid.uuid4())
NOTES = {"themes": ["sleep"], "actions": [], "text": "Sleeping better since the walks"}


class EmptyReadModel:
    """A database whose read models hold nothing: what puts a person on a caseload comes from
    the session itself."""

    def __init__(self):
        self.statements: list[str] = []

    @contextlib.contextmanager
    def transaction(self):
        yield SimpleNamespace(
            execute=lambda sql, params=None: self.statements.append(sql),
            fetchall=list,
            fetchone=lambda: None,
        )


class Vault:
    def __init__(self, erased=()):
        self.sealed: dict[uuid.UUID, tuple[str, str]] = {}
        self.erased = {str(person) for person in erased}

    def standing(self, cur, person_id):
        return "erased" if str(person_id) in self.erased else "registered"

    def standings(self, cur, person_ids):
        found = {uuid.UUID(str(p)): self.standing(cur, p) for p in person_ids}
        return {person_id: standing for person_id, standing in found.items() if standing}

    def seal_text(self, cur, subject, words, text_id):
        if str(subject) in self.erased:
            raise PersonErased(subject)
        self.sealed[text_id] = (str(subject), words)


class Workforce:
    def require_named(self, cur, principal, field_name, worker_ids) -> None:
        pass


class Handlers(SessionRecording, GroupsApi):
    """The route mixins over the in-memory store; each route called as its handler, past the
    HTTP edge (which authenticates and validates the body)."""

    def __init__(self, store, vault):
        self.store, self.vault, self.audit, self.workforce = store, vault, None, Workforce()
        self.config = load(SessionSettings, {})

    def __getattribute__(self, name):
        found = super().__getattribute__(name)
        if getattr(found, "peerlink_route", None) is not None:
            return inspect.unwrap(found).__get__(self)
        return found


def request(if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match else {}
    return SimpleNamespace(headers=headers, peerlink_request_id=str(uuid.uuid4()))


def store() -> InMemoryEventStore:
    memory = InMemoryEventStore(registry)
    memory.db = EmptyReadModel()
    return memory


def held_one_to_one(memory: InMemoryEventStore) -> str:
    """A one-to-one sam ran an hour ago for PERSON, recorded as held."""
    session = Session(str(uuid.uuid4()))
    events = session.record(
        actual_start_at=datetime.now(UTC) - timedelta(hours=1),
        duration_minutes=50,
        by=SAM.user_id,
        now=datetime.now(UTC),
        kind="one_to_one",
        mode="phone",
        location="remote",
        worker_ids=[SAM.user_id],
        referral_id="referral-1",
        referral_status="active",
        person_id=PERSON,
    )
    memory.append("session", session.id, 0, events, Context(PARTNER, Actor("sam", "peer_worker")))
    return session.id


def answered(response) -> dict:
    return json.loads(response.get_data())


def test_notes_are_written_with_their_words_sealed_under_the_sessions_person():
    memory, vault = store(), Vault()
    session_id = held_one_to_one(memory)
    response = Handlers(memory, vault).write_notes(request('"1"'), SAM, session_id, NOTES)
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    [written] = memory.read_stream("session", session_id)[1:]
    text_id = uuid.UUID(written.payload["notes_text_id"])
    assert written.event_type == "SessionNotesWritten" and written.actor.user_id == "sam"
    assert vault.sealed == {text_id: (PERSON, NOTES["text"])}
    assert answered(response)["notes"]["themes"] == ["sleep"]


def test_words_about_an_erased_person_are_refused_and_nothing_is_recorded():
    memory = store()
    session_id = held_one_to_one(memory)
    with pytest.raises(BadRequest) as invalid:
        Handlers(memory, Vault(erased=[PERSON])).write_notes(request(), SAM, session_id, NOTES)
    assert invalid.value.field_name == "about_person_id"
    # erased while the notes were being written: the words are refused as they are sealed
    erased_meanwhile = Vault(erased=[PERSON])
    erased_meanwhile.standing = lambda cur, person_id: "registered"
    with pytest.raises(RuleBroken) as refused:
        Handlers(memory, erased_meanwhile).write_notes(request(), SAM, session_id, NOTES)
    assert refused.value.rule == "NothingIsWrittenAboutAnErasedPerson"
    assert len(memory.read_stream("session", session_id)) == 1 and not erased_meanwhile.sealed


def test_a_worker_who_did_not_run_the_session_is_refused_before_the_version_is_checked():
    memory = store()
    session_id = held_one_to_one(memory)
    with pytest.raises(Forbidden):
        Handlers(memory, Vault()).write_notes(request('"7"'), KIT, session_id, NOTES)
    assert len(memory.read_stream("session", session_id)) == 1


def test_a_stale_version_is_refused_and_a_missing_session_is_not_found():
    memory = store()
    session_id = held_one_to_one(memory)
    handlers = Handlers(memory, Vault())
    with pytest.raises(ConcurrencyError):
        handlers.write_notes(request('"7"'), LEAD, session_id, {**NOTES, "expected_version": 7})
    with pytest.raises(NotFound, match="no such session"):
        handlers.write_notes(request(), LEAD, str(uuid.uuid4()), NOTES)
    assert len(memory.read_stream("session", session_id)) == 1


def test_a_rule_broken_stores_nothing():
    memory = store()
    session_id = held_one_to_one(memory)
    handlers = Handlers(memory, Vault())
    with pytest.raises(RuleBroken) as broken:
        handlers.cancel(
            request(), SAM, session_id, {"cancelled_by": "person", "reason": "person_unwell"}
        )
    assert broken.value.rule == "OnlyBookedSessionsCanBeCancelled"
    assert len(memory.read_stream("session", session_id)) == 1


def test_a_person_joins_a_group_on_the_day_given_and_the_lead_gets_the_new_version():
    memory = store()
    group = Group(str(uuid.uuid4()))
    created = group.create(
        name="Tuesday walking group",
        kind="weekly_peer_group",
        capacity=1,
        facilitator_ids=["sam"],
        by="lee",
        on=date.today() - timedelta(days=7),
    )
    memory.append("group", group.id, 0, created, Context(PARTNER, Actor("lee", "team_lead")))
    handlers, on = Handlers(memory, Vault()), date.today() - timedelta(days=1)
    response = handlers.join_group(request(), LEAD, group.id, {"person_id": PERSON, "on": on})
    assert response.headers["ETag"] == '"2"' and answered(response)["members"] == [PERSON]
    joined = memory.read_stream("group", group.id)[-1]
    assert joined.event_type == "GroupMemberJoined"
    assert joined.payload["joined_on"] == on.isoformat()
    with pytest.raises(Exception, match="cannot be in the future"):
        handlers.join_group(
            request(), LEAD, group.id, {"person_id": str(uuid.uuid4()), "on": date.max}
        )
    assert len(memory.read_stream("group", group.id)) == 2
