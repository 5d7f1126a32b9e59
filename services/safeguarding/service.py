"""The safeguarding service of a partner node: concerns over HTTP, the deadline timer that
escalates them, and the sender of their e-mail. Its routes are mixed in from raising.py,
handling.py and reading.py, its timers from escalating.py; the rules live in domain/ (the
Concern aggregate, a module per part of its life, and the partner's timescales)."""

from __future__ import annotations

from psycogreen.eventlet import patch_psycopg

from contracts.safeguarding.events import registry
from services.safeguarding.escalating import DEADLINE_TIMER, MAIL_SENDER, EscalationTimers
from services.safeguarding.handling import HandlingApi
from services.safeguarding.notifications import NotificationOutbox, Smtp
from services.safeguarding.projections import SCHEMA, safeguarding_projector
from services.safeguarding.raising import RaisingApi
from services.safeguarding.reading import ReadingApi
from services.safeguarding.settings import SafeguardingSettings
from shared.service import Audit, EventStore, NodeSettings, Operations, PeopleVault
from shared.settings import ServiceSettings, settings_of
from shared.web import Verifier
from shared.workforce.roster import Workforce

patch_psycopg()


class SafeguardingService(RaisingApi, HandlingApi, ReadingApi, EscalationTimers, Operations):
    """Safeguarding concerns: raised by any worker, acknowledged and decided by a lead within
    the partner's timescales, escalated up the ladder by e-mail when a deadline passes, with
    actions, notes and a closing outcome."""

    name = "safeguarding"
    config = ServiceSettings(SafeguardingSettings)
    store = EventStore(
        SCHEMA,
        registry,
        make_projector=lambda: safeguarding_projector(
            settings_of(SafeguardingSettings).timescales,
            NotificationOutbox(settings_of(SafeguardingSettings).mail),
        ),
    )
    smtp = Smtp(lambda: settings_of(SafeguardingSettings).mail)
    audit = Audit()
    vault = PeopleVault()
    settings = NodeSettings()
    verifier = Verifier()
    workforce = Workforce()
    watches = (DEADLINE_TIMER, MAIL_SENDER)
