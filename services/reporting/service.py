"""The alliance hub's reporting service: reports from the hub's projections."""

from __future__ import annotations

from marshmallow import Schema, fields, validate
from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg
from werkzeug.wrappers import Response

from services.reporting.projections import SCHEMA
from shared import metrics
from shared.config import Settings
from shared.db import Database
from shared.service import check_health
from shared.web import Secret, openapi_document, route

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
    auth_secret = Secret()

    @route("GET", "/health", public=True, summary="Check the database and the broker")
    def health(self, request, principal):
        return check_health(self.db, Settings.from_environment("reporting").amqp_url)

    @route("GET", "/metrics", roles=("operator", "service"), summary="Read Prometheus metrics")
    def metrics(self, request, principal):
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @route("GET", "/openapi.json", public=True, summary="Read this API's OpenAPI document")
    def openapi(self, request, principal):
        return openapi_document(type(self), "Peerlink reporting")

    @route(
        "GET",
        "/reports/referrals",
        roles=("alliance_analyst",),
        response=ReferralsReport,
        summary="Read referrals received by partner, source and month",
    )
    def referrals(self, request, principal):
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
