"""Corrections of a referral: a date or coded field recorded wrongly put right by a
ReferralCorrected event (the old value and the new, who, when, and why in the worker's words,
sealed), never overwritten; the timeline still runs forward afterwards."""

from __future__ import annotations

from datetime import date

from contracts.referrals.codes import (
    CONTACT_MODES,
    CORRECTABLE_DATES,
    CORRECTABLE_FIELDS,
    NEED_THEMES,
    OUTCOME_REASONS,
    REFERRAL_SOURCES,
    RISK_LEVELS,
    URGENCIES,
)
from services.referrals.domain.inputs import InputRule
from services.referrals.domain.steps import (
    STEP_NAMES,
    MeasuresTaken,
    ReferralState,
    SessionsHeld,
    runs_forward,
)
from shared.aggregate import Rule
from shared.events import NewEvent

CODE_LISTS = {
    "source": tuple(REFERRAL_SOURCES),
    "urgency": URGENCIES,
    "risk_level": RISK_LEVELS,
    "needs": NEED_THEMES,
    "preferred_contact_mode": CONTACT_MODES,
}


class CorrectionMustNameACorrectableField(InputRule):
    pass


class CorrectionValueMustBeValid(InputRule):
    pass


class CorrectionMustChangeTheValue(Rule):
    pass


class CorrectionNeedsTheStepRecorded(Rule):
    pass


class Corrections(ReferralState):
    """The corrections part of the Referral aggregate."""

    def correct(
        self,
        field_name: str,
        value,
        by: str,
        on: date,
        reason_text_id: str,
        held: SessionsHeld | None = None,
        measured: MeasuresTaken | None = None,
    ) -> list[NewEvent]:
        """Puts right a date or coded field recorded wrongly: who, when, why (sealed text),
        the old value and the new; the timeline must still run forward afterwards, around
        the referral's sessions `held` and outcome measures `measured` too."""
        self._must_exist()
        if field_name not in CORRECTABLE_FIELDS:
            raise CorrectionMustNameACorrectableField(
                "field", f"one of {', '.join(CORRECTABLE_FIELDS)}"
            )
        if field_name in CORRECTABLE_DATES:
            previous, value = self._correct_date(field_name, value)
            for records in (held, measured):
                if records is not None:
                    records.bound(field_name, date.fromisoformat(value))
        else:
            previous, value = self._correct_code(field_name, value)
        if previous == value:
            raise CorrectionMustChangeTheValue(f"{field_name} is already {value}")
        return self.decide(
            [
                NewEvent(
                    "ReferralCorrected",
                    {
                        "field": field_name,
                        "value": value,
                        "previous_value": previous,
                        "corrected_by": by,
                        "corrected_on": on.isoformat(),
                        "reason_text_id": reason_text_id,
                    },
                )
            ]
        )

    def _correct_date(self, field_name: str, value) -> tuple[str, str]:
        if not isinstance(value, date):
            try:
                value = date.fromisoformat(str(value))
            except ValueError:
                raise CorrectionValueMustBeValid("value", "must be a date (YYYY-MM-DD)") from None
        index = self._step_index(field_name)
        if index is None:
            raise CorrectionNeedsTheStepRecorded(
                f"this referral has no {STEP_NAMES[field_name]} date to correct"
            )
        previous = self.timeline[index][1]
        corrected = list(self.timeline)
        corrected[index] = (field_name, value)
        runs_forward(corrected)
        return previous.isoformat(), value.isoformat()

    def _correct_code(self, field_name: str, value):
        if field_name == "outcome_reason":
            choices = OUTCOME_REASONS.get(self.status or "")
            if choices is None:
                raise CorrectionNeedsTheStepRecorded(
                    "only a declined, discharged or closed referral has a reason to correct"
                )
            previous = self.outcome_reason
        else:
            choices = CODE_LISTS[field_name]
            previous = self.details.get(field_name)
        if field_name == "needs":
            if not isinstance(value, list) or any(v not in choices for v in value):
                raise CorrectionValueMustBeValid(
                    "value", f"must be a list of: {', '.join(choices)}"
                )
            return sorted(previous or []), sorted(set(value))
        if value not in choices:
            raise CorrectionValueMustBeValid("value", f"must be one of: {', '.join(choices)}")
        return previous, value

    def apply_referral_corrected(self, p: dict) -> None:
        self.corrections.append(dict(p))
        name, value = p["field"], p["value"]
        if name in CORRECTABLE_DATES:
            index = self._step_index(name)
            if index is not None:
                self.timeline[index] = (name, date.fromisoformat(value))
            if name == "received_on":
                self.received_on = date.fromisoformat(value)
                self.details["received_on"] = value
            elif name == "first_contact_on":
                self.first_contact_on = date.fromisoformat(value)
        elif name == "outcome_reason":
            self.outcome_reason = value
        else:
            self.details[name] = value
            if name == "source":
                self.details["source_group"] = REFERRAL_SOURCES[value]
