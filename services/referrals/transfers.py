"""Referrals crossing partners: reacting to an offer from another partner, and to another
partner's answer to ours. Run by the node worker on the `referrals.inbound` queue."""

from __future__ import annotations

import logging
from datetime import date

from services.referrals.domain import IncomingOffer, NoOfferToAnswer, Referral
from shared.events import SYSTEM, Context, RecordedEvent, derived_id, with_id

log = logging.getLogger(__name__)


class TransferReactions:
    def __init__(self, store, partner_id: str):
        self.store = store
        self.partner_id = partner_id

    def __call__(self, event: RecordedEvent) -> None:
        if event.event_type == "ReferralOffered":
            self.offer_received(event)
        elif event.event_type in ("OfferAccepted", "OfferDeclined"):
            self.offer_answered(event)

    def _context(self, cause: RecordedEvent) -> Context:
        return Context(self.partner_id, SYSTEM, cause.correlation_id, cause.event_id)

    def offer_received(self, event: RecordedEvent) -> None:
        p = event.payload
        if p["to_partner"] != self.partner_id:
            return  # an offer between two other partners
        offer = IncomingOffer(p["offer_id"])
        details = {
            "offer_id": p["offer_id"],
            "from_partner": event.partner_id,
            "referral_id": event.stream_id,
            "offered_on": p["offered_on"],
            **{k: p[k] for k in ("source", "urgency", "needs", "risk_level", "is_carer_referral")},
        }
        events = offer.receive(details, derived_id(event.event_id, "received"))
        self.store.append(IncomingOffer.stream_type, offer.id, 0, events, self._context(event))

    def offer_answered(self, event: RecordedEvent) -> None:
        p = event.payload
        if p["from_partner"] != self.partner_id:
            return
        referral = Referral.fold(
            p["referral_id"], self.store.read_stream(Referral.stream_type, p["referral_id"])
        )
        answer_id = derived_id(event.event_id, "settled")
        if any(
            e.event_id == answer_id
            for e in self.store.read_stream(Referral.stream_type, referral.id)
        ):
            return
        accepted = event.event_type == "OfferAccepted"
        on = date.fromisoformat(p["accepted_on"] if accepted else p["declined_on"])
        try:
            events = referral.settle_offer(p["offer_id"], accepted, event.partner_id, on)
        except NoOfferToAnswer:
            log.warning(
                "an answer from %s to offer %s matches no open offer",
                event.partner_id,
                p["offer_id"],
            )
            return
        self.store.append(
            Referral.stream_type,
            referral.id,
            referral.version,
            with_id(events, answer_id),
            self._context(event),
        )
