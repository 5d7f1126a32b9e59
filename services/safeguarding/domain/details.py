"""What a worker records about a concern when raising it (or confirming a suggested one), and
the rules it keeps: a person at risk, categories that suit their age group, a severity that
suits the risk, the actions taken at once, and consent or the reason for going ahead without
it. Every `*_text_id` is text sealed in the vault by the service; no words enter an event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from contracts.safeguarding.codes import ADULT, CATEGORIES, CHILD, IMMEDIATE, NO_ACTION_TAKEN
from services.safeguarding.domain.state import an, code_words, id_or_none
from shared.aggregate import ReferenceRefused, Rule


class ConcernDateMustNotPrecedeTheEarliestConcernDate(ReferenceRefused):
    """A date before the earliest a concern may say it happened (a mistyped year such as
    0026): invalid input, answered 422 naming the field. A rule of its own, not the records'
    `DateMustNotPrecedeTheEarliestDate`: its floor is not the partner's earliest date."""


# A concern may be a disclosure of abuse long past (an adult telling of their childhood), so
# what happened is dated by a floor of its own, not by the earliest date the partner keeps
# records from: a date in any living person's lifetime.
EARLIEST_HAPPENED_ON = date(1900, 1, 1)


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
            "person_id": id_or_none(self.person_id),
            "description_text_id": id_or_none(self.description_text_id),
            "age_group": self.age_group,
            "categories": list(self.categories),
            "severity": self.severity,
            "immediate_risk": self.immediate_risk,
            "what_happened_text_id": id_or_none(self.what_happened_text_id),
            "happened_on": self.happened_on.isoformat() if self.happened_on else None,
            "is_ongoing": self.is_ongoing,
            "children_at_risk": self.children_at_risk,
            "alleged_relationship": self.alleged_relationship,
            "actions_taken": list(self.actions_taken),
            "actions_taken_text_id": id_or_none(self.actions_taken_text_id),
            "informed": list(self.informed),
            "consent_given": self.consent_given,
            "without_consent_reason": self.without_consent_reason,
            "views_text_id": id_or_none(self.views_text_id),
        }


def check_details(details: ConcernDetails) -> None:
    if details.happened_on and details.happened_on < EARLIEST_HAPPENED_ON:
        raise ConcernDateMustNotPrecedeTheEarliestConcernDate(
            "happened_on",
            f"{details.happened_on.isoformat()} is before {EARLIEST_HAPPENED_ON.isoformat()}, "
            "the earliest date a concern may say it happened",
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
        names = ", ".join(code_words(c) for c in wrong)
        raise CategoriesMustSuitTheAgeGroup(
            f"{names}: not a category for a concern about {an(details.age_group)}; "
            f"the categories for {an(details.age_group)} are "
            f"{', '.join(code_words(c) for c in allowed)}"
            + (
                f" (is this a concern about {an(other)}?)"
                if all(c in CATEGORIES[other] for c in wrong)
                else ""
            )
        )
    if len(set(details.categories)) != len(details.categories):
        raise ConcernNeedsACategory("each category is recorded once")
    severity_suits_the_risk(details.severity, details.immediate_risk)
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


def severity_suits_the_risk(severity: str | None, immediate_risk: bool) -> None:
    if immediate_risk and severity != IMMEDIATE:
        raise ImmediateRiskMeansImmediateSeverity(
            "a person at immediate risk makes the concern's severity immediate"
        )
