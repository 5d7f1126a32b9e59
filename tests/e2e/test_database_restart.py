"""PostgreSQL killed outright (SIGKILL to its postmaster) under a steady stream of referrals,
then started again once with the project's own command (`deploy/stack.py up`): while it is away
commands answer 503 with Retry-After, never 500, and the node worker and the safeguarding
service say so in /health and /metrics; once it is back every service answers every read
route without a 5xx, and every acknowledged referral is stored once and counted at the hub
once.

It restarts the database of the stack the tests run on and leaves it working: it runs at the
end, with the fuzzing (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import urljoin

import pytest
import requests

from services.referrals.service import ReferralsService
from services.reporting.service import ReportingService
from services.safeguarding.service import SafeguardingService
from services.sessions.service import SessionsService
from services.web.service import WebService
from shared.web import routes_of
from tests.conftest import ROOT, STACK, wait_for
from tests.disclosure import pseudonyms_of

pytestmark = pytest.mark.e2e

PARTNER = "leeds-mind"
# a source and a month no other test counts in, so the hub's count for them moves only with
# this stream (the hub counts a referral by the month it was received)
SOURCE = "clinical_step_down"
RECEIVED_ON = date(2003, 3, 3)
TIMEOUT = 15
# the stream's pace: two clients, each sending a referral as soon as the last was answered
CLIENTS = 2
# seconds of acknowledged commands before the kill, and of commands after the restart
BEFORE_SECONDS = 3.0
AFTER_SECONDS = 3.0
NODE_SERVICES = {
    "referrals": ReferralsService,
    "sessions": SessionsService,
    "safeguarding": SafeguardingService,
}
PARAM = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")
# whom a route is called as: the first of these it serves (a few sign-ins serve every route)
CALLERS = ("team_lead", "partner_admin", "safeguarding_lead", "alliance_analyst", "operator")


class ReferralStream:
    """Clients sending referrals (each registering its person) until stopped; every command
    carries a correlation id of its own, so its events can be found in the feed."""

    def __init__(self, url: str, headers: dict):
        self.url = url
        self.headers = headers
        self.answers: list[tuple[str, int, dict]] = []  # (correlation id, status, headers)
        self.stop = threading.Event()
        self.clients = [threading.Thread(target=self._send, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self):
        for client in self.clients:
            client.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for client in self.clients:
            client.join(timeout=2 * TIMEOUT)

    def _send(self) -> None:
        while not self.stop.is_set():
            correlation = str(uuid.uuid4())
            body = {
                "person": {
                    "full_name": f"Restart {correlation[:8]}",
                    "date_of_birth": "1984-02-03",
                },
                "source": SOURCE,
                "received_on": RECEIVED_ON.isoformat(),
            }
            try:
                response = requests.post(
                    f"{self.url}/referrals",
                    json=body,
                    headers={**self.headers, "X-Correlation-Id": correlation},
                    timeout=TIMEOUT,
                )
                answer = (correlation, response.status_code, dict(response.headers))
                if response.status_code >= 500:
                    answer[2]["body"] = response.text
            except requests.RequestException as error:
                answer = (correlation, 0, {"error": repr(error)})
            self.answers.append(answer)
            if answer[1] != 201:
                time.sleep(0.1)  # a client waits a little after a refusal

    def acknowledged(self) -> list[str]:
        return [correlation for correlation, status, _ in self.answers if status == 201]


def hub_count(endpoints, auth) -> int:
    response = requests.get(
        f"{endpoints['hub']['reporting']}/internal/referral-counts",
        params={"partner": PARTNER},
        headers=auth("service", "alliance"),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    month = RECEIVED_ON.replace(day=1).isoformat()
    return sum(
        row["referrals"]
        for row in response.json()["rows"]
        if row["source"] == SOURCE and row["month"] == month
    )


def feed_after(endpoints, auth, after: int) -> tuple[list[dict], int]:
    """Every event of the partner's referrals store after `after`, and where it ends."""
    events = []
    while True:
        response = requests.get(
            f"{endpoints['partners'][PARTNER]['referrals']}/events",
            params={"after": after, "limit": 5000},
            headers=auth("service", PARTNER),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        events += page["events"]
        if page["next_after"] == after:
            return events, after
        after = page["next_after"]


def postmaster_pid() -> int:
    return int((ROOT / "run" / STACK / "pg" / "data" / "postmaster.pid").read_text().split()[0])


def health(url: str) -> dict:
    try:
        return requests.get(f"{url}/health", timeout=TIMEOUT).json()
    except (requests.RequestException, ValueError):
        return {}


def caller(spec) -> str:
    return next((role for role in CALLERS if role in spec.roles), spec.roles[0])


def path_of(spec) -> str:
    """The route's path with a made-up id (of no record) for each parameter."""
    return PARAM.sub(lambda m: "1" if m.group(1) == "int" else str(uuid.uuid4()), spec.path)


def web_session(tokens, web_url: str, partner: str) -> requests.Session:
    """A team lead signed in at the partner's web app, as a browser would be."""
    username, password = tokens.account("team_lead", partner)
    http = requests.Session()
    form = http.get(f"{web_url}/auth/login", timeout=TIMEOUT)
    action = re.search(r'<form method="post" action="([^"]+)"', form.text)
    assert action, form.text[:500]
    http.post(
        urljoin(form.url, action.group(1)),
        data={"username": username, "password": password},
        timeout=TIMEOUT,
    )
    assert any(cookie.name.endswith("peerlink_session") for cookie in http.cookies)
    return http


def read_calls(endpoints, auth, tokens) -> tuple[list, list]:
    """(URL, session, headers) for every GET route of every process of the alliance, as
    someone the route serves; apart, the web app's sign-in routes (one of them signs out)."""
    calls, last = [], []
    plain = requests.Session()
    for partner, node in endpoints["partners"].items():
        for service, cls in NODE_SERVICES.items():
            for spec in routes_of(cls):
                if spec.method == "GET":
                    headers = {} if spec.public else auth(caller(spec), partner)
                    calls.append((node[service] + path_of(spec), plain, headers))
        signed_in = web_session(tokens, node["web"], partner)
        for spec in routes_of(WebService):
            if spec.method == "GET":
                headers = {} if spec.public else auth(caller(spec), partner)
                call = (node["web"] + path_of(spec), signed_in, headers)
                (last if spec.path.startswith("/auth/") else calls).append(call)
        for path in ("/health", "/openapi.json", "/metrics"):
            calls.append((node["worker"] + path, plain, auth("operator", partner)))
    for spec in routes_of(ReportingService):
        if spec.method == "GET":
            headers = {} if spec.public else auth(caller(spec), "alliance")
            calls.append((endpoints["hub"]["reporting"] + path_of(spec), plain, headers))
    for path in ("/health", "/openapi.json", "/metrics"):
        calls.append((endpoints["hub"]["worker"] + path, plain, auth("operator", "alliance")))
    return calls, last


def server_errors(calls: tuple[list, list]) -> list[str]:
    """Each route that answered a 5xx; the sign-in routes are called last, one after another."""

    def status(call) -> tuple[str, int]:
        url, http, headers = call
        response = http.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        return url, response.status_code

    reads, signing_in = calls
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(status, reads))
    answers += [status(call) for call in signing_in]
    return [f"{code} {url}" for url, code in answers if code >= 500]


def metric(url: str, headers: dict, name: str, component: str) -> float | None:
    text = requests.get(f"{url}/metrics", headers=headers, timeout=TIMEOUT).text
    found = re.search(rf'^{name}\{{component="{component}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def test_a_database_killed_under_load_and_started_again_loses_and_doubles_nothing(
    endpoints, auth, tokens
):
    node = endpoints["partners"][PARTNER]
    operator = auth("operator", PARTNER)
    outages = metric(node["worker"], operator, "peerlink_database_outages_total", "relay-referrals")
    counted_before = hub_count(endpoints, auth)
    _, head = feed_after(endpoints, auth, 0)
    # every process holds pooled connections, which die with the server
    processes = [*endpoints["hub"].values()]
    processes += [url for node in endpoints["partners"].values() for url in node.values()]
    assert all(health(url).get("status") == "ok" for url in processes)

    with ReferralStream(node["referrals"], auth("team_lead", PARTNER)) as stream:
        wait_for(lambda: len(stream.acknowledged()) >= 10, timeout=30, message="referrals")
        time.sleep(BEFORE_SECONDS)
        # when the database is killed outright
        os.kill(postmaster_pid(), signal.SIGKILL)

        # then while it is away the node says so: the relay and the deadline timer wait for it
        def waiting(url: str, part: str) -> bool:
            return str(health(url).get("checks", {}).get(part, "")).startswith(
                "unavailable: database"
            )

        wait_for(lambda: waiting(node["worker"], "relay-referrals"), timeout=20)
        wait_for(lambda: waiting(node["safeguarding"], "deadline-timer"), timeout=20)
        assert metric(node["worker"], operator, "peerlink_database_up", "relay-referrals") == 0
        wait_for(lambda: any(status == 503 for _, status, _ in stream.answers), timeout=20)

        # when it is started again with the project's own command, once
        started = subprocess.run(
            [
                sys.executable,
                str(ROOT / "deploy" / "stack.py"),
                "up",
                "--stack",
                STACK,
                "--no-demo",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        acknowledged_at_restart = len(stream.acknowledged())
        time.sleep(AFTER_SECONDS)
        wait_for(
            lambda: len(stream.acknowledged()) > acknowledged_at_restart + 5,
            timeout=30,
            message="referrals acknowledged after the restart",
        )

    # then no command was answered 500: refused with 503 and Retry-After while it was away
    statuses = Counter(status for _, status, _ in stream.answers)
    assert set(statuses) <= {201, 503}, [a for a in stream.answers if a[1] not in (201, 503)]
    for _, status, headers in stream.answers:
        if status == 503:
            assert int(headers["Retry-After"]) > 0

    # every service answers every read route without a 5xx
    assert server_errors(read_calls(endpoints, auth, tokens)) == []

    # every acknowledged referral is stored once; none is stored twice (the feed the hub reads
    # names each request by the partner's pseudonym for it)
    events, _ = feed_after(endpoints, auth, head)
    pseudonyms = pseudonyms_of(PARTNER)
    sent_as = {
        pseudonyms.uuid("correlation", correlation): correlation
        for correlation, _, _ in stream.answers
    }
    received = Counter(
        sent_as.get(event["correlation_id"])
        for event in events
        if event["event_type"] == "ReferralReceived"
    )
    sent = set(sent_as.values())
    ours = {correlation: n for correlation, n in received.items() if correlation in sent}
    assert all(n == 1 for n in ours.values()), {c: n for c, n in ours.items() if n > 1}
    assert set(stream.acknowledged()) <= set(ours)

    # and counted at the hub once
    wait_for(
        lambda: hub_count(endpoints, auth) == counted_before + len(ours),
        timeout=60,
        message=f"the hub to count {len(ours)} referrals more than {counted_before}",
    )

    # the node worker is whole again, and its metrics kept the outage
    wait_for(lambda: health(node["worker"]).get("status") == "ok", timeout=30)
    assert metric(node["worker"], operator, "peerlink_database_up", "relay-referrals") == 1
    after = metric(node["worker"], operator, "peerlink_database_outages_total", "relay-referrals")
    assert after >= (outages or 0) + 1
