"""Rebuilding the hub's projections from nothing, from the partners' event feeds, gives the same
tables as the live ones, which were built from events delivered over RabbitMQ: the same facts in
their hub shape, each counted in the same published cut-off."""

from __future__ import annotations

import io

import psycopg2
import pytest

from deploy.migrations import migrate_hub
from services.reporting.rebuild import rebuild
from shared.config import feed_urls
from shared.consumer import HttpFeed
from shared.db import Database
from tests.e2e.test_reports import Api, wait_until_hub_has_read_everything

pytestmark = pytest.mark.e2e

TABLES = {
    "facts": "SELECT partner_id, stream_type, stream_id, version, position, event_type,"
    " fields::text, cutoff_at FROM reporting.facts ORDER BY 1, 2, 3, 4",
    "referrals_by_month": "SELECT * FROM reporting.referrals_by_month ORDER BY 1, 2, 3",
}


def tables(dsn: str) -> dict[str, list]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            found = {}
            for name, sql in TABLES.items():
                cur.execute(sql)
                found[name] = cur.fetchall()
            return found
    finally:
        conn.close()


def copy_cutoffs(source: str, target: str) -> None:
    with psycopg2.connect(source) as conn, conn.cursor() as cur:
        cur.execute("SELECT cutoff_at, published_by, complete_up_to::text FROM reporting.cutoffs")
        rows = cur.fetchall()
    conn.close()
    with psycopg2.connect(target) as conn, conn.cursor() as cur:
        for row in rows:
            cur.execute("INSERT INTO reporting.cutoffs VALUES (%s, %s, %s::jsonb)", row)
    conn.close()


def test_a_rebuild_from_nothing_equals_the_live_projections(
    endpoints, auth, token, stack_state, fresh_database
):
    hub = Api(endpoints["hub"]["reporting"], auth("alliance_analyst", "alliance"))
    wait_until_hub_has_read_everything(endpoints, auth, hub)
    live = tables(stack_state["owner_dsn"]["peerlink_hub"])
    assert live["facts"], "the live hub has facts to compare"

    migrate_hub(fresh_database, app_role="PUBLIC")
    # the cut-offs published stay through a rebuild: each fact is counted in the first at or
    # after the moment it was recorded
    copy_cutoffs(stack_state["owner_dsn"]["peerlink_hub"], fresh_database)
    urls = feed_urls(endpoints)
    feed = HttpFeed(urls, lambda source: token("service", source.split("/")[0]))
    db = Database(fresh_database, maxconn=2)
    out = io.StringIO()
    try:
        rate = rebuild(db, feed, sorted(urls), out=out)
    finally:
        db.close()
    assert rate > 0
    assert (
        f"rebuilt from {len(live['facts']):,} events" in out.getvalue()
        or "rebuilt" in out.getvalue()
    )
    rebuilt = tables(fresh_database)
    assert rebuilt["referrals_by_month"] == live["referrals_by_month"]
    assert rebuilt["facts"] == live["facts"]
