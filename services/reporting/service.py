"""The alliance hub's reporting service: reports from the hub's facts, published on the grid as
at published cut-offs."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from marshmallow import ValidationError
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from psycogreen.eventlet import patch_psycopg
from werkzeug.wrappers import Response

from services.reporting import dashboard, reports
from services.reporting.cutoffs import Cutoffs, NothingPublished
from services.reporting.freshness import complete_up_to, positions
from services.reporting.grid import (
    FINANCIAL_YEAR_STARTS,
    GRID,
    GROUPINGS,
    financial_year_of,
)
from services.reporting.projections import SCHEMA
from services.reporting.schemas import (
    Cutoff,
    CutoffList,
    DashboardQuery,
    Freshness,
    PeriodQuery,
    ReferralsReport,
    ReportList,
    ReportOut,
    ReportQuery,
)
from services.reporting.settings import ReportingSettings
from shared import policy
from shared.config import PARTNERS, Settings
from shared.db import Database
from shared.service import Described, NodeSettings, check_health
from shared.settings import settings_of
from shared.web import Health, NotFound, Verifier, instance_of, route

patch_psycopg()
log = logging.getLogger(__name__)

# how often the schedule looks whether today's cut-off is published yet
SCHEDULE_SECONDS = 30


class HubDatabase(DependencyProvider):
    def setup(self):
        self.settings = Settings.from_environment("reporting")
        self.db = Database(self.settings.database_url, maxconn=5, application_name="reporting")

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.db


class Disclosure(DependencyProvider):
    """The disclosure policy, read once (settings.py): the service refuses to start without its
    rounding key."""

    def setup(self):
        self.policy = settings_of(ReportingSettings).policy()

    def get_dependency(self, worker_ctx):
        return self.policy


ANALYSTS = policy.MAY_READ_REPORTS


class ReportingService(Described):
    """Alliance-wide monitoring reports for commissioners and the provider alliance."""

    name = "reporting"
    db = HubDatabase()
    # not `settings`: the HTTP edge takes a service with `settings` for a partner's node and
    # would refuse every other partner's analysts (shared/web.py, _require_own_node)
    hub_settings = NodeSettings()
    verifier = Verifier()
    disclosure = Disclosure()

    @route(
        "GET",
        "/health",
        public=True,
        response=Health,
        summary="Check the database and the broker (503 when either is down)",
    )
    def health(self, request, principal):
        return check_health(self.db, self.hub_settings.amqp_url)

    @timer(interval=SCHEDULE_SECONDS, eager=True)
    def publish_on_schedule(self):
        """The first cut-off of each day (UTC) is published by the schedule, the first time
        as the service starts."""
        try:
            with self.db.transaction() as cur:
                published = Cutoffs(cur).publish_daily()
            if published is not None:
                log.info("published the cut-off of %s", published.isoformat())
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("publishing today's cut-off failed")

    @route(
        "GET",
        "/internal/referral-counts",
        roles=policy.MAY_READ_INTERNAL_COUNTS,
        query=PeriodQuery,
        response=ReferralsReport,
        summary="Read the live, unsuppressed referral counter (hub services only, never published)",
    )
    def referral_counts(self, request, principal, query):
        clauses, params = [], []
        if query["partner"]:
            clauses.append("partner_id = ANY(%s)")
            params.append(query["partner"])
        if query["start"]:
            clauses.append("month >= date_trunc('month', %s::date)")
            params.append(query["start"])
        if query["end"]:
            clauses.append("month <= %s")
            params.append(query["end"])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT partner_id, source, month, referrals FROM {SCHEMA}.referrals_by_month"
                f" {where} ORDER BY month, partner_id, source",
                params,
            )
            rows = [
                dict(zip(("partner_id", "source", "month", "referrals"), r, strict=True))
                for r in cur.fetchall()
            ]
        return instance_of(ReferralsReport).dump({"rows": rows})

    @route("GET", "/reports", roles=ANALYSTS, response=ReportList, summary="List the reports")
    def list_reports(self, request, principal):
        return {
            "reports": [
                {"name": name, "summary": (fn.__doc__ or "").strip().split("\n")[0] or name}
                for name, fn in reports.REPORTS.items()
            ],
            "query": "partner (one, or none: the alliance), from and to (on the grid), as_at (a"
            " published cut-off), format=json|csv",
            "grid": GRID,
            "groupings": list(GROUPINGS),
        }

    @route(
        "GET",
        "/reports/cutoffs",
        roles=policy.MAY_READ_CUTOFFS,
        response=CutoffList,
        summary="List the published cut-offs, latest first: the moments reports are as at",
    )
    def list_cutoffs(self, request, principal):
        with self.db.transaction() as cur:
            return {"cutoffs": Cutoffs(cur).listed()}

    @route(
        "POST",
        "/reports/cutoffs",
        roles=policy.MAY_PUBLISH_CUTOFFS,
        response=Cutoff,
        status=201,
        summary="Record a cut-off now: the figures as they stand are published as at it, for good",
    )
    def publish_cutoff(self, request, principal):
        with self.db.transaction() as cur:
            cutoffs = Cutoffs(cur)
            return cutoffs.one(cutoffs.publish("operator"))

    @route(
        "GET",
        "/reports/<string:name>",
        roles=ANALYSTS,
        query=ReportQuery,
        response=ReportOut,
        summary="Read a report for a period of the grid and a partner (or the alliance), as at"
        " a published cut-off",
    )
    def report(self, request, principal, name, query):
        if name not in reports.REPORTS:
            raise NotFound(f"no report named {name}; GET /reports lists them")
        with self.db.transaction() as cur:
            cutoff = self._cutoff(cur, query.get("as_at"))
            period = query["period"] or financial_year_of(
                cutoff["cutoff_at"].astimezone(UTC).date()
            )
            scope = reports.Scope(tuple(query["partner"]), period, cutoff["cutoff_at"])
            body = reports.run(cur, name, scope, self.disclosure)
        body["complete_up_to"] = cutoff["complete_up_to"]
        if query["format"] == "csv":
            return Response(
                reports.as_csv(body),
                status=200,
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return body

    @staticmethod
    def _cutoff(cur, as_at: datetime | None) -> dict:
        """The cut-off asked for (the latest when none): 422 naming as_at when it is not one."""
        cutoffs = Cutoffs(cur)
        try:
            return cutoffs.one(as_at or cutoffs.latest())
        except NothingPublished as error:
            if as_at is None:
                raise NotFound(str(error)) from None
            raise ValidationError(str(error), "as_at") from None

    @route(
        "GET",
        "/dashboard",
        roles=ANALYSTS,
        query=DashboardQuery,
        media="text/html",
        summary="The alliance dashboard: main figures per partner and month, as a web page",
    )
    def dashboard(self, request, principal, query):
        with self.db.transaction() as cur:
            cutoff = self._cutoff(cur, query.get("as_at"))
            as_at = cutoff["cutoff_at"]
            if query["year"] is None:
                year = financial_year_of(as_at.astimezone(UTC).date())
            else:
                year = financial_year_of(date(query["year"], FINANCIAL_YEAR_STARTS, 1))
            scope = reports.Scope(tuple(query["partner"]), year, as_at)
            bodies = {
                name: reports.run(cur, name, scope, self.disclosure)
                for name in ("referrals", "sessions", "attendance", "wellbeing", "contacts")
            }
        page = dashboard.render(
            partners=list(query["partner"]) or list(PARTNERS),
            months=year.months(),
            as_at=as_at.isoformat(timespec="seconds"),
            year=year.label,
            disclosure=self.disclosure.as_dict(),
            **bodies,
        )
        return Response(page, status=200, content_type="text/html; charset=utf-8")

    @route(
        "GET",
        "/reports/freshness",
        roles=policy.MAY_READ_REPORT_FRESHNESS,
        response=Freshness,
        summary="Read how complete the hub's picture of each partner is (exact positions in"
        " each store for operators)",
    )
    def freshness(self, request, principal):
        with self.db.transaction() as cur:
            complete = complete_up_to(cur)
            try:
                latest = Cutoffs(cur).latest()
            except NothingPublished:
                latest = None
            answer = {
                "partners": {p: {"complete_up_to": d} for p, d in complete.items()},
                "latest_cutoff": latest,
            }
            if principal.role in policy.MAY_READ_SOURCE_POSITIONS:
                answer["sources"] = positions(cur)
        return answer
