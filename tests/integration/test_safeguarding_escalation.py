"""Safeguarding deadlines and e-mail against real PostgreSQL, a real SMTP server (aiosmtpd) and
the real service process: a deadline that passes while the service is stopped escalates on
restart, each rung e-mailed once and each event recorded once, even with two processes racing;
an SMTP server that is down is retried with backoff, every attempt recorded.

The shared RabbitMQ of the test stack is never stopped (other tests use it): the service is
started again with its broker address pointing at a closed port, which shows that escalation
does not wait for the broker to come back.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import requests

from deploy.mailsink import read_mailbox
from tests.conftest import wait_for

pytest.register_assert_rewrite("tests.integration.safeguarding")
from tests.integration.safeguarding import free_port, headers, rows  # noqa: E402

pytestmark = pytest.mark.integration
# the fixtures: node_database, mailbox, services
pytest_plugins = ["tests.integration.safeguarding"]

FORM = {
    "age_group": "adult",
    "categories": ["neglect_acts_of_omission"],
    "severity": "high",
    "immediate_risk": False,
    "what_happened": "Has not been seen at home for a week; post piling up.",
    "actions_taken": ["gp_informed"],
    "consent_given": False,
    "without_consent_reason": "could_not_be_asked",
    "person_description": "Man from the allotment group",
}


def test_a_deadline_passing_while_the_service_is_stopped_escalates_once_on_restart(
    stack_state, node_database, mailbox, services
):
    path = mailbox.path
    first = services().start()
    response = requests.post(
        first.url + "/concerns", json=FORM, headers=headers(stack_state), timeout=10
    )
    assert response.status_code == 201, response.text
    concern_id = response.json()["concern_id"]
    first.stop()

    last_rung_due = time.time() + 5  # acknowledge deadline 2 s, head of service 2 s after it
    wait_for(lambda: time.time() > last_rung_due, timeout=10, message="every rung falling due")
    assert read_mailbox(path) == []  # nobody was running to notice

    # two processes at once, neither with a broker: they race for the same escalations
    restarted_at = time.time()
    dead_broker = f"amqp://peerlink:peerlink@127.0.0.1:{free_port()}/leeds-mind"
    racing = [services(PEERLINK_AMQP_URL=dead_broker).start() for _ in range(2)]

    messages = wait_for(
        lambda: (found := read_mailbox(path)) and len(found) >= 3 and found,
        timeout=30,
        message="three escalation e-mails",
    )
    accepted_after = max(m["received_at"] for m in messages) - restarted_at
    print(f"escalation e-mails accepted {accepted_after:.1f} s after the restart began")
    assert sorted(m["rcpt_tos"][0] for m in messages) == [
        "deputy-lead@leeds-mind.peerlink.test",
        "duty-lead@leeds-mind.peerlink.test",
        "head-of-service@leeds-mind.peerlink.test",
    ]
    for message in messages:
        assert f"/safeguarding/concerns/{concern_id}" in message["body"]
        assert "allotment" not in message["body"] and "post piling" not in message["body"]

    def recorded() -> Counter:
        return Counter(
            dict(
                rows(
                    node_database,
                    "SELECT event_type, count(*) FROM safeguarding.events"
                    " WHERE stream_id = %s GROUP BY event_type",
                    concern_id,
                )
            )
        )

    wait_for(lambda: recorded()["EscalationNotified"] == 3, message="three notifications recorded")
    for service in racing:
        service.stop()
    services(PEERLINK_AMQP_URL=dead_broker).start()
    # nothing more may happen: watch a window of many ticks of both timers
    window_ends = time.time() + 2
    wait_for(lambda: time.time() > window_ends, timeout=5)

    assert len(read_mailbox(path)) == 3
    assert recorded() == Counter(
        {"ConcernRaised": 1, "DeadlineMissed": 1, "ConcernEscalated": 2, "EscalationNotified": 3}
    )
    assert rows(
        node_database,
        "SELECT status, count(*) FROM safeguarding.notification_outbox GROUP BY status",
    ) == [("sent", 3)]
    listed = rows(
        node_database,
        "SELECT escalation_step, escalated_to, check_at, deadlines_missed"
        " FROM safeguarding.concern_list WHERE concern_id = %s",
        concern_id,
    )
    assert listed == [(2, "head_of_service", None, 1)]


def test_an_smtp_server_that_is_down_is_retried_with_backoff_and_every_attempt_recorded(
    stack_state, node_database, mailbox, services
):
    path = mailbox.path
    # started while the mail server holds its port, so the service cannot be given it
    service = services(PEERLINK_SMTP_FIRST_RETRY_SECONDS="0.3").start()
    mailbox.stop()  # the organisation's mail server is down
    response = requests.post(
        service.url + "/concerns",
        json={**FORM, "severity": "immediate", "immediate_risk": True},
        headers=headers(stack_state),
        timeout=10,
    )
    assert response.status_code == 201, response.text

    def failures() -> int:
        return rows(
            node_database,
            "SELECT count(*) FROM safeguarding.notification_attempts WHERE outcome = 'failed'",
        )[0][0]

    wait_for(lambda: failures() >= 3, timeout=20, message="three failed attempts")
    [(next_attempt, attempts, error)] = rows(
        node_database,
        "SELECT next_attempt_at - now(), attempts, last_error"
        " FROM safeguarding.notification_outbox",
    )
    assert attempts >= 3 and "Connection" in error
    assert next_attempt.total_seconds() <= 0.3 * 2 ** (attempts - 1)
    mailbox.start()  # the mail server is back, on the same port
    [message] = wait_for(lambda: read_mailbox(path), timeout=20, message="the e-mail delivered")
    assert message["kind"] == "immediate_risk"
    outcomes = [
        outcome
        for (outcome,) in rows(
            node_database, "SELECT outcome FROM safeguarding.notification_attempts ORDER BY id"
        )
    ]
    assert outcomes[-1] == "sent" and set(outcomes[:-1]) == {"failed"}
    gaps = rows(
        node_database,
        "SELECT extract(epoch FROM at - lag(at) OVER (ORDER BY id))"
        " FROM safeguarding.notification_attempts ORDER BY id",
    )[1:]
    # each wait at least the backoff before it (0.3 s, 0.6 s, 1.2 s ...), within a tick
    for index, (gap,) in enumerate(gaps[:3]):
        assert float(gap) >= 0.3 * 2**index - 0.05, gaps


def test_what_the_timer_records_never_makes_a_leads_version_stale(
    stack_state, node_database, mailbox, services
):
    service = services().start()
    worker, lead = headers(stack_state), headers(stack_state, "safeguarding_lead", "lead-it")
    raised = requests.post(service.url + "/concerns", json=FORM, headers=worker, timeout=10)
    concern_id = raised.json()["concern_id"]

    def escalated():
        concern = requests.get(f"{service.url}/concerns/{concern_id}", headers=lead, timeout=10)
        return concern.json()["version"] >= 3 and concern.json()

    seen = wait_for(escalated, timeout=20, message="the deadline missed and its e-mail recorded")
    acknowledged = requests.post(
        f"{service.url}/concerns/{concern_id}/acknowledge",
        headers={**lead, "If-Match": '"1"'},  # the version the lead saw before the timer's
        timeout=10,
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["version"] > seen["version"]
    stale = requests.post(
        f"{service.url}/concerns/{concern_id}/decide",
        json={"decision": "police"},
        headers={**lead, "If-Match": f'"{seen["version"]}"'},  # before the acknowledgement
        timeout=10,
    )
    assert stale.status_code == 409, stale.text


def test_a_partner_may_stop_after_some_attempts_and_the_last_is_recorded_as_given_up(
    stack_state, node_database, mailbox, services
):
    service = services(
        PEERLINK_SMTP_FIRST_RETRY_SECONDS="0.2", PEERLINK_SMTP_MAX_ATTEMPTS="2"
    ).start()
    mailbox.stop()
    response = requests.post(
        service.url + "/concerns",
        json={**FORM, "severity": "immediate", "immediate_risk": True},
        headers=headers(stack_state),
        timeout=10,
    )
    assert response.status_code == 201, response.text

    def given_up():
        return rows(node_database, "SELECT status FROM safeguarding.notification_outbox") == [
            ("given_up",)
        ]

    wait_for(given_up, timeout=15, message="the e-mail given up")
    outcomes = rows(
        node_database, "SELECT outcome FROM safeguarding.notification_attempts ORDER BY id"
    )
    assert outcomes == [("failed",), ("given_up",)]


def test_an_escalation_not_yet_sent_when_the_lead_acts_is_not_sent(
    stack_state, node_database, mailbox, services
):
    service = services(PEERLINK_SMTP_FIRST_RETRY_SECONDS="0.3").start()
    mailbox.stop()  # the escalations wait in the outbox
    raised = requests.post(
        service.url + "/concerns", json=FORM, headers=headers(stack_state), timeout=10
    )
    concern_id = raised.json()["concern_id"]

    def all_rungs_waiting():
        return rows(
            node_database,
            "SELECT count(*) FROM safeguarding.notification_outbox WHERE status = 'pending'",
        ) == [(3,)]

    wait_for(all_rungs_waiting, timeout=20, message="three escalations waiting to be sent")
    lead = headers(stack_state, "safeguarding_lead", "lead-it")
    acknowledged = requests.post(
        f"{service.url}/concerns/{concern_id}/acknowledge", headers=lead, timeout=10
    )
    assert acknowledged.status_code == 200, acknowledged.text
    mailbox.start()

    def settled():
        return rows(
            node_database,
            "SELECT status, count(*) FROM safeguarding.notification_outbox GROUP BY status",
        ) == [("not_needed", 3)]

    wait_for(settled, timeout=20, message="the escalations found not needed")
    assert read_mailbox(mailbox.path) == []
