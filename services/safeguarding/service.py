"""The safeguarding service of a partner node: concerns over HTTP, the deadline timer that
escalates them, and the sender of their e-mail. Rules live in domain.py and deadlines.py.

Who sees what: any worker raises a concern; safeguarding leads (and team leads, who deputise
for them) see every concern of their partner and acknowledge, decide, act and close; anyone
else sees only the concerns they raised. Free text is sealed in the people vault under the
person at risk, or, while they are not yet known, under a vault key of the concern's own (so
it can be erased like a person's)."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, date, datetime

from eventlet.greenpool import GreenPool
from nameko.timer import timer
from psycogreen.eventlet import patch_psycopg

from services.safeguarding.configuration import MailSettings, timescales_from_environment
from services.safeguarding.deadlines import deadlines_for, due_escalations, open_deadlines
from services.safeguarding.domain import OPEN_STATES, Concern, ConcernDetails
from services.safeguarding.notifications import Notification, NotificationOutbox, send_due
from services.safeguarding.projections import SCHEMA, safeguarding_projector
from services.safeguarding.schemas import (
    AcknowledgeConcernBody,
    AddActionBody,
    AddNoteBody,
    CloseConcernBody,
    CompleteActionBody,
    ConcernHistory,
    ConcernListQuery,
    ConcernNotifications,
    ConcernOut,
    ConcernPage,
    ConcernRead,
    ConfirmSuggestionBody,
    DecideConcernBody,
    DismissSuggestionBody,
    IdentifyPersonBody,
    RaiseConcernBody,
    SuggestConcernBody,
    registry,
)
from shared import metrics, policy
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.db import rows, select_page
from shared.events import SYSTEM, Context, RecordedEvent
from shared.eventstore import ConcurrencyError, DuplicateEventId
from shared.service import (
    Audit,
    EventStore,
    NodeSettings,
    Operations,
    PeopleVault,
    history_of,
)
from shared.vault import ERASED, PersonErased, PersonNotFound
from shared.web import (
    BadRequest,
    NotFound,
    Verifier,
    context_of,
    expected_version,
    json_response,
    route,
)
from shared.workforce.roster import Workforce

patch_psycopg()

log = logging.getLogger(__name__)

MAY_RAISE_CONCERNS = policy.MAY_RAISE_CONCERNS
MAY_LEAD_SAFEGUARDING = policy.MAY_LEAD_SAFEGUARDING
TIMESCALES = timescales_from_environment()
MAIL = MailSettings.from_environment()
# How often the timer looks for deadlines passed and the sender for e-mail due.
TICK_SECONDS = float(os.environ.get("PEERLINK_SAFEGUARDING_TICK_SECONDS", "1"))
SEND_SECONDS = float(os.environ.get("PEERLINK_SAFEGUARDING_SEND_SECONDS", "0.5"))
# No date a worker gives may be earlier than this (as for referrals): what happened in 1900 is a
# mistyped year, refused. A partner whose records start earlier sets it earlier.
EARLIEST_DATE = date.fromisoformat(os.environ.get("PEERLINK_EARLIEST_DATE", "2000-01-01"))
# concerns escalated side by side in one tick; each holds one of the store's 10 connections
ESCALATING_AT_ONCE = 4
# Free text a worker writes, by request field -> the ConcernDetails field naming its sealed id.
FORM_TEXTS = {
    "what_happened": "what_happened_text_id",
    "actions_taken_notes": "actions_taken_text_id",
    "views": "views_text_id",
    "person_description": "description_text_id",
}


def now() -> datetime:
    return datetime.now(UTC)


def subject_of(concern_id: str) -> uuid.UUID:
    """The vault key a concern's text is sealed under while its person is not known."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"peerlink:concern/{concern_id}/subject")


def _is_lead(principal: Principal) -> bool:
    return principal.role in MAY_LEAD_SAFEGUARDING


class SafeguardingService(Operations):
    """Safeguarding concerns: raised by any worker, acknowledged and decided by a lead within
    the partner's timescales, escalated up the ladder by e-mail when a deadline passes, with
    actions, notes and a closing outcome."""

    name = "safeguarding"
    store = EventStore(
        SCHEMA, registry, projector=safeguarding_projector(TIMESCALES, NotificationOutbox(MAIL))
    )
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()

    # -- helpers -----------------------------------------------------------------------------

    def _events(self, concern_id: str, partner_id: str) -> list[RecordedEvent]:
        events = self.store.read_stream(Concern.stream_type, concern_id)
        return events if events and events[0].partner_id == partner_id else []

    def _fold(self, concern_id: str, partner_id: str) -> Concern | None:
        events = self._events(concern_id, partner_id)
        return Concern.fold(concern_id, events) if events else None

    def _load_with_events(self, principal: Principal, concern_id: str):
        events = self._events(concern_id, principal.partner_id)
        if not events:
            raise NotFound("no such concern")
        concern = Concern.fold(concern_id, events)
        mine = principal.user_id in (concern.raised_by, events[0].actor.user_id)
        if not _is_lead(principal) and not mine:
            raise Forbidden("only safeguarding leads see concerns raised by others")
        return concern, events

    def _load(self, principal: Principal, concern_id: str) -> Concern:
        return self._load_with_events(principal, concern_id)[0]

    def _view(self, concern: Concern) -> dict:
        body = ConcernOut().dump({**concern.as_dict(), **deadlines_for(concern, TIMESCALES)})
        due = [at for _, at in open_deadlines(concern, TIMESCALES)]
        body["is_overdue"] = bool(due) and due[0] < now()
        return body

    def _respond(self, concern: Concern, status: int = 200, extra: dict | None = None):
        return json_response(
            status,
            {**self._view(concern), **(extra or {})},
            headers={"ETag": f'"{concern.version}"'},
        )

    def _audit_read(self, request, principal, concern: Concern, fields) -> None:
        self.audit.record(
            principal,
            "read",
            Concern.stream_type,
            concern.id,
            person_id=concern.person_id,
            fields=fields,
            request_id=request.peerlink_request_id,
        )

    def _command(self, request, principal, concern_id, body, decide, texts=(), also=None):
        """Load, check the version, decide, and append with the body's free text sealed in the
        same transaction. `texts`: the body's fields of free text; `decide(concern, text_ids,
        body)` gets the id each is sealed under; `also(cur, concern)` writes what else must
        commit with the events."""
        concern, history = self._load_with_events(principal, concern_id)
        expected = expected_version(request, body)
        if expected is not None and expected != concern.version:
            # what the timer records (deadlines missed, escalations, e-mail sent) changes
            # nothing a lead acts on, so it never makes their page stale; a person's step does
            later = history[expected:] if expected < concern.version else [None]
            if any(e is None or e.actor != SYSTEM for e in later):
                raise ConcurrencyError(concern_id, expected, concern.version)
        text_ids = {name: uuid.uuid4() for name in texts if body.get(name) is not None}
        version = concern.version
        events = decide(concern, text_ids, body)
        subject = concern.person_id or subject_of(concern.id)

        def seal(cur):
            if also is not None:
                also(cur, concern)
            for name, text_id in text_ids.items():
                try:
                    self.vault.seal_text(cur, subject, body[name], text_id)
                except PersonErased:
                    raise RuleBroken(
                        "NothingIsWrittenAboutAnErasedPerson",
                        "the person this concern is about was erased; record it without words",
                    ) from None

        recorded = self.store.append(
            Concern.stream_type,
            concern.id,
            version,
            events,
            context_of(principal, request),
            within=seal,
        )
        concern.version = recorded[-1].version
        return self._respond(concern)

    def _open_texts(self, cur, payload: dict) -> dict:
        opened = {}
        for name, value in payload.items():
            if value and name.endswith("text_id"):
                text = self.vault.open_text(cur, value)
                opened[name.removesuffix("_id")] = "erased" if text is ERASED else text
        return opened

    # -- raising -----------------------------------------------------------------------------

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
        text_ids = {name: uuid.uuid4() for name in FORM_TEXTS if body.get(name) is not None}
        details = self._form_details(body, text_ids, person_id)
        events = concern.raise_concern(details, principal.user_id, now(), EARLIEST_DATE)
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

        recorded = self.store.append(
            Concern.stream_type, concern.id, 0, events, context_of(principal, request), seal
        )
        concern.version = recorded[-1].version
        return self._respond(concern, 201)

    def _form_details(self, body: dict, text_ids: dict, person_id=None) -> ConcernDetails:
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
        events = self._events(concern_id, principal.partner_id)
        concern = Concern.fold(concern_id, events)
        decided = concern.suggest(body["person_id"], body["signal"], now(), sources)
        if not decided:
            return self._respond(concern)

        def known(cur):
            if self.vault.standing(cur, body["person_id"]) != "registered":
                raise BadRequest("person_id", "no such person on this node; register them")

        recorded = self.store.append(
            Concern.stream_type,
            concern_id,
            concern.version,
            decided,
            context_of(principal, request),
            within=known,
        )
        concern.version = recorded[-1].version
        return self._respond(concern, 201)

    @route(
        "POST",
        "/concerns/<string:concern_id>/confirm",
        roles=MAY_RAISE_CONCERNS,
        body=ConfirmSuggestionBody,
        response=ConcernOut,
        summary="Confirm a suggested concern with what the worker records: it is raised",
    )
    def confirm(self, request, principal, concern_id, body):
        return self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.confirm_suggestion(
                self._form_details(body, texts), principal.user_id, now(), EARLIEST_DATE
            ),
            texts=tuple(name for name in FORM_TEXTS if name != "person_description"),
        )

    @route(
        "POST",
        "/concerns/<string:concern_id>/dismiss",
        roles=MAY_RAISE_CONCERNS,
        body=DismissSuggestionBody,
        response=ConcernOut,
        summary="Dismiss a suggested concern with a coded reason",
    )
    def dismiss(self, request, principal, concern_id, body):
        return self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.dismiss_suggestion(
                body["reason"], principal.user_id, now(), texts.get("notes")
            ),
            texts=("notes",),
        )

    @route(
        "POST",
        "/concerns/<string:concern_id>/person",
        roles=MAY_RAISE_CONCERNS,
        body=IdentifyPersonBody,
        response=ConcernOut,
        summary="Record who the person at risk is, once they are known",
    )
    def identify_person(self, request, principal, concern_id, body):
        def decide(concern, _, body):
            with self.store.db.transaction() as cur:
                if self.vault.standing(cur, body["person_id"]) != "registered":
                    raise BadRequest("person_id", "no such person on this node; register them")
            return concern.identify_person(body["person_id"], principal.user_id, now())

        def move_texts(cur, concern):
            # what was written before the person was known is about them: sealed again under
            # their key, it is erased with them
            subject = subject_of(concern.id)
            if self.vault.standing(cur, subject) != "registered":
                return
            try:
                self.vault.move_texts(cur, subject, body["person_id"])
            except (PersonErased, PersonNotFound):
                raise BadRequest("person_id", "this person's record was erased") from None

        return self._command(request, principal, concern_id, body, decide, also=move_texts)

    # -- reading -----------------------------------------------------------------------------

    @route(
        "GET",
        "/concerns",
        roles=MAY_RAISE_CONCERNS,
        query=ConcernListQuery,
        response=ConcernPage,
        summary="List concerns, open ones by deadline first (the lead's inbox)",
    )
    def list_concerns(self, request, principal, query):
        items, total = self._inbox(principal, query)
        self.audit.record(
            principal,
            "search",
            Concern.stream_type,
            fields=sorted(query),
            request_id=request.peerlink_request_id,
            detail={"filters": {k: str(v) for k, v in query.items()}, "returned": len(items)},
        )
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    def _inbox(self, principal: Principal, query: dict) -> tuple[list[dict], int]:
        clauses, params = ["partner_id = %s"], [principal.partner_id]
        if not _is_lead(principal):
            clauses.append("raised_by = %s")
            params.append(principal.user_id)
        if query["status"] == "open":
            clauses.append("status = ANY(%s)")
            params.append(list(OPEN_STATES))
        elif query["status"] != "any":
            clauses.append("status = %s")
            params.append(query["status"])
        for name in ("severity", "raised_by"):
            if name in query:
                clauses.append(f"{name} = %s")
                params.append(query[name])
        if "overdue" in query:
            clauses.append("(due_at IS NOT NULL AND due_at < now()) = %s")
            params.append(query["overdue"])
        with self.store.db.transaction() as cur:
            total, items = select_page(
                cur,
                f"SELECT concern_id, status, age_group, categories, severity, immediate_risk,"
                f" raised_by, raised_at, acknowledged_at, decision, decided_at, closed_at,"
                f" outcome, open_deadline, due_at, escalation_step, escalated_to,"
                f" deadlines_missed, open_actions, version,"
                f" (due_at IS NOT NULL AND due_at < now()) AS is_overdue"
                f" FROM {SCHEMA}.concern_list",
                clauses,
                params,
                "due_at NULLS LAST, raised_at, concern_id",
                query["limit"],
                query["offset"],
            )
        return items, total

    @route(
        "GET",
        "/concerns/<string:concern_id>",
        roles=MAY_RAISE_CONCERNS,
        response=ConcernRead,
        summary="Read a concern with its full timeline, sealed words opened; its ETag is the"
        " version every command takes as If-Match",
    )
    def read_concern(self, request, principal, concern_id):
        concern, texts, timeline = self._read_whole(request, principal, concern_id)
        return self._respond(concern, extra={"texts": texts, "timeline": timeline})

    def _read_whole(self, request, principal, concern_id) -> tuple[Concern, dict, list]:
        """A concern with its words and timeline opened, the read audited."""
        concern, events = self._load_with_events(principal, concern_id)
        self._audit_read(request, principal, concern, ["concern", "timeline", "text"])
        return (concern, *self._timeline(concern, events))

    def _timeline(self, concern: Concern, events: list[RecordedEvent]) -> tuple[dict, list]:
        """The words recorded when it was raised, and every step with its own words opened."""
        with self.store.db.transaction() as cur:
            texts = self._open_texts(cur, concern.details)
            timeline = [
                {
                    "version": e.version,
                    "event_type": e.event_type,
                    "occurred_at": e.occurred_at,
                    "recorded_at": e.recorded_at,
                    "by": e.actor.user_id,
                    "role": e.actor.role,
                    "details": {k: v for k, v in e.payload.items() if not k.endswith("text_id")},
                    "texts": self._open_texts(cur, e.payload),
                }
                for e in events
            ]
        return texts, timeline

    @route(
        "GET",
        "/concerns/<string:concern_id>/history",
        roles=MAY_RAISE_CONCERNS,
        response=ConcernHistory,
        summary="Read a concern's history as its events",
    )
    def history(self, request, principal, concern_id):
        concern, events = self._load_with_events(principal, concern_id)
        self._audit_read(request, principal, concern, ["history"])
        return {
            "concern_id": concern_id,
            "events": history_of(events),
        }

    @route(
        "GET",
        "/concerns/<string:concern_id>/notifications",
        roles=MAY_LEAD_SAFEGUARDING,
        response=ConcernNotifications,
        summary="The e-mail a concern has caused: each message and every attempt to send it",
    )
    def notifications(self, request, principal, concern_id):
        concern = self._load(principal, concern_id)
        self._audit_read(request, principal, concern, ["notifications"])
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT o.id, o.kind, o.deadline, o.step, o.rung, o.recipient, o.status,"
                f" o.attempts, o.created_at, o.sent_at, o.next_attempt_at, o.last_error,"
                f" coalesce(json_agg(json_build_object('at', a.at, 'outcome', a.outcome,"
                f" 'error', a.error) ORDER BY a.id) FILTER (WHERE a.id IS NOT NULL), '[]')"
                f" AS tries FROM {SCHEMA}.notification_outbox o"
                f" LEFT JOIN {SCHEMA}.notification_attempts a ON a.outbox_id = o.id"
                f" WHERE o.concern_id = %s AND o.partner_id = %s GROUP BY o.id ORDER BY o.id",
                (concern_id, principal.partner_id),
            )
            items = rows(cur)
        return {"concern_id": concern_id, "items": items}

    # -- a lead's part -----------------------------------------------------------------------

    @route(
        "POST",
        "/concerns/<string:concern_id>/acknowledge",
        roles=MAY_LEAD_SAFEGUARDING,
        body=AcknowledgeConcernBody,
        response=ConcernOut,
        summary="Acknowledge a concern, regrading its severity if need be",
    )
    def acknowledge(self, request, principal, concern_id, body):
        return self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, _, body: c.acknowledge(principal.user_id, now(), body.get("severity")),
        )

    @route(
        "POST",
        "/concerns/<string:concern_id>/decide",
        roles=MAY_LEAD_SAFEGUARDING,
        body=DecideConcernBody,
        response=ConcernOut,
        summary="Decide what happens: no further action, an action plan or a referral",
    )
    def decide(self, request, principal, concern_id, body):
        return self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.record_decision(
                body["decision"],
                principal.user_id,
                now(),
                reason=body.get("reason"),
                rationale_text_id=texts.get("rationale"),
                agency_reference_text_id=texts.get("agency_reference"),
                revision_reason_text_id=texts.get("revision_reason"),
            ),
            texts=("rationale", "revision_reason", "agency_reference"),
        )

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
        response = self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.add_action(
                action_id,
                body["kind"],
                body["owner_id"],
                body["due_on"],
                principal.user_id,
                now(),
                details_text_id=texts.get("details"),
            ),
            texts=("details",),
        )
        response.status_code = 201
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
        def decide(concern, texts, body):
            action = concern.actions.get(action_id)
            if action is None:
                raise NotFound("no such action on this concern")
            if not _is_lead(principal) and action.owner_id != principal.user_id:
                raise Forbidden("an action is completed by a lead or by its owner")
            return concern.complete_action(
                action_id, principal.user_id, now(), body["outcome"], texts.get("notes")
            )

        return self._command(request, principal, concern_id, body, decide, texts=("notes",))

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
        response = self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.add_note(texts["text"], principal.user_id, now()),
            texts=("text",),
        )
        response.status_code = 201
        return response

    @route(
        "POST",
        "/concerns/<string:concern_id>/close",
        roles=MAY_LEAD_SAFEGUARDING,
        body=CloseConcernBody,
        response=ConcernOut,
        summary="Close a decided concern with its outcome",
    )
    def close(self, request, principal, concern_id, body):
        return self._command(
            request,
            principal,
            concern_id,
            body,
            lambda c, texts, body: c.close(
                body["outcome"],
                principal.user_id,
                now(),
                desired_outcomes_met=body.get("desired_outcomes_met"),
                outcome_text_id=texts.get("notes"),
            ),
            texts=("notes",),
        )

    # -- deadlines and e-mail ----------------------------------------------------------------

    @timer(interval=TICK_SECONDS)
    def escalate_due(self):
        """Deadlines passed, found in the read model (so after any restart too), recorded as
        the domain decides. A concurrent or repeated run adds nothing twice: the events have
        ids derived from the step and are appended at the version read."""
        self.escalate_due_now(now())

    def escalate_due_now(self, at: datetime) -> int:
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT concern_id FROM {SCHEMA}.concern_list WHERE partner_id = %s"
                f" AND check_at <= %s AND status = ANY(%s) ORDER BY check_at LIMIT 500",
                (self.settings.partner_id, at, list(OPEN_STATES)),
            )
            due = [row[0] for row in cur.fetchall()]
        # a few concerns at once: each waits mostly on the database
        return sum(GreenPool(ESCALATING_AT_ONCE).imap(lambda c: self._escalate(c, at), due))

    def _escalate(self, concern_id: str, at: datetime) -> int:
        try:
            return self._record_escalations(concern_id, at)
        except (ConcurrencyError, DuplicateEventId):
            log.debug("concern %s: another run recorded its escalation", concern_id)
        except Exception:  # noqa: BLE001 - one concern never stops the others
            log.exception("concern %s: escalation failed; retried next tick", concern_id)
        return 0

    def _record_escalations(self, concern_id: str, at: datetime) -> int:
        concern = self._fold(concern_id, self.settings.partner_id)
        if concern is None:
            return 0
        version = concern.version
        events = concern.record_escalations(due_escalations(concern, at, TIMESCALES))
        if not events:
            return 0
        self.store.append(
            Concern.stream_type,
            concern_id,
            version,
            events,
            Context(partner_id=self.settings.partner_id, actor=SYSTEM),
        )
        for event in events:
            metrics.ESCALATIONS.labels(self.name, event.payload["deadline"]).inc()
        return len(events)

    @timer(interval=SEND_SECONDS)
    def send_notifications(self):
        """E-mail due from the outbox; each escalation told is then recorded on its concern."""
        sent = send_due(self.store.db, MAIL, self.settings.partner_id, self._is_still_needed)
        for notification in sent:
            if notification.kind == "escalation":
                try:
                    self._record_notified(notification)
                except Exception:  # noqa: BLE001 - the e-mail went; the record is a courtesy
                    log.exception("concern %s: notification not recorded", notification.concern_id)

    def _is_still_needed(self, notification: Notification) -> bool:
        """An escalation whose deadline has been met since needs nobody told."""
        if notification.kind != "escalation":
            return True
        concern = self._fold(notification.concern_id, self.settings.partner_id)
        if concern is None:
            return False
        pending = {(e.deadline, e.step) for e in concern.pending_notifications()}
        return (notification.deadline, notification.step) in pending

    def _record_notified(self, notification: Notification) -> None:
        for _ in range(3):
            concern = self._fold(notification.concern_id, self.settings.partner_id)
            version = concern.version
            events = concern.record_notification(
                notification.deadline, notification.step, "email", now()
            )
            if not events:
                return
            try:
                self.store.append(
                    Concern.stream_type,
                    concern.id,
                    version,
                    events,
                    Context(partner_id=self.settings.partner_id, actor=SYSTEM),
                )
                return
            except ConcurrencyError:
                continue
