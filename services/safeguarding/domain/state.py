"""What a safeguarding concern is at any moment: its state folded from its events, the rules
every command keeps (a concern is new once; its times run forward), and how it reads. The
commands live in the modules of each part of its life (suggestions, raising, deciding,
actions, escalations); `Concern` in concern.py brings them together. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from contracts.safeguarding.codes import (
    ACKNOWLEDGED,
    ADULT,
    CLOSED,
    DECIDED,
    DISMISSED,
    OPEN_STATES,
    RAISED,
    SUGGESTED,
)
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


class ConcernMustBeNew(Rule):
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


def state_words(status: str | None) -> str:
    return _STATE_WORDS.get(status, str(status))


def code_words(code: str | None) -> str:
    return (code or "").replace("_", " ")


def an(age_group: str) -> str:
    return "an adult" if age_group == ADULT else "a child"


def utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a concern's times need a timezone (got a naive datetime)")
    return at.astimezone(UTC)


def instant(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def id_or_none(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)


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
class Suggestion:
    signal: str
    suggested_at: datetime
    source_event_ids: list[str] = field(default_factory=list)


class ConcernState(Aggregate):
    """A concern's state and its fold; the part of it every command reads."""

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
        self.suggestion: Suggestion | None = None
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

    # -- what every command keeps ------------------------------------------------------------

    @staticmethod
    def _not_before(at: datetime, earlier: datetime | None, what: str) -> None:
        if earlier is not None and at < earlier:
            raise ConcernTimesMustRunForward(f"this cannot be recorded as before {what}")

    def _record(self, event_type: str, payload: dict, at: datetime) -> list[NewEvent]:
        return self.decide([NewEvent(event_type, payload, occurred_at=at)])

    # -- folding -----------------------------------------------------------------------------

    def _step(self, at: str) -> datetime:
        when = instant(at)
        if self.last_step_at is None or when > self.last_step_at:
            self.last_step_at = when
        return when

    def apply_concern_suggested(self, p: dict) -> None:
        self.status = SUGGESTED
        self.person_id = str(p["person_id"])
        self.suggestion = Suggestion(
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
        self.person_id = id_or_none(p.get("person_id"))
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
            RecordedEscalation(deadline, step, p["rung"], instant(p["due_at"]), instant(at))
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
