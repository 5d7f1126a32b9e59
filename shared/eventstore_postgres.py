"""The PostgreSQL event store: one events table per service schema, which is also the outbox the
relay publishes; appends go through group commit (shared/group_commit.py)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence

import psycopg2
import psycopg2.errorcodes
import psycopg2.extras

from shared import metrics
from shared.db import Database, in_transaction, note_committed
from shared.events import Actor, Context, EventRegistry, NewEvent, RecordedEvent, upcast_recorded
from shared.eventstore_core import (
    ANY_VERSION,
    ConcurrencyError,
    DuplicateEventId,
    Page,
    _idempotent,
)
from shared.group_commit import (
    _ALONE,
    _PLAIN,
    _TOGETHER,
    _WRITE_ALONE,
    _Append,
    _Lane,
    _recorded,
)

log = logging.getLogger(__name__)


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
# Prepared once per connection. One statement writes any number of appends to any number of
# streams, each event travelling as one element of every array. `follows` is the version that
# must already be stored for an event to be written: the append's expected version, for each
# of its events (0 for a new stream: no check). OFFSET 0 keeps that check a probe of the
# stream/version index for each event: without it, a plan cached while the table was small
# may hash the whole table once per statement instead, and keep doing so as it grows.
_APPEND = """
PREPARE {name} (text[], text[], integer[], integer[], text[], text[], text[], uuid[], uuid[],
                uuid[], text[], integer[], timestamptz[], jsonb[]) AS
WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
INSERT INTO {schema}.events (
    position, xid, event_id, stream_type, stream_id, version, event_type, schema_version,
    partner_id, occurred_at, actor_id, actor_role, correlation_id, causation_id, payload)
SELECT nextval('{schema}.event_position'), tx.xid, v.event_id, v.stream_type, v.stream_id,
       v.version, v.event_type, v.schema_version, v.partner_id, v.occurred_at, v.actor_id,
       v.actor_role, v.correlation_id, v.causation_id, v.payload
FROM tx CROSS JOIN unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    WITH ORDINALITY AS v(stream_type, stream_id, version, follows, partner_id, actor_id,
                         actor_role, correlation_id, causation_id, event_id, event_type,
                         schema_version, occurred_at, payload, ord)
WHERE v.follows <= 0 OR EXISTS (
    SELECT 1 FROM {schema}.events e
    WHERE e.stream_type = v.stream_type AND e.stream_id = v.stream_id AND e.version = v.follows
    OFFSET 0)
ORDER BY v.ord
RETURNING event_id, position, recorded_at;

-- the same for one event, the commonest append, without the arrays
PREPARE {name}_one (text, text, integer, integer, text, text, text, uuid, uuid,
                    uuid, text, integer, timestamptz, jsonb) AS
WITH tx AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)
INSERT INTO {schema}.events (
    position, xid, event_id, stream_type, stream_id, version, event_type, schema_version,
    partner_id, occurred_at, actor_id, actor_role, correlation_id, causation_id, payload)
SELECT nextval('{schema}.event_position'), tx.xid, $10, $1, $2, $3, $11, $12, $5, $13, $6, $7,
       $8, $9, $14
FROM tx
WHERE $4 <= 0 OR EXISTS (
    SELECT 1 FROM {schema}.events e
    WHERE e.stream_type = $1 AND e.stream_id = $2 AND e.version = $4)
RETURNING event_id, position, recorded_at
"""


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
                with self.db.autocommit() as conn, conn.cursor() as cur:
                    cur.execute("SELECT pg_notify(%s, '')", (self.channel,))  # one round trip
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
    still hold it has ended (see `_next_xid`). No lock orders the writers: positions are
    taken concurrently, by any number of processes, and only writers of the same stream ever
    wait on each other in PostgreSQL.

    Within a process, appends made at the same moment with nothing to write beside their
    events share a transaction (group commit, see `_Lane`): `lanes` batches are written at
    once, and the appends that arrive while they are written form the next ones. One INSERT,
    one COMMIT and one flush of the WAL then serve a whole batch instead of every append
    paying for its own, which is what a burst of appends on a small machine spends most of its
    time on. Each append stays atomic, is checked against its own expected version, and is
    durable when `append` returns. An append whose transaction also writes read models (a
    projector) or rows of its own (`within`) is written in a transaction of its own: batched,
    those statements would run one after another on one connection instead of side by side
    on several (measured: 15 % fewer commands a second through the services' HTTP API).
    """

    NOTIFY_INTERVAL_SECONDS = 0.02

    def __init__(
        self,
        db: Database,
        schema: str,
        registry: EventRegistry,
        service: str | None = None,
        projector: Callable | None = None,
        lanes: int = 2,
    ):
        if lanes < 1:
            raise ValueError("an event store needs at least one lane to write in")
        self.db = db
        self.schema = schema
        self.registry = registry
        self.service = service or schema
        # projector(cur, events): read models kept in the appending transaction itself
        self.projector = projector
        self.channel = f"peerlink_events_{schema}"
        self._statement = f"peerlink_append_{schema}"
        self._append_sql = _APPEND.replace("{schema}", schema).replace("{name}", self._statement)
        self._execute_many = (
            f"EXECUTE {self._statement} (%s, %s, %s, %s, %s, %s, %s, %s::uuid[], %s::uuid[],"
            " %s::uuid[], %s, %s, %s::timestamptz[], %s::jsonb[])"
        )
        self._execute_one = f"EXECUTE {self._statement}_one ({', '.join(['%s'] * 14)})"
        self._prepared: set[tuple[int, int]] = set()
        self._lanes = [_Lane() for _ in range(lanes)]
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
        vault's rows with a person's registration, say).

        Appends that arrive while the store is writing wait for it and are then written
        together under one COMMIT, each still checked against its own expected version and
        failing on its own (see `_Lane` and `_write`). An append that finds a lane empty is
        written at once."""
        if not events:
            return []
        request = _Append(
            stream_type,
            str(stream_id),
            expected_version,
            events,
            [self.registry.validate(event) for event in events],
            context,
            within,
        )
        if within is not None or self.projector is not None:
            # statements of its own beside the events: in a shared transaction they would run
            # one after another, where separate connections run them side by side
            self._lead(None, request)
        else:
            lane = min(self._lanes, key=len)
            if lane.join(request):
                self._lead(lane, request)
        return self._outcome(request)

    def append_within(
        self,
        cur,
        stream_type: str,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        context: Context,
    ) -> list[RecordedEvent]:
        """Appends to a second stream inside another append's transaction (from its
        `within(cur)`), so the events of both streams commit together or not at all: a person
        registered with the referral that names them. A version conflict raises
        ConcurrencyError, which undoes the whole transaction."""
        if expected_version == ANY_VERSION:
            raise ValueError("an append within another names the version it expects")
        request = _Append(
            stream_type,
            str(stream_id),
            expected_version,
            events,
            [self.registry.validate(event) for event in events],
            context,
            None,
        )
        stored = self._insert(cur, [request])
        if len(stored) != len(events):
            raise ConcurrencyError(
                request.stream_id, expected_version, self._version(cur, stream_type, stream_id)
            )
        recorded = _recorded(request, stored)
        if self.projector is not None:
            self.projector(cur, recorded)
        return recorded

    def _lead(self, lane: _Lane | None, request: _Append) -> None:
        batch = [request] if lane is None else lane.batch()
        try:
            self._write(batch)
        except BaseException as error:
            for other in batch:
                other.fail(error)
            raise
        finally:
            if lane is not None:
                lane.done(batch, leader=request)
        if any(done.written for done in batch):
            self._notifier.poke()

    def _outcome(self, request: _Append) -> list[RecordedEvent]:
        if request.error is not None:
            raise request.error
        if request.written:
            # committed, perhaps by another request's group commit: the caller's request is
            # not one to run again from the start
            note_committed()
            self._appended.inc(len(request.events))
            self._append_seconds.observe(time.perf_counter() - request.started)
        assert request.recorded is not None  # written, so recorded: `_write` sets both
        return request.recorded

    def _write(self, batch: list[_Append]) -> None:
        """One transaction for the whole batch, committed once. A batch of several is first
        written at once, in one statement; should anything in it fail, it is written again
        append by append, each in a savepoint of its own, so that a conflict undoes that
        append only. An append with a `within` or a projector comes here alone.

        The connection runs in autocommit and the store says BEGIN and COMMIT itself: BEGIN
        travels with the first statement instead of on a round trip of its own, and an append
        alone with nothing to write beside its events is one statement, its own transaction."""
        with self.db.autocommit() as conn:
            with conn.cursor() as cur:
                self._write_batch(cur, batch)
            for request in batch:
                if request.written:
                    request.recorded = request.pending
                elif request.conflict:
                    try:
                        request.recorded = self._after_conflict(conn, request)
                    except Exception as error:  # noqa: BLE001 - the caller's to handle
                        request.error = error
        for request in batch:
            if request.retry_alone:
                request.retry_alone = False
                self._write([request])

    def _write_batch(self, cur, batch: list[_Append]) -> None:
        if len(batch) == 1 and batch[0].within is None and self.projector is None:
            self._write_one(cur, batch[0], _PLAIN, "")
            return
        if len(batch) > 1 and self._write_at_once(cur, batch):
            cur.execute("COMMIT")
            return
        mode = _TOGETHER if len(batch) > 1 else _ALONE
        opening = "BEGIN; "
        for request in batch:
            self._write_one(cur, request, mode, opening)
            opening = ""
        if in_transaction(cur.connection):
            cur.execute("COMMIT" if any(request.written for request in batch) else "ROLLBACK")

    def _write_at_once(self, cur, batch: list[_Append]) -> bool:
        """The common case: every append of the batch (none with a `within` or a projector:
        those are written alone) in one INSERT. False, with nothing written, when any part of
        it failed."""
        if any(request.expected_version == ANY_VERSION for request in batch):
            return False
        try:
            for request in batch:
                request.base_version = request.expected_version
            stored = self._insert(cur, batch, "BEGIN; ")
            if len(stored) != sum(len(request.events) for request in batch):
                cur.execute("ROLLBACK")  # a version check failed: find out whose, one by one
                return False
            for request in batch:
                request.pending = _recorded(request, stored)
        except Exception:  # noqa: BLE001 - written again one by one, where it is told apart
            if cur.connection.closed:
                raise  # the connection is gone, and the whole batch with it
            cur.execute("ROLLBACK")
            for request in batch:
                request.pending = None
            return False
        for request in batch:
            request.written = True
        return True

    def _write_one(self, cur, request: _Append, mode: str, opening: str) -> None:
        """`opening` goes before the first statement: BEGIN, when this append opens the
        transaction."""
        if mode == _TOGETHER:
            # on a statement of its own: should anything fail before the append's first
            # statement is sent, rolling back to the savepoint must not undo the append before
            cur.execute(opening + "SAVEPOINT peerlink_append")
            opening = ""
        try:
            request.base_version = request.expected_version
            if request.expected_version == ANY_VERSION:
                request.base_version = self._version(
                    cur, request.stream_type, request.stream_id, opening
                )
                opening = ""
            stored = self._insert(cur, [request], opening)
            if len(stored) != len(request.events):
                self._undo(cur, mode)
                request.error = ConcurrencyError(
                    request.stream_id,
                    request.base_version,
                    self._version(cur, request.stream_type, request.stream_id),
                )
                return
            recorded = _recorded(request, stored)
            if request.within is not None:
                request.within(cur)
            if self.projector is not None:
                self.projector(cur, recorded)
        except Exception as error:
            if cur.connection.closed:
                raise  # the connection is gone, and the whole batch with it
            self._undo(cur, mode)
            if isinstance(error, psycopg2.errors.UniqueViolation):
                request.conflict = True  # a retry, or another writer: told apart after commit
            elif mode == _TOGETHER and isinstance(error, _WRITE_ALONE):
                request.retry_alone = True  # a deadlock between batches: not the caller's
            else:
                request.error = error
            return
        request.pending, request.written = recorded, True

    @staticmethod
    def _undo(cur, mode: str) -> None:
        if mode == _TOGETHER:
            cur.execute("ROLLBACK TO SAVEPOINT peerlink_append")
        elif in_transaction(cur.connection):
            cur.execute("ROLLBACK")

    def _insert(self, cur, requests: list[_Append], opening: str = "") -> dict:
        """Writes the requests' events (each request's `base_version` known), `opening` sent
        before the statement; returns the position and recorded_at of each event written, by
        event id. Every event of an append is checked against the append's expected version,
        so an append whose check fails writes none of its events, even in autocommit."""
        self._prepare(cur)
        statement, parameters = self._executable(requests)
        cur.execute(opening + statement, parameters)
        return {row[0]: row[1:] for row in cur.fetchall()}

    def _executable(self, requests: list[_Append]) -> tuple[str, Sequence]:
        """The prepared statement that writes these requests' events, with its parameters:
        one event's values as they are, several as one array per column."""
        values = [
            (
                request.stream_type,
                request.stream_id,
                request.base_version + offset + 1,
                request.base_version,
                request.context.partner_id,
                request.context.actor.user_id,
                request.context.actor.role,
                request.context.correlation_id,
                request.context.causation_id,
                event.event_id,
                event.event_type,
                schema_version,
                event.occurred_at,
                json.dumps(payload),
            )
            for request in requests
            for offset, (event, (payload, schema_version)) in enumerate(
                zip(request.events, request.validated, strict=True)
            )
        ]
        if len(values) == 1:
            return self._execute_one, values[0]
        return self._execute_many, [list(column) for column in zip(*values, strict=True)]

    def _prepare(self, cur) -> None:
        key = (cur.connection.info.backend_pid, id(cur.connection))
        if key in self._prepared:
            return
        cur.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (self._statement,))
        if cur.fetchone() is None:
            cur.execute(self._append_sql)
        self._prepared.add(key)

    def _after_conflict(self, conn, request: _Append) -> list[RecordedEvent]:
        """A unique violation is either a retry of an append that already happened
        (idempotent: return what is stored) or a concurrent writer (ConcurrencyError)."""
        stream_type, stream_id = request.stream_type, request.stream_id
        ids = [event.event_id for event in request.events]
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
        raise ConcurrencyError(stream_id, request.base_version, actual)

    def _version(self, cur, stream_type: str, stream_id: str, opening: str = "") -> int:
        cur.execute(
            opening + f"SELECT coalesce(max(version), 0) FROM {self.schema}.events"
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
                conn.set_session(isolation_level="DEFAULT", readonly="DEFAULT")
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
