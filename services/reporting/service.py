"""The alliance hub's reporting service: reports from the hub's projections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg
from werkzeug.wrappers import Response

from services.reporting import dashboard, reports
from services.reporting.projections import CONSUMER_NAME, SCHEMA
from services.reporting.schemas import (
    DashboardQuery,
    Freshness,
    PeriodQuery,
    ReferralsReport,
    ReportList,
    ReportOut,
    ReportQuery,
)
from services.reporting.suppression import Policy
from shared import policy
from shared.config import PARTNERS, Settings
from shared.db import Database
from shared.service import Described, check_health
from shared.web import Health, NotFound, Verifier, route

patch_psycopg()


class HubDatabase(DependencyProvider):
    def setup(self):
        self.settings = Settings.from_environment("reporting")
        self.db = Database(self.settings.database_url, maxconn=5, application_name="reporting")

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.db


ANALYSTS = policy.MAY_READ_REPORTS


def freshness(cur) -> dict:
    cur.execute(
        f"SELECT source, position, applied_at FROM {SCHEMA}.consumer_checkpoints"
        " WHERE consumer = %s ORDER BY source",
        (CONSUMER_NAME,),
    )
    return {source: {"position": p, "applied_at": at} for source, p, at in cur.fetchall()}


class ReportingService(Described):
    """Alliance-wide monitoring reports for commissioners and the provider alliance."""

    name = "reporting"
    db = HubDatabase()
    verifier = Verifier()
    suppression = Policy.from_environment()

    @route(
        "GET",
        "/health",
        public=True,
        response=Health,
        summary="Check the database and the broker (503 when either is down)",
    )
    def health(self, request, principal):
        return check_health(self.db, Settings.from_environment("reporting").amqp_url)

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
        return ReferralsReport().dump({"rows": rows})

    @route("GET", "/reports", roles=ANALYSTS, response=ReportList, summary="List the reports")
    def list_reports(self, request, principal):
        return {
            "reports": [
                {"name": name, "summary": (fn.__doc__ or "").strip().split("\n")[0] or name}
                for name, fn in reports.REPORTS.items()
            ],
            "query": "partner (repeatable), from, to, as_at, format=json|csv",
        }

    @route(
        "GET",
        "/reports/<string:name>",
        roles=ANALYSTS,
        query=ReportQuery,
        response=ReportOut,
        summary="Read a report for a period and partners, as at a moment, suppressed",
    )
    def report(self, request, principal, name, query):
        if name not in reports.REPORTS:
            raise NotFound(f"no report named {name}; GET /reports lists them")
        scope = reports.Scope(
            partners=tuple(query["partner"]),
            start=query.get("from_"),
            end=query.get("to"),
            as_at=query.get("as_at") or datetime.now(UTC),
        )
        with self.db.transaction() as cur:
            body = reports.run(cur, name, scope, self.suppression)
            body["sources"] = freshness(cur)
        if query["format"] == "csv":
            return Response(
                reports.as_csv(body),
                status=200,
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return body

    @route(
        "GET",
        "/dashboard",
        roles=ANALYSTS,
        query=DashboardQuery,
        media="text/html",
        summary="The alliance dashboard: main figures per partner and month, as a web page",
    )
    def dashboard(self, request, principal, query):
        as_at = query.get("as_at") or datetime.now(UTC)
        end = as_at.date()
        start = (end.replace(day=1) - timedelta(days=31 * (query["months"] - 1))).replace(day=1)
        partners = list(query["partner"]) or list(PARTNERS)
        scope = reports.Scope(tuple(query["partner"]), start, end, as_at)
        with self.db.transaction() as cur:
            bodies = {
                name: reports.run(cur, name, scope, self.suppression)
                for name in ("referrals", "sessions", "attendance", "wellbeing")
            }
            bodies["contacts"] = reports.run(
                cur, "contacts", reports.Scope(scope.partners, None, None, as_at), self.suppression
            )
        page = dashboard.render(
            partners=partners,
            months=dashboard.months_between(start, end),
            as_at=as_at.isoformat(timespec="seconds"),
            suppression={"up_to": self.suppression.up_to},
            **bodies,
        )
        return Response(page, status=200, content_type="text/html; charset=utf-8")

    @route(
        "GET",
        "/reports/freshness",
        roles=policy.MAY_READ_REPORT_FRESHNESS,
        response=Freshness,
        summary="Read how far the hub has read each partner source, and when it last applied one",
    )
    def freshness(self, request, principal):
        with self.db.transaction() as cur:
            return {"sources": freshness(cur)}
