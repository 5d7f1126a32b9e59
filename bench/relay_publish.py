"""Relay publish speed: append a backlog of events, then run shared.relay.Relay.step() until the
broker has confirmed every one of them, with batch sizes 500 and 2,000; the durable queue bound
to peerlink.events with "#" must then hold exactly one message per event.

    .venv/bin/python bench/relay_publish.py [--events 50000] [--batch 500 --batch 2000]

Each batch size publishes the whole backlog from position 0 under a relay name (checkpoint) of
its own, into the queue emptied beforehand. The broker is a scratch vhost on the stack's
RabbitMQ: persistent messages, publisher confirms, mandatory, as the relay always publishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import (  # noqa: E402
    CONTEXT,
    SCHEMA,
    STREAM_TYPE,
    Observer,
    admin_dsn,
    arguments,
    create_events_table,
    new_event,
    profiled,
    rabbit_node,
    rabbitmq_pid,
    registry,
    scratch_database,
    scratch_vhost,
)
from shared.db import Database  # noqa: E402
from shared.eventstore import PostgresEventStore  # noqa: E402
from shared.relay import EVENTS_EXCHANGE, Relay, amqp_connection  # noqa: E402
from shared.topology import declare, node_topology  # noqa: E402

QUEUE = "bench.everything"
SOURCE = f"{CONTEXT.partner_id}/bench"


def append_backlog(store: PostgresEventStore, events: int, per_append: int = 100) -> float:
    """`events` events, `per_append` at a time, each append a new stream."""
    started = time.perf_counter()
    for first in range(0, events, per_append):
        batch = [new_event(n) for n in range(first, min(first + per_append, events))]
        store.append(STREAM_TYPE, f"relay-{first}", 0, batch, CONTEXT)
    return time.perf_counter() - started


def queued(channel) -> int:
    return channel.queue_declare(QUEUE, passive=True).message_count


def publish_all(store: PostgresEventStore, url: str, batch: int, events: int) -> int:
    relay = Relay(store, url, SOURCE, batch_size=batch, name=f"bench-{batch}")
    published, head = 0, store.head_position()
    deadline = time.monotonic() + 300
    try:
        while relay.checkpoint() < head:
            published += relay.step()
            if time.monotonic() > deadline:
                raise SystemExit(f"batch {batch}: still publishing after 300 s")
    finally:
        relay.publisher.close()
    return published


def main() -> None:
    parser = arguments(__doc__, amqp=True)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument(
        "--batch", type=int, action="append", help="Relay batch_size (default: 500 and 2000)"
    )
    args = parser.parse_args()
    batches = args.batch or [500, 2000]
    with scratch_database(admin_dsn(args)) as dsn, scratch_vhost(args) as url:
        create_events_table(dsn)
        conn = amqp_connection(url)
        conn.connect()
        channel = conn.channel()
        declare(channel, node_topology("bench"))
        channel.queue_declare(QUEUE, durable=True, auto_delete=False)
        channel.queue_bind(QUEUE, EVENTS_EXCHANGE, "#")

        store = PostgresEventStore(Database(dsn, maxconn=4), SCHEMA, registry)
        seconds = append_backlog(store, args.events)
        print(
            f"appended {args.events} events in {seconds:.1f} s (100 per append);"
            f" relay source {SOURCE}; queue {QUEUE} bound to {EVENTS_EXCHANGE} with #"
        )
        broker = {"rabbitmq": rabbitmq_pid(rabbit_node(args))}
        for batch in batches:
            channel.queue_purge(QUEUE)
            with (
                Observer(dsn, others=broker) as observed,
                profiled(args.profile, f"relay steps, batch {batch}"),
            ):
                started = time.perf_counter()
                published = publish_all(store, url, batch, args.events)
                elapsed = time.perf_counter() - started
            held = queued(channel)
            print(
                f"  batch {batch:>5}: {published / elapsed:7.0f} events/s published and"
                f" confirmed ({published} in {elapsed:.1f} s); queue holds {held}:"
                f" {'equal' if held == args.events else 'NOT equal'} to the events"
            )
            print(f"      {observed.summary(published)}")
        channel.queue_delete(QUEUE)
        conn.close()
        store.db.close()


if __name__ == "__main__":
    main()
