"""A person's outcomes over HTTP: the outcome measures they complete (recorded, voided, read
with the change from first to latest), their timeline of everything recorded about them, and
the measures due on a worker's open caseload."""

from __future__ import annotations

from datetime import timedelta

from contracts.sessions import measures
from services.sessions import queries
from services.sessions.api import MeasuresDueQuery, RecordMeasureBody, TimelineQuery, VoidBody
from services.sessions.api_answers import MeasuresDue, PersonMeasuresOut, Timeline
from services.sessions.domain import PersonMeasures, measure_within_the_referral
from services.sessions.routes import READERS, WRITERS, SessionsRoutes, today
from shared.auth import Forbidden
from shared.commands import respond
from shared.web import NotFound, route


def measures_body(series: PersonMeasures) -> dict:
    """A person's measures as the routes answer them, with the change of each measure taken
    twice or more."""
    body = series.as_dict()
    changes = {}
    for code in sorted({t.measure for t in series.taken}):
        change = series.change(code)
        if change is not None:
            changes[code] = {
                "first": {"taken_on": change.first.taken_on, "score": float(change.first.metric)},
                "latest": {
                    "taken_on": change.latest.taken_on,
                    "score": float(change.latest.metric),
                },
                "change": float(change.change),
                "threshold": float(change.threshold),
                "outcome": change.outcome,
                "is_meaningful": change.is_meaningful,
                "threshold_source": measures.measure(code).meaningful_change_source,
            }
    body["changes"] = changes
    body["measures_known"] = sorted(measures.MEASURES)
    return body


class OutcomesApi(SessionsRoutes):
    """Mixed into the sessions service."""

    def _series(self, person: str) -> tuple[PersonMeasures, list]:
        """The person's measures and their stream's history (none yet for a first measure)."""
        history = self.store.read_stream(PersonMeasures.stream_type, person)
        return PersonMeasures.fold(person, history), history

    @route(
        "POST",
        "/people/<string:person_id>/measures",
        roles=WRITERS,
        body=RecordMeasureBody,
        status=201,
        response=PersonMeasuresOut,
        summary="Record an outcome measure a person completed (e.g. SWEMWBS)",
    )
    def record_measure(self, request, principal, person_id, body):
        self._not_in_future(body["taken_on"], "taken_on")
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id, for_change=True)
            dates = self._referral_dates(cur, body.get("referral_id"))
        measure_within_the_referral(
            body["taken_on"],
            dates.get("referral_received_on"),
            dates.get("referral_first_contact_on"),
        )
        series, history = self._series(person)
        self.commands.run(
            request,
            principal,
            series,
            history,
            body,
            lambda series: series.record(
                measure=body["measure"],
                timepoint=body["timepoint"],
                answers=body["answers"],
                taken_on=body["taken_on"],
                today=today(),
                referral_id=body.get("referral_id"),
                by=principal.user_id,
                earliest=self.config.earliest_date,
            ),
        )
        return respond(series, measures_body(series), 201)

    @route(
        "POST",
        "/people/<string:person_id>/measures/<string:number>/void",
        roles=WRITERS,
        body=VoidBody,
        response=PersonMeasuresOut,
        summary="Void an outcome measure recorded in error, saying why: it leaves the series",
    )
    def void_measure(self, request, principal, person_id, number, body):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
        series, history = self._series(person)
        if not number.isdigit() or not series.is_standing(int(number)):
            raise NotFound("no such measure")
        self.commands.run(
            request,
            principal,
            series,
            history,
            body,
            lambda series: series.void(
                number=int(number), reason=body["reason"], by=principal.user_id
            ),
        )
        return respond(series, measures_body(series))

    @route(
        "GET",
        "/people/<string:person_id>/measures",
        roles=READERS,
        response=PersonMeasuresOut,
        summary="A person's outcome measures, and first-to-latest change against the threshold",
    )
    def read_measures(self, request, principal, person_id):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
        series, _ = self._series(person)
        self.commands.audit_read(request, principal, series, person, ["measures"])
        return respond(series, measures_body(series))

    @route(
        "GET",
        "/people/<string:person_id>/timeline",
        roles=READERS,
        query=TimelineQuery,
        response=Timeline,
        summary="A person's timeline: sessions, attendance, groups, plans, measures, signposting",
    )
    def timeline(self, request, principal, person_id, query):
        with self.store.db.transaction() as cur:
            person = self._person_path(cur, principal, person_id)
            page = queries.timeline_page(cur, person, query)
        self.audit.record(
            principal,
            "read",
            "person",
            person,
            person_id=person,
            fields=["timeline"],
            request_id=request.peerlink_request_id,
        )
        return {"person_id": person, **page}

    @route(
        "GET",
        "/measures/due",
        roles=READERS,
        query=MeasuresDueQuery,
        response=MeasuresDue,
        summary="A worker's open caseload with each person's last measure and whether it is due",
    )
    def measures_due(self, request, principal, query):
        worker = query.get("worker_id") or principal.user_id
        if principal.role == "peer_worker" and worker != principal.user_id:
            raise Forbidden("a peer worker reads the measures due on their own caseload")
        since = today() - timedelta(days=query["every_days"])
        with self.store.db.transaction() as cur:
            found = queries.last_measured(cur, query["measure"], worker)
        items = [
            {
                "person_id": person,
                "referral_id": referral,
                "last_taken_on": last,
                "is_due": last is None or last < since,
            }
            for person, referral, last in found
        ]
        self._audit_search(request, principal, "person_measures", query, len(items))
        return {
            "worker_id": worker,
            "measure": query["measure"],
            "every_days": query["every_days"],
            "items": items,
        }
