"""Who may see and record what in the sessions service, beyond the role each route names.

Team leads and partner admins see their whole partner. A peer worker sees the people on their
own caseload (referrals allocated to them and not ended), the people of the groups they
facilitate and the people at sessions they ran; they record sessions they run or whose group
they facilitate.
"""

from __future__ import annotations

from services.sessions.domain import Group, Session
from services.sessions.projections import SCHEMA
from shared.auth import Forbidden, Principal

OPEN_REFERRAL_STATES = ("allocated", "active", "on_hold")


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


def require_facilitates(principal: Principal, group: Group) -> None:
    if sees_everyone(principal) or principal.user_id in group.facilitator_ids:
        return
    raise Forbidden("a peer worker changes only groups they facilitate")
