"""Routes that read concerns: the lead's inbox (a worker's own concerns for anyone else), a
concern with its timeline and sealed words opened, its history as events, and the e-mail it
caused. Every read of a concern is audited; a search is audited with its filters."""

from __future__ import annotations

from services.safeguarding import queries
from services.safeguarding.api import (
    ConcernHistory,
    ConcernListQuery,
    ConcernNotifications,
    ConcernPage,
    ConcernRead,
)
from services.safeguarding.concerns import (
    MAY_LEAD_SAFEGUARDING,
    MAY_RAISE_CONCERNS,
    ConcernRoutes,
    is_lead,
)
from services.safeguarding.domain import Concern
from shared.events import RecordedEvent
from shared.service import history_of
from shared.vault import ERASED
from shared.web import route


class ReadingApi(ConcernRoutes):
    """Mixed into the safeguarding service."""

    @route(
        "GET",
        "/concerns",
        roles=MAY_RAISE_CONCERNS,
        query=ConcernListQuery,
        response=ConcernPage,
        summary="List concerns, open ones by deadline first (the lead's inbox)",
    )
    def list_concerns(self, request, principal, query):
        raised_by = None if is_lead(principal) else principal.user_id
        with self.store.db.transaction() as cur:
            total, items = queries.inbox(cur, principal.partner_id, query, raised_by)
        self.audit.record(
            principal,
            "search",
            Concern.stream_type,
            fields=sorted(query),
            request_id=request.peerlink_request_id,
            detail={"filters": {k: str(v) for k, v in query.items()}, "returned": len(items)},
        )
        return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}

    @route(
        "GET",
        "/concerns/<string:concern_id>",
        roles=MAY_RAISE_CONCERNS,
        response=ConcernRead,
        summary="Read a concern with its full timeline, sealed words opened; its ETag is the"
        " version every command takes as If-Match",
    )
    def read_concern(self, request, principal, concern_id):
        concern, events = self._concern(principal, concern_id)
        self.commands.audit_read(
            request, principal, concern, concern.person_id, ["concern", "timeline", "text"]
        )
        texts, timeline = self._timeline(concern, events)
        return self._answer(concern, texts=texts, timeline=timeline)

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

    def _open_texts(self, cur, payload: dict) -> dict:
        opened = {}
        for name, value in payload.items():
            if value and name.endswith("text_id"):
                text = self.vault.open_text(cur, value)
                opened[name.removesuffix("_id")] = "erased" if text is ERASED else text
        return opened

    @route(
        "GET",
        "/concerns/<string:concern_id>/history",
        roles=MAY_RAISE_CONCERNS,
        response=ConcernHistory,
        summary="Read a concern's history as its events",
    )
    def history(self, request, principal, concern_id):
        concern, events = self._concern(principal, concern_id)
        self.commands.audit_read(request, principal, concern, concern.person_id, ["history"])
        return {"concern_id": concern_id, "events": history_of(events)}

    @route(
        "GET",
        "/concerns/<string:concern_id>/notifications",
        roles=MAY_LEAD_SAFEGUARDING,
        response=ConcernNotifications,
        summary="The e-mail a concern has caused: each message and every attempt to send it",
    )
    def notifications(self, request, principal, concern_id):
        concern, _ = self._concern(principal, concern_id)
        self.commands.audit_read(request, principal, concern, concern.person_id, ["notifications"])
        with self.store.db.transaction() as cur:
            items = queries.notifications(cur, principal.partner_id, concern_id)
        return {"concern_id": concern_id, "items": items}
