"""Group commit: appends made at the same moment in one process share a transaction. `_Append` is
one call of `PostgresEventStore.append` on its way to being written, `_Lane` the queue whose
front leads a batch (docs/decisions/0002-group-commit.md)."""

from __future__ import annotations

import collections
import itertools
import threading
import time

import psycopg2
import psycopg2.errors

from shared.events import RecordedEvent

# how an append is written: as one statement in autocommit, alone in a transaction (with what
# is written beside it), or in a savepoint of a transaction shared with other appends
_PLAIN, _ALONE, _TOGETHER = "plain", "alone", "together"


# a deadlock or serialisation failure inside a batch may be the batch's doing, not the
# append's: that append is written again on its own
_WRITE_ALONE = (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)


class _Append:
    """One call of `PostgresEventStore.append` on its way to being written: alone, or in a lane
    with others."""

    __slots__ = (
        "stream_type",
        "stream_id",
        "expected_version",
        "base_version",
        "events",
        "validated",
        "context",
        "within",
        "started",
        "ready",
        "leads",
        "pending",
        "written",
        "conflict",
        "retry_alone",
        "recorded",
        "error",
    )

    def __init__(
        self, stream_type, stream_id, expected_version, events, validated, context, within
    ):
        self.stream_type = stream_type
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.base_version = expected_version  # the version written after, once known
        self.events = events
        self.validated = validated
        self.context = context
        self.within = within
        self.started = time.perf_counter()
        self.ready = threading.Event()
        self.leads = False
        self.pending: list[RecordedEvent] | None = None
        self.written = False
        self.conflict = False
        self.retry_alone = False
        self.recorded: list[RecordedEvent] | None = None
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        """The batch failed before this append had its outcome: what it wrote is gone."""
        if self.error is None and self.recorded is None:
            self.written, self.error = False, error


class _Lane:
    """Group commit. Appends queue in arrival order; the one at the front leads: it takes
    everyone queued behind it (up to MAX_BATCH), writes them in one transaction, hands each
    its outcome and passes the lead to the next in the queue. While a transaction commits,
    the appends that arrive meanwhile gather into the next batch, so the COMMIT (and its WAL
    flush) is shared by as many appends as were waiting, and an append that finds the lane
    empty is written at once."""

    MAX_BATCH = 32  # below PostgreSQL's 64 cached subtransaction ids per backend

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: collections.deque[_Append] = collections.deque()

    def __len__(self) -> int:
        return len(self._queue)  # a hint for choosing a lane: read without the lock

    def join(self, request: _Append) -> bool:
        """Queue `request`; True once it leads (at once if the lane was empty), False once
        its outcome is in."""
        with self._lock:
            self._queue.append(request)
            if len(self._queue) == 1:
                return True
        request.ready.wait()
        return request.leads

    def batch(self) -> list[_Append]:
        with self._lock:
            return list(itertools.islice(self._queue, self.MAX_BATCH))

    def done(self, batch: list[_Append], leader: _Append) -> None:
        with self._lock:
            for _ in batch:
                self._queue.popleft()
            following = self._queue[0] if self._queue else None
        for request in batch:
            if request is not leader:
                request.ready.set()
        if following is not None:
            following.leads = True
            following.ready.set()


def _recorded(request: _Append, stored: dict) -> list[RecordedEvent]:
    """The request's events as stored; `stored` maps event ids to (position, recorded_at)."""
    context = request.context
    return [
        RecordedEvent(
            event_id=event.event_id,
            stream_type=request.stream_type,
            stream_id=request.stream_id,
            version=request.base_version + offset + 1,
            position=stored[event.event_id][0],
            event_type=event.event_type,
            schema_version=schema_version,
            partner_id=context.partner_id,
            occurred_at=event.occurred_at,
            recorded_at=stored[event.event_id][1],
            actor=context.actor,
            correlation_id=context.correlation_id,
            causation_id=context.causation_id,
            payload=payload,
        )
        for offset, (event, (payload, schema_version)) in enumerate(
            zip(request.events, request.validated, strict=True)
        )
    ]
