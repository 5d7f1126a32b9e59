"""What the hub keeps of each partner event: the fields the hub-side allow-list names
(contracts/hub.py), in their hub shape, as one row per event, the facts table.

A field not named there is dropped on arrival, a person field that holds anything but a
pseudonym too. The hub keeps no timestamp of an event: each fact records instead the published
cut-off that first counted it (none until the next one is published), which is what a report
"as at" a cut-off counts, so a published figure never changes afterwards.

An erasure at a node arrives as a digest of the person's pseudonym and the pseudonym that
replaces it: the hub rewrites every fact that holds a pseudonym of that digest, and keeps the
digest (never the pseudonym) so that a fact of that person still on its way is rewritten when it
lands.
"""

from __future__ import annotations

import bisect
import io
import json

from contracts.hub import PERSON_FIELDS, PERSON_STREAMS, conform, pseudonym_digest
from shared.events import RecordedEvent

SCHEMA = "reporting"

FACTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.facts (
    partner_id   text NOT NULL,
    stream_type  text NOT NULL,
    -- the stream's pseudonym (the partner's key; the hub cannot undo it)
    stream_id    text NOT NULL,
    version      integer NOT NULL,
    -- the position in the partner store it came from: the order within that store
    position     bigint NOT NULL,
    event_type   text NOT NULL,
    fields       jsonb NOT NULL,
    -- the published cut-off that first counts it; NULL until the next one is published
    cutoff_at    timestamptz,
    PRIMARY KEY (partner_id, stream_type, stream_id, version)
);
CREATE INDEX IF NOT EXISTS facts_type ON {SCHEMA}.facts (event_type, partner_id);
"""

CUTOFFS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.cutoffs (
    cutoff_at       timestamptz PRIMARY KEY,
    -- 'schedule' (the first moments of each day) or 'operator'
    published_by    text NOT NULL,
    -- partner -> the last day the hub held everything of, when the cut-off was published
    complete_up_to  jsonb NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS facts_unpublished ON {SCHEMA}.facts (partner_id)
    WHERE cutoff_at IS NULL;
-- a digest of each pseudonym an erasure replaced (never the pseudonym), and what replaces it
CREATE TABLE IF NOT EXISTS {SCHEMA}.erased_pseudonyms (
    partner_id   text NOT NULL,
    digest       bytea NOT NULL,
    replacement  text NOT NULL,
    PRIMARY KEY (partner_id, digest)
);
"""

# below this many events a batch is one INSERT; from it, COPY through a staging table
COPY_FROM = 200
_STAGED = "partner_id, stream_type, stream_id, version, position, event_type, fields, cutoff_at"
_STAGING = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS facts_staging"
    f" (LIKE {SCHEMA}.facts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text.translate(_COPY_ESCAPES)


def digest(partner_id: str, pseudonym: str) -> bytes:
    return bytes.fromhex(pseudonym_digest(partner_id, pseudonym))


# a column's value's digest as pseudonym_digest makes it, in SQL
_DIGEST_OF = "encode(sha256(convert_to(partner_id || '/' || {}, 'UTF8')), 'hex')"


class HubFacts:
    """Every kept event as one row of named fields; the ground every report stands on."""

    name = "hub_facts"
    ddl = FACTS_DDL

    def __init__(self):
        # a rebuild from the feeds counts each fact in the first cut-off at or after the moment
        # it was recorded (the cut-offs were published before); live, a fact waits for the next
        self.restoring = False

    def apply(self, cur, event: RecordedEvent) -> None:
        self.apply_batch(cur, [event])

    def apply_batch(self, cur, events: list[RecordedEvent]) -> None:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING: a replay's
        pages land at COPY speed and a redelivered event changes nothing. A small batch (the
        broker's path) is one INSERT."""
        erasures = [e for e in events if e.event_type == "PersonErased" and e.payload]
        for event in erasures:
            self._erasure_known(cur, event)
        kept = [
            (event, fields)
            for event in events
            if (fields := conform(event.event_type, event.payload)) is not None
        ]
        if kept:
            self._insert(cur, self._rows(cur, kept))
        for event in erasures:
            self._erase(cur, event)

    def _rows(self, cur, kept: list[tuple[RecordedEvent, dict]]) -> list[tuple]:
        replaced = self._replacements(cur, kept)
        cutoffs = self._cutoffs(cur) if self.restoring else []
        rows = []
        for event, fields in kept:
            stream_id = event.stream_id
            if event.stream_type in PERSON_STREAMS:
                stream_id = replaced.get((event.partner_id, stream_id), stream_id)
            for name in PERSON_FIELDS.get(event.event_type, ()):
                if fields.get(name) is not None:
                    fields[name] = replaced.get((event.partner_id, fields[name]), fields[name])
            cutoff = None
            if cutoffs:
                at = bisect.bisect_left(cutoffs, event.recorded_at)
                cutoff = cutoffs[at] if at < len(cutoffs) else None
            rows.append(
                (
                    event.partner_id,
                    event.stream_type,
                    stream_id,
                    event.version,
                    event.position,
                    event.event_type,
                    json.dumps(fields, separators=(",", ":")),
                    cutoff,
                )
            )
        return rows

    @staticmethod
    def _cutoffs(cur) -> list:
        cur.execute(f"SELECT cutoff_at FROM {SCHEMA}.cutoffs ORDER BY cutoff_at")
        return [row[0] for row in cur.fetchall()]

    @staticmethod
    def _replacements(cur, kept) -> dict[tuple[str, str], str]:
        """(partner, pseudonym) -> its replacement, for the erased people these facts name."""
        named = set()
        for event, fields in kept:
            if event.stream_type in PERSON_STREAMS:
                named.add((event.partner_id, event.stream_id))
            for name in PERSON_FIELDS.get(event.event_type, ()):
                if fields.get(name) is not None:
                    named.add((event.partner_id, fields[name]))
        if not named:
            return {}
        by_digest = {
            digest(partner, pseudonym): (partner, pseudonym) for partner, pseudonym in named
        }
        cur.execute(
            f"SELECT partner_id, digest, replacement FROM {SCHEMA}.erased_pseudonyms"
            " WHERE digest = ANY(%s)",
            (list(by_digest),),
        )
        replaced = {}
        for partner, found, replacement in cur.fetchall():
            key = by_digest.get(bytes(found))
            if key is not None and key[0] == partner:
                replaced[key] = replacement
        return replaced

    @staticmethod
    def _erasure_known(cur, event: RecordedEvent) -> None:
        cur.execute(
            f"INSERT INTO {SCHEMA}.erased_pseudonyms (partner_id, digest, replacement)"
            " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (
                event.partner_id,
                bytes.fromhex(event.payload["replaces"]),
                event.stream_id,
            ),
        )

    @staticmethod
    def _erase(cur, event: RecordedEvent) -> None:
        """Every fact (and dead letter) holding the erased person's pseudonym holds its
        replacement instead: the counts they made stay, the pseudonym goes."""
        named, new, partner = event.payload["replaces"], event.stream_id, event.partner_id
        fields = sorted({n for names in PERSON_FIELDS.values() for n in names})
        found = [
            f"SELECT stream_id FROM {SCHEMA}.facts WHERE partner_id = %s"
            f" AND stream_type = ANY(%s) AND {_DIGEST_OF.format('stream_id')} = %s"
        ]
        params: list = [partner, list(PERSON_STREAMS), named]
        for name in fields:
            types = [t for t, names in PERSON_FIELDS.items() if name in names]
            found.append(
                f"SELECT fields->>%s FROM {SCHEMA}.facts WHERE event_type = ANY(%s)"
                f" AND partner_id = %s AND {_DIGEST_OF.format('(fields->>%s)')} = %s"
            )
            params += [name, types, partner, name, named]
        cur.execute(" UNION ".join(found), params)
        for (old,) in cur.fetchall():
            if old == new:
                continue
            cur.execute(
                f"UPDATE {SCHEMA}.facts SET stream_id = %s"
                " WHERE partner_id = %s AND stream_type = ANY(%s) AND stream_id = %s",
                (new, partner, list(PERSON_STREAMS), old),
            )
            for name in fields:
                types = [t for t, names in PERSON_FIELDS.items() if name in names]
                cur.execute(
                    f"UPDATE {SCHEMA}.facts SET fields = jsonb_set(fields, %s, to_jsonb(%s::text))"
                    " WHERE event_type = ANY(%s) AND partner_id = %s AND fields->>%s = %s",
                    ([name], new, types, partner, name, old),
                )
            cur.execute(
                f"UPDATE {SCHEMA}.dead_letters"
                " SET envelope = replace(envelope::text, %s, %s)::jsonb"
                " WHERE strpos(envelope::text, %s) > 0",
                (old, new, old),
            )

    @staticmethod
    def _insert(cur, rows: list[tuple]) -> None:
        if len(rows) < COPY_FROM:
            values = ", ".join(
                cur.mogrify("(%s, %s, %s, %s, %s, %s, %s, %s)", row).decode() for row in rows
            )
            cur.execute(
                f"INSERT INTO {SCHEMA}.facts ({_STAGED}) VALUES {values} ON CONFLICT DO NOTHING"
            )
            return
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_text(value) for value in row))
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
