"""A follower reading by position must never pass over an event that commits late."""

import time
import uuid

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.db import Database
from shared.eventstore import PostgresEventStore, _Append
from tests.contract import CONTEXT, happened, registry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def module_database(stack_state):
    admin = stack_state["admin_dsn"]
    name = f"it_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    dsn = admin.rsplit("/", 1)[0] + f"/{name}"
    db = Database(dsn, maxconn=20)
    yield db
    db.close()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
    conn.close()


def insert_uncommitted(store: PostgresEventStore, cur, n: int) -> int:
    """What an append writes, on `cur`, left uncommitted: the position it took."""
    event = happened(n)
    request = _Append(
        "thing", str(uuid.uuid4()), 0, [event], [registry.validate(event)], CONTEXT, None
    )
    (position, _), *_ = store._insert(cur, [request]).values()
    return position


def fresh_store(db: Database) -> PostgresEventStore:
    schema = f"s_{uuid.uuid4().hex[:10]}"
    with db.transaction() as cur:
        cur.execute(PostgresEventStore.ddl(schema))
    return PostgresEventStore(db, schema, registry)


class OpenAppend:
    """An append whose transaction is held open: it has its position but has not committed."""

    def __init__(self, store: PostgresEventStore, n: int):
        self.conn = psycopg2.connect(store.db.dsn)
        self.cur = self.conn.cursor()
        self.position = insert_uncommitted(store, self.cur, n)

    def commit(self):
        self.conn.commit()
        self.conn.close()

    def rollback(self):
        self.conn.rollback()
        self.conn.close()


def follow(store, after):
    page = store.read_after(after, 1000)
    return [e.position for e in page.events], page.next_after


def follow_until(store, after, count, seconds=10.0):
    """Follow until `count` events have been read or time is up. Once the writers have ended a
    hole is passed as soon as no transaction that was running when it was seen is still
    running anywhere in the cluster, which other clients of the same server can delay."""
    read: list[int] = []
    deadline = time.monotonic() + seconds
    while True:
        positions, after = follow(store, after)
        read.extend(positions)
        if len(read) >= count or time.monotonic() > deadline:
            return read, after
        time.sleep(0.02)


def test_a_later_commit_is_not_read_past_an_earlier_open_transaction(module_database):
    store = fresh_store(module_database)
    slow = OpenAppend(store, 1)
    [fast] = store.append("thing", str(uuid.uuid4()), 0, [happened(2)], CONTEXT)
    assert fast.position > slow.position

    positions, after = follow(store, 0)
    assert positions == []  # position 2 is committed, but 1 may still come
    assert after == 0

    slow.commit()
    positions, after = follow_until(store, after, 2)
    assert positions == [slow.position, fast.position]


def test_a_rolled_back_position_is_passed_once_its_transaction_has_ended(module_database):
    store = fresh_store(module_database)
    doomed = OpenAppend(store, 1)
    [later] = store.append("thing", str(uuid.uuid4()), 0, [happened(2)], CONTEXT)
    assert follow(store, 0) == ([], 0)
    doomed.rollback()
    positions, after = follow_until(store, 0, 1)
    assert positions == [later.position]
    assert after == later.position


def test_events_committed_before_a_hole_are_still_read(module_database):
    store = fresh_store(module_database)
    [first] = store.append("thing", str(uuid.uuid4()), 0, [happened(1)], CONTEXT)
    slow = OpenAppend(store, 2)
    store.append("thing", str(uuid.uuid4()), 0, [happened(3)], CONTEXT)
    positions, after = follow(store, 0)
    assert positions == [first.position]
    slow.commit()
    positions, _ = follow_until(store, after, 2)
    assert positions == [slow.position, slow.position + 1]


# Each step: ("open", k) starts append k in its own transaction, ("commit", k) or
# ("rollback", k) ends it, ("append",) commits one at once, ("read",) lets the follower read.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("open"), st.integers(0, 3)),
        st.tuples(st.sampled_from(["commit", "rollback"]), st.integers(0, 3)),
        st.tuples(st.just("append")),
        st.tuples(st.just("read")),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
def test_a_follower_never_skips_under_any_interleaving(module_database, script):
    store = fresh_store(module_database)
    open_appends: dict[int, OpenAppend] = {}
    committed: set[int] = set()
    read: list[int] = []
    after = 0
    try:
        for step in script:
            if step[0] == "open" and step[1] not in open_appends:
                open_appends[step[1]] = OpenAppend(store, step[1])
            elif step[0] in ("commit", "rollback") and step[1] in open_appends:
                pending = open_appends.pop(step[1])
                if step[0] == "commit":
                    pending.commit()
                    committed.add(pending.position)
                else:
                    pending.rollback()
            elif step[0] == "append":
                [event] = store.append("thing", str(uuid.uuid4()), 0, [happened(0)], CONTEXT)
                committed.add(event.position)
            elif step[0] == "read":
                positions, after = follow(store, after)
                read.extend(positions)
                # nothing read may be overtaken later by a lower committed position
                assert all(p in committed for p in positions)
    finally:
        for pending in open_appends.values():
            pending.rollback()
    positions, after = follow_until(store, after, len(committed) - len(read))
    read.extend(positions)
    assert read == sorted(committed), "the follower skipped or reordered an event"


def test_a_hole_held_by_the_newest_transaction_is_not_passed(module_database):
    """The holder of the hole took its xid after the committed writer did, so the holder's xid
    lies above every completed xid: a snapshot's xmax alone would not show it running."""
    store = fresh_store(module_database)
    early = psycopg2.connect(store.db.dsn)
    early_cur = early.cursor()
    early_cur.execute("SELECT pg_current_xact_id()")  # the older xid, position still to come
    holder = OpenAppend(store, 1)  # the newer xid, but the lower position
    later = insert_uncommitted(store, early_cur, 2)
    early.commit()
    early.close()
    assert later > holder.position
    for _ in range(3):
        assert follow(store, 0) == ([], 0)
    holder.commit()
    positions, _ = follow_until(store, 0, 2)
    assert positions == [holder.position, later]
