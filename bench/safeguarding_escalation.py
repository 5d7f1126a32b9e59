"""Time from a safeguarding deadline passing to the escalation e-mail being accepted by the SMTP
server, over 200 concerns: the safeguarding service runs as the stack runs it
(its deadline timer and e-mail sender at their default intervals unless given), on a scratch
database, with an aiosmtpd server in this process timestamping each message as it accepts it.

Each concern is raised over HTTP with a high severity whose acknowledgement is due
`--lead-seconds` later (later rungs far off, so each concern sends exactly one e-mail); the
delay is the SMTP server's acceptance time minus the concern's `acknowledge_by`.

    PEERLINK_STACK=dev .venv/bin/python bench/safeguarding_escalation.py [--concerns 200]
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psycopg2
import requests
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.referrals_http import percentile  # noqa: E402
from bench.scratch import admin_dsn, arguments, scratch_database, stack_state  # noqa: E402
from deploy.mailsink import Mailbox, read_mailbox  # noqa: E402
from deploy.migrations import migrate_node  # noqa: E402
from deploy.signin import Tokens  # noqa: E402
from deploy.stack import service_command  # noqa: E402

FORM = {
    "age_group": "adult",
    "categories": ["self_neglect"],
    "severity": "high",
    "immediate_risk": False,
    "what_happened": "Bench concern: nothing real happened.",
    "actions_taken": ["none"],
    "consent_given": True,
    "person_description": "Bench person",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(state: dict, dsn: str, smtp_port: int, args, log: Path):
    port = free_port()
    timescales = {
        "high": {
            "acknowledge": {"seconds": args.lead_seconds},
            "escalate_after": [{"hours": 24}, {"hours": 48}],
        }
    }
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PEERLINK_PARTNER": "leeds-mind",
        "PEERLINK_SERVICE": "safeguarding",
        "PEERLINK_DATABASE_URL": dsn,
        "PEERLINK_AMQP_URL": state["amqp"]["leeds-mind"],
        "PEERLINK_HTTP_ADDRESS": f"127.0.0.1:{port}",
        "PEERLINK_OIDC_ISSUER": state["endpoints"]["identity"]["leeds-mind"],
        "PEERLINK_OIDC_AUDIENCE": "urn:peerlink:node:leeds-mind",
        "PEERLINK_HUB_ISSUER": state["endpoints"]["identity"]["alliance"],
        "PEERLINK_MASTER_KEY_DIR": state["master_key_dirs"]["leeds-mind"],
        # the partner's key for the pseudonyms its node sends the hub, as the stack made it
        "PEERLINK_HUB_PSEUDONYM_KEY_FILE": str(
            ROOT / "run" / state["stack"] / "secrets" / "hub-pseudonyms.leeds-mind.key"
        ),
        "PEERLINK_SMTP_PORT": str(smtp_port),
        "PEERLINK_SAFEGUARDING_TIMESCALES": json.dumps(timescales),
    }
    if args.tick:
        env["PEERLINK_SAFEGUARDING_TICK_SECONDS"] = str(args.tick)
    if args.send:
        env["PEERLINK_SAFEGUARDING_SEND_SECONDS"] = str(args.send)
    with log.open("ab") as out:
        process = subprocess.Popen(
            service_command("safeguarding"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service stopped:\n{log.read_text()[-3000:]}")
        try:
            requests.get(url + "/health", timeout=2)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("the service did not start in 60 s")


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--concerns", type=int, default=200)
    parser.add_argument("--lead-seconds", type=float, default=10.0)
    parser.add_argument("--tick", type=float, help="deadline timer interval (service default)")
    parser.add_argument("--send", type=float, help="e-mail sender interval (service default)")
    args = parser.parse_args()
    state = stack_state()
    tokens = Tokens(state)
    token = tokens.token("peer_worker", "leeds-mind", "bench-worker")
    work = Path(tempfile.mkdtemp(prefix="peerlink-bench-"))
    mailbox = work / "mailbox.jsonl"
    controller = Controller(Mailbox(mailbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    with scratch_database(admin_dsn(args)) as dsn:
        migrate_node(dsn, app_role="PUBLIC")
        process, url = start_service(state, dsn, controller.port, args, work / "service.log")
        try:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            due: dict[str, float] = {}
            started = time.monotonic()
            for _ in range(args.concerns):
                response = session.post(url + "/concerns", json=FORM, timeout=15)
                response.raise_for_status()
                body = response.json()
                due[body["concern_id"]] = datetime.fromisoformat(body["acknowledge_by"]).timestamp()
            raising = time.monotonic() - started
            if raising > args.lead_seconds:
                print(f"warning: raising took {raising:.1f} s, longer than --lead-seconds")
            wait_until = max(due.values()) + 120
            while len(read_mailbox(mailbox)) < args.concerns and time.time() < wait_until:
                time.sleep(0.2)
            messages = read_mailbox(mailbox)
            recorded = dict(
                _rows(
                    dsn,
                    "SELECT stream_id, recorded_at FROM safeguarding.events"
                    " WHERE event_type = 'DeadlineMissed'",
                )
            )
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
            controller.stop()
    delays, detected, sending = [], [], []
    for message in messages:
        concern_id = message["body"].split("/safeguarding/concerns/")[1].split()[0]
        delays.append(message["received_at"] - due[concern_id])
        if concern_id in recorded:
            at = recorded[concern_id].timestamp()
            detected.append(at - due[concern_id])
            sending.append(message["received_at"] - at)
    print(
        f"{len(due)} concerns raised over HTTP in {raising:.1f} s; acknowledgement due "
        f"{args.lead_seconds:g} s after raising; timer every {args.tick or 'default (1)'} s, "
        f"sender every {args.send or 'default (0.5)'} s"
    )
    print(f"{len(messages)} escalation e-mails accepted by the SMTP server")
    if delays:
        print(
            f"deadline passed -> e-mail accepted: p50 {percentile(delays, 50):.3f} s, "
            f"p99 {percentile(delays, 99):.3f} s, min {min(delays):.3f} s, "
            f"max {max(delays):.3f} s"
        )
        print(
            f"  of which the timer recording DeadlineMissed: p50 {percentile(detected, 50):.3f} s,"
            f" p99 {percentile(detected, 99):.3f} s; from its commit to the SMTP server's"
            f" acceptance: p50 {percentile(sending, 50):.3f} s, p99 {percentile(sending, 99):.3f} s"
        )


def _rows(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


if __name__ == "__main__":
    main()
