"""Plans over HTTP: drafting a recovery and wellbeing, crisis and safety or carer's crisis plan,
revising, reviewing and closing it, lists and every version; and the sealed text its content
refers to by id (a goal's words, a contact's name and number), sealed and read here."""

from __future__ import annotations

import uuid

from services.sessions import access, queries
from services.sessions.api import (
    ChangeReviewIntervalBody,
    ClosePlanBody,
    DraftPlanBody,
    PlanListQuery,
    ReviewPlanBody,
    RevisePlanBody,
    SealTextBody,
)
from services.sessions.api_answers import (
    PlanHistory,
    PlanOut,
    PlanPage,
    PlanRead,
    TextRead,
    TextSealed,
)
from services.sessions.domain import Plan
from services.sessions.routes import READERS, WRITERS, SessionsRoutes, today
from shared.commands import respond
from shared.service import history_of
from shared.vault import ERASED
from shared.web import BadRequest, NotFound, context_of, route

MISSING = "no such plan"


def text_ids(content) -> set[str]:
    """Every sealed-text id a plan's content refers to (`*_text_id` and a step's `text_id`)."""
    found: set[str] = set()
    if isinstance(content, dict):
        for key, value in content.items():
            if key.endswith("text_id") and value:
                found.add(str(value))
            else:
                found |= text_ids(value)
    elif isinstance(content, list):
        for value in content:
            found |= text_ids(value)
    return found


class PlansApi(SessionsRoutes):
    """Mixed into the sessions service."""

    # -- sealed text ---------------------------------------------------------------------------

    @route(
        "POST",
        "/texts",
        roles=WRITERS,
        body=SealTextBody,
        status=201,
        response=TextSealed,
        summary="Seal free text about a person in the vault, for a plan to refer to",
    )
    def seal_text(self, request, principal, body):
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            text_id = self.vault.seal_text(cur, body["person_id"], body["text"])
        self.audit.record(
            principal,
            "change",
            "text",
            str(text_id),
            person_id=str(body["person_id"]),
            fields=["text"],
            request_id=request.peerlink_request_id,
        )
        return {"text_id": text_id, "person_id": body["person_id"]}

    @route(
        "GET",
        "/texts/<string:text_id>",
        roles=READERS,
        response=TextRead,
        summary="Read sealed text",
    )
    def read_text(self, request, principal, text_id):
        try:
            text_uuid = uuid.UUID(text_id)
        except ValueError:
            raise NotFound("no such text") from None
        with self.store.db.transaction() as cur:
            owner = self.vault.text_owners(cur, [text_uuid]).get(text_uuid)
            if owner is None:
                raise NotFound("no such text")
            access.require_person(cur, principal, owner)
            text = self.vault.open_text(cur, text_uuid)
        self.audit.record(
            principal,
            "read",
            "text",
            text_id,
            person_id=str(owner),
            fields=["text"],
            request_id=request.peerlink_request_id,
        )
        text = "erased" if text is ERASED else text
        return {"text_id": text_id, "person_id": owner, "text": text}

    def _texts_belong(self, cur, person_id, content: dict) -> None:
        ids = sorted(text_ids(content))
        owners = self.vault.text_owners(cur, ids)
        for text_id in ids:
            if owners.get(uuid.UUID(text_id)) != uuid.UUID(str(person_id)):
                raise BadRequest(
                    "content", f"text {text_id} is not sealed text about this plan's person"
                )

    # -- plans ---------------------------------------------------------------------------------

    @route(
        "POST",
        "/plans",
        roles=WRITERS,
        body=DraftPlanBody,
        status=201,
        response=PlanOut,
        summary="Draft a recovery and wellbeing, crisis and safety, or carer's crisis plan",
    )
    def draft_plan(self, request, principal, body):
        plan = Plan(str(uuid.uuid4()))
        with self.store.db.transaction() as cur:
            self._known_person(cur, body["person_id"])
            access.require_person(cur, principal, body["person_id"])
            self._texts_belong(cur, body["person_id"], body["content"])
            open_plans = queries.open_plans(cur, body["person_id"])
        self.commands.apply(
            plan,
            lambda plan: plan.draft(
                open_plans=open_plans,
                person_id=str(body["person_id"]),
                kind=body["kind"],
                content=body["content"],
                review_interval_days=body["review_interval_days"],
                referral_id=body.get("referral_id"),
                by=principal.user_id,
                on=self._not_in_future(body.get("on"), "on"),
            ),
            context_of(principal, request),
        )
        return respond(plan, plan.as_dict(), 201)

    @route(
        "GET",
        "/plans",
        roles=READERS,
        query=PlanListQuery,
        response=PlanPage,
        summary="List plans",
    )
    def list_plans(self, request, principal, query):
        with self.store.db.transaction() as cur:
            caseload_of = None
            if "person_id" in query:
                access.require_person(cur, principal, query["person_id"])
            elif principal.role == "peer_worker":
                caseload_of = principal.user_id
            page = queries.plans_page(cur, query, today(), caseload_of)
        self._audit_search(request, principal, "plan", query, len(page["items"]))
        return page

    def _plan(self, principal, plan_id: str):
        """The plan and its history, if the caller may see its person."""
        return self.commands.load(
            Plan, plan_id, missing=MISSING, visible=self._about_person(principal)
        )

    @route(
        "GET",
        "/plans/<string:plan_id>",
        roles=READERS,
        response=PlanRead,
        summary="Read a plan, texts opened",
    )
    def read_plan(self, request, principal, plan_id):
        plan, _ = self._plan(principal, plan_id)
        texts = {}
        with self.store.db.transaction() as cur:
            for text_id in sorted(text_ids(plan.content)):
                text = self.vault.open_text(cur, text_id)
                texts[text_id] = "erased" if text is ERASED else text
        self.commands.audit_read(request, principal, plan, plan.person_id, ["content", "texts"])
        return respond(plan, {**plan.as_dict(), "texts": texts})

    @route(
        "GET",
        "/plans/<string:plan_id>/history",
        roles=READERS,
        response=PlanHistory,
        summary="Read every version of a plan as its events",
    )
    def plan_history(self, request, principal, plan_id):
        plan, events = self._plan(principal, plan_id)
        self.commands.audit_read(request, principal, plan, plan.person_id, ["history"])
        return {"plan_id": plan.id, "events": history_of(events)}

    def _on_plan(self, request, principal, plan_id, body, decide):
        """A command on a plan of someone the caller may see, dated by the body's `on`."""
        plan, history = self._plan(principal, plan_id)
        self.commands.run(request, principal, plan, history, body, self._dated(body, decide))
        return respond(plan, plan.as_dict())

    @route(
        "POST",
        "/plans/<string:plan_id>/revise",
        roles=WRITERS,
        body=RevisePlanBody,
        response=PlanOut,
        summary="Revise a plan with its full new content",
    )
    def revise_plan(self, request, principal, plan_id, body):
        def revise(cur, plan: Plan, on) -> list:
            self._texts_belong(cur, plan.person_id, body["content"])
            return plan.revise(
                kind=body["kind"],
                content=body["content"],
                reason=body["reason"],
                by=principal.user_id,
                on=on,
            )

        return self._on_plan(request, principal, plan_id, body, revise)

    @route(
        "POST",
        "/plans/<string:plan_id>/review",
        roles=WRITERS,
        body=ReviewPlanBody,
        response=PlanOut,
        summary="Record a plan's review",
    )
    def review_plan(self, request, principal, plan_id, body):
        def review(cur, plan: Plan, on) -> list:
            return plan.review(outcome=body["outcome"], by=principal.user_id, on=on)

        return self._on_plan(request, principal, plan_id, body, review)

    @route(
        "POST",
        "/plans/<string:plan_id>/review-interval",
        roles=WRITERS,
        body=ChangeReviewIntervalBody,
        response=PlanOut,
        summary="Change how often a plan is reviewed",
    )
    def change_review_interval(self, request, principal, plan_id, body):
        def change(cur, plan: Plan, on) -> list:
            return plan.change_review_interval(
                days=body["review_interval_days"], by=principal.user_id, on=on
            )

        return self._on_plan(request, principal, plan_id, body, change)

    @route(
        "POST",
        "/plans/<string:plan_id>/close",
        roles=WRITERS,
        body=ClosePlanBody,
        response=PlanOut,
        summary="Close a plan",
    )
    def close_plan(self, request, principal, plan_id, body):
        def close(cur, plan: Plan, on) -> list:
            return plan.close(reason=body["reason"], by=principal.user_id, on=on)

        return self._on_plan(request, principal, plan_id, body, close)
