"""Fixtures over the servers that deploy/test started (run/test/stack.json): fresh databases
and vhosts for integration tests, the running alliance's endpoints and tokens for e2e tests."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest

from shared.auth import issue_token

ROOT = Path(__file__).resolve().parent.parent
STACK = os.environ.get("PEERLINK_STACK", "test")


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
def jwt_secret(stack_state) -> str:
    return Path(stack_state["jwt_secret_file"]).read_text().strip()


@pytest.fixture(scope="session")
def token(jwt_secret):
    """token(role, partner="leeds-mind", user=None) -> bearer token signed like deploy/token."""

    def make(role: str, partner: str = "leeds-mind", user: str | None = None) -> str:
        return issue_token(jwt_secret, user or f"test-{role}", role, partner)

    return make


@pytest.fixture(scope="session")
def auth(token):
    """auth(role, partner=...) -> headers dict with the bearer token."""

    def make(role: str, partner: str = "leeds-mind", user: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token(role, partner, user)}"}

    return make


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


@pytest.fixture(scope="module")
def fresh_vhost(stack_state):
    """A vhost of its own with the node topology declared; yields its AMQP URL."""
    from shared.relay import amqp_connection
    from shared.topology import declare, node_topology

    name = f"it-{uuid.uuid4().hex[:10]}"
    rabbitmqctl(stack_state, "add_vhost", name)
    rabbitmqctl(stack_state, "set_permissions", "-p", name, "peerlink", ".*", ".*", ".*")
    base = urlparse(stack_state["amqp"]["hub"])
    url = base._replace(path=f"/{name}").geturl()
    conn = amqp_connection(url)
    conn.connect()
    declare(conn.channel(), node_topology("it"))
    conn.close()
    yield url
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
