"""The IncomingOffer aggregate: a referral another partner offers to this one; accepted or
declined here, or withdrawn by the partner that made it."""

from __future__ import annotations

from datetime import date

from services.referrals.domain.steps import ReferralTimelineRunsForward
from shared.aggregate import Aggregate, Rule
from shared.events import NewEvent


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
        self,
        by: str,
        on: date,
        new_referral_id: str,
        person_id: str,
        person: str,
        filled: list[str] | None = None,
    ) -> list[NewEvent]:
        """`person`: "registered" (new on this node) or "linked" (someone registered here);
        `filled`: linked, the identifiers the shared record filled in (their names)."""
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
                        "filled": sorted(filled or []),
                    },
                )
            ]
        )

    def withdrawn_after_acceptance(self, on: date, person_erased: bool) -> list[NewEvent]:
        """The partner had withdrawn the offer before this node's acceptance reached it, and
        refused the acceptance: the sender's record decides (docs/decisions/0011). Told twice
        (by the withdrawal and by the refusal), it is recorded once."""
        if self.status != "accepted":
            return []
        return self.decide(
            [
                NewEvent(
                    "OfferWithdrawnAfterAcceptance",
                    {
                        "offer_id": self.id,
                        "from_partner": self.details["from_partner"],
                        "referral_id": self.details["referral_id"],
                        "new_referral_id": self.details["new_referral_id"],
                        "person_id": self.details.get("person_id"),
                        "person": self.details.get("person"),
                        "withdrawn_on": on.isoformat(),
                        "person_erased": person_erased,
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
        self.details["filled"] = p.get("filled") or []

    def apply_offer_declined(self, p: dict) -> None:
        self.status = "declined"

    def apply_offer_withdrawn(self, p: dict) -> None:
        self.status = "withdrawn"
        self.details["withdrawn_on"] = p["withdrawn_on"]

    def apply_offer_withdrawn_after_acceptance(self, p: dict) -> None:
        self.status = "withdrawn"
        self.details["withdrawn_on"] = p["withdrawn_on"]
        self.details["person_erased"] = p["person_erased"]

    def apply_erasure_notice_received(self, p: dict) -> None:
        self.details["erasure_noticed_on"] = p["erased_on"]

    def as_dict(self) -> dict:
        return {"offer_id": self.id, "version": self.version, "status": self.status, **self.details}
