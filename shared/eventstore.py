"""The event store: append to a stream with an expected version, read a stream, and follow the
whole store by position without ever skipping an event that commits late.

Two implementations pass one contract suite (tests/contract/): `InMemoryEventStore` for domain
tests and `PostgresEventStore`, whose events table is also the outbox the relay publishes.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2
import psycopg2.errorcodes
import psycopg2.extras

from shared import metrics
from shared.db import Database
from shared.events import (
    Actor,
    Context,
    EventRegistry,
    NewEvent,
    RecordedEvent,
    upcast_recorded,
)


class ConcurrencyError(Exception):
    """Another writer changed the stream since the version the caller saw (HTTP 409)."""

    def __init__(self, stream_id: str, expected_version: int, actual_version: int | None = None):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        seen = "" if actual_version is None else f", it is now at version {actual_version}"
        super().__init__(
            f"stream {stream_id} was expected at version {expected_version}{seen}: "
            "someone else changed it first; reload and try again"
        )


class DuplicateEventId(Exception):
    """An event_id already stored with a different stream or content."""


class StreamNotFound(Exception):
    pass


@dataclass(frozen=True)
class Page:
    events: list[RecordedEvent]
    # The position a follower should continue after: the last event returned, or further when
    # permanent holes (rolled-back appends) were passed over.
    next_after: int


ANY_VERSION = -1

log = logging.getLogger(__name__)


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
    ) -> list[RecordedEvent]:
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


def _idempotent(existing, stream_type, stream_id) -> list[RecordedEvent]:
    if any(e.stream_type != stream_type or e.stream_id != str(stream_id) for e in existing):
        raise DuplicateEventId("these event ids are already stored in another stream")
    return list(existing)


EVENTS_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE SEQUENCE IF NOT EXISTS {schema}.event_position;
CREATE TABLE IF NOT EXISTS {schema}.events (
    position        bigint PRIMARY KEY,
    -- the appending transaction's id, taken before its position: see read_after
    xid             xid8 NOT NULL,
    event_id        uuid NOT NULL UNIQUE,
    stream_type     text NOT NULL,
    stream_id       text NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    event_type      text NOT NULL,
    schema_version  integer NOT NULL,
    partner_id      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    correlation_id  uuid NOT NULL,
    causation_id    uuid,
    payload         jsonb NOT NULL,
    UNIQUE (stream_type, stream_id, version)
);
CREATE TABLE IF NOT EXISTS {schema}.relay_checkpoint (
    name        text PRIMARY KEY,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
"""

_COLUMNS = (
    "position, event_id, stream_type, stream_id, version, event_type, schema_version, "
    "partner_id, occurred_at, recorded_at, actor_id, actor_role, correlation_id, causation_id, "
    "payload"
)

# xid first (materialised CTE), position second (nextval in the projection): a transaction
# therefore always holds its xid before it holds a position, which read_after relies on.
# Prepared once per connection; a batch of any size travels as arrays.
_APPEND = """
PREPARE {name} (text, text, text, text, text, uuid, uuid, integer,
                uuid[], text[], integer[], timestamptz[], jsonb[]) AS
WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
INSERT INTO {schema}.events (
    position, xid, event_id, stream_type, stream_id, version, event_type, schema_version,
    partner_id, occurred_at, actor_id, actor_role, correlation_id, causation_id, payload)
SELECT nextval('{schema}.event_position'), tx.xid, v.event_id, $1, $2, $8 + v.ord::integer,
       v.event_type, v.schema_version, $3, v.occurred_at, $4, $5, $6, $7, v.payload
FROM tx CROSS JOIN unnest($9, $10, $11, $12, $13)
    WITH ORDINALITY AS v(event_id, event_type, schema_version, occurred_at, payload, ord)
WHERE $8 <= 0 OR EXISTS (
    SELECT 1 FROM {schema}.events e
    WHERE e.stream_type = $1 AND e.stream_id = $2 AND e.version = $8)
ORDER BY v.ord
RETURNING position, recorded_at
"""


def _recorded(stream_type, stream_id, base_version, events, validated, rows, context):
    return [
        RecordedEvent(
            event_id=event.event_id,
            stream_type=stream_type,
            stream_id=stream_id,
            version=base_version + offset + 1,
            position=row[0],
            event_type=event.event_type,
            schema_version=schema_version,
            partner_id=context.partner_id,
            occurred_at=event.occurred_at,
            recorded_at=row[1],
            actor=context.actor,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            payload=payload,
        )
        for offset, (event, (payload, schema_version), row) in enumerate(
            zip(events, validated, rows, strict=True)
        )
    ]


def _row_to_event(row) -> RecordedEvent:
    return RecordedEvent(
        position=row[0],
        event_id=row[1],
        stream_type=row[2],
        stream_id=row[3],
        version=row[4],
        event_type=row[5],
        schema_version=row[6],
        partner_id=row[7],
        occurred_at=row[8],
        recorded_at=row[9],
        actor=Actor(row[10], row[11]),
        correlation_id=row[12],
        causation_id=row[13],
        payload=row[14],
    )


class _Notifier:
    """Wakes the relay after appends: at most one NOTIFY per interval per process, sent from a
    thread of its own after the appends committed. A notifying commit is serialised by
    PostgreSQL, so appends never notify themselves; the last append of a burst is always
    followed by a notify."""

    def __init__(self, db: Database, channel: str, interval_seconds: float):
        self.db = db
        self.channel = channel
        self.interval_seconds = interval_seconds
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def poke(self) -> None:
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name=f"notify-{self.channel}", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                with self.db.transaction() as cur:
                    cur.execute("SELECT pg_notify(%s, '')", (self.channel,))
            except psycopg2.Error:
                if self.db.closed:
                    return
                log.warning(
                    "could not notify %s; the relay's poll will find the events", self.channel
                )
            time.sleep(self.interval_seconds)


class PostgresEventStore:
    """The events table of one service's schema.

    Followers read by position. Positions come from a sequence, so a transaction may take
    position 10, stay open, and commit after position 11 committed. `read_after` never hands
    out 11 before 10: a missing position stops the read until every transaction that could
    still hold it has ended (see `_next_xid`). Writers never wait on each other unless
    they write the same stream.
    """

    NOTIFY_INTERVAL_SECONDS = 0.02

    def __init__(
        self,
        db: Database,
        schema: str,
        registry: EventRegistry,
        service: str | None = None,
        projector: Callable | None = None,
    ):
        self.db = db
        self.schema = schema
        self.registry = registry
        self.service = service or schema
        # projector(cur, events): read models kept in the appending transaction itself
        self.projector = projector
        self.channel = f"peerlink_events_{schema}"
        self._statement = f"peerlink_append_{schema}"
        self._append_sql = _APPEND.replace("{schema}", schema).replace("{name}", self._statement)
        self._prepared: set[tuple[int, int]] = set()
        self._holes: dict[int, int] = {}  # first missing position -> its horizon xid
        self._notifier = _Notifier(db, self.channel, self.NOTIFY_INTERVAL_SECONDS)
        self._appended = metrics.EVENTS_APPENDED.labels(self.service)
        self._append_seconds = metrics.APPEND_SECONDS.labels(self.service)

    @staticmethod
    def ddl(schema: str) -> str:
        return EVENTS_DDL.format(schema=schema)

    # -- writing -------------------------------------------------------------------------

    def append(
        self,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Context,
        within: Callable | None = None,
    ) -> list[RecordedEvent]:
        """`within(cur)` writes what must commit with these events, or not at all (the people
        vault's rows with a person's registration, say)."""
        if not events:
            return []
        validated = [self.registry.validate(event) for event in events]
        started = time.perf_counter()
        stream_id = str(stream_id)
        with self.db.connection() as conn:
            try:
                with conn.cursor() as cur:
                    rows, base_version = self._insert(
                        cur, stream_type, stream_id, expected_version, events, validated, context
                    )
                    if not rows:
                        conn.rollback()
                        raise ConcurrencyError(
                            stream_id, expected_version, self._version(cur, stream_type, stream_id)
                        )
                    recorded = _recorded(
                        stream_type, stream_id, base_version, events, validated, rows, context
                    )
                    if within is not None:
                        within(cur)
                    if self.projector is not None:
                        self.projector(cur, recorded)
                conn.commit()
            except psycopg2.errors.UniqueViolation:
                conn.rollback()
                return self._after_conflict(conn, stream_type, stream_id, expected_version, events)
        elapsed = time.perf_counter() - started
        self._appended.inc(len(events))
        self._append_seconds.observe(elapsed)
        self._notifier.poke()
        return recorded

    def _insert(self, cur, stream_type, stream_id, expected_version, events, validated, context):
        if expected_version == ANY_VERSION:
            expected_version = self._version(cur, stream_type, stream_id)
        self._prepare(cur)
        cur.execute(
            f"EXECUTE {self._statement} (%s, %s, %s, %s, %s, %s, %s, %s,"
            " %s::uuid[], %s, %s, %s::timestamptz[], %s::jsonb[])",
            (
                stream_type,
                stream_id,
                context.partner_id,
                context.actor.user_id,
                context.actor.role,
                context.correlation_id,
                context.causation_id,
                expected_version,
                [str(event.event_id) for event in events],
                [event.event_type for event in events],
                [schema_version for _, schema_version in validated],
                [event.occurred_at for event in events],
                [json.dumps(payload) for payload, _ in validated],
            ),
        )
        return cur.fetchall(), expected_version

    def _prepare(self, cur) -> None:
        key = (cur.connection.info.backend_pid, id(cur.connection))
        if key in self._prepared:
            return
        cur.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (self._statement,))
        if cur.fetchone() is None:
            cur.execute(self._append_sql)
        self._prepared.add(key)

    def _after_conflict(self, conn, stream_type, stream_id, expected_version, events):
        """A unique violation is either a retry of an append that already happened
        (idempotent: return what is stored) or a concurrent writer (ConcurrencyError)."""
        ids = [event.event_id for event in events]
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {self.schema}.events WHERE event_id = ANY(%s::uuid[])"
                " ORDER BY position",
                ([str(i) for i in ids],),
            )
            stored = {event.event_id: event for event in map(_row_to_event, cur.fetchall())}
            actual = self._version(cur, stream_type, stream_id)
        conn.rollback()
        if len(stored) == len(ids):
            return _idempotent([stored[i] for i in ids], stream_type, stream_id)
        if stored:
            raise DuplicateEventId("some of these event ids are already stored")
        raise ConcurrencyError(stream_id, expected_version, actual)

    def _version(self, cur, stream_type: str, stream_id: str) -> int:
        cur.execute(
            f"SELECT coalesce(max(version), 0) FROM {self.schema}.events"
            " WHERE stream_type = %s AND stream_id = %s",
            (stream_type, stream_id),
        )
        return cur.fetchone()[0]

    # -- reading -------------------------------------------------------------------------

    def read_stream(self, stream_type: str, stream_id: str) -> list[RecordedEvent]:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {self.schema}.events"
                " WHERE stream_type = %s AND stream_id = %s ORDER BY version",
                (stream_type, str(stream_id)),
            )
            rows = cur.fetchall()
        return [upcast_recorded(self.registry, _row_to_event(row)) for row in rows]

    def read_after(self, position: int, limit: int = 500) -> Page:
        """Committed events after `position`, in position order, stopping before any position
        that an open transaction may still fill."""
        for _ in range(2):
            xmin, rows = self._snapshot_after(position, limit)
            events: list[RecordedEvent] = []
            expected, next_after = position + 1, position
            horizon, blocked, new_hole = None, False, False
            for row in rows:
                if row[0] != expected:
                    if expected not in self._holes:
                        # every hole of this snapshot shares one horizon taken after it
                        horizon = horizon or self._next_xid()
                        self._holes[expected] = horizon
                        new_hole = True
                    if xmin < self._holes[expected]:
                        blocked = True
                    elif not blocked:
                        del self._holes[expected]  # rolled back: it will never appear
                if not blocked:
                    events.append(upcast_recorded(self.registry, _row_to_event(row)))
                    next_after = row[0]
                expected = row[0] + 1
            # holes seen for the first time are looked at again with a fresh snapshot, so
            # rolled-back positions do not hold the reader up until its next call
            if not new_hole:
                break
        if len(self._holes) > 10_000:
            self._holes.clear()
        return Page(events, next_after)

    def _snapshot_after(self, position: int, limit: int) -> tuple[int, list]:
        with self.db.connection() as conn:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
            try:
                with conn.cursor() as cur:
                    # one snapshot for both statements (repeatable read)
                    cur.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())")
                    xmin = int(str(cur.fetchone()[0]))
                    cur.execute(
                        f"SELECT {_COLUMNS} FROM {self.schema}.events WHERE position > %s"
                        " ORDER BY position LIMIT %s",
                        (position, limit),
                    )
                    rows = cur.fetchall()
                conn.commit()
            finally:
                conn.set_session(isolation_level="READ COMMITTED", readonly=False)
        return xmin, rows

    def _next_xid(self) -> int:
        """An xid newer than every xid already handed out: the horizon of a hole.

        Whoever holds a missing position took its xid before its position, so before this
        reader saw the later, committed position, and so before this xid. Once a snapshot's
        xmin reaches it, no transaction that could fill the hole is still running. (A
        snapshot's own xmax is not enough: it is one past the newest *completed* xid, and a
        running transaction can hold an xid above it without showing in the snapshot.)
        """
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_current_xact_id()")
            return int(str(cur.fetchone()[0]))

    def head_position(self) -> int:
        with self.db.transaction() as cur:
            cur.execute(f"SELECT coalesce(max(position), 0) FROM {self.schema}.events")
            return cur.fetchone()[0]
