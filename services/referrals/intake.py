"""Intake: a referral received (POST /referrals), about someone registered on this node or
registered with it, their words sealed under their key, all in one transaction or nothing."""

from __future__ import annotations

import uuid
from datetime import date

from contracts.referrals.codes import REFERRAL_SOURCES
from services.referrals.access import ReferralAccess, calendar, consent_payload, today
from services.referrals.api import ReceiveReferralBody, ReferralOut, referral_out
from services.referrals.domain import (
    Person,
    Referral,
    registration,
    require_referable,
    text_with_content,
)
from shared import policy
from shared.commands import respond, sealing
from shared.events import NewEvent
from shared.web import BadRequest, context_of, route


class IntakeApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `config`, `vault`, `audit`."""

    @route(
        "POST",
        "/referrals",
        roles=policy.MAY_RECORD_REFERRALS,
        body=ReceiveReferralBody,
        response=ReferralOut,
        status=201,
        summary="Record a referral received",
    )
    def receive(self, request, principal, body):
        dates = calendar(self.config.earliest_date)
        dates.check("received_on", body["received_on"])
        born = (body.get("person") or {}).get("date_of_birth")
        if born is not None and body["received_on"] < date.fromisoformat(str(born)):
            raise BadRequest("received_on", "cannot be before the person was born")
        if body.get("consent"):
            dates.check("consent.recorded_on", body["consent"]["recorded_on"])
        referral = Referral(str(uuid.uuid4()))
        # people registered with the referral: (field, person_id, their registration body)
        new_people = [
            (name, str(uuid.uuid4()), body[name])
            for name in ("person", "cared_for_person")
            if body.get(name) is not None
        ]
        new_ids = {name: person_id for name, person_id, _ in new_people}
        for name in ("person_id", "cared_for_person_id"):
            if body.get(name) is not None:
                require_referable(name, self._person_standing(principal, body[name]))
        person_id = new_ids.get("person") or str(body["person_id"])
        cared_for_id = new_ids.get("cared_for_person") or (
            str(body["cared_for_person_id"]) if body.get("cared_for_person_id") else None
        )
        consent = body.get("consent")
        # the referrer's, the GP's and the person's own words, sealed under the person's key
        texts = {
            name: text_with_content(name, value)
            for name, value in {
                **{n: body.get(n) for n in ("needs_notes", "risk_notes", "referrer_contact")},
                "contact_times": (consent or {}).get("contact_times"),
            }.items()
            if value is not None
        }
        text_ids = {name: str(uuid.uuid4()) for name in texts}
        referrer = None
        if body.get("referrer_organisation") or "referrer_contact" in text_ids:
            referrer = {
                "organisation": body.get("referrer_organisation"),
                "contact_text_id": text_ids.get("referrer_contact"),
            }
        details = {
            "person_id": person_id,
            "source": body["source"],
            "source_group": REFERRAL_SOURCES[body["source"]],
            "received_on": body["received_on"].isoformat(),
            "urgency": body["urgency"],
            "needs": body["needs"],
            "needs_text_id": text_ids.get("needs_notes"),
            "risk_level": body["risk_level"],
            "risk_text_id": text_ids.get("risk_notes"),
            "preferred_contact_mode": body.get("preferred_contact_mode"),
            "is_carer_referral": body["is_carer_referral"],
            "cared_for_person_id": cared_for_id,
            "referrer": referrer,
            "consent": consent_payload(consent, text_ids.get("contact_times")),
        }
        context = context_of(principal, request)
        seal = sealing(
            self.vault,
            person_id,
            {text_ids[name]: words for name, words in texts.items()},
            "this referral",
            instead="nothing more is written",
        )

        def receive(referral: Referral) -> list[NewEvent]:
            return referral.receive(details)

        if not new_people:
            self.commands.apply(referral, receive, context, within=seal)
        else:
            self._register_with_referral(new_people, referral, receive, context, seal)
        return respond(referral, referral_out(referral), 201)

    def _register_with_referral(self, new_people, referral: Referral, receive, context, seal):
        """The people named by the referral registered with it: their vault rows and events and
        the referral's events in one transaction, or nothing at all."""
        registrations = [
            (Person(person_id), *registration(person_id, registering, today()))
            for _, person_id, registering in new_people
        ]
        (first, first_event, first_identifiers), *others = registrations

        def together(cur):
            self.vault.register(cur, first.id, first_identifiers)
            for person, event, identifiers in others:
                self.commands.apply_within(cur, person, registered(event), context)
                self.vault.register(cur, person.id, identifiers)
            self.commands.apply_within(cur, referral, receive, context)
            seal(cur)

        self.commands.apply(first, registered(first_event), context, within=together)


def registered(event: NewEvent):
    """The act of registering a person, `event` their registration."""
    return lambda person: person.decide([event])
