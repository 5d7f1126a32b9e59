"""The HTTP server under every service's routes: nameko's WebServer, stopping as a server should.

nameko's own server keeps listening until the service's dependencies have stopped, and ends the
connections still open by killing them. This one, as soon as the service is asked to stop,
takes no new connection, closes the keep-alive connections that wait for a next request,
answers every request it has begun (with `Connection: close`) and waits for those answers, up
to DRAIN_SECONDS, before the service's workers and dependencies are stopped.
"""

from __future__ import annotations

import time
from functools import partial

import eventlet
from eventlet.greenio import shutdown_safe
from eventlet.wsgi import STATE_CLOSE, STATE_IDLE
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer as NamekoWebServer

# How long a stopping service waits for the answers to the requests it has begun; the runner's
# bound (shared.runner.STOP_SECONDS) and a container's grace period (docker-compose.yml) are
# longer. A request of ours takes milliseconds; one held up longer is cut off.
DRAIN_SECONDS = 5.0


class WebServer(NamekoWebServer):
    """Keeps eventlet's state of each connection (idle between requests, or in a request), so
    that stopping closes the idle ones at once and waits for the others."""

    def __init__(self) -> None:
        super().__init__()
        self._connections: dict[int, list] = {}
        self._draining = False

    def run(self):
        while self._is_accepting:
            sock, address = self._sock.accept()
            sock.settimeout(self._serv.socket_timeout)
            connection = [address, sock, STATE_IDLE]  # eventlet.wsgi's connection state
            self._connections[id(connection)] = connection
            self.container.spawn_managed_thread(partial(self._serve, connection))

    def _serve(self, connection: list) -> None:
        try:
            self._serv.process_request(connection)
        except OSError as error:
            # a client gone very early (nameko's own server ignores it the same way)
            if "raw readinto() returned invalid length" not in str(error):
                raise
        finally:
            self._connections.pop(id(connection), None)
            connection[1].close()

    def drain(self, seconds: float = DRAIN_SECONDS) -> None:
        """Stop taking connections and wait (up to `seconds`) for the requests begun; every
        entrypoint's stop calls it, the first one starts it."""
        if not self._draining and self._serv is not None:
            self._draining = True
            self._is_accepting = False
            self._serv.keepalive = False  # an answer given from now on closes its connection
            self._gt.kill()
            self._sock.close()
            for connection in list(self._connections.values()):
                state, connection[2] = connection[2], STATE_CLOSE
                if state == STATE_IDLE:
                    shutdown_safe(connection[1])  # waiting for a request that is not coming
        deadline = time.monotonic() + seconds
        while self._connections and time.monotonic() < deadline:
            eventlet.sleep(0.02)

    def stop(self):
        self.drain()
        super().stop()


class HttpEntrypoint(HttpRequestHandler):
    """nameko's `http` entrypoint on the server above: stopping it drains the server first."""

    server = WebServer()

    def stop(self):
        self.server.drain()
        super().stop()


http = HttpEntrypoint.decorator
