"""What a discharge closes in the sessions service when the worker asks for it
(`close_open_items` on `ReferralDischarged`): the referral's sessions still booked from the day
of the discharge on are cancelled by the service, and its open plans closed, each as an event
of its own with the discharging worker as its actor.

It runs in the node worker beside the referral status the sessions service keeps (the same
checkpointed consumer of the referrals service's events, gaps read from the referrals store),
so a discharge made while the worker was down is acted on when it is back. Each event's id is
derived from the discharge and the record, and only records still booked or open are chosen,
so a discharge delivered again closes nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

from contracts.sessions.codes import BOOKED, OPEN
from services.sessions.domain import Plan, Session
from services.sessions.tables import SCHEMA
from shared.aggregate import RuleBroken
from shared.commands import Commands
from shared.events import Context, RecordedEvent, derived_id, with_id

log = logging.getLogger(__name__)

# the referral's sessions booked to start from the day the discharge was recorded on: what the
# discharge listed as still to come
BOOKED_FROM = f"""
SELECT session_id FROM {SCHEMA}.session_list
WHERE referral_id = %s AND status = '{BOOKED}' AND starts_at >= %s
ORDER BY starts_at, session_id
"""
OPEN_PLANS = f"""
SELECT plan_id FROM {SCHEMA}.plan_list
WHERE referral_id = %s AND status = '{OPEN}'
ORDER BY plan_id
"""


class OpenItemsClosing:
    """A handler for the node worker's sessions-referral-status consumer."""

    name = "open_items_closing"

    def __init__(self, sessions_store, partner_id: str):
        self.store = sessions_store  # with the sessions read model's projector
        self.commands = Commands(sessions_store)
        self.partner_id = partner_id

    def apply(self, cur, event: RecordedEvent) -> None:
        if event.event_type != "ReferralDischarged" or not event.payload.get("close_open_items"):
            return
        referral_id = event.stream_id
        day = event.recorded_at.astimezone(UTC).date()
        cur.execute(BOOKED_FROM, (referral_id, datetime.combine(day, time.min, tzinfo=UTC)))
        sessions = [row[0] for row in cur.fetchall()]
        cur.execute(OPEN_PLANS, (referral_id,))
        plans = [row[0] for row in cur.fetchall()]
        by = event.actor.user_id
        discharged_on = date.fromisoformat(str(event.payload["discharged_on"]))
        for session_id in sessions:
            self._close(
                Session,
                session_id,
                event,
                lambda s: s.cancel(cancelled_by="service", reason="support_ended", by=by),
            )
        for plan_id in plans:
            self._close(
                Plan,
                plan_id,
                event,
                # a plan drafted after the day the discharge is dated closes the day it was drafted
                lambda p: p.close(
                    reason="support_ended", by=by, on=max(discharged_on, p.drafted_on)
                ),
            )

    def _close(self, cls, stream_id: str, cause: RecordedEvent, decide) -> None:
        aggregate, _ = self.commands.load(cls, stream_id)
        context = Context(self.partner_id, cause.actor, cause.correlation_id, cause.event_id)
        try:
            # the same id again is an idempotent append: a redelivered discharge adds nothing
            self.commands.apply(
                aggregate,
                lambda aggregate: with_id(
                    decide(aggregate),
                    derived_id(cause.event_id, f"close/{cls.stream_type}/{stream_id}"),
                ),
                context,
            )
        except RuleBroken as refused:
            # held, cancelled or closed by someone a moment ago: nothing left to close
            log.info("%s %s not closed with the discharge: %s", cls.stream_type, stream_id, refused)

    def reset(self, cur) -> None:
        """What it closes are events of the sessions store; a rebuild of the consumer replays
        the discharges, and the derived ids and closed records keep it from closing twice."""
