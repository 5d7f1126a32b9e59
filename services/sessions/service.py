"""The sessions service of a partner node."""

from __future__ import annotations

from psycogreen.eventlet import patch_psycopg

from services.sessions.schemas import registry
from shared.service import EventStore, NodeSettings, Operations
from shared.web import Secret

patch_psycopg()


class SessionsService(Operations):
    """Sessions: its event store, event feed and operations endpoints."""

    name = "sessions"
    store = EventStore("sessions", registry)
    settings = NodeSettings()
    auth_secret = Secret()
