"""Deadlines missed and escalations up the partner's ladder, as `deadlines.due_escalations`
finds them due, and each rung told: recorded once, whatever the timer or sender repeats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from contracts.safeguarding.codes import ACKNOWLEDGE, DECIDE
from services.safeguarding.domain.deadlines import Escalation
from services.safeguarding.domain.state import ConcernState, RecordedEscalation, utc
from shared.aggregate import Rule
from shared.events import NewEvent


class EscalationNeedsAnOpenDeadline(Rule):
    pass


class EscalationsFollowTheLadder(Rule):
    pass


class NoEscalationToNotify(Rule):
    pass


class Escalations(ConcernState):
    """Recording escalations and who was told of them."""

    def record_escalations(self, escalations: Sequence[Escalation]) -> list[NewEvent]:
        """Record what `deadlines.due_escalations` found due. A step already recorded is
        passed over, so recording the same escalations again adds nothing."""
        events: list[NewEvent] = []
        for escalation in escalations:
            if escalation.step <= self.escalation_steps.get(escalation.deadline, -1):
                continue
            self._deadline_must_be_open(escalation.deadline)
            if escalation.step != self.escalation_steps.get(escalation.deadline, -1) + 1:
                raise EscalationsFollowTheLadder(
                    "an escalation comes after the rung below it has been told"
                )
            payload: dict[str, object] = {
                "deadline": escalation.deadline,
                "severity": escalation.severity,
                "due_at": utc(escalation.due_at).isoformat(),
                "rung": escalation.rung,
            }
            if escalation.step:
                payload["step"] = escalation.step
                payload["escalated_at"] = utc(escalation.escalate_at).isoformat()
            event = NewEvent(
                escalation.event_type,
                payload,
                occurred_at=utc(escalation.escalate_at),
                event_id=escalation.event_id(self.id),
            )
            events.extend(self.decide([event]))
        return events

    def record_notification(
        self, deadline: str, step: int, channel: str, at: datetime
    ) -> list[NewEvent]:
        """The rung of a recorded escalation has been told; telling them again adds nothing."""
        at = utc(at)
        recorded = [e for e in self.escalations if (e.deadline, e.step) == (deadline, step)]
        if not recorded:
            raise NoEscalationToNotify(
                f"no escalation of the {deadline} deadline at step {step} is recorded"
            )
        if (deadline, step) in self.notified:
            return []
        return self._record(
            "EscalationNotified",
            {
                "deadline": deadline,
                "step": step,
                "rung": recorded[0].rung,
                "channel": channel,
                "notified_at": at.isoformat(),
            },
            at,
        )

    def _deadline_must_be_open(self, deadline: str) -> None:
        if deadline == ACKNOWLEDGE and (self.raised_at is None or self.acknowledged_at):
            raise EscalationNeedsAnOpenDeadline(
                "the concern is not waiting for acknowledgement: nothing to escalate"
            )
        if deadline == DECIDE and (self.acknowledged_at is None or self.decided_at):
            raise EscalationNeedsAnOpenDeadline(
                "the concern is not waiting for a decision: nothing to escalate"
            )
        if deadline not in (ACKNOWLEDGE, DECIDE):
            raise EscalationNeedsAnOpenDeadline(f"{deadline} is not a deadline of a concern")

    def pending_notifications(self) -> list[RecordedEscalation]:
        """Escalations recorded whose rung has not yet been told, while their deadline is still
        unmet: a deadline met since then needs nobody told."""
        still_open = {
            ACKNOWLEDGE: self.raised_at is not None and self.acknowledged_at is None,
            DECIDE: self.acknowledged_at is not None and self.decided_at is None,
        }
        return [
            e
            for e in self.escalations
            if still_open.get(e.deadline) and (e.deadline, e.step) not in self.notified
        ]
