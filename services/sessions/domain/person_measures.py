"""Every outcome measure one person completes (SWEMWBS and the others of
contracts/sessions/measures.py), on one stream per person, and the change from their first to
their latest."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from contracts.sessions import measures
from services.sessions.domain.records import (
    ReferralTimelineRunsForward,
    not_before_earliest,
    void_reason,
)
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


class MeasureCannotPrecedeTheReferral(ReferralTimelineRunsForward):
    pass


class MeasureCannotPrecedeTheFirstContact(ReferralTimelineRunsForward):
    pass


def measure_within_the_referral(
    taken_on: date, received_on: date | None, first_contact_on: date | None = None
) -> None:
    """A measure recorded for a referral is taken on or after the day it was received and the
    day of its first contact: a baseline is taken at first contact or after, and one taken on
    that day may have been taken at the first contact itself. Before any first contact is
    recorded a measure is kept, as a session is: the meeting it was taken at may be the first
    contact, recorded afterwards."""
    if received_on is not None and taken_on < received_on:
        raise MeasureCannotPrecedeTheReferral(
            f"taken_on: a measure taken on {taken_on.isoformat()} would come before the referral"
            f" was received on {received_on.isoformat()}"
        )
    if first_contact_on is not None and taken_on < first_contact_on:
        raise MeasureCannotPrecedeTheFirstContact(
            f"taken_on: a measure taken on {taken_on.isoformat()} would come before the"
            f" referral's first contact on {first_contact_on.isoformat()}; if it was taken at the"
            " first contact, correct the referral's first_contact_on"
        )


class MeasureCannotBeTakenInTheFuture(Rule):
    pass


class StartAndDischargeMeasuresAreTakenOnce(Rule):
    pass


class FollowUpMeasureCannotPrecedeTheStart(Rule):
    pass


class MeasureMustExist(Rule):
    pass


class PersonMeasures(Aggregate):
    """Every outcome measure one person completes, on one stream per person (its id is the
    person's id), so their series is read in one go and two workers recording measures for the
    same person at once meet a concurrency check rather than each missing the other's."""

    stream_type = "person_measures"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.taken: list[measures.Taken] = []
        # (measure, referral, timepoint) -> date taken, for the start and discharge measures
        self._episodes: dict[tuple[str, str | None, str], date] = {}
        # each measure is known by the number of its event in the stream (1 for the first):
        # number -> (the measure as taken, its referral), for the ones standing (not voided)
        self._standing: dict[int, tuple[measures.Taken, str | None]] = {}
        self._applied = 0

    def apply(self, event_type: str, payload: dict) -> None:
        self._applied += 1
        super().apply(event_type, payload)

    def record(
        self,
        *,
        measure: str,
        timepoint: str,
        answers: Mapping[str, int],
        taken_on: date,
        today: date,
        by: str,
        referral_id: str | None = None,
        earliest: date | None = None,
    ) -> list[NewEvent]:
        """Refuses answers that do not fit the measure with ValueError (the request body's
        schema checks them first, as a bad request); `earliest`: the earliest date the partner
        records."""
        not_before_earliest("taken_on", taken_on, earliest)
        scored = measures.measure(measure)
        score = scored.score(answers)
        if timepoint not in measures.TIMEPOINTS:
            raise ValueError(f"timepoint: '{timepoint}' is not one of start, review, discharge")
        if taken_on > today:
            raise MeasureCannotBeTakenInTheFuture(
                "a measure is recorded on or after the day the person completed it"
            )
        if timepoint != measures.REVIEW and (measure, referral_id, timepoint) in self._episodes:
            taken = self._episodes[(measure, referral_id, timepoint)]
            raise StartAndDischargeMeasuresAreTakenOnce(
                f"a {timepoint} {scored.name} was already recorded for this referral on"
                f" {taken.isoformat()}; record a review measure instead"
            )
        started = self._episodes.get((measure, referral_id, measures.START))
        if timepoint != measures.START and started and taken_on < started:
            raise FollowUpMeasureCannotPrecedeTheStart(
                f"the start {scored.name} was taken on {started.isoformat()}; a {timepoint}"
                f" measure cannot be dated before it"
            )
        payload = {
            "person_id": self.id,
            "measure": measure,
            "snomed_ct": scored.snomed_ct,
            "timepoint": timepoint,
            "taken_on": taken_on.isoformat(),
            "answers": {item: answers[item] for item in scored.items},
            "raw_score": score.raw,
            "metric_score": float(score.metric),
            "referral_id": referral_id,
            "recorded_by": by,
        }
        return self.decide([NewEvent("MeasureRecorded", payload)])

    def void(self, *, number: int, reason: str | None, by: str) -> list[NewEvent]:
        """Withdraw a measure recorded in error (the wrong person's, a duplicate): it leaves the
        person's series, their change and the hub's figures; a start or discharge measure may
        then be recorded again."""
        if number not in self._standing:
            raise MeasureMustExist(f"no measure standing as number {number} for this person")
        taken, referral_id = self._standing[number]
        payload = {
            "number": number,
            "measure": taken.measure,
            "timepoint": taken.timepoint,
            "taken_on": taken.taken_on.isoformat(),
            "referral_id": referral_id,
            "reason": void_reason(reason),
            "voided_by": by,
        }
        return self.decide([NewEvent("MeasureVoided", payload)])

    def is_standing(self, number: int) -> bool:
        return number in self._standing

    def apply_measure_recorded(self, p: dict) -> None:
        taken = measures.Taken.from_payload(p)
        self.taken.append(taken)
        self._standing[self._applied] = (taken, p["referral_id"])
        if taken.timepoint != measures.REVIEW:
            self._episodes[(taken.measure, p["referral_id"], taken.timepoint)] = taken.taken_on

    def apply_measure_voided(self, p: dict) -> None:
        taken, referral_id = self._standing.pop(p["number"])
        self.taken.remove(taken)
        if taken.timepoint != measures.REVIEW:
            self._episodes.pop((taken.measure, referral_id, taken.timepoint), None)

    def change(self, measure: str, threshold: Decimal | None = None) -> measures.Change | None:
        """First against latest of one measure; `threshold` overrides the measure's default."""
        return measures.change_from_first_to_latest(measure, self.taken, threshold)

    def as_dict(self) -> dict:
        return {
            "person_id": self.id,
            "version": self.version,
            "measures": [
                {
                    "number": number,
                    "measure": t.measure,
                    "timepoint": t.timepoint,
                    "taken_on": t.taken_on,
                    "metric_score": float(t.metric),
                }
                for number, (t, _) in sorted(self._standing.items())
            ],
        }
