"""What follows a decision to act: actions with an owner and a due date, each completed by a
lead or its owner; and notes, added to a raised concern at any time, closed or not."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from contracts.safeguarding.codes import DECIDED, NO_FURTHER_ACTION
from services.safeguarding.domain.state import ConcernState, id_or_none, state_words, utc
from shared.aggregate import Rule
from shared.events import NewEvent


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


class Actions(ConcernState):
    """Adding and completing actions; adding notes."""

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
        at = utc(at)
        if self.status != DECIDED or self.decision == NO_FURTHER_ACTION:
            if self.status == DECIDED:
                raise ActionsFollowADecisionToAct(
                    "the decision is no further action; record a new decision to add actions"
                )
            raise ActionsFollowADecisionToAct(
                f"actions follow a lead's decision; this concern is {state_words(self.status)}"
            )
        if str(action_id) in self.actions:
            raise ActionIdsAreUnique("this concern already has an action with that id")
        # UTC's date is never after the local date in England, so this never refuses today
        if due_on < at.date():
            raise ActionCannotBeDueInThePast("an action cannot be due before the day it is added")
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._record(
            "ConcernActionAdded",
            {
                "action_id": str(action_id),
                "kind": kind,
                "owner_id": owner_id,
                "due_on": due_on.isoformat(),
                "details_text_id": id_or_none(details_text_id),
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
        at = utc(at)
        action = self.actions.get(str(action_id))
        if action is None:
            raise OnlyOpenActionsCanBeCompleted("this concern has no action with that id")
        if not action.is_open:
            raise OnlyOpenActionsCanBeCompleted("this action has already been completed")
        self._not_before(at, action.added_at, "the action was added")
        return self._record(
            "ConcernActionCompleted",
            {
                "action_id": str(action_id),
                "outcome": outcome,
                "note_text_id": id_or_none(note_text_id),
                "completed_by": by,
                "completed_at": at.isoformat(),
            },
            at,
        )

    def add_note(self, text_id: uuid.UUID, by: str, at: datetime) -> list[NewEvent]:
        """A note adds to the record at any time after raising, closed or not; it never changes
        what was recorded before."""
        at = utc(at)
        if self.raised_at is None:
            raise NotesFollowRaising(
                f"notes are added to a raised concern; this one is {state_words(self.status)}"
            )
        self._not_before(at, self.raised_at, "it was raised")
        return self._record(
            "ConcernNoteAdded",
            {"text_id": str(text_id), "added_by": by, "added_at": at.isoformat()},
            at,
        )
