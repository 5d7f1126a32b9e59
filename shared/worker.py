"""The delivery worker of a node or of the hub: relays (node) and consumers (hub, and node
reactions), with /health and /metrics on its own port.

    python -m shared.worker node    # relays every service store of PEERLINK_PARTNER
    python -m shared.worker hub     # applies every partner's events to the hub projections
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared import metrics, policy
from shared.auth import (
    Forbidden,
    MachineCredential,
    Unauthenticated,
    feed_tokens,
    principal_from_header,
    verifier_from_environment,
)
from shared.config import NODE_SERVICES, Settings, broker_user, feed_urls, source_name
from shared.consumer import Consumer, HttpFeed, SenderCheck, run_catch_up, run_queue
from shared.db import Database
from shared.events import EventRegistry
from shared.eventstore import PostgresEventStore
from shared.hub_schema import hub_payload
from shared.relay import Relay, amqp_connection
from shared.web import Health, OpenApiDocument, openapi_document, route

log = logging.getLogger("peerlink.worker")

# How far past a consumer's checkpoint a message may claim to be before the source's feed must
# confirm it (events lost on a link come back this way; one feed read each)
HUB_MAX_AHEAD = 1000


def node_registry() -> EventRegistry:
    from services.referrals.schemas import registry as referrals
    from services.safeguarding.schemas import registry as safeguarding
    from services.sessions.schemas import registry as sessions

    return referrals.merged(sessions, safeguarding)


def _safeguarding():
    """The safeguarding store's projector, as its service has it: what the worker appends there
    (a suggested concern) reaches the lead's inbox and the notification outbox at once."""
    from services.safeguarding.configuration import MailSettings, timescales_from_environment
    from services.safeguarding.notifications import NotificationOutbox
    from services.safeguarding.projections import safeguarding_projector

    return safeguarding_projector(
        timescales_from_environment(), NotificationOutbox(MailSettings.from_environment())
    )


class Worker:
    def __init__(self, role: str, settings: Settings):
        self.role = role
        self.settings = settings
        self.db = Database(settings.database_url, maxconn=8, application_name=f"worker-{role}")
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.relays: list[Relay] = []
        self.consumers: list[Consumer] = []

    def start_node(self) -> None:
        from services.referrals.projections import referrals_projector
        from services.referrals.transfers import (
            InboundTransfers,
            SealedRecords,
            TransferReactions,
            TransferSender,
        )
        from shared.config import PARTNERS
        from shared.topology import REFERRALS_INBOUND_QUEUE
        from shared.transfer_keys import TransferKeys
        from shared.vault import MasterKeys, Vault

        partner = self.settings.partner_id
        registry = node_registry()
        referrals = PostgresEventStore(
            self.db, "referrals", registry, service="referrals", projector=referrals_projector()
        )
        # a record another partner sealed for this one waits in the vault until it is answered
        vault = Vault("vault", MasterKeys.from_environment(partner))
        inbound = InboundTransfers(
            "referrals-inbound",
            partner,
            PARTNERS,
            TransferReactions(referrals, partner, vault),
            SealedRecords(referrals, vault, TransferKeys.from_environment(partner)),
            self.db,
        )
        self._thread(
            "referrals-inbound",
            run_queue,
            inbound,
            self.settings.amqp_url,
            REFERRALS_INBOUND_QUEUE,
            self.stop,
        )
        # the records this partner sealed for others, each to its partner alone
        sender = TransferSender(self.db, self.settings.amqp_url, partner)
        self._thread("transfer-outbox", sender.run, self.stop)
        self._start_referral_status(referrals)
        self._start_safeguarding_signals(registry)
        for service in NODE_SERVICES:
            store = PostgresEventStore(self.db, service, registry, service=service)
            # only the fields the hub-side schema names leave the node, to the hub or to
            # another partner (an offer's coded details)
            relay = Relay(
                store,
                self.settings.amqp_url,
                source_name(self.settings.partner_id, service),
                payload_filter=hub_payload,
            )
            self.relays.append(relay)
            self._thread(f"relay-{service}", relay.run, self.stop)

    def _start_safeguarding_signals(self, registry: EventRegistry) -> None:
        """Signals in this partner's sessions that suggest a safeguarding concern; gaps are read
        straight from the sessions store of the same database."""
        from services.safeguarding.signals import CONSUMER, RepeatedDidNotAttend
        from shared.consumer import StoreFeed
        from shared.topology import SAFEGUARDING_SIGNALS_QUEUE

        sessions = PostgresEventStore(self.db, "sessions", registry, service="sessions")
        safeguarding = PostgresEventStore(
            self.db, "safeguarding", registry, service="safeguarding", projector=_safeguarding()
        )
        source = source_name(self.settings.partner_id, "sessions")
        consumer = Consumer(
            CONSUMER,
            self.db,
            "safeguarding",
            [RepeatedDidNotAttend(safeguarding, self.settings.partner_id)],
            StoreFeed({source: sessions}),
            **self._own_events_only(source),
        )
        self.consumers.append(consumer)
        self._thread(
            "safeguarding-signals",
            run_queue,
            consumer,
            self.settings.amqp_url,
            SAFEGUARDING_SIGNALS_QUEUE,
            self.stop,
        )
        self._thread("safeguarding-signals-catch-up", run_catch_up, consumer, [source], self.stop)

    def _own_events_only(self, source: str) -> dict:
        """A node's consumer of its own events checks them as the hub does: sent by this node's
        broker user, from this source, at a position the store holds."""
        return {
            "sender_check": SenderCheck([source], broker_user),
            "max_ahead": HUB_MAX_AHEAD,
        }

    def _start_referral_status(self, referrals: PostgresEventStore) -> None:
        """The sessions service's view of referral status, fed by this partner's referral
        events, and what a discharge asks it to close; gaps are read straight from the
        referrals store of the same database."""
        from services.sessions.discharge import OpenItemsClosing
        from services.sessions.projections import (
            CONSUMER,
            SCHEMA,
            ReferralStatus,
            sessions_projector,
        )
        from shared.consumer import StoreFeed
        from shared.topology import SESSIONS_REFERRALS_QUEUE

        source = source_name(self.settings.partner_id, "referrals")
        # what it appends reaches the sessions read model in the same transaction, as the
        # service's own appends do
        sessions = PostgresEventStore(
            self.db,
            "sessions",
            referrals.registry,
            service="sessions",
            projector=sessions_projector(),
        )
        consumer = Consumer(
            CONSUMER,
            self.db,
            SCHEMA,
            [ReferralStatus(), OpenItemsClosing(sessions, self.settings.partner_id)],
            StoreFeed({source: referrals}),
            **self._own_events_only(source),
        )
        self.consumers.append(consumer)
        self._thread(
            "sessions-referrals",
            run_queue,
            consumer,
            self.settings.amqp_url,
            SESSIONS_REFERRALS_QUEUE,
            self.stop,
        )
        self._thread("sessions-referrals-catch-up", run_catch_up, consumer, [source], self.stop)

    def start_hub(self) -> None:
        from services.reporting.projections import CONSUMER_NAME, PROJECTIONS, QUEUE, SCHEMA

        urls = feed_urls(self.settings.endpoints())
        feed = HttpFeed(urls, feed_tokens(MachineCredential.from_environment()))
        # a message counts only if the partner it names sent it, from one of its own sources,
        # at a position its feed holds (checked against the feed when far ahead)
        consumer = Consumer(
            CONSUMER_NAME,
            self.db,
            SCHEMA,
            PROJECTIONS,
            feed,
            sender_check=SenderCheck(urls, broker_user),
            max_ahead=HUB_MAX_AHEAD,
        )
        self.consumers.append(consumer)
        self._thread("hub-consumer", run_queue, consumer, self.settings.amqp_url, QUEUE, self.stop)
        self._thread("hub-catch-up", run_catch_up, consumer, sorted(urls), self.stop)

    def _thread(self, name, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def health(self) -> tuple[int, dict]:
        checks = {}
        try:
            self.db.ping()
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            conn = amqp_connection(self.settings.amqp_url)
            conn.connect()
            conn.close()
            checks["broker"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["broker"] = f"unavailable: {type(error).__name__}"
        for thread in self.threads:
            checks[thread.name] = "ok" if thread.is_alive() else "stopped"
        healthy = all(value == "ok" for value in checks.values())
        return (200 if healthy else 503), {
            "status": "ok" if healthy else "unhealthy",
            "checks": checks,
        }


class WorkerApi:
    """The delivery worker's own port: its health (the database, the broker and every relay
    and consumer thread) and its metrics. It records nothing and serves no record."""

    name = "worker"

    @route(
        "GET",
        "/health",
        public=True,
        response=Health,
        summary="Check the database, the broker and every relay and consumer thread",
    )
    def health(self, request, principal):  # served by serve_http's handler
        raise NotImplementedError

    @route(
        "GET",
        "/metrics",
        roles=policy.MAY_READ_METRICS,
        media="text/plain",
        summary="Read Prometheus metrics",
    )
    def metrics(self, request, principal):  # served by serve_http's handler
        raise NotImplementedError

    @route(
        "GET",
        "/openapi.json",
        public=True,
        response=OpenApiDocument,
        summary="Read this API's OpenAPI document",
    )
    def openapi(self, request, principal):  # served by serve_http's handler
        raise NotImplementedError


def serve_http(worker: Worker, address: str) -> ThreadingHTTPServer:
    host, port = address.rsplit(":", 1)
    verifier = verifier_from_environment(worker.settings.partner_id)
    document = json.dumps(openapi_document(WorkerApi, f"Peerlink {worker.role} worker")).encode()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/openapi.json":
                self._send(200, document, "application/json")
            elif self.path == "/health":
                status, body = worker.health()
                self._send(status, json.dumps(body).encode(), "application/json")
            elif self.path == "/metrics":
                try:
                    principal = principal_from_header(verifier, self.headers.get("Authorization"))
                except (Unauthenticated, Forbidden) as error:
                    status, code = (
                        (403, "forbidden")
                        if isinstance(error, Forbidden)
                        else (401, "unauthenticated")
                    )
                    self._send(
                        status,
                        json.dumps({"error": code, "message": str(error)}).encode(),
                        "application/json",
                    )
                    return
                if principal.role not in policy.MAY_READ_METRICS:
                    self._send(403, b'{"error": "forbidden"}', "application/json")
                    return
                body, content_type = metrics.exposition()
                self._send(200, body, content_type)
            else:
                self._send(404, b'{"error": "not_found"}', "application/json")

        def log_message(self, format, *args):  # noqa: A002 - http.server's signature
            log.debug(format, *args)

    server = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.worker")
    parser.add_argument("role", choices=["node", "hub"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
    settings = Settings.from_environment("worker")
    worker = Worker(args.role, settings)
    if args.role == "node":
        worker.start_node()
    else:
        worker.start_hub()
    server = serve_http(worker, os.environ.get("PEERLINK_HTTP_ADDRESS", "127.0.0.1:8090"))
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    log.info("worker %s for %s started", args.role, settings.partner_id)
    worker.stop.wait()
    server.shutdown()
    for thread in worker.threads:
        thread.join(timeout=5)


if __name__ == "__main__":
    main()
