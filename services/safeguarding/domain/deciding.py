"""A lead's part: acknowledging a concern (regrading its severity if need be), deciding its
route (and revising that decision, with a reason, until it closes), and closing it with its
outcome once every action is done."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.safeguarding.codes import (
    ACKNOWLEDGED,
    ADULT,
    CHILD,
    CHILDRENS_SERVICES_REFERRAL,
    CLOSED,
    DECIDED,
    NO_FURTHER_ACTION,
    RAISED,
    SECTION_42_REFERRAL,
    SUGGESTED,
)
from services.safeguarding.domain.details import severity_suits_the_risk
from services.safeguarding.domain.state import (
    ConcernState,
    code_words,
    id_or_none,
    state_words,
    utc,
)
from shared.aggregate import Rule
from shared.events import NewEvent


class AcknowledgementNeedsARaisedConcern(Rule):
    pass


class DecisionNeedsAcknowledgement(Rule):
    pass


class NewDecisionMustChangeTheRoute(Rule):
    pass


class RevisingADecisionNeedsAReason(Rule):
    pass


class Section42ReferralsAreForAdults(Rule):
    pass


class ChildrensServicesReferralsAreForChildren(Rule):
    pass


class NoFurtherActionNeedsAReason(Rule):
    pass


class NoFurtherActionLeavesNoActionOpen(Rule):
    pass


class ClosingNeedsADecision(Rule):
    pass


class ClosingNeedsEveryActionCompleted(Rule):
    pass


class Deciding(ConcernState):
    """Acknowledging, deciding, closing."""

    def acknowledge(self, by: str, at: datetime, severity: str | None = None) -> list[NewEvent]:
        """A lead acknowledges the concern, and may regrade its severity as they see it."""
        at = utc(at)
        if self.status != RAISED:
            if self.status in (ACKNOWLEDGED, DECIDED, CLOSED):
                raise AcknowledgementNeedsARaisedConcern(
                    "this concern has already been acknowledged"
                )
            if self.status == SUGGESTED:
                raise AcknowledgementNeedsARaisedConcern(
                    "a suggested concern is confirmed by a worker before a lead acknowledges it"
                )
            raise AcknowledgementNeedsARaisedConcern(
                f"only a raised concern can be acknowledged; this one is {state_words(self.status)}"
            )
        self._not_before(at, self.raised_at, "it was raised")
        severity = severity or self.severity
        severity_suits_the_risk(severity, self.immediate_risk)
        return self._record(
            "ConcernAcknowledged",
            {
                "acknowledged_by": by,
                "acknowledged_at": at.isoformat(),
                "severity": severity,
                "previous_severity": self.severity,
            },
            at,
        )

    def record_decision(
        self,
        decision: str,
        by: str,
        at: datetime,
        reason: str | None = None,
        rationale_text_id: uuid.UUID | None = None,
        agency_reference_text_id: uuid.UUID | None = None,
        revision_reason_text_id: uuid.UUID | None = None,
    ) -> list[NewEvent]:
        """A lead decides the route; a later decision may change it until the concern closes,
        with a reason, as its own event (ConcernDecisionRevised) that keeps the old one."""
        at = utc(at)
        if self.status not in (ACKNOWLEDGED, DECIDED):
            if self.status == RAISED:
                raise DecisionNeedsAcknowledgement(
                    "a lead acknowledges the concern before deciding what happens"
                )
            raise DecisionNeedsAcknowledgement(
                "a decision is made on an acknowledged concern; this one is "
                f"{state_words(self.status)}"
            )
        is_revision = self.status == DECIDED
        if is_revision and decision == self.decision:
            raise NewDecisionMustChangeTheRoute(f"the decision is already {code_words(decision)}")
        if is_revision and revision_reason_text_id is None:
            raise RevisingADecisionNeedsAReason(
                f"this concern was decided ({code_words(self.decision)}); say why the decision "
                "changes (revision_reason)"
            )
        if not is_revision and revision_reason_text_id is not None:
            raise RevisingADecisionNeedsAReason(
                "a revision reason is given when changing a decision; this is the first one"
            )
        if decision == SECTION_42_REFERRAL and self.age_group != ADULT:
            raise Section42ReferralsAreForAdults(
                "a section 42 referral to the local authority is for an adult; refer a concern "
                "about a child to children's services"
            )
        if decision == CHILDRENS_SERVICES_REFERRAL and self.age_group != CHILD:
            raise ChildrensServicesReferralsAreForChildren(
                "a referral to children's services is for a child; refer a concern about an "
                "adult to the local authority (section 42)"
            )
        if decision == NO_FURTHER_ACTION:
            if reason is None:
                raise NoFurtherActionNeedsAReason("say why no further action is needed")
            if self.open_actions:
                raise NoFurtherActionLeavesNoActionOpen(
                    "complete the open actions before deciding no further action"
                )
        elif reason is not None:
            raise NoFurtherActionNeedsAReason(
                "a reason is recorded with no further action only; record the rationale instead"
            )
        self._not_before(at, self.acknowledged_at, "it was acknowledged")
        if is_revision:
            self._not_before(at, self.last_step_at, "the last step on this concern")
            return self._record(
                "ConcernDecisionRevised",
                {
                    "decision": decision,
                    "previous_decision": self.decision,
                    "reason": reason,
                    "previous_reason": self.decision_reason,
                    "revision_reason_text_id": id_or_none(revision_reason_text_id),
                    "rationale_text_id": id_or_none(rationale_text_id),
                    "agency_reference_text_id": id_or_none(agency_reference_text_id),
                    "revised_by": by,
                    "revised_at": at.isoformat(),
                },
                at,
            )
        return self._record(
            "ConcernDecided",
            {
                "decision": decision,
                "reason": reason,
                "rationale_text_id": id_or_none(rationale_text_id),
                "agency_reference_text_id": id_or_none(agency_reference_text_id),
                "previous_decision": self.decision,
                "decided_by": by,
                "decided_at": at.isoformat(),
            },
            at,
        )

    def close(
        self,
        outcome: str,
        by: str,
        at: datetime,
        desired_outcomes_met: str | None = None,
        outcome_text_id: uuid.UUID | None = None,
    ) -> list[NewEvent]:
        at = utc(at)
        if self.status != DECIDED:
            raise ClosingNeedsADecision(
                "a concern is closed after a lead's decision; this one is "
                f"{state_words(self.status)}"
            )
        open_actions = self.open_actions
        if open_actions:
            raise ClosingNeedsEveryActionCompleted(
                f"{len(open_actions)} action(s) still open: complete them before closing"
            )
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._record(
            "ConcernClosed",
            {
                "outcome": outcome,
                "desired_outcomes_met": desired_outcomes_met,
                "outcome_text_id": id_or_none(outcome_text_id),
                "closed_by": by,
                "closed_at": at.isoformat(),
            },
            at,
        )
