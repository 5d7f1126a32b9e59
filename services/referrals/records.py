"""Reading referrals: the partner's list (filtered and paged, with names opened on request), a
referral with its sealed words, its history as its events, what is still open for its person,
caseloads, and a person's audit trail. Every read of a person's record is audited."""

from __future__ import annotations

from services.referrals import queries
from services.referrals.access import ReferralAccess, today
from services.referrals.api import (
    REFERRAL_FIELDS,
    AuditQuery,
    AuditTrail,
    Caseloads,
    ListQuery,
    ReferralHistory,
    ReferralOut,
    ReferralPage,
    referral_out,
)
from services.referrals.casework import with_open_items
from services.referrals.domain import Referral
from shared import policy
from shared.commands import respond
from shared.service import history_of
from shared.vault import ERASED
from shared.web import route

READERS = policy.MAY_READ_REFERRALS


class RecordsApi(ReferralAccess):
    """Mixed into the referrals service; expects `store`, `config`, `vault`, `audit`,
    `open_items`."""

    @route(
        "GET",
        "/referrals",
        roles=READERS,
        query=ListQuery,
        response=ReferralPage,
        summary="List referrals, filtered and paged",
    )
    def list(self, request, principal, query):
        # a peer worker lists their own caseload
        own = principal.user_id if principal.role == "peer_worker" else None
        with self.store.db.transaction() as cur:
            total, items = queries.referral_page(
                cur, principal.partner_id, query, today(), worker_id=own
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
            item["is_first_contact_overdue"] = queries.is_first_contact_overdue(item, today())
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
        referral, _ = self._referral(principal, referral_id)
        self.commands.audit_read(
            request,
            principal,
            referral,
            referral.details.get("person_id"),
            REFERRAL_FIELDS,
        )
        with self.store.db.transaction() as cur:
            texts = self._open_texts(cur, referral.text_ids)
            reasons = self._open_texts(
                cur, {str(c["reason_text_id"]): c["reason_text_id"] for c in referral.corrections}
            )
        corrections = [
            {**c, "reason": reasons.get(str(c["reason_text_id"]))} for c in referral.corrections
        ]
        return respond(referral, referral_out(referral, texts=texts, corrections=corrections))

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
        referral, events = self._referral(principal, referral_id)
        self.commands.audit_read(
            request, principal, referral, referral.details.get("person_id"), ["history"]
        )
        text_ids = {str(c["reason_text_id"]): c["reason_text_id"] for c in referral.corrections} | {
            t: t for t in referral.text_ids.values()
        }
        with self.store.db.transaction() as cur:
            texts = self._open_texts(cur, text_ids)
        # each event's sealed words opened beside it, by text id
        return {"referral_id": referral_id, "events": history_of(events), "texts": texts}

    @route(
        "GET",
        "/referrals/<string:referral_id>/open-items",
        roles=READERS,
        response=ReferralOut,
        summary="What is still open for the referral's person: future sessions, open plans",
    )
    def read_open_items(self, request, principal, referral_id):
        referral, _ = self._referral(principal, referral_id)
        items, warnings = self.open_items.of(request, referral.details["person_id"])
        return with_open_items(respond(referral, referral_out(referral)), items, warnings)

    @route(
        "GET",
        "/caseloads",
        roles=policy.MAY_READ_CASELOADS,
        response=Caseloads,
        summary="Caseload size per worker, with the caseload cap",
    )
    def caseloads(self, request, principal):
        with self.store.db.transaction() as cur:
            rows = queries.caseloads(cur, principal.partner_id)
        cap = self.config.caseload_cap
        return {
            "caseload_cap": cap,
            "workers": [{"worker_id": w, "caseload": n, "is_over_cap": n >= cap} for w, n in rows],
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
