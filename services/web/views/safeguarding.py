"""Safeguarding in the web app: the lead's inbox (open concerns by deadline, overdue marked,
filtered and paged) and a concern's page with its timeline, the e-mail it caused and the lead's
forms (acknowledge, decide, actions, notes, close, the person at risk once known). Everyone
else sees the concerns they raised. Every form sends the concern's version as If-Match, so a
change made meanwhile by someone else is refused (409) and explained, never overwritten."""

from __future__ import annotations

from contracts.safeguarding.codes import (
    ACKNOWLEDGED,
    ACTION_KINDS,
    ACTION_OUTCOMES,
    CLOSING_OUTCOMES,
    DECIDED,
    DECISIONS,
    DESIRED_OUTCOMES_MET,
    NO_FURTHER_ACTION,
    NO_FURTHER_ACTION_REASONS,
    OPEN_STATES,
    RAISED,
    SEVERITIES,
    STATES,
)
from services.web.api import Refused, segment
from services.web.app import Page, changed_once, path_with, signed_in, today
from services.web.forms import Form, posted_date_parts
from services.web.staff import with_id
from services.web.views.concern_words import CHOICES, step_in_words, texts_in_words
from services.web.views.concerns import (
    PER_PAGE,
    RAISERS,
    _offset,
    _person_name,
    raised_by_me,
    show_refusal,
)
from shared.web import route

# who leads on safeguarding (policy.MAY_LEAD_SAFEGUARDING: team leads deputise)
LEADS = ("safeguarding_lead", "team_lead")
# the safeguarding service's rules that concern one field of a lead's form
RULE_FIELDS = {
    "RevisingADecisionNeedsAReason": "revision_reason",
    "NewDecisionMustChangeTheRoute": "decision",
    "Section42ReferralsAreForAdults": "decision",
    "ChildrensServicesReferralsAreForChildren": "decision",
    "NoFurtherActionNeedsAReason": "reason",
    "NoFurtherActionLeavesNoActionOpen": "decision",
    "ActionCannotBeDueInThePast": "due_on",
    "ClosingNeedsEveryActionCompleted": "outcome",
    "PersonIsIdentifiedOnce": "person_id",
}


def concern_path(concern_id: str) -> str:
    return f"/safeguarding/concerns/{segment(concern_id)}"


class SafeguardingPages:
    """The lead's inbox and every concern's page, with the forms that move a concern on."""

    @route(
        "GET",
        "/safeguarding",
        public=True,
        media="text/html",
        summary="The safeguarding lead's inbox; for others, the concerns they raised",
    )
    @signed_in(*RAISERS)
    def safeguarding(self, page: Page):
        if not page.is_role(*LEADS):
            return page.render("safeguarding/mine.html", title="Safeguarding", **raised_by_me(page))
        form = Form(page.args, page.errors)
        status = form.choice(
            "status", "a status", [c for c, _ in CHOICES["status"]], required=False
        )
        severity = form.choice("severity", "a severity", SEVERITIES, required=False)
        overdue = page.args.get("overdue") == "true"
        offset = _offset(page.args.get("offset"))
        filters = {"status": status or "open", "severity": severity}
        if overdue:
            filters["overdue"] = "true"
        found = page.api.get("safeguarding", "/concerns", **filters, limit=PER_PAGE, offset=offset)
        here = {**filters, "overdue": "true" if overdue else None}
        return page.render(
            "safeguarding/inbox.html",
            title="Safeguarding inbox",
            concerns=found["items"],
            total=found["total"],
            first=offset + 1,
            filters={**filters, "overdue": overdue},
            choices=CHOICES,
            previous=path_with(page.request.path, **here, offset=max(offset - PER_PAGE, 0) or None)
            if offset
            else None,
            next=path_with(page.request.path, **here, offset=offset + PER_PAGE)
            if offset + PER_PAGE < found["total"]
            else None,
        )

    @route(
        "GET",
        "/safeguarding/concerns/<string:concern_id>",
        public=True,
        media="text/html",
        summary="A concern's page: details, timeline, e-mail sent and the lead's forms",
    )
    @signed_in(*RAISERS)
    def concern(self, page: Page, concern_id: str):
        return concern_page(page, concern_id)

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/acknowledge",
        public=True,
        media="text/html",
        summary="Acknowledge a concern, regrading its severity if need be",
    )
    @signed_in(*LEADS)
    @changed_once
    def acknowledge(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        severity = form.choice("ack_severity", "the severity", SEVERITIES)
        return _command(
            page,
            concern_id,
            form,
            "acknowledge",
            {"severity": severity},
            names={"severity": "ack_severity"},
            done="concern-acknowledged",
        )

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/decide",
        public=True,
        media="text/html",
        summary="Decide what happens to a concern, or change the decision with a reason",
    )
    @signed_in(*LEADS)
    @changed_once
    def decide(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        decision = form.choice("decision", "what happens next", DECISIONS)
        reason = form.choice(
            "reason",
            "why no further action is needed",
            NO_FURTHER_ACTION_REASONS,
            required=decision == NO_FURTHER_ACTION,
        )
        if reason is not None and decision not in (None, NO_FURTHER_ACTION):
            form._fail(
                "reason",
                "Leave the reason empty unless the decision is no further action; "
                "explain other decisions in the rationale",
            )
        body = {
            "decision": decision,
            "reason": reason,
            "rationale": form.text("rationale", "the rationale", max_length=5000),
            "agency_reference": form.text("agency_reference", "the reference", max_length=100),
        }
        if page.form.get("is_revision") == "yes":
            body["revision_reason"] = form.text(
                "revision_reason", "why the decision changes", required=True, max_length=2000
            )
        return _command(page, concern_id, form, "decide", body, done="concern-decided")

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/actions",
        public=True,
        media="text/html",
        summary="Add an action to a decided concern, with its owner and due date",
    )
    @signed_in(*LEADS)
    @changed_once
    def add_action(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        body = {
            "kind": form.choice("kind", "the action", ACTION_KINDS),
            "owner_id": form.text("owner_id", "who will do it", required=True, max_length=200),
            "due_on": form.date("due_on", "when it is due"),
            "details": form.text("details", "the details", max_length=5000),
        }
        if body["due_on"] is not None:
            if body["due_on"] < today():
                form._fail("due_on", "The date it is due must be today or later")
            body["due_on"] = body["due_on"].isoformat()
        return _command(page, concern_id, form, "actions", body, done="concern-action-added")

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/actions/<string:action_id>/complete",
        public=True,
        media="text/html",
        summary="Complete an action (a lead, or the action's owner)",
    )
    @signed_in(*RAISERS)
    @changed_once
    def complete_action(self, page: Page, concern_id: str, action_id: str):
        form = Form(page.form, page.errors)
        prefix = f"complete_{action_id}"
        body = {
            "outcome": form.choice(f"{prefix}_outcome", "how it ended", ACTION_OUTCOMES),
            "notes": form.text(f"{prefix}_notes", "the notes", max_length=5000),
        }
        return _command(
            page,
            concern_id,
            form,
            f"actions/{segment(action_id)}/complete",
            body,
            names={"outcome": f"{prefix}_outcome", "notes": f"{prefix}_notes"},
            done="concern-action-completed",
        )

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/notes",
        public=True,
        media="text/html",
        summary="Add a note to a concern",
    )
    @signed_in(*RAISERS)
    @changed_once
    def add_note(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        body = {"text": form.text("note", "the note", required=True, max_length=10000)}
        return _command(
            page, concern_id, form, "notes", body, names={"text": "note"}, done="concern-note-added"
        )

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/close",
        public=True,
        media="text/html",
        summary="Close a decided concern with its outcome",
    )
    @signed_in(*LEADS)
    @changed_once
    def close(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        body = {
            "outcome": form.choice("outcome", "the outcome", CLOSING_OUTCOMES),
            "desired_outcomes_met": form.choice(
                "desired_outcomes_met",
                "whether the outcomes the person wanted were met",
                DESIRED_OUTCOMES_MET,
                required=False,
            ),
            "notes": form.text("close_notes", "the notes", max_length=5000),
        }
        return _command(
            page,
            concern_id,
            form,
            "close",
            body,
            names={"notes": "close_notes"},
            done="concern-closed",
        )

    @route(
        "POST",
        "/safeguarding/concerns/<string:concern_id>/person",
        public=True,
        media="text/html",
        summary="Record who the person at risk is, once they are known",
    )
    @signed_in(*RAISERS)
    @changed_once
    def identify_person(self, page: Page, concern_id: str):
        form = Form(page.form, page.errors)
        body = {"person_id": form.text("person_id", "the person's id", required=True)}
        return _command(page, concern_id, form, "person", body, done="concern-person-recorded")


def _command(
    page: Page,
    concern_id: str,
    form: Form,
    step: str,
    body: dict,
    done: str,
    names: dict[str, str] | None = None,
):
    """Send one of a concern's commands with the version the person saw; its page again with
    the errors when the form or the service refuses it."""
    if not form.ok():
        return concern_page(page, concern_id, posted=page.form, status=422)
    version = page.form.get("version", "")
    try:
        page.api.post(
            "safeguarding",
            f"/concerns/{segment(concern_id)}/{step}",
            {name: value for name, value in body.items() if value is not None},
            version=f'"{version}"' if version.isdigit() else None,
        )
    except Refused as refusal:
        if refusal.status not in (409, 422):
            raise
        fields = {name: name for name in body}
        show_refusal(page, refusal, names={**fields, **(names or {})}, rules=RULE_FIELDS)
        return concern_page(page, concern_id, posted=page.form, status=refusal.status)
    return page.redirect(concern_path(concern_id), done=done)


def concern_page(page: Page, concern_id: str, posted=None, status: int = 200):
    """A concern as the signed-in person may see it, with the forms they may use."""
    concern, etag = page.api.get_with_version("safeguarding", f"/concerns/{segment(concern_id)}")
    is_lead = page.is_role(*LEADS)
    notifications = (
        page.api.get("safeguarding", f"/concerns/{segment(concern_id)}/notifications")["items"]
        if is_lead
        else []
    )
    raised = next(
        (s for s in concern["timeline"] if s["event_type"] == "ConcernRaised"), {"details": {}}
    )
    state = concern["status"]
    actions = [
        {
            **action,
            "may_complete": action["completed_at"] is None
            and (is_lead or action["owner_id"] == page.user_id),
        }
        for action in concern["actions"]
    ]
    forms = {
        "acknowledge": is_lead and state == RAISED,
        "decide": is_lead and state in (ACKNOWLEDGED, DECIDED),
        "add_action": is_lead and state == DECIDED and concern["decision"] != NO_FURTHER_ACTION,
        "close": is_lead and state == DECIDED,
        "person": state in OPEN_STATES and concern["person_id"] is None,
        "note": concern["raised_at"] is not None,
    }
    return page.render(
        "safeguarding/concern.html",
        status=status,
        title="Safeguarding concern",
        concern=concern,
        version=(etag or "").strip('"') or str(concern["version"]),
        person_name=_person_name(page, concern["person_id"]),
        raised=raised["details"],
        texts=texts_in_words(concern.get("texts") or {}),
        timeline=[step_in_words(step) for step in concern["timeline"]],
        notifications=notifications,
        actions=actions,
        forms=forms,
        is_lead=is_lead,
        is_mine=concern["raised_by"] == page.user_id,
        workers=_workers(page) if forms["add_action"] else None,
        values=_values(posted),
        choices=CHOICES,
        states=STATES,
        back={"href": "/safeguarding", "text": "Back to the inbox"}
        if is_lead
        else {"href": "/concerns", "text": "Back to the concerns you raised"},
    )


def _workers(page: Page) -> list[tuple[str, str]] | None:
    """The partner's workers to choose an action's owner from, for those who may list them
    (team leads); None when the person may not, and types the owner's sign-in id instead."""
    try:
        found = page.api.get("referrals", "/workers", status="registered", limit=500)
    except Refused:
        return None
    return [
        (w["worker_id"], with_id(page.name_of(w["worker_id"]), w["worker_id"]))
        for w in found["items"]
    ]


def _values(posted) -> dict:
    """What a refused form held, to show it again."""
    if posted is None:
        return {}
    values = {name: posted.get(name, "") for name in posted}
    values["due_on"] = posted_date_parts(posted, "due_on")
    return values
