"""The Referral aggregate: from a referral arriving to a person discharged.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` folds them. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.referrals.codes import (
    ACCEPTED as ACCEPTED,
)
from contracts.referrals.codes import (
    ACTIVE as ACTIVE,
)
from contracts.referrals.codes import (
    ALLOCATED as ALLOCATED,
)
from contracts.referrals.codes import (
    CLOSED_WITHOUT_CONTACT as CLOSED_WITHOUT_CONTACT,
)
from contracts.referrals.codes import (
    CLOSURE_REASONS as CLOSURE_REASONS,
)
from contracts.referrals.codes import (
    CONTACT_MODES as CONTACT_MODES,
)
from contracts.referrals.codes import (
    CORRECTABLE_CODES as CORRECTABLE_CODES,
)
from contracts.referrals.codes import (
    CORRECTABLE_DATES as CORRECTABLE_DATES,
)
from contracts.referrals.codes import (
    CORRECTABLE_FIELDS as CORRECTABLE_FIELDS,
)
from contracts.referrals.codes import (
    DECLINE_REASONS as DECLINE_REASONS,
)
from contracts.referrals.codes import (
    DECLINED as DECLINED,
)
from contracts.referrals.codes import (
    DISCHARGE_REASONS as DISCHARGE_REASONS,
)
from contracts.referrals.codes import (
    DISCHARGED as DISCHARGED,
)
from contracts.referrals.codes import (
    ENDED_STATES as ENDED_STATES,
)
from contracts.referrals.codes import (
    HOLD_REASONS as HOLD_REASONS,
)
from contracts.referrals.codes import (
    NEED_THEMES as NEED_THEMES,
)
from contracts.referrals.codes import (
    OFFER_DECLINE_REASONS as OFFER_DECLINE_REASONS,
)
from contracts.referrals.codes import (
    OFFER_WITHDRAWAL_REASONS as OFFER_WITHDRAWAL_REASONS,
)
from contracts.referrals.codes import (
    ON_HOLD as ON_HOLD,
)
from contracts.referrals.codes import (
    OPEN_STATES as OPEN_STATES,
)
from contracts.referrals.codes import (
    OUTCOME_REASONS as OUTCOME_REASONS,
)
from contracts.referrals.codes import (
    RECEIVED as RECEIVED,
)
from contracts.referrals.codes import (
    REFERRAL_SOURCES as REFERRAL_SOURCES,
)
from contracts.referrals.codes import (
    RISK_LEVELS as RISK_LEVELS,
)
from contracts.referrals.codes import (
    SHAREABLE as SHAREABLE,
)
from contracts.referrals.codes import (
    TRANSFERRED as TRANSFERRED,
)
from contracts.referrals.codes import (
    URGENCIES as URGENCIES,
)
from shared.aggregate import Aggregate, ReferenceRefused, Rule
from shared.events import NewEvent

CODE_LISTS = {
    "source": tuple(REFERRAL_SOURCES),
    "urgency": URGENCIES,
    "risk_level": RISK_LEVELS,
    "needs": NEED_THEMES,
    "preferred_contact_mode": CONTACT_MODES,
}


class ConsentIsWithdrawnOnce(Rule):
    pass


class ReferralMustBeNew(Rule):
    pass


class ReferralMustBeReceivedToDecide(Rule):
    pass


class ReferralMustBeAcceptedBeforeAllocation(Rule):
    pass


class ReallocationNeedsAnAllocatedWorker(Rule):
    pass


class ReallocationMustChangeWorker(Rule):
    pass


class FirstContactNeedsAllocation(Rule):
    pass


class OnlyActiveReferralsCanBePutOnHold(Rule):
    pass


class OnlyReferralsOnHoldCanResume(Rule):
    pass


class DischargeNeedsActiveSupport(Rule):
    pass


class ClosingWithoutContactNeedsNoContact(Rule):
    pass


class TransferNeedsConsentToShare(Rule):
    pass


class TransferMustGoToAnotherPartner(Rule):
    pass


class TransferNeedsAnOpenReferral(Rule):
    pass


class OneOfferAtATime(Rule):
    pass


class NoOfferToAnswer(Rule):
    pass


class OfferMustStayWithinConsent(TransferNeedsConsentToShare):
    """What the person consented to names the partners their record may go to and what of it:
    an offer to anyone else, or of anything more, is refused."""


class TransferCarriesWhoThePersonIs(Rule):
    """A referral moves with its person: an offer shares their identifiers, or the partner
    taking it could not tell who they are."""


class NoOfferToWithdraw(Rule):
    pass


class ReferralNamesARegisteredPerson(ReferenceRefused):
    pass


class ACarerCaresForSomeoneElse(ReferenceRefused):
    pass


class InputRule(ReferenceRefused):
    """A value that is wrong in itself (a date before the partner's earliest, or in the
    future, a blank text): invalid input, answered 422 naming the field and the rule."""


class DateMustNotBeInTheFuture(InputRule):
    pass


class DateMustNotPrecedeTheEarliestDate(InputRule):
    pass


class TextMustHaveContent(InputRule):
    pass


class CorrectionMustNameACorrectableField(InputRule):
    pass


class CorrectionValueMustBeValid(InputRule):
    pass


class ReferralTimelineRunsForward(Rule):
    """received <= accepted <= allocated <= first contact <= holds and resumes <= discharge:
    a step is never dated before the step it follows (a conflict with what is recorded: 409)."""


class FirstContactCannotPrecedeReferral(ReferralTimelineRunsForward):
    pass


class DischargeCannotPrecedeASessionHeld(ReferralTimelineRunsForward):
    pass


class FirstContactCannotFollowASessionHeld(ReferralTimelineRunsForward):
    pass


@dataclass(frozen=True)
class SessionsHeld:
    """The first and last day of the referral's one-to-one or carer sessions held (as the
    sessions service records them): first contact <= sessions <= discharge."""

    first: date
    last: date
    # the dates sessions held bound
    BOUNDED = ("first_contact_on", "discharged_on")

    def bound(self, field_name: str, on: date) -> None:
        if field_name == "discharged_on" and on < self.last:
            raise DischargeCannotPrecedeASessionHeld(
                f"discharged on {on.isoformat()} would come before a session held on "
                f"{self.last.isoformat()}; void that session if it was recorded in error"
            )
        if field_name == "first_contact_on" and on > self.first:
            raise FirstContactCannotFollowASessionHeld(
                f"first contact on {on.isoformat()} would come after a session held on "
                f"{self.first.isoformat()}, which was contact already"
            )


class CorrectionMustChangeTheValue(Rule):
    pass


class CorrectionNeedsTheStepRecorded(Rule):
    pass


class OfferNeedsConsentNotWithdrawn(TransferNeedsConsentToShare):
    pass


class ErasedPersonCannotBeReferred(ReferenceRefused):
    pass


def require_referable(field_name: str, standing: str | None) -> None:
    """A referral is about someone registered on this node (`standing` "registered"), never an
    id made up or mistyped, nor someone erased: their old id stays erased, and coming back they
    are registered anew."""
    if standing is None:
        raise ReferralNamesARegisteredPerson(
            field_name, "no such person on this node; register them first (or give person)"
        )
    if standing == "erased":
        raise ErasedPersonCannotBeReferred(
            field_name, "this person's record was erased; register them again to refer them"
        )


def _ended(status: str) -> str:
    return {
        DECLINED: "declined",
        DISCHARGED: "discharged",
        CLOSED_WITHOUT_CONTACT: "closed without contact",
        TRANSFERRED: "transferred to another partner",
    }.get(status, status.replace("_", " "))


@dataclass(frozen=True)
class Calendar:
    """Today, and the earliest date the partner records: every date a worker gives is checked
    against both, so a mistyped year (0006-01-07) or a date still to come never gets in."""

    today: date
    earliest: date

    def check(self, field_name: str, on: date) -> date:
        if on > self.today:
            raise DateMustNotBeInTheFuture(
                field_name, f"{on.isoformat()} is in the future; record what has happened"
            )
        if on < self.earliest:
            raise DateMustNotPrecedeTheEarliestDate(
                field_name,
                f"{on.isoformat()} is before {self.earliest.isoformat()}, the earliest date "
                "this partner records",
            )
        return on


def text_with_content(field_name: str, value: str | None) -> str | None:
    """Free text trimmed; text of nothing but spaces is refused, naming the field."""
    if value is None:
        return None
    trimmed = value.strip()
    if not trimmed:
        raise TextMustHaveContent(field_name, "must not be blank")
    return trimmed


# the step each timeline date records, for messages
_STEP_NAMES = {
    "received_on": "received",
    "accepted_on": "accepted",
    "declined_on": "declined",
    "allocated_on": "allocated",
    "first_contact_on": "first contact",
    "on_hold_on": "put on hold",
    "resumed_on": "resumed",
    "discharged_on": "discharged",
    "closed_on": "closed without contact",
}


class Referral(Aggregate):
    stream_type = "referral"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.details: dict = {}
        self.worker_id: str | None = None
        self.received_on: date | None = None
        self.first_contact_on: date | None = None
        self.consent_to_share = False
        self.consent: dict | None = None
        self.consent_withdrawn_on: date | None = None
        self.offered_to: str | None = None
        self.offer_id: str | None = None
        # once transferred: to whom, by which offer (an erasure here is told to them)
        self.transferred_to: str | None = None
        self.transfer_offer_id: str | None = None
        self.history_of_workers: list[str] = []
        self.outcome_reason: str | None = None
        # the dated steps in the order they were recorded: (timeline field, date)
        self.timeline: list[tuple[str, date]] = []
        # sealed texts: what each is (needs_notes, risk_notes, ...) -> its id in the vault
        self.text_ids: dict[str, str] = {}
        self.corrections: list[dict] = []

    # -- commands ----------------------------------------------------------------------------

    def receive(self, details: dict) -> list[NewEvent]:
        """`details` is the ReferralReceived payload (validated by its schema)."""
        if self.status is not None:
            raise ReferralMustBeNew("this referral has already been received")
        cared_for = details.get("cared_for_person_id")
        if cared_for is not None and cared_for == details.get("person_id"):
            raise ACarerCaresForSomeoneElse(
                "cared_for_person_id",
                "names the person referred: a carer's referral names the person they care for",
            )
        return self.decide([NewEvent("ReferralReceived", details)])

    def accept(self, by: str, on: date) -> list[NewEvent]:
        self._must_be_received("accepted")
        self._follows("accepted_on", on)
        return self.decide(
            [NewEvent("ReferralAccepted", {"accepted_by": by, "accepted_on": on.isoformat()})]
        )

    def decline(self, by: str, on: date, reason: str) -> list[NewEvent]:
        self._must_be_received("declined")
        self._follows("declined_on", on)
        return self.decide(
            [
                NewEvent(
                    "ReferralDeclined",
                    {"declined_by": by, "declined_on": on.isoformat(), "reason": reason},
                )
            ]
        )

    def allocate(self, worker_id: str, by: str, on: date) -> list[NewEvent]:
        if self.status == ALLOCATED or (self.status in (ACTIVE, ON_HOLD) and self.worker_id):
            return self.reallocate(worker_id, by, on)
        if self.status != ACCEPTED:
            if self.status in ENDED_STATES:
                raise ReferralMustBeAcceptedBeforeAllocation(
                    f"a {_ended(self.status)} referral cannot be allocated"
                )
            raise ReferralMustBeAcceptedBeforeAllocation(
                "a referral must be accepted before it is allocated to a worker"
            )
        self._follows("allocated_on", on)
        return self.decide(
            [
                NewEvent(
                    "ReferralAllocated",
                    {"worker_id": worker_id, "allocated_by": by, "allocated_on": on.isoformat()},
                )
            ]
        )

    def reallocate(self, worker_id: str, by: str, on: date) -> list[NewEvent]:
        if self.status not in (ALLOCATED, ACTIVE, ON_HOLD) or not self.worker_id:
            raise ReallocationNeedsAnAllocatedWorker(
                "only a referral allocated to a worker can be reallocated"
            )
        if worker_id == self.worker_id:
            raise ReallocationMustChangeWorker(f"the referral is already with {worker_id}")
        self._follows("allocated_on", on)
        return self.decide(
            [
                NewEvent(
                    "ReferralReallocated",
                    {
                        "worker_id": worker_id,
                        "previous_worker_id": self.worker_id,
                        "allocated_by": by,
                        "allocated_on": on.isoformat(),
                    },
                )
            ]
        )

    def record_first_contact(self, by: str, on: date) -> list[NewEvent]:
        if self.status != ALLOCATED:
            if self.status in (ACTIVE, ON_HOLD):
                raise FirstContactNeedsAllocation("first contact has already been recorded")
            raise FirstContactNeedsAllocation(
                "first contact can be recorded only once the referral is allocated"
            )
        if self.received_on and on < self.received_on:
            raise FirstContactCannotPrecedeReferral(
                "first contact cannot be before the referral was received"
            )
        self._follows("first_contact_on", on)
        return self.decide(
            [NewEvent("FirstContactMade", {"contacted_by": by, "contacted_on": on.isoformat()})]
        )

    def put_on_hold(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status != ACTIVE:
            raise OnlyActiveReferralsCanBePutOnHold(
                f"only active support can be put on hold; this referral is "
                f"{_ended(self.status or 'new')}"
            )
        self._follows("on_hold_on", on)
        return self.decide(
            [NewEvent("ReferralPutOnHold", {"by": by, "on": on.isoformat(), "reason": reason})]
        )

    def resume(self, by: str, on: date) -> list[NewEvent]:
        if self.status != ON_HOLD:
            raise OnlyReferralsOnHoldCanResume("only a referral on hold can be resumed")
        self._follows("resumed_on", on)
        return self.decide([NewEvent("ReferralResumed", {"by": by, "on": on.isoformat()})])

    def discharge(
        self,
        by: str,
        on: date,
        reason: str,
        close_open_items: bool = False,
        held: SessionsHeld | None = None,
    ) -> list[NewEvent]:
        """`close_open_items`: the sessions service is asked to cancel the referral's sessions
        still to come and close its open plans (it reacts to this event); `held`: the
        referral's sessions held, none of which a discharge comes before."""
        if self.status not in (ACTIVE, ON_HOLD):
            if self.status in (RECEIVED, ACCEPTED, ALLOCATED):
                raise DischargeNeedsActiveSupport(
                    "a referral with no contact yet is closed without contact, not discharged"
                )
            raise DischargeNeedsActiveSupport(
                f"a {_ended(self.status or 'new')} referral cannot be discharged"
            )
        self._follows("discharged_on", on)
        if held is not None:
            held.bound("discharged_on", on)
        return self.decide(
            [
                NewEvent(
                    "ReferralDischarged",
                    {
                        "discharged_by": by,
                        "discharged_on": on.isoformat(),
                        "reason": reason,
                        "close_open_items": close_open_items,
                    },
                )
            ]
        )

    def close_without_contact(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status not in (RECEIVED, ACCEPTED, ALLOCATED):
            raise ClosingWithoutContactNeedsNoContact(
                f"a {_ended(self.status or 'new')} referral cannot be closed without contact"
            )
        self._follows("closed_on", on)
        return self.decide(
            [
                NewEvent(
                    "ReferralClosedWithoutContact",
                    {"closed_by": by, "closed_on": on.isoformat(), "reason": reason},
                )
            ]
        )

    def offer_to(
        self,
        partner_id: str,
        own_partner: str,
        by: str,
        on: date,
        share: dict,
        shares: list[str] | None = None,
    ) -> list[NewEvent]:
        """`share`: the offer's id and coded details; `shares`: what of the person's record is
        sealed for the partner (SHAREABLE; by default all that their consent allows)."""
        if self.status not in OPEN_STATES:
            raise TransferNeedsAnOpenReferral(
                f"a {_ended(self.status or 'new')} referral cannot be offered to a partner"
            )
        if self.consent_withdrawn_on is not None and not self.consent_to_share:
            raise OfferNeedsConsentNotWithdrawn(
                f"the person withdrew their consent on {self.consent_withdrawn_on.isoformat()}; "
                "record their consent again before offering their referral"
            )
        if not self.consent_to_share:
            raise TransferNeedsConsentToShare(
                "the person has not consented to their referral being shared with a partner"
            )
        if partner_id == own_partner:
            raise TransferMustGoToAnotherPartner("a referral is offered to another partner")
        partners = self.consent_shares_with()
        if partners is not None and partner_id not in partners:
            raise OfferMustStayWithinConsent(
                f"the person consented to share their referral with "
                f"{', '.join(partners) or 'no partner'}, not with {partner_id}"
            )
        consented = self.consented_shares()
        shares = sorted(set(consented if shares is None else shares), key=SHAREABLE.index)
        beyond = [name for name in shares if name not in consented]
        if beyond:
            raise OfferMustStayWithinConsent(
                f"the person did not consent to share their {', '.join(beyond)}; they consented "
                f"to share {', '.join(consented) or 'nothing of their record'}"
            )
        if "identifiers" not in shares:
            raise TransferCarriesWhoThePersonIs(
                "an offer shares the person's identifiers: the partner taking their referral "
                "registers them with it"
            )
        if self.offered_to:
            raise OneOfferAtATime(f"this referral is already offered to {self.offered_to}")
        if self.received_on and on < self.received_on:
            raise ReferralTimelineRunsForward(
                f"offered on {on.isoformat()}, before the referral was received on "
                f"{self.received_on.isoformat()}"
            )
        return self.decide(
            [
                NewEvent(
                    "ReferralOffered",
                    {
                        "to_partner": partner_id,
                        "offered_by": by,
                        "offered_on": on.isoformat(),
                        **share,
                        "shares": shares,
                    },
                )
            ]
        )

    def withdraw_offer(self, by: str, on: date, reason: str) -> list[NewEvent]:
        """The offer taken back before the partner answered it; they keep nothing of it."""
        if not self.offered_to:
            raise NoOfferToWithdraw("this referral is not offered to any partner")
        return self.decide(
            [
                NewEvent(
                    "ReferralOfferWithdrawn",
                    {
                        "to_partner": self.offered_to,
                        "offer_id": self.offer_id,
                        "withdrawn_by": by,
                        "withdrawn_on": on.isoformat(),
                        "reason": reason,
                    },
                )
            ]
        )

    def person_erased(self, by: str, on: date) -> list[NewEvent]:
        """The person was erased here: an open offer is withdrawn, and a partner their referral
        went to is told (each partner answers for its own copy)."""
        if self.offered_to:
            return self.withdraw_offer(by, on, "person_erased")
        if self.status == TRANSFERRED and self.transferred_to:
            return self.decide(
                [
                    NewEvent(
                        "TransferredPersonErased",
                        {
                            "to_partner": self.transferred_to,
                            "offer_id": self.transfer_offer_id,
                            "erased_on": on.isoformat(),
                        },
                    )
                ]
            )
        return []

    def consent_shares_with(self) -> list[str] | None:
        """The partners the person consented to share with; None: any partner of the alliance
        (consent recorded before it named them)."""
        return None if self.consent is None else self.consent.get("share_with")

    def consented_shares(self) -> list[str]:
        """What of their record the person consented to share (SHAREABLE)."""
        if not self.consent_to_share:
            return []
        shares = (self.consent or {}).get("shares")
        return list(SHAREABLE) if shares is None else [s for s in SHAREABLE if s in shares]

    def settle_offer(
        self, offer_id: str, accepted: bool, partner_id: str, on: date
    ) -> list[NewEvent]:
        if self.offered_to != partner_id or self.offer_id != str(offer_id):
            raise NoOfferToAnswer(f"there is no open offer of this referral to {partner_id}")
        if accepted:
            return self.decide(
                [
                    NewEvent(
                        "ReferralTransferred",
                        {"to_partner": partner_id, "transferred_on": on.isoformat()},
                    )
                ]
            )
        return self.decide(
            [
                NewEvent(
                    "ReferralOfferDeclined",
                    {"to_partner": partner_id, "declined_on": on.isoformat()},
                )
            ]
        )

    def record_consent(self, consent: dict, by: str) -> list[NewEvent]:
        """Consent given (or refused) after the referral was made: at any time, as an event.
        `consent` is the ConsentRecorded payload's consent fields, recorded_on an ISO date."""
        self._must_exist()
        return self.decide([NewEvent("ConsentRecorded", {**consent, "recorded_by": by})])

    def withdraw_consent(self, by: str, on: date) -> list[NewEvent]:
        """A person may withdraw consent at any time; their referral is then offered to no one
        until they give it again, and an offer still open is withdrawn with it."""
        self._must_exist()
        if self.consent_withdrawn_on is not None:
            raise ConsentIsWithdrawnOnce(
                f"the person's consent was withdrawn on {self.consent_withdrawn_on.isoformat()}; "
                "record their consent again before it can be withdrawn again"
            )
        events = self.decide(
            [NewEvent("ConsentWithdrawn", {"withdrawn_by": by, "withdrawn_on": on.isoformat()})]
        )
        if self.offered_to:
            events += self.withdraw_offer(by, on, "consent_withdrawn")
        return events

    def correct(
        self,
        field_name: str,
        value,
        by: str,
        on: date,
        reason_text_id: str,
        held: SessionsHeld | None = None,
    ) -> list[NewEvent]:
        """Puts right a date or coded field recorded wrongly: who, when, why (sealed text),
        the old value and the new; the timeline must still run forward afterwards, around
        the referral's sessions `held` too."""
        self._must_exist()
        if field_name not in CORRECTABLE_FIELDS:
            raise CorrectionMustNameACorrectableField(
                "field", f"one of {', '.join(CORRECTABLE_FIELDS)}"
            )
        if field_name in CORRECTABLE_DATES:
            previous, value = self._correct_date(field_name, value)
            if held is not None:
                held.bound(field_name, date.fromisoformat(value))
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
                f"this referral has no {_STEP_NAMES[field_name]} date to correct"
            )
        previous = self.timeline[index][1]
        corrected = list(self.timeline)
        corrected[index] = (field_name, value)
        _runs_forward(corrected)
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

    def _must_exist(self) -> None:
        if self.status is None:
            raise ReferralMustBeReceivedToDecide("no such referral")

    def _must_be_received(self, verb: str) -> None:
        if self.status != RECEIVED:
            if self.status is None:
                raise ReferralMustBeReceivedToDecide("no such referral")
            raise ReferralMustBeReceivedToDecide(
                f"a referral can be {verb} only while it is received; this one is "
                f"{_ended(self.status)}"
            )

    def _follows(self, field_name: str, on: date) -> None:
        """A new step is dated on or after every step recorded before it."""
        _runs_forward([*self.timeline, (field_name, on)])

    def _step_index(self, field_name: str) -> int | None:
        """The step a date field names: the latest of its kind (an allocation: the latest)."""
        for index in range(len(self.timeline) - 1, -1, -1):
            if self.timeline[index][0] == field_name:
                return index
        return None

    # -- folding -----------------------------------------------------------------------------

    def _step(self, field_name: str, on: str) -> None:
        self.timeline.append((field_name, date.fromisoformat(on)))

    def apply_referral_received(self, p: dict) -> None:
        self.status = RECEIVED
        self.details = dict(p)
        self.received_on = date.fromisoformat(p["received_on"])
        self.consent = p.get("consent")
        self.consent_to_share = bool((p.get("consent") or {}).get("to_share"))
        self._step("received_on", p["received_on"])
        sealed = {
            "needs_notes": p.get("needs_text_id"),
            "risk_notes": p.get("risk_text_id"),
            "referrer_contact": (p.get("referrer") or {}).get("contact_text_id"),
            "contact_times": (p.get("consent") or {}).get("contact_times_text_id"),
        }
        self.text_ids = {name: str(t) for name, t in sealed.items() if t}

    def apply_referral_accepted(self, p: dict) -> None:
        self.status = ACCEPTED
        self._step("accepted_on", p["accepted_on"])

    def apply_referral_declined(self, p: dict) -> None:
        self.status = DECLINED
        self.outcome_reason = p["reason"]
        self._step("declined_on", p["declined_on"])

    def apply_referral_allocated(self, p: dict) -> None:
        self.status = ALLOCATED
        self.worker_id = p["worker_id"]
        self.history_of_workers.append(p["worker_id"])
        self._step("allocated_on", p["allocated_on"])

    def apply_referral_reallocated(self, p: dict) -> None:
        self.worker_id = p["worker_id"]
        self.history_of_workers.append(p["worker_id"])
        self._step("allocated_on", p["allocated_on"])

    def apply_first_contact_made(self, p: dict) -> None:
        self.status = ACTIVE
        self.first_contact_on = date.fromisoformat(p["contacted_on"])
        self._step("first_contact_on", p["contacted_on"])

    def apply_referral_put_on_hold(self, p: dict) -> None:
        self.status = ON_HOLD
        self._step("on_hold_on", p["on"])

    def apply_referral_resumed(self, p: dict) -> None:
        self.status = ACTIVE
        self._step("resumed_on", p["on"])

    def apply_referral_discharged(self, p: dict) -> None:
        self.status = DISCHARGED
        self.outcome_reason = p["reason"]
        self._step("discharged_on", p["discharged_on"])

    def apply_referral_closed_without_contact(self, p: dict) -> None:
        self.status = CLOSED_WITHOUT_CONTACT
        self.outcome_reason = p["reason"]
        self._step("closed_on", p["closed_on"])

    def apply_referral_offered(self, p: dict) -> None:
        self.offered_to = p["to_partner"]
        self.offer_id = p["offer_id"]

    def apply_referral_offer_declined(self, p: dict) -> None:
        self.offered_to = self.offer_id = None

    def apply_referral_offer_withdrawn(self, p: dict) -> None:
        self.offered_to = self.offer_id = None

    def apply_referral_transferred(self, p: dict) -> None:
        self.status = TRANSFERRED
        self.transferred_to, self.transfer_offer_id = self.offered_to, self.offer_id
        self.offered_to = self.offer_id = None

    def apply_transferred_person_erased(self, p: dict) -> None:
        pass

    def apply_consent_recorded(self, p: dict) -> None:
        self.consent = {k: v for k, v in p.items() if k != "recorded_by"}
        self.consent_to_share = bool(p["to_share"])
        self.consent_withdrawn_on = None
        self.text_ids.pop("contact_times", None)
        if p.get("contact_times_text_id"):
            self.text_ids["contact_times"] = str(p["contact_times_text_id"])

    def apply_consent_withdrawn(self, p: dict) -> None:
        self.consent_to_share = False
        self.consent_withdrawn_on = date.fromisoformat(p["withdrawn_on"])
        if self.consent is not None:
            self.consent = {**self.consent, "to_share": False, "to_contact": False}

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

    # -- reading -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def dates(self) -> dict[str, date]:
        """Each step's date (the latest allocation's for allocated_on)."""
        return dict(self.timeline)

    def as_dict(self) -> dict:
        dates = self.dates()
        return {
            "referral_id": self.id,
            "version": self.version,
            "status": self.status,
            "worker_id": self.worker_id,
            "first_contact_on": self.first_contact_on,
            "offered_to": self.offered_to,
            "outcome_reason": self.outcome_reason,
            "transferred_from": None,
            "transferred_to": self.transferred_to,
            # accepted from a partner's offer: where from, and the history it brought
            "transfer": None,
            **self.details,
            "received_on": self.received_on,
            "consent": self.consent,
            "consent_withdrawn_on": self.consent_withdrawn_on,
            "timeline": {name: dates[name] for name in _STEP_NAMES if name in dates},
        }


def _runs_forward(timeline: list[tuple[str, date]]) -> None:
    latest: tuple[str, date] | None = None
    for name, on in timeline:
        if latest is not None and on < latest[1]:
            raise ReferralTimelineRunsForward(
                f"{name} {on.isoformat()} is before {latest[0]} {latest[1].isoformat()}: "
                f"a referral is {_STEP_NAMES[name]} on or after it is {_STEP_NAMES[latest[0]]}"
            )
        if latest is None or on >= latest[1]:
            latest = (name, on)


class OfferMustBeOpen(Rule):
    pass


class OfferAwaitsThePersonsRecord(Rule):
    """An offer is accepted once the person's record sealed for this partner has arrived: it
    travels apart from the offer's coded details, and a moment later."""


class TransferredPersonMayBeRegisteredHere(Rule):
    """Someone registered on this node has the transferred person's NHS number, or their name
    and date of birth: the worker says whether it is them (link) or someone else (register)."""

    def __init__(self, message: str, candidates: list[str]):
        super().__init__(message)
        self.details = {"candidates": candidates}


class IncomingOffer(Aggregate):
    """A referral another partner offers to this one; accepted or declined here, or withdrawn
    by the partner that made it. The person's record sealed for this partner is kept apart (in
    the vault, under a key of the offer's own) until it is accepted, declined or withdrawn."""

    stream_type = "offer"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.details: dict = {}

    def receive(self, details: dict, event_id) -> list[NewEvent]:
        if self.status is not None:
            return []  # the same offer delivered again
        return self.decide([NewEvent("OfferReceived", details, event_id=event_id)])

    def accept(
        self, by: str, on: date, new_referral_id: str, person_id: str, person: str
    ) -> list[NewEvent]:
        """`person`: "registered" (new on this node) or "linked" (someone registered here)."""
        self.require_open("accepted")
        self._not_before_offered(on, "accepted")
        return self.decide(
            [
                NewEvent(
                    "OfferAccepted",
                    {
                        "offer_id": self.id,
                        "from_partner": self.details["from_partner"],
                        "referral_id": self.details["referral_id"],
                        "new_referral_id": new_referral_id,
                        "accepted_by": by,
                        "accepted_on": on.isoformat(),
                        "person_id": person_id,
                        "person": person,
                    },
                )
            ]
        )

    def decline(self, by: str, on: date, reason: str) -> list[NewEvent]:
        self.require_open("declined")
        self._not_before_offered(on, "declined")
        return self.decide(
            [
                NewEvent(
                    "OfferDeclined",
                    {
                        "offer_id": self.id,
                        "from_partner": self.details["from_partner"],
                        "referral_id": self.details["referral_id"],
                        "declined_by": by,
                        "declined_on": on.isoformat(),
                        "reason": reason,
                    },
                )
            ]
        )

    def withdrawn(self, on: date, reason: str) -> list[NewEvent]:
        """The partner that made the offer took it back; an answered offer stays answered."""
        self.require_open("withdrawn")
        return self.decide(
            [
                NewEvent(
                    "OfferWithdrawn",
                    {
                        "offer_id": self.id,
                        "from_partner": self.details["from_partner"],
                        "referral_id": self.details["referral_id"],
                        "withdrawn_on": on.isoformat(),
                        "reason": reason,
                    },
                )
            ]
        )

    def erasure_noticed(self, on: date) -> list[NewEvent]:
        """The partner the referral came from erased the person there. Our copy is ours to
        answer for: the notice is recorded for a partner admin to act on, nothing is erased."""
        if self.status != "accepted" or self.details.get("erasure_noticed_on"):
            return []
        return self.decide(
            [
                NewEvent(
                    "ErasureNoticeReceived",
                    {
                        "offer_id": self.id,
                        "from_partner": self.details["from_partner"],
                        "referral_id": self.details["referral_id"],
                        "new_referral_id": self.details["new_referral_id"],
                        "person_id": self.details.get("person_id"),
                        "erased_on": on.isoformat(),
                    },
                )
            ]
        )

    def require_open(self, verb: str) -> None:
        if self.status != "received":
            raise OfferMustBeOpen(
                f"an offer can be {verb} only while it is open; this one is {self.status}"
            )

    def _not_before_offered(self, on: date, verb: str) -> None:
        offered = self.details.get("offered_on")
        if offered and on < date.fromisoformat(str(offered)):
            raise ReferralTimelineRunsForward(
                f"{verb} on {on.isoformat()}, before the partner offered it on {offered}: an "
                "offer is answered on or after the day it was made"
            )

    def apply_offer_received(self, p: dict) -> None:
        self.status = "received"
        self.details = dict(p)

    def apply_offer_accepted(self, p: dict) -> None:
        self.status = "accepted"
        self.details["new_referral_id"] = p["new_referral_id"]
        self.details["person_id"] = p.get("person_id")
        self.details["person"] = p.get("person")

    def apply_offer_declined(self, p: dict) -> None:
        self.status = "declined"

    def apply_offer_withdrawn(self, p: dict) -> None:
        self.status = "withdrawn"
        self.details["withdrawn_on"] = p["withdrawn_on"]

    def apply_erasure_notice_received(self, p: dict) -> None:
        self.details["erasure_noticed_on"] = p["erased_on"]

    def as_dict(self) -> dict:
        return {"offer_id": self.id, "version": self.version, "status": self.status, **self.details}
