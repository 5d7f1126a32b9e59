"""Casework on a referral, each step through the one command path: accepted or declined,
allocated, first contact, on hold and resumed, discharged or closed without contact, consent
recorded or withdrawn, and a field recorded wrongly corrected."""

from __future__ import annotations

import json
import uuid
from datetime import date

from contracts.referrals.codes import CORRECTABLE_DATES
from services.referrals import queries
from services.referrals.access import ReferralAccess, calendar, consent_payload
from services.referrals.api import (
    AllocateBody,
    CloseBody,
    ConsentBody,
    CorrectBody,
    DatedBody,
    DeclineBody,
    DischargeBody,
    HoldBody,
    ReferralOut,
)
from services.referrals.domain import MeasuresTaken, Referral, SessionsHeld
from shared import policy
from shared.web import BadRequest, json_default, route

# Policy numbers a partner sets; defaults from common practice (docs/domain.md), overridable.

DECIDERS = policy.MAY_DECIDE_REFERRALS
CASEWORK = policy.MAY_WORK_REFERRALS


def with_open_items(response, items: list[dict], warnings: list[str]):
    """A referral's answer with what is still open for its person, and a warning for each
    item no step closes."""
    body = json.loads(response.get_data())
    body["open_items"] = items
    body["warnings"] = warnings + [
        f"{item['summary']}: still open; {item['to_close']}"
        for item in items
        if not item.get("is_closing")
    ]
    response.set_data(json.dumps(body, default=json_default))
    return response


class CaseworkApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `config`, `vault`, `audit`, `workforce`,
    `open_items`."""

    @route(
        "POST",
        "/referrals/<string:referral_id>/accept",
        roles=DECIDERS,
        body=DatedBody,
        response=ReferralOut,
        summary="Accept a received referral",
    )
    def accept(self, request, principal, referral_id, body):
        return self._step(
            request, principal, referral_id, body, lambda r, on: r.accept(principal.user_id, on)
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/decline",
        roles=DECIDERS,
        body=DeclineBody,
        response=ReferralOut,
        summary="Decline a received referral, with a coded reason",
    )
    def decline(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.decline(principal.user_id, on, body["reason"]),
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/allocate",
        roles=DECIDERS,
        body=AllocateBody,
        response=ReferralOut,
        summary="Allocate (or reallocate) a referral to a peer worker",
    )
    def allocate(self, request, principal, referral_id, body):
        def decide(referral: Referral, on: date):
            events = referral.allocate(body["worker_id"], principal.user_id, on)
            with self.store.db.transaction() as cur:
                self.workforce.require_caseload_holder(
                    cur, principal, "worker_id", body["worker_id"]
                )
            return events

        response = self._step(request, principal, referral_id, body, decide)
        with self.store.db.transaction() as cur:
            caseload = queries.caseload_of(cur, principal.partner_id, body["worker_id"])
        if caseload > self.config.caseload_cap:
            response.headers["Warning"] = (
                f'199 peerlink "{body["worker_id"]} now carries {caseload} referrals, '
                f'over the caseload cap of {self.config.caseload_cap}"'
            )
        response.headers["X-Worker-Caseload"] = str(caseload)
        return response

    @route(
        "POST",
        "/referrals/<string:referral_id>/first-contact",
        roles=CASEWORK,
        body=DatedBody,
        response=ReferralOut,
        summary="Record first contact: support becomes active",
    )
    def first_contact(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.record_first_contact(principal.user_id, on),
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/hold",
        roles=CASEWORK,
        body=HoldBody,
        response=ReferralOut,
        summary="Put active support on hold",
    )
    def hold(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.put_on_hold(principal.user_id, on, body["reason"]),
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/resume",
        roles=CASEWORK,
        body=DatedBody,
        response=ReferralOut,
        summary="Resume support that was on hold",
    )
    def resume(self, request, principal, referral_id, body):
        return self._step(
            request, principal, referral_id, body, lambda r, on: r.resume(principal.user_id, on)
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/discharge",
        roles=CASEWORK,
        body=DischargeBody,
        response=ReferralOut,
        summary="Discharge a person from support, with a coded reason, closing what is open",
    )
    def discharge(self, request, principal, referral_id, body):
        # read before the discharge: a peer worker no longer sees the person once it is made
        referral, _ = self._referral(principal, referral_id)
        items, warnings = self.open_items.of(request, referral.details["person_id"])
        closing = body["close_open_items"]
        response = self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.discharge(
                principal.user_id, on, body["reason"], closing, self._sessions_held(referral_id)
            ),
            ending=True,
        )
        for item in items:
            # the sessions service cancels and closes the referral's own, on the discharge event
            item["is_closing"] = closing and item["referral_id"] == referral_id
        return with_open_items(response, items, warnings)

    def _sessions_held(self, referral_id: str) -> SessionsHeld | None:
        with self.store.db.transaction() as cur:
            return queries.sessions_held(cur, referral_id)

    def _measures_taken(self, referral: Referral) -> MeasuresTaken | None:
        with self.store.db.transaction() as cur:
            return queries.measures_taken(cur, referral.details.get("person_id"), referral.id)

    @route(
        "POST",
        "/referrals/<string:referral_id>/consent",
        roles=CASEWORK,
        body=ConsentBody,
        response=ReferralOut,
        summary="Record the person's consent (given, changed or refused) at any time",
    )
    def record_consent(self, request, principal, referral_id, body):
        recorded_on = calendar(self.config.earliest_date).check("recorded_on", body["recorded_on"])
        text = body.get("contact_times")
        text_id = str(uuid.uuid4()) if text else None
        consent = consent_payload({**body, "recorded_on": recorded_on}, text_id)
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.record_consent(consent, principal.user_id),
            texts={text_id: text} if text_id else None,
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/consent/withdraw",
        roles=CASEWORK,
        body=DatedBody,
        response=ReferralOut,
        summary="Record the person withdrawing their consent: the referral is offered to no one",
    )
    def withdraw_consent(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.withdraw_consent(principal.user_id, on),
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/correct",
        roles=CASEWORK,
        body=CorrectBody,
        response=ReferralOut,
        summary="Correct a date or coded field recorded wrongly, saying why",
    )
    def correct(self, request, principal, referral_id, body):
        value = body["value"]
        if body["field"] in CORRECTABLE_DATES:
            try:
                value = date.fromisoformat(str(value))
            except ValueError:
                raise BadRequest("value", "must be a date (YYYY-MM-DD)") from None
            calendar(self.config.earliest_date).check("value", value)
        reason_id = str(uuid.uuid4())
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.correct(
                body["field"],
                value,
                principal.user_id,
                on,
                reason_id,
                self._sessions_held(referral_id) if body["field"] in SessionsHeld.BOUNDED else None,
                self._measures_taken(r) if body["field"] == "first_contact_on" else None,
            ),
            texts={reason_id: body["reason"]},
        )

    @route(
        "POST",
        "/referrals/<string:referral_id>/close",
        roles=DECIDERS,
        body=CloseBody,
        response=ReferralOut,
        summary="Close a referral without contact, with a coded reason",
    )
    def close(self, request, principal, referral_id, body):
        return self._step(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.close_without_contact(principal.user_id, on, body["reason"]),
            ending=True,
        )
