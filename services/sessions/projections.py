"""The sessions service's read models, kept in the appending transaction so lists, diaries,
registers and timelines never lag the events; and what it knows of other services: each
referral's status, learnt from the referrals service's events (a one-to-one needs an active
referral). Their tables are in tables.py."""

from __future__ import annotations

from datetime import date, datetime

from psycopg2.extras import Json

from contracts.referrals.codes import STATUS_AFTER
from contracts.sessions.codes import BOOKED, CANCELLED, HELD, VOIDED
from services.sessions.domain import not_a_second_group_session, review_due_on
from services.sessions.tables import GROUP_STARTS_TABLE, READ_MODEL_TABLES, SCHEMA
from shared.events import RecordedEvent
from shared.projections import chain

CONSUMER = "sessions-referral-status"

# the event and payload field dating the end of a referral at this partner
ENDED_ON = {
    "ReferralDischarged": "discharged_on",
    "ReferralClosedWithoutContact": "closed_on",
    "ReferralTransferred": "transferred_on",
    "ReferralTransferWithdrawn": "withdrawn_on",
}
ATTENDANCE_EVENTS = ("AttendanceRecorded", "AttendanceCorrected")


class ReferralStatus:
    name = "referral_status"

    def apply(self, cur, event: RecordedEvent) -> None:
        if event.stream_type != "referral":
            return
        p = event.payload
        if event.event_type == "ReferralReceived":
            cur.execute(
                f"INSERT INTO {SCHEMA}.referral_status"
                " (referral_id, person_id, status, version, received_on)"
                " VALUES (%s, %s, 'received', %s, %s) ON CONFLICT (referral_id) DO NOTHING",
                (event.stream_id, p["person_id"], event.version, p.get("received_on")),
            )
            return
        status = STATUS_AFTER.get(event.event_type)
        worker = p.get("worker_id")
        received, first_contact, ended = _referral_dates(event.event_type, p)
        cur.execute(
            f"UPDATE {SCHEMA}.referral_status SET status = coalesce(%s, status),"
            " worker_id = coalesce(%s, worker_id), received_on = coalesce(%s, received_on),"
            " first_contact_on = coalesce(%s, first_contact_on),"
            " ended_on = coalesce(%s, ended_on), version = %s WHERE referral_id = %s",
            (status, worker, received, first_contact, ended, event.version, event.stream_id),
        )

    def reset(self, cur) -> None:
        cur.execute(f"TRUNCATE {SCHEMA}.referral_status")


def _referral_dates(event_type: str, p: dict) -> tuple[str | None, str | None, str | None]:
    """The received, first contact and ended dates an event sets (or corrects), each None when
    unchanged."""
    if event_type in ENDED_ON:
        return None, None, p.get(ENDED_ON[event_type])
    if event_type == "FirstContactMade":
        return None, p.get("contacted_on"), None
    if event_type == "ReferralCorrected":
        if p.get("field") == "received_on":
            return p.get("value"), None, None
        if p.get("field") == "first_contact_on":
            return None, p.get("value"), None
        if p.get("field") in ENDED_ON.values():
            return None, None, p.get("value")
    return None, None, None


def _claim_group_start(cur, session_id: str, kind: str, group_id: str, starts_at: str) -> None:
    """The session's claim on its group's start (moved when it is held at another time); a
    start another standing session claims is refused, even one committed a moment ago."""
    cur.execute(f"DELETE FROM {SCHEMA}.group_session_starts WHERE session_id = %s", (session_id,))
    for _ in range(2):
        cur.execute(
            f"INSERT INTO {SCHEMA}.group_session_starts (group_id, starts_at, session_id)"
            " VALUES (%s, %s, %s) ON CONFLICT (group_id, starts_at) DO NOTHING"
            " RETURNING session_id",
            (group_id, starts_at, session_id),
        )
        if cur.fetchone() is not None:
            return
        cur.execute(
            f"SELECT session_id FROM {SCHEMA}.group_session_starts"
            " WHERE group_id = %s AND starts_at = %s",
            (group_id, starts_at),
        )
        claimed = [row[0] for row in cur.fetchall()]
        # none when the claim was given up between the two statements: try once more
        not_a_second_group_session(kind, group_id, datetime.fromisoformat(str(starts_at)), claimed)


def _day(value: str) -> datetime:
    return datetime.combine(date.fromisoformat(value), datetime.min.time()).astimezone()


class SessionsReadModel:
    """Sessions, attendance, groups, plans, signposting and each person's timeline."""

    name = "sessions_read_model"

    def __call__(self, cur, events: list[RecordedEvent]) -> None:
        # a session's row as this append left it (starts_at, kind, person_id, group_id), so an
        # attendance recorded with it that is not the stream's last event of the append needs
        # no statement of its own on the session list (a group of ten: nine fewer)
        rows: dict[str, tuple] = {}
        last = {e.stream_id: e.version for e in events if e.stream_type == "session"}
        for event in events:
            row = rows.get(event.stream_id) if event.stream_type == "session" else None
            if (
                row is not None
                and event.event_type == "AttendanceRecorded"
                and last[event.stream_id] != event.version
            ):
                self._attendance(cur, event, event.payload, row)
                continue
            self.apply(cur, event)
            if event.event_type == "SessionRecorded":
                p = event.payload
                rows[event.stream_id] = (
                    p["actual_start_at"],
                    p["kind"],
                    p["person_id"],
                    p["group_id"],
                )
            elif event.event_type not in ATTENDANCE_EVENTS:
                rows.pop(event.stream_id, None)  # what else it changed is in the list alone

    def apply(self, cur, event: RecordedEvent) -> None:
        handler = getattr(self, f"_{event.stream_type}", None)
        if handler is not None:
            handler(cur, event, event.payload)

    def reset(self, cur) -> None:
        tables = (*READ_MODEL_TABLES, GROUP_STARTS_TABLE)
        cur.execute("TRUNCATE " + ", ".join(f"{SCHEMA}.{t}" for t in tables))

    # -- sessions ------------------------------------------------------------------------------

    def _session(self, cur, event: RecordedEvent, p: dict) -> None:
        kind = event.event_type
        if kind in ("SessionBooked", "SessionRecorded"):
            held = kind == "SessionRecorded"
            starts_at = p["actual_start_at"] if held else p["planned_start_at"]
            minutes = p["duration_minutes"] if held else p["planned_duration_minutes"]
            cur.execute(
                f"INSERT INTO {SCHEMA}.session_list (session_id, kind, status, mode, medium_code,"
                " location, worker_ids, referral_id, person_id, group_id, starts_at,"
                " duration_minutes, version) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s) ON CONFLICT (session_id) DO UPDATE SET status = excluded.status,"
                " mode = excluded.mode, medium_code = excluded.medium_code,"
                " location = excluded.location, worker_ids = excluded.worker_ids,"
                " starts_at = excluded.starts_at, duration_minutes = excluded.duration_minutes,"
                " version = excluded.version, updated_at = now()",
                (
                    event.stream_id,
                    p["kind"],
                    HELD if held else BOOKED,
                    p["mode"],
                    p["medium_code"],
                    p["location"],
                    list(p["worker_ids"]),
                    p["referral_id"],
                    p["person_id"],
                    p["group_id"],
                    starts_at,
                    minutes,
                    event.version,
                ),
            )
            if p["group_id"]:
                _claim_group_start(cur, event.stream_id, p["kind"], p["group_id"], starts_at)
            if p["person_id"]:
                self._timeline(cur, event, p["person_id"], starts_at, _session_detail(p))
            return
        sets, params = ["version = %s", "updated_at = now()"], [event.version]
        if kind == "SessionCancelled":
            sets += ["status = %s", "cancelled_by = %s"]
            params += [CANCELLED, p["cancelled_by"]]
        elif kind == "SessionVoided":
            sets.append("status = %s")
            params.append(VOIDED)
        elif kind in ("AnonymousAttendeesCounted", "AnonymousAttendeesCorrected"):
            sets.append("anonymous_attendees = %s")
            params.append(p["count"])
        cur.execute(
            f"UPDATE {SCHEMA}.session_list SET {', '.join(sets)} WHERE session_id = %s"
            " RETURNING starts_at, kind, person_id, group_id",
            (*params, event.stream_id),
        )
        session = cur.fetchone()
        if kind in ("SessionCancelled", "SessionVoided"):
            cur.execute(
                f"DELETE FROM {SCHEMA}.group_session_starts WHERE session_id = %s",
                (event.stream_id,),
            )
        if kind in ("AttendanceRecorded", "AttendanceCorrected"):
            self._attendance(cur, event, p, session)
        elif kind == "SessionCancelled" and session and session[2]:
            detail = {"cancelled_by": p["cancelled_by"], "reason": p["reason"]}
            self._timeline(cur, event, session[2], session[0], detail)
        elif kind in ("SessionNotesWritten", "SessionNotesCorrected") and session and session[2]:
            detail = {"themes": p["themes"], "actions": p["actions"]}
            if kind == "SessionNotesCorrected":
                detail["reason"] = p["reason"]
            self._timeline(cur, event, session[2], session[0], detail)
        elif kind == "AttendanceVoided":
            cur.execute(
                f"DELETE FROM {SCHEMA}.attendance WHERE session_id = %s AND person_id = %s",
                (event.stream_id, p["person_id"]),
            )
            self._void_timeline(cur, event.stream_id, p["person_id"], ATTENDANCE_EVENTS)
            detail = {"previous_status": p["previous_status"], "reason": p["reason"]}
            self._timeline(cur, event, p["person_id"], session[0] if session else None, detail)
        elif kind == "SessionVoided":
            cur.execute(
                f"DELETE FROM {SCHEMA}.attendance WHERE session_id = %s RETURNING person_id",
                (event.stream_id,),
            )
            people = {row[0] for row in cur.fetchall()} | ({session[2]} if session else set())
            cur.execute(
                f"UPDATE {SCHEMA}.timeline SET is_voided = true WHERE stream_id = %s"
                " AND stream_type = 'session'",
                (event.stream_id,),
            )
            detail = {"reason": p["reason"], "previous_status": p["previous_status"]}
            for person in sorted(filter(None, people), key=str):
                self._timeline(cur, event, person, session[0] if session else None, detail)

    def _attendance(self, cur, event: RecordedEvent, p: dict, session: tuple | None) -> None:
        """A person's attendance at a session whose row is `session` (starts_at, kind,
        person_id, group_id; None when there is none)."""
        corrected = event.event_type == "AttendanceCorrected"
        cur.execute(
            f"INSERT INTO {SCHEMA}.attendance (session_id, person_id, status, attendance_code,"
            " is_corrected) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (session_id, person_id)"
            " DO UPDATE SET status = excluded.status,"
            " attendance_code = excluded.attendance_code, is_corrected = true",
            (event.stream_id, p["person_id"], p["status"], p["attendance_code"], corrected),
        )
        detail = {"status": p["status"], "attendance_code": p["attendance_code"]}
        if session:
            detail |= {"session_kind": session[1], "group_id": session[3]}
        if corrected:
            detail |= {"previous_status": p["previous_status"], "reason": p["reason"]}
        self._timeline(cur, event, p["person_id"], session[0] if session else None, detail)

    # -- groups --------------------------------------------------------------------------------

    def _group(self, cur, event: RecordedEvent, p: dict) -> None:
        kind, group = event.event_type, event.stream_id
        if kind == "GroupCreated":
            cur.execute(
                f"INSERT INTO {SCHEMA}.group_list (group_id, name, kind, status, capacity,"
                " facilitator_ids, sessions_planned, created_on, version)"
                " VALUES (%s, %s, %s, 'open', %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    group,
                    p["name"],
                    p["kind"],
                    p["capacity"],
                    list(p["facilitator_ids"]),
                    p["sessions_planned"],
                    p["created_on"],
                    event.version,
                ),
            )
            return
        if kind in ("GroupMemberJoined", "GroupWaitingListJoined"):
            place = "member" if kind == "GroupMemberJoined" else "waiting"
            cur.execute(
                f"INSERT INTO {SCHEMA}.group_people (group_id, person_id, place, since)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (group_id, person_id) DO UPDATE"
                " SET place = excluded.place, since = excluded.since",
                (group, p["person_id"], place, p["joined_on"]),
            )
            on = p["joined_on"]
        elif kind in ("GroupMemberLeft", "GroupWaitingListLeft"):
            cur.execute(
                f"DELETE FROM {SCHEMA}.group_people WHERE group_id = %s AND person_id = %s",
                (group, p["person_id"]),
            )
            on = p["left_on"]
        elif kind == "GroupMemberPromoted":
            cur.execute(
                f"UPDATE {SCHEMA}.group_people SET place = 'member', since = %s"
                " WHERE group_id = %s AND person_id = %s",
                (p["promoted_on"], group, p["person_id"]),
            )
            on = p["promoted_on"]
        elif kind == "GroupCapacityChanged":
            cur.execute(
                f"UPDATE {SCHEMA}.group_list SET capacity = %s WHERE group_id = %s",
                (p["capacity"], group),
            )
        elif kind == "GroupFacilitatorAdded":
            cur.execute(
                f"UPDATE {SCHEMA}.group_list SET facilitator_ids ="
                " array_append(facilitator_ids, %s) WHERE group_id = %s",
                (p["worker_id"], group),
            )
        elif kind == "GroupFacilitatorRemoved":
            cur.execute(
                f"UPDATE {SCHEMA}.group_list SET facilitator_ids ="
                " array_remove(facilitator_ids, %s) WHERE group_id = %s",
                (p["worker_id"], group),
            )
        elif kind == "GroupClosed":
            cur.execute(
                f"UPDATE {SCHEMA}.group_list SET status = 'closed' WHERE group_id = %s", (group,)
            )
        cur.execute(
            f"UPDATE {SCHEMA}.group_list g SET version = %s,"
            f" members = (SELECT count(*) FROM {SCHEMA}.group_people"
            "            WHERE group_id = g.group_id AND place = 'member'),"
            f" waiting = (SELECT count(*) FROM {SCHEMA}.group_people"
            "            WHERE group_id = g.group_id AND place = 'waiting')"
            " WHERE group_id = %s RETURNING name",
            (event.version, group),
        )
        if "person_id" in p:
            detail = {"group_id": group, "reason": p.get("reason")}
            self._timeline(cur, event, p["person_id"], _day(on), detail)

    # -- plans ---------------------------------------------------------------------------------

    def _plan(self, cur, event: RecordedEvent, p: dict) -> None:
        kind, plan = event.event_type, event.stream_id
        if kind == "PlanDrafted":
            drafted = date.fromisoformat(p["drafted_on"])
            cur.execute(
                f"INSERT INTO {SCHEMA}.plan_list (plan_id, person_id, kind, status, revision,"
                " referral_id, drafted_on, review_interval_days, review_due_on, version)"
                " VALUES (%s, %s, %s, 'open', 1, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    plan,
                    p["person_id"],
                    p["kind"],
                    p["referral_id"],
                    drafted,
                    p["review_interval_days"],
                    review_due_on(drafted, p["review_interval_days"]),
                    event.version,
                ),
            )
            on, detail = p["drafted_on"], {"plan_kind": p["kind"], "revision": 1}
        elif kind == "PlanRevised":
            cur.execute(
                f"UPDATE {SCHEMA}.plan_list SET revision = %s WHERE plan_id = %s",
                (p["revision"], plan),
            )
            on = p["revised_on"]
            detail = {
                "plan_kind": p["kind"],
                "revision": p["revision"],
                "changed_sections": p["changed_sections"],
                "reason": p["reason"],
            }
        elif kind == "PlanReviewed":
            cur.execute(
                f"UPDATE {SCHEMA}.plan_list SET last_reviewed_on = %s, review_due_on = %s"
                " WHERE plan_id = %s",
                (p["reviewed_on"], p["next_review_due_on"], plan),
            )
            on, detail = p["reviewed_on"], {"outcome": p["outcome"]}
        elif kind == "PlanReviewIntervalChanged":
            cur.execute(
                f"UPDATE {SCHEMA}.plan_list SET review_interval_days = %s,"
                " review_due_on = coalesce(last_reviewed_on, drafted_on) + %s WHERE plan_id = %s",
                (p["review_interval_days"], p["review_interval_days"], plan),
            )
            on, detail = p["changed_on"], {"review_interval_days": p["review_interval_days"]}
        else:  # PlanClosed
            cur.execute(
                f"UPDATE {SCHEMA}.plan_list SET status = 'closed', review_due_on = NULL"
                " WHERE plan_id = %s",
                (plan,),
            )
            on, detail = p["closed_on"], {"reason": p["reason"]}
        cur.execute(
            f"UPDATE {SCHEMA}.plan_list SET version = %s WHERE plan_id = %s"
            " RETURNING person_id, kind",
            (event.version, plan),
        )
        row = cur.fetchone()
        if row:
            self._timeline(cur, event, row[0], _day(on), {"plan_kind": row[1], **detail})

    # -- signposting and measures ----------------------------------------------------------------

    def _signposting(self, cur, event: RecordedEvent, p: dict) -> None:
        if event.event_type == "SignpostingVoided":
            cur.execute(
                f"UPDATE {SCHEMA}.signposting_list SET is_voided = true, version = %s"
                " WHERE signposting_id = %s RETURNING person_id, destination",
                (event.version, event.stream_id),
            )
            row = cur.fetchone()
            cur.execute(
                f"UPDATE {SCHEMA}.timeline SET is_voided = true WHERE stream_id = %s"
                " AND stream_type = 'signposting'",
                (event.stream_id,),
            )
            if row:
                detail = {"destination": row[1], "reason": p["reason"]}
                self._timeline(cur, event, row[0], _day(p["voided_on"]), detail)
            return
        if event.event_type == "SignpostingRecorded":
            cur.execute(
                f"INSERT INTO {SCHEMA}.signposting_list (signposting_id, person_id, destination,"
                " outcome, signposted_on, referral_id, session_id, version)"
                " VALUES (%s, %s, %s, 'unknown', %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    event.stream_id,
                    p["person_id"],
                    p["destination"],
                    p["signposted_on"],
                    p["referral_id"],
                    p["session_id"],
                    event.version,
                ),
            )
            on = p["signposted_on"]
            detail = {"destination": p["destination"], "session_id": p["session_id"]}
        else:
            on = p.get("recorded_on") or p.get("corrected_on")
            detail = {"outcome": p["outcome"]}
        cur.execute(
            f"UPDATE {SCHEMA}.signposting_list SET version = %s,"
            " outcome = coalesce(%s, outcome) WHERE signposting_id = %s"
            " RETURNING person_id, destination",
            (event.version, p.get("outcome"), event.stream_id),
        )
        row = cur.fetchone()
        if row:
            self._timeline(cur, event, row[0], _day(on), {"destination": row[1], **detail})

    def _person_measures(self, cur, event: RecordedEvent, p: dict) -> None:
        if event.event_type == "MeasureVoided":
            # the voided measure is the stream's event number `number`
            cur.execute(
                f"UPDATE {SCHEMA}.timeline SET is_voided = true"
                " WHERE stream_type = 'person_measures' AND stream_id = %s"
                " AND (detail->>'number')::int = %s",
                (event.stream_id, p["number"]),
            )
            detail = {
                "measure": p["measure"],
                "timepoint": p["timepoint"],
                "number": p["number"],
                "reason": p["reason"],
            }
            self._timeline(cur, event, event.stream_id, _day(p["taken_on"]), detail)
            return
        detail = {
            "number": event.version,
            "measure": p["measure"],
            "timepoint": p["timepoint"],
            "raw_score": p["raw_score"],
            "metric_score": p["metric_score"],
            "referral_id": p.get("referral_id"),
            "taken_on": p["taken_on"],
        }
        self._timeline(cur, event, p["person_id"], _day(p["taken_on"]), detail)

    # -- timeline ------------------------------------------------------------------------------

    @staticmethod
    def _void_timeline(cur, stream_id: str, person_id, event_types) -> None:
        cur.execute(
            f"UPDATE {SCHEMA}.timeline SET is_voided = true WHERE stream_id = %s"
            " AND person_id = %s AND event_type = ANY(%s)",
            (stream_id, person_id, list(event_types)),
        )

    @staticmethod
    def _timeline(cur, event: RecordedEvent, person_id, happened_at, detail: dict) -> None:
        cur.execute(
            f"INSERT INTO {SCHEMA}.timeline (position, person_id, happened_at, stream_type,"
            " stream_id, event_type, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (
                event.position,
                person_id,
                happened_at or event.recorded_at,
                event.stream_type,
                event.stream_id,
                event.event_type,
                Json(detail),
            ),
        )


def _session_detail(p: dict) -> dict:
    return {
        "session_kind": p["kind"],
        "mode": p["mode"],
        "referral_id": p["referral_id"],
        "duration_minutes": p.get("duration_minutes") or p.get("planned_duration_minutes"),
    }


def person_of_stream(cur, event: RecordedEvent):
    """The person a session, plan or signposting stream is about, for the audit trail."""
    table = {
        "session": ("session_list", "session_id"),
        "plan": ("plan_list", "plan_id"),
        "signposting": ("signposting_list", "signposting_id"),
    }.get(event.stream_type)
    if table is None:
        return None
    cur.execute(
        f"SELECT person_id FROM {SCHEMA}.{table[0]} WHERE {table[1]} = %s", (event.stream_id,)
    )
    row = cur.fetchone()
    return row[0] if row else None


def sessions_projector():
    """The read models and the audit trail, kept in every appending transaction."""
    from shared.audit import change_projector

    return chain(SessionsReadModel(), change_projector("sessions", person_of_stream))
