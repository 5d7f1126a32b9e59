"""Referrals crossing partners, over HTTP: offering a referral with the person's record sealed
for the partner offered it (as far as their consent allows), withdrawing the offer; and at the
partner offered it, reading it, accepting it (the person registered here, or linked to someone
registered here, with the referral) or declining it; and telling a partner a referral went to
when its person is erased here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from marshmallow import ValidationError
from nameko.extensions import DependencyProvider

from contracts.referrals import SCHEMA
from contracts.referrals.codes import REFERRAL_SOURCES
from services.referrals import queries
from services.referrals.access import ReferralAccess, today
from services.referrals.api import (
    AcceptOfferBody,
    OfferBody,
    OfferDeclineBody,
    OfferListQuery,
    OfferOut,
    OfferPage,
    OfferWithdrawBody,
    ReferralOut,
    referral_out,
)
from services.referrals.api_people import RegisterPersonBody
from services.referrals.domain import (
    IncomingOffer,
    OfferAwaitsThePersonsRecord,
    Person,
    Referral,
    TransferredPersonMayBeRegisteredHere,
    linked_record,
    registration,
    require_referable,
    shared_record,
)
from services.referrals.transfers import (
    destroy_offer_record,
    open_offer_record,
    record_standing,
)
from shared import policy
from shared.aggregate import RuleBroken
from shared.auth import Principal
from shared.commands import respond
from shared.config import Settings
from shared.events import NewEvent, RecordedEvent, derived_id
from shared.transfer_keys import TransferKeys
from shared.vault import ERASED
from shared.web import NotFound, context_of, instance_of, route

DECIDERS = policy.MAY_DECIDE_REFERRALS
# what a partner learns of a referral offered to it before accepting: coded fields only
OFFERED_FIELDS = ("source", "urgency", "needs", "risk_level", "is_carer_referral")
# the referral's words a partner may be given, by what the person consents to share
SHARED_TEXTS = {"needs": "needs_notes", "risk": "risk_notes", "contact": "contact_times"}


class PartnerTransferKeys(DependencyProvider):
    """This partner's transfer keys: its own private key, and every partner's public key to
    seal a person's record for the partner their referral is offered to."""

    def setup(self):
        partner = Settings.from_environment(self.container.service_name).partner_id
        self.keys = TransferKeys.from_environment(partner)

    def get_dependency(self, worker_ctx):
        return self.keys


@dataclass
class Link:
    """An offer's person linked to someone registered here: what the shared record fills in
    (identifiers and codes the record here lacks) and what it holds differently."""

    person: Person
    filled: dict
    filled_codes: dict
    differing: list[dict]

    def answer(self) -> dict:
        return {"filled": sorted([*self.filled, *self.filled_codes]), "differing": self.differing}


def visible_offer(principal: Principal):
    """An offer is to one partner, and exists for no other."""

    def visible(offer: IncomingOffer, history: list[RecordedEvent]) -> None:
        if history[0].partner_id != principal.partner_id:
            raise NotFound("no such offer")

    return visible


class OffersApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `vault`, `audit`, `transfer_keys`."""

    # -- offering a referral -------------------------------------------------------------------

    @route(
        "POST",
        "/referrals/<string:referral_id>/offer",
        roles=DECIDERS,
        body=OfferBody,
        response=ReferralOut,
        summary="Offer a referral to another alliance partner, with the person's record sealed"
        " for that partner alone, as far as their consent allows",
    )
    def offer(self, request, principal, referral_id, body):
        referral, history = self._referral(principal, referral_id)
        to_partner, offer_id = body["to_partner"], str(uuid.uuid4())
        person_id = referral.details["person_id"]
        offered: list[NewEvent] = []

        def act(referral: Referral) -> list[NewEvent]:
            coded = {name: referral.details[name] for name in OFFERED_FIELDS}
            events = referral.offer_to(
                to_partner,
                principal.partner_id,
                principal.user_id,
                self._date(body),
                {"offer_id": offer_id, **coded},
                body["share"],
            )
            if not self.transfer_keys.can_seal_for(to_partner):
                raise RuleBroken(
                    "OfferNeedsThePartnersTransferKey",
                    f"this node has no public transfer key for {to_partner}: nothing can be"
                    " sealed for them until it is configured (PEERLINK_TRANSFER_PUBLIC_KEYS)",
                )
            offered.extend(events)
            return events

        def seal(cur):
            shares = offered[0].payload["shares"]
            record = self._shared_record(cur, referral, history, shares)
            cur.execute(
                f"INSERT INTO {SCHEMA}.transfer_outbox (offer_id, referral_id, to_partner, sealed)"
                " VALUES (%s, %s, %s, %s)",
                (
                    offer_id,
                    referral_id,
                    to_partner,
                    self.transfer_keys.seal(to_partner, offer_id, record),
                ),
            )
            # what was disclosed to whom: the parts, never their values
            self.audit.record(
                principal,
                "export",
                "person",
                person_id,
                person_id=person_id,
                fields=shares,
                request_id=request.peerlink_request_id,
                detail={"to_partner": to_partner, "offer_id": offer_id, "referral_id": referral_id},
                cur=cur,
            )

        self.commands.run(request, principal, referral, history, body, act, within=seal)
        return respond(referral, referral_out(referral))

    def _shared_record(self, cur, referral: Referral, history, shares: list[str]) -> dict:
        person_id = referral.details["person_id"]
        # FOR SHARE: an erasure waits until the offer commits, then withdraws it
        identifiers = self.vault.read(cur, person_id, for_share=True)
        if not isinstance(identifiers, dict):
            raise RuleBroken(
                "NothingIsSharedAboutAnErasedPerson",
                "the person this referral is about was erased here; nothing of them is shared",
            )
        coded = Person.fold(person_id, self.store.read_stream(Person.stream_type, person_id)).coded
        texts = {}
        for share, name in SHARED_TEXTS.items():
            text_id = referral.text_ids.get(name)
            if share in shares and text_id:
                text = self.vault.open_text(cur, text_id)
                texts[name] = None if text is ERASED else text
        return shared_record(shares, identifiers, coded, referral, history, texts)

    @route(
        "POST",
        "/referrals/<string:referral_id>/offer/withdraw",
        roles=DECIDERS,
        body=OfferWithdrawBody,
        response=ReferralOut,
        summary="Withdraw an offer not yet answered: the partner keeps nothing of the person",
    )
    def withdraw_offer(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.withdraw_offer(principal.user_id, on, body["reason"]),
        )

    def _after_erasure(self, cur, person_id: str, principal: Principal, context) -> None:
        """In the erasure's transaction: an open offer of the person's referral is withdrawn,
        and a partner a referral of theirs went to is told (an event it receives)."""
        for referral_id in queries.referrals_of(cur, person_id):
            referral, _ = self.commands.load(Referral, referral_id)
            self.commands.apply_within(
                cur, referral, lambda r: r.person_erased(principal.user_id, today()), context
            )

    # -- offers from other partners ------------------------------------------------------------

    def _offer(self, principal: Principal, offer_id: str):
        return self.commands.load(
            IncomingOffer, offer_id, missing="no such offer", visible=visible_offer(principal)
        )

    def _offer_out(self, cur, offer: IncomingOffer, **extra) -> dict:
        return instance_of(OfferOut).dump(
            {
                **offer.as_dict(),
                "person_record": record_standing(self.vault, cur, offer.id),
                **extra,
            }
        )

    @route(
        "GET",
        "/offers",
        roles=DECIDERS,
        query=OfferListQuery,
        response=OfferPage,
        summary="List referrals other partners have offered to this one (erasure_noticed=true:"
        " those whose person the offering partner has erased since)",
    )
    def offers(self, request, principal, query):
        with self.store.db.transaction() as cur:
            total, ids = queries.offer_page(cur, principal.partner_id, query)
            items = [self._offer_out(cur, self._offer(principal, i)[0]) for i in ids]
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    @route(
        "GET",
        "/offers/<string:offer_id>",
        roles=DECIDERS,
        response=OfferOut,
        summary="Read an offer from another partner; while it is open, with the person's record"
        " it brought (audited)",
    )
    def read_offer(self, request, principal, offer_id):
        offer, _ = self._offer(principal, offer_id)
        with self.store.db.transaction() as cur:
            record = open_offer_record(self.vault, cur, offer_id)
            if not isinstance(record, dict):
                return self._offer_out(cur, offer, record=None)
            self.audit.record(
                principal,
                "read",
                IncomingOffer.stream_type,
                offer_id,
                fields=record.get("shares", []),
                request_id=request.peerlink_request_id,
                cur=cur,
            )
            return self._offer_out(cur, offer, record=record)

    @route(
        "POST",
        "/offers/<string:offer_id>/accept",
        roles=DECIDERS,
        body=AcceptOfferBody,
        response=OfferOut,
        summary="Accept an offered referral: it becomes a referral here, its person registered"
        " with it or linked to someone registered here (409 naming the candidates to choose from)",
    )
    def accept_offer(self, request, principal, offer_id, body):
        offer, history = self._offer(principal, offer_id)
        on = self._date(body)
        offer.require_open("accepted")
        with self.store.db.transaction() as cur:
            record = open_offer_record(self.vault, cur, offer_id)
        if not isinstance(record, dict):
            raise OfferAwaitsThePersonsRecord(
                "the person's record sealed for this partner has not arrived yet; it follows"
                " the offer within moments unless the offering partner's node is away"
            )
        person_id, person, registering = self._person_for(principal, offer_id, record, body)
        link = self._link(person_id, record) if person == "linked" else None
        # ids derived from the offer, so that nothing is made twice for one offer
        referral = Referral(str(derived_id(offer_id, "referral")))
        texts = {
            name: record.get(name)
            for name in ("needs_notes", "risk_notes", "contact_times")
            if record.get(name)
        }
        text_ids = {name: str(derived_id(offer_id, f"text/{name}")) for name in texts}
        details = self._transferred_details(offer, record, person_id, on, text_ids)
        context = context_of(principal, request)

        def together(cur):
            if registering is not None:
                event, identifiers = registering
                self.commands.apply_within(
                    cur, Person(person_id), lambda p: p.decide([event]), context
                )
                self.vault.register(cur, person_id, identifiers)
            if link is not None and (link.filled or link.filled_codes):
                # what the record here lacked, filled in from the shared one, as an event
                self.vault.update(cur, person_id, link.filled)
                self.commands.apply_within(
                    cur,
                    link.person,
                    lambda p: p.change_details(link.filled, link.filled_codes, on),
                    context,
                )
            self.commands.apply_within(cur, referral, lambda r: r.receive(details), context)
            for name, text_id in text_ids.items():
                self.vault.seal_text(cur, person_id, texts[name], uuid.UUID(text_id))
            # the record is the person's own record here now: the offer's copy is destroyed
            destroy_offer_record(self.vault, cur, offer_id, "accepted; kept as the person's own")

        self.commands.run(
            request,
            principal,
            offer,
            history,
            body,
            lambda offer: offer.accept(
                principal.user_id,
                on,
                referral.id,
                person_id,
                person,
                sorted(link.filled) if link else None,
            ),
            within=together,
        )
        extra = {"link": link.answer()} if link else {}
        with self.store.db.transaction() as cur:
            return respond(offer, self._offer_out(cur, offer, **extra))

    def _link(self, person_id: str, record: dict) -> Link:
        person, _ = self.commands.load(Person, person_id)
        with self.store.db.transaction() as cur:
            held = self.vault.read(cur, person_id)
        return Link(
            person, *linked_record(held if isinstance(held, dict) else {}, person.coded, record)
        )

    def _person_for(self, principal, offer_id: str, record: dict, body: dict):
        """(person_id, "linked" or "registered", their registration or None)."""
        if body.get("person_id") is not None:
            require_referable("person_id", self._person_standing(principal, body["person_id"]))
            return str(body["person_id"]), "linked", None
        try:
            registering = instance_of(RegisterPersonBody).load(
                {
                    k: v
                    for k, v in {
                        **(record.get("identifiers") or {}),
                        **(record.get("contact") or {}),
                        "gender": record.get("gender"),
                        "ethnicity": record.get("ethnicity"),
                    }.items()
                    if v is not None
                }
            )
        except ValidationError as error:
            raise RuleBroken(
                "TransferredRecordMustRegisterThePerson",
                f"the record the partner shared does not register the person here: "
                f"{error.normalized_messages()}; link them to someone registered (person_id)",
            ) from None
        if not body.get("register_person"):
            candidates = [str(p) for p in self._possible_duplicates(registering)]
            if candidates:
                raise TransferredPersonMayBeRegisteredHere(
                    f"{len(candidates)} person(s) registered here may be the person transferred"
                    " (the same NHS number, or name and date of birth): accept with person_id to"
                    " link the referral to them, or register_person to register someone new",
                    candidates,
                )
        person_id = str(derived_id(offer_id, "person"))
        return person_id, "registered", registration(person_id, registering, today())

    @staticmethod
    def _transferred_details(
        offer: IncomingOffer, record: dict, person_id: str, on: date, text_ids: dict
    ) -> dict:
        consent = None
        if "contact" in record["shares"]:
            # consent to contact travels; consent to share further is the person's to give here
            consent = {
                "to_share": False,
                "to_contact": bool(record.get("to_contact")),
                "contact_methods": record.get("contact_methods") or [],
                "contact_times_text_id": text_ids.get("contact_times"),
                "recorded_on": on.isoformat(),
                "share_with": [],
                "shares": [],
            }
        return {
            "person_id": person_id,
            "source": "partner_organisation",
            "source_group": REFERRAL_SOURCES["partner_organisation"],
            "received_on": on.isoformat(),
            "urgency": offer.details["urgency"],
            "needs": offer.details["needs"],
            "needs_text_id": text_ids.get("needs_notes"),
            "risk_level": offer.details["risk_level"],
            "risk_text_id": text_ids.get("risk_notes"),
            "preferred_contact_mode": record.get("preferred_contact_mode"),
            "is_carer_referral": offer.details["is_carer_referral"],
            "referrer": {"organisation": offer.details["from_partner"]},
            "transferred_from": offer.details["from_partner"],
            "consent": consent,
            "transfer": {
                "from_partner": offer.details["from_partner"],
                "offer_id": offer.id,
                "referral_id": offer.details["referral_id"],
                "shares": record["shares"],
                "history": record.get("history") or [],
            },
        }

    @route(
        "POST",
        "/offers/<string:offer_id>/decline",
        roles=DECIDERS,
        body=OfferDeclineBody,
        response=OfferOut,
        summary="Decline an offered referral, with a coded reason: the person's record it"
        " brought is destroyed",
    )
    def decline_offer(self, request, principal, offer_id, body):
        offer, history = self._offer(principal, offer_id)
        self.commands.run(
            request,
            principal,
            offer,
            history,
            body,
            lambda offer: offer.decline(principal.user_id, self._date(body), body["reason"]),
            within=lambda cur: destroy_offer_record(
                self.vault, cur, offer_id, "the offer was declined"
            ),
        )
        with self.store.db.transaction() as cur:
            return respond(offer, self._offer_out(cur, offer))
