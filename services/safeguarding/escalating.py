"""The safeguarding service's timers: the deadline timer, which records each deadline missed and
each escalation up the ladder as the domain decides, and the sender of the e-mail they cause,
which records each rung told. What they record is the system's (the SYSTEM actor), so it never
makes a lead's page stale (concerns.changed_by_a_person)."""

from __future__ import annotations

import logging
from datetime import datetime

from eventlet.greenpool import GreenPool

from services.safeguarding import queries
from services.safeguarding.concerns import ConcernRoutes, now
from services.safeguarding.domain import Concern
from services.safeguarding.domain.deadlines import due_escalations
from services.safeguarding.notifications import Notification, send_due
from services.safeguarding.settings import SafeguardingSettings
from shared import metrics
from shared.db import Reachability, is_database_error
from shared.events import SYSTEM, Context
from shared.eventstore import ConcurrencyError, DuplicateEventId
from shared.runner import is_stopping
from shared.settings import setting_timer

log = logging.getLogger(__name__)

# concerns escalated side by side in one tick; each holds one of the store's 10 connections
ESCALATING_AT_ONCE = 4
# The deadline timer and the e-mail sender wait through a database outage tick by tick; while
# it lasts /health and peerlink_database_up say so.
DEADLINE_TIMER = Reachability("deadline-timer")
MAIL_SENDER = Reachability("mail-sender")


class EscalationTimers(ConcernRoutes):
    """Mixed into the safeguarding service; expects `name` and `smtp` (notifications.Smtp)
    besides what routes expect."""

    def _fold(self, concern_id: str, partner_id: str) -> Concern | None:
        concern, history = self.commands.load(Concern, concern_id)
        if not history or history[0].partner_id != partner_id:
            return None
        return concern

    @setting_timer(SafeguardingSettings, lambda config: config.tick_seconds)
    def escalate_due(self):
        """Deadlines passed, found in the read model (so after any restart too), recorded as
        the domain decides. A concurrent or repeated run adds nothing twice: the events have
        ids derived from the step and are appended at the version read."""
        try:
            self.escalate_due_now(now())
        except Exception as error:
            if not is_database_error(error):
                raise
            DEADLINE_TIMER.failed(error)  # the next tick finds what is due all the same
            return
        DEADLINE_TIMER.reached()

    def escalate_due_now(self, at: datetime) -> int:
        with self.store.db.transaction() as cur:
            due = queries.due_for_escalation(cur, self.settings.partner_id, at)
        # a few concerns at once: each waits mostly on the database
        return sum(GreenPool(ESCALATING_AT_ONCE).imap(lambda c: self._escalate(c, at), due))

    def _escalate(self, concern_id: str, at: datetime) -> int:
        if is_stopping():
            return 0  # found again in the read model by the first tick after the next start
        try:
            return self._record_escalations(concern_id, at)
        except (ConcurrencyError, DuplicateEventId):
            log.debug("concern %s: another run recorded its escalation", concern_id)
        except Exception as error:  # noqa: BLE001 - one concern never stops the others
            if is_database_error(error):
                DEADLINE_TIMER.failed(error)  # retried next tick, once the database is back
            else:
                log.exception("concern %s: escalation failed; retried next tick", concern_id)
        return 0

    def _record_escalations(self, concern_id: str, at: datetime) -> int:
        concern = self._fold(concern_id, self.settings.partner_id)
        if concern is None:
            return 0
        recorded = self.commands.apply(
            concern,
            lambda c: c.record_escalations(due_escalations(c, at, self.config.timescales)),
            Context(partner_id=self.settings.partner_id, actor=SYSTEM),
        )
        for event in recorded:
            metrics.ESCALATIONS.labels(self.name, event.payload["deadline"]).inc()
        return len(recorded)

    @setting_timer(SafeguardingSettings, lambda config: config.send_seconds)
    def send_notifications(self):
        """E-mail due from the outbox; each escalation told is then recorded on its concern."""
        try:
            sent = send_due(
                self.store.db,
                self.config.mail,
                self.settings.partner_id,
                self._is_still_needed,
                is_stopping=is_stopping,
                open_session=self.smtp,
            )
        except Exception as error:
            if not is_database_error(error):
                raise
            # a batch cut short is rolled back: its rows are sent again once the database is back
            MAIL_SENDER.failed(error)
            return
        MAIL_SENDER.reached()
        for notification in sent:
            if notification.kind == "escalation":
                try:
                    self._record_notified(notification)
                except Exception:  # noqa: BLE001 - the e-mail went; the record is a courtesy
                    log.exception("concern %s: notification not recorded", notification.concern_id)

    def _is_still_needed(self, notification: Notification) -> bool:
        """An escalation whose deadline has been met since needs nobody told."""
        if notification.kind != "escalation":
            return True
        concern = self._fold(notification.concern_id, self.settings.partner_id)
        if concern is None:
            return False
        pending = {(e.deadline, e.step) for e in concern.pending_notifications()}
        return (notification.deadline, notification.step) in pending

    def _record_notified(self, notification: Notification) -> None:
        for _ in range(3):
            concern = self._fold(notification.concern_id, self.settings.partner_id)
            try:
                self.commands.apply(
                    concern,
                    lambda c: c.record_notification(
                        notification.deadline, notification.step, "email", now()
                    ),
                    Context(partner_id=self.settings.partner_id, actor=SYSTEM),
                )
                return
            except ConcurrencyError:
                continue
