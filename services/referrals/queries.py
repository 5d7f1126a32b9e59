"""The referrals service's read queries, each over an open cursor: its read models (the referral
list, incoming offers, workers), and what it reads of the node's other schemas (sessions held,
measures taken, a person's events in every service, the vault's sealed texts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from contracts.referrals import SCHEMA
from contracts.referrals.codes import ACCEPTED, ACTIVE, ALLOCATED, ON_HOLD, RECEIVED
from services.referrals.domain import MeasuresTaken, SessionsHeld
from shared.db import rows, select_page
from shared.workforce.roster import SCHEMA as WORKFORCE_SCHEMA

# the referrals a worker carries: allocated to them, first contact made or not
CASELOAD_STATES = (ALLOCATED, ACTIVE, ON_HOLD)
# the referrals still waiting for first contact
AWAITING_FIRST_CONTACT = (RECEIVED, ACCEPTED, ALLOCATED)
# the services whose events a subject access export gathers (a schema each, one database)
NODE_SCHEMAS = ("referrals", "sessions", "safeguarding")

LAST_CONTACTS = """
WITH people AS (
    SELECT person_id, created_at::date AS registered_on
    FROM vault.person_keys WHERE wrapped_key IS NOT NULL),
referrals AS (
    SELECT person_id, max(greatest(received_on, first_contact_on)) AS last_on
    FROM referrals.referral_list GROUP BY 1),
sessions AS (
    SELECT a.person_id, max(s.starts_at)::date AS last_on
    FROM sessions.attendance a JOIN sessions.session_list s USING (session_id)
    WHERE a.status IN ('attended', 'late_seen') GROUP BY 1),
flags AS (
    SELECT DISTINCT ON (stream_id) stream_id::uuid AS person_id,
           (payload->>'last_contact_on')::date AS flagged_last_contact, recorded_at AS flagged_at
    FROM referrals.events WHERE event_type = 'PersonRetentionDue'
    ORDER BY stream_id, version DESC)
SELECT p.person_id, greatest(p.registered_on, r.last_on, s.last_on) AS last_contact_on,
       f.flagged_last_contact, f.flagged_at
FROM people p
LEFT JOIN referrals r USING (person_id)
LEFT JOIN sessions s USING (person_id)
LEFT JOIN flags f USING (person_id)
WHERE greatest(p.registered_on, r.last_on, s.last_on) < %(cutoff)s
ORDER BY 2, 1
"""


# -- referrals ----------------------------------------------------------------------------------


def is_first_contact_overdue(item: Mapping, today: date) -> bool:
    return (
        item["first_contact_on"] is None
        and item["status"] in AWAITING_FIRST_CONTACT
        and item["first_contact_due_on"] < today
    )


def referral_page(
    cur, partner_id: str, query: Mapping, today: date, worker_id: str | None = None
) -> tuple[int, list[dict]]:
    """A page of the partner's referral list under the query's filters (`worker_id`: only the
    referrals allocated to them), in the order they were received."""
    clauses, params = ["partner_id = %s"], [partner_id]
    if worker_id is not None:
        clauses.append("worker_id = %s")
        params.append(worker_id)
    for name in ("status", "worker_id", "source", "person_id"):
        if name in query:
            clauses.append(f"{name} = %s")
            params.append(str(query[name]))
    if "overdue" in query:
        overdue = "first_contact_on IS NULL AND first_contact_due_on < %s AND status IN %s"
        clauses.append(overdue if query["overdue"] else f"NOT ({overdue})")
        params += [today, AWAITING_FIRST_CONTACT]
    return select_page(
        cur,
        f"SELECT referral_id, person_id, status, source, urgency, worker_id, received_on,"
        f" first_contact_due_on, first_contact_on, is_carer_referral, version"
        f" FROM {SCHEMA}.referral_list",
        clauses,
        params,
        "received_on, referral_id",
        query["limit"],
        query["offset"],
    )


def caseloads(cur, partner_id: str) -> list[tuple[str, int]]:
    """Each of the partner's workers with a caseload, and its size."""
    cur.execute(
        f"SELECT worker_id, count(*) FROM {SCHEMA}.referral_list"
        " WHERE partner_id = %s AND status IN %s GROUP BY worker_id ORDER BY worker_id",
        (partner_id, CASELOAD_STATES),
    )
    return cur.fetchall()


def caseload_of(cur, partner_id: str, worker_id: str) -> int:
    cur.execute(
        f"SELECT count(*) FROM {SCHEMA}.referral_list WHERE partner_id = %s"
        " AND worker_id = %s AND status IN %s",
        (partner_id, worker_id, CASELOAD_STATES),
    )
    return cur.fetchone()[0]


def is_on_caseload(cur, person_id: str, worker_id: str) -> bool:
    """Whether a referral of the person is on the worker's caseload."""
    cur.execute(
        f"SELECT 1 FROM {SCHEMA}.referral_list WHERE person_id = %s AND worker_id = %s"
        " AND status IN %s",
        (person_id, worker_id, CASELOAD_STATES),
    )
    return cur.fetchone() is not None


def referrals_of(cur, person_id: str) -> list[str]:
    cur.execute(
        f"SELECT referral_id FROM {SCHEMA}.referral_list WHERE person_id = %s ORDER BY 1",
        (person_id,),
    )
    return [referral_id for (referral_id,) in cur.fetchall()]


def sessions_held(cur, referral_id: str) -> SessionsHeld | None:
    """The first and last day of the referral's sessions held, read from the sessions
    service's read model in the node's database (voided ones are not held)."""
    cur.execute(
        "SELECT min(starts_at AT TIME ZONE 'UTC')::date,"
        " max(starts_at AT TIME ZONE 'UTC')::date"
        " FROM sessions.session_list WHERE referral_id = %s AND status = 'held'",
        (referral_id,),
    )
    first, last = cur.fetchone()
    return SessionsHeld(first, last) if first else None


def measures_taken(cur, person_id: str | None, referral_id: str) -> MeasuresTaken | None:
    """The first day an outcome measure recorded for the referral was taken (a voided one is
    not counted), from the person's timeline in the sessions service's read model, which keeps
    each measure's referral and day."""
    if not person_id:
        return None
    cur.execute(
        "SELECT min((detail->>'taken_on')::date) FROM sessions.timeline"
        " WHERE person_id = %s AND stream_type = 'person_measures'"
        " AND event_type = 'MeasureRecorded' AND detail->>'referral_id' = %s AND NOT is_voided",
        (str(person_id), referral_id),
    )
    (first,) = cur.fetchone()
    return MeasuresTaken(first) if first else None


# -- offers from other partners -----------------------------------------------------------------


def offer_page(cur, partner_id: str, query: Mapping) -> tuple[int, list[str]]:
    """How many offers to the partner the query finds, and one page of their ids, oldest
    first."""
    clauses, params = ["partner_id = %s"], [partner_id]
    if "status" in query:
        clauses.append("status = %s")
        params.append(query["status"])
    if "erasure_noticed" in query:
        clauses.append(f"erasure_noticed_on IS {'NOT ' if query['erasure_noticed'] else ''}NULL")
    where = " AND ".join(clauses)
    cur.execute(f"SELECT count(*) FROM {SCHEMA}.incoming_offers WHERE {where}", params)
    total = cur.fetchone()[0]
    cur.execute(
        f"SELECT offer_id FROM {SCHEMA}.incoming_offers WHERE {where}"
        " ORDER BY offered_on, offer_id LIMIT %s OFFSET %s",
        (*params, query["limit"], query["offset"]),
    )
    return total, [str(row[0]) for row in cur.fetchall()]


# -- people -------------------------------------------------------------------------------------


def events_about(cur, schema: str, person_id: str) -> list[dict]:
    """A service's events about the person, in order: their own, and the events of streams
    they appear in that name nobody (a group session's start, not another member's
    attendance)."""
    cur.execute(
        f"SELECT stream_type, stream_id, version, event_type, occurred_at,"
        f" recorded_at, actor_id, actor_role, payload FROM {schema}.events"
        f" WHERE payload->>'person_id' = %s OR (payload->>'person_id' IS NULL"
        f"   AND (stream_type, stream_id) IN ("
        f"     SELECT stream_type, stream_id FROM {schema}.events"
        f"     WHERE payload->>'person_id' = %s))"
        f" ORDER BY position",
        (person_id, person_id),
    )
    return rows(cur)


def sealed_text_ids(cur, person_id: str) -> list:
    """Every text sealed about the person (session notes, plan goals, ...), by id."""
    cur.execute(
        "SELECT text_id FROM vault.sensitive_texts WHERE person_id = %s ORDER BY text_id",
        (person_id,),
    )
    return [text_id for (text_id,) in cur.fetchall()]


def last_contacts(cur, cutoff: date) -> list[tuple]:
    """Each person whose last contact is before `cutoff`: (person_id, last contact, the last
    contact they were flagged for, when)."""
    cur.execute(LAST_CONTACTS, {"cutoff": cutoff})
    return cur.fetchall()


# -- workers ------------------------------------------------------------------------------------


def worker_page(cur, partner_id: str, query: Mapping) -> tuple[int, list[dict]]:
    clauses, params = ["partner_id = %s"], [partner_id]
    if query["status"] != "any":
        clauses.append("status = %s")
        params.append(query["status"])
    if "role" in query:
        clauses.append("%s = ANY(roles)")
        params.append(query["role"])
    return select_page(
        cur,
        f"SELECT worker_id, display_name, roles, status, registered_on, left_on, version"
        f" FROM {WORKFORCE_SCHEMA}.workers",
        clauses,
        params,
        "worker_id",
        query["limit"],
        query["offset"],
    )
