"""Signposting over HTTP: recording that a person was signposted somewhere (from one of their
sessions or referrals, if given), whether they took it up and its corrections, voiding one
recorded in error, and lists."""

from __future__ import annotations

import uuid

from contracts.sessions.codes import VOIDED
from services.sessions import access, queries
from services.sessions.api import (
    CorrectSignpostingOutcomeBody,
    RecordSignpostingBody,
    RecordSignpostingOutcomeBody,
    SignpostingListQuery,
    VoidSignpostingBody,
)
from services.sessions.api_answers import SignpostingOut, SignpostingPage
from services.sessions.domain import Signposting
from services.sessions.routes import READERS, WRITERS, SessionsRoutes
from shared.commands import respond
from shared.web import BadRequest, NotFound, context_of, route

MISSING = "no such signposting"


class SignpostingApi(SessionsRoutes):
    """Mixed into the sessions service."""

    @route(
        "POST",
        "/signposting",
        roles=WRITERS,
        body=RecordSignpostingBody,
        status=201,
        response=SignpostingOut,
        summary="Record that a person was signposted somewhere",
    )
    def signpost(self, request, principal, body):
        signposting = Signposting(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            self._signposting_links(cur, body)
        self.commands.apply(
            signposting,
            lambda signposting: signposting.record(
                person_id=str(body["person_id"]),
                destination=body["destination"],
                referral_id=body.get("referral_id"),
                session_id=body.get("session_id"),
                by=principal.user_id,
                on=self._not_in_future(body.get("on"), "on"),
                earliest=self.config.earliest_date,
            ),
            context_of(principal, request),
        )
        return respond(signposting, signposting.as_dict(), 201)

    @staticmethod
    def _signposting_links(cur, body: dict) -> None:
        """A signposting's session and referral are this person's: one unknown here is 404,
        someone else's is invalid input naming the field."""
        person = str(body["person_id"])
        if body.get("referral_id"):
            referral = queries.referral_status(cur, body["referral_id"])
            if referral is None:
                raise NotFound("no such referral")
            if str(referral["person_id"]) != person:
                raise BadRequest("referral_id", "must be a referral of this person")
        if body.get("session_id"):
            row = queries.session_for(cur, body["session_id"], person)
            if row is None:
                raise NotFound("no such session")
            booked_for, status, attended = row
            if status == VOIDED:
                raise BadRequest("session_id", "this session was voided as recorded in error")
            if str(booked_for) != person and not attended:
                raise BadRequest(
                    "session_id", "must be a session of this person (booked for them or attended)"
                )

    @route(
        "GET",
        "/signposting",
        roles=READERS,
        query=SignpostingListQuery,
        response=SignpostingPage,
        summary="List signposting, with outcomes",
    )
    def list_signposting(self, request, principal, query):
        with self.store.db.transaction() as cur:
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            elif principal.role == "peer_worker":
                raise BadRequest("person_id", "is needed: a peer worker lists one person's")
            page = queries.signposting_page(cur, query)
        self._audit_search(request, principal, "signposting", query, len(page["items"]))
        return page

    def _on_signposting(self, request, principal, signposting_id, body, decide):
        """A command on a signposting of someone the caller may see, dated by the body's `on`."""
        signposting, history = self.commands.load(
            Signposting, signposting_id, missing=MISSING, visible=self._about_person(principal)
        )
        self.commands.run(request, principal, signposting, history, body, self._dated(body, decide))
        return respond(signposting, signposting.as_dict())

    @route(
        "POST",
        "/signposting/<string:signposting_id>/outcome",
        roles=WRITERS,
        body=RecordSignpostingOutcomeBody,
        response=SignpostingOut,
        summary="Record whether a person took up where they were signposted",
    )
    def signposting_outcome(self, request, principal, signposting_id, body):
        def record(cur, signposting: Signposting, on) -> list:
            return signposting.record_outcome(outcome=body["outcome"], by=principal.user_id, on=on)

        return self._on_signposting(request, principal, signposting_id, body, record)

    @route(
        "POST",
        "/signposting/<string:signposting_id>/outcome/correct",
        roles=WRITERS,
        body=CorrectSignpostingOutcomeBody,
        response=SignpostingOut,
        summary="Correct a signposting outcome, saying why",
    )
    def correct_signposting_outcome(self, request, principal, signposting_id, body):
        def correct(cur, signposting: Signposting, on) -> list:
            return signposting.correct_outcome(
                outcome=body["outcome"], reason=body["reason"], by=principal.user_id, on=on
            )

        return self._on_signposting(request, principal, signposting_id, body, correct)

    @route(
        "POST",
        "/signposting/<string:signposting_id>/void",
        roles=WRITERS,
        body=VoidSignpostingBody,
        response=SignpostingOut,
        summary="Void a signposting recorded in error, saying why: it leaves lists and reports",
    )
    def void_signposting(self, request, principal, signposting_id, body):
        def void(cur, signposting: Signposting, on) -> list:
            return signposting.void(reason=body["reason"], by=principal.user_id, on=on)

        return self._on_signposting(request, principal, signposting_id, body, void)
