"""Sharing a referral: the person's consent (given, changed, withdrawn) and what it allows, an
offer of their referral to another partner (as far as their consent goes), its withdrawal, the
partner's answer, and telling the partner it went to when the person is erased here."""

from __future__ import annotations

from datetime import date

from contracts.referrals.codes import OPEN_STATES, SHAREABLE, TRANSFER_WITHDRAWN, TRANSFERRED
from services.referrals.domain.steps import (
    ReferralState,
    ReferralTimelineRunsForward,
    described,
)
from shared.aggregate import Rule
from shared.events import NewEvent


class ConsentIsWithdrawnOnce(Rule):
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


class OfferNeedsConsentNotWithdrawn(TransferNeedsConsentToShare):
    pass


class Sharing(ReferralState):
    """The consent and offers part of the Referral aggregate."""

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
                f"a {described(self.status or 'new')} referral cannot be offered to a partner"
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
        """The partner's answer. This record says whether the offer was still open when the
        answer reached it: an acceptance of an offer withdrawn before it arrived is refused,
        and the partner told (docs/decisions/0011)."""
        if self.offered_to != partner_id or self.offer_id != str(offer_id):
            if accepted and self.withdrawn_offers.get(str(offer_id)) == partner_id:
                return self._refuse_acceptance(str(offer_id), partner_id, on)
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

    def _refuse_acceptance(self, offer_id: str, partner_id: str, on: date) -> list[NewEvent]:
        if offer_id in self.refused_acceptances:
            return []
        return self.decide(
            [
                NewEvent(
                    "OfferAcceptanceRefused",
                    {
                        "to_partner": partner_id,
                        "offer_id": offer_id,
                        "refused_on": on.isoformat(),
                        "reason": "offer_withdrawn",
                    },
                )
            ]
        )

    def transfer_withdrawn(self, offer_id: str, on: date) -> list[NewEvent]:
        """This referral came from a partner's offer that the partner had withdrawn before this
        node's acceptance reached it: closed, as a transfer that did not happen."""
        transfer = self.details.get("transfer") or {}
        if str(transfer.get("offer_id")) != str(offer_id):
            raise NoOfferToAnswer("this referral was not received from that offer")
        if self.status == TRANSFER_WITHDRAWN:
            return []
        return self.decide(
            [
                NewEvent(
                    "ReferralTransferWithdrawn",
                    {
                        "from_partner": transfer["from_partner"],
                        "offer_id": str(offer_id),
                        "withdrawn_on": on.isoformat(),
                    },
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

    def apply_referral_offered(self, p: dict) -> None:
        self.offered_to = p["to_partner"]
        self.offer_id = p["offer_id"]

    def apply_referral_offer_declined(self, p: dict) -> None:
        self.offered_to = self.offer_id = None

    def apply_referral_offer_withdrawn(self, p: dict) -> None:
        self.withdrawn_offers[str(p["offer_id"])] = p["to_partner"]
        self.offered_to = self.offer_id = None

    def apply_offer_acceptance_refused(self, p: dict) -> None:
        self.refused_acceptances.add(str(p["offer_id"]))

    def apply_referral_transfer_withdrawn(self, p: dict) -> None:
        self.status = TRANSFER_WITHDRAWN

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
