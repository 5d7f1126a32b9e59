"""A person's plan: a recovery and wellbeing plan, a crisis and safety plan or a carer's crisis
plan, each version an event, reviewed at an interval the plan sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from contracts.sessions.codes import (
    CARER_CRISIS,
    CLOSED,
    CRISIS_SAFETY,
    DEFAULT_REVIEW_INTERVAL_DAYS,
    OPEN,
    RECOVERY_WELLBEING,
    REVIEW_INTERVAL_DAYS_RANGE,
)
from services.sessions.domain.records import ChangeMustChangeSomething, readable
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


class PlanMustBeNew(Rule):
    pass


class PlanMustBeOpen(Rule):
    pass


class PlanKindIsFixed(Rule):
    pass


class RecoveryPlanNeedsAGoal(Rule):
    pass


class CrisisPlanNeedsSomeoneToContact(Rule):
    pass


class RevisionMustChangeThePlan(Rule):
    pass


class PlanChangeCannotPrecedeTheDraft(Rule):
    pass


class ReviewedAsRevisedNeedsARevision(Rule):
    pass


class ReviewIntervalMustBeBetweenAWeekAndAYear(Rule):
    pass


class OneOpenCrisisAndSafetyPlanPerPerson(Rule):
    pass


def review_due_on(reviewed_on: date, interval_days: int) -> date:
    """When a plan drafted or last reviewed on `reviewed_on` is next due for review."""
    return reviewed_on + timedelta(days=interval_days)


def _content_fits(kind: str, content: Mapping) -> None:
    if kind == RECOVERY_WELLBEING and not content.get("goals"):
        raise RecoveryPlanNeedsAGoal("a recovery and wellbeing plan needs at least one goal")
    if kind in (CRISIS_SAFETY, CARER_CRISIS) and not (
        content.get("people") or content.get("services")
    ):
        raise CrisisPlanNeedsSomeoneToContact(
            "a crisis plan needs at least one person or service to contact"
        )


def _interval(days: int) -> int:
    shortest, longest = REVIEW_INTERVAL_DAYS_RANGE
    if not shortest <= days <= longest:
        raise ReviewIntervalMustBeBetweenAWeekAndAYear(
            f"a plan is reviewed every {shortest} to {longest} days, not every {days}"
        )
    return days


class Plan(Aggregate):
    """A person's recovery and wellbeing plan, crisis and safety plan or carer's crisis plan.
    Every version is an event: drafted, then revised with its full new content, and reviewed."""

    stream_type = "plan"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.person_id: str | None = None
        self.kind: str | None = None
        self.referral_id: str | None = None
        self.content: dict = {}
        self.revision = 0
        self.drafted_on: date | None = None
        self.last_reviewed_on: date | None = None
        self.review_interval_days = DEFAULT_REVIEW_INTERVAL_DAYS
        self.is_revised_since_review = False

    # -- commands ----------------------------------------------------------------------------

    def draft(
        self,
        *,
        person_id: str,
        kind: str,
        content: Mapping,
        by: str,
        on: date,
        review_interval_days: int = DEFAULT_REVIEW_INTERVAL_DAYS,
        referral_id: str | None = None,
        open_plans: Sequence[tuple[str, str]] = (),
    ) -> list[NewEvent]:
        """`content` is the kind's content as JSON (the PlanDrafted schema checks its shape);
        `open_plans`, the person's open plans as (plan id, kind): a person has one crisis and
        safety plan at a time, so that in a crisis nobody follows an out-of-date one."""
        if self.status is not None:
            raise PlanMustBeNew("this plan has already been drafted")
        if kind == CRISIS_SAFETY:
            current = [plan_id for plan_id, open_kind in open_plans if open_kind == CRISIS_SAFETY]
            if current:
                raise OneOpenCrisisAndSafetyPlanPerPerson(
                    f"this person already has an open crisis and safety plan ({current[0]});"
                    f" revise it, or close it before drafting another"
                )
        _content_fits(kind, content)
        payload = {
            "person_id": str(person_id),
            "kind": kind,
            "content": dict(content),
            "review_interval_days": _interval(review_interval_days),
            "referral_id": referral_id,
            "drafted_by": by,
            "drafted_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanDrafted", payload)])

    def revise(
        self, *, kind: str, content: Mapping, reason: str, by: str, on: date
    ) -> list[NewEvent]:
        """The full new content; the event names the sections that changed."""
        self._must_be_open()
        if kind != self.kind:
            raise PlanKindIsFixed(
                f"this is a {readable(self.kind)} plan; draft a new plan for a"
                f" {readable(kind)} plan"
            )
        self._not_before_draft(on)
        _content_fits(kind, content)
        changed = sorted(
            name
            for name in set(self.content) | set(content)
            if self.content.get(name) != content.get(name)
        )
        if not changed:
            raise RevisionMustChangeThePlan("the revised plan is the same as the current one")
        payload = {
            "kind": kind,
            "content": dict(content),
            "revision": self.revision + 1,
            "changed_sections": changed,
            "reason": reason,
            "revised_by": by,
            "revised_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanRevised", payload)])

    def review(self, *, outcome: str, by: str, on: date) -> list[NewEvent]:
        """Reviewing restarts the review interval."""
        self._must_be_open()
        self._not_before_draft(on)
        if outcome == "revised" and not self.is_revised_since_review:
            raise ReviewedAsRevisedNeedsARevision(
                "the plan has not been revised since it was last drafted or reviewed; revise it"
                " first, or record that no changes were needed"
            )
        payload = {
            "outcome": outcome,
            "reviewed_by": by,
            "reviewed_on": on.isoformat(),
            "next_review_due_on": review_due_on(on, self.review_interval_days).isoformat(),
        }
        return self.decide([NewEvent("PlanReviewed", payload)])

    def change_review_interval(self, *, days: int, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        _interval(days)
        if days == self.review_interval_days:
            raise ChangeMustChangeSomething(f"the plan is already reviewed every {days} days")
        payload = {
            "review_interval_days": days,
            "previous_review_interval_days": self.review_interval_days,
            "changed_by": by,
            "changed_on": on.isoformat(),
        }
        return self.decide([NewEvent("PlanReviewIntervalChanged", payload)])

    def close(self, *, reason: str, by: str, on: date) -> list[NewEvent]:
        self._must_be_open()
        self._not_before_draft(on)
        payload = {"reason": reason, "closed_by": by, "closed_on": on.isoformat()}
        return self.decide([NewEvent("PlanClosed", payload)])

    def _must_be_open(self) -> None:
        if self.status is None:
            raise PlanMustBeOpen("no such plan")
        if self.status != OPEN:
            raise PlanMustBeOpen("this plan has been closed; draft a new plan instead")

    def _not_before_draft(self, on: date) -> None:
        if self.drafted_on and on < self.drafted_on:
            raise PlanChangeCannotPrecedeTheDraft(
                f"the plan was drafted on {self.drafted_on.isoformat()}; a change cannot be dated"
                f" before that"
            )

    # -- folding -----------------------------------------------------------------------------

    def apply_plan_drafted(self, p: dict) -> None:
        self.status = OPEN
        self.person_id = p["person_id"]
        self.kind = p["kind"]
        self.referral_id = p["referral_id"]
        self.content = dict(p["content"])
        self.revision = 1
        self.drafted_on = date.fromisoformat(p["drafted_on"])
        self.review_interval_days = p["review_interval_days"]

    def apply_plan_revised(self, p: dict) -> None:
        self.content = dict(p["content"])
        self.revision = p["revision"]
        self.is_revised_since_review = True

    def apply_plan_reviewed(self, p: dict) -> None:
        self.last_reviewed_on = date.fromisoformat(p["reviewed_on"])
        self.is_revised_since_review = False

    def apply_plan_review_interval_changed(self, p: dict) -> None:
        self.review_interval_days = p["review_interval_days"]

    def apply_plan_closed(self, p: dict) -> None:
        self.status = CLOSED

    # -- reading -----------------------------------------------------------------------------

    @property
    def review_due_on(self) -> date | None:
        """None for a closed plan: it is no longer reviewed."""
        if self.status != OPEN or self.drafted_on is None:
            return None
        return review_due_on(self.last_reviewed_on or self.drafted_on, self.review_interval_days)

    def is_review_overdue(self, today: date) -> bool:
        due = self.review_due_on
        return due is not None and today > due

    def as_dict(self) -> dict:
        return {
            "plan_id": self.id,
            "version": self.version,
            "status": self.status,
            "person_id": self.person_id,
            "kind": self.kind,
            "referral_id": self.referral_id,
            "revision": self.revision,
            "content": self.content,
            "drafted_on": self.drafted_on,
            "last_reviewed_on": self.last_reviewed_on,
            "review_interval_days": self.review_interval_days,
            "review_due_on": self.review_due_on,
        }
