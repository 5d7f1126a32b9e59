"""What a long-running part of a process says while its database is away, and what the HTTP
edge documents for it (no servers)."""

from __future__ import annotations

import psycopg2
import pytest

from services.referrals.service import ReferralsService
from shared import metrics
from shared.db import DatabaseUnavailable, Reachability, is_database_error
from shared.web import openapi_document

pytestmark = pytest.mark.unit


def outages(component: str) -> float:
    return metrics.DATABASE_OUTAGES.labels(component)._value.get()


def up(component: str) -> float:
    return metrics.DATABASE_UP.labels(component)._value.get()


def test_an_outage_is_counted_once_however_often_it_is_met_and_ends_when_reached():
    # given a part that reaches its database
    watch = Reachability("test-outage-part")
    before = outages("test-outage-part")
    assert watch.check() == "ok" and up("test-outage-part") == 1
    # when it fails for want of the database, again and again
    watch.failed(psycopg2.OperationalError("connection refused"))
    watch.failed(psycopg2.OperationalError("connection refused"))
    # then one outage, reported while it lasts
    assert outages("test-outage-part") == before + 1
    assert up("test-outage-part") == 0
    assert watch.is_down
    assert watch.check().startswith("unavailable: database (OperationalError) since ")
    # when it reaches the database again
    watch.reached()
    assert watch.check() == "ok" and up("test-outage-part") == 1
    # then a later failure is a new outage
    watch.failed(DatabaseUnavailable("the database connection broke"))
    assert outages("test-outage-part") == before + 2


@pytest.mark.parametrize(
    ("error", "is_outage"),
    [
        (psycopg2.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg2.InterfaceError("connection already closed"), True),
        (DatabaseUnavailable("cannot connect"), True),
        (psycopg2.IntegrityError("duplicate key"), False),
        (psycopg2.ProgrammingError("syntax error"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_errors_of_a_database_away_count_as_an_outage(error, is_outage):
    assert is_database_error(error) is is_outage


def test_every_route_but_the_document_and_the_metrics_documents_503():
    document = openapi_document(ReferralsService, "Peerlink referrals")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = "503" in operation["responses"]
            assert documented is (path not in ("/openapi.json", "/metrics")), (method, path)
