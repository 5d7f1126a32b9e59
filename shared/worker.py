"""What a delivery worker runs on: its threads (relays, consumers), each watched through a
database outage, its /health and /metrics on a port of its own, and stopping on SIGTERM.

The workers themselves put the services' parts together: services/node_worker (a node's relays
and reactions) and services/hub_worker (the hub's consumer). This module knows no service.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared import metrics, policy
from shared.auth import (
    Forbidden,
    Unauthenticated,
    principal_from_header,
    verifier_from_environment,
)
from shared.config import Settings
from shared.consumer import Consumer
from shared.db import Database, Reachability
from shared.relay import Relay, amqp_connection
from shared.settings import host_and_port, read_all, setting, settings_of
from shared.web import Health, OpenApiDocument, openapi_document, route

log = logging.getLogger("peerlink.worker")

# How far past a consumer's checkpoint a message may claim to be before the source's feed must
# confirm it (events lost on a link come back this way; one feed read each)
HUB_MAX_AHEAD = 1000


@dataclass(frozen=True)
class WorkerSettings:
    # where the worker answers /health, /metrics and /openapi.json
    http_address: str = setting("PEERLINK_HTTP_ADDRESS", "127.0.0.1:8090", host_and_port)


class Worker:
    """A delivery worker: `start()` starts its threads (each through `_thread`)."""

    # the typed settings it reads (shared/settings.py): all of them before anything starts
    settings_classes: tuple[type, ...] = (WorkerSettings,)

    def __init__(self, role: str, settings: Settings):
        self.role = role
        self.settings = settings
        self.db = Database(settings.database_url, maxconn=8, application_name=f"worker-{role}")
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.relays: list[Relay] = []
        self.consumers: list[Consumer] = []
        # each thread's view of the database: an outage it waits through shows in /health
        self.watches: dict[str, Reachability] = {}

    def start(self) -> None:
        raise NotImplementedError

    def _thread(self, name, target, *args, watch: Reachability | None = None) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        if watch is not None:
            self.watches[name] = watch

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
            watch = self.watches.get(thread.name)
            if not thread.is_alive():
                checks[thread.name] = "stopped"
            else:
                # waiting through a database outage: alive, and saying since when
                checks[thread.name] = watch.check() if watch is not None else "ok"
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
        summary="Check the database, the broker and every relay and consumer thread (each"
        " says since when it has waited for the database during an outage)",
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
    # polled often, so that stopping does not wait half a second for the loop to notice
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
    ).start()
    return server


# How long a stopping worker waits for its relays and consumers to finish the batch in hand; a
# container's grace period (docker-compose.yml) is longer. A batch takes milliseconds: one held
# up longer is left undone (its messages go back to the queue, the relay's checkpoint stays
# where it was) and done again after the next start.
STOP_SECONDS = 5.0


def run(worker: Worker) -> None:
    """Starts the worker and its HTTP port, and runs until SIGTERM or SIGINT; then exits (0 when
    every thread finished the batch in hand in time)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
    )
    # every setting missing or invalid named at once, before a thread starts
    read_all(*worker.settings_classes)
    worker.start()
    server = serve_http(worker, settings_of(WorkerSettings).http_address)
    # A signal may arrive on any thread, and only the main thread runs Python's handlers, so it
    # sleeps on the interpreter's wakeup pipe (written on every signal), not on `worker.stop`.
    wakeup, signalled = os.pipe()
    os.set_blocking(signalled, False)
    signal.set_wakeup_fd(signalled)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    log.info("worker %s for %s started", worker.role, worker.settings.partner_id)
    while not worker.stop.is_set():
        select.select([wakeup], [], [])
        os.read(wakeup, 64)
    log.info("stopping: taking no new work, finishing the batches in hand")
    sys.exit(finish(worker, server))


def finish(worker: Worker, server: ThreadingHTTPServer, seconds: float = STOP_SECONDS) -> int:
    """Once `worker.stop` is set: the port closed, every relay and consumer thread given until
    one deadline to finish its batch, then the database closed; the exit status (1 when a
    thread was still busy at the deadline)."""
    deadline = time.monotonic() + seconds
    server.shutdown()
    server.server_close()
    for thread in worker.threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0))
    busy = [thread.name for thread in worker.threads if thread.is_alive()]
    if busy:
        log.error("still busy %.0f s after being asked to stop: %s", seconds, ", ".join(busy))
        return 1
    worker.db.close()
    log.info("stopped")
    return 0
