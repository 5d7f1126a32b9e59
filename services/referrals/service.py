"""The referrals service of a partner node: HTTP entrypoints only; rules live in domain.py."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime

from psycogreen.eventlet import patch_psycopg

from services.referrals.domain import (
    CORRECTABLE_DATES,
    Calendar,
    Referral,
    SessionsHeld,
    require_referable,
    text_with_content,
)
from services.referrals.offers import OffersApi, PartnerTransferKeys
from services.referrals.open_items import OpenItems
from services.referrals.people import PeopleApi, Person
from services.referrals.projections import SCHEMA, referrals_projector
from services.referrals.retention import RetentionApi
from services.referrals.schemas import (
    REFERRAL_SOURCES,
    AllocateBody,
    AuditQuery,
    AuditTrail,
    Caseloads,
    CloseBody,
    ConsentBody,
    CorrectBody,
    DatedBody,
    DeclineBody,
    DischargeBody,
    HoldBody,
    ListQuery,
    ReceiveReferralBody,
    ReferralHistory,
    ReferralOut,
    ReferralPage,
    registry,
)
from services.referrals.workforce import WorkersApi
from shared import policy
from shared.aggregate import RuleBroken
from shared.auth import Forbidden, Principal
from shared.db import select_page
from shared.events import RecordedEvent
from shared.eventstore import ConcurrencyError
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
    json_default,
    json_response,
    route,
)
from shared.workforce.roster import Workforce

patch_psycopg()

# Policy numbers a partner sets; defaults from common practice (DOMAIN.md), overridable.
CASELOAD_CAP = int(os.environ.get("PEERLINK_CASELOAD_CAP", "25"))
# No date a worker gives may be earlier than this: a typed year such as 0006 is refused, not
# kept to skew every wait. A partner whose records start earlier sets PEERLINK_EARLIEST_DATE.
EARLIEST_DATE = date.fromisoformat(os.environ.get("PEERLINK_EARLIEST_DATE", "2000-01-01"))

READERS = policy.MAY_READ_REFERRALS
INTAKE = policy.MAY_RECORD_REFERRALS
DECIDERS = policy.MAY_DECIDE_REFERRALS
CASEWORK = policy.MAY_WORK_REFERRALS


def today() -> date:
    return datetime.now(UTC).date()


def calendar() -> Calendar:
    return Calendar(today(), EARLIEST_DATE)


# the free text of POST /referrals, sealed under the person's key: body field -> where the
# event keeps its text id
RECEIVED_TEXTS = ("needs_notes", "risk_notes", "referrer_contact", "contact_times")


# what may still be done to the referral of a person who was erased: end it
ENDING_STEPS = ("close", "discharge")


class ReferralsService(OffersApi, PeopleApi, WorkersApi, RetentionApi, Operations):
    """Referrals: received, accepted or declined, allocated, active, on hold, discharged; the
    people they are about and the workers they are allocated to."""

    name = "referrals"
    store = EventStore(SCHEMA, registry, projector=referrals_projector())
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()
    open_items = OpenItems()
    transfer_keys = PartnerTransferKeys()

    # -- helpers -----------------------------------------------------------------------------

    def _load(self, principal: Principal, referral_id: str) -> Referral:
        return self._load_with_events(principal, referral_id)[0]

    def _load_with_events(
        self, principal: Principal, referral_id: str
    ) -> tuple[Referral, list[RecordedEvent]]:
        events = self.store.read_stream(Referral.stream_type, referral_id)
        if not events or events[0].partner_id != principal.partner_id:
            raise NotFound("no such referral")
        referral = Referral.fold(referral_id, events)
        if principal.role == "peer_worker" and referral.worker_id != principal.user_id:
            created_by_me = events[0].actor.user_id == principal.user_id
            if not (created_by_me and referral.worker_id is None):
                raise Forbidden("this referral is not on your caseload")
        return referral, events

    def _audit_read(self, request, principal, referral: Referral, fields) -> None:
        self.audit.record(
            principal,
            "read",
            Referral.stream_type,
            referral.id,
            person_id=referral.details.get("person_id"),
            fields=fields,
            request_id=request.peerlink_request_id,
        )

    def _respond(self, referral: Referral, status: int = 200, **extra):
        return json_response(
            status,
            {**ReferralOut().dump(referral.as_dict()), **ReferralOut().dump(extra)},
            headers={"ETag": f'"{referral.version}"'},
        )

    def _command(self, request, principal, referral_id: str, body: dict, decide, texts=None):
        """Load, check the version, decide, append; `texts` (text id -> words) are sealed under
        the person's key in the same transaction as the events naming them."""
        referral = self._load(principal, referral_id)
        expected = expected_version(request, body)
        if expected is not None and expected != referral.version:
            raise ConcurrencyError(referral_id, expected, referral.version)
        person_id = referral.details["person_id"]
        step = request.path.rstrip("/").rsplit("/", 1)[-1]
        if step not in ENDING_STEPS and self._person_standing(principal, person_id) == "erased":
            raise RuleBroken(
                "NoSupportForAnErasedPerson",
                "the person this referral is for was erased; it can only be closed or discharged",
            )
        version = referral.version
        events = decide(referral, self._date(body))

        def seal(cur):
            for text_id, text in (texts or {}).items():
                try:
                    self.vault.seal_text(cur, person_id, text, uuid.UUID(text_id))
                except PersonErased:
                    raise RuleBroken(
                        "NothingIsWrittenAboutAnErasedPerson",
                        "the person this referral is about was erased; nothing more is written",
                    ) from None
                except PersonNotFound:
                    # a referral accepted from a partner's offer names someone not yet in
                    # this node's vault: words about them wait until they are registered
                    raise RuleBroken(
                        "WordsNeedARegisteredPerson",
                        "the person this referral is about is not registered here yet",
                    ) from None

        recorded = self.store.append(
            Referral.stream_type,
            referral_id,
            version,
            events,
            context_of(principal, request),
            within=seal if texts else None,
        )
        referral.version = recorded[-1].version
        return self._respond(referral)

    # -- intake ------------------------------------------------------------------------------

    @route(
        "POST",
        "/referrals",
        roles=INTAKE,
        body=ReceiveReferralBody,
        response=ReferralOut,
        status=201,
        summary="Record a referral received",
    )
    def receive(self, request, principal, body):
        dates = calendar()
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
            "consent": self._consent_payload(consent, text_ids.get("contact_times")),
        }
        events = referral.receive(details)
        context = context_of(principal, request)

        def seal(cur):
            for name, text_id in text_ids.items():
                self.vault.seal_text(cur, person_id, texts[name], uuid.UUID(text_id))

        if not new_people:
            recorded = self.store.append(
                Referral.stream_type, referral.id, 0, events, context, within=seal
            )
        else:
            recorded = self._register_with_referral(new_people, referral, events, context, seal)
        referral.version = recorded[-1].version
        return self._respond(referral, 201)

    @staticmethod
    def _consent_payload(consent: dict | None, contact_times_text_id: str | None) -> dict | None:
        if not consent:
            return None
        return {
            "to_share": consent["to_share"],
            "to_contact": consent["to_contact"],
            "contact_methods": consent["contact_methods"],
            "contact_times_text_id": contact_times_text_id,
            "recorded_on": consent["recorded_on"].isoformat(),
            # with whom, and what of their record, the person consents to share (None: any
            # partner, all of it); refusing to share refuses it all
            "share_with": consent.get("share_with") if consent["to_share"] else [],
            "shares": consent.get("shares") if consent["to_share"] else [],
        }

    def _person_standing(self, principal: Principal, person_id) -> str | None:
        """Whether the person is "registered" or "erased"; None when this partner has none by
        that id."""
        events = self.store.read_stream(Person.stream_type, str(person_id))
        if not events or events[0].partner_id != principal.partner_id:
            return None
        return "erased" if Person(str(person_id), events).is_erased else "registered"

    def _register_with_referral(self, new_people, referral: Referral, events, context, seal):
        """The people named by the referral registered with it: their vault rows and events and
        the referral's events in one transaction, or nothing at all."""
        registrations = [
            (person_id, *self._registration(person_id, registering))
            for _, person_id, registering in new_people
        ]
        (first_id, first_event, first_identifiers), *others = registrations
        recorded = []

        def together(cur):
            self.vault.register(cur, first_id, first_identifiers)
            for person_id, event, identifiers in others:
                self.store.append_within(cur, Person.stream_type, person_id, 0, [event], context)
                self.vault.register(cur, person_id, identifiers)
            recorded.extend(
                self.store.append_within(cur, Referral.stream_type, referral.id, 0, events, context)
            )
            seal(cur)

        self.store.append(Person.stream_type, first_id, 0, [first_event], context, within=together)
        return recorded

    # -- reading -----------------------------------------------------------------------------

    @route(
        "GET",
        "/referrals",
        roles=READERS,
        query=ListQuery,
        response=ReferralPage,
        summary="List referrals, filtered and paged",
    )
    def list(self, request, principal, query):
        clauses, params = ["partner_id = %s"], [principal.partner_id]
        if principal.role == "peer_worker":
            clauses.append("worker_id = %s")
            params.append(principal.user_id)
        for name in ("status", "worker_id", "source", "person_id"):
            if name in query:
                clauses.append(f"{name} = %s")
                params.append(str(query[name]))
        if "overdue" in query:
            overdue = (
                "first_contact_on IS NULL AND first_contact_due_on < %s"
                " AND status IN ('received', 'accepted', 'allocated')"
            )
            clauses.append(overdue if query["overdue"] else f"NOT ({overdue})")
            params.append(today())
        with self.store.db.transaction() as cur:
            total, items = select_page(
                cur,
                f"SELECT referral_id, person_id, status, source, urgency, worker_id, received_on,"
                f" first_contact_due_on, first_contact_on, is_carer_referral, version"
                f" FROM {SCHEMA}.referral_list",
                clauses,
                params,
                "received_on, referral_id",
                query["limit"],
                query["offset"],
            )
        self.audit.record(
            principal,
            "search",
            Referral.stream_type,
            fields=sorted(query),
            request_id=request.peerlink_request_id,
            detail={"filters": {k: str(v) for k, v in query.items()}, "returned": len(items)},
        )
        for item in items:
            item["is_first_contact_overdue"] = (
                item["first_contact_on"] is None
                and item["status"] in ("received", "accepted", "allocated")
                and item["first_contact_due_on"] < today()
            )
        if query["names"]:
            self._open_names(request, principal, items)
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    def _open_names(self, request, principal, items: list[dict]) -> None:
        """Each listed person's name from the vault, every read audited as a read of them."""
        with self.store.db.transaction() as cur:
            for item in items:
                person_id = str(item["person_id"])
                identifiers = self.vault.read(cur, person_id)
                if isinstance(identifiers, dict):
                    item["full_name"] = identifiers.get("full_name")
                else:
                    item["full_name"] = "erased" if identifiers is ERASED else None
                self.audit.record(
                    principal,
                    "read",
                    "person",
                    person_id,
                    person_id=person_id,
                    fields=["full_name"] if isinstance(identifiers, dict) else [],
                    request_id=request.peerlink_request_id,
                    detail={"via": "referral_list", "referral_id": item["referral_id"]},
                    cur=cur,
                )

    @route(
        "GET",
        "/referrals/<string:referral_id>",
        roles=READERS,
        response=ReferralOut,
        summary="Read a referral",
    )
    def read(self, request, principal, referral_id):
        referral = self._load(principal, referral_id)
        self._audit_read(request, principal, referral, sorted(ReferralOut().fields))
        with self.store.db.transaction() as cur:
            texts = self._open_texts(cur, referral.text_ids)
            reasons = self._open_texts(
                cur, {str(c["reason_text_id"]): c["reason_text_id"] for c in referral.corrections}
            )
        corrections = [
            {**c, "reason": reasons.get(str(c["reason_text_id"]))} for c in referral.corrections
        ]
        return self._respond(referral, texts=texts, corrections=corrections)

    def _open_texts(self, cur, text_ids: dict) -> dict[str, str]:
        """Sealed texts opened: name -> text ("erased" once the person's key is gone)."""
        opened = {}
        for name, text_id in text_ids.items():
            text = self.vault.open_text(cur, text_id)
            if text is not None:
                opened[name] = "erased" if text is ERASED else text
        return opened

    @route(
        "GET",
        "/referrals/<string:referral_id>/history",
        roles=READERS,
        response=ReferralHistory,
        summary="Read a referral's history as its events",
    )
    def history(self, request, principal, referral_id):
        referral, events = self._load_with_events(principal, referral_id)
        self._audit_read(request, principal, referral, ["history"])
        text_ids = {str(c["reason_text_id"]): c["reason_text_id"] for c in referral.corrections} | {
            t: t for t in referral.text_ids.values()
        }
        with self.store.db.transaction() as cur:
            texts = self._open_texts(cur, text_ids)
        # each event's sealed words opened beside it, by text id
        return {"referral_id": referral_id, "events": history_of(events), "texts": texts}

    @route(
        "GET",
        "/caseloads",
        roles=policy.MAY_READ_CASELOADS,
        response=Caseloads,
        summary="Caseload size per worker, with the caseload cap",
    )
    def caseloads(self, request, principal):
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT worker_id, count(*) FROM {SCHEMA}.referral_list"
                " WHERE partner_id = %s AND status IN ('allocated', 'active', 'on_hold')"
                " GROUP BY worker_id ORDER BY worker_id",
                (principal.partner_id,),
            )
            rows = cur.fetchall()
        return {
            "caseload_cap": CASELOAD_CAP,
            "workers": [
                {"worker_id": w, "caseload": n, "is_over_cap": n >= CASELOAD_CAP} for w, n in rows
            ],
        }

    @route(
        "GET",
        "/audit",
        roles=policy.MAY_READ_AUDIT,
        query=AuditQuery,
        response=AuditTrail,
        summary="Read the audit trail of a person: who read or changed what, when, why",
    )
    def audit_trail(self, request, principal, query):
        total, entries = self.audit.for_person(query["person_id"], query["limit"], query["offset"])
        entries = [e for e in entries if e["partner_id"] == principal.partner_id]
        return {
            "person_id": query["person_id"],
            "entries": entries,
            "total": total,
            "limit": query["limit"],
            "offset": query["offset"],
        }

    # -- lifecycle ---------------------------------------------------------------------------

    @route(
        "POST",
        "/referrals/<string:referral_id>/accept",
        roles=DECIDERS,
        body=DatedBody,
        response=ReferralOut,
        summary="Accept a received referral",
    )
    def accept(self, request, principal, referral_id, body):
        return self._command(
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
        return self._command(
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

        response = self._command(request, principal, referral_id, body, decide)
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT count(*) FROM {SCHEMA}.referral_list WHERE partner_id = %s"
                " AND worker_id = %s AND status IN ('allocated', 'active', 'on_hold')",
                (principal.partner_id, body["worker_id"]),
            )
            caseload = cur.fetchone()[0]
        if caseload > CASELOAD_CAP:
            response.headers["Warning"] = (
                f'199 peerlink "{body["worker_id"]} now carries {caseload} referrals, '
                f'over the caseload cap of {CASELOAD_CAP}"'
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
        return self._command(
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
        return self._command(
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
        return self._command(
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
        referral = self._load(principal, referral_id)
        items, warnings = self.open_items.of(request, referral.details["person_id"])
        closing = body["close_open_items"]
        response = self._command(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.discharge(
                principal.user_id, on, body["reason"], closing, self._sessions_held(referral_id)
            ),
        )
        for item in items:
            # the sessions service cancels and closes the referral's own, on the discharge event
            item["is_closing"] = closing and item["referral_id"] == referral_id
        return self._with_open_items(response, items, warnings)

    def _sessions_held(self, referral_id: str) -> SessionsHeld | None:
        """The first and last day of the referral's sessions held, read from the sessions
        service's read model in the node's database (voided ones are not held)."""
        with self.store.db.transaction() as cur:
            cur.execute(
                "SELECT min(starts_at AT TIME ZONE 'UTC')::date,"
                " max(starts_at AT TIME ZONE 'UTC')::date"
                " FROM sessions.session_list WHERE referral_id = %s AND status = 'held'",
                (referral_id,),
            )
            first, last = cur.fetchone()
        return SessionsHeld(first, last) if first else None

    @staticmethod
    def _with_open_items(response, items: list[dict], warnings: list[str]):
        body = json.loads(response.get_data())
        body["open_items"] = items
        body["warnings"] = warnings + [
            f"{item['summary']}: still open; {item['to_close']}"
            for item in items
            if not item.get("is_closing")
        ]
        response.set_data(json.dumps(body, default=json_default))
        return response

    @route(
        "GET",
        "/referrals/<string:referral_id>/open-items",
        roles=READERS,
        response=ReferralOut,
        summary="What is still open for the referral's person: future sessions, open plans",
    )
    def read_open_items(self, request, principal, referral_id):
        referral = self._load(principal, referral_id)
        items, warnings = self.open_items.of(request, referral.details["person_id"])
        return self._with_open_items(self._respond(referral), items, warnings)

    @route(
        "POST",
        "/referrals/<string:referral_id>/consent",
        roles=CASEWORK,
        body=ConsentBody,
        response=ReferralOut,
        summary="Record the person's consent (given, changed or refused) at any time",
    )
    def record_consent(self, request, principal, referral_id, body):
        recorded_on = calendar().check("recorded_on", body["recorded_on"])
        text = body.get("contact_times")
        text_id = str(uuid.uuid4()) if text else None
        consent = self._consent_payload({**body, "recorded_on": recorded_on}, text_id)
        return self._command(
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
        return self._command(
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
            calendar().check("value", value)
        reason_id = str(uuid.uuid4())
        return self._command(
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
        return self._command(
            request,
            principal,
            referral_id,
            body,
            lambda r, on: r.close_without_contact(principal.user_id, on, body["reason"]),
        )

    @staticmethod
    def _date(body: dict) -> date:
        return calendar().check("on", body.get("on") or today())
