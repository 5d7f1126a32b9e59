"""The services' refusals in plain words, for every rule a page can meet. A service names the
rule it applied (`rule` in its answer, docs/domain.md; a refusal for the person themselves names
it in its message) and says why in words written for whoever calls its API; a page shows these
words instead, at the field the refusal names (or the one the page knows the rule is about), so
the error summary still links to it. The rules no page can meet are listed with why
(NO_PAGE_MEETS); tests/unit/test_web_rule_words.py checks that every rule is in one or the
other."""

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


def _after(message: str) -> str:
    """The date a refusal says it must not come before (its last date), in brackets, or
    nothing."""
    dates = _dates(message)
    return f" ({dates[-1]})" if dates else ""


def _timeline(message: str) -> str:
    return (
        f"The date is before an earlier step of this referral{_earliest(message)}. Check the "
        "date, or correct the earlier step"
    )


def _worker_left_after_joining(message: str) -> str:
    return (
        f"The date they left is before they joined your organisation's workforce"
        f"{_earliest(message)}. Check the date"
    )


def _without_consent(message: str) -> str:
    if "consented" in message:
        return "The person agreed, so leave the reason for going ahead without consent empty"
    if "child" in message:
        return "That reason for going ahead without consent is for a concern about a child only"
    return "Say why you are going ahead without the person's consent"


def _before_earliest(message: str) -> str:
    earliest = _earliest(message)
    return (
        f"The date is before the earliest date your organisation records in Peerlink{earliest}. "
        "Check the year"
    )


# rule -> what a peer worker, team lead, safeguarding lead or partner admin is told: what is
# wrong and what to do; a function of the service's message where its details (a date) help
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
    "GroupNeedsAFacilitator": lambda message: (
        "A group needs at least one facilitator. Add another before taking this one off"
        if "only facilitator" in message
        else "A group needs at least one facilitator"
    ),
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
    "AcknowledgementNeedsARaisedConcern": (
        "This concern can no longer be acknowledged: someone may have acknowledged it already. "
        "Look at the concern again"
    ),
    "DecisionNeedsAcknowledgement": "Acknowledge the concern before deciding what happens",
    "NewDecisionMustChangeTheRoute": (
        "That is already the decision. Choose a different decision, or go back"
    ),
    "RevisingADecisionNeedsAReason": (
        "Say why the decision is changing. A reason is given only when a decision already made "
        "is changed"
    ),
    "NoFurtherActionNeedsAReason": (
        "Select why no further action is needed. A reason is given with no further action only: "
        "explain other decisions in the rationale"
    ),
    "ClosingNeedsADecision": (
        "A concern is closed once a lead has decided what happens. Record a decision first"
    ),
    "ActionsFollowADecisionToAct": (
        "Actions are added once a lead has decided to act on the concern. Record that decision "
        "first"
    ),
    "OnlyOpenActionsCanBeCompleted": "This action has already been completed",
    "NotesFollowRaising": "A note can be added once the concern has been raised",
    "ConcernNeedsAPerson": (
        "Choose the person at risk, or describe them if they are not known to you: one or the other"
    ),
    "ConcernNeedsACategory": "Select at least one type of abuse or neglect, each once",
    "CategoriesMustSuitTheAgeGroup": (
        "A type of abuse or neglect chosen is not one for this age group. Check whether the "
        "concern is about an adult or a child, and the types chosen"
    ),
    "NoActionTakenStandsAlone": (
        "Select the actions taken at once, or that no action was taken, but not both"
    ),
    "ActingWithoutConsentNeedsAReason": _without_consent,
    "ConcernTimesMustRunForward": (
        "The date and time are before an earlier step of this concern. Check them"
    ),
    "PersonIsIdentifiedOnce": "The person at risk is already recorded on this concern",
    "IdentifyingNeedsAnOpenConcern": (
        "The person at risk can be recorded only while the concern is open"
    ),
    # more dates
    "ReferralTimelineRunsForward": _timeline,
    "FirstContactCannotPrecedeReferral": (
        "First contact cannot be before the referral was received. Check the date"
    ),
    "FirstContactCannotFollowASessionHeld": lambda message: (
        f"A session with them was recorded before this date{_earliest(message)}, and that was "
        "the first contact. Record first contact on or before the day of that session"
    ),
    "FirstContactCannotFollowAMeasureTaken": lambda message: (
        f"A measure for this referral was taken before this date{_earliest(message)}, so they "
        "had been met by then. Record first contact on or before that day, or void the measure "
        "if it was recorded in error"
    ),
    "DischargeCannotPrecedeASessionHeld": lambda message: (
        f"A session with them was recorded after this date{_earliest(message)}. Discharge them "
        "on or after that day, or void the session if it was recorded in error"
    ),
    "SessionCannotPrecedeTheReferral": lambda message: (
        f"The session is before their referral was received{_earliest(message)}. Check the date"
    ),
    "SessionCannotPrecedeTheFirstContact": lambda message: (
        f"The session is before the first contact recorded on their referral{_earliest(message)}"
        ". If this session was the first contact, correct the date of first contact on the "
        "referral first"
    ),
    "SessionCannotFollowTheDischarge": lambda message: (
        f"The session is after their support ended{_earliest(message)}. Check the date"
    ),
    "MeasureCannotPrecedeTheReferral": lambda message: (
        f"The date the measure was taken is before their referral was received"
        f"{_earliest(message)}. Check the date"
    ),
    "FollowUpMeasureCannotPrecedeTheStart": lambda message: (
        f"A review or end measure cannot be dated before the measure taken at the start of their "
        f"support{_after(message)}. Check the date"
    ),
    "OutcomeCannotPrecedeTheSignposting": lambda message: (
        f"The outcome cannot be dated before the day they were signposted{_after(message)}"
    ),
    "PlanChangeCannotPrecedeTheDraft": lambda message: (
        f"A change to the plan cannot be dated before the day it was drafted{_after(message)}"
    ),
    "WorkerLeavesAfterJoining": _worker_left_after_joining,
    "NotAttendingOnlyOnceTheSessionStarts": (
        "You can record that someone did not come, or was not seen, only once the session has "
        "started"
    ),
    "SessionCannotEndBeforeItStarts": "A session lasts at least one minute. Check how long it was",
    # more of the workforce
    "OnlyARegisteredWorkerLeaves": (
        "This worker has already been marked as left, or is not on the workforce list"
    ),
    "PeerWorkerSeesOnlyTheMembersOfGroupsTheyFacilitate": (
        "Only the group's facilitators and team leads can see who is in this group. Ask one of them"
    ),
    # more of referrals and people
    "ACarerCaresForSomeoneElse": (
        "A carer's referral names the person they care for, who is someone other than the "
        "carer. Choose the person they care for"
    ),
    "ReferralMustBeReceivedToDecide": (
        "This referral has already been accepted or declined. Look at the referral again"
    ),
    "ReallocationNeedsAnAllocatedWorker": (
        "Only a referral already allocated to a worker can be reallocated. Allocate it instead"
    ),
    "ReallocationMustChangeWorker": (
        "The referral is already allocated to this worker. Choose a different worker"
    ),
    "OnlyReferralsOnHoldCanResume": "Only support that is on hold can be resumed",
    "ClosingWithoutContactNeedsNoContact": (
        "Only a referral with no contact yet can be closed without contact. If their support "
        "has started, discharge them instead"
    ),
    "CorrectionMustNameACorrectableField": (
        "This detail cannot be corrected here. Choose one of the details listed"
    ),
    "CorrectionValueMustBeValid": "Choose the correct value from those listed, or enter a date",
    "CorrectionMustChangeTheValue": (
        "That is what is recorded already. Enter what it should be, or go back"
    ),
    "CorrectionNeedsTheStepRecorded": (
        "There is nothing to correct: that step has not been recorded on this referral"
    ),
    "TextMustHaveContent": "Enter some words: this cannot be left blank",
    "NoSupportForAnErasedPerson": (
        "This person's details were erased, so their referral can only be closed or discharged"
    ),
    "NothingIsWrittenAboutAnErasedPerson": (
        "This person's details were erased, so nothing more can be written about them"
    ),
    "WordsNeedARegisteredPerson": (
        "This person is not registered here yet, so words about them cannot be saved. Register "
        "them first"
    ),
    "ErasureReasonMustNotIdentify": (
        "The reason is kept after their details are erased, so it must not say who they are "
        "(their name, date of birth, NHS number, address or phone number). Give the reason "
        "without them"
    ),
    # offering a referral to another partner, and answering a partner's offer
    "TransferNeedsAnOpenReferral": "Only an open referral can be offered to another partner",
    "TransferNeedsConsentToShare": (
        "The person has not agreed to their referral being shared. Record their consent to "
        "share first"
    ),
    "OfferNeedsConsentNotWithdrawn": (
        "The person withdrew their consent. Record their consent again before offering their "
        "referral"
    ),
    "OfferMustStayWithinConsent": (
        "The offer goes beyond what the person agreed to share. Choose a partner, and details "
        "to share, that their consent allows"
    ),
    "TransferMustGoToAnotherPartner": "A referral can be offered only to another partner",
    "TransferCarriesWhoThePersonIs": (
        "An offer shares who the person is, so the partner can register them. Select their "
        "details to share"
    ),
    "OneOfferAtATime": (
        "This referral is already offered to a partner. Withdraw that offer before making another"
    ),
    "NoOfferToWithdraw": (
        "This referral is not offered to a partner now, so there is no offer to withdraw"
    ),
    "OfferNeedsThePartnersTransferKey": (
        "Peerlink is not yet set up to send records to this partner. Ask your Peerlink "
        "administrator"
    ),
    "NothingIsSharedAboutAnErasedPerson": (
        "This person's details were erased, so nothing about them can be shared with a partner"
    ),
    "OfferAwaitsThePersonsRecord": (
        "The person's details from the partner have not arrived yet. Try again in a few "
        "minutes; if they still have not come, ask the partner"
    ),
    "TransferredPersonMayBeRegisteredHere": (
        "Someone registered here may be the same person. Choose them from the list, or say "
        "they are someone new"
    ),
    "TransferredRecordMustRegisterThePerson": (
        "The partner's details are not enough to register the person here. Choose someone "
        "already registered, or ask the partner to check the details"
    ),
    # more of sessions
    "GroupSessionNeedsAnOpenGroup": "A group session is for an open group. Choose the group",
    "SessionLinksMustFitItsKind": (
        "This kind of session does not fit the person or group chosen. Check the kind of session"
    ),
    "SessionIsRecordedOnce": "This session has already been recorded as held",
    "RecordMustMatchTheBooking": (
        "This session was booked for someone or something else. Book a new session instead"
    ),
    "CancelledSessionCannotChange": (
        "This session was cancelled, so it cannot be changed. Record the session that took "
        "place instead"
    ),
    "OnlyBookedSessionsCanBeCancelled": (
        "Only a booked session can be cancelled. For a session that took place, correct who "
        "came instead"
    ),
    "SessionMustBeHeldFirst": "Record the session as held first, then who came",
    "AttendanceMustBeForThePersonBooked": (
        "This session is for the person it was booked for. Record a session of its own for "
        "anyone else"
    ),
    "AttendanceIsRecordedOncePerPerson": (
        "This person's attendance is already recorded. Correct it, saying why, instead"
    ),
    "OnlyDropInsCountAnonymousAttendees": (
        "Only a drop-in counts people who came without giving their details"
    ),
    "AnonymousCountIsRecordedOnce": (
        "The number who came without giving their details is already recorded. Correct it, "
        "saying why, instead"
    ),
    "NotesAreWrittenOnceTheSessionIsHeld": (
        "Notes are written once the session has taken place. Record it as held first"
    ),
    "NotesAreWrittenOnce": (
        "This session's notes are already written. Correct them, saying why, instead"
    ),
    "GroupSessionIsRecordedOncePerStart": (
        "This group already has a session recorded at that time. Record who came on that "
        "session, or void it first if it was recorded in error"
    ),
    "SessionMustExist": "This session could not be found. Go back and open it again",
    "VoidedRecordCannotChange": (
        "This was voided as recorded in error, so it cannot be changed. Record what took place "
        "instead"
    ),
    "CorrectionNeedsAnEarlierRecord": "There is nothing recorded yet to correct. Record it instead",
    "CorrectionNeedsAReason": "Select why the record is being corrected or voided",
    "CorrectionMustChangeTheRecord": (
        "That is what is recorded already. Change something, or go back"
    ),
    "ChangeMustChangeSomething": "That is how it is set already. Change something, or go back",
    # more of plans, signposting and groups
    "PlanMustBeOpen": "This plan has been closed, so it cannot be changed. Draft a new plan",
    "PlanKindIsFixed": "A plan's kind cannot be changed. Draft a new plan of the kind needed",
    "RevisionMustChangeThePlan": (
        "The revised plan is the same as the current one. Change something, or go back"
    ),
    "ReviewedAsRevisedNeedsARevision": (
        "The plan has not been revised since it was drafted or last reviewed. Revise it first, "
        "or record that no changes were needed"
    ),
    "ReviewIntervalMustBeBetweenAWeekAndAYear": (
        "A plan is reviewed at least once a year and at most once a week. Enter a number of days "
        "from 7 to 366"
    ),
    "SignpostingMustExist": "This signposting could not be found. Go back and open it again",
    "OutcomeIsRecordedOnce": "Whether they took it up is already recorded",
    "OutcomeMustBeKnownToRecord": "Select whether they took it up or not",
    "GroupMustBeOpen": "This group has closed, so it cannot be changed",
    "GroupCapacityMustBeAtLeastOne": "A group has at least one place",
    "OnlyMembersOrWaitingCanLeave": ("This person is not in the group or on its waiting list"),
    "FacilitatorIsAddedOnce": "This worker already facilitates the group",
    "OnlyAFacilitatorCanBeRemoved": "This worker does not facilitate the group",
}

# A rule met as a refusal of the signed-in person themselves (403), where it means something
# else than when a form names someone.
REFUSED_YOURSELF: dict[str, str] = {
    "WorkerMustNotHaveLeft": (
        "Your organisation has recorded that you left, so Peerlink does not let you record "
        "anything. If this is wrong, ask your Peerlink administrator to add you again"
    ),
}

# Rules no page can meet, and why: each is in the services' API for other callers.
NO_PAGE_MEETS: dict[str, str] = {
    "ReferralMustBeNew": "the referrals service chooses a new referral's id",
    "SessionMustBeNew": "the sessions service chooses a new session's id",
    "PlanMustBeNew": "the sessions service chooses a new plan's id",
    "GroupMustBeNew": "the sessions service chooses a new group's id",
    "SignpostingMustBeNew": "the sessions service chooses a new signposting's id",
    "ConcernMustBeNew": "the safeguarding service chooses a new concern's id; no page confirms "
    "a suggested one",
    "ActionIdsAreUnique": "the safeguarding service chooses a new action's id",
    "EscalationNeedsAnOpenDeadline": "escalations are made by the safeguarding service's timers",
    "EscalationsFollowTheLadder": "escalations are made by the safeguarding service's timers",
    "NoEscalationToNotify": "escalations are sent by the safeguarding service's timers",
    "OnlySuggestionsCanBeConfirmedOrDismissed": "no page confirms or dismisses a suggestion",
    "ConfirmationKeepsTheSuggestedPerson": "no page confirms or dismisses a suggestion",
    "WorkerIsRegisteredOnce": "no page registers a worker (the API does, or their first act)",
    "MeasureMustExist": "no page voids a measure",
    "VoidNeedsARecord": "no page voids a person's attendance",
    "NoOfferToAnswer": "a partner's answer reaches the offered referral from the hub, not a page",
    "SessionNeedsAWorker": "a page always names the signed-in worker on the session",
}


def refusal_words(rule: str | None, message: str, status: int | None = None) -> str | None:
    """What a person is told about a refusal under `rule` (None: no words of our own, the
    service's words are shown); `status` 403 is a refusal of the person themselves."""
    words = (REFUSED_YOURSELF if status == 403 else {}).get(rule or "") or RULE_WORDS.get(
        rule or ""
    )
    if words is None:
        return None
    text = words(message) if callable(words) else words
    return text.rstrip(".") + "."
