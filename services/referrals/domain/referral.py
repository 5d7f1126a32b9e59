"""The Referral aggregate: from a referral arriving to a person discharged. Its sharing with
partners is sharing.py, its corrections correction.py; what they all read is steps.py.

Every refusal is a named rule with a message a worker understands. Commands return events;
`apply_*` folds them. No I/O here.
"""

from __future__ import annotations

from datetime import date

from contracts.referrals.codes import (
    ACCEPTED,
    ACTIVE,
    ALLOCATED,
    CLOSED_WITHOUT_CONTACT,
    DECLINED,
    DISCHARGED,
    ENDED_STATES,
    ON_HOLD,
    RECEIVED,
)
from services.referrals.domain.correction import Corrections
from services.referrals.domain.sharing import Sharing
from services.referrals.domain.steps import (
    STEP_NAMES,
    FirstContactCannotPrecedeReferral,
    ReferralMustBeReceivedToDecide,
    SessionsHeld,
    described,
)
from shared.aggregate import ReferenceRefused, Rule
from shared.events import NewEvent


class ReferralMustBeNew(Rule):
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


class ReferralNamesARegisteredPerson(ReferenceRefused):
    pass


class ACarerCaresForSomeoneElse(ReferenceRefused):
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


class Referral(Sharing, Corrections):
    """A referral's lifecycle: received, accepted or declined, allocated, active, on hold,
    discharged or closed without contact."""

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
                    f"a {described(self.status)} referral cannot be allocated"
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
                f"{described(self.status or 'new')}"
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
                f"a {described(self.status or 'new')} referral cannot be discharged"
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
                f"a {described(self.status or 'new')} referral cannot be closed without contact"
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

    def _must_be_received(self, verb: str) -> None:
        if self.status != RECEIVED:
            if self.status is None:
                raise ReferralMustBeReceivedToDecide("no such referral")
            raise ReferralMustBeReceivedToDecide(
                f"a referral can be {verb} only while it is received; this one is "
                f"{described(self.status)}"
            )

    # -- folding -----------------------------------------------------------------------------

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

    # -- reading -----------------------------------------------------------------------------

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
            "timeline": {name: dates[name] for name in STEP_NAMES if name in dates},
        }
