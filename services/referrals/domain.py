"""The Referral aggregate: from a referral arriving to a person discharged.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` folds them. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.aggregate import Aggregate, ReferenceRefused, RuleBroken
from shared.events import NewEvent

RECEIVED = "received"
ACCEPTED = "accepted"
DECLINED = "declined"
ALLOCATED = "allocated"
ACTIVE = "active"
ON_HOLD = "on_hold"
DISCHARGED = "discharged"
CLOSED_WITHOUT_CONTACT = "closed_without_contact"
TRANSFERRED = "transferred"

OPEN_STATES = (RECEIVED, ACCEPTED, ALLOCATED, ACTIVE, ON_HOLD)
ENDED_STATES = (DECLINED, DISCHARGED, CLOSED_WITHOUT_CONTACT, TRANSFERRED)

DECLINE_REASONS = (
    "needs_met_elsewhere",
    "outside_service_criteria",
    "outside_area",
    "person_declined",
    "unable_to_contact",
    "needs_clinical_service",
    "duplicate_referral",
    "other",
)
DISCHARGE_REASONS = (
    "goals_met",
    "disengaged",
    "moved_away",
    "transferred",
    "declined_further_support",
    "other",
)
CLOSURE_REASONS = ("unable_to_contact", "person_declined", "referral_withdrawn", "other")
HOLD_REASONS = ("hospital_admission", "person_request", "worker_absence", "other")


class Rule(RuleBroken):
    """A named business rule, raised with a message for the worker."""

    def __init__(self, message: str):
        super().__init__(type(self).__name__, message)


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


class FirstContactCannotPrecedeReferral(Rule):
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


class ReferralNamesARegisteredPerson(ReferenceRefused):
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
class Consent:
    to_share: bool
    to_contact: bool
    contact_methods: tuple[str, ...] = ()
    recorded_on: date | None = None


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
        self.offered_to: str | None = None
        self.offer_id: str | None = None
        self.history_of_workers: list[str] = []
        self.outcome_reason: str | None = None

    # -- commands ----------------------------------------------------------------------------

    def receive(self, details: dict) -> list[NewEvent]:
        """`details` is the ReferralReceived payload (validated by its schema)."""
        if self.status is not None:
            raise ReferralMustBeNew("this referral has already been received")
        return self.decide([NewEvent("ReferralReceived", details)])

    def accept(self, by: str, on: date) -> list[NewEvent]:
        self._must_be_received("accepted")
        return self.decide(
            [NewEvent("ReferralAccepted", {"accepted_by": by, "accepted_on": on.isoformat()})]
        )

    def decline(self, by: str, on: date, reason: str) -> list[NewEvent]:
        self._must_be_received("declined")
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
        return self.decide(
            [NewEvent("FirstContactMade", {"contacted_by": by, "contacted_on": on.isoformat()})]
        )

    def put_on_hold(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status != ACTIVE:
            raise OnlyActiveReferralsCanBePutOnHold(
                f"only active support can be put on hold; this referral is "
                f"{_ended(self.status or 'new')}"
            )
        return self.decide(
            [NewEvent("ReferralPutOnHold", {"by": by, "on": on.isoformat(), "reason": reason})]
        )

    def resume(self, by: str, on: date) -> list[NewEvent]:
        if self.status != ON_HOLD:
            raise OnlyReferralsOnHoldCanResume("only a referral on hold can be resumed")
        return self.decide([NewEvent("ReferralResumed", {"by": by, "on": on.isoformat()})])

    def discharge(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status not in (ACTIVE, ON_HOLD):
            if self.status in (RECEIVED, ACCEPTED, ALLOCATED):
                raise DischargeNeedsActiveSupport(
                    "a referral with no contact yet is closed without contact, not discharged"
                )
            raise DischargeNeedsActiveSupport(
                f"a {_ended(self.status or 'new')} referral cannot be discharged"
            )
        return self.decide(
            [
                NewEvent(
                    "ReferralDischarged",
                    {"discharged_by": by, "discharged_on": on.isoformat(), "reason": reason},
                )
            ]
        )

    def close_without_contact(self, by: str, on: date, reason: str) -> list[NewEvent]:
        if self.status not in (RECEIVED, ACCEPTED, ALLOCATED):
            raise ClosingWithoutContactNeedsNoContact(
                f"a {_ended(self.status or 'new')} referral cannot be closed without contact"
            )
        return self.decide(
            [
                NewEvent(
                    "ReferralClosedWithoutContact",
                    {"closed_by": by, "closed_on": on.isoformat(), "reason": reason},
                )
            ]
        )

    def offer_to(
        self, partner_id: str, own_partner: str, by: str, on: date, share: dict
    ) -> list[NewEvent]:
        if self.status not in OPEN_STATES:
            raise TransferNeedsAnOpenReferral(
                f"a {_ended(self.status or 'new')} referral cannot be offered to a partner"
            )
        if not self.consent_to_share:
            raise TransferNeedsConsentToShare(
                "the person has not consented to their referral being shared with a partner"
            )
        if partner_id == own_partner:
            raise TransferMustGoToAnotherPartner("a referral is offered to another partner")
        if self.offered_to:
            raise OneOfferAtATime(f"this referral is already offered to {self.offered_to}")
        return self.decide(
            [
                NewEvent(
                    "ReferralOffered",
                    {
                        "to_partner": partner_id,
                        "offered_by": by,
                        "offered_on": on.isoformat(),
                        **share,
                    },
                )
            ]
        )

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

    def _must_be_received(self, verb: str) -> None:
        if self.status != RECEIVED:
            if self.status is None:
                raise ReferralMustBeReceivedToDecide("no such referral")
            raise ReferralMustBeReceivedToDecide(
                f"a referral can be {verb} only while it is received; this one is "
                f"{_ended(self.status)}"
            )

    # -- folding -----------------------------------------------------------------------------

    def apply_referral_received(self, p: dict) -> None:
        self.status = RECEIVED
        self.details = dict(p)
        self.received_on = date.fromisoformat(p["received_on"])
        self.consent_to_share = bool((p.get("consent") or {}).get("to_share"))

    def apply_referral_accepted(self, p: dict) -> None:
        self.status = ACCEPTED

    def apply_referral_declined(self, p: dict) -> None:
        self.status = DECLINED
        self.outcome_reason = p["reason"]

    def apply_referral_allocated(self, p: dict) -> None:
        self.status = ALLOCATED
        self.worker_id = p["worker_id"]
        self.history_of_workers.append(p["worker_id"])

    def apply_referral_reallocated(self, p: dict) -> None:
        self.worker_id = p["worker_id"]
        self.history_of_workers.append(p["worker_id"])

    def apply_first_contact_made(self, p: dict) -> None:
        self.status = ACTIVE
        self.first_contact_on = date.fromisoformat(p["contacted_on"])

    def apply_referral_put_on_hold(self, p: dict) -> None:
        self.status = ON_HOLD

    def apply_referral_resumed(self, p: dict) -> None:
        self.status = ACTIVE

    def apply_referral_discharged(self, p: dict) -> None:
        self.status = DISCHARGED
        self.outcome_reason = p["reason"]

    def apply_referral_closed_without_contact(self, p: dict) -> None:
        self.status = CLOSED_WITHOUT_CONTACT
        self.outcome_reason = p["reason"]

    def apply_referral_offered(self, p: dict) -> None:
        self.offered_to = p["to_partner"]
        self.offer_id = p["offer_id"]

    def apply_referral_offer_declined(self, p: dict) -> None:
        self.offered_to = self.offer_id = None

    def apply_referral_transferred(self, p: dict) -> None:
        self.status = TRANSFERRED
        self.offered_to = self.offer_id = None

    # -- reading -----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def as_dict(self) -> dict:
        return {
            "referral_id": self.id,
            "version": self.version,
            "status": self.status,
            "worker_id": self.worker_id,
            "first_contact_on": self.first_contact_on,
            "offered_to": self.offered_to,
            "outcome_reason": self.outcome_reason,
            "transferred_from": None,
            **self.details,
            "received_on": self.received_on,
        }


class OfferMustBeOpen(Rule):
    pass


OFFER_DECLINE_REASONS = ("no_capacity", "outside_service_criteria", "person_declined", "other")


class IncomingOffer(Aggregate):
    """A referral another partner offers to this one; accepted or declined here."""

    stream_type = "offer"

    def __init__(self, stream_id: str):
        super().__init__(stream_id)
        self.status: str | None = None
        self.details: dict = {}

    def receive(self, details: dict, event_id) -> list[NewEvent]:
        if self.status is not None:
            return []  # the same offer delivered again
        return self.decide([NewEvent("OfferReceived", details, event_id=event_id)])

    def accept(self, by: str, on: date, new_referral_id: str) -> list[NewEvent]:
        self._must_be_open("accepted")
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
                    },
                )
            ]
        )

    def decline(self, by: str, on: date, reason: str) -> list[NewEvent]:
        self._must_be_open("declined")
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

    def _must_be_open(self, verb: str) -> None:
        if self.status != "received":
            raise OfferMustBeOpen(
                f"an offer can be {verb} only while it is open; this one is {self.status}"
            )

    def apply_offer_received(self, p: dict) -> None:
        self.status = "received"
        self.details = dict(p)

    def apply_offer_accepted(self, p: dict) -> None:
        self.status = "accepted"
        self.details["new_referral_id"] = p["new_referral_id"]

    def apply_offer_declined(self, p: dict) -> None:
        self.status = "declined"

    def as_dict(self) -> dict:
        return {"offer_id": self.id, "version": self.version, "status": self.status, **self.details}
