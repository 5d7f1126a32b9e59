"""Fixtures over the servers that deploy/test started (run/test/stack.json): fresh databases
and vhosts for integration tests, the running alliance's endpoints and tokens for e2e tests."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
STACK = os.environ.get("PEERLINK_STACK", "test")
# in this order after every other test: the database restart (it kills and starts again the
# PostgreSQL every test uses), then fuzzing (it makes and changes records at random, so it runs
# after every test that counts records, and finds the stack whole after the restart)
RUNS_LAST = ("tests/e2e/test_database_restart.py", "tests/e2e/test_fuzz_openapi.py")


def pytest_collection_modifyitems(items):
    def place(item) -> int:
        return next((n for n, path in enumerate(RUNS_LAST, 1) if item.nodeid.startswith(path)), 0)

    items.sort(key=place)


@pytest.fixture(scope="session")
def stack_state() -> dict:
    path = ROOT / "run" / STACK / "stack.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run the tests with deploy/test (it starts the servers)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def endpoints(stack_state) -> dict:
    return stack_state["endpoints"]


@pytest.fixture(scope="session")
def tokens(stack_state):
    """The stack's sign-in: people log in at their partner's provider, machines use theirs."""
    from deploy.signin import Tokens

    return Tokens(stack_state)


@pytest.fixture(scope="session")
def token(tokens):
    """token(role, partner="leeds-mind", user=None) -> a bearer token from the partner's own
    identity provider (the hub's for `alliance`, and the hub's machine credential for
    `service`), its account made at the provider first when it is new."""
    return tokens.token


@pytest.fixture(scope="session")
def auth(token):
    """auth(role, partner=...) -> headers dict with the bearer token."""

    def make(role: str, partner: str = "leeds-mind", user: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token(role, partner, user)}"}

    return make


@pytest.fixture(scope="session")
def register_worker(endpoints, auth):
    """register_worker(worker_id, partner="leeds-mind", role="peer_worker") -> worker_id, put on
    the partner's workforce by its partner admin (so others may name them before they first
    act); one already registered stays as they are."""

    def register(worker_id: str, partner: str = "leeds-mind", role: str = "peer_worker") -> str:
        import requests

        response = requests.post(
            endpoints["partners"][partner]["referrals"] + "/workers",
            json={"worker_id": worker_id, "roles": [role]},
            headers=auth("partner_admin", partner),
            timeout=15,
        )
        assert response.status_code in (201, 409), response.text
        return worker_id

    return register


@pytest.fixture(scope="session")
def register_person(endpoints, auth):
    """register_person(partner="leeds-mind", **identifiers) -> the person_id of someone newly
    registered in the partner's people vault (made-up identifiers unless given)."""

    def register(partner: str = "leeds-mind", **identifiers) -> str:
        import requests

        body = {
            "full_name": f"Test Person {uuid.uuid4().hex[:10]}",
            "date_of_birth": "1980-01-01",
            **identifiers,
        }
        response = requests.post(
            endpoints["partners"][partner]["referrals"] + "/people",
            json=body,
            headers=auth("team_lead", partner),
            timeout=15,
        )
        assert response.status_code == 201, response.text
        return response.json()["person_id"]

    return register


def _with_database(dsn: str, database: str) -> str:
    parts = urlparse(dsn)
    return parts._replace(path=f"/{database}").geturl()


@pytest.fixture
def fresh_database(stack_state):
    """An empty database of its own, dropped afterwards; yields its DSN (an owning role)."""
    admin = stack_state["admin_dsn"]
    name = f"it_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    yield _with_database(admin, name)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


def rabbitmqctl(stack_state, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", stack_state["rabbit_node"], *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HOME": os.environ.get("HOME", "/root")},
    )


@contextlib.contextmanager
def broker_login(stack_state, vhost: str):
    """A broker user of the test's own with every right on `vhost` alone (made and removed
    with rabbitmqctl, as the deploy step does); yields an AMQP URL of that vhost as that user.
    The alliance's own users may do only what their services do."""
    user = f"test-{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    rabbitmqctl(stack_state, "add_user", user, password)
    try:
        rabbitmqctl(stack_state, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        base = urlparse(stack_state["amqp"]["hub"])
        yield base._replace(
            netloc=f"{user}:{password}@{base.hostname}:{base.port}", path=f"/{vhost}"
        ).geturl()
    finally:
        rabbitmqctl(stack_state, "delete_user", user)


@pytest.fixture(scope="module")
def fresh_vhost(stack_state):
    """A vhost of its own with the node topology declared; yields its AMQP URL."""
    from shared.relay import amqp_connection
    from shared.topology import declare, node_topology

    name = f"it-{uuid.uuid4().hex[:10]}"
    rabbitmqctl(stack_state, "add_vhost", name)
    try:
        with broker_login(stack_state, name) as url:
            conn = amqp_connection(url)
            conn.connect()
            declare(conn.channel(), node_topology("it"))
            conn.close()
            yield url
    finally:
        rabbitmqctl(stack_state, "delete_vhost", name)


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05, message: str = ""):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)
