"""Caseload rules: about whom a worker may record attendance, group places and session notes.

Seeing a person follows from links (sessions run, groups facilitated), so recording a link must
not be the way a peer worker comes to see someone: the links that let them record about a person
are ones a lead decided (an allocated referral, a session booked for the person) or that were
themselves recorded by someone allowed. Pure: the service looks the links up and passes them in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from services.sessions.domain import Session
from shared.aggregate import Rule

# Roles that see, and so record about, everyone of their partner.
SEES_THE_PARTNER = ("team_lead", "partner_admin")
PEER_WORKER = "peer_worker"

# What puts a person on a peer worker's caseload; none of them can come from the worker's own
# recording alone.
ALLOCATED_REFERRAL = "allocated_referral"  # a lead allocated the person's open referral to them
GROUP_THEY_FACILITATE = "group_they_facilitate"  # a member or waiting, added by someone allowed
BOOKED_FOR_THEIR_SESSION = "booked_for_their_session"  # the person a session they run is for
RECORDED_BY_ANOTHER = "recorded_by_another"  # attendance someone else recorded at their session
# a member or waiting, of the group whose session a lead or a facilitator named them to run
GROUP_SESSION_THEY_COVER = "group_session_they_cover"
GROUNDS = (
    ALLOCATED_REFERRAL,
    GROUP_THEY_FACILITATE,
    BOOKED_FOR_THEIR_SESSION,
    RECORDED_BY_ANOTHER,
    GROUP_SESSION_THEY_COVER,
)


class PeerWorkerRecordsOnlyTheirCaseload(Rule):
    pass


def grounds_at_session(session: Session, person_id: str, worker_id: str) -> set[str]:
    """What a session, as it stands before the command, says about a worker and a person: only
    a session the worker runs counts, and never attendance the worker recorded themselves."""
    if worker_id not in (session.worker_ids or ()):
        return set()
    person_id = str(person_id)
    grounds = set()
    if session.person_id == person_id:
        grounds.add(BOOKED_FOR_THEIR_SESSION)
    if any(
        entry.get("person_id") == person_id
        and "recorded_by" in entry
        and entry["recorded_by"] != worker_id
        for entry in session.attendance_history
    ):
        grounds.add(RECORDED_BY_ANOTHER)
    return grounds


def is_named_to_run(
    worker_id: str,
    namings: Iterable[tuple[str, str, Sequence[str]]],
    facilitator_ids: Collection[str],
) -> bool:
    """Whether the worker runs a group's session by the word of someone who sees the group's
    members: a team lead, a partner admin or one of its facilitators (a cover for the day).
    `namings`: each event that set the session's workers, in order, as (who, their role, the
    workers). A place the worker gave themselves, or a peer worker who does not facilitate the
    group gave them, does not count, and neither does one since taken away."""
    workers: Sequence[str] = ()
    given = False
    for by, role, named in namings:
        if worker_id in named and worker_id not in workers:
            given = role in SEES_THE_PARTNER or by in facilitator_ids
        workers = named
    return given and worker_id in workers


def may_record_about(role: str, grounds: Collection[str]) -> bool:
    if role in SEES_THE_PARTNER:
        return True
    return role == PEER_WORKER and any(ground in GROUNDS for ground in grounds)


def must_be_on_caseload(role: str, grounds: Collection[str]) -> None:
    if not may_record_about(role, grounds):
        raise PeerWorkerRecordsOnlyTheirCaseload(
            "a peer worker records attendance, group places and notes only for people already"
            " on their caseload (a referral allocated to them, a group they facilitate or whose"
            " session they were named to run, a session booked for the person); a team lead"
            " records anyone else"
        )
