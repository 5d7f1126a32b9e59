"""A partner's safeguarding settings from the environment, and what e-mail each event calls for."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.safeguarding.configuration import MailSettings, timescales_from
from services.safeguarding.domain.deadlines import (
    DEFAULT_TIMESCALES,
    Timescales,
    escalation_times,
    within,
)
from services.safeguarding.notifications import NotificationOutbox
from shared.events import Actor, RecordedEvent

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_no_setting_means_the_default_timescales():
    assert timescales_from("") == Timescales()


def test_a_partner_changes_only_what_it_names():
    config = timescales_from(
        json.dumps(
            {
                "high": {
                    "acknowledge": {"hours": 1},
                    "escalate_after": [{"minutes": 30}, {"hours": 2}],
                },
                "standard": {"decide": {"working_days": 1}, "acknowledge": "end_of_working_day"},
            }
        )
    )
    assert config.policy("high").acknowledge == within(hours=1)
    assert config.policy("high").decide == DEFAULT_TIMESCALES["high"].decide
    assert config.policy("high").escalate_after == (within(minutes=30), within(hours=2))
    assert config.policy("standard").decide.working_days == 1
    assert config.policy("immediate") == DEFAULT_TIMESCALES["immediate"]


def test_seconds_are_allowed_for_short_local_tests():
    config = timescales_from(json.dumps({"immediate": {"acknowledge": {"seconds": 30}}}))
    assert config.policy("immediate").acknowledge.clock == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"urgent": {"acknowledge": {"hours": 1}}}, "'urgent' is not a severity"),
        (
            {"high": {"acknowledge": {"fortnights": 1}}},
            "high.acknowledge: unknown field fortnights",
        ),
        ({"high": {"decide": "soonish"}}, "high.decide"),
        ({"high": {"escalate_after": [{"hours": 1}]}}, "policies.high.escalate_after"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
    ],
)
def test_a_mistake_in_the_setting_fails_naming_it(setting, named):
    with pytest.raises(ValueError, match=named):
        timescales_from(json.dumps(setting))


def test_retries_back_off_exponentially_up_to_a_ceiling():
    mail = MailSettings.from_environment({})
    assert [mail.retry_after(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert mail.retry_after(20) == 300.0


def test_rung_addresses_come_from_the_environment():
    mail = MailSettings.from_environment(
        {
            "PEERLINK_PARTNER": "lslcs",
            "PEERLINK_SAFEGUARDING_RECIPIENTS": (
                "duty_lead=dsl@lslcs.example, head_of_service=hos@lslcs.example"
            ),
        }
    )
    assert mail.recipient("duty_lead") == "dsl@lslcs.example"
    assert mail.recipient("head_of_service") == "hos@lslcs.example"
    assert mail.recipient("deputy_lead") == "deputy-lead@lslcs.peerlink.test"
    assert mail.recipient("a_rung_added_later") == "dsl@lslcs.example"


def test_each_later_rung_is_told_after_the_one_below_it():
    times = escalation_times(AT, "high", Timescales())
    assert times == [AT, AT + timedelta(hours=1), AT + timedelta(hours=4)]


def event(event_type: str, payload: dict) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(),
        stream_type="concern",
        stream_id="c-1",
        version=2,
        position=7,
        event_type=event_type,
        schema_version=1,
        partner_id="leeds-mind",
        occurred_at=AT,
        recorded_at=AT,
        actor=Actor("system", "system"),
        correlation_id=uuid.uuid4(),
        causation_id=None,
        payload=payload,
    )


OUTBOX = NotificationOutbox(
    MailSettings.from_environment({"PEERLINK_SAFEGUARDING_INBOX_URL": "https://sg.example"})
)


def test_a_missed_deadline_emails_its_rung_a_link_and_no_more():
    escalated = event(
        "ConcernEscalated",
        {
            "deadline": "decide",
            "severity": "high",
            "due_at": AT.isoformat(),
            "rung": "deputy_lead",
            "step": 1,
            "escalated_at": AT.isoformat(),
        },
    )
    kind, deadline, step, rung, recipient, subject, body, message_id = OUTBOX.message_for(escalated)
    assert (kind, deadline, step, rung) == ("escalation", "decide", 1, "deputy_lead")
    assert recipient == "deputy-lead@leeds-mind.peerlink.test"
    assert "decision deadline" in subject
    assert "https://sg.example/safeguarding/concerns/c-1" in body
    assert message_id == f"<{escalated.event_id}.deputy_lead@leeds-mind.peerlink>"


def test_only_a_concern_with_immediate_risk_emails_when_raised():
    raised = {"immediate_risk": True, "person_id": str(uuid.uuid4())}
    message = OUTBOX.message_for(event("ConcernRaised", raised))
    assert message[0] == "immediate_risk" and message[3] == "duty_lead"
    assert raised["person_id"] not in message[5] + message[6]
    assert OUTBOX.message_for(event("ConcernRaised", {**raised, "immediate_risk": False})) is None
    assert OUTBOX.message_for(event("ConcernNoteAdded", {"text_id": str(uuid.uuid4())})) is None
