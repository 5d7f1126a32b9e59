"""The services' refusals a peer worker meets most, in plain words. A service names the rule it
applied (`rule` in its answer, docs/domain.md) and says why in words written for whoever calls
its API; a page shows these words instead, at the field the refusal names (or the one the page
knows the rule is about), so the error summary still links to it. A rule not listed here is
shown in the service's own words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

# a date as the services write it
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _dates(message: str) -> list[str]:
    found = []
    for text in _ISO_DATE.findall(message):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            continue
        found.append(f"{day.day} {day:%B %Y}")
    return found


def _earliest(message: str) -> str:
    """The floor a refusal names (its second date), in brackets, or nothing."""
    dates = _dates(message)
    return f" ({dates[-1]})" if len(dates) >= 2 else ""


def _before_concern_floor(message: str) -> str:
    # what happened may be long before the organisation's records begin; its floor is its own
    earliest = _earliest(message)
    return f"The date is before the earliest date a concern can record{earliest}. Check the year"


def _before_earliest(message: str) -> str:
    earliest = _earliest(message)
    return (
        f"The date is before the earliest date your organisation records in Peerlink{earliest}. "
        "Check the year"
    )


# rule -> what a peer worker is told; a function of the service's message where its details
# (a date) help
RULE_WORDS: dict[str, str | Callable[[str], str]] = {
    # dates
    "DateMustNotBeInTheFuture": "The date cannot be in the future: record what has happened",
    "DateMustNotPrecedeTheEarliestDate": _before_earliest,
    "ConcernDateMustNotPrecedeTheEarliestConcernDate": _before_concern_floor,
    "SessionCannotBeRecordedInTheFuture": (
        "The session has not finished yet. Record it once it has happened, or book it instead"
    ),
    "MeasureCannotBeTakenInTheFuture": "The date the measure was taken cannot be in the future",
    "MeasureCannotPrecedeTheFirstContact": (
        "The measure is dated before the first contact on their referral. Check the date, or "
        "correct the referral's first contact date if the measure was taken then"
    ),
    "ActionCannotBeDueInThePast": "The date it is due by cannot be in the past",
    # the workforce
    "WorkerMustBeRegistered": (
        "This worker is not on your organisation's workforce list. Ask your Peerlink "
        "administrator to add them"
    ),
    "WorkerMustNotHaveLeft": (
        "This worker has left your organisation, so new records cannot name them. Choose "
        "someone else"
    ),
    "AllocatedWorkerMustHoldACaseload": (
        "This worker does not hold a caseload. Allocate the referral to a peer worker or team lead"
    ),
    "PeerWorkerRecordsOnlyTheirCaseload": (
        "You can record this only for people on your own caseload. Ask your team lead if "
        "someone is missing from it"
    ),
    # referrals
    "ReferralNamesARegisteredPerson": (
        "This person is not registered here. Find them again, or register them"
    ),
    "ErasedPersonCannotBeReferred": (
        "This person's details were erased. Register them again to record a referral for them"
    ),
    "ReferralMustBeAcceptedBeforeAllocation": (
        "The referral must be accepted before it is allocated to a worker"
    ),
    "FirstContactNeedsAllocation": (
        "First contact can be recorded once, after the referral is allocated to a worker"
    ),
    "DischargeNeedsActiveSupport": (
        "Only someone whose support has started can be discharged. If there was no contact, "
        "close the referral without contact instead"
    ),
    "OnlyActiveReferralsCanBePutOnHold": "Only support that has started can be put on hold",
    "OfferMustBeOpen": "This offer has already been answered, or the partner withdrew it",
    "ConsentIsWithdrawnOnce": (
        "Their consent is already withdrawn. Record their consent again before withdrawing it"
    ),
    # sessions, measures, plans and groups
    "OneToOneNeedsAnActiveReferral": (
        "A one-to-one session is for someone whose referral is active. Record first contact on "
        "their referral first"
    ),
    "CarerSupportNeedsAnActiveReferral": (
        "Carer support is for a carer whose referral is active. Record first contact on their "
        "referral first"
    ),
    "SessionCannotBeLongerThanTheLimit": (
        "A session cannot be that long. Check how long it lasted, in minutes"
    ),
    "NotesMustSaySomething": "Choose a theme or an action agreed, or write some notes",
    "StartAndDischargeMeasuresAreTakenOnce": (
        "This measure has already been recorded at that point of their support. Record it as a "
        "review instead"
    ),
    "OneOpenCrisisAndSafetyPlanPerPerson": (
        "This person already has a crisis and safety plan. Change that plan, or close it before "
        "making a new one"
    ),
    "RecoveryPlanNeedsAGoal": "Enter at least one goal",
    "CrisisPlanNeedsSomeoneToContact": "Enter at least one person or service to contact",
    "GroupNeedsAFacilitator": "A group needs at least one facilitator",
    "PersonJoinsAGroupOnce": "This person is already in the group or on its waiting list",
    # safeguarding
    "Section42ReferralsAreForAdults": (
        "A section 42 referral to the local authority is for an adult. For a child, refer to "
        "children's services"
    ),
    "ChildrensServicesReferralsAreForChildren": (
        "A referral to children's services is for a child. For an adult, make a section 42 "
        "referral to the local authority"
    ),
    "ClosingNeedsEveryActionCompleted": (
        "Some actions are still open. Complete each action before closing the concern"
    ),
    "NoFurtherActionLeavesNoActionOpen": (
        "Some actions are still open. Complete them before deciding on no further action"
    ),
    "ImmediateRiskMeansImmediateSeverity": "Select immediate: someone is at immediate risk",
}


def refusal_words(rule: str | None, message: str) -> str | None:
    """What a peer worker is told about a refusal under `rule` (None: no words of our own, the
    service's words are shown)."""
    words = RULE_WORDS.get(rule or "")
    if words is None:
        return None
    text = words(message) if callable(words) else words
    return text.rstrip(".") + "."
