"""The audit trail: who read or changed which record of a person, when, and why. Append-only:
the services' database role may insert and read it, never update or delete it."""

from __future__ import annotations

from collections.abc import Iterable

from psycopg2.extras import Json, execute_values

from shared.auth import Principal
from shared.db import Database, rows
from shared.events import RecordedEvent

SCHEMA = "audit"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.entries (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    service      text NOT NULL,
    user_id      text NOT NULL,
    role         text NOT NULL,
    partner_id   text NOT NULL,
    action       text NOT NULL CHECK (action IN
                     ('read', 'change', 'search', 'export', 'erase', 'break_glass')),
    record_type  text NOT NULL,
    record_id    text,
    person_id    uuid,
    fields       text[] NOT NULL DEFAULT '{{}}',
    reason       text,
    request_id   text,
    detail       jsonb
);
CREATE INDEX IF NOT EXISTS entries_person ON {SCHEMA}.entries (person_id, at);
CREATE OR REPLACE FUNCTION {SCHEMA}.refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS entries_append_only ON {SCHEMA}.entries;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON {SCHEMA}.entries
    FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.refuse_change();
"""


def grants(role: str) -> str:
    return (
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {role};"
        f"REVOKE ALL ON {SCHEMA}.entries FROM {role};"
        f"GRANT SELECT, INSERT ON {SCHEMA}.entries TO {role};"
        f"GRANT USAGE ON SEQUENCE {SCHEMA}.entries_id_seq TO {role};"
    )


_INSERT = (
    f"INSERT INTO {SCHEMA}.entries (service, user_id, role, partner_id, action, record_type,"
    " record_id, person_id, fields, reason, request_id, detail)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# the same, for many entries in one statement (psycopg2's execute_values)
_INSERT_MANY = _INSERT.split(" VALUES ")[0] + " VALUES %s"


class AuditLog:
    def __init__(self, db: Database, service: str):
        self.db = db
        self.service = service

    def record(
        self,
        principal: Principal,
        action: str,
        record_type: str,
        record_id: str | None = None,
        person_id=None,
        fields: Iterable[str] = (),
        reason: str | None = None,
        request_id: str | None = None,
        detail: dict | None = None,
        cur=None,
    ) -> None:
        """Write one entry; in the caller's transaction when given its cursor. A read is
        recorded before the data is handed out, so a failing audit fails the read."""
        values = (
            self.service,
            principal.user_id,
            principal.role,
            principal.partner_id,
            action,
            record_type,
            record_id,
            str(person_id) if person_id else None,
            list(fields),
            reason,
            request_id,
            Json(detail) if detail is not None else None,
        )
        if cur is not None:
            cur.execute(_INSERT, values)
            return
        with self.db.transaction() as own:
            own.execute(_INSERT, values)

    def for_person(self, person_id, limit: int, offset: int) -> tuple[int, list[dict]]:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT count(*) FROM {SCHEMA}.entries WHERE person_id = %s", (str(person_id),)
            )
            total = cur.fetchone()[0]
            cur.execute(
                f"SELECT id, at, service, user_id, role, partner_id, action, record_type,"
                f" record_id, person_id, fields, reason, request_id, detail"
                f" FROM {SCHEMA}.entries WHERE person_id = %s ORDER BY at, id"
                f" LIMIT %s OFFSET %s",
                (str(person_id), limit, offset),
            )
            return total, rows(cur)


def change_projector(service: str, person_of=None):
    """A projector: every appended event also becomes a 'change' entry, in the appending
    transaction (one statement for all the events of an append). `person_of(cur, event)` names
    the person a stream is about; it is asked once per stream."""

    def project(cur, events: list[RecordedEvent]) -> None:
        people: dict[tuple[str, str], object] = {}
        entries = []
        for event in events:
            person = event.payload.get("person_id")
            if person is None and person_of is not None:
                stream = (event.stream_type, event.stream_id)
                if stream not in people:
                    people[stream] = person_of(cur, event)
                person = people[stream]
            entries.append(
                (
                    service,
                    event.actor.user_id,
                    event.actor.role,
                    event.partner_id,
                    "change",
                    event.stream_type,
                    event.stream_id,
                    str(person) if person else None,
                    sorted(event.payload),
                    None,
                    str(event.correlation_id),
                    Json({"event_type": event.event_type, "version": event.version}),
                )
            )
        if entries:
            execute_values(cur, _INSERT_MANY, entries, page_size=len(entries))

    return project
