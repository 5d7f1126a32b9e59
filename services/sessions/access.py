"""Who may see and record what in the sessions service, beyond the role each route names.

Team leads and partner admins see their whole partner. A peer worker sees the people on their
own caseload (referrals allocated to them and not ended), the people of the groups they
facilitate and the people at sessions they ran, and who is in a group (its members, waiting
list and register) only for the groups they facilitate, or, for one session of a group, when a
team lead or one of its facilitators named them to run it (a cover for the day: that session's
register, not the group's others); they record sessions they run or whose group they
facilitate, and about people only as the caseload rules allow (caseload.py), so their own
recording never widens whom they see.
"""

from __future__ import annotations

import uuid

from contracts.referrals.codes import ACTIVE, ALLOCATED, ON_HOLD
from services.sessions import caseload
from services.sessions.domain import Group, Session
from services.sessions.tables import SCHEMA
from shared.auth import Forbidden, Principal

# the referral states that put a person on their allocated worker's caseload
OPEN_REFERRAL_STATES = (ALLOCATED, ACTIVE, ON_HOLD)


def sees_everyone(principal: Principal) -> bool:
    return principal.role != "peer_worker"


def sees_person(cur, principal: Principal, person_id) -> bool:
    if sees_everyone(principal):
        return True
    user, person = principal.user_id, str(person_id)
    cur.execute(
        f"""SELECT EXISTS (
                SELECT 1 FROM {SCHEMA}.referral_status
                WHERE person_id = %s AND worker_id = %s AND status = ANY(%s))
            OR EXISTS (
                SELECT 1 FROM {SCHEMA}.group_people p JOIN {SCHEMA}.group_list g USING (group_id)
                WHERE p.person_id = %s AND %s = ANY(g.facilitator_ids))
            OR EXISTS (
                SELECT 1 FROM {SCHEMA}.attendance a JOIN {SCHEMA}.session_list s USING (session_id)
                WHERE a.person_id = %s AND %s = ANY(s.worker_ids))""",
        (person, user, list(OPEN_REFERRAL_STATES), person, user, person, user),
    )
    return cur.fetchone()[0]


def require_person(cur, principal: Principal, person_id) -> None:
    if not sees_person(cur, principal, person_id):
        raise Forbidden("this person is not on your caseload or in a group you facilitate")


def facilitates(cur, principal: Principal, group_id: str | None) -> bool:
    if not group_id:
        return False
    cur.execute(
        f"SELECT %s = ANY(facilitator_ids) FROM {SCHEMA}.group_list WHERE group_id = %s",
        (principal.user_id, group_id),
    )
    row = cur.fetchone()
    return bool(row and row[0])


def sees_session(cur, principal: Principal, session: Session) -> bool:
    if sees_everyone(principal) or principal.user_id in session.worker_ids:
        return True
    if facilitates(cur, principal, session.group_id):
        return True
    return bool(session.person_id) and sees_person(cur, principal, session.person_id)


def require_session(cur, principal: Principal, session: Session) -> None:
    if not sees_session(cur, principal, session):
        raise Forbidden("you did not run this session and its person is not on your caseload")


def require_runs_session(cur, principal: Principal, session: Session) -> None:
    """Recording on a session: a peer worker runs it, or facilitates its group."""
    if sees_everyone(principal) or principal.user_id in session.worker_ids:
        return
    if facilitates(cur, principal, session.group_id):
        return
    raise Forbidden("a peer worker records only sessions they run or whose group they facilitate")


class GroupMembersRefused(Forbidden):
    """Who is in a group, read by a peer worker who does not facilitate it (HTTP 403): its
    members are on its facilitators' caseloads, not on everyone's."""

    rule = "PeerWorkerSeesOnlyTheMembersOfGroupsTheyFacilitate"


def require_sees_members(principal: Principal, group: Group, what: str) -> None:
    """Reading who is in a group (members, waiting list, register): its facilitators, and those
    who see the whole partner."""
    if sees_everyone(principal) or principal.user_id in group.facilitator_ids:
        return
    raise GroupMembersRefused(
        f"only the group's facilitators may {what} (rule {GroupMembersRefused.rule})"
    )


def covers(cur, principal: Principal, session: Session) -> bool:
    """Whether a peer worker runs a group's session as named by a team lead, a partner admin or
    one of the group's facilitators (caseload.is_named_to_run), read from the session's own
    events: who set its workers, in which role."""
    if (
        sees_everyone(principal)
        or not session.group_id
        or principal.user_id not in session.worker_ids
    ):
        return False
    cur.execute(
        f"SELECT actor_id, actor_role, payload->'worker_ids' FROM {SCHEMA}.events"
        " WHERE stream_type = %s AND stream_id = %s"
        " AND event_type IN ('SessionBooked', 'SessionRecorded') ORDER BY version",
        (Session.stream_type, session.id),
    )
    namings = cur.fetchall()
    cur.execute(
        f"SELECT facilitator_ids FROM {SCHEMA}.group_list WHERE group_id = %s",
        (session.group_id,),
    )
    row = cur.fetchone()
    return caseload.is_named_to_run(principal.user_id, namings, row[0] if row else ())


def require_reads_register(cur, principal: Principal, group: Group, session: Session | None):
    """A group's register: its facilitators and those who see the whole partner read all of it;
    a peer worker named to run one of its sessions (`covers`) reads that session's."""
    if sees_everyone(principal) or principal.user_id in group.facilitator_ids:
        return
    if session is not None and covers(cur, principal, session):
        return
    raise GroupMembersRefused(
        "only the group's facilitators may read its register, and a worker a team lead or a"
        " facilitator named to run one of its sessions that session's"
        f" (rule {GroupMembersRefused.rule})"
    )


def group_people_they_cover(cur, principal: Principal, session: Session | None) -> set[str]:
    """The members and waiting list of the group whose session the peer worker was named to
    run (`covers`): on their caseload for that session."""
    if session is None or not covers(cur, principal, session):
        return set()
    cur.execute(
        f"SELECT person_id::text FROM {SCHEMA}.group_people WHERE group_id = %s",
        (session.group_id,),
    )
    return {person for (person,) in cur.fetchall()}


def require_facilitates(principal: Principal, group: Group) -> None:
    if sees_everyone(principal) or principal.user_id in group.facilitator_ids:
        return
    raise Forbidden("a peer worker changes only groups they facilitate")


class CaseloadRefused(Forbidden):
    """A caseload rule refused the caller (HTTP 403); the message names the rule."""

    def __init__(self, broken: caseload.PeerWorkerRecordsOnlyTheirCaseload):
        super().__init__(f"{broken.message} (rule {broken.rule})")
        self.rule = broken.rule


def caseload_grounds(cur, principal: Principal, person_ids) -> dict[str, set[str]]:
    """The links that put each person on a peer worker's caseload wherever they are recorded: an
    open referral allocated to them, a place in a group they facilitate. Attendance at sessions
    they ran is left out: it is what their own recording makes."""
    people = list(dict.fromkeys(str(uuid.UUID(str(p))) for p in person_ids))
    grounds: dict[str, set[str]] = {person: set() for person in people}
    if not people:
        return grounds
    cur.execute(
        f"""SELECT person_id::text, %s FROM {SCHEMA}.referral_status
            WHERE person_id = ANY(%s::uuid[]) AND worker_id = %s AND status = ANY(%s)
            UNION
            SELECT p.person_id::text, %s
            FROM {SCHEMA}.group_people p JOIN {SCHEMA}.group_list g USING (group_id)
            WHERE p.person_id = ANY(%s::uuid[]) AND %s = ANY(g.facilitator_ids)""",
        (
            caseload.ALLOCATED_REFERRAL,
            people,
            principal.user_id,
            list(OPEN_REFERRAL_STATES),
            caseload.GROUP_THEY_FACILITATE,
            people,
            principal.user_id,
        ),
    )
    for person, ground in cur.fetchall():
        grounds[person].add(ground)
    return grounds


def require_on_caseload(cur, principal: Principal, person_ids, session: Session | None = None):
    """Before recording what links these people to the caller (attendance, a group place, notes
    about them): each must already be on the caller's caseload. `session`, a session the caller
    ran before this command, adds its own links (its booked person, attendance others recorded,
    its group's people when they were named to run it)."""
    if principal.role in caseload.SEES_THE_PARTNER:
        return
    covered = group_people_they_cover(cur, principal, session)
    for person, grounds in caseload_grounds(cur, principal, person_ids).items():
        if session is not None:
            grounds |= caseload.grounds_at_session(session, person, principal.user_id)
        if person in covered:
            grounds.add(caseload.GROUP_SESSION_THEY_COVER)
        try:
            caseload.must_be_on_caseload(principal.role, grounds)
        except caseload.PeerWorkerRecordsOnlyTheirCaseload as broken:
            raise CaseloadRefused(broken) from None
