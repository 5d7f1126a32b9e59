"""Replay speed: read the whole store with PostgresEventStore.read_after in pages and fold every
event into its aggregate, as a projection rebuild or a cold start does.

    .venv/bin/python bench/replay.py [--events 1000000] [--streams 20000] [--page 5000]

The events are generated inside PostgreSQL (INSERT ... SELECT over generate_series, into the
store's own events table and columns), interleaved across the streams of a small counter
aggregate; generating them is timed but is not what is measured. Measured, each over all
events: a raw psycopg2 read of the same pages (the floor: server, wire and the driver's own
type conversion), read_after alone, and read_after plus folding each event into its aggregate.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.extras

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import (  # noqa: E402
    CONTEXT,
    NOTE,
    SCHEMA,
    STREAM_TYPE,
    Observer,
    admin_dsn,
    arguments,
    create_events_table,
    profiled,
    registry,
    scratch_database,
)
from shared.aggregate import Aggregate  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.eventstore import _COLUMNS, PostgresEventStore  # noqa: E402


class Tally(Aggregate):
    """A counter: the smallest aggregate worth folding."""

    stream_type = STREAM_TYPE

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.value = 0

    def apply_counter_incremented(self, payload: dict) -> None:
        self.value += payload["by"]

    def apply_counter_decremented(self, payload: dict) -> None:
        self.value -= payload["by"]


# event n (1-based) goes to stream (n - 1) % streams at version (n - 1) // streams + 1, with the
# payload of scratch.new_event(n - 1): {"by": (n - 1) % 7 + 1, "note": NOTE}, every fifth one
# a decrement
GENERATE = f"""
INSERT INTO {SCHEMA}.events (
    position, xid, event_id, stream_type, stream_id, version, event_type, schema_version,
    partner_id, occurred_at, recorded_at, actor_id, actor_role, correlation_id, causation_id,
    payload)
SELECT g, pg_current_xact_id(), gen_random_uuid(), %(stream_type)s,
       'tally-' || ((g - 1) %% %(streams)s), (g - 1) / %(streams)s + 1,
       CASE WHEN (g - 1) %% 5 = 4 THEN 'CounterDecremented' ELSE 'CounterIncremented' END, 1,
       %(partner)s, now(), now(), %(user)s, %(role)s, gen_random_uuid(), NULL,
       jsonb_build_object('by', (g - 1) %% 7 + 1, 'note', %(note)s::text)
FROM generate_series(%(first)s, %(last)s) AS g
"""

EXPECTED = f"""
SELECT stream_id, sum(CASE WHEN event_type = 'CounterIncremented' THEN 1 ELSE -1 END
                      * (payload->>'by')::int), max(version)
FROM {SCHEMA}.events GROUP BY stream_id
"""


def generate(dsn: str, events: int, streams: int, chunk: int = 100_000) -> float:
    started = time.perf_counter()
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        for first in range(1, events + 1, chunk):
            cur.execute(
                GENERATE,
                {
                    "stream_type": STREAM_TYPE,
                    "streams": streams,
                    "partner": CONTEXT.partner_id,
                    "user": CONTEXT.actor.user_id,
                    "role": CONTEXT.actor.role,
                    "note": NOTE,
                    "first": first,
                    "last": min(first + chunk - 1, events),
                },
            )
            conn.commit()
        cur.execute(f"SELECT setval('{SCHEMA}.event_position', %s)", (events,))
        conn.commit()
    # set hint bits and the visibility map now, so that the first reader does not pay for it
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"VACUUM (ANALYZE) {SCHEMA}.events")
    conn.close()
    return time.perf_counter() - started


def raw_read(dsn: str, page_size: int) -> int:
    """The same keyset pages as read_after, as plain tuples: the floor for any reader."""
    conn = psycopg2.connect(dsn)
    psycopg2.extras.register_uuid(conn_or_curs=conn)
    read, after = 0, 0
    with conn.cursor() as cur:
        while True:
            cur.execute(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.events WHERE position > %s"
                " ORDER BY position LIMIT %s",
                (after, page_size),
            )
            rows = cur.fetchall()
            conn.commit()
            if not rows:
                break
            read += len(rows)
            after = rows[-1][0]
    conn.close()
    return read


def store_read(store: PostgresEventStore, page_size: int, fold: dict | None) -> int:
    read, after = 0, 0
    while True:
        page = store.read_after(after, page_size)
        if not page.events:
            return read
        if fold is not None:
            for event in page.events:
                tally = fold.get(event.stream_id)
                if tally is None:
                    tally = fold[event.stream_id] = Tally(event.stream_id)
                tally.apply(event.event_type, event.payload)
                tally.version = event.version
        read += len(page.events)
        after = page.next_after


def timed(dsn: str, label: str, events: int, run) -> float:
    with Observer(dsn) as observed:
        started = time.perf_counter()
        read = run()
        elapsed = time.perf_counter() - started
    assert read == events, f"{label}: read {read} of {events} events"
    print(f"  {label:<28} {events / elapsed:9.0f} events/s  ({elapsed:.1f} s)")
    print(f"      {observed.summary(events)}")
    return elapsed


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=20_000)
    parser.add_argument("--page", type=int, default=5_000, help="read_after limit")
    args = parser.parse_args()
    with scratch_database(admin_dsn(args)) as dsn:
        create_events_table(dsn)
        seconds = generate(dsn, args.events, args.streams)
        print(
            f"generated {args.events} events across {args.streams} streams in {seconds:.1f} s"
            f" (INSERT ... SELECT generate_series, then VACUUM ANALYZE); page size {args.page}"
        )
        store = PostgresEventStore(Database(dsn, maxconn=2), SCHEMA, registry)
        timed(dsn, "raw psycopg2 read", args.events, lambda: raw_read(dsn, args.page))
        read = timed(dsn, "read_after", args.events, lambda: store_read(store, args.page, None))
        tallies: dict[str, Tally] = {}
        with profiled(args.profile, "read_after + fold"):
            both = timed(
                dsn,
                "read_after + fold",
                args.events,
                lambda: store_read(store, args.page, tallies),
            )
        print(
            f"  fold alone (the difference)  {args.events / max(both - read, 1e-9):9.0f}"
            f" events/s  ({both - read:.1f} s)"
        )
        conn = psycopg2.connect(dsn)
        with conn.cursor() as cur:
            cur.execute(EXPECTED)
            expected = {stream: (value, version) for stream, value, version in cur.fetchall()}
        conn.close()
        folded = {stream: (t.value, t.version) for stream, t in tallies.items()}
        print(
            f"  {len(folded)} aggregates folded; every value and version as SQL sums them: "
            f"{folded == expected}"
        )
        store.db.close()


if __name__ == "__main__":
    main()
