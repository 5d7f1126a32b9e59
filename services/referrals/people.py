"""The people API of a node, served by the referrals service, which owns people: register,
read, update, search, erase and export. Identifiers live only in the vault; events carry the
pseudonymous person_id and coded, non-identifying fields."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime

from nameko.timer import timer

from services.referrals import queries
from services.referrals.access import ReferralAccess, today
from services.referrals.api_people import (
    ErasePersonBody,
    PeopleFound,
    PersonExport,
    PersonHistory,
    PersonOut,
    RegisterPersonBody,
    SearchQuery,
    UpdatePersonBody,
)
from services.referrals.domain import ErasureReasonMustNotIdentify, Person, registration
from shared import metrics, policy
from shared import vault as people_vault
from shared.auth import Forbidden, Principal
from shared.events import RecordedEvent
from shared.web import BadRequest, NotFound, context_of, instance_of, route

# how often the key tables are swept after erasures whose own sweep was held up, or made where
# no sweep follows them (an offer's record destroyed by the node worker)
KEY_SWEEP_SECONDS = 60

log = logging.getLogger(__name__)

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


class PeopleApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `vault`, `audit`, `name`."""

    def _person(
        self, principal: Principal, person_id, request=None
    ) -> tuple[Person, list[RecordedEvent]]:
        def visible(person: Person, history: list[RecordedEvent]) -> None:
            if history[0].partner_id != principal.partner_id:
                raise NotFound("no such person")
            self._may_see(principal, person.id, request)

        return self.commands.load(Person, str(person_id), missing="no such person", visible=visible)

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
            return queries.is_on_caseload(cur, person_id, principal.user_id)

    def _after_erasure(self, cur, person_id: str, principal: Principal, context) -> None:
        """What else an erasure changes, in its transaction (a referral's offer withdrawn, a
        partner it went to told); nothing by default."""

    def _person_out(self, person: Person, identifiers, duplicates=()) -> dict:
        erased = person.is_erased or identifiers is people_vault.ERASED
        return instance_of(PersonOut).dump(
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
        person = Person(str(uuid.uuid4()))
        event, identifiers = registration(person.id, body, today())
        duplicates = self._possible_duplicates(identifiers)
        self.commands.apply(
            person,
            lambda person: person.decide([event]),
            context_of(principal, request),
            within=lambda cur: self.vault.register(cur, person.id, identifiers),
        )
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
        person, _ = self._person(principal, person_id, request)
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
        person, history = self._person(principal, person_id, request)
        if person.is_erased:
            raise BadRequest("person_id", "an erased person's details cannot be changed")
        coded = {k: body[k] for k in ("gender", "ethnicity") if k in body}
        changes = {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in body.items()
            if k not in coded and k != "expected_version"
        }
        merged = {}

        def change(person: Person):
            if not changes and not coded:
                raise BadRequest("body", "names no change")
            return person.change_details(changes, coded, today())

        def write(cur):
            merged.update(self.vault.update(cur, person_id, changes))

        self.commands.run(request, principal, person, history, body, change, within=write)
        return self._person_out(person, merged)

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
        person, history = self._person(principal, person_id, request)
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

        self.commands.run(
            request,
            principal,
            person,
            history,
            body,
            lambda person: person.erase(body["reason_code"]),
            within=shred,
            context=context,
        )
        # committed: now no old row version may keep the key (docs/erasure.md)
        self._sweep_key_tables()
        return self._person_out(person, people_vault.ERASED)

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
        person, _ = self._person(principal, person_id, request)
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
            records = {
                schema: queries.events_about(cur, schema, person_id)
                for schema in queries.NODE_SCHEMAS
            }
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
        texts = {}
        for text_id in queries.sealed_text_ids(cur, person_id):
            text = self.vault.open_text(cur, text_id)
            texts[str(text_id)] = "erased" if text is people_vault.ERASED else text
        return texts
