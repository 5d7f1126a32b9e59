"""Every kind of process stops cleanly and quickly on SIGTERM, even while it is busy: it takes no
new connection, closes the keep-alive connections waiting for a next request, answers what it
accepted, loses nothing, and exits 0 within 5 seconds.

Each test takes one process of the running stack over: it stops the stack's own (through the pid
the stack recorded) and starts it again as a child of its own, with the same command,
environment and port, so that it sees the exit status; on leaving, the stack's own process is
started again. A test keeps the process busy by holding a lock on a table its work writes (or
reads), so that the work is in flight, provably, when SIGTERM arrives.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urljoin, urlparse

import psycopg2
import pytest
import requests

from deploy import idp
from deploy import stack as local
from deploy.mailsink import read_mailbox
from shared.config import database_name
from tests.conftest import ROOT, STACK, wait_for

pytestmark = pytest.mark.e2e

# What every process must do after SIGTERM, busy or not: exit, with status 0, within 5 seconds.
EXIT_WITHIN_SECONDS = 5.0
PARTNER = "leeds-mind"
HUB_DATABASE = "peerlink_hub"
TIMEOUT = 30


class TakenOver:
    """The stack's process `name` run as a child of the test (its command, environment and
    port); the stack's own is started again on leaving, whatever state the child is in."""

    def __init__(self, name: str):
        self.alliance = local.STACKS[STACK]
        self.spec = next(s for s in local.process_table(self.alliance) if s["name"] == name)
        self.name = name
        self.process: subprocess.Popen | None = None
        self.signalled_at = 0.0

    def __enter__(self) -> TakenOver:
        local.stop_process(self.alliance, self.name)
        with open(self.alliance.run / "logs" / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                self.spec["cmd"],
                cwd=ROOT,
                env={**os.environ, **self.spec["env"]},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        # recorded as the stack's own, so that deploy/stack.py down stops it if the run is cut
        (self.alliance.run / "pids" / f"{self.name}.pid").write_text(f"{self.process.pid}\n")
        local.wait_healthy(self.spec["health"])
        return self

    def terminate(self) -> None:
        self.signalled_at = time.monotonic()
        self.process.send_signal(signal.SIGTERM)

    @property
    def is_running(self) -> bool:
        return self.process.poll() is None

    def exit_status(self) -> tuple[int, float]:
        """The exit status, and how many seconds after SIGTERM it came."""
        try:
            status = self.process.wait(timeout=3 * EXIT_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} still runs {3 * EXIT_WITHIN_SECONDS:.0f} s after SIGTERM")
        return status, time.monotonic() - self.signalled_at

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        local.start_process(self.alliance, self.spec)
        local.wait_healthy(self.spec["health"])


def assert_stopped_cleanly(process: TakenOver) -> None:
    status, seconds = process.exit_status()
    assert status == 0, f"{process.name} exited with {status}"
    assert seconds < EXIT_WITHIN_SECONDS, f"{process.name} took {seconds:.1f} s to stop"


class Lock:
    """A lock the test holds on a table until `release()`: in EXCLUSIVE mode the writers of the
    table wait for it, in ACCESS EXCLUSIVE mode its readers too."""

    def __init__(self, dsn: str, table: str, mode: str = "EXCLUSIVE"):
        self.table = table
        self.conn = psycopg2.connect(dsn)
        self.cur = self.conn.cursor()
        self.cur.execute(f"LOCK TABLE {table} IN {mode} MODE")

    def is_awaited(self) -> bool:
        """Someone (the busy process) waits for the lock."""
        self.cur.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND NOT granted",
            (self.table,),
        )
        return self.cur.fetchone()[0] > 0

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()


@contextlib.contextmanager
def locked(dsn: str, table: str, mode: str = "EXCLUSIVE"):
    lock = Lock(dsn, table, mode)
    try:
        yield lock
    finally:
        lock.release()


def address_of(url: str) -> tuple[str, int]:
    parts = urlparse(url)
    return parts.hostname, parts.port


def kept_alive(url: str) -> http.client.HTTPConnection:
    """A keep-alive connection, answered once (GET /health) and now waiting for a next request."""
    conn = http.client.HTTPConnection(*address_of(url), timeout=TIMEOUT)
    conn.request("GET", "/health")
    response = conn.getresponse()
    response.read()
    assert response.status == 200 and not response.will_close
    return conn


def is_closed_by_the_server(conn: http.client.HTTPConnection) -> bool:
    conn.sock.settimeout(0.05)
    try:
        return conn.sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def refuses_connections(url: str) -> bool:
    try:
        socket.create_connection(address_of(url), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def assert_draining(process: TakenOver, url: str, idle: http.client.HTTPConnection) -> None:
    """Once signalled, the busy process takes no new connection and closes the idle one, while
    it is still running (its work in flight)."""
    wait_for(lambda: refuses_connections(url), timeout=EXIT_WITHIN_SECONDS, message="refused")
    wait_for(lambda: is_closed_by_the_server(idle), timeout=2, message="the idle one closed")
    assert process.is_running, "it exited with its work in flight"


def in_the_background(call, *args, **kwargs):
    return ThreadPoolExecutor(1).submit(call, *args, **kwargs)


def count(dsn: str, sql: str, *params) -> int:
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def first_event(stack_state, schema: str, stream_id: str) -> tuple[str, int]:
    """The type and position of the event that began the stream, as the node stored it."""
    dsn = stack_state["owner_dsn"][database_name(PARTNER)]
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT event_type, position FROM {schema}.events"
            " WHERE stream_id::text = %s AND version = 1",
            (stream_id,),
        )
        [row] = cur.fetchall()
        return row


def facts_at_the_hub(stack_state, event_type: str, position: int) -> int:
    """How many times the hub keeps the partner's event (the hub knows the event by its type
    and its position in the partner's store, never by the node's ids)."""
    return count(
        stack_state["owner_dsn"][HUB_DATABASE],
        "SELECT count(*) FROM reporting.facts"
        " WHERE partner_id = %s AND event_type = %s AND position = %s",
        PARTNER,
        event_type,
        position,
    )


def assert_delivered_once(stack_state, schema: str, stream_id: str) -> None:
    """The record's first event was stored, and reached the hub once."""
    event_type, position = first_event(stack_state, schema, stream_id)
    wait_for(
        lambda: facts_at_the_hub(stack_state, event_type, position) > 0,
        timeout=TIMEOUT,
        message=f"{event_type} at the hub",
    )
    assert facts_at_the_hub(stack_state, event_type, position) == 1


# -- the node's services -------------------------------------------------------------------------


def a_new_record(service: str, person_id: str) -> tuple[str, dict, str]:
    """(path, body, the field of the answer naming the record) of something new each service
    records, of a kind the hub counts: a referral, a signposting, a safeguarding concern."""
    if service == "referrals":
        body = {
            "person_id": person_id,
            "source": "gp",
            "received_on": date.today().isoformat(),
            "urgency": "soon",
        }
        return "/referrals", body, "referral_id"
    if service == "sessions":
        return "/signposting", {"person_id": person_id, "destination": "housing"}, "signposting_id"
    body = {
        "age_group": "adult",
        "categories": ["financial_material"],
        "severity": "standard",
        "immediate_risk": False,
        "what_happened": "Said a relative keeps their bank card.",
        "actions_taken": ["none"],
        "consent_given": True,
        "person_description": "Man in his sixties who comes to the Monday group.",
    }
    return "/concerns", body, "concern_id"


ROLE = {"referrals": "team_lead", "sessions": "team_lead", "safeguarding": "safeguarding_lead"}


@pytest.mark.parametrize("service", ["referrals", "sessions", "safeguarding"])
def test_a_node_service_answers_the_request_in_flight_and_exits_0(
    service, endpoints, stack_state, auth, register_person
):
    url = endpoints["partners"][PARTNER][service]
    path, body, named = a_new_record(service, register_person(PARTNER))
    headers = auth(ROLE[service], PARTNER)
    dsn = stack_state["owner_dsn"][database_name(PARTNER)]
    with TakenOver(f"{PARTNER}-{service}") as process:
        idle = kept_alive(url)
        with locked(dsn, f"{service}.events") as lock:
            answer = in_the_background(
                requests.post, url + path, json=body, headers=headers, timeout=TIMEOUT
            )
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the request at its append")

            process.terminate()

            assert_draining(process, url, idle)
        response = answer.result(timeout=TIMEOUT)
        assert response.status_code == 201, response.text
        assert response.headers["Connection"] == "close"
        assert_stopped_cleanly(process)
    assert_delivered_once(stack_state, service, response.json()[named])


def test_the_web_app_answers_the_page_in_flight_and_exits_0(endpoints, stack_state):
    url = endpoints["partners"][PARTNER]["web"]
    dsn = stack_state["owner_dsn"][database_name(PARTNER)]
    with TakenOver(f"{PARTNER}-web") as process:
        idle = kept_alive(url)
        # signing in begins by recording the sign-in under way
        with locked(dsn, "web.pending_logins") as lock:
            answer = in_the_background(
                requests.get, url + "/auth/login", allow_redirects=False, timeout=TIMEOUT
            )
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the sign-in at its write")

            process.terminate()

            assert_draining(process, url, idle)
        response = answer.result(timeout=TIMEOUT)
        assert response.status_code in (302, 303), response.text
        issuer = stack_state["endpoints"]["identity"][PARTNER]
        assert response.headers["Location"].startswith(issuer)
        assert response.headers["Connection"] == "close"
        assert_stopped_cleanly(process)


# -- the hub's reporting -------------------------------------------------------------------------


def test_hub_reporting_answers_the_report_in_flight_and_exits_0(endpoints, stack_state, auth):
    url = endpoints["hub"]["reporting"]
    with TakenOver("hub-reporting") as process:
        idle = kept_alive(url)
        dsn = stack_state["owner_dsn"][HUB_DATABASE]
        with locked(dsn, "reporting.referrals_by_month", "ACCESS EXCLUSIVE") as lock:
            answer = in_the_background(
                requests.get,
                url + "/internal/referral-counts",
                params={"partner": PARTNER},
                headers=auth("service", "alliance"),
                timeout=TIMEOUT,
            )
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the report at its read")

            process.terminate()

            assert_draining(process, url, idle)
        response = answer.result(timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        assert "rows" in response.json()
        assert response.headers["Connection"] == "close"
        assert_stopped_cleanly(process)


# -- the delivery workers ------------------------------------------------------------------------


def referral_counts(url: str, auth, source: str) -> int:
    response = requests.get(
        url + "/internal/referral-counts",
        params={"partner": PARTNER},
        headers=auth("service", "alliance"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    month = date.today().replace(day=1).isoformat()
    rows = response.json()["rows"]
    return sum(r["referrals"] for r in rows if r["source"] == source and r["month"] == month)


def a_referral(endpoints, auth, person_id: str, source: str) -> str:
    response = requests.post(
        endpoints["partners"][PARTNER]["referrals"] + "/referrals",
        json={
            "person_id": person_id,
            "source": source,
            "received_on": date.today().isoformat(),
            "urgency": "soon",
        },
        headers=auth("team_lead", PARTNER),
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    return response.json()["referral_id"]


def has_caught_up(stack_state, database: str, schema: str, consumer: str, service: str) -> bool:
    """The consumer has applied every event the partner's `service` has stored so far, so the
    next events it applies are the test's own."""
    stored = count(
        stack_state["owner_dsn"][database_name(PARTNER)],
        f"SELECT coalesce(max(position), 0) FROM {service}.events",
    )
    applied = count(
        stack_state["owner_dsn"][database],
        f"SELECT coalesce(max(position), 0) FROM {schema}.consumer_checkpoints"
        " WHERE consumer = %s AND source = %s",
        consumer,
        f"{PARTNER}/{service}",
    )
    return applied >= stored


def test_the_node_worker_commits_the_batch_in_hand_and_exits_0(
    endpoints, stack_state, auth, register_person
):
    from services.sessions.projections import CONSUMER

    dsn = stack_state["owner_dsn"][database_name(PARTNER)]
    url = endpoints["partners"][PARTNER]["worker"]
    person_id = register_person(PARTNER)
    with TakenOver(f"{PARTNER}-worker") as process:
        wait_for(
            lambda: has_caught_up(
                stack_state, database_name(PARTNER), "sessions", CONSUMER, "referrals"
            ),
            timeout=TIMEOUT,
            message="the worker applied every referral event so far",
        )
        # what the worker applies of each referral event for the sessions service
        with locked(dsn, "sessions.referral_status") as lock:
            referral_id = a_referral(endpoints, auth, person_id, "gp")
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the consumer in its transaction")

            process.terminate()

            wait_for(lambda: refuses_connections(url), timeout=EXIT_WITHIN_SECONDS)
            assert process.is_running, "it exited with its batch in flight"
        assert_stopped_cleanly(process)
        # the batch in hand was committed before the worker exited
        status = count(
            dsn,
            "SELECT count(*) FROM sessions.referral_status"
            " WHERE referral_id::text = %s AND status = 'received'",
            referral_id,
        )
        assert status == 1
    assert_delivered_once(stack_state, "referrals", referral_id)


def test_the_hub_worker_commits_the_batch_in_hand_and_exits_0(
    endpoints, stack_state, auth, register_person
):
    from services.reporting.projections import CONSUMER_NAME, SCHEMA

    reporting = endpoints["hub"]["reporting"]
    url = endpoints["hub"]["worker"]
    person_id = register_person(PARTNER)
    with TakenOver("hub-worker") as process:
        wait_for(
            lambda: all(
                has_caught_up(stack_state, HUB_DATABASE, SCHEMA, CONSUMER_NAME, service)
                for service in ("referrals", "sessions", "safeguarding")
            ),
            timeout=TIMEOUT,
            message="the hub applied every event of the partner so far",
        )
        before = referral_counts(reporting, auth, "self")
        with locked(stack_state["owner_dsn"][HUB_DATABASE], f"{SCHEMA}.facts") as lock:
            referral_id = a_referral(endpoints, auth, person_id, "self")
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the consumer in its transaction")

            process.terminate()

            wait_for(lambda: refuses_connections(url), timeout=EXIT_WITHIN_SECONDS)
            assert process.is_running, "it exited with its batch in flight"
        assert_stopped_cleanly(process)
        # the batch in hand was committed before the worker exited: counted, with no worker
        assert referral_counts(reporting, auth, "self") == before + 1
    assert_delivered_once(stack_state, "referrals", referral_id)
    # and counted once, the worker started again
    assert referral_counts(reporting, auth, "self") == before + 1


# -- the identity provider and the mail sink -----------------------------------------------------


def test_the_identity_provider_answers_the_sign_in_in_flight_and_exits_0(stack_state):
    issuer = stack_state["endpoints"]["identity"][PARTNER]
    metadata = idp.discover(issuer)
    browser = requests.Session()
    with TakenOver("idp") as process:
        idle = kept_alive(issuer)
        begun = browser.get(
            metadata["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": "peerlink-cli",
                "redirect_uri": idp.CLI_REDIRECT_URI,
                "scope": "openid",
                "state": secrets.token_urlsafe(8),
                "code_challenge": secrets.token_urlsafe(32),
                "code_challenge_method": "S256",
            },
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert begun.status_code in (302, 303), begun.text
        login_page = urljoin(issuer, begun.headers["Location"])
        # the sign-in under way is kept in the provider's database
        models = "idp_oidc_models"
        with locked(stack_state["idp"]["database_url"], models, "ACCESS EXCLUSIVE") as lock:
            answer = in_the_background(browser.get, login_page, timeout=TIMEOUT)
            wait_for(lock.is_awaited, timeout=TIMEOUT, message="the sign-in page at its read")

            process.terminate()

            assert_draining(process, issuer, idle)
        response = answer.result(timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        assert '<form method="post"' in response.text
        assert response.headers["Connection"] == "close"
        assert_stopped_cleanly(process)


def test_the_mail_sink_takes_the_message_in_flight_and_exits_0(stack_state):
    sink = stack_state["smtp"]
    message_id = f"<stop-{uuid.uuid4().hex}@peerlink.test>"
    with TakenOver("mailsink") as process:
        idle = smtplib.SMTP(sink["host"], sink["port"], timeout=TIMEOUT)
        idle.ehlo()
        sending = smtplib.SMTP(sink["host"], sink["port"], timeout=TIMEOUT)
        sending.ehlo()
        sending.mail("safeguarding@leeds-mind.peerlink.test")
        sending.rcpt("duty-lead@leeds-mind.peerlink.test")
        assert sending.docmd("DATA")[0] == 354
        sending.send(f"Message-ID: {message_id}\r\nSubject: A concern\r\n\r\nFirst line\r\n")

        process.terminate()

        smtp = f"smtp://{sink['host']}:{sink['port']}"
        wait_for(lambda: refuses_connections(smtp), timeout=EXIT_WITHIN_SECONDS)
        assert idle.getreply()[0] == 421  # closing: the idle session is told and closed
        assert process.is_running, "it exited with a message in flight"
        sending.send(b"Second line\r\n.\r\n")
        assert sending.getreply()[0] == 250
        assert_stopped_cleanly(process)
    kept = [m for m in read_mailbox(sink["mailbox"]) if m["message_id"] == message_id]
    assert len(kept) == 1 and kept[0]["body"].endswith("Second line\r\n")


# -- the runner ----------------------------------------------------------------------------------

# A service with nothing of its own to wake it: no timer, no broker, nobody calling.
QUIET_SERVICE = """
from shared.webserver import http


class QuietService:
    name = "quiet"

    @http("GET", "/health")
    def health(self, request):
        return 200, "ok"
"""


def is_asleep_with_nothing_due(pid: int) -> bool:
    """The process sleeps in epoll_wait, its timeout (the next thing due) beyond the bound: only
    the signal itself can wake it in time."""
    try:
        waiting_in = Path(f"/proc/{pid}/wchan").read_text()
        syscall = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    # the syscall's number, then its arguments: epoll_wait's fourth is its timeout in ms
    return waiting_in == "do_epoll_wait" and int(syscall[4], 16) > EXIT_WITHIN_SECONDS * 1000


def test_a_quiet_service_stops_on_the_signal_alone(tmp_path):
    (tmp_path / "quiet.py").write_text(QUIET_SERVICE)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{tmp_path}",
        "PEERLINK_AMQP_URL": "amqp://nobody@127.0.0.1:1/none",  # never connected to
        "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{port}",
    }
    command = local.service_command("referrals")[:-1] + ["quiet:QuietService"]
    with open(tmp_path / "quiet.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        local.wait_healthy(f"http://127.0.0.1:{port}/health")
        wait_for(
            lambda: is_asleep_with_nothing_due(process.pid),
            timeout=TIMEOUT,
            message="the service asleep",
        )
        signalled_at = time.monotonic()

        process.send_signal(signal.SIGTERM)

        try:
            status = process.wait(timeout=3 * EXIT_WITHIN_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail("the quiet service still runs 15 s after SIGTERM")
        assert status == 0, (tmp_path / "quiet.log").read_text()
        assert time.monotonic() - signalled_at < EXIT_WITHIN_SECONDS
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- the stack's own stop ------------------------------------------------------------------------

# A stand-in for a service: ready once its SIGTERM handler is in place, it stops `delay` seconds
# after SIGTERM and says so in a file (or, with a delay below 0, ignores SIGTERM).
STAND_IN = """
import pathlib, signal, sys, time
delay, ready, stopped = float(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
def stop(*_):
    time.sleep(delay)
    stopped.touch()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop if delay >= 0 else signal.SIG_IGN)
ready.touch()
while True:
    time.sleep(0.05)
"""


def test_the_stack_stops_its_processes_side_by_side_and_kills_only_stragglers(tmp_path):
    stand_ins = local.Stack(f"stop-{uuid.uuid4().hex[:8]}", 0, 0, 0)
    delays = {"quick": 0.0, "slow-a": 1.0, "slow-b": 1.0, "slow-c": 1.0, "stubborn": -1.0}
    try:
        for name, delay in delays.items():
            cmd = [sys.executable, "-c", STAND_IN, str(delay)]
            cmd += [str(tmp_path / f"{name}.ready"), str(tmp_path / f"{name}.stopped")]
            local.start_process(stand_ins, {"name": name, "cmd": cmd, "env": {}})
        wait_for(
            lambda: all((tmp_path / f"{name}.ready").exists() for name in delays),
            message="the stand-ins ready",
        )
        started = time.monotonic()

        stopped = local.stop_processes(stand_ins, sorted(delays), timeout=3.0)

        took = time.monotonic() - started
        assert sorted(stopped) == sorted(delays)
        # one wait for them all (one after another it would take 6 s): the slow ones stop
        # together, and only the stubborn one is killed, once the 3 s are up
        assert 3.0 <= took < 4.5, took
        assert {p.stem for p in tmp_path.glob("*.stopped")} == set(delays) - {"stubborn"}
        assert not list((stand_ins.run / "pids").glob("*.pid"))
    finally:
        local.stop_processes(stand_ins, sorted(delays), signal.SIGKILL, timeout=1.0)
        shutil.rmtree(stand_ins.run, ignore_errors=True)
