"""Signals from the sessions service that suggest a safeguarding concern.

Three did-not-attends in a row for someone with an open crisis and safety plan becomes a
suggested concern (`ConcernSuggested`, signal `repeated_did_not_attend`), which a worker then
confirms as a concern or dismisses with a reason. It runs in the node worker as a consumer of
the sessions service's events (checkpointed, gaps read from the sessions store), so no signal
is lost to a restart; each suggestion's ids derive from the attendance that completed the run,
so a redelivery suggests nothing twice, and while a suggestion or concern from the same signal
is open for the person no new one is made.
"""

from __future__ import annotations

import logging
import uuid

from services.safeguarding.domain import Concern
from shared.commands import Commands
from shared.events import SYSTEM, Context, RecordedEvent, derived_id, with_id

log = logging.getLogger(__name__)

CONSUMER = "safeguarding-signals"
REPEATED_DID_NOT_ATTEND = "repeated_did_not_attend"
RUN_LENGTH = 3

# a person's latest attendance records, newest first, by when each session started
LATEST_ATTENDANCE = """
SELECT a.status FROM sessions.attendance a JOIN sessions.session_list s USING (session_id)
WHERE a.person_id = %s AND s.status = 'held'
ORDER BY s.starts_at DESC, s.session_id DESC LIMIT %s
"""
HAS_OPEN_CRISIS_PLAN = """
SELECT EXISTS (SELECT 1 FROM sessions.plan_list
               WHERE person_id = %s AND kind = 'crisis_safety' AND status = 'open')
"""
# a suggestion or concern from this signal for this person that has not been dismissed or closed
OPEN_FROM_SIGNAL = """
SELECT EXISTS (
    SELECT 1 FROM safeguarding.events s
    WHERE s.payload->>'person_id' = %s AND s.payload->>'signal' = %s
      AND s.event_type IN ('ConcernSuggested', 'ConcernRaised')
      AND NOT EXISTS (
          SELECT 1 FROM safeguarding.events e
          WHERE e.stream_type = s.stream_type AND e.stream_id = s.stream_id
            AND e.event_type IN ('ConcernSuggestionDismissed', 'ConcernClosed')))
"""


class RepeatedDidNotAttend:
    """A handler for the node worker's safeguarding-signals consumer."""

    name = "repeated_did_not_attend"

    def __init__(self, safeguarding_store, partner_id: str):
        self.store = safeguarding_store
        self.commands = Commands(safeguarding_store)
        self.partner_id = partner_id

    def apply(self, cur, event: RecordedEvent) -> None:
        if event.event_type not in ("AttendanceRecorded", "AttendanceCorrected"):
            return
        if event.payload.get("status") != "did_not_attend":
            return
        person = str(event.payload["person_id"])
        cur.execute(LATEST_ATTENDANCE, (person, RUN_LENGTH))
        latest = [row[0] for row in cur.fetchall()]
        if len(latest) < RUN_LENGTH or any(status != "did_not_attend" for status in latest):
            return
        cur.execute(HAS_OPEN_CRISIS_PLAN, (person,))
        if not cur.fetchone()[0]:
            return
        cur.execute(OPEN_FROM_SIGNAL, (person, REPEATED_DID_NOT_ATTEND))
        if cur.fetchone()[0]:
            return
        self.suggest(person, event)

    def suggest(self, person: str, cause: RecordedEvent) -> None:
        concern = Concern(str(derived_id(cause.event_id, "concern")))
        context = Context(self.partner_id, SYSTEM, cause.correlation_id, cause.event_id)
        # a fresh concern at version 0, its event's id derived from the cause: a redelivery
        # appends the same id again, which adds nothing
        self.commands.apply(
            concern,
            lambda concern: with_id(
                concern.suggest(
                    uuid.UUID(person), REPEATED_DID_NOT_ATTEND, cause.recorded_at, [cause.event_id]
                ),
                derived_id(cause.event_id, "suggested"),
            ),
            context,
        )
        log.info("suggested a safeguarding concern after %s did-not-attends", RUN_LENGTH)

    def reset(self, cur) -> None:
        """Suggestions are events of their own store; a rebuild of this consumer replays the
        sessions events, and the derived ids keep it from suggesting anything twice."""
