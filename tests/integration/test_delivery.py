"""Relay and consumers against the real PostgreSQL and RabbitMQ: order, confirms, wake-ups,
duplicates, gaps, poison messages, rebuilds and crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from shared.consumer import Consumer, Outcome, StoreFeed
from shared.db import Database
from shared.events import Actor, Context
from shared.eventstore import PostgresEventStore
from shared.relay import PublishRefused, Relay, amqp_connection
from shared.topology import EVENTS_EXCHANGE
from tests.conftest import ROOT, wait_for
from tests.contract import happened, registry
from tests.integration.processes import SOURCE, Tally

pytestmark = pytest.mark.integration


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database, maxconn=10)
    with db.transaction() as cur:
        cur.execute(PostgresEventStore.ddl("things"))
        cur.execute(Consumer.ddl("proj"))
        cur.execute("CREATE TABLE proj.applied (event_id uuid NOT NULL, position bigint NOT NULL)")
    yield db
    db.close()


@pytest.fixture
def store(database):
    return PostgresEventStore(database, "things", registry)


@pytest.fixture
def partner():
    """A partner id of this test's own, so its routing keys reach only its queues."""
    return f"p{uuid.uuid4().hex[:8]}"


def context(partner: str) -> Context:
    return Context(partner_id=partner, actor=Actor("worker-1", "peer_worker"))


def bind_queue(amqp_url: str, pattern: str) -> str:
    name = f"q-{uuid.uuid4().hex[:8]}"
    conn = amqp_connection(amqp_url)
    conn.connect()
    channel = conn.channel()
    channel.queue_declare(name, durable=True, auto_delete=False)
    channel.queue_bind(name, EVENTS_EXCHANGE, pattern)
    conn.close()
    return name


def drain(amqp_url: str, queue: str) -> list:
    conn = amqp_connection(amqp_url)
    conn.connect()
    channel = conn.channel()
    messages = []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        messages.append(message)
    conn.close()
    return messages


def append_many(store, partner: str, count: int, per_append: int = 1) -> list:
    recorded = []
    stream, version = str(uuid.uuid4()), 0
    for start in range(0, count, per_append):
        batch = [happened(n) for n in range(start, min(start + per_append, count))]
        recorded += store.append("thing", stream, version, batch, context(partner))
        version += len(batch)
    return recorded


def test_the_relay_publishes_persistent_messages_in_position_order(store, fresh_vhost, partner):
    queue = bind_queue(fresh_vhost, f"{partner}.#")
    recorded = append_many(store, partner, 30)
    relay = Relay(store, fresh_vhost, f"{partner}/things", batch_size=7)
    while relay.step():
        pass
    messages = drain(fresh_vhost, queue)
    bodies = [json.loads(m.body) for m in messages]
    assert [b["position"] for b in bodies] == [e.position for e in recorded]
    assert [b["previous_position"] for b in bodies] == [0] + [e.position for e in recorded[:-1]]
    assert all(m.properties["delivery_mode"] == 2 for m in messages)
    assert {m.delivery_info["routing_key"] for m in messages} == {f"{partner}.things.ThingHappened"}
    assert relay.checkpoint() == recorded[-1].position


def test_an_unroutable_event_is_not_recorded_as_published(store, fresh_vhost, partner):
    append_many(store, partner, 3)  # nothing is bound for this partner
    relay = Relay(store, fresh_vhost, f"{partner}/things")
    with pytest.raises(PublishRefused):
        relay.step()
    assert relay.checkpoint() == 0


def test_an_append_wakes_the_relay_without_waiting_for_its_poll(store, fresh_vhost, partner):
    queue = bind_queue(fresh_vhost, f"{partner}.#")
    relay = Relay(store, fresh_vhost, f"{partner}/things", poll_seconds=60)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: relay._listen_conn is not None, timeout=10, message="relay listening")
        time.sleep(0.1)  # let the first (empty) round finish and the relay block in its wait
        append_many(store, partner, 1)
        messages = wait_for(lambda: drain(fresh_vhost, queue), timeout=10, message="wake-up")
        assert len(messages) == 1
    finally:
        stop.set()
        with store.db.transaction() as cur:  # wake it once more so it sees the stop
            cur.execute("SELECT pg_notify(%s, '')", (store.channel,))
        thread.join(timeout=10)
    assert not thread.is_alive()


# -- consumers -------------------------------------------------------------------------------


def wire(event, previous: int, source: str = SOURCE) -> dict:
    return {**event.envelope(), "source": source, "previous_position": previous}


def applied_rows(db) -> list:
    with db.transaction() as cur:
        cur.execute("SELECT position FROM proj.applied ORDER BY position")
        return [row[0] for row in cur.fetchall()]


def make_consumer(database, store, handlers=None, **kw) -> Consumer:
    return Consumer(
        "tally", database, "proj", handlers or [Tally()], StoreFeed({SOURCE: store}), **kw
    )


def test_a_redelivered_event_is_applied_once(database, store, partner):
    [event] = append_many(store, partner, 1)
    consumer = make_consumer(database, store)
    assert consumer.handle(wire(event, 0)) == Outcome.APPLIED
    assert consumer.handle(wire(event, 0)) == Outcome.DUPLICATE
    assert applied_rows(database) == [event.position]


def test_a_missing_event_is_read_from_the_feed(database, store, partner):
    events = append_many(store, partner, 5)
    consumer = make_consumer(database, store)
    consumer.handle(wire(events[0], 0))
    # events 2-4 never arrived; the fifth names the fourth as the one before it
    assert consumer.handle(wire(events[4], events[3].position)) == Outcome.DUPLICATE
    assert applied_rows(database) == [e.position for e in events]
    assert consumer.checkpoint(SOURCE) == events[4].position


class FailsOn:
    name = "fails"

    def __init__(self, n: int):
        self.n = n
        self.calls = 0

    def apply(self, cur, event):
        if event.payload["n"] == self.n:
            self.calls += 1
            raise ValueError("cannot apply this one")

    def reset(self, cur):
        pass


def test_a_poison_event_is_dead_lettered_and_does_not_block_the_rest(database, store, partner):
    events = append_many(store, partner, 3)
    poison = FailsOn(1)
    consumer = make_consumer(database, store, [poison, Tally()], max_attempts=3)
    consumer.retry_delay_seconds = 0
    outcomes = [
        consumer.handle(wire(e, p))
        for e, p in zip(events, [0] + [e.position for e in events[:-1]], strict=True)
    ]
    assert outcomes == [Outcome.APPLIED, Outcome.DEAD, Outcome.APPLIED]
    assert poison.calls == 3
    assert applied_rows(database) == [events[0].position, events[2].position]
    with database.transaction() as cur:
        cur.execute("SELECT position, event_type, error FROM proj.dead_letters")
        [(position, event_type, error)] = cur.fetchall()
    assert (position, event_type) == (events[1].position, "ThingHappened")
    assert "cannot apply this one" in error


def test_a_rebuild_from_nothing_gives_the_same_tables(database, store, partner):
    events = append_many(store, partner, 40, per_append=3)
    consumer = make_consumer(database, store)
    for previous, event in zip([0] + [e.position for e in events[:-1]], events, strict=True):
        consumer.handle(wire(event, previous))
    live = applied_rows(database)
    consumer.page_size = 7
    assert consumer.rebuild([SOURCE]) == 40
    assert applied_rows(database) == live
    assert consumer.checkpoint(SOURCE) == events[-1].position


# -- crashes ---------------------------------------------------------------------------------


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_killing_relay_and_consumer_loses_nothing_and_applies_nothing_twice(
    database, store, fresh_vhost, partner
):
    total = 10_000
    queue = f"tally-{uuid.uuid4().hex[:8]}"
    conn = amqp_connection(fresh_vhost)
    conn.connect()
    conn.channel().queue_declare(queue, durable=True, auto_delete=False)
    conn.channel().queue_bind(queue, EVENTS_EXCHANGE, f"{partner}.#")
    conn.close()

    writer = threading.Thread(target=append_many, args=(store, partner, total, 20))
    writer.start()
    relay_args = [
        "-m",
        "shared.relay",
        "--dsn",
        database.dsn,
        "--schema",
        "things",
        "--amqp",
        fresh_vhost,
        "--source",
        SOURCE,
        "--batch-size",
        "200",
    ]
    consumer_args = ["-m", "tests.integration.processes", database.dsn, fresh_vhost, queue]
    relay, consumer = _spawn(relay_args), _spawn(consumer_args)
    rng = random.Random(7)
    kills = 0
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.5, 1.5))
            relay.send_signal(signal.SIGKILL)
            consumer.send_signal(signal.SIGKILL)
            relay.wait()
            consumer.wait()
            kills += 1
            relay, consumer = _spawn(relay_args), _spawn(consumer_args)
        writer.join()
        head = store.head_position()
        wait_for(
            lambda: len(applied_rows(database)) >= total, timeout=120, message="every event applied"
        )
        time.sleep(0.5)  # anything applied twice would show up now
    finally:
        relay.kill()
        consumer.kill()
        writer.join()
    rows = applied_rows(database)
    assert kills == 4
    assert len(rows) == total
    assert len(set(rows)) == total
    assert rows[-1] == head


def test_poison_and_unreadable_messages_reach_the_dead_letter_queue(
    database, store, fresh_vhost, partner
):
    import amqp

    from shared.consumer import run_queue
    from shared.topology import Topology, declare

    queue = f"proj-{uuid.uuid4().hex[:8]}"
    topology = Topology()
    topology.consumer_queue(queue, f"{partner}.#")
    conn = amqp_connection(fresh_vhost)
    conn.connect()
    channel = conn.channel()
    declare(channel, topology)
    channel.basic_publish(amqp.Message("{not json"), EVENTS_EXCHANGE, f"{partner}.x.Y")
    conn.close()

    events = append_many(store, partner, 5)
    while Relay(store, fresh_vhost, SOURCE).step():
        pass
    consumer = make_consumer(database, store, [FailsOn(2), Tally()], max_attempts=2)
    consumer.retry_delay_seconds = 0
    stop = threading.Event()
    thread = threading.Thread(target=run_queue, args=(consumer, fresh_vhost, queue, stop))
    thread.start()
    try:
        wait_for(lambda: len(applied_rows(database)) == 4, message="the other four applied")
        dead = wait_for(
            lambda: drain(fresh_vhost, f"{queue}.dead") or None, timeout=10, message="dead letters"
        )
        while len(dead) < 2:
            dead += wait_for(lambda: drain(fresh_vhost, f"{queue}.dead"), timeout=10)
    finally:
        stop.set()
        thread.join(timeout=10)
    bodies = [m.body if isinstance(m.body, str) else m.body.decode() for m in dead]
    assert "{not json" in bodies
    [poison] = [json.loads(b) for b in bodies if b != "{not json"]
    assert poison["position"] == events[2].position
    assert applied_rows(database) == [e.position for i, e in enumerate(events) if i != 2]
