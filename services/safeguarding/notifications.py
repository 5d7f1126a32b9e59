"""Safeguarding e-mail: an outbox row written in the transaction of the event that calls for it
(an immediate-risk concern raised, a deadline missed, an escalation), and the sender that
delivers rows over SMTP with retries and exponential backoff, recording every attempt.

A message names nobody: it says what a lead must do and links to the concern, where signing
in shows the rest. Delivery is at least once: a crash after the SMTP server accepted a message
but before its row was marked sent sends it again, with the same Message-ID, so a mail client
shows one message.
"""

from __future__ import annotations

import contextlib
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from nameko.extensions import DependencyProvider

from services.safeguarding.configuration import MailSettings
from shared import metrics
from shared.db import Database
from shared.events import RecordedEvent

SCHEMA = "safeguarding"
# a concern's page in the node's web app, where the lead acts on it
CONCERN_PAGE_PATH = "/safeguarding/concerns/"

DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.notification_outbox (
    id               bigserial PRIMARY KEY,
    partner_id       text NOT NULL,
    concern_id       text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('immediate_risk', 'escalation')),
    deadline         text,
    step             integer,
    rung             text NOT NULL,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    message_id       text NOT NULL UNIQUE,
    cause_event_id   uuid NOT NULL,
    due_at           timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'sent', 'not_needed', 'given_up')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    last_error       text
);
CREATE INDEX IF NOT EXISTS notification_outbox_due ON {SCHEMA}.notification_outbox
    (next_attempt_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS {SCHEMA}.notification_attempts (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES {SCHEMA}.notification_outbox,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    outcome     text NOT NULL CHECK (outcome IN ('sent', 'failed', 'given_up', 'not_needed')),
    error       text,
    seconds     double precision
);
"""

TABLES = ("notification_outbox", "notification_attempts")
SEQUENCES = ("notification_outbox_id_seq", "notification_attempts_id_seq")

_WHAT = {
    "acknowledge": "has not been acknowledged by a lead in time",
    "decide": "is waiting for a lead's decision past its deadline",
}
_RUNG_WORDS = {
    "duty_lead": "the duty safeguarding lead",
    "deputy_lead": "the deputy safeguarding lead",
    "head_of_service": "the head of service",
}


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    concern_id: str
    deadline: str | None
    step: int | None
    recipient: str
    subject: str
    body: str
    message_id: str
    attempts: int
    due_at: datetime


class NotificationOutbox:
    """A projector: the messages an event calls for, written with the event or not at all."""

    name = "notification_outbox"

    def __init__(self, settings: MailSettings):
        self.settings = settings

    def __call__(self, cur, events: list[RecordedEvent]) -> None:
        for event in events:
            message = self.message_for(event)
            if message is not None:
                cur.execute(
                    f"INSERT INTO {SCHEMA}.notification_outbox (partner_id, concern_id, kind,"
                    " deadline, step, rung, recipient, subject, body, message_id,"
                    " cause_event_id, due_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                    " %s, %s) ON CONFLICT (message_id) DO NOTHING",
                    (
                        event.partner_id,
                        event.stream_id,
                        *message,
                        str(event.event_id),
                        event.occurred_at,
                    ),
                )

    def message_for(self, event: RecordedEvent) -> tuple | None:
        p = event.payload
        link = f"{self.settings.inbox_url}{CONCERN_PAGE_PATH}{event.stream_id}"
        if event.event_type == "ConcernRaised" and p["immediate_risk"]:
            rung = "duty_lead"
            subject = "Safeguarding: a concern with immediate risk has been raised"
            what = "A safeguarding concern with a person at immediate risk has just been raised."
            deadline, step = None, None
        elif event.event_type in ("DeadlineMissed", "ConcernEscalated"):
            rung, deadline, step = p["rung"], p["deadline"], p.get("step", 0)
            verb = "acknowledgement" if deadline == "acknowledge" else "decision"
            subject = f"Safeguarding: a concern's {verb} deadline has passed"
            what = (
                f"A safeguarding concern of {p['severity']} severity {_WHAT[deadline]}. "
                f"It is escalated to you as {_RUNG_WORDS.get(rung, rung.replace('_', ' '))}."
            )
        else:
            return None
        kind = "immediate_risk" if deadline is None else "escalation"
        body = (
            f"{what}\n\nOpen the concern (sign-in needed): {link}\n\n"
            "This message names nobody on purpose. Please do not reply with details.\n"
        )
        message_id = f"<{event.event_id}.{rung}@{event.partner_id}.peerlink>"
        recipient = self.settings.recipient(rung)
        return kind, deadline, step, rung, recipient, subject, body, message_id


class SmtpSession:
    """One SMTP session for a batch of messages (a connection per message costs more than the
    sending), opened on first use and opened again after a failure."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def send(self, notification: Notification) -> None:
        """One message; raises on any refusal or network failure."""
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = notification.recipient
        message["Subject"] = notification.subject
        message["Message-ID"] = notification.message_id
        message["X-Peerlink-Kind"] = notification.kind
        message.set_content(notification.body)
        try:
            if self.smtp is None:
                self.smtp = smtplib.SMTP(
                    self.settings.smtp_host,
                    self.settings.smtp_port,
                    # a fixed name spares a reverse DNS lookup of this host per session
                    local_hostname="peerlink",
                    timeout=self.settings.timeout_seconds,
                )
            self.smtp.send_message(message)
        except (smtplib.SMTPException, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.smtp.quit()
            self.smtp = None


class Smtp(DependencyProvider):
    """Opens the SMTP sessions the mail sender sends through, to the relay the service's mail
    settings name: each worker gets a function returning a new session. A test replaces this
    provider to catch or refuse what is sent without a mail server."""

    def __init__(self, mail_of: Callable[[], MailSettings]):
        self.mail_of = mail_of

    def setup(self):
        self.mail = self.mail_of()

    def get_dependency(self, worker_ctx):
        return lambda: SmtpSession(self.mail)


def send_due(
    db: Database,
    settings: MailSettings,
    partner_id: str,
    is_still_needed: Callable[[Notification], bool] = lambda n: True,
    batch: int = 20,
    is_stopping: Callable[[], bool] = lambda: False,
    open_session: Callable[[], SmtpSession] | None = None,
) -> list[Notification]:
    """Send every notification due now, a batch per transaction (so a crash repeats at most one
    batch); returns those the SMTP server accepted. Rows are locked (SKIP LOCKED) while they are
    sent, so two senders never send one row at once. Once the service `is_stopping`, the batch
    in hand is the last: the rest stay due for the next start. `open_session` gives the SMTP
    session (the service's `Smtp` provider, which a test may replace)."""
    sent: list[Notification] = []
    session = open_session() if open_session is not None else SmtpSession(settings)
    with contextlib.closing(session):
        while not is_stopping() and _send_batch(
            db, settings, partner_id, is_still_needed, batch, session, sent
        ):
            pass
    return sent


def _send_batch(db, settings, partner_id, is_still_needed, batch, session, sent) -> bool:
    """One batch; True when it was full, so more may be due."""
    with db.transaction() as cur:
        cur.execute(
            f"SELECT id, kind, concern_id, deadline, step, recipient, subject, body, message_id,"
            f" attempts, due_at FROM {SCHEMA}.notification_outbox"
            f" WHERE partner_id = %s AND status = 'pending' AND next_attempt_at <= now()"
            f" ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            (partner_id, batch),
        )
        due = [Notification(*row) for row in cur.fetchall()]
        for notification in due:
            if not is_still_needed(notification):
                _record(cur, notification, "not_needed", "not_needed", None, None)
                continue
            started = time.perf_counter()
            try:
                session.send(notification)
            except (smtplib.SMTPException, OSError) as error:
                seconds = time.perf_counter() - started
                attempts = notification.attempts + 1
                reason = f"{type(error).__name__}: {error}"[:500]
                if settings.max_attempts and attempts >= settings.max_attempts:
                    _record(cur, notification, "given_up", "given_up", reason, seconds)
                else:
                    _record(cur, notification, "failed", "pending", reason, seconds)
                    cur.execute(
                        f"UPDATE {SCHEMA}.notification_outbox SET next_attempt_at ="
                        " now() + make_interval(secs => %s) WHERE id = %s",
                        (settings.retry_after(attempts), notification.id),
                    )
                continue
            _record(cur, notification, "sent", "sent", None, time.perf_counter() - started)
            sent.append(notification)
    return len(due) == batch


def _record(cur, notification: Notification, outcome: str, status: str, error, seconds) -> None:
    tried = outcome in ("sent", "failed", "given_up")
    cur.execute(
        f"INSERT INTO {SCHEMA}.notification_attempts (outbox_id, outcome, error, seconds)"
        " VALUES (%s, %s, %s, %s)",
        (notification.id, outcome, error, seconds),
    )
    cur.execute(
        f"UPDATE {SCHEMA}.notification_outbox SET status = %s, attempts = attempts + %s,"
        " last_error = coalesce(%s, last_error),"
        " sent_at = CASE WHEN %s THEN clock_timestamp() ELSE sent_at END WHERE id = %s",
        (status, int(tried), error, outcome == "sent", notification.id),
    )
    metrics.NOTIFICATIONS.labels("safeguarding", notification.kind, outcome).inc()
    if outcome == "sent":
        delay = max(time.time() - notification.due_at.timestamp(), 0.0)
        metrics.NOTIFICATION_DELAY_SECONDS.labels("safeguarding", notification.kind).observe(delay)
