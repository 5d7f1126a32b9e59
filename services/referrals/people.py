"""The people API of a node, served by the referrals service, which owns people: register,
read, update, search, erase and export. Identifiers live only in the vault; events carry the
pseudonymous person_id and coded, non-identifying fields."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates
from nameko.timer import timer

from contracts.referrals.codes import (
    AGE_BANDS as AGE_BANDS,
)
from contracts.referrals.codes import (
    ERASURE_REASONS as ERASURE_REASONS,
)
from contracts.referrals.codes import (
    ETHNICITY as ETHNICITY,
)
from contracts.referrals.codes import (
    GENDERS as GENDERS,
)
from services.referrals.retention import PersonRetentionDuePayload
from shared import policy
from shared import vault as people_vault
from shared.aggregate import ReferenceRefused
from shared.auth import Forbidden, Principal
from shared.db import rows
from shared.events import NewEvent
from shared.web import BadRequest, NotFound, Text, context_of, route

# how often the key tables are swept after erasures whose own sweep was held up, or made where
# no sweep follows them (an offer's record destroyed by the node worker)
KEY_SWEEP_SECONDS = 60

log = logging.getLogger(__name__)


class ErasureReasonMustNotIdentify(ReferenceRefused):
    """An erasure's reason outlives the person's key: it must not repeat who they were."""


PEOPLE_READERS = policy.MAY_READ_PEOPLE
PEOPLE_WRITERS = policy.MAY_CHANGE_PEOPLE
BREAK_GLASS_HEADER = "X-Break-Glass-Reason"


def break_glass_reason(given: str) -> str:
    """A lead's reason for opening a record off their caseload, as it is kept in the audit
    trail: words of 10 to 500 printable characters, or a 422 naming the header."""
    reason = given.strip()
    if not 10 <= len(reason) <= 500:
        raise BadRequest(BREAK_GLASS_HEADER, "must be a reason of 10 to 500 characters")
    if not reason.isprintable():
        raise BadRequest(BREAK_GLASS_HEADER, "must be printable text (no control characters)")
    return reason


def age_band(date_of_birth: date, on: date) -> str:
    years = (
        on.year
        - date_of_birth.year
        - ((on.month, on.day) < (date_of_birth.month, date_of_birth.day))
    )
    return next(band for low, high, band in AGE_BANDS if low <= years <= high)


def postcode_district(postcode: str | None) -> str | None:
    """The outward code only (e.g. LS7): the most a report may know of where someone lives."""
    if not postcode:
        return None
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else None


def _text(max_length: int, **kw):
    return Text(validate=validate.Length(min=1, max=max_length), **kw)


class IdentifiersSchema(Schema):
    class Meta:
        unknown = RAISE

    full_name = _text(200)
    preferred_name = _text(200, allow_none=True)
    pronouns = _text(50, allow_none=True)
    date_of_birth = fields.Date()
    nhs_number = _text(20, allow_none=True)
    address = _text(500, allow_none=True)
    postcode = fields.String(
        allow_none=True,
        validate=validate.Regexp(
            r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$",
            error="must be a UK postcode, e.g. LS7 3HB",
        ),
    )
    phone = fields.String(
        allow_none=True,
        validate=validate.Regexp(
            r"^\+?[0-9 ()-]{7,20}$", error="must be a phone number of 7 to 20 digits"
        ),
    )
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    gp_practice = _text(200, allow_none=True)
    emergency_contact = _text(500, allow_none=True)
    communication_needs = _text(1000, allow_none=True)
    interpreter_language = _text(100, allow_none=True)

    @validates("nhs_number")
    def _nhs(self, value, **kwargs):
        if value is not None:
            try:
                people_vault.validate_nhs_number(value)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    @validates("date_of_birth")
    def _born(self, value, **kwargs):
        if value > datetime.now(UTC).date():
            raise ValidationError("cannot be in the future")
        if value < date(1900, 1, 1):
            raise ValidationError("must be after 1900-01-01")


class RegisterPersonBody(IdentifiersSchema):
    full_name = _text(200, required=True)
    date_of_birth = fields.Date(required=True)
    gender = fields.String(load_default="not_known", validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(load_default="not_stated", validate=validate.OneOf(ETHNICITY))


class UpdatePersonBody(IdentifiersSchema):
    gender = fields.String(validate=validate.OneOf(GENDERS))
    ethnicity = fields.String(validate=validate.OneOf(ETHNICITY))
    expected_version = fields.Integer(validate=validate.Range(min=1))


class ErasePersonBody(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(ERASURE_REASONS))
    reason = _text(500, required=True)


class SearchQuery(Schema):
    nhs_number = fields.String(validate=validate.Length(min=1, max=20))
    full_name = _text(200)
    date_of_birth = fields.Date()


class PersonOut(Schema):
    person_id = fields.String()
    version = fields.Integer()
    status = fields.String()
    identifiers = fields.Dict(allow_none=True)
    age_band = fields.String()
    gender = fields.String()
    ethnicity = fields.String()
    postcode_district = fields.String(allow_none=True)
    possible_duplicates = fields.List(fields.String())


class AuditEntry(Schema):
    """One entry of the audit trail: who read or changed what about a person, when, why."""

    id = fields.Integer()
    at = fields.AwareDateTime()
    service = fields.String()
    user_id = fields.String()
    role = fields.String()
    partner_id = fields.String()
    action = fields.String(
        validate=validate.OneOf(("read", "change", "search", "export", "erase", "break_glass"))
    )
    record_type = fields.String()
    record_id = fields.String(allow_none=True)
    person_id = fields.UUID(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields")
    reason = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    detail = fields.Dict(allow_none=True)


class IdentifiersVersion(Schema):
    version = fields.Integer()
    recorded_at = fields.AwareDateTime()
    identifiers = fields.Dict(metadata={"description": "The identifiers as this version held them"})


class PersonHistory(Schema):
    person_id = fields.String()
    status = fields.String(validate=validate.OneOf(("active", "erased")))
    versions = fields.List(
        fields.Nested(IdentifiersVersion), metadata={"description": "Oldest first"}
    )


class PeopleFound(Schema):
    people = fields.List(fields.String(), metadata={"description": "Person ids on this node"})


class ExportedEvent(Schema):
    stream_type = fields.String()
    stream_id = fields.String()
    version = fields.Integer()
    event_type = fields.String()
    occurred_at = fields.AwareDateTime()
    recorded_at = fields.AwareDateTime()
    actor_id = fields.String()
    actor_role = fields.String()
    payload = fields.Dict()


class PersonExport(Schema):
    """Subject access: everything this node holds about a person."""

    person = fields.Nested(PersonOut)
    exported_at = fields.AwareDateTime()
    records = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("referrals", "sessions", "safeguarding"))),
        values=fields.List(fields.Nested(ExportedEvent)),
        metadata={"description": "Each service's events about the person, in order"},
    )
    texts = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": 'Every sealed text about the person by id, opened (or "erased")'},
    )
    audit = fields.List(fields.Nested(AuditEntry))


def register_events(registry) -> None:
    class PersonRegistered(Schema):
        person_id = fields.UUID(required=True)
        age_band = fields.String(
            required=True, validate=validate.OneOf([band for _, _, band in AGE_BANDS])
        )
        gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
        ethnicity = fields.String(required=True, validate=validate.OneOf(ETHNICITY))
        postcode_district = fields.String(allow_none=True, validate=validate.Length(max=4))

    class PersonDetailsChanged(Schema):
        person_id = fields.UUID(required=True)
        # which identifiers changed, never their values
        changed = fields.List(
            fields.String(validate=validate.OneOf(people_vault.IDENTIFIER_FIELDS)), required=True
        )
        age_band = fields.String(allow_none=True)
        gender = fields.String(allow_none=True, validate=validate.OneOf(GENDERS))
        ethnicity = fields.String(allow_none=True, validate=validate.OneOf(ETHNICITY))
        postcode_district = fields.String(allow_none=True, validate=validate.Length(max=4))

    class PersonErased(Schema):
        person_id = fields.UUID(required=True)
        reason_code = fields.String(required=True, validate=validate.OneOf(ERASURE_REASONS))

    registry.register("PersonRegistered", PersonRegistered)
    registry.register("PersonDetailsChanged", PersonDetailsChanged)
    registry.register("PersonErased", PersonErased)
    registry.register("PersonRetentionDue", PersonRetentionDuePayload)


class Person:
    """A person's coded, non-identifying record, folded from their events."""

    stream_type = "person"

    def __init__(self, person_id: str, events):
        self.id = person_id
        self.version = 0
        self.coded: dict = {}
        self.is_erased = False
        for event in events:
            self.version = event.version
            if event.event_type == "PersonErased":
                self.is_erased = True
            else:
                self.coded.update(
                    {
                        k: v
                        for k, v in event.payload.items()
                        if k in ("age_band", "gender", "ethnicity", "postcode_district")
                        and v is not None
                    }
                )


class PeopleApi:
    """Mixed into the referrals service; expects `store`, `vault`, `audit`."""

    def _person(self, principal: Principal, person_id, request=None) -> Person:
        person_id = str(person_id)
        events = self.store.read_stream(Person.stream_type, person_id)
        if not events or events[0].partner_id != principal.partner_id:
            raise NotFound("no such person")
        self._may_see(principal, person_id, request)
        return Person(person_id, events)

    def _may_see(self, principal: Principal, person_id: str, request) -> None:
        """Peer workers see the people on their caseload; safeguarding leads may open any
        record of their partner by giving a reason (break-glass), which is audited."""
        if principal.role in ("team_lead", "partner_admin"):
            return
        if principal.role == "peer_worker" and self._on_caseload(principal, person_id):
            return
        reason = request.headers.get(BREAK_GLASS_HEADER) if request is not None else None
        if principal.role == "safeguarding_lead" and reason:
            reason = break_glass_reason(reason)
            from shared import metrics

            self.audit.record(
                principal,
                "break_glass",
                "person",
                person_id,
                person_id=person_id,
                reason=reason,
                request_id=request.peerlink_request_id,
            )
            metrics.BREAK_GLASS.labels(self.name).inc()
            return
        if principal.role == "safeguarding_lead":
            raise Forbidden(f"open this record with a reason in the {BREAK_GLASS_HEADER} header")
        raise Forbidden("this person is not on your caseload")

    def _on_caseload(self, principal: Principal, person_id: str) -> bool:
        with self.store.db.transaction() as cur:
            cur.execute(
                "SELECT 1 FROM referrals.referral_list WHERE person_id = %s AND worker_id = %s"
                " AND status IN ('allocated', 'active', 'on_hold')",
                (person_id, principal.user_id),
            )
            return cur.fetchone() is not None

    def _after_erasure(self, cur, person_id: str, principal: Principal, context) -> None:
        """What else an erasure changes, in its transaction (a referral's offer withdrawn, a
        partner it went to told); nothing by default."""

    def _person_out(self, person: Person, identifiers, duplicates=()) -> dict:
        erased = person.is_erased or identifiers is people_vault.ERASED
        return PersonOut().dump(
            {
                "person_id": person.id,
                "version": person.version,
                "status": "erased" if erased else "active",
                "identifiers": None if erased else identifiers,
                **person.coded,
                "possible_duplicates": [str(d) for d in duplicates],
            }
        )

    def _possible_duplicates(self, identifiers: dict) -> list[uuid.UUID]:
        """People registered here with the same NHS number, or full name and date of birth."""
        with self.store.db.transaction() as cur:
            found = set(
                self.vault.find_by_name_and_dob(
                    cur, identifiers["full_name"], identifiers["date_of_birth"]
                )
            )
            if identifiers.get("nhs_number"):
                found |= set(self.vault.find_by_nhs_number(cur, identifiers["nhs_number"]))
        return sorted(found, key=str)

    @staticmethod
    def _registration(person_id: str, body: dict) -> tuple[NewEvent, dict]:
        """A person's PersonRegistered event (coded fields only) and the identifiers for the
        vault, from a RegisterPersonBody."""
        coded = {k: body[k] for k in ("gender", "ethnicity")}
        identifiers = {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in body.items()
            if k not in coded
        }
        payload = {
            "person_id": person_id,
            "age_band": age_band(body["date_of_birth"], datetime.now(UTC).date()),
            **coded,
            "postcode_district": postcode_district(identifiers.get("postcode")),
        }
        return NewEvent("PersonRegistered", payload), identifiers

    @route(
        "POST",
        "/people",
        roles=PEOPLE_WRITERS,
        body=RegisterPersonBody,
        response=PersonOut,
        status=201,
        summary="Register a person (identifiers go to the vault)",
    )
    def register_person(self, request, principal, body):
        person_id = str(uuid.uuid4())
        event, identifiers = self._registration(person_id, body)
        duplicates = self._possible_duplicates(identifiers)
        self.store.append(
            Person.stream_type,
            person_id,
            0,
            [event],
            context_of(principal, request),
            within=lambda cur: self.vault.register(cur, person_id, identifiers),
        )
        person = Person(person_id, self.store.read_stream(Person.stream_type, person_id))
        return self._person_out(person, identifiers, duplicates)

    @route(
        "GET",
        "/people/<uuid:person_id>",
        roles=PEOPLE_READERS,
        response=PersonOut,
        summary="Read a person's identifiers (audited)",
    )
    def read_person(self, request, principal, person_id):
        person_id = str(person_id)
        person = self._person(principal, person_id, request)
        with self.store.db.transaction() as cur:
            identifiers = self.vault.read(cur, person_id)
            self.audit.record(
                principal,
                "read",
                "person",
                person_id,
                person_id=person_id,
                fields=sorted(identifiers) if isinstance(identifiers, dict) else [],
                request_id=request.peerlink_request_id,
                cur=cur,
            )
        return self._person_out(person, identifiers)

    @route(
        "POST",
        "/people/<uuid:person_id>",
        roles=PEOPLE_WRITERS,
        body=UpdatePersonBody,
        response=PersonOut,
        summary="Change a person's details (a new version, with history)",
    )
    def update_person(self, request, principal, person_id, body):
        person_id = str(person_id)
        person = self._person(principal, person_id, request)
        if person.is_erased:
            raise BadRequest("person_id", "an erased person's details cannot be changed")
        expected = body.pop("expected_version", None)
        if expected is not None and expected != person.version:
            from shared.eventstore import ConcurrencyError

            raise ConcurrencyError(person_id, expected, person.version)
        coded = {k: body.pop(k) for k in ("gender", "ethnicity") if k in body}
        changes = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in body.items()}
        if not changes and not coded:
            raise BadRequest("body", "names no change")
        payload = {"person_id": person_id, "changed": sorted(changes), **coded}
        if "date_of_birth" in changes:
            payload["age_band"] = age_band(body["date_of_birth"], datetime.now(UTC).date())
        if "postcode" in changes:
            payload["postcode_district"] = postcode_district(changes["postcode"])
        merged = {}

        def write(cur):
            merged.update(self.vault.update(cur, person_id, changes))

        self.store.append(
            Person.stream_type,
            person_id,
            person.version,
            [NewEvent("PersonDetailsChanged", payload)],
            context_of(principal, request),
            within=write,
        )
        return self._person_out(
            Person(person_id, self.store.read_stream(Person.stream_type, person_id)), merged
        )

    @route(
        "GET",
        "/people/<uuid:person_id>/history",
        roles=policy.MAY_READ_PERSON_HISTORY,
        response=PersonHistory,
        summary="Every version of a person's identifiers (audited)",
    )
    def person_history(self, request, principal, person_id):
        person_id = str(person_id)
        self._person(principal, person_id, request)
        with self.store.db.transaction() as cur:
            versions = self.vault.history(cur, person_id)
            self.audit.record(
                principal,
                "read",
                "person",
                person_id,
                person_id=person_id,
                fields=["history"],
                request_id=request.peerlink_request_id,
                cur=cur,
            )
        if versions is people_vault.ERASED:
            return {"person_id": person_id, "status": "erased", "versions": []}
        return {"person_id": person_id, "status": "active", "versions": versions}

    # a POST, so identifiers never travel in a URL (and so never reach an access log)
    @route(
        "POST",
        "/people/search",
        roles=policy.MAY_SEARCH_PEOPLE,
        body=SearchQuery,
        response=PeopleFound,
        summary="Find people by NHS number, or by full name and date of birth",
    )
    def search_people(self, request, principal, body):
        query = body
        if "nhs_number" in query:
            try:
                people_vault.validate_nhs_number(query["nhs_number"])
            except ValueError as error:
                raise BadRequest("nhs_number", str(error)) from None
        with self.store.db.transaction() as cur:
            if "nhs_number" in query:
                found = self.vault.find_by_nhs_number(cur, query["nhs_number"])
                by = ["nhs_number"]
            elif "full_name" in query and "date_of_birth" in query:
                found = self.vault.find_by_name_and_dob(
                    cur, query["full_name"], query["date_of_birth"]
                )
                by = ["full_name", "date_of_birth"]
            else:
                raise BadRequest(
                    "nhs_number", "give an NHS number, or full_name and date_of_birth together"
                )
            self.audit.record(
                principal,
                "search",
                "person",
                fields=by,
                request_id=request.peerlink_request_id,
                detail={"found": len(found)},
                cur=cur,
            )
        # only this partner's people (the vault is the node's own)
        return {"people": [str(p) for p in found]}

    @route(
        "POST",
        "/people/<uuid:person_id>/erasure",
        roles=policy.MAY_ERASE_PEOPLE,
        body=ErasePersonBody,
        response=PersonOut,
        summary="Erase a person: their key is destroyed, their anonymous history stays",
    )
    def erase_person(self, request, principal, person_id, body):
        person_id = str(person_id)
        person = self._person(principal, person_id, request)
        if person.is_erased:
            return self._person_out(person, people_vault.ERASED)
        context = context_of(principal, request)

        def shred(cur):
            try:
                self.vault.erase(cur, person_id, body["reason"])
            except ValueError as error:
                # the reason is kept after erasure, so it may not identify the person
                raise ErasureReasonMustNotIdentify("reason", str(error)) from None
            self.audit.record(
                principal,
                "erase",
                "person",
                person_id,
                person_id=person_id,
                reason=body["reason_code"],
                request_id=request.peerlink_request_id,
                cur=cur,
            )
            self._after_erasure(cur, person_id, principal, context)

        self.store.append(
            Person.stream_type,
            person_id,
            person.version,
            [
                NewEvent(
                    "PersonErased", {"person_id": person_id, "reason_code": body["reason_code"]}
                )
            ],
            context,
            within=shred,
        )
        # committed: now no old row version may keep the key (docs/erasure.md)
        self._sweep_key_tables()
        return self._person_out(
            Person(person_id, self.store.read_stream(Person.stream_type, person_id)),
            people_vault.ERASED,
        )

    def _sweep_key_tables(self) -> bool:
        try:
            with self.store.db.autocommit() as conn:
                return self.vault.sweep(conn)
        except Exception:  # noqa: BLE001 - the erasure stands; the sweep stays due for the timer
            log.exception("the vault's key tables could not be swept; the sweep stays due")
            return False

    @timer(interval=KEY_SWEEP_SECONDS)
    def sweep_key_tables(self):
        """Sweeps the vault's key tables when an erasure's sweep is still due."""
        self._sweep_key_tables()

    @route(
        "GET",
        "/people/<uuid:person_id>/export",
        roles=policy.MAY_EXPORT_PEOPLE,
        response=PersonExport,
        summary="Subject access: everything this node holds about a person, as one document",
    )
    def export_person(self, request, principal, person_id):
        person_id = str(person_id)
        person = self._person(principal, person_id, request)
        with self.store.db.transaction() as cur:
            identifiers = self.vault.read(cur, person_id)
            self.audit.record(
                principal,
                "export",
                "person",
                person_id,
                person_id=person_id,
                request_id=request.peerlink_request_id,
                cur=cur,
            )
            records = {}
            for schema in ("referrals", "sessions", "safeguarding"):
                cur.execute(
                    f"SELECT stream_type, stream_id, version, event_type, occurred_at,"
                    f" recorded_at, actor_id, actor_role, payload FROM {schema}.events"
                    # their own events, and the events of streams they appear in that name
                    # nobody (a group session's start, not another member's attendance)
                    f" WHERE payload->>'person_id' = %s OR (payload->>'person_id' IS NULL"
                    f"   AND (stream_type, stream_id) IN ("
                    f"     SELECT stream_type, stream_id FROM {schema}.events"
                    f"     WHERE payload->>'person_id' = %s))"
                    f" ORDER BY position",
                    (person_id, person_id),
                )
                records[schema] = rows(cur)
            texts = self._texts_of(cur, person_id)
        total, trail = self.audit.for_person(person_id, 10_000, 0)
        return {
            "person": self._person_out(person, identifiers),
            "exported_at": datetime.now(UTC),
            "records": records,
            "texts": texts,
            "audit": trail,
        }

    def _texts_of(self, cur, person_id: str) -> dict[str, str]:
        """Every sealed text about the person (session notes, plan goals), opened."""
        cur.execute(
            "SELECT text_id FROM vault.sensitive_texts WHERE person_id = %s ORDER BY text_id",
            (person_id,),
        )
        texts = {}
        for (text_id,) in cur.fetchall():
            text = self.vault.open_text(cur, text_id)
            texts[str(text_id)] = "erased" if text is people_vault.ERASED else text
        return texts
