"""The alliance hub's reporting service: reports from the hub's projections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg
from werkzeug.wrappers import Response

from services.reporting import dashboard, reports
from services.reporting.projections import CONSUMER_NAME, SCHEMA
from services.reporting.suppression import Policy
from shared import metrics, policy
from shared.config import PARTNERS, Settings
from shared.db import Database
from shared.service import check_health
from shared.web import NotFound, Verifier, openapi_document, route

patch_psycopg()


class HubDatabase(DependencyProvider):
    def setup(self):
        self.settings = Settings.from_environment("reporting")
        self.db = Database(self.settings.database_url, maxconn=5, application_name="reporting")

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.db


class PeriodQuery(Schema):
    partner = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list)
    start = fields.Date(load_default=None)
    end = fields.Date(load_default=None)


ANALYSTS = policy.MAY_READ_REPORTS


class ReportQuery(Schema):
    partner = fields.List(fields.String(validate=validate.OneOf(PARTNERS)), load_default=list)
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)
    as_at = fields.AwareDateTime(load_default=None)
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")


class DashboardQuery(Schema):
    partner = fields.List(fields.String(validate=validate.OneOf(PARTNERS)), load_default=list)
    months = fields.Integer(load_default=6, validate=validate.Range(min=1, max=24))
    as_at = fields.AwareDateTime(load_default=None)


def _with_partners(request, schema: type[Schema]) -> dict:
    """A query whose `partner` may be given more than once."""
    args = request.args
    return schema(unknown=RAISE).load(
        {
            **{k: v for k, v in args.items() if k != "partner"},
            **({"partner": args.getlist("partner")} if "partner" in args else {}),
        }
    )


def freshness(cur) -> dict:
    cur.execute(
        f"SELECT source, position, applied_at FROM {SCHEMA}.consumer_checkpoints"
        " WHERE consumer = %s ORDER BY source",
        (CONSUMER_NAME,),
    )
    return {source: {"position": p, "applied_at": at} for source, p, at in cur.fetchall()}


class ReferralsRow(Schema):
    partner_id = fields.String()
    source = fields.String()
    month = fields.Date()
    referrals = fields.Integer()


class ReferralsReport(Schema):
    rows = fields.List(fields.Nested(ReferralsRow))


class ReportingService:
    """Alliance-wide monitoring reports for commissioners and the provider alliance."""

    name = "reporting"
    db = HubDatabase()
    verifier = Verifier()
    suppression = Policy.from_environment()

    @route("GET", "/health", public=True, summary="Check the database and the broker")
    def health(self, request, principal):
        return check_health(self.db, Settings.from_environment("reporting").amqp_url)

    @route("GET", "/metrics", roles=policy.MAY_READ_METRICS, summary="Read Prometheus metrics")
    def metrics(self, request, principal):
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @route("GET", "/openapi.json", public=True, summary="Read this API's OpenAPI document")
    def openapi(self, request, principal):
        return openapi_document(type(self), "Peerlink reporting")

    @route(
        "GET",
        "/internal/referral-counts",
        roles=policy.MAY_READ_INTERNAL_COUNTS,
        response=ReferralsReport,
        summary="Read the live, unsuppressed referral counter (hub services only, never published)",
    )
    def referral_counts(self, request, principal):
        args = request.args
        query = PeriodQuery().load(
            {
                "partner": args.getlist("partner"),
                **{k: args[k] for k in ("start", "end") if k in args},
            }
        )
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

    @route("GET", "/reports", roles=ANALYSTS, summary="List the reports")
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
        summary="Read a report for a period and partners, as at a moment, suppressed",
    )
    def report(self, request, principal, name):
        if name not in reports.REPORTS:
            raise NotFound(f"no report named {name}; GET /reports lists them")
        query = _with_partners(request, ReportQuery)
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
        summary="The alliance dashboard: main figures per partner and month, as a web page",
    )
    def dashboard(self, request, principal):
        query = _with_partners(request, DashboardQuery)
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
        summary="How far the hub has read each partner source, and when it last applied one",
    )
    def freshness(self, request, principal):
        with self.db.transaction() as cur:
            return {"sources": freshness(cur)}
