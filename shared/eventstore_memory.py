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
        """`within(transaction)` runs first, under the lock: what it raises stores nothing
        (there is no database transaction here; a fake vault stands in for one), and what it
        appends to other streams (`append_within(transaction, ...)`) is stored after these
        events. Nothing to append is nothing done: no version checked, no `within` run (as in
        PostgresEventStore.append)."""
        if not events:
            return []
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
            transaction = _Transaction(len(self._events) + len(events), self._clock())
            if within is not None:
                within(transaction)
            recorded = [
                _record(
                    stream_type,
                    str(stream_id),
                    (len(stream) + offset + 1, len(self._events) + offset + 1),
                    event,
                    checked,
                    context,
                    transaction.recorded_at,
                )
                for offset, (event, checked) in enumerate(zip(events, validated, strict=True))
            ]
            for record in recorded + transaction.records:
                self._events.append(record)
                self._by_id[record.event_id] = record
                self._streams.setdefault((record.stream_type, record.stream_id), []).append(record)
            return recorded

    def append_within(
        self,
        transaction: _Transaction,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Context,
    ) -> list[RecordedEvent]:
        """Appends to a second stream from another append's `within(transaction)`, stored
        with it or not at all (PostgresEventStore.append_within). Runs under the lock the
        other append holds."""
        if expected_version == ANY_VERSION:
            raise ValueError("an append within another names the version it expects")
        validated = [self.registry.validate(event) for event in events]
        pending = [
            r
            for r in transaction.records
            if (r.stream_type, r.stream_id) == (stream_type, str(stream_id))
        ]
        version = len(self._streams.get((stream_type, str(stream_id)), [])) + len(pending)
        taken = {r.event_id for r in transaction.records}
        if version != expected_version or any(
            event.event_id in self._by_id or event.event_id in taken for event in events
        ):
            raise ConcurrencyError(str(stream_id), expected_version, version)
        recorded = [
            _record(
                stream_type,
                str(stream_id),
                (version + offset + 1, transaction.position + offset + 1),
                event,
                checked,
                context,
                transaction.recorded_at,
            )
            for offset, (event, checked) in enumerate(zip(events, validated, strict=True))
        ]
        transaction.records += recorded
        transaction.position += len(recorded)
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


class _Transaction:
    """What an append's `within` appends to other streams: stored after its events, at the
    positions that follow theirs."""

    def __init__(self, position: int, recorded_at: datetime):
        self.position = position  # of the last event the transaction writes so far
        self.recorded_at = recorded_at
        self.records: list[RecordedEvent] = []


def _record(
    stream_type: str,
    stream_id: str,
    at: tuple[int, int],
    event: NewEvent,
    checked: tuple[dict, int],
    context: Context,
    recorded_at: datetime,
) -> RecordedEvent:
    """The event as stored, `at` its (version, position)."""
    (version, position), (payload, schema_version) = at, checked
    return RecordedEvent(
        event_id=event.event_id,
        stream_type=stream_type,
        stream_id=stream_id,
        version=version,
        position=position,
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
