"""Group commit in PostgresEventStore: appends that arrive while another is being written are
written together in one transaction, and each still succeeds or fails on its own.

Every test forms its batch the same way: a first append holds the store's only lane (its
write waits before it starts), the appends under test queue up behind it in a known order, and
once they are all queued the first is let go; the queued ones are then written as one batch."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import pytest

from shared.db import Database
from shared.eventstore import ConcurrencyError, DuplicateEventId, PostgresEventStore, _Append
from tests.contract import CONTEXT, happened, registry

pytestmark = pytest.mark.integration

SCHEMA = "things"


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database, maxconn=20)
    with db.transaction() as cur:
        cur.execute(PostgresEventStore.ddl(SCHEMA))
    yield db
    db.close()


@pytest.fixture
def store(database):
    return PostgresEventStore(database, SCHEMA, registry, lanes=1)


def new_stream() -> str:
    return str(uuid.uuid4())


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the appends never queued up"
        time.sleep(0.001)


def in_one_batch(store: PostgresEventStore, appends: list) -> list:
    """Runs each `append(store)` in a thread of its own, all queued behind a held first append
    so that they are written as one batch, in this order; returns each one's outcome (what it
    returned, or the exception it raised)."""
    lane = store._lanes[0]
    held, release = threading.Event(), threading.Event()
    outcomes: list = [None] * len(appends)
    write = store._write

    def write_after_the_first(batch):
        if not held.is_set():
            held.set()
            assert release.wait(10)
        return write(batch)

    store._write = write_after_the_first

    def run(index, append):
        try:
            outcomes[index] = append(store)
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes[index] = error

    first = threading.Thread(
        target=lambda: store.append("thing", new_stream(), 0, [happened(0)], CONTEXT)
    )
    first.start()
    assert held.wait(10)
    threads = []
    for index, append in enumerate(appends):
        thread = threading.Thread(target=run, args=(index, append))
        thread.start()
        threads.append(thread)
        wait_until(lambda n=index: len(lane) == n + 2)
    release.set()
    for thread in [first, *threads]:
        thread.join(20)
    return outcomes


def appending(stream_id, expected_version, events):
    return lambda store: store.append("thing", stream_id, expected_version, events, CONTEXT)


def stored(db: Database, sql: str, *args):
    with db.transaction() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def transactions_of(db: Database, streams: list[str]) -> int:
    (count,) = stored(
        db,
        f"SELECT count(DISTINCT xid::text) FROM {SCHEMA}.events WHERE stream_id = ANY(%s)",
        streams,
    )[0]
    return count


def test_appends_made_at_the_same_moment_share_one_transaction(store, database):
    streams = [new_stream() for _ in range(8)]
    outcomes = in_one_batch(store, [appending(s, 0, [happened(1), happened(2)]) for s in streams])
    for stream_id, recorded in zip(streams, outcomes, strict=True):
        assert [(e.stream_id, e.version) for e in recorded] == [(stream_id, 1), (stream_id, 2)]
        assert recorded == store.read_stream("thing", stream_id)
    assert transactions_of(database, streams) == 1
    positions = [e.position for recorded in outcomes for e in recorded]
    assert positions == sorted(positions) and len(set(positions)) == 16


def test_a_stale_append_in_a_batch_fails_alone_and_the_rest_commit(store, database):
    busy = new_stream()
    store.append("thing", busy, 0, [happened(0)], CONTEXT)
    fresh = [new_stream() for _ in range(4)]
    outcomes = in_one_batch(
        store,
        [
            appending(fresh[0], 0, [happened(1)]),
            appending(fresh[1], 0, [happened(1)]),
            appending(busy, 0, [happened(1), happened(2)]),  # the stream is at version 1
            appending(fresh[2], 0, [happened(1)]),
            appending(fresh[3], 2, [happened(1)]),  # ahead of a new stream
        ],
    )
    behind, ahead = outcomes.pop(2), outcomes.pop()
    assert isinstance(behind, ConcurrencyError)
    assert (behind.expected_version, behind.actual_version) == (0, 1)
    assert isinstance(ahead, ConcurrencyError)
    assert (ahead.expected_version, ahead.actual_version) == (2, 0)
    assert [len(recorded) for recorded in outcomes] == [1, 1, 1]
    assert [e.version for e in store.read_stream("thing", busy)] == [1]
    assert store.read_stream("thing", fresh[3]) == []
    assert transactions_of(database, fresh[:3]) == 1


def test_an_event_id_stored_in_another_stream_fails_its_append_only(store, database):
    taken = happened(1)
    store.append("thing", new_stream(), 0, [taken], CONTEXT)
    streams = [new_stream() for _ in range(3)]
    outcomes = in_one_batch(
        store,
        [
            appending(streams[0], 0, [happened(1)]),
            appending(streams[1], 0, [happened(2), taken]),
            appending(streams[2], 0, [happened(1)]),
        ],
    )
    assert isinstance(outcomes[1], DuplicateEventId)
    assert store.read_stream("thing", streams[1]) == []
    assert [len(outcomes[0]), len(outcomes[2])] == [1, 1]
    assert transactions_of(database, [streams[0], streams[2]]) == 1


def test_an_append_retried_in_a_batch_returns_what_is_stored(store):
    retried, other = new_stream(), new_stream()
    events = [happened(1), happened(2)]
    first = store.append("thing", retried, 0, events, CONTEXT)
    outcomes = in_one_batch(
        store, [appending(other, 0, [happened(1)]), appending(retried, 0, events)]
    )
    assert outcomes[1] == first
    assert len(store.read_stream("thing", retried)) == 2
    assert len(outcomes[0]) == 1


def test_two_appends_to_one_stream_in_a_batch_follow_each_other_or_conflict(store):
    following, contested = new_stream(), new_stream()
    outcomes = in_one_batch(
        store,
        [
            appending(following, 0, [happened(1)]),
            appending(following, 1, [happened(2)]),  # written after the first, in the batch
            appending(contested, 0, [happened(1)]),
            appending(contested, 0, [happened(2)]),
        ],
    )
    assert [e.version for e in outcomes[1]] == [2]
    assert [e.payload["n"] for e in store.read_stream("thing", following)] == [1, 2]
    assert [e.version for e in outcomes[2]] == [1]
    assert isinstance(outcomes[3], ConcurrencyError)
    assert [e.payload["n"] for e in store.read_stream("thing", contested)] == [1]


def test_a_batch_whose_connection_dies_stores_none_of_it_and_tells_every_caller(
    store, database, stack_state
):
    streams = [new_stream() for _ in range(3)]
    insert = store._insert

    def server_restarts_meanwhile(cur, requests, opening=""):
        if len(requests) > 1:  # the batch: its backend is gone before its first statement
            admin = psycopg2.connect(stack_state["admin_dsn"])
            admin.autocommit = True
            with admin.cursor() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (cur.connection.info.backend_pid,))
            admin.close()
            time.sleep(0.1)
        return insert(cur, requests, opening)

    store._insert = server_restarts_meanwhile
    outcomes = in_one_batch(store, [appending(s, 0, [happened(1)]) for s in streams])
    assert all(isinstance(outcome, psycopg2.OperationalError) for outcome in outcomes)
    assert all(store.read_stream("thing", s) == [] for s in streams)
    # the store goes on with a fresh connection
    assert len(store.append("thing", streams[0], 0, [happened(1)], CONTEXT)) == 1


def test_a_deadlock_inside_a_batch_is_retried_alone(store, database):
    streams = [new_stream() for _ in range(2)]
    insert, failures = store._insert, []

    def deadlocks_twice(cur, requests, opening=""):
        if any(r.stream_id == streams[1] for r in requests) and len(failures) < 2:
            failures.append(len(requests))  # at once, then in its savepoint
            raise psycopg2.errors.DeadlockDetected("deadlock detected")
        return insert(cur, requests, opening)

    store._insert = deadlocks_twice
    outcomes = in_one_batch(
        store, [appending(streams[0], 0, [happened(1)]), appending(streams[1], 0, [happened(1)])]
    )
    assert failures == [2, 1]
    assert [len(recorded) for recorded in outcomes] == [1, 1]
    assert [len(store.read_stream("thing", s)) for s in streams] == [1, 1]
    assert transactions_of(database, streams) == 2


def test_appends_with_statements_of_their_own_are_not_batched(database):
    written = []
    store = PostgresEventStore(
        database, SCHEMA, registry, projector=lambda cur, events: written.extend(events), lanes=1
    )
    streams = [new_stream() for _ in range(6)]
    barrier = threading.Barrier(len(streams))

    def write(stream_id):
        barrier.wait()
        store.append("thing", stream_id, 0, [happened(1)], CONTEXT)

    threads = [threading.Thread(target=write, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(e.stream_id for e in written) == sorted(streams)
    assert transactions_of(database, streams) == len(streams)
    assert len(store._lanes[0]) == 0


def test_appends_from_many_threads_are_each_stored_once_with_their_versions(database):
    store = PostgresEventStore(database, SCHEMA, registry)  # two lanes, as services run
    streams = [new_stream() for _ in range(12)]
    errors = []

    def write(stream_id):
        try:
            for version in range(20):
                store.append("thing", stream_id, version, [happened(version)], CONTEXT)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=write, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    for stream_id in streams:
        assert [e.payload["n"] for e in store.read_stream("thing", stream_id)] == list(range(20))
    (total,) = stored(database, f"SELECT count(*) FROM {SCHEMA}.events")[0]
    assert total == 12 * 20
    assert transactions_of(database, streams) < total, "no appends were ever written together"


def test_a_store_needs_a_lane(database):
    with pytest.raises(ValueError, match="lane"):
        PostgresEventStore(database, SCHEMA, registry, lanes=0)


def test_the_batch_statement_probes_the_index_even_when_planned_on_an_empty_table(store, database):
    """A plan PostgreSQL caches while the table is small is kept as the table grows: it must
    not check versions by hashing the whole table."""
    requests = []
    for n in range(3):
        event = happened(n)
        request = _Append(
            "thing", new_stream(), 2, [event], [registry.validate(event)], CONTEXT, None
        )
        requests.append(request)
    with database.connection() as conn, conn.cursor() as cur:
        store._prepare(cur)
        cur.execute("SET plan_cache_mode = force_generic_plan")
        statement, parameters = store._executable(requests)
        cur.execute(f"EXPLAIN {statement}", parameters)
        plan = "\n".join(row[0] for row in cur.fetchall())
        cur.execute("RESET plan_cache_mode")
    assert "Index Only Scan using events_stream_type_stream_id_version_key" in plan, plan
    assert "Seq Scan" not in plan and "hashed" not in plan, plan
