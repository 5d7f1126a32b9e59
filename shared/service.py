"""What every nameko service of a node shares: its event store as a dependency, and the
operations endpoints (/health, /metrics, /openapi.json, /events)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from shared import metrics, policy
from shared.audit import AuditLog
from shared.auth import HUB_PARTNER, Forbidden
from shared.config import Settings
from shared.db import Database, Reachability, shared_database
from shared.events import EventRegistry
from shared.eventstore import PostgresEventStore
from shared.hub_edge import HubEdge, HubEdgeSettings
from shared.relay import amqp_connection
from shared.settings import ServiceSettings
from shared.web import (
    EventFeed,
    EventFeedQuery,
    Health,
    OpenApiDocument,
    json_response,
    openapi_document,
    route,
)

log = logging.getLogger(__name__)


class EventStore(DependencyProvider):
    """Hands each worker the service's event store (domain verbs, never a raw connection)."""

    def __init__(
        self,
        schema: str,
        registry: EventRegistry,
        projector=None,
        make_projector: Callable[[], Callable] | None = None,
    ):
        """`make_projector` builds the projector as the service sets up, when it needs the
        service's settings (shared/settings.py)."""
        self.schema = schema
        self.registry = registry
        self.projector = projector
        self.make_projector = make_projector

    def setup(self):
        self.settings = Settings.from_environment(self.container.service_name)
        # the process's one pool, shared with the audit trail and the workforce
        self.db = shared_database(
            self.settings.database_url, maxconn=10, application_name=self.container.service_name
        )
        self.store = PostgresEventStore(
            self.db,
            self.schema,
            self.registry,
            service=self.container.service_name,
            projector=self.make_projector() if self.make_projector else self.projector,
        )

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.store


class Audit(DependencyProvider):
    """The audit trail of the node, for recording reads (changes are recorded with events)."""

    def setup(self):
        settings = Settings.from_environment(self.container.service_name)
        self.db = shared_database(
            settings.database_url, maxconn=4, application_name=self.container.service_name
        )
        self.log = AuditLog(self.db, self.container.service_name)

    def stop(self):
        self.db.close()

    def get_dependency(self, worker_ctx):
        return self.log


class PeopleVault(DependencyProvider):
    """The node's people vault (identifiers encrypted per person) under its partner's master
    key."""

    def setup(self):
        from shared.vault import MasterKeys, Vault

        partner = Settings.from_environment(self.container.service_name).partner_id
        self.vault = Vault("vault", MasterKeys.from_environment(partner))

    def get_dependency(self, worker_ctx):
        return self.vault


class NodeSettings(DependencyProvider):
    """The process's partner, database and broker (a node's, or the hub's), read as the service
    sets up."""

    def setup(self):
        self.settings = Settings.from_environment(self.container.service_name)

    def get_dependency(self, worker_ctx):
        return self.settings


def history_of(events) -> list[dict]:
    """A stream's events as its history for a reader: envelopes without the partner and
    stream type the reader already knows."""
    return [
        {k: v for k, v in event.envelope().items() if k not in ("partner_id", "stream_type")}
        for event in events
    ]


def check_health(db: Database, amqp_url: str, watches: tuple[Reachability, ...] = ()) -> Response:
    """The database and the broker, and each of `watches` (a timer, a sender): "ok" or since
    when it has waited for the database."""
    checks = {}
    try:
        db.ping()
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        conn = amqp_connection(amqp_url)
        conn.connect()
        conn.close()
        checks["broker"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["broker"] = f"unavailable: {type(error).__name__}"
    for watch in watches:
        checks[watch.component] = watch.check()
    healthy = all(value == "ok" for value in checks.values())
    return json_response(
        200 if healthy else 503, {"status": "ok" if healthy else "unhealthy", "checks": checks}
    )


class Described:
    """/metrics for operators and /openapi.json for anyone; expects `name` and `verifier`."""

    @route(
        "GET",
        "/metrics",
        roles=policy.MAY_READ_METRICS,
        media="text/plain",
        summary="Read Prometheus metrics",
    )
    def metrics(self, request, principal):
        body, content_type = metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @route(
        "GET",
        "/openapi.json",
        public=True,
        response=OpenApiDocument,
        summary="Read this API's OpenAPI document",
    )
    def openapi(self, request, principal):
        return openapi_document(type(self), f"Peerlink {self.name}")


class Operations(Described):
    """Mixed into every node service; expects `name`, `store`, `settings`, `verifier`, and
    may name `watches`: the parts of it that run on their own (timers) whose database outage
    /health reports."""

    watches: tuple[Reachability, ...] = ()
    # the partner's pseudonym key for the events its feed hands the hub, read as the service
    # sets up: a service without a usable key does not start
    hub_edge = ServiceSettings(HubEdgeSettings)

    @route(
        "GET",
        "/health",
        public=True,
        response=Health,
        summary="Check the database and the broker (503 when either is down)",
    )
    def health(self, request, principal):
        return check_health(self.store.db, self.settings.amqp_url, self.watches)

    @route(
        "GET",
        "/events",
        roles=policy.MAY_READ_EVENT_FEED,
        query=EventFeedQuery,
        response=EventFeed,
        summary="Read this service's events after a position (the event feed)",
    )
    def event_feed(self, request, principal, query):
        if principal.partner_id not in (self.settings.partner_id, HUB_PARTNER):
            raise Forbidden("a service of another partner may not read this feed")
        page = self.store.read_after(query["after"], query["limit"])
        if principal.partner_id == HUB_PARTNER:
            # the hub gets every position (so it can tell a gap), each event in its hub shape:
            # ids pseudonymised, only the fields the hub-side allow-list names
            edge = HubEdge(self.store.db, self.settings.partner_id, self.hub_edge.pseudonyms)
            envelopes = edge.hub_envelopes(page.events)
        else:
            envelopes = [event.envelope() for event in page.events]
        return {
            "source": f"{self.settings.partner_id}/{self.name}",
            "events": envelopes,
            "next_after": page.next_after,
        }
