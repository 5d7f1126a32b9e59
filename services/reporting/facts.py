"""What the hub keeps of each partner event: the fields the hub-side schema names
(shared/hub_schema.py), as one row per event, the facts table.

A field not named there is dropped on arrival. Every report is computed from these facts, which
is also what lets a report be worked out "as at" a past moment: only facts recorded by then are
counted.
"""

from __future__ import annotations

import io
import json

from shared.events import RecordedEvent
from shared.hub_schema import kept_fields

SCHEMA = "reporting"

FACTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.facts (
    partner_id   text NOT NULL,
    stream_type  text NOT NULL,
    stream_id    text NOT NULL,
    version      integer NOT NULL,
    -- the position in the partner store it came from: the order within that store
    position     bigint NOT NULL,
    event_type   text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    fields       jsonb NOT NULL,
    -- when the hub applied it: a command's delay to the hub is applied_at - recorded_at
    applied_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (partner_id, stream_type, stream_id, version)
);
CREATE INDEX IF NOT EXISTS facts_type ON {SCHEMA}.facts (event_type, partner_id);
"""

# below this many events a batch is one INSERT; from it, COPY through a staging table
COPY_FROM = 200
_STAGED = (
    "partner_id, stream_type, stream_id, version, position, event_type, occurred_at,"
    " recorded_at, fields"
)
_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS facts_staging"
    f" (LIKE {SCHEMA}.facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value in COPY's text format."""
    return value.translate(_COPY_ESCAPES)


def _row(event: RecordedEvent) -> tuple | None:
    """An event's facts row in the order of _STAGED; None for a type the hub does not keep."""
    fields = kept_fields(event)
    if fields is None:
        return None
    return (
        event.partner_id,
        event.stream_type,
        event.stream_id,
        event.version,
        event.position,
        event.event_type,
        event.occurred_at,
        event.recorded_at,
        json.dumps(fields, separators=(",", ":")),
    )


def _text(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class HubFacts:
    """Every kept event as one row of named fields; the ground every report stands on."""

    name = "hub_facts"
    ddl = FACTS_DDL

    def apply(self, cur, event: RecordedEvent) -> None:
        self.apply_batch(cur, [event])

    def apply_batch(self, cur, events: list[RecordedEvent]) -> None:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING: a replay's
        pages land at COPY speed and a redelivered event changes nothing. A small batch (the
        broker's path) is one INSERT."""
        rows = [row for row in map(_row, events) if row is not None]
        if not rows:
            return
        if len(rows) < COPY_FROM:
            values = ", ".join(
                cur.mogrify("(%s, %s, %s, %s, %s, %s, %s, %s, %s)", row).decode() for row in rows
            )
            cur.execute(
                f"INSERT INTO {SCHEMA}.facts ({_STAGED}) VALUES {values} ON CONFLICT DO NOTHING"
            )
            return
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_text(_text(value)) for value in row))
            buffer.write("\n")
        cur.execute(_STAGING)
        buffer.seek(0)
        cur.copy_expert(f"COPY facts_staging ({_STAGED}) FROM STDIN", buffer)
        cur.execute(
            f"INSERT INTO {SCHEMA}.facts ({_STAGED}) SELECT {_STAGED} FROM facts_staging"
            " ON CONFLICT DO NOTHING; TRUNCATE facts_staging"
        )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.facts")
