"""The event store contract: every implementation passes these same tests."""

from __future__ import annotations

import threading
import uuid

import pytest
from marshmallow import Schema, fields

from shared.events import (
    Actor,
    Context,
    EventRegistry,
    InvalidPayload,
    NewEvent,
    RecordedEvent,
    UnknownEventType,
)
from shared.eventstore import ConcurrencyError, DuplicateEventId

registry = EventRegistry()


@registry.event("ThingHappened")
class ThingHappened(Schema):
    n = fields.Integer(required=True)


class ThingNamedV2(Schema):
    name = fields.String(required=True)
    language = fields.String(required=True)


registry.register("ThingNamed", ThingNamedV2, 2, {1: lambda p: {**p, "language": "en"}})

CONTEXT = Context(partner_id="leeds-mind", actor=Actor("worker-1", "peer_worker"))


def happened(n: int) -> NewEvent:
    return NewEvent("ThingHappened", {"n": n})


class EventStoreContract:
    """Subclasses provide a `store` fixture built on `registry`."""

    def test_appending_to_a_new_stream_numbers_versions_from_one(self, store):
        stream = str(uuid.uuid4())
        recorded = store.append("thing", stream, 0, [happened(1), happened(2)], CONTEXT)
        assert [e.version for e in recorded] == [1, 2]
        assert recorded[0].position < recorded[1].position
        assert [e.payload["n"] for e in store.read_stream("thing", stream)] == [1, 2]
        assert all(e.partner_id == "leeds-mind" for e in recorded)
        assert recorded[0].actor == Actor("worker-1", "peer_worker")

    def test_a_stale_expected_version_is_a_concurrency_error_and_stores_nothing(self, store):
        stream = str(uuid.uuid4())
        store.append("thing", stream, 0, [happened(1)], CONTEXT)
        with pytest.raises(ConcurrencyError) as error:
            store.append("thing", stream, 0, [happened(2)], CONTEXT)
        assert error.value.actual_version == 1
        assert len(store.read_stream("thing", stream)) == 1

    def test_an_expected_version_ahead_of_the_stream_is_refused(self, store):
        stream = str(uuid.uuid4())
        store.append("thing", stream, 0, [happened(1)], CONTEXT)
        with pytest.raises(ConcurrencyError):
            store.append("thing", stream, 5, [happened(2)], CONTEXT)
        assert len(store.read_stream("thing", stream)) == 1

    def test_a_refused_append_of_several_events_stores_none_of_them(self, store):
        stream = str(uuid.uuid4())
        store.append("thing", stream, 0, [happened(1), happened(2)], CONTEXT)
        head = store.head_position()
        for expected in (0, 1, 3):  # behind, inside and ahead of the stream
            with pytest.raises(ConcurrencyError):
                store.append("thing", stream, expected, [happened(n) for n in range(3)], CONTEXT)
        assert [e.version for e in store.read_stream("thing", stream)] == [1, 2]
        assert store.head_position() == head

    def test_a_batch_with_one_invalid_payload_stores_none_of_it(self, store):
        stream = str(uuid.uuid4())
        head = store.head_position()
        bad = NewEvent("ThingHappened", {"n": "not a number"})
        with pytest.raises(InvalidPayload) as error:
            store.append("thing", stream, 0, [happened(1), bad], CONTEXT)
        assert "payload.n" in str(error.value)
        assert store.read_stream("thing", stream) == []
        assert store.head_position() == head

    def test_unknown_fields_in_a_payload_are_refused(self, store):
        with pytest.raises(InvalidPayload) as error:
            store.append(
                "thing",
                str(uuid.uuid4()),
                0,
                [NewEvent("ThingHappened", {"n": 1, "x": 2})],
                CONTEXT,
            )
        assert "payload.x" in str(error.value)

    def test_an_unregistered_event_type_is_refused_by_name(self, store):
        with pytest.raises(UnknownEventType) as error:
            store.append("thing", str(uuid.uuid4()), 0, [NewEvent("Nope", {})], CONTEXT)
        assert "Nope" in str(error.value)

    def test_appending_the_same_event_ids_again_is_idempotent(self, store):
        stream = str(uuid.uuid4())
        events = [happened(1), happened(2)]
        first = store.append("thing", stream, 0, events, CONTEXT)
        head = store.head_position()
        again = store.append("thing", stream, 0, events, CONTEXT)
        assert [e.event_id for e in again] == [e.event_id for e in first]
        assert [e.position for e in again] == [e.position for e in first]
        assert store.head_position() == head
        assert len(store.read_stream("thing", stream)) == 2

    def test_an_event_id_reused_in_another_stream_is_refused(self, store):
        event = happened(1)
        store.append("thing", str(uuid.uuid4()), 0, [event], CONTEXT)
        with pytest.raises(DuplicateEventId):
            store.append("thing", str(uuid.uuid4()), 0, [event], CONTEXT)

    def test_reading_after_a_position_pages_through_everything_in_order(self, store):
        start = store.head_position()
        streams = [str(uuid.uuid4()) for _ in range(3)]
        for i in range(25):
            stream = streams[i % 3]
            version = i // 3
            store.append("thing", stream, version, [happened(i)], CONTEXT)
        seen, after = [], start
        while True:
            page = store.read_after(after, 10)
            if not page.events:
                break
            assert len(page.events) <= 10
            seen.extend(page.events)
            after = page.next_after
        positions = [e.position for e in seen]
        assert positions == sorted(positions)
        assert len(set(positions)) == 25
        assert [e.payload["n"] for e in seen] == list(range(25))

    def test_old_schema_versions_are_upcast_on_read(self, store):
        stream = str(uuid.uuid4())
        old = EventRegistry()

        class ThingNamedV1(Schema):
            name = fields.String(required=True)

        old.register("ThingNamed", ThingNamedV1, 1)
        writer = self.store_with_registry(store, old)
        writer.append("thing", stream, 0, [NewEvent("ThingNamed", {"name": "x"})], CONTEXT)
        [event] = store.read_stream("thing", stream)
        assert event.schema_version == 2
        assert event.payload == {"name": "x", "language": "en"}

    def test_concurrent_writers_of_one_stream_cannot_both_win(self, store):
        stream = str(uuid.uuid4())
        store.append("thing", stream, 0, [happened(0)], CONTEXT)
        outcomes = []
        barrier = threading.Barrier(4)

        def write(n):
            barrier.wait()
            try:
                store.append("thing", stream, 1, [happened(n)], CONTEXT)
                outcomes.append("won")
            except ConcurrencyError:
                outcomes.append("conflict")

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]
        assert [e.version for e in store.read_stream("thing", stream)] == [1, 2]

    def test_the_envelope_survives_a_round_trip(self, store):
        [event] = store.append("thing", str(uuid.uuid4()), 0, [happened(7)], CONTEXT)
        assert RecordedEvent.from_envelope(event.envelope()) == event

    def test_events_appended_within_another_append_commit_with_it_or_not_at_all(self, store):
        """A person registered with the referral naming them: two streams, one transaction."""
        first, second, taken = (str(uuid.uuid4()) for _ in range(3))
        store.append("thing", taken, 0, [happened(1)], CONTEXT)

        def also(stream, expected):
            return lambda cur: store.append_within(
                cur, "thing", stream, expected, [happened(2)], CONTEXT
            )

        store.append("thing", first, 0, [happened(1)], CONTEXT, within=also(second, 0))
        assert [e.version for e in store.read_stream("thing", second)] == [1]
        assert (
            store.read_stream("thing", second)[0].position
            > store.read_stream("thing", first)[0].position
        )

        lost = str(uuid.uuid4())
        with pytest.raises(ConcurrencyError):
            store.append("thing", lost, 0, [happened(1)], CONTEXT, within=also(taken, 0))
        assert store.read_stream("thing", lost) == []
        assert len(store.read_stream("thing", taken)) == 1

    def test_a_refusal_after_an_append_within_stores_neither_stream(self, store):
        first, second = str(uuid.uuid4()), str(uuid.uuid4())

        def also_then_refuse(cur):
            store.append_within(cur, "thing", second, 0, [happened(2)], CONTEXT)
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused"):
            store.append("thing", first, 0, [happened(1)], CONTEXT, within=also_then_refuse)
        assert store.read_stream("thing", first) == []
        assert store.read_stream("thing", second) == []

    def test_appending_nothing_checks_nothing_and_writes_nothing_beside_it(self, store):
        stream, written = str(uuid.uuid4()), []
        store.append("thing", stream, 0, [happened(1)], CONTEXT)
        assert store.append("thing", stream, 5, [], CONTEXT, within=written.append) == []
        assert written == [] and len(store.read_stream("thing", stream)) == 1
