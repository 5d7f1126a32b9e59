"""Routes that start a concern: a worker raises one; a signal suggests one, which a worker
confirms (it is raised with what they record) or dismisses; and the person at risk, only
described when it was raised, is named once known. Free text is sealed in the people vault
under the person at risk, or, while they are not yet known, under a vault key of the concern's
own (so it can be erased like a person's)."""

from __future__ import annotations

import uuid

from services.safeguarding.api import (
    ConcernOut,
    ConfirmSuggestionBody,
    DismissSuggestionBody,
    IdentifyPersonBody,
    RaiseConcernBody,
    SuggestConcernBody,
)
from services.safeguarding.concerns import (
    MAY_RAISE_CONCERNS,
    ConcernRoutes,
    changed_by_a_person,
    now,
    subject_of,
    word_ids,
)
from services.safeguarding.domain import Concern, ConcernDetails
from shared.vault import PersonErased, PersonNotFound
from shared.web import BadRequest, context_of, route

# Free text a worker writes, by request field -> the ConcernDetails field naming its sealed id.
FORM_TEXTS = {
    "what_happened": "what_happened_text_id",
    "actions_taken_notes": "actions_taken_text_id",
    "views": "views_text_id",
    "person_description": "description_text_id",
}


def form_details(body: dict, text_ids: dict, person_id=None) -> ConcernDetails:
    """What the worker recorded, its words named by the ids they are sealed under."""
    if body.get("happened_on") and body["happened_on"] > now().date():
        raise BadRequest("happened_on", "cannot be in the future")
    return ConcernDetails(
        person_id=person_id,
        age_group=body["age_group"],
        categories=body["categories"],
        severity=body["severity"],
        immediate_risk=body["immediate_risk"],
        happened_on=body.get("happened_on"),
        is_ongoing=body.get("is_ongoing"),
        children_at_risk=body.get("children_at_risk"),
        alleged_relationship=body.get("alleged_relationship"),
        actions_taken=body["actions_taken"],
        informed=body["informed"],
        consent_given=body["consent_given"],
        without_consent_reason=body.get("without_consent_reason"),
        **{FORM_TEXTS[name]: text_id for name, text_id in text_ids.items()},
    )


class RaisingApi(ConcernRoutes):
    """Mixed into the safeguarding service."""

    @route(
        "POST",
        "/concerns",
        roles=MAY_RAISE_CONCERNS,
        body=RaiseConcernBody,
        response=ConcernOut,
        status=201,
        summary="Raise a safeguarding concern",
    )
    def raise_concern(self, request, principal, body):
        concern = Concern(str(uuid.uuid4()))
        person_id = body.get("person_id")
        text_ids = word_ids(body, FORM_TEXTS)
        details = form_details(body, text_ids, person_id)
        subject = person_id or subject_of(concern.id)

        def seal(cur):
            if person_id is None:
                self.vault.register(cur, subject, {})
            else:
                standing = self.vault.standing(cur, person_id)
                if standing is None:
                    raise BadRequest(
                        "person_id",
                        "no such person on this node; register them, or give person_description",
                    )
                if standing == "erased":
                    raise BadRequest("person_id", "this person's record was erased")
            for name, text_id in text_ids.items():
                self.vault.seal_text(cur, subject, body[name], text_id)

        self.commands.apply(
            concern,
            lambda c: c.raise_concern(details, principal.user_id, now()),
            context_of(principal, request),
            within=seal,
        )
        return self._answer(concern, 201)

    # -- suggested concerns ------------------------------------------------------------------

    @route(
        "POST",
        "/concerns/suggestions",
        roles=MAY_RAISE_CONCERNS,
        body=SuggestConcernBody,
        response=ConcernOut,
        status=201,
        summary="Flag a possible concern from a signal, for a worker to confirm or dismiss",
    )
    def suggest(self, request, principal, body):
        sources = sorted(str(i) for i in body["source_event_ids"])
        # the same signal from the same events flags one concern, however often it is sent
        concern_id = (
            str(
                uuid.uuid5(
                    uuid.NAMESPACE_URL,
                    f"peerlink:suggestion/{body['person_id']}/{body['signal']}/{','.join(sources)}",
                )
            )
            if sources
            else str(uuid.uuid4())
        )
        concern, history = self.commands.load(Concern, concern_id)
        if history and history[0].partner_id != principal.partner_id:
            concern = Concern(concern_id)

        def known(cur):
            if self.vault.standing(cur, body["person_id"]) != "registered":
                raise BadRequest("person_id", "no such person on this node; register them")

        # suggested already: nothing is decided, nothing stored, and the concern answered as is
        recorded = self.commands.apply(
            concern,
            lambda c: c.suggest(body["person_id"], body["signal"], now(), sources),
            context_of(principal, request),
            within=known,
        )
        return self._answer(concern, 201 if recorded else 200)

    @route(
        "POST",
        "/concerns/<string:concern_id>/confirm",
        roles=MAY_RAISE_CONCERNS,
        body=ConfirmSuggestionBody,
        response=ConcernOut,
        summary="Confirm a suggested concern with what the worker records: it is raised",
    )
    def confirm(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.confirm_suggestion(form_details(body, ids), principal.user_id, now()),
            # the person of a suggested concern is known: there is no one to describe
            [name for name in FORM_TEXTS if name != "person_description"],
        )
        return self._answer(concern)

    @route(
        "POST",
        "/concerns/<string:concern_id>/dismiss",
        roles=MAY_RAISE_CONCERNS,
        body=DismissSuggestionBody,
        response=ConcernOut,
        summary="Dismiss a suggested concern with a coded reason",
    )
    def dismiss(self, request, principal, concern_id, body):
        concern = self._step(
            request,
            principal,
            concern_id,
            body,
            lambda c, ids: c.dismiss_suggestion(
                body["reason"], principal.user_id, now(), ids.get("notes")
            ),
            ("notes",),
        )
        return self._answer(concern)

    @route(
        "POST",
        "/concerns/<string:concern_id>/person",
        roles=MAY_RAISE_CONCERNS,
        body=IdentifyPersonBody,
        response=ConcernOut,
        summary="Record who the person at risk is, once they are known",
    )
    def identify_person(self, request, principal, concern_id, body):
        concern, history = self._concern(principal, concern_id)

        def identify(concern: Concern):
            with self.store.db.transaction() as cur:
                if self.vault.standing(cur, body["person_id"]) != "registered":
                    raise BadRequest("person_id", "no such person on this node; register them")
            return concern.identify_person(body["person_id"], principal.user_id, now())

        def move_texts(cur):
            # what was written before the person was known is about them: sealed again under
            # their key, it is erased with them
            subject = subject_of(concern.id)
            if self.vault.standing(cur, subject) != "registered":
                return
            try:
                self.vault.move_texts(cur, subject, body["person_id"])
            except (PersonErased, PersonNotFound):
                raise BadRequest("person_id", "this person's record was erased") from None

        self.commands.run(
            request,
            principal,
            concern,
            history,
            body,
            identify,
            within=move_texts,
            stale=changed_by_a_person,
        )
        return self._answer(concern)
