"""An SMTP sink for the local stacks: accepts every message (aiosmtpd) and appends it as one JSON
line to a mailbox file, so tests and benchmarks read what was delivered and when; answers
GET /health over HTTP for the stack's start-up check. Never for production: a real node
relays through its organisation's SMTP server (PEERLINK_SMTP_HOST, PEERLINK_SMTP_PORT).

On SIGTERM it takes no new connection, lets a message being sent finish (answered and written
down), closes every session between messages with 421, and exits 0.

    python -m deploy.mailsink --smtp 127.0.0.1:8025 --http 127.0.0.1:8026 --mailbox FILE
"""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import signal
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.smtp import SMTP

# How long a stopping sink waits for the messages being sent to it (a safeguarding sender's
# batch takes milliseconds); deploy/stack.py's stop waits longer.
STOP_SECONDS = 5.0


class Mailbox:
    """aiosmtpd handler: one JSON line per message, written before the server answers 250."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        received_at = time.time()
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        line = {
            "received_at": received_at,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message_id": (message.get("Message-ID") or "").strip(),
            "subject": message.get("Subject"),
            "kind": message.get("X-Peerlink-Kind"),
            "body": message.get_body(("plain",)).get_content() if message.get_body() else "",
        }
        with self.lock, self.path.open("a") as out:
            out.write(json.dumps(line) + "\n")
        return "250 Message accepted for delivery"


class Session(SMTP):
    """An SMTP session the sink keeps among its open `sessions`, so that stopping can tell a
    session between messages from one in the middle of a message."""

    def __init__(self, handler, sessions: set, **kwargs):
        super().__init__(handler, **kwargs)
        self.sessions = sessions

    def connection_made(self, transport):
        super().connection_made(transport)
        self.sessions.add(self)

    def connection_lost(self, error):
        self.sessions.discard(self)
        super().connection_lost(error)

    @property
    def is_between_messages(self) -> bool:
        return self.envelope is None or self.envelope.mail_from is None

    def end(self) -> None:
        """Ends the session: 421, then the connection closed."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 peerlink-mailsink closing\r\n")  # RFC 5321 4.2.2
            self.transport.close()


async def close_sessions(sessions: set, seconds: float) -> None:
    """Close each session once it is between messages; after `seconds`, close the rest."""
    deadline = time.monotonic() + seconds
    while sessions and time.monotonic() < deadline:
        for session in list(sessions):
            if session.is_between_messages:
                session.end()
        await asyncio.sleep(0.02)
    for session in list(sessions):
        session.end()
    await asyncio.sleep(0)  # the transports' last writes


def read_mailbox(path: Path | str) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _health_server(address: tuple[str, int]) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            ok = self.path == "/health"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}' if ok else b"")

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer(address, Health)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="deploy/mailsink.py")
    parser.add_argument("--smtp", default="127.0.0.1:8025")
    parser.add_argument("--http", default="127.0.0.1:8026")
    parser.add_argument("--mailbox", required=True)
    args = parser.parse_args(argv)
    mailbox = Mailbox(Path(args.mailbox))
    health = _health_server(_address(args.http))
    threading.Thread(target=health.serve_forever, args=(0.1,), daemon=True).start()
    loop = asyncio.new_event_loop()
    host, port = _address(args.smtp)
    sessions: set[Session] = set()
    server = loop.run_until_complete(
        loop.create_server(
            lambda: Session(mailbox, sessions, hostname="peerlink-mailsink"), host, port
        )
    )
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    print(f"mailsink: SMTP on {args.smtp}, health on {args.http}, mailbox {args.mailbox}")
    loop.run_until_complete(stopping.wait())
    print("mailsink: stopping", flush=True)
    server.close()
    loop.run_until_complete(close_sessions(sessions, STOP_SECONDS))
    loop.run_until_complete(server.wait_closed())
    loop.close()
    health.shutdown()
    health.server_close()


if __name__ == "__main__":
    main()
