"""The in-memory event store: the reference implementation the domain tests run against, held
to the same contract suite as the PostgreSQL store (tests/contract.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from shared.events import Context, EventRegistry, NewEvent, RecordedEvent, upcast_recorded
from shared.eventstore_core import (
    ANY_VERSION,
    ConcurrencyError,
    DuplicateEventId,
    Page,
    _idempotent,
)


class InMemoryEventStore:
    """The reference implementation: every append is one atomic step under a lock."""

    def __init__(self, registry: EventRegistry, clock: Callable[[], datetime] | None = None):
        self.registry = registry
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._events: list[RecordedEvent] = []
        self._by_id: dict[uuid.UUID, RecordedEvent] = {}
        self._streams: dict[tuple[str, str], list[RecordedEvent]] = {}

    def append(
        self,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Context,
        within: Callable | None = None,
    ) -> list[RecordedEvent]:
        """`within(None)` runs first, under the lock: what it raises stores nothing (there is
        no transaction to write into here; a fake vault stands in for one)."""
        validated = [self.registry.validate(event) for event in events]
        with self._lock:
            existing = [self._by_id.get(event.event_id) for event in events]
            if events and all(existing):
                return _idempotent(existing, stream_type, stream_id)
            if any(existing):
                raise DuplicateEventId("some of these event ids are already stored")
            stream = self._streams.setdefault((stream_type, str(stream_id)), [])
            if expected_version != ANY_VERSION and len(stream) != expected_version:
                raise ConcurrencyError(str(stream_id), expected_version, len(stream))
            if within is not None:
                within(None)
            recorded_at = self._clock()
            recorded = []
            for offset, (event, (payload, schema_version)) in enumerate(
                zip(events, validated, strict=True)
            ):
                record = RecordedEvent(
                    event_id=event.event_id,
                    stream_type=stream_type,
                    stream_id=str(stream_id),
                    version=len(stream) + offset + 1,
                    position=len(self._events) + offset + 1,
                    event_type=event.event_type,
                    schema_version=schema_version,
                    partner_id=context.partner_id,
                    occurred_at=event.occurred_at,
                    recorded_at=recorded_at,
                    actor=context.actor,
                    correlation_id=context.correlation_id,
                    causation_id=context.causation_id,
                    payload=payload,
                )
                recorded.append(record)
            for record in recorded:
                self._events.append(record)
                self._by_id[record.event_id] = record
                stream.append(record)
            return recorded

    def read_stream(self, stream_type: str, stream_id: str) -> list[RecordedEvent]:
        with self._lock:
            stream = list(self._streams.get((stream_type, str(stream_id)), []))
        return [upcast_recorded(self.registry, event) for event in stream]

    def read_after(self, position: int, limit: int = 500) -> Page:
        with self._lock:
            events = self._events[position : position + limit]
        events = [upcast_recorded(self.registry, event) for event in events]
        return Page(events, events[-1].position if events else position)

    def head_position(self) -> int:
        with self._lock:
            return len(self._events)
