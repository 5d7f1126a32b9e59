"""The Concern aggregate: a safeguarding concern from being raised (or suggested by the system)
through a lead's acknowledgement and decision, the actions that follow, to its closing outcome;
with the deadlines missed and escalations made on the way.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` folds them. Free text (what happened, notes, reasons) never enters an event: the
service seals it in the vault and passes its text id. No I/O here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from contracts.safeguarding.codes import (
    ACKNOWLEDGED as ACKNOWLEDGED,
)
from contracts.safeguarding.codes import (
    ACTION_KINDS as ACTION_KINDS,
)
from contracts.safeguarding.codes import (
    ACTION_OUTCOMES as ACTION_OUTCOMES,
)
from contracts.safeguarding.codes import (
    ADULT as ADULT,
)
from contracts.safeguarding.codes import (
    ADULT_CATEGORIES as ADULT_CATEGORIES,
)
from contracts.safeguarding.codes import (
    AGE_GROUPS as AGE_GROUPS,
)
from contracts.safeguarding.codes import (
    AGENCIES as AGENCIES,
)
from contracts.safeguarding.codes import (
    ALLEGED_RELATIONSHIPS as ALLEGED_RELATIONSHIPS,
)
from contracts.safeguarding.codes import (
    CARE_ACT_CATEGORIES as CARE_ACT_CATEGORIES,
)
from contracts.safeguarding.codes import (
    CATEGORIES as CATEGORIES,
)
from contracts.safeguarding.codes import (
    CHILD as CHILD,
)
from contracts.safeguarding.codes import (
    CHILD_CATEGORIES as CHILD_CATEGORIES,
)
from contracts.safeguarding.codes import (
    CHILDRENS_SERVICES_REFERRAL as CHILDRENS_SERVICES_REFERRAL,
)
from contracts.safeguarding.codes import (
    CLOSED as CLOSED,
)
from contracts.safeguarding.codes import (
    CLOSING_OUTCOMES as CLOSING_OUTCOMES,
)
from contracts.safeguarding.codes import (
    DECIDED as DECIDED,
)
from contracts.safeguarding.codes import (
    DECISIONS as DECISIONS,
)
from contracts.safeguarding.codes import (
    DESIRED_OUTCOMES_MET as DESIRED_OUTCOMES_MET,
)
from contracts.safeguarding.codes import (
    DISMISS_REASONS as DISMISS_REASONS,
)
from contracts.safeguarding.codes import (
    DISMISSED as DISMISSED,
)
from contracts.safeguarding.codes import (
    IMMEDIATE_ACTIONS as IMMEDIATE_ACTIONS,
)
from contracts.safeguarding.codes import (
    INTERNAL_ACTION_PLAN as INTERNAL_ACTION_PLAN,
)
from contracts.safeguarding.codes import (
    LOCAL_ADULT_CATEGORIES as LOCAL_ADULT_CATEGORIES,
)
from contracts.safeguarding.codes import (
    NO_ACTION_TAKEN as NO_ACTION_TAKEN,
)
from contracts.safeguarding.codes import (
    NO_FURTHER_ACTION as NO_FURTHER_ACTION,
)
from contracts.safeguarding.codes import (
    NO_FURTHER_ACTION_REASONS as NO_FURTHER_ACTION_REASONS,
)
from contracts.safeguarding.codes import (
    NOTIFICATION_CHANNELS as NOTIFICATION_CHANNELS,
)
from contracts.safeguarding.codes import (
    OPEN_STATES as OPEN_STATES,
)
from contracts.safeguarding.codes import (
    POLICE as POLICE,
)
from contracts.safeguarding.codes import (
    RAISED as RAISED,
)
from contracts.safeguarding.codes import (
    SECTION_42_REFERRAL as SECTION_42_REFERRAL,
)
from contracts.safeguarding.codes import (
    SIGNALS as SIGNALS,
)
from contracts.safeguarding.codes import (
    STATES as STATES,
)
from contracts.safeguarding.codes import (
    SUGGESTED as SUGGESTED,
)
from contracts.safeguarding.codes import (
    WITHOUT_CONSENT_REASONS as WITHOUT_CONSENT_REASONS,
)
from services.safeguarding.deadlines import (
    ACKNOWLEDGE,
    DECIDE,
    IMMEDIATE,
    Escalation,
)
from shared.aggregate import Aggregate, ReferenceRefused, Rule
from shared.events import NewEvent


class ConcernMustBeNew(Rule):
    pass


class DateMustNotPrecedeTheEarliestDate(ReferenceRefused):
    """A date before the earliest the partner records (a mistyped year such as 1900): invalid
    input, answered 422 naming the field."""


class ConcernNeedsAPerson(Rule):
    pass


class ConcernNeedsACategory(Rule):
    pass


class CategoriesMustSuitTheAgeGroup(Rule):
    pass


class ImmediateRiskMeansImmediateSeverity(Rule):
    pass


class NoActionTakenStandsAlone(Rule):
    pass


class ActingWithoutConsentNeedsAReason(Rule):
    pass


class OnlySuggestionsCanBeConfirmedOrDismissed(Rule):
    pass


class ConfirmationKeepsTheSuggestedPerson(Rule):
    pass


class PersonIsIdentifiedOnce(Rule):
    pass


class IdentifyingNeedsAnOpenConcern(Rule):
    pass


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


class ActionsFollowADecisionToAct(Rule):
    pass


class ActionIdsAreUnique(Rule):
    pass


class ActionCannotBeDueInThePast(Rule):
    pass


class OnlyOpenActionsCanBeCompleted(Rule):
    pass


class NotesFollowRaising(Rule):
    pass


class ClosingNeedsADecision(Rule):
    pass


class ClosingNeedsEveryActionCompleted(Rule):
    pass


class EscalationNeedsAnOpenDeadline(Rule):
    pass


class EscalationsFollowTheLadder(Rule):
    pass


class NoEscalationToNotify(Rule):
    pass


class ConcernTimesMustRunForward(Rule):
    pass


_STATE_WORDS = {
    None: "not raised",
    SUGGESTED: "only a suggestion",
    DISMISSED: "a dismissed suggestion",
    RAISED: "raised and waiting for a lead",
    ACKNOWLEDGED: "acknowledged and waiting for a decision",
    DECIDED: "decided",
    CLOSED: "closed",
}


def _words(status: str | None) -> str:
    return _STATE_WORDS.get(status, str(status))


def _code_words(code: str) -> str:
    return code.replace("_", " ")


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a concern's times need a timezone (got a naive datetime)")
    return at.astimezone(UTC)


def _instant(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class ConcernDetails:
    """What a worker records when raising a concern (or confirming a suggested one).

    The person at risk is `person_id` (from the vault) or, while they are not yet known,
    `description_text_id` (sealed text describing them). Every `*_text_id` is sealed text."""

    age_group: str
    categories: Sequence[str]
    severity: str
    immediate_risk: bool
    what_happened_text_id: uuid.UUID
    actions_taken: Sequence[str]
    consent_given: bool
    without_consent_reason: str | None = None
    person_id: uuid.UUID | None = None
    description_text_id: uuid.UUID | None = None
    actions_taken_text_id: uuid.UUID | None = None
    informed: Sequence[str] = ()
    views_text_id: uuid.UUID | None = None
    happened_on: date | None = None
    is_ongoing: bool | None = None
    children_at_risk: bool | None = None
    alleged_relationship: str | None = None

    def payload(self) -> dict:
        return {
            "person_id": _id(self.person_id),
            "description_text_id": _id(self.description_text_id),
            "age_group": self.age_group,
            "categories": list(self.categories),
            "severity": self.severity,
            "immediate_risk": self.immediate_risk,
            "what_happened_text_id": _id(self.what_happened_text_id),
            "happened_on": self.happened_on.isoformat() if self.happened_on else None,
            "is_ongoing": self.is_ongoing,
            "children_at_risk": self.children_at_risk,
            "alleged_relationship": self.alleged_relationship,
            "actions_taken": list(self.actions_taken),
            "actions_taken_text_id": _id(self.actions_taken_text_id),
            "informed": list(self.informed),
            "consent_given": self.consent_given,
            "without_consent_reason": self.without_consent_reason,
            "views_text_id": _id(self.views_text_id),
        }


@dataclass
class Action:
    action_id: str
    kind: str
    owner_id: str
    due_on: date
    added_at: datetime
    completed_at: datetime | None = None
    outcome: str | None = None

    @property
    def is_open(self) -> bool:
        return self.completed_at is None


@dataclass(frozen=True)
class RecordedEscalation:
    """A deadline missed (step 0) or an escalation (step n) the concern's events record."""

    deadline: str
    step: int
    rung: str
    due_at: datetime
    at: datetime


@dataclass
class _Suggestion:
    signal: str
    suggested_at: datetime
    source_event_ids: list[str] = field(default_factory=list)


class Concern(Aggregate):
    stream_type = "concern"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.person_id: str | None = None
        self.age_group: str | None = None
        self.categories: list[str] = []
        self.severity: str | None = None
        self.immediate_risk = False
        self.details: dict = {}
        self.suggestion: _Suggestion | None = None
        self.dismiss_reason: str | None = None
        self.raised_by: str | None = None
        self.raised_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.acknowledged_at: datetime | None = None
        self.decision: str | None = None
        self.decision_reason: str | None = None
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None  # the first decision: it meets the deadline
        self.decision_revisions = 0
        self.actions: dict[str, Action] = {}
        self.note_text_ids: list[str] = []
        self.outcome: str | None = None
        self.closed_at: datetime | None = None
        self.escalation_steps: dict[str, int] = {}
        self.escalations: list[RecordedEscalation] = []
        self.notified: set[tuple[str, int]] = set()
        self.last_step_at: datetime | None = None

    # -- commands: starting ------------------------------------------------------------------

    def suggest(
        self,
        person_id: uuid.UUID,
        signal: str,
        at: datetime,
        source_event_ids: Sequence[uuid.UUID] = (),
    ) -> list[NewEvent]:
        """The system suggests a concern from signals (e.g. three did-not-attends in a row for
        someone with a crisis plan). The same suggestion delivered again changes nothing."""
        at = _utc(at)
        if self.status is not None:
            if self.suggestion and self.suggestion.signal == signal:
                return []
            raise ConcernMustBeNew("this concern already exists")
        return self._decide(
            "ConcernSuggested",
            {
                "person_id": str(person_id),
                "signal": signal,
                "source_event_ids": [str(i) for i in source_event_ids],
                "suggested_at": at.isoformat(),
            },
            at,
        )

    def raise_concern(
        self, details: ConcernDetails, by: str, at: datetime, earliest: date | None = None
    ) -> list[NewEvent]:
        """`earliest`: the earliest date the partner records; what happened is not before it."""
        at = _utc(at)
        if self.status in (SUGGESTED, DISMISSED):
            raise ConcernMustBeNew("this concern was suggested: confirm or dismiss the suggestion")
        if self.status is not None:
            raise ConcernMustBeNew(
                f"this concern has already been raised; it is {_words(self.status)}"
            )
        self._check_details(details, earliest)
        payload = {
            **details.payload(),
            "raised_by": by,
            "raised_at": at.isoformat(),
            "was_suggested": False,
            "suggested_at": None,
            "signal": None,
        }
        return self._decide("ConcernRaised", payload, at)

    def confirm_suggestion(
        self, details: ConcernDetails, by: str, at: datetime, earliest: date | None = None
    ) -> list[NewEvent]:
        """A worker confirms a suggested concern: it is raised, with what they record
        (`earliest` as for `raise_concern`)."""
        at = _utc(at)
        self._must_be_suggested("confirmed")
        self._not_before(at, self.suggestion.suggested_at, "it was suggested")
        if details.person_id is not None and str(details.person_id) != self.person_id:
            raise ConfirmationKeepsTheSuggestedPerson(
                "a suggested concern is about the person it was suggested for; raise a new "
                "concern for someone else"
            )
        if details.description_text_id is not None:
            raise ConcernNeedsAPerson(
                "the person of a suggested concern is known; no description is needed"
            )
        details = replace(details, person_id=uuid.UUID(self.person_id))
        self._check_details(details, earliest)
        payload = {
            **details.payload(),
            "raised_by": by,
            "raised_at": at.isoformat(),
            "was_suggested": True,
            "suggested_at": self.suggestion.suggested_at.isoformat(),
            "signal": self.suggestion.signal,
        }
        return self._decide("ConcernRaised", payload, at)

    def dismiss_suggestion(
        self, reason: str, by: str, at: datetime, reason_text_id: uuid.UUID | None = None
    ) -> list[NewEvent]:
        at = _utc(at)
        self._must_be_suggested("dismissed")
        self._not_before(at, self.suggestion.suggested_at, "it was suggested")
        return self._decide(
            "ConcernSuggestionDismissed",
            {
                "reason": reason,
                "reason_text_id": _id(reason_text_id),
                "dismissed_by": by,
                "dismissed_at": at.isoformat(),
            },
            at,
        )

    def identify_person(self, person_id: uuid.UUID, by: str, at: datetime) -> list[NewEvent]:
        """The person at risk, described when the concern was raised, is now known."""
        at = _utc(at)
        if self.status not in OPEN_STATES:
            raise IdentifyingNeedsAnOpenConcern(
                f"the person is identified on an open concern; this one is {_words(self.status)}"
            )
        if self.person_id is not None:
            raise PersonIsIdentifiedOnce("the person at risk is already recorded on this concern")
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._decide(
            "ConcernPersonIdentified",
            {"person_id": str(person_id), "identified_by": by, "identified_at": at.isoformat()},
            at,
        )

    # -- commands: a lead's part -------------------------------------------------------------

    def acknowledge(self, by: str, at: datetime, severity: str | None = None) -> list[NewEvent]:
        """A lead acknowledges the concern, and may regrade its severity as they see it."""
        at = _utc(at)
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
                f"only a raised concern can be acknowledged; this one is {_words(self.status)}"
            )
        self._not_before(at, self.raised_at, "it was raised")
        severity = severity or self.severity
        self._severity_suits_the_risk(severity, self.immediate_risk)
        return self._decide(
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
        at = _utc(at)
        if self.status not in (ACKNOWLEDGED, DECIDED):
            if self.status == RAISED:
                raise DecisionNeedsAcknowledgement(
                    "a lead acknowledges the concern before deciding what happens"
                )
            raise DecisionNeedsAcknowledgement(
                f"a decision is made on an acknowledged concern; this one is {_words(self.status)}"
            )
        is_revision = self.status == DECIDED
        if is_revision and decision == self.decision:
            raise NewDecisionMustChangeTheRoute(f"the decision is already {_code_words(decision)}")
        if is_revision and revision_reason_text_id is None:
            raise RevisingADecisionNeedsAReason(
                f"this concern was decided ({_code_words(self.decision)}); say why the decision "
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
            return self._decide(
                "ConcernDecisionRevised",
                {
                    "decision": decision,
                    "previous_decision": self.decision,
                    "reason": reason,
                    "previous_reason": self.decision_reason,
                    "revision_reason_text_id": _id(revision_reason_text_id),
                    "rationale_text_id": _id(rationale_text_id),
                    "agency_reference_text_id": _id(agency_reference_text_id),
                    "revised_by": by,
                    "revised_at": at.isoformat(),
                },
                at,
            )
        return self._decide(
            "ConcernDecided",
            {
                "decision": decision,
                "reason": reason,
                "rationale_text_id": _id(rationale_text_id),
                "agency_reference_text_id": _id(agency_reference_text_id),
                "previous_decision": self.decision,
                "decided_by": by,
                "decided_at": at.isoformat(),
            },
            at,
        )

    def add_action(
        self,
        action_id: uuid.UUID,
        kind: str,
        owner_id: str,
        due_on: date,
        by: str,
        at: datetime,
        details_text_id: uuid.UUID | None = None,
    ) -> list[NewEvent]:
        at = _utc(at)
        if self.status != DECIDED or self.decision == NO_FURTHER_ACTION:
            if self.status == DECIDED:
                raise ActionsFollowADecisionToAct(
                    "the decision is no further action; record a new decision to add actions"
                )
            raise ActionsFollowADecisionToAct(
                f"actions follow a lead's decision; this concern is {_words(self.status)}"
            )
        if str(action_id) in self.actions:
            raise ActionIdsAreUnique("this concern already has an action with that id")
        # UTC's date is never after the local date in England, so this never refuses today
        if due_on < at.date():
            raise ActionCannotBeDueInThePast("an action cannot be due before the day it is added")
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._decide(
            "ConcernActionAdded",
            {
                "action_id": str(action_id),
                "kind": kind,
                "owner_id": owner_id,
                "due_on": due_on.isoformat(),
                "details_text_id": _id(details_text_id),
                "added_by": by,
                "added_at": at.isoformat(),
            },
            at,
        )

    def complete_action(
        self,
        action_id: uuid.UUID,
        by: str,
        at: datetime,
        outcome: str = "done",
        note_text_id: uuid.UUID | None = None,
    ) -> list[NewEvent]:
        at = _utc(at)
        action = self.actions.get(str(action_id))
        if action is None:
            raise OnlyOpenActionsCanBeCompleted("this concern has no action with that id")
        if not action.is_open:
            raise OnlyOpenActionsCanBeCompleted("this action has already been completed")
        self._not_before(at, action.added_at, "the action was added")
        return self._decide(
            "ConcernActionCompleted",
            {
                "action_id": str(action_id),
                "outcome": outcome,
                "note_text_id": _id(note_text_id),
                "completed_by": by,
                "completed_at": at.isoformat(),
            },
            at,
        )

    def add_note(self, text_id: uuid.UUID, by: str, at: datetime) -> list[NewEvent]:
        """A note adds to the record at any time after raising, closed or not; it never changes
        what was recorded before."""
        at = _utc(at)
        if self.raised_at is None:
            raise NotesFollowRaising(
                f"notes are added to a raised concern; this one is {_words(self.status)}"
            )
        self._not_before(at, self.raised_at, "it was raised")
        return self._decide(
            "ConcernNoteAdded",
            {"text_id": str(text_id), "added_by": by, "added_at": at.isoformat()},
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
        at = _utc(at)
        if self.status != DECIDED:
            raise ClosingNeedsADecision(
                f"a concern is closed after a lead's decision; this one is {_words(self.status)}"
            )
        open_actions = self.open_actions
        if open_actions:
            raise ClosingNeedsEveryActionCompleted(
                f"{len(open_actions)} action(s) still open: complete them before closing"
            )
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._decide(
            "ConcernClosed",
            {
                "outcome": outcome,
                "desired_outcomes_met": desired_outcomes_met,
                "outcome_text_id": _id(outcome_text_id),
                "closed_by": by,
                "closed_at": at.isoformat(),
            },
            at,
        )

    # -- commands: deadlines -----------------------------------------------------------------

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
            payload = {
                "deadline": escalation.deadline,
                "severity": escalation.severity,
                "due_at": _utc(escalation.due_at).isoformat(),
                "rung": escalation.rung,
            }
            if escalation.step:
                payload["step"] = escalation.step
                payload["escalated_at"] = _utc(escalation.escalate_at).isoformat()
            event = NewEvent(
                escalation.event_type,
                payload,
                occurred_at=_utc(escalation.escalate_at),
                event_id=escalation.event_id(self.id),
            )
            events.extend(self.decide([event]))
        return events

    def record_notification(
        self, deadline: str, step: int, channel: str, at: datetime
    ) -> list[NewEvent]:
        """The rung of a recorded escalation has been told; telling them again adds nothing."""
        at = _utc(at)
        recorded = [e for e in self.escalations if (e.deadline, e.step) == (deadline, step)]
        if not recorded:
            raise NoEscalationToNotify(
                f"no escalation of the {deadline} deadline at step {step} is recorded"
            )
        if (deadline, step) in self.notified:
            return []
        return self._decide(
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

    # -- rules -------------------------------------------------------------------------------

    def _check_details(self, details: ConcernDetails, earliest: date | None = None) -> None:
        if details.happened_on and earliest and details.happened_on < earliest:
            raise DateMustNotPrecedeTheEarliestDate(
                "happened_on",
                f"{details.happened_on.isoformat()} is before {earliest.isoformat()}, the"
                " earliest date this partner records",
            )
        if (details.person_id is None) == (details.description_text_id is None):
            raise ConcernNeedsAPerson(
                "record the person at risk, or describe them if they are not yet known: "
                "one or the other"
            )
        if not details.categories:
            raise ConcernNeedsACategory("record at least one category of abuse or neglect")
        if details.age_group not in CATEGORIES:
            raise CategoriesMustSuitTheAgeGroup("a concern is about an adult or a child")
        allowed = CATEGORIES[details.age_group]
        wrong = [c for c in details.categories if c not in allowed]
        if wrong:
            other = CHILD if details.age_group == ADULT else ADULT
            names = ", ".join(_code_words(c) for c in wrong)
            raise CategoriesMustSuitTheAgeGroup(
                f"{names}: not a category for a concern about {_a(details.age_group)}; "
                f"the categories for {_a(details.age_group)} are "
                f"{', '.join(_code_words(c) for c in allowed)}"
                + (
                    f" (is this a concern about {_a(other)}?)"
                    if all(c in CATEGORIES[other] for c in wrong)
                    else ""
                )
            )
        if len(set(details.categories)) != len(details.categories):
            raise ConcernNeedsACategory("each category is recorded once")
        self._severity_suits_the_risk(details.severity, details.immediate_risk)
        if not details.actions_taken:
            raise NoActionTakenStandsAlone(
                "record the actions taken at once, or 'none' if there were none"
            )
        if NO_ACTION_TAKEN in details.actions_taken and len(details.actions_taken) > 1:
            raise NoActionTakenStandsAlone("'none' cannot be recorded beside actions taken")
        if details.consent_given and details.without_consent_reason is not None:
            raise ActingWithoutConsentNeedsAReason(
                "the person consented: there is no reason for acting without consent to record"
            )
        if not details.consent_given:
            if details.without_consent_reason is None:
                raise ActingWithoutConsentNeedsAReason(
                    "without the person's consent, record why the concern goes ahead"
                )
            if details.without_consent_reason == "child" and details.age_group != CHILD:
                raise ActingWithoutConsentNeedsAReason(
                    "'child' is a reason for acting without consent only for a child"
                )

    @staticmethod
    def _severity_suits_the_risk(severity: str, immediate_risk: bool) -> None:
        if immediate_risk and severity != IMMEDIATE:
            raise ImmediateRiskMeansImmediateSeverity(
                "a person at immediate risk makes the concern's severity immediate"
            )

    def _must_be_suggested(self, verb: str) -> None:
        if self.status != SUGGESTED:
            raise OnlySuggestionsCanBeConfirmedOrDismissed(
                f"only a suggested concern can be {verb}; this one is {_words(self.status)}"
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

    @staticmethod
    def _not_before(at: datetime, earlier: datetime | None, what: str) -> None:
        if earlier is not None and at < earlier:
            raise ConcernTimesMustRunForward(f"this cannot be recorded as before {what}")

    def _decide(self, event_type: str, payload: dict, at: datetime) -> list[NewEvent]:
        return self.decide([NewEvent(event_type, payload, occurred_at=at)])

    # -- folding -----------------------------------------------------------------------------

    def _step(self, at: str) -> datetime:
        instant = _instant(at)
        if self.last_step_at is None or instant > self.last_step_at:
            self.last_step_at = instant
        return instant

    def apply_concern_suggested(self, p: dict) -> None:
        self.status = SUGGESTED
        self.person_id = str(p["person_id"])
        self.suggestion = _Suggestion(
            signal=p["signal"],
            suggested_at=self._step(p["suggested_at"]),
            source_event_ids=[str(i) for i in p.get("source_event_ids", [])],
        )

    def apply_concern_suggestion_dismissed(self, p: dict) -> None:
        self.status = DISMISSED
        self.dismiss_reason = p["reason"]
        self._step(p["dismissed_at"])

    def apply_concern_raised(self, p: dict) -> None:
        self.status = RAISED
        self.details = dict(p)
        self.person_id = _id(p.get("person_id"))
        self.age_group = p["age_group"]
        self.categories = list(p["categories"])
        self.severity = p["severity"]
        self.immediate_risk = bool(p["immediate_risk"])
        self.raised_by = p["raised_by"]
        self.raised_at = self._step(p["raised_at"])

    def apply_concern_person_identified(self, p: dict) -> None:
        self.person_id = str(p["person_id"])
        self._step(p["identified_at"])

    def apply_concern_acknowledged(self, p: dict) -> None:
        self.status = ACKNOWLEDGED
        self.acknowledged_by = p["acknowledged_by"]
        self.acknowledged_at = self._step(p["acknowledged_at"])
        self.severity = p["severity"]

    def apply_concern_decided(self, p: dict) -> None:
        self.status = DECIDED
        self.decision = p["decision"]
        self.decision_reason = p.get("reason")
        self.decided_by = p["decided_by"]
        at = self._step(p["decided_at"])
        if self.decided_at is None:
            self.decided_at = at

    def apply_concern_decision_revised(self, p: dict) -> None:
        self.decision = p["decision"]
        self.decision_reason = p.get("reason")
        self.decided_by = p["revised_by"]
        self.decision_revisions += 1
        self._step(p["revised_at"])

    def apply_concern_action_added(self, p: dict) -> None:
        self.actions[str(p["action_id"])] = Action(
            action_id=str(p["action_id"]),
            kind=p["kind"],
            owner_id=p["owner_id"],
            due_on=date.fromisoformat(p["due_on"]),
            added_at=self._step(p["added_at"]),
        )

    def apply_concern_action_completed(self, p: dict) -> None:
        action = self.actions[str(p["action_id"])]
        action.completed_at = self._step(p["completed_at"])
        action.outcome = p["outcome"]

    def apply_concern_note_added(self, p: dict) -> None:
        self.note_text_ids.append(str(p["text_id"]))

    def apply_concern_closed(self, p: dict) -> None:
        self.status = CLOSED
        self.outcome = p["outcome"]
        self.closed_at = self._step(p["closed_at"])

    def apply_deadline_missed(self, p: dict) -> None:
        self._escalated(p, step=0, at=p["due_at"])

    def apply_concern_escalated(self, p: dict) -> None:
        self._escalated(p, step=p["step"], at=p["escalated_at"])

    def _escalated(self, p: dict, step: int, at: str) -> None:
        deadline = p["deadline"]
        self.escalation_steps[deadline] = max(self.escalation_steps.get(deadline, -1), step)
        self.escalations.append(
            RecordedEscalation(deadline, step, p["rung"], _instant(p["due_at"]), _instant(at))
        )

    def apply_escalation_notified(self, p: dict) -> None:
        self.notified.add((p["deadline"], p["step"]))

    # -- reading -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def open_actions(self) -> list[Action]:
        return [action for action in self.actions.values() if action.is_open]

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

    def as_dict(self) -> dict:
        return {
            **self.details,
            "concern_id": self.id,
            "version": self.version,
            "status": self.status,
            "person_id": self.person_id,
            "severity": self.severity,
            "signal": self.suggestion.signal if self.suggestion else None,
            "suggested_at": self.suggestion.suggested_at if self.suggestion else None,
            "raised_at": self.raised_at,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": self.acknowledged_at,
            "decision": self.decision,
            "decision_reason": self.decision_reason,
            "decided_at": self.decided_at,
            "decision_revisions": self.decision_revisions,
            "actions": [action.__dict__ for action in self.actions.values()],
            "note_count": len(self.note_text_ids),
            "outcome": self.outcome,
            "closed_at": self.closed_at,
            "dismiss_reason": self.dismiss_reason,
            "escalations": [e.__dict__ for e in self.escalations],
        }


def _a(age_group: str) -> str:
    return "an adult" if age_group == ADULT else "a child"
