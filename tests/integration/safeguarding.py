"""The safeguarding service as a process of a test's own, on a fresh node database, with a real
SMTP server (aiosmtpd) in the test process: for tests that need short timescales, restarts or a
mail server that goes down, none of which the shared stack can give them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import psycopg2
import pytest
import requests
from aiosmtpd.controller import Controller

from deploy.mailsink import Mailbox
from deploy.migrations import migrate_node
from deploy.signin import Tokens
from deploy.stack import service_command
from shared.config import node_audience
from tests.conftest import ROOT, wait_for

# A high-severity concern must be acknowledged within 2 s here; the deputy is told 1 s after the
# deadline and the head of service 2 s after it.
TIMESCALES = {
    "high": {"acknowledge": {"seconds": 2}, "escalate_after": [{"seconds": 1}, {"seconds": 2}]}
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def node_database(fresh_database):
    # a throwaway database owned by the test's login: nobody else logs in to it
    migrate_node(fresh_database, app_role="PUBLIC")
    return fresh_database


class MailServer:
    """A real SMTP server (aiosmtpd) on a port of its own, stopped and started like a real one."""

    def __init__(self, path: Path):
        self.path = path
        self.port = free_port()
        self.controller = None

    def start(self) -> None:
        self.controller = Controller(Mailbox(self.path), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mailbox(tmp_path):
    server = MailServer(tmp_path / "mailbox.jsonl")
    server.start()
    yield server
    server.stop()


class ServiceProcess:
    """The safeguarding service as the stack runs it (deploy/stack.py service_command)."""

    def __init__(self, stack_state, dsn: str, smtp_port: int, log: Path, **env):
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PEERLINK_PARTNER": "leeds-mind",
            "PEERLINK_SERVICE": "safeguarding",
            "PEERLINK_DATABASE_URL": dsn,
            "PEERLINK_AMQP_URL": stack_state["amqp"]["leeds-mind"],
            "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{self.port}",
            "PEERLINK_OIDC_ISSUER": stack_state["endpoints"]["identity"]["leeds-mind"],
            "PEERLINK_OIDC_AUDIENCE": node_audience("leeds-mind"),
            "PEERLINK_HUB_ISSUER": stack_state["endpoints"]["identity"]["alliance"],
            "PEERLINK_MASTER_KEY_DIR": stack_state["master_key_dirs"]["leeds-mind"],
            # the partner's key for the pseudonyms its node sends the hub, as the stack made it
            "PEERLINK_HUB_PSEUDONYM_KEY_FILE": str(
                ROOT / "run" / stack_state["stack"] / "secrets" / "hub-pseudonyms.leeds-mind.key"
            ),
            "PEERLINK_SMTP_PORT": str(smtp_port),
            "PEERLINK_SAFEGUARDING_TIMESCALES": json.dumps(TIMESCALES),
            "PEERLINK_SAFEGUARDING_TICK_SECONDS": "0.2",
            "PEERLINK_SAFEGUARDING_SEND_SECONDS": "0.2",
            **env,
        }
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **env) -> ServiceProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                service_command("safeguarding"),
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, timeout=60, message=f"the service on {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:  # 503 while the broker is unreachable still means the service is up
            return requests.get(self.url + "/health", timeout=2).status_code in (200, 503)
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def services(stack_state, node_database, mailbox, tmp_path):
    started = []

    def make(**env) -> ServiceProcess:
        service = ServiceProcess(
            stack_state, node_database, mailbox.port, tmp_path / f"svc{len(started)}.log", **env
        )
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()


_TOKENS: dict[str, Tokens] = {}


def headers(stack_state, role: str = "peer_worker", user: str = "worker-it") -> dict:
    tokens = _TOKENS.setdefault(stack_state["stack"], Tokens(stack_state))
    return tokens.headers(role, "leeds-mind", user)


def rows(dsn: str, sql: str, *params) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()
