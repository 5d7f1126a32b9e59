"""Append throughput of PostgresEventStore.append, one event per append, with 1 and with 16
writers, each beside a raw psycopg2 baseline measured in the same run (a single-row
INSERT INTO raw (payload jsonb) and a COMMIT per event, 1 and 16 connections); and, while the
16 writers append, a follower reading with store.read_after that must never skip a position.

    .venv/bin/python bench/eventstore_append.py [--seconds 10] [--mode threads|processes|both]

Writers that append at the same moment share a transaction (the store's group commit: see
PostgresEventStore and _Lane); the raw baseline commits every row on its own, as it always
would. Each writer appends consecutive versions of a stream of its own (expected_version = the
version it last wrote), so writers never conflict and every append checks its expected version.
Writers are threads of this process by default, sharing one store over one pool of 18
connections, as a service process does; --mode processes forks one process (own store, own
connection) per writer instead. The 16-writer store run is measured twice: alone (for the ratio
against the baseline, which has no reader either) and with the follower, a process of its own.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scratch import (  # noqa: E402
    CONTEXT,
    PAYLOAD_BYTES,
    SCHEMA,
    STREAM_TYPE,
    Observer,
    admin_dsn,
    arguments,
    create_events_table,
    new_event,
    payload,
    profiled,
    registry,
    scratch_database,
)
from shared.db import Database  # noqa: E402
from shared.eventstore import PostgresEventStore  # noqa: E402

FORK = multiprocessing.get_context("fork")


class RawWriter:
    """The baseline: what one single-row INSERT and COMMIT per event costs on this server."""

    def __init__(self, dsn: str):
        self.conn = psycopg2.connect(dsn)
        self.cur = self.conn.cursor()
        self.body = json.dumps(payload(0))

    def step(self) -> None:
        self.cur.execute("INSERT INTO raw (payload) VALUES (%s)", (self.body,))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class StoreWriter:
    """Consecutive versions of a stream of its own, one event per append."""

    def __init__(self, store: PostgresEventStore, own_store: bool = False):
        self.store = store
        self.own_store = own_store
        self.stream = f"bench-{uuid.uuid4()}"
        self.version = 0

    def step(self) -> None:
        self.store.append(
            STREAM_TYPE, self.stream, self.version, [new_event(self.version)], CONTEXT
        )
        self.version += 1

    def close(self) -> None:
        if self.own_store:
            self.store.db.close()


def _loop(writer, ready, stop, profile_title: str | None = None) -> int:
    ready.wait()
    done = 0
    with profiled(profile_title is not None, profile_title or ""):
        while not stop.is_set():
            writer.step()
            done += 1
    return done


def run_threads(make_writer, writers: int, seconds: float, profile: str | None) -> tuple:
    """`writers` threads in this process, each with its writer made before the clock starts."""
    made = [make_writer(i) for i in range(writers)]
    ready, stop = threading.Barrier(writers + 1), threading.Event()
    counts = [0] * writers

    def work(index: int) -> None:
        counts[index] = _loop(made[index], ready, stop, profile if index == 0 else None)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for writer in made:
        writer.close()
    return sum(counts), elapsed


def run_processes(make_writer, writers: int, seconds: float, profile: str | None) -> tuple:
    """`writers` forked processes, each making its own writer (and connection) after the fork."""
    ready, stop = FORK.Barrier(writers + 1), FORK.Event()
    counts = FORK.Array("q", writers)

    def work(index: int) -> None:
        writer = make_writer(index)
        counts[index] = _loop(writer, ready, stop, profile if index == 0 else None)
        writer.close()
        sys.stdout.flush()

    processes = [FORK.Process(target=work, args=(i,)) for i in range(writers)]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    return sum(counts), elapsed


class Follower:
    """A process of its own (as the relay is) reading the store by position in a loop, 500
    events a call as the relay does, collecting every position it is handed."""

    def __init__(self, dsn: str, page_size: int = 500):
        self.dsn, self.page_size = dsn, page_size
        self.stop, self.result = FORK.Event(), FORK.Queue()
        self.process = FORK.Process(target=self._follow)
        self.process.start()

    def _follow(self) -> None:
        store = PostgresEventStore(Database(self.dsn, maxconn=2), SCHEMA, registry)
        seen, after, calls = [], 0, 0
        while not self.stop.is_set():
            page = store.read_after(after, self.page_size)
            calls += 1
            seen.extend(event.position for event in page.events)
            after = page.next_after
            if not page.events:
                time.sleep(0.005)
        # the writers have stopped: catch up with everything committed
        head, deadline = store.head_position(), time.monotonic() + 60
        while after < head and time.monotonic() < deadline:
            page = store.read_after(after, 5000)
            calls += 1
            seen.extend(event.position for event in page.events)
            after = page.next_after
        store.db.close()
        self.result.put((seen, calls))

    def finish(self) -> tuple[list[int], int]:
        self.stop.set()
        outcome = self.result.get()
        self.process.join()
        return outcome


def never_skipped(dsn: str, seen: list[int]) -> tuple[bool, str]:
    conn = psycopg2.connect(dsn)
    with conn.cursor() as cur:
        cur.execute(f"SELECT position FROM {SCHEMA}.events ORDER BY position")
        committed = [row[0] for row in cur.fetchall()]
    conn.close()
    if seen == committed:
        return True, f"it read all {len(committed)} committed positions, in order"
    missing = sorted(set(committed) - set(seen))
    disorder = sum(1 for a, b in zip(seen, seen[1:], strict=False) if b <= a)
    return False, (
        f"{len(missing)} committed positions never read (first {missing[:5]}), "
        f"{disorder} out of order, of {len(committed)} committed"
    )


def measure(dsn: str, mode: str, seconds: float, profile: bool, lanes: dict) -> None:
    run = run_processes if mode == "processes" else run_threads
    # threads share one store over one pool (as a service process does); processes each
    # have their own store and connection
    shared_pool = Database(dsn, maxconn=16 + 2)
    shared_store = PostgresEventStore(shared_pool, SCHEMA, registry, **lanes)

    def raw(index: int) -> RawWriter:
        return RawWriter(dsn)

    def store(index: int) -> StoreWriter:
        if mode == "processes":
            own = PostgresEventStore(Database(dsn, maxconn=2), SCHEMA, registry, **lanes)
            return StoreWriter(own, own_store=True)
        return StoreWriter(shared_store)

    if mode == "threads":
        # open the pool's connections before the clock starts
        with contextlib.ExitStack() as opened:
            for _ in range(16):
                opened.enter_context(shared_pool.connection())

    print(f"\n{mode}: {seconds:.0f} s per measurement")
    rates = {}
    runs = [
        (1, "raw INSERT+COMMIT", raw, False),
        (1, "store.append", store, False),
        (16, "raw INSERT+COMMIT", raw, False),
        (16, "store.append", store, False),
        (16, "store.append", store, True),
    ]
    for writers, name, make, follow in runs:
        follower = Follower(dsn) if follow else None
        title = f"{name}, writer 1 of {writers} ({mode})" if profile else None
        with Observer(dsn) as observed:
            events, elapsed = run(make, writers, seconds, title)
        label = f"{name} + follower" if follow else name
        print(
            f"  {writers:>2} writer(s)  {label:<25} {events / elapsed:8.0f} events/s"
            f"  ({events} in {elapsed:.1f} s)"
        )
        print(f"      {observed.summary(events)}")
        if follower is None:
            rates[name, writers] = events / elapsed
        else:
            seen, calls = follower.finish()
            held, detail = never_skipped(dsn, seen)
            print(f"      follower: {calls} read_after calls during and after the run; {detail}")
            print(f"  never-skip held: {held}")
        if name == "store.append" and not follow:
            ratio = rates["store.append", writers] / rates["raw INSERT+COMMIT", writers]
            print(f"  {writers:>2} writer(s)  store/baseline ratio {ratio:.2f}")
    shared_pool.close()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--mode",
        choices=("threads", "processes", "both"),
        default="threads",
        help="writers as threads of one process sharing one store and pool (default), or as "
        "forked processes each with its own store",
    )
    parser.add_argument(
        "--lanes",
        type=int,
        help="batches a store writes at once (default: the store's own default, as services "
        "run it)",
    )
    args = parser.parse_args()
    lanes = {} if args.lanes is None else {"lanes": args.lanes}
    with scratch_database(admin_dsn(args)) as dsn:
        create_events_table(dsn)
        conn = psycopg2.connect(dsn)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE raw (payload jsonb NOT NULL)")
        conn.close()
        print(
            f"scratch database {dsn.rsplit('/', 1)[1]}; payload {PAYLOAD_BYTES} bytes of JSON;"
            " one event per append / per COMMIT"
        )
        modes = ("threads", "processes") if args.mode == "both" else (args.mode,)
        for mode in modes:
            measure(dsn, mode, args.seconds, args.profile, lanes)


if __name__ == "__main__":
    main()
