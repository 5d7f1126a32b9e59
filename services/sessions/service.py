"""The sessions service of a partner node: sessions and attendance, groups and their registers,
plans, signposting, outcome measures, a worker's diary and a person's timeline. Its dependencies
and the route modules it mixes in (recording.py, reading.py, groups.py, plans.py,
signposting.py, outcomes.py); rules live in the domain package, who may see what in access.py,
reads in queries.py."""

from __future__ import annotations

from psycogreen.eventlet import patch_psycopg

from contracts.sessions.events import registry
from services.sessions.groups import GroupsApi
from services.sessions.outcomes import OutcomesApi
from services.sessions.plans import PlansApi
from services.sessions.projections import SCHEMA, sessions_projector
from services.sessions.reading import SessionReading
from services.sessions.recording import SessionRecording
from services.sessions.settings import SessionSettings
from services.sessions.signposting import SignpostingApi
from shared.service import Audit, EventStore, NodeSettings, Operations, PeopleVault
from shared.settings import ServiceSettings
from shared.web import Verifier
from shared.workforce.roster import Workforce

patch_psycopg()


class SessionsService(
    SessionRecording,
    SessionReading,
    GroupsApi,
    PlansApi,
    SignpostingApi,
    OutcomesApi,
    Operations,
):
    """Sessions: one-to-ones, groups, drop-ins and carer support with who attended, groups and
    their registers, recovery and crisis plans, signposting, outcome measures, diaries and
    timelines."""

    name = "sessions"
    config = ServiceSettings(SessionSettings)
    store = EventStore(SCHEMA, registry, projector=sessions_projector())
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()


__all__ = ["SessionsService"]
