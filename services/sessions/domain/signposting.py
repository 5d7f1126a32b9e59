"""A person signposted to somewhere else, and whether they took it up."""

from __future__ import annotations

from datetime import date

from contracts.sessions.codes import UNKNOWN
from services.sessions.domain.records import (
    CorrectionMustChangeTheRecord,
    CorrectionNeedsAnEarlierRecord,
    CorrectionNeedsAReason,
    VoidedRecordCannotChange,
    not_before_earliest,
    readable,
    void_reason,
)
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


class SignpostingMustBeNew(Rule):
    pass


class SignpostingMustExist(Rule):
    pass


class OutcomeIsRecordedOnce(Rule):
    pass


class OutcomeMustBeKnownToRecord(Rule):
    pass


class OutcomeCannotPrecedeTheSignposting(Rule):
    pass


class Signposting(Aggregate):
    """A person signposted to somewhere else, and whether they took it up."""

    stream_type = "signposting"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.person_id: str | None = None
        self.destination: str | None = None
        self.signposted_on: date | None = None
        self.referral_id: str | None = None
        self.session_id: str | None = None
        self.outcome = UNKNOWN
        self.is_outcome_recorded = False
        self.outcome_history: list[dict] = []
        self.voided: dict | None = None

    def record(
        self,
        *,
        person_id: str,
        destination: str,
        by: str,
        on: date,
        referral_id: str | None = None,
        session_id: str | None = None,
        earliest: date | None = None,
    ) -> list[NewEvent]:
        if self.person_id is not None:
            raise SignpostingMustBeNew("this signposting has already been recorded")
        not_before_earliest("on", on, earliest)
        payload = {
            "person_id": str(person_id),
            "destination": destination,
            "referral_id": referral_id,
            "session_id": session_id,
            "signposted_by": by,
            "signposted_on": on.isoformat(),
        }
        return self.decide([NewEvent("SignpostingRecorded", payload)])

    def record_outcome(self, *, outcome: str, by: str, on: date) -> list[NewEvent]:
        self._outcome_dated(on)
        if self.is_outcome_recorded:
            raise OutcomeIsRecordedOnce(
                f"the outcome is already recorded as {readable(self.outcome)}; correct it, with"
                f" a reason, instead"
            )
        if outcome == UNKNOWN:
            raise OutcomeMustBeKnownToRecord(
                "the outcome is unknown until one is recorded; record taken up or not taken up"
            )
        payload = {"outcome": outcome, "recorded_by": by, "recorded_on": on.isoformat()}
        return self.decide([NewEvent("SignpostingOutcomeRecorded", payload)])

    def void(self, *, reason: str | None, by: str, on: date) -> list[NewEvent]:
        """Withdraw a signposting recorded in error; it leaves lists and the hub's figures."""
        self._outcome_dated(on)
        payload = {"reason": void_reason(reason), "voided_by": by, "voided_on": on.isoformat()}
        return self.decide([NewEvent("SignpostingVoided", payload)])

    def correct_outcome(
        self, *, outcome: str, reason: str | None, by: str, on: date
    ) -> list[NewEvent]:
        self._outcome_dated(on)
        if not self.is_outcome_recorded:
            raise CorrectionNeedsAnEarlierRecord(
                "no outcome is recorded yet to correct; record it instead"
            )
        if not reason:
            raise CorrectionNeedsAReason("say why the outcome is being corrected")
        if outcome == self.outcome:
            raise CorrectionMustChangeTheRecord(
                f"the outcome is already recorded as {readable(outcome)}"
            )
        payload = {
            "outcome": outcome,
            "previous_outcome": self.outcome,
            "reason": reason,
            "corrected_by": by,
            "corrected_on": on.isoformat(),
        }
        return self.decide([NewEvent("SignpostingOutcomeCorrected", payload)])

    def _outcome_dated(self, on: date) -> None:
        if self.person_id is None or self.signposted_on is None:
            raise SignpostingMustExist("no such signposting")
        if self.voided is not None:
            raise VoidedRecordCannotChange("this signposting was voided as recorded in error")
        if on < self.signposted_on:
            raise OutcomeCannotPrecedeTheSignposting(
                f"the person was signposted on {self.signposted_on.isoformat()}; the outcome"
                f" cannot be dated before that"
            )

    def apply_signposting_recorded(self, p: dict) -> None:
        self.person_id = p["person_id"]
        self.destination = p["destination"]
        self.referral_id = p["referral_id"]
        self.session_id = p["session_id"]
        self.signposted_on = date.fromisoformat(p["signposted_on"])

    def apply_signposting_outcome_recorded(self, p: dict) -> None:
        self.outcome = p["outcome"]
        self.is_outcome_recorded = True
        self.outcome_history.append(dict(p))

    def apply_signposting_outcome_corrected(self, p: dict) -> None:
        self.outcome = p["outcome"]
        self.outcome_history.append(dict(p))

    def apply_signposting_voided(self, p: dict) -> None:
        self.voided = {"reason": p["reason"], "voided_on": p["voided_on"]}

    def as_dict(self) -> dict:
        return {
            "signposting_id": self.id,
            "version": self.version,
            "person_id": self.person_id,
            "destination": self.destination,
            "referral_id": self.referral_id,
            "session_id": self.session_id,
            "signposted_on": self.signposted_on,
            "outcome": self.outcome,
            "voided": self.voided,
        }
