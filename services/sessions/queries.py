"""The sessions service's read queries over its read models (tables.py): what a command is told
before the domain decides (a referral's status and dates, a group's, the sessions a new one may
repeat, a person's open plans), and the pages the routes answer with (sessions, a worker's
diary, groups and a group's register, plans, signposting, a person's timeline, the measures due
on a caseload)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from contracts.sessions.codes import BOOKED, HELD, VOIDED
from services.sessions.access import OPEN_REFERRAL_STATES
from services.sessions.tables import SCHEMA
from shared.db import rows, select_page

# sessions that stand: neither cancelled nor voided
STANDING = (BOOKED, HELD)
# a session's people: the person it is for, or someone whose attendance is recorded
OF_PERSON = (
    f"(s.person_id = %s OR EXISTS (SELECT 1 FROM {SCHEMA}.attendance a"
    " WHERE a.session_id = s.session_id AND a.person_id = %s))"
)
# a worker's sessions: the ones they run, and those of the groups they facilitate
OF_WORKER = (
    f"(%s = ANY(s.worker_ids) OR EXISTS (SELECT 1 FROM {SCHEMA}.group_list g"
    " WHERE g.group_id = s.group_id AND %s = ANY(g.facilitator_ids)))"
)


def start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _page(cur, select: str, where: list[str], params: list, order: str, query: dict) -> dict:
    total, items = select_page(cur, select, where, params, order, query["limit"], query["offset"])
    return {"items": items, "total": total, "limit": query["limit"], "offset": query["offset"]}


def _window(query: dict, column: str, where: list[str], params: list) -> None:
    if query.get("from_"):
        where.append(f"{column} >= %s")
        params.append(start_of(query["from_"]))
    if query.get("to"):
        where.append(f"{column} < %s")
        params.append(start_of(query["to"] + timedelta(days=1)))


# -- what a command is told ----------------------------------------------------------------------


def referral_status(cur, referral_id: str) -> dict | None:
    """The referral as the sessions service knows it from the referrals service's events."""
    cur.execute(
        f"SELECT person_id, status, worker_id, received_on, ended_on, first_contact_on"
        f" FROM {SCHEMA}.referral_status WHERE referral_id = %s",
        (referral_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return {
        "person_id": row[0],
        "status": row[1],
        "worker_id": row[2],
        "received_on": row[3],
        "ended_on": row[4],
        "first_contact_on": row[5],
    }


def group_row(cur, group_id: str) -> dict | None:
    cur.execute(
        f"SELECT status, facilitator_ids FROM {SCHEMA}.group_list WHERE group_id = %s",
        (group_id,),
    )
    row = cur.fetchone()
    return None if row is None else {"status": row[0], "facilitator_ids": row[1]}


def same_group_and_start(cur, group_id, starts_at, session_id) -> list[str]:
    """The group's other standing sessions starting at that moment."""
    if not group_id:
        return []
    cur.execute(
        f"SELECT session_id FROM {SCHEMA}.session_list WHERE group_id = %s"
        " AND starts_at = %s AND status = ANY(%s) AND session_id <> %s ORDER BY session_id",
        (group_id, starts_at, list(STANDING), session_id),
    )
    return [row[0] for row in cur.fetchall()]


def sessions_near(
    cur, person_id: str, kind: str, session_id: str, starts_at: datetime, window: timedelta
) -> list[tuple[str, datetime]]:
    """The person's other standing sessions of the kind starting within the window: (id, start)."""
    cur.execute(
        f"SELECT session_id, starts_at FROM {SCHEMA}.session_list WHERE person_id = %s"
        " AND kind = %s AND status = ANY(%s) AND session_id <> %s"
        " AND starts_at > %s AND starts_at < %s ORDER BY starts_at, session_id",
        (
            person_id,
            kind,
            list(STANDING),
            session_id,
            starts_at - window,
            starts_at + window,
        ),
    )
    return cur.fetchall()


def open_plans(cur, person_id) -> list[tuple[str, str]]:
    """The person's open plans: (plan id, kind)."""
    cur.execute(
        f"SELECT plan_id, kind FROM {SCHEMA}.plan_list WHERE person_id = %s"
        " AND status = 'open' ORDER BY drafted_on, plan_id",
        (str(person_id),),
    )
    return cur.fetchall()


def session_for(cur, session_id: str, person_id: str) -> tuple | None:
    """Whom a session is for, its status, and whether the person's attendance is recorded."""
    cur.execute(
        f"SELECT person_id, status, EXISTS (SELECT 1 FROM {SCHEMA}.attendance a"
        "  WHERE a.session_id = s.session_id AND a.person_id = %s)"
        f" FROM {SCHEMA}.session_list s WHERE session_id = %s",
        (person_id, session_id),
    )
    return cur.fetchone()


# -- pages ---------------------------------------------------------------------------------------


def sessions_page(cur, query: dict, run_by: str | None = None) -> dict:
    """Sessions by the query's filters (voided ones only when asked for by status); `run_by`, a
    peer worker's own: the sessions they run or whose group they facilitate."""
    where, params = [], []
    for name in ("group_id", "referral_id", "kind", "status"):
        if name in query:
            where.append(f"s.{name} = %s")
            params.append(query[name])
    if "worker_id" in query:
        where.append("%s = ANY(s.worker_ids)")
        params.append(query["worker_id"])
    if "status" not in query:
        where.append(f"s.status <> '{VOIDED}'")
    if "person_id" in query:
        where.append(OF_PERSON)
        params += [str(query["person_id"])] * 2
    if run_by is not None:
        where.append(OF_WORKER)
        params += [run_by] * 2
    _window(query, "s.starts_at", where, params)
    return _page(
        cur,
        f"SELECT s.session_id, s.kind, s.status, s.mode, s.location, s.worker_ids,"
        f" s.referral_id, s.person_id, s.group_id, s.starts_at, s.duration_minutes,"
        f" s.anonymous_attendees, s.version,"
        f" (SELECT count(*) FROM {SCHEMA}.attendance a WHERE a.session_id = s.session_id"
        f"  AND a.status IN ('attended', 'late_seen')) AS seen"
        f" FROM {SCHEMA}.session_list s",
        where,
        params,
        "s.starts_at, s.session_id",
        query,
    )


def diary_page(cur, worker: str, start: date, end: date, query: dict) -> dict:
    """The worker's sessions from `start` to `end` (both included), each with when it ends."""
    where = [OF_WORKER, "s.starts_at >= %s", "s.starts_at < %s", f"s.status <> '{VOIDED}'"]
    params = [worker, worker, start_of(start), start_of(end + timedelta(days=1))]
    page = _page(
        cur,
        f"SELECT s.session_id, s.kind, s.status, s.mode, s.location, s.worker_ids,"
        f" s.referral_id, s.person_id, s.group_id, g.name AS group_name, s.starts_at,"
        f" s.duration_minutes, s.version FROM {SCHEMA}.session_list s"
        f" LEFT JOIN {SCHEMA}.group_list g USING (group_id)",
        where,
        params,
        "s.starts_at, s.session_id",
        query,
    )
    for item in page["items"]:
        item["ends_at"] = item["starts_at"] + timedelta(minutes=item["duration_minutes"])
    return page


def groups_page(cur, query: dict) -> dict:
    where, params = [], []
    for name in ("status", "kind"):
        if name in query:
            where.append(f"{name} = %s")
            params.append(query[name])
    if "facilitator_id" in query:
        where.append("%s = ANY(facilitator_ids)")
        params.append(query["facilitator_id"])
    return _page(
        cur,
        f"SELECT group_id, name, kind, status, capacity, members, waiting,"
        f" greatest(capacity - members, 0) AS places_free, facilitator_ids,"
        f" sessions_planned, created_on, version FROM {SCHEMA}.group_list",
        where,
        params,
        "name, group_id",
        query,
    )


def register(cur, group_id: str, query: dict) -> tuple[list[dict], list[tuple]]:
    """A group's standing and cancelled sessions in the query's window (or the one session it
    names), and each attendance recorded at them: (session id, person id, status, is
    corrected)."""
    where, params = ["s.group_id = %s", f"s.status <> '{VOIDED}'"], [group_id]
    _window(query, "s.starts_at", where, params)
    if query.get("session_id"):
        where.append("s.session_id = %s")
        params.append(str(query["session_id"]))
    cur.execute(
        f"SELECT s.session_id, s.status, s.starts_at, s.duration_minutes,"
        f" s.anonymous_attendees FROM {SCHEMA}.session_list s"
        f" WHERE {' AND '.join(where)} ORDER BY s.starts_at, s.session_id",
        params,
    )
    sessions = rows(cur)
    cur.execute(
        f"SELECT a.session_id, a.person_id, a.status, a.is_corrected"
        f" FROM {SCHEMA}.attendance a JOIN {SCHEMA}.session_list s USING (session_id)"
        f" WHERE {' AND '.join(where)}",
        params,
    )
    return sessions, cur.fetchall()


def plans_page(cur, query: dict, today: date, caseload_of: str | None = None) -> dict:
    """Plans by the query's filters; `caseload_of`, a peer worker's: the plans of the people on
    their open caseload."""
    where, params = [], []
    for name in ("kind", "status"):
        if name in query:
            where.append(f"{name} = %s")
            params.append(query[name])
    if "person_id" in query:
        where.append("person_id = %s")
        params.append(str(query["person_id"]))
    if "review_overdue" in query:
        overdue = "(status = 'open' AND review_due_on < %s)"
        where.append(overdue if query["review_overdue"] else f"NOT {overdue}")
        params.append(today)
    if caseload_of is not None:
        where.append(
            f"(person_id IN (SELECT person_id FROM {SCHEMA}.referral_status"
            f" WHERE worker_id = %s AND status = ANY(%s)))"
        )
        params += [caseload_of, list(OPEN_REFERRAL_STATES)]
    return _page(
        cur,
        f"SELECT plan_id, person_id, kind, status, revision, referral_id, drafted_on,"
        f" last_reviewed_on, review_interval_days, review_due_on, version,"
        f" (status = 'open' AND review_due_on < %s) AS is_review_overdue"
        f" FROM {SCHEMA}.plan_list",
        where,
        [today, *params],
        "review_due_on NULLS LAST, plan_id",
        query,
    )


def signposting_page(cur, query: dict) -> dict:
    """Signposting by the query's filters, voided ones left out."""
    where, params = [], []
    for name in ("destination", "outcome"):
        if name in query:
            where.append(f"{name} = %s")
            params.append(query[name])
    if "person_id" in query:
        where.append("person_id = %s")
        params.append(str(query["person_id"]))
    where.append("NOT is_voided")
    return _page(
        cur,
        f"SELECT signposting_id, person_id, destination, outcome, signposted_on,"
        f" referral_id, session_id, version FROM {SCHEMA}.signposting_list",
        where,
        params,
        "signposted_on DESC, signposting_id",
        query,
    )


def timeline_page(cur, person: str, query: dict) -> dict:
    """The person's timeline, latest first, voided records left out."""
    where, params = ["person_id = %s", "NOT is_voided"], [person]
    _window(query, "happened_at", where, params)
    page = _page(
        cur,
        f"SELECT happened_at, stream_type, stream_id, event_type, detail, position"
        f" FROM {SCHEMA}.timeline",
        where,
        params,
        "happened_at DESC, position DESC",
        query,
    )
    for item in page["items"]:
        item["what"] = item.pop("stream_type")
        item["id"] = item.pop("stream_id")
    return page


def last_measured(cur, measure: str, worker: str) -> list[tuple]:
    """Each referral on the worker's open caseload with the day its person last completed the
    measure (None if never), never measured first: (person id, referral id, day)."""
    cur.execute(
        f"SELECT r.person_id::text, r.referral_id, max(t.happened_at)::date"
        f" FROM {SCHEMA}.referral_status r"
        f" LEFT JOIN {SCHEMA}.timeline t ON t.person_id = r.person_id"
        f" AND t.event_type = 'MeasureRecorded' AND NOT t.is_voided"
        f" AND t.detail->>'measure' = %s"
        f" WHERE r.worker_id = %s AND r.status = ANY(%s)"
        f" GROUP BY r.person_id, r.referral_id ORDER BY 3 NULLS FIRST, 1",
        (measure, worker, list(OPEN_REFERRAL_STATES)),
    )
    return cur.fetchall()
