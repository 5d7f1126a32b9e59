"""The one command path, without HTTP or PostgreSQL: the in-memory store and a fake vault stand
in for them (given a stream, when a command runs, then these events or this refusal)."""

import uuid
from datetime import date
from types import SimpleNamespace

import pytest

from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.commands import Commands, respond, sealing
from shared.events import SYSTEM, Actor, Context, derived_id, with_id
from shared.eventstore import ConcurrencyError, InMemoryEventStore
from shared.vault import PersonErased, PersonNotFound
from shared.web import NotFound
from shared.workforce.roster import worker_events
from shared.workforce.workers import Worker

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)
ADMIN = Principal("rae", "partner_admin", "leeds-mind")


def request(if_match: str | None = None):
    headers = {"If-Match": if_match} if if_match else {}
    return SimpleNamespace(headers=headers, peerlink_request_id=str(uuid.uuid4()))


class FakeVault:
    def __init__(self, erased=(), unregistered=()):
        self.sealed: dict[uuid.UUID, tuple[str, str]] = {}
        self.erased = set(erased)
        self.unregistered = set(unregistered)

    def seal_text(self, cur, subject, words, text_id):
        if subject in self.erased:
            raise PersonErased(subject)
        if subject in self.unregistered:
            raise PersonNotFound(subject)
        self.sealed[text_id] = (subject, words)


class FakeAudit:
    def __init__(self):
        self.entries = []

    def record(self, principal, action, stream_type, stream_id, **kwargs):
        self.entries.append((principal.user_id, action, stream_type, stream_id, kwargs))


@pytest.fixture
def commands():
    store = InMemoryEventStore(worker_events())
    worker = Worker("sam")
    events = worker.register("Sam Carter", ["peer_worker"], "rae", DAY)
    store.append("worker", "sam", 0, events, Context("leeds-mind", SYSTEM))
    return Commands(store, FakeAudit())


def leaves(worker: Worker):
    return worker.leave("rae", DAY, "left_the_organisation")


def test_a_command_loads_decides_and_appends_and_answers_at_the_new_version(commands):
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    assert (worker.version, len(history)) == (1, 1)
    done = commands.run(request(), ADMIN, worker, history, {}, leaves)
    assert done.version == 2 and done.status == "left"
    stored = commands.store.read_stream("worker", "sam")
    assert [e.event_type for e in stored] == ["WorkerRegistered", "WorkerLeft"]
    assert stored[-1].actor.user_id == "rae"
    assert respond(done, {"status": done.status}).headers["ETag"] == '"2"'


def test_a_stream_that_is_not_there_is_not_found(commands):
    with pytest.raises(NotFound, match="no such worker"):
        commands.load(Worker, "kit", missing="no such worker")


def test_a_caller_who_may_not_see_it_is_refused_before_anything_is_decided(commands):
    def only_their_own(worker, history):
        raise Forbidden("not yours")

    with pytest.raises(Forbidden):
        commands.load(Worker, "sam", missing="no such worker", visible=only_their_own)


def test_a_client_that_saw_an_older_version_is_refused_and_nothing_is_stored(commands):
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    worker.version = 1
    with pytest.raises(ConcurrencyError):
        commands.run(request(), ADMIN, worker, history, {"expected_version": 7}, leaves)
    with pytest.raises(ConcurrencyError):
        commands.run(request('"3"'), ADMIN, worker, history, {}, leaves)
    assert len(commands.store.read_stream("worker", "sam")) == 1


def test_a_change_since_that_does_not_count_lets_the_command_through(commands):
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    done = commands.run(
        request('"0"'), ADMIN, worker, history, {}, leaves, stale=lambda history, seen: False
    )
    assert done.version == 2


def test_a_refused_decision_stores_nothing(commands):
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    commands.run(request(), ADMIN, worker, history, {}, leaves)
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    with pytest.raises(RuleBroken):
        commands.run(request(), ADMIN, worker, history, {}, leaves)
    assert len(commands.store.read_stream("worker", "sam")) == 2


def test_words_are_sealed_with_the_events_and_refused_for_an_erased_person(commands):
    vault, text_id = FakeVault(erased={"person-2"}), uuid.uuid4()
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    within = sealing(vault, "person-1", {text_id: "moved to Bradford"}, "this record")
    commands.run(request(), ADMIN, worker, history, {}, leaves, within=within)
    assert vault.sealed == {text_id: ("person-1", "moved to Bradford")}

    commands.store.append(
        "worker", "kit", 0, Worker("kit").register(None, ["peer_worker"], "rae", DAY), SYSTEM_AT
    )
    worker, history = commands.load(Worker, "kit", missing="no such worker")
    refused = sealing(vault, "person-2", {uuid.uuid4(): "words"}, "this record")
    with pytest.raises(RuleBroken) as broken:
        commands.run(request(), ADMIN, worker, history, {}, leaves, within=refused)
    assert broken.value.rule == "NothingIsWrittenAboutAnErasedPerson"
    assert len(commands.store.read_stream("worker", "kit")) == 1


def test_a_refusal_for_an_erased_person_says_what_the_worker_may_do_instead(commands):
    vault, texts = FakeVault(erased={"person-2"}), {uuid.uuid4(): "words"}
    for instead, said in (
        ({}, "nothing more is written about them"),
        ({"instead": "record it without words"}, "record it without words"),
    ):
        worker, history = commands.load(Worker, "sam", missing="no such worker")
        refused = sealing(vault, "person-2", texts, "this concern", **instead)
        with pytest.raises(RuleBroken) as broken:
            commands.run(request(), ADMIN, worker, history, {}, leaves, within=refused)
        assert broken.value.message == f"the person this concern is about was erased; {said}"
    assert len(commands.store.read_stream("worker", "sam")) == 1


def test_words_about_someone_not_registered_here_are_refused_and_nothing_is_stored(commands):
    vault = FakeVault(unregistered={"person-3"})
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    refused = sealing(vault, "person-3", {uuid.uuid4(): "words"}, "this referral")
    with pytest.raises(RuleBroken) as broken:
        commands.run(request(), ADMIN, worker, history, {}, leaves, within=refused)
    assert broken.value.rule == "WordsNeedARegisteredPerson"
    assert broken.value.message == "the person this referral is about is not registered here yet"
    assert vault.sealed == {} and len(commands.store.read_stream("worker", "sam")) == 1


def test_a_command_given_a_context_appends_under_it(commands):
    worker, history = commands.load(Worker, "sam", missing="no such worker")
    context = Context("leeds-mind", Actor("rae", "partner_admin"), uuid.uuid4())
    commands.run(request(), ADMIN, worker, history, {}, leaves, context=context)
    left = commands.store.read_stream("worker", "sam")[-1]
    assert left.correlation_id == context.correlation_id


# -- commands no client version is checked for: made by a consumer or a timer, or creating ------


def test_a_machines_command_decides_and_appends_at_the_version_loaded_under_its_context(commands):
    worker, _ = commands.load(Worker, "sam")
    recorded = commands.apply(worker, leaves, SYSTEM_AT)
    assert [e.event_type for e in recorded] == ["WorkerLeft"]
    assert worker.version == 2 and worker.status == "left"
    assert commands.store.read_stream("worker", "sam")[-1].actor == SYSTEM


def test_a_machines_command_is_refused_when_another_wrote_since_it_loaded(commands):
    worker, _ = commands.load(Worker, "sam")
    rival, _ = commands.load(Worker, "sam")
    commands.apply(rival, leaves, SYSTEM_AT)
    with pytest.raises(ConcurrencyError):
        commands.apply(worker, leaves, SYSTEM_AT)
    assert len(commands.store.read_stream("worker", "sam")) == 2


def test_a_command_delivered_again_with_its_derived_ids_stores_nothing_twice(commands):
    event_id, history = derived_id("offer-1", "left"), commands.store.read_stream("worker", "sam")
    for _ in range(2):
        # each delivery as it loaded the stream before the first was stored
        worker = Worker.fold("sam", history)
        commands.apply(worker, lambda w: with_id(leaves(w), event_id), SYSTEM_AT)
        assert worker.version == 2
    assert [e.event_id for e in commands.store.read_stream("worker", "sam")][1:] == [event_id]


def test_nothing_decided_is_nothing_appended(commands):
    worker, _ = commands.load(Worker, "sam")
    assert commands.apply(worker, lambda w: [], SYSTEM_AT) == []
    assert worker.version == 1 and len(commands.store.read_stream("worker", "sam")) == 1


def test_a_stream_not_there_loads_as_a_fresh_aggregate_for_a_consumer(commands):
    worker, history = commands.load(Worker, "kit")
    assert (worker.id, worker.version, worker.status, history) == ("kit", 0, None, [])


def test_a_new_stream_is_created_with_what_commits_beside_it(commands):
    vault, text_id = FakeVault(), uuid.uuid4()
    kit = Worker("kit")
    within = sealing(vault, "person-1", {text_id: "starts Monday"}, "this record")
    commands.apply(kit, registers, BY_RAE, within=within)
    assert kit.version == 1 and vault.sealed == {text_id: ("person-1", "starts Monday")}
    [registered] = commands.store.read_stream("worker", "kit")
    assert registered.actor.user_id == "rae"


def test_a_second_stream_is_appended_in_the_same_transaction_after_the_first(commands):
    kit, ash = Worker("kit"), Worker("ash")

    def also_ash(cur):
        commands.apply_within(cur, ash, registers, BY_RAE)

    commands.apply(kit, registers, BY_RAE, within=also_ash)
    assert (kit.version, ash.version) == (1, 1)
    [first] = commands.store.read_stream("worker", "kit")
    [second] = commands.store.read_stream("worker", "ash")
    assert second.position == first.position + 1


def test_a_refusal_after_a_second_stream_was_appended_stores_neither(commands):
    vault = FakeVault(erased={"person-2"})
    kit, ash = Worker("kit"), Worker("ash")
    refused = sealing(vault, "person-2", {uuid.uuid4(): "words"}, "this record")

    def also_ash_then_seal(cur):
        commands.apply_within(cur, ash, registers, BY_RAE)
        refused(cur)

    with pytest.raises(RuleBroken):
        commands.apply(kit, registers, BY_RAE, within=also_ash_then_seal)
    assert commands.store.read_stream("worker", "kit") == []
    assert commands.store.read_stream("worker", "ash") == []


def test_a_second_stream_written_since_it_was_loaded_undoes_the_whole_command(commands):
    sam, _ = commands.load(Worker, "sam")
    rival, _ = commands.load(Worker, "sam")
    commands.apply(rival, leaves, SYSTEM_AT)
    kit = Worker("kit")

    def also_sam(cur):
        commands.apply_within(cur, sam, leaves, BY_RAE)

    with pytest.raises(ConcurrencyError):
        commands.apply(kit, registers, BY_RAE, within=also_sam)
    assert commands.store.read_stream("worker", "kit") == []
    assert len(commands.store.read_stream("worker", "sam")) == 2


def test_nothing_decided_for_a_second_stream_appends_nothing_to_it(commands):
    kit, sam = Worker("kit"), Worker("sam")
    sam.version = 1
    commands.apply(
        kit,
        registers,
        BY_RAE,
        within=lambda cur: commands.apply_within(cur, sam, lambda w: [], BY_RAE),
    )
    assert len(commands.store.read_stream("worker", "sam")) == 1 and kit.version == 1


def test_a_read_of_a_persons_record_is_audited(commands):
    worker, _ = commands.load(Worker, "sam", missing="no such worker")
    commands.audit_read(request(), ADMIN, worker, "person-1", ["history"])
    [(who, action, stream_type, stream_id, details)] = commands.audit.entries
    assert (who, action, stream_type, stream_id) == ("rae", "read", "worker", "sam")
    assert details["person_id"] == "person-1" and details["fields"] == ["history"]


SYSTEM_AT = Context("leeds-mind", SYSTEM)
BY_RAE = Context("leeds-mind", Actor("rae", "partner_admin"))


def registers(worker: Worker):
    return worker.register(None, ["peer_worker"], "rae", DAY)
