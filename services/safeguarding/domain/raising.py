"""Raising a concern with what a worker records, and naming the person at risk once they are
known, if they were only described when it was raised."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.safeguarding.codes import DISMISSED, OPEN_STATES, SUGGESTED
from services.safeguarding.domain.details import ConcernDetails, check_details
from services.safeguarding.domain.state import ConcernMustBeNew, ConcernState, state_words, utc
from shared.aggregate import Rule
from shared.events import NewEvent


class PersonIsIdentifiedOnce(Rule):
    pass


class IdentifyingNeedsAnOpenConcern(Rule):
    pass


class Raising(ConcernState):
    """Raising a concern; identifying its person."""

    def raise_concern(self, details: ConcernDetails, by: str, at: datetime) -> list[NewEvent]:
        at = utc(at)
        if self.status in (SUGGESTED, DISMISSED):
            raise ConcernMustBeNew("this concern was suggested: confirm or dismiss the suggestion")
        if self.status is not None:
            raise ConcernMustBeNew(
                f"this concern has already been raised; it is {state_words(self.status)}"
            )
        check_details(details)
        payload = {
            **details.payload(),
            "raised_by": by,
            "raised_at": at.isoformat(),
            "was_suggested": False,
            "suggested_at": None,
            "signal": None,
        }
        return self._record("ConcernRaised", payload, at)

    def identify_person(self, person_id: uuid.UUID, by: str, at: datetime) -> list[NewEvent]:
        """The person at risk, described when the concern was raised, is now known."""
        at = utc(at)
        if self.status not in OPEN_STATES:
            raise IdentifyingNeedsAnOpenConcern(
                "the person is identified on an open concern; this one is "
                f"{state_words(self.status)}"
            )
        if self.person_id is not None:
            raise PersonIsIdentifiedOnce("the person at risk is already recorded on this concern")
        self._not_before(at, self.last_step_at, "the last step on this concern")
        return self._record(
            "ConcernPersonIdentified",
            {"person_id": str(person_id), "identified_by": by, "identified_at": at.isoformat()},
            at,
        )
