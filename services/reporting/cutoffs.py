"""Published cut-offs: the moments reports are published as at.

Publishing a cut-off counts every fact the hub holds and has not counted yet in it, so the
figures as at a cut-off never change afterwards: a fact that arrives later (a partner's link was
down) is counted in the next one. The schedule publishes the first cut-off of each day (UTC);
an operator may publish one at any time. A report is asked for as at one of them, and no other
moment, so no two published figures differ by a moment of someone's life.
"""

from __future__ import annotations

import json
from datetime import datetime

from services.reporting.freshness import complete_up_to
from services.reporting.projections import SCHEMA

# one publisher at a time
_LOCK = 727275


class NothingPublished(LookupError):
    """No cut-off is published (yet), or not at the moment asked for."""


class Cutoffs:
    def __init__(self, cur):
        self.cur = cur

    def latest(self) -> datetime:
        self.cur.execute(f"SELECT max(cutoff_at) FROM {SCHEMA}.cutoffs")
        latest = self.cur.fetchone()[0]
        if latest is None:
            raise NothingPublished(
                "no cut-off is published yet: the first of each day is published within a"
                " minute of midnight (UTC), or an operator publishes one"
            )
        return latest

    def one(self, at: datetime) -> dict:
        self.cur.execute(
            f"SELECT cutoff_at, published_by, complete_up_to FROM {SCHEMA}.cutoffs"
            " WHERE cutoff_at = %s",
            (at,),
        )
        row = self.cur.fetchone()
        if row is None:
            raise NothingPublished(
                f"{at.isoformat()} is not a published cut-off: reports are published only as at"
                " one (GET /reports/cutoffs lists them)"
            )
        return _cutoff(row)

    def listed(self, limit: int = 400) -> list[dict]:
        self.cur.execute(
            f"SELECT cutoff_at, published_by, complete_up_to FROM {SCHEMA}.cutoffs"
            " ORDER BY cutoff_at DESC LIMIT %s",
            (limit,),
        )
        return [_cutoff(row) for row in self.cur.fetchall()]

    def publish(self, by: str) -> datetime:
        """A cut-off now, counting every fact held and not counted yet."""
        cur = self.cur
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        cur.execute(
            f"INSERT INTO {SCHEMA}.cutoffs (cutoff_at, published_by, complete_up_to)"
            " VALUES (clock_timestamp(), %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING cutoff_at",
            (by, json.dumps(complete_up_to(cur))),
        )
        row = cur.fetchone()
        if row is None:
            return self.latest()
        cur.execute(f"UPDATE {SCHEMA}.facts SET cutoff_at = %s WHERE cutoff_at IS NULL", (row[0],))
        return row[0]

    def publish_daily(self) -> datetime | None:
        """Today's first cut-off, unless one is published today already."""
        self.cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM {SCHEMA}.cutoffs"
            " WHERE cutoff_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
        )
        if self.cur.fetchone()[0]:
            return None
        return self.publish("schedule")


def _cutoff(row) -> dict:
    at, by, complete = row
    return {"cutoff_at": at, "published_by": by, "complete_up_to": complete}
