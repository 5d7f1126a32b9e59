"""What every benchmark shares: the servers that deploy/stack.py started (run/<stack>/stack.json,
the stack named by PEERLINK_STACK, "test" unless set), a scratch database and a scratch vhost
that are dropped at the end, the event types the benchmarks append, and a few measurements
of where the time goes (CPU of this process, of the PostgreSQL backends, and what those
backends were doing)."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
from marshmallow import Schema, fields

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.events import Actor, Context, EventRegistry, NewEvent  # noqa: E402

SCHEMA = "bench"
STREAM_TYPE = "counter"
CONTEXT = Context(partner_id="leeds-mind", actor=Actor("bench-writer", "peer_worker"))
# stored as {"by": 1, "note": "..."}: about 200 bytes of JSON, like a small domain event
NOTE = "a peer support session was booked for the person referred, with a note for the worker"
NOTE = (NOTE + " " + NOTE)[:172]

registry = EventRegistry()


@registry.event("CounterIncremented")
class CounterIncremented(Schema):
    by = fields.Integer(required=True)
    note = fields.String(required=True)


@registry.event("CounterDecremented")
class CounterDecremented(Schema):
    by = fields.Integer(required=True)
    note = fields.String(required=True)


def payload(n: int) -> dict:
    return {"by": n % 7 + 1, "note": NOTE}


def new_event(n: int) -> NewEvent:
    kind = "CounterDecremented" if n % 5 == 4 else "CounterIncremented"
    return NewEvent(kind, payload(n))


PAYLOAD_BYTES = len(json.dumps(payload(0)))

# -- the servers -------------------------------------------------------------------------------


def stack_state() -> dict:
    stack = os.environ.get("PEERLINK_STACK", "test")
    path = ROOT / "run" / stack / "stack.json"
    if not path.exists():
        raise SystemExit(
            f"{path} is missing: start the servers with "
            f"`.venv/bin/python deploy/stack.py up --stack {stack} --no-demo`, "
            "or pass --dsn (and --amqp, --rabbit-node)"
        )
    return json.loads(path.read_text())


def arguments(doc: str, amqp: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dsn",
        help="a PostgreSQL DSN whose role may CREATE DATABASE; the scratch database is made "
        "beside it (default: admin_dsn of run/$PEERLINK_STACK/stack.json)",
    )
    if amqp:
        parser.add_argument(
            "--amqp",
            help="an AMQP URL of the broker; its vhost is replaced by a scratch vhost "
            "(default: the hub vhost's URL in stack.json)",
        )
        parser.add_argument(
            "--rabbit-node", help="RabbitMQ node name for rabbitmqctl (default: from stack.json)"
        )
    parser.add_argument(
        "--profile", action="store_true", help="also print the top functions by own time"
    )
    return parser


def admin_dsn(args) -> str:
    return args.dsn or stack_state()["admin_dsn"]


def _admin(dsn: str):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def scratch_database(dsn: str):
    """CREATE DATABASE bench_<random> next to `dsn`; yields its DSN; drops it at the end."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = _admin(dsn)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    try:
        yield urlparse(dsn)._replace(path=f"/{name}").geturl()
    finally:
        conn = _admin(dsn)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


def rabbit_node(args) -> str:
    return args.rabbit_node or stack_state()["rabbit_node"]


@contextlib.contextmanager
def scratch_vhost(args):
    """A vhost of its own for user peerlink; yields its AMQP URL; deleted at the end."""
    base = args.amqp or stack_state()["amqp"]["hub"]
    node = rabbit_node(args)

    def rabbitmqctl(*command: str) -> None:
        subprocess.run(
            ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node, *command],
            check=True,
            capture_output=True,
            env={**os.environ, "HOME": os.environ.get("HOME", "/root")},
        )

    name = f"bench-{uuid.uuid4().hex[:10]}"
    user = urlparse(base).username or "peerlink"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield urlparse(base)._replace(path=f"/{name}").geturl()
    finally:
        rabbitmqctl("delete_vhost", name)


def create_events_table(dsn: str) -> None:
    from shared.eventstore import PostgresEventStore

    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(PostgresEventStore.ddl(SCHEMA))
    conn.close()


# -- where the time goes -------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    """User + system CPU ticks of one process (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields_ = stat.read().rsplit(")", 1)[1].split()
        return int(fields_[11]) + int(fields_[12])
    except (OSError, IndexError, ValueError):
        return 0


def _machine_ticks() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Observer:
    """Watches the scratch database while a measurement runs: the CPU of this process and its
    children, of the database's backends (read from /proc, so only when PostgreSQL runs on this
    machine) and of the whole machine, and what the backends were doing, sampled every 20 ms
    from pg_stat_activity (running, waiting on an event, or waiting for the client). The
    sampler is a process of its own so that it sees the backends whatever the GIL is doing."""

    def __init__(self, dsn: str, others: dict[str, int] | None = None, interval: float = 0.02):
        self.dsn = dsn
        self.others = {name: pid for name, pid in (others or {}).items() if pid}
        self.interval = interval

    def __enter__(self) -> Observer:
        fork = multiprocessing.get_context("fork")
        self._stop, self._result, ready = fork.Event(), fork.Queue(), fork.Event()
        self._sampler = fork.Process(target=self._sample_until_stopped, args=(ready,))
        self._sampler.start()
        ready.wait()
        self._machine = _machine_ticks()
        self._started = time.perf_counter()
        self._cpu = time.process_time()
        self._children = _children_cpu()
        self._others = {name: _ticks(pid) for name, pid in self.others.items()}
        return self

    def _sample_until_stopped(self, ready) -> None:
        states: Counter = Counter()
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True

        def sample() -> None:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                    # a pooled connection nobody used for a while is not waiting for anyone
                    " AND (state <> 'idle' OR state_change > now() - interval '0.5 s')"
                )
                rows = cur.fetchall()
            for pid, state, wait_type, wait in rows:
                ticks = _ticks(pid)
                if ticks:
                    first.setdefault(pid, ticks)
                    last[pid] = ticks
                if state == "active":
                    states[f"active {wait_type}:{wait}" if wait else "active on CPU"] += 1
                elif state in ("idle", "idle in transaction"):
                    states["waiting for the client"] += 1

        sample()
        ready.set()
        while not self._stop.wait(self.interval):
            sample()
        sample()
        conn.close()
        self._result.put((states, sum(last[pid] - first[pid] for pid in last)))

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._started
        self.client_cpu = (time.process_time() - self._cpu) + (_children_cpu() - self._children)
        busy, total = _machine_ticks()
        self.machine_busy = (busy - self._machine[0]) / max(total - self._machine[1], 1)
        hz = os.sysconf("SC_CLK_TCK")
        self.other_cpu = {
            name: (_ticks(pid) - self._others[name]) / hz for name, pid in self.others.items()
        }
        self._stop.set()
        self.states, ticks = self._result.get()
        self._sampler.join()
        self.server_cpu = ticks / hz

    def summary(self, events: int) -> str:
        """One line: CPU per event on each side and the commonest backend states."""
        events = max(events, 1)
        samples = sum(self.states.values()) or 1
        common = ", ".join(
            f"{state} {count / samples:.0%}" for state, count in self.states.most_common(4)
        )
        others = "".join(
            f", {name} {cpu / events * 1e6:.0f} us" for name, cpu in self.other_cpu.items()
        )
        return (
            f"CPU per event: client {self.client_cpu / events * 1e6:.0f} us, "
            f"postgres {self.server_cpu / events * 1e6:.0f} us{others}; machine busy "
            f"{self.machine_busy:.0%} of {os.cpu_count()} cores; backends: {common}"
        )


def rabbitmq_pid(node: str) -> int | None:
    """The pid of the Erlang VM running RabbitMQ node `node` on this machine, if readable."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RABBITMQ_NODENAME={node}".encode() in environ:
            with contextlib.suppress(OSError):
                if b"beam" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
    return None


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


@contextlib.contextmanager
def profiled(enabled: bool, title: str, top: int = 14):
    """cProfile the block (this thread only) and print the top functions by own time."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"  profile of {title} (top {top} by own time):")
        for line in lines[start:]:
            print("   ", line.replace(str(ROOT) + "/", ""))
