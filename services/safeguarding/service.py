"""The safeguarding service of a partner node."""

from __future__ import annotations

from psycogreen.eventlet import patch_psycopg

from services.safeguarding.schemas import registry
from shared.service import EventStore, NodeSettings, Operations
from shared.web import Secret

patch_psycopg()


class SafeguardingService(Operations):
    """Safeguarding: its event store, event feed and operations endpoints."""

    name = "safeguarding"
    store = EventStore("safeguarding", registry)
    settings = NodeSettings()
    auth_secret = Secret()
