"""How complete the hub's picture of each partner is.

Analysts are told, per partner, the last day the hub holds everything of: the day before the
last moment it had read every one of the partner's stores to its end. Operators see, besides,
how far the hub has read each store (its position) and when it last applied an event: exact
positions and times say how much a partner records and when (a safeguarding service's activity,
say), so nobody else is shown them.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from services.reporting.projections import CONSUMER_NAME, SCHEMA
from shared.config import NODE_SERVICES, PARTNERS, source_name

SOURCE_READS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.source_reads (
    source          text PRIMARY KEY,
    -- the last moment the hub's catch-up read this store's feed to its end
    read_to_end_at  timestamptz NOT NULL
);
"""


class SourceReads:
    """Told by the hub worker's catch-up each time it read a source's feed to its end."""

    def __init__(self, db):
        self.db = db

    def read_to_end(self, source: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.source_reads (source, read_to_end_at) VALUES (%s, now())"
                " ON CONFLICT (source) DO UPDATE SET read_to_end_at = excluded.read_to_end_at",
                (source,),
            )


def complete_up_to(cur) -> dict[str, str | None]:
    """partner -> the last day (ISO) the hub holds everything of; None until every one of the
    partner's stores has been read to its end once."""
    cur.execute(f"SELECT source, read_to_end_at FROM {SCHEMA}.source_reads")
    read = dict(cur.fetchall())
    complete = {}
    for partner in PARTNERS:
        moments = [read.get(source_name(partner, service)) for service in NODE_SERVICES]
        if any(moment is None for moment in moments):
            complete[partner] = None
        else:
            complete[partner] = (
                (min(moments).astimezone(UTC) - timedelta(days=1)).date().isoformat()
            )
    return complete


def positions(cur) -> dict[str, dict]:
    """source -> how far the hub has read it and when it last applied one of its events."""
    cur.execute(
        f"SELECT source, position, applied_at FROM {SCHEMA}.consumer_checkpoints"
        " WHERE consumer = %s ORDER BY source",
        (CONSUMER_NAME,),
    )
    return {source: {"position": p, "applied_at": at} for source, p, at in cur.fetchall()}
