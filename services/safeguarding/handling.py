"""Routes that handle a raised concern: a lead acknowledges it, decides its route, adds actions
and closes it; an action's owner (or a lead) completes it; anyone who may see it adds a note.
Each goes through the one command path (shared.commands), its words sealed with its events."""

from __future__ import annotations

import uuid

from services.safeguarding.api import (
    AcknowledgeConcernBody,
    AddActionBody,
    AddNoteBody,
    CloseConcernBody,
    CompleteActionBody,
    ConcernOut,
    DecideConcernBody,
)
from services.safeguarding.concerns import (
    MAY_LEAD_SAFEGUARDING,
    MAY_RAISE_CONCERNS,
    ConcernRoutes,
    is_lead,
    now,
)
from services.safeguarding.domain import Concern
from shared.auth import Forbidden
from shared.web import BadRequest, NotFound, route


class HandlingApi(ConcernRoutes):
    """Mixed into the safeguarding service."""

    @route(
        "POST",
        "/concerns/<string:concern_id>/acknowledge",
        roles=MAY_LEAD_SAFEGUARDING,
        body=AcknowledgeConcernBody,
        response=ConcernOut,
        summary="Acknowledge a concern, regrading its severity if need be",
    )
    def acknowledge(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, _: c.acknowledge(principal.user_id, now(), body.get("severity")),
        )
        return self._answer(concern)

    @route(
        "POST",
        "/concerns/<string:concern_id>/decide",
        roles=MAY_LEAD_SAFEGUARDING,
        body=DecideConcernBody,
        response=ConcernOut,
        summary="Decide what happens: no further action, an action plan or a referral",
    )
    def record_decision(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.record_decision(
                body["decision"],
                principal.user_id,
                now(),
                reason=body.get("reason"),
                rationale_text_id=ids.get("rationale"),
                agency_reference_text_id=ids.get("agency_reference"),
                revision_reason_text_id=ids.get("revision_reason"),
            ),
            ("rationale", "revision_reason", "agency_reference"),
        )
        return self._answer(concern)

    @route(
        "POST",
        "/concerns/<string:concern_id>/actions",
        roles=MAY_LEAD_SAFEGUARDING,
        body=AddActionBody,
        response=ConcernOut,
        status=201,
        summary="Add an action with an owner and a due date",
    )
    def add_action(self, request, principal, concern_id, body):
        if body["due_on"] < now().date():
            raise BadRequest("due_on", "cannot be in the past")
        with self.store.db.transaction() as cur:
            self.workforce.require_named(cur, principal, "owner_id", [body["owner_id"]])
        action_id = uuid.uuid4()
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.add_action(
                action_id,
                body["kind"],
                body["owner_id"],
                body["due_on"],
                principal.user_id,
                now(),
                details_text_id=ids.get("details"),
            ),
            ("details",),
        )
        response = self._answer(concern, 201)
        response.headers["Location"] = f"/concerns/{concern_id}/actions/{action_id}"
        return response

    @route(
        "POST",
        "/concerns/<string:concern_id>/actions/<string:action_id>/complete",
        roles=MAY_RAISE_CONCERNS,
        body=CompleteActionBody,
        response=ConcernOut,
        summary="Complete an action (a lead, or the action's owner)",
    )
    def complete_action(self, request, principal, concern_id, action_id, body):
        def complete(concern: Concern, ids: dict):
            action = concern.actions.get(action_id)
            if action is None:
                raise NotFound("no such action on this concern")
            if not is_lead(principal) and action.owner_id != principal.user_id:
                raise Forbidden("an action is completed by a lead or by its owner")
            return concern.complete_action(
                action_id, principal.user_id, now(), body["outcome"], ids.get("notes")
            )

        concern = self._step(request, principal, concern_id, body, complete, ("notes",))
        return self._answer(concern)

    @route(
        "POST",
        "/concerns/<string:concern_id>/notes",
        roles=MAY_RAISE_CONCERNS,
        body=AddNoteBody,
        response=ConcernOut,
        status=201,
        summary="Add a note; it never changes what was recorded before",
    )
    def add_note(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.add_note(ids["text"], principal.user_id, now()),
            ("text",),
        )
        return self._answer(concern, 201)

    @route(
        "POST",
        "/concerns/<string:concern_id>/close",
        roles=MAY_LEAD_SAFEGUARDING,
        body=CloseConcernBody,
        response=ConcernOut,
        summary="Close a decided concern with its outcome",
    )
    def close(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.close(
                body["outcome"],
                principal.user_id,
                now(),
                desired_outcomes_met=body.get("desired_outcomes_met"),
                outcome_text_id=ids.get("notes"),
            ),
            ("notes",),
        )
        return self._answer(concern)
