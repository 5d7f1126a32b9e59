"""The referrals service of a partner node."""

from __future__ import annotations

import uuid

from psycogreen.eventlet import patch_psycopg

from services.referrals.domain import Referral
from services.referrals.schemas import ReceiveReferralBody, ReferralOut, registry
from shared.events import Actor, Context
from shared.service import EventStore, NodeSettings, Operations
from shared.web import NotFound, Secret, route

patch_psycopg()

WORKERS = ("peer_worker", "team_lead", "partner_admin")


def context_of(principal, request) -> Context:
    return Context(
        partner_id=principal.partner_id,
        actor=Actor(principal.user_id, principal.role),
        correlation_id=uuid.UUID(request.headers.get("X-Correlation-Id") or str(uuid.uuid4())),
    )


class ReferralsService(Operations):
    """Referrals: received, accepted or declined, allocated, active, discharged."""

    name = "referrals"
    store = EventStore("referrals", registry)
    settings = NodeSettings()
    auth_secret = Secret()

    @route(
        "POST",
        "/referrals",
        roles=WORKERS,
        body=ReceiveReferralBody,
        response=ReferralOut,
        status=201,
        summary="Record a referral received",
    )
    def receive(self, request, principal, body):
        referral = Referral(str(uuid.uuid4()))
        events = referral.receive(
            body["person_id"], body["source"], body["received_on"], body["urgency"]
        )
        self.store.append(
            Referral.stream_type, referral.id, 0, events, context_of(principal, request)
        )
        return ReferralOut().dump(referral.as_dict())

    @route(
        "GET",
        "/referrals/<string:referral_id>",
        roles=WORKERS,
        response=ReferralOut,
        summary="Read a referral",
    )
    def read(self, request, principal, referral_id):
        events = self.store.read_stream(Referral.stream_type, referral_id)
        if not events or events[0].partner_id != principal.partner_id:
            raise NotFound("no such referral")
        return ReferralOut().dump(Referral.fold(referral_id, events).as_dict())
