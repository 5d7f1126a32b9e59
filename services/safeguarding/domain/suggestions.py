"""Concerns the system suggests from signals in a person's sessions (e.g. three did-not-attends
in a row for someone with a crisis plan): a worker confirms one, and it is raised with what
they record, or dismisses it with a coded reason."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from contracts.safeguarding.codes import SUGGESTED
from services.safeguarding.domain.details import ConcernDetails, ConcernNeedsAPerson, check_details
from services.safeguarding.domain.state import (
    ConcernMustBeNew,
    ConcernState,
    Suggestion,
    id_or_none,
    state_words,
    utc,
)
from shared.aggregate import Rule
from shared.events import NewEvent


class OnlySuggestionsCanBeConfirmedOrDismissed(Rule):
    pass


class ConfirmationKeepsTheSuggestedPerson(Rule):
    pass


class Suggestions(ConcernState):
    """Suggesting a concern, confirming it, dismissing it."""

    def suggest(
        self,
        person_id: uuid.UUID,
        signal: str,
        at: datetime,
        source_event_ids: Sequence[uuid.UUID] = (),
    ) -> list[NewEvent]:
        """The system suggests a concern from signals (e.g. three did-not-attends in a row for
        someone with a crisis plan). The same suggestion delivered again changes nothing."""
        at = utc(at)
        if self.status is not None:
            if self.suggestion and self.suggestion.signal == signal:
                return []
            raise ConcernMustBeNew("this concern already exists")
        return self._record(
            "ConcernSuggested",
            {
                "person_id": str(person_id),
                "signal": signal,
                "source_event_ids": [str(i) for i in source_event_ids],
                "suggested_at": at.isoformat(),
            },
            at,
        )

    def confirm_suggestion(self, details: ConcernDetails, by: str, at: datetime) -> list[NewEvent]:
        """A worker confirms a suggested concern: it is raised, with what they record."""
        at = utc(at)
        suggestion = self._must_be_suggested("confirmed")
        self._not_before(at, suggestion.suggested_at, "it was suggested")
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
        check_details(details)
        payload = {
            **details.payload(),
            "raised_by": by,
            "raised_at": at.isoformat(),
            "was_suggested": True,
            "suggested_at": suggestion.suggested_at.isoformat(),
            "signal": suggestion.signal,
        }
        return self._record("ConcernRaised", payload, at)

    def dismiss_suggestion(
        self, reason: str, by: str, at: datetime, reason_text_id: uuid.UUID | None = None
    ) -> list[NewEvent]:
        at = utc(at)
        suggestion = self._must_be_suggested("dismissed")
        self._not_before(at, suggestion.suggested_at, "it was suggested")
        return self._record(
            "ConcernSuggestionDismissed",
            {
                "reason": reason,
                "reason_text_id": id_or_none(reason_text_id),
                "dismissed_by": by,
                "dismissed_at": at.isoformat(),
            },
            at,
        )

    def _must_be_suggested(self, verb: str) -> Suggestion:
        if self.status != SUGGESTED or self.suggestion is None:
            raise OnlySuggestionsCanBeConfirmedOrDismissed(
                f"only a suggested concern can be {verb}; this one is {state_words(self.status)}"
            )
        return self.suggestion
