"""The relay: publishes every committed event of one store to RabbitMQ, in position order,
persistent, mandatory and confirmed, and records how far the broker has confirmed.

Crash anywhere and the relay starts again from its checkpoint: events may be published twice
(consumers drop duplicates), never lost.
"""

from __future__ import annotations

import json
import logging
import select
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import amqp
import psycopg2

from shared import metrics
from shared.db import Reachability, is_database_error
from shared.events import RecordedEvent
from shared.eventstore import PostgresEventStore

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = "peerlink.events"


class PublishRefused(Exception):
    """The broker nacked or returned (unroutable) a message: nothing of the batch is recorded."""


def amqp_connection(url: str, **kwargs) -> amqp.Connection:
    parts = urlparse(url)
    vhost = unquote(parts.path[1:]) if parts.path not in ("", "/") else "/"
    return amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        virtual_host=vhost,
        connect_timeout=5,
        **kwargs,
    )


def routing_key(event: RecordedEvent, service: str) -> str:
    return f"{event.partner_id}.{service}.{event.event_type}"


def wire_message(event: RecordedEvent, source: str, previous_position: int) -> dict:
    """The envelope as published, with its source and the position before it."""
    return {**event.envelope(), "source": source, "previous_position": previous_position}


def broker_user_of(url: str) -> str:
    return unquote(urlparse(url).username or "")


class Publisher:
    """A confirm-mode channel that publishes a batch and waits for the broker to confirm all of
    it, so one round of confirms covers hundreds of events.

    Every message carries the connection's user as its `user_id`: the broker refuses one whose
    user_id is not the user that publishes it, so a consumer knows which tenant sent it."""

    def __init__(self, url: str, exchange: str = EVENTS_EXCHANGE):
        self.url = url
        self.exchange = exchange
        self.user_id = broker_user_of(url)
        self._conn: Any = None  # amqp.Connection once open
        self._channel: Any = None
        self._confirmed = 0
        self._published = 0
        self._refused: list[str] = []

    def _open(self):
        if self._conn is not None:
            return
        conn = amqp_connection(self.url)
        conn.connect()
        channel = conn.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._conn, self._channel = conn, channel
        self._confirmed = self._published = 0

    def _on_ack(self, delivery_tag, multiple):
        self._confirmed = max(self._confirmed, delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self._refused.append(f"broker nacked delivery {delivery_tag}")
        self._confirmed = max(self._confirmed, delivery_tag)

    def _on_return(self, exc, exchange, routing_key, message):
        self._refused.append(f"unroutable: {exchange} {routing_key}")

    def publish(self, messages: list[tuple], timeout: float = 10.0) -> None:
        """Publish (routing key, body) pairs, or (exchange, routing key, body) triples for
        another exchange than the publisher's; returns once the broker confirmed every one."""
        self._open()
        self._refused = []
        for item in messages:
            exchange, key, body = item if len(item) == 3 else (self.exchange, *item)
            message = amqp.Message(
                json.dumps(body, separators=(",", ":")),
                content_type="application/json",
                delivery_mode=2,
                message_id=body["event_id"],
                user_id=self.user_id,
                application_headers={"event_type": body["event_type"], "source": body["source"]},
            )
            self._channel.basic_publish(message, exchange=exchange, routing_key=key, mandatory=True)
            self._published += 1
        deadline = time.monotonic() + timeout
        while self._confirmed < self._published:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise PublishRefused("broker did not confirm in time")
            self._conn.drain_events(timeout=remaining)
        if self._refused:
            raise PublishRefused("; ".join(self._refused[:3]))

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - the connection is being thrown away anyway
                log.debug("closing a broken broker connection", exc_info=True)
        self._conn = self._channel = None


class Relay:
    def __init__(
        self,
        store: PostgresEventStore,
        amqp_url: str,
        source: str,
        batch_size: int = 500,
        poll_seconds: float = 0.1,
        name: str = "relay",
        edge=None,
    ):
        """`edge`, when given, decides what each page of events becomes on the broker
        (`edge.outgoing(events, source, service, checkpoint)`: (exchange, routing key, body)
        triples; a node's relays send the hub shape of shared/hub_edge.py); without one every
        event is published whole on the events exchange."""
        self.store = store
        self.edge = edge
        self.source = source
        self.service = source.split("/", 1)[1]
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.name = name
        self.publisher = Publisher(amqp_url)
        self._listen_conn: Any = None
        self.database = Reachability(f"relay-{self.service}")

    # -- checkpoint ------------------------------------------------------------------------

    def checkpoint(self) -> int:
        with self.store.db.transaction() as cur:
            cur.execute(
                f"SELECT position FROM {self.store.schema}.relay_checkpoint WHERE name = %s",
                (self.name,),
            )
            row = cur.fetchone()
        return row[0] if row else 0

    def _save_checkpoint(self, position: int) -> None:
        with self.store.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.store.schema}.relay_checkpoint (name, position)"
                " VALUES (%s, %s) ON CONFLICT (name) DO UPDATE"
                " SET position = EXCLUDED.position, updated_at = now()",
                (self.name, position),
            )

    # -- work ------------------------------------------------------------------------------

    def step(self) -> int:
        """Publish one batch after the checkpoint; returns how many events went out."""
        checkpoint = self.checkpoint()
        page = self.store.read_after(checkpoint, self.batch_size)
        if page.events:
            if self.edge is not None:
                messages = self.edge.outgoing(page.events, self.source, self.service, checkpoint)
            else:
                messages, previous = [], checkpoint
                for event in page.events:
                    messages.append(
                        (
                            routing_key(event, self.service),
                            wire_message(event, self.source, previous),
                        )
                    )
                    previous = event.position
            self.publisher.publish(messages)
            metrics.RELAY_PUBLISHED.labels(self.source).inc(len(messages))
        if page.next_after != checkpoint:
            self._save_checkpoint(page.next_after)
        self._record_lag(page.next_after)
        return len(page.events)

    def _record_lag(self, checkpoint: int) -> None:
        with self.store.db.transaction() as cur:
            # positions are dense but for rolled-back ones, so the head less the checkpoint
            # is the backlog (at most a few too many); the oldest is the next one by position
            cur.execute(
                f"SELECT (SELECT coalesce(max(position), 0) FROM {self.store.schema}.events),"
                f" (SELECT recorded_at FROM {self.store.schema}.events WHERE position > %s"
                "  ORDER BY position LIMIT 1)",
                (checkpoint,),
            )
            head, oldest = cur.fetchone()
            behind = max(head - checkpoint, 0)
        metrics.RELAY_LAG_EVENTS.labels(self.source).set(behind)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        metrics.RELAY_LAG_SECONDS.labels(self.source).set(max(age, 0.0))

    def _wait(self) -> None:
        """Sleep until an append notifies or the poll interval passes."""
        try:
            if self._listen_conn is None or self._listen_conn.closed:
                self._listen_conn = psycopg2.connect(self.store.db.dsn)
                self._listen_conn.autocommit = True
                with self._listen_conn.cursor() as cur:
                    cur.execute(f"LISTEN {self.store.channel}")
            if select.select([self._listen_conn], [], [], self.poll_seconds)[0]:
                self._listen_conn.poll()
                self._listen_conn.notifies.clear()
        except psycopg2.Error:
            self._listen_conn = None
            time.sleep(self.poll_seconds)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                published = self.step()
                backoff = 0.1
                self.database.reached()
            except Exception as error:  # noqa: BLE001 - outlives broker and database outages
                if is_database_error(error):
                    self.database.failed(error)  # said once an outage, not once a retry
                else:
                    # the batch was read, so the database answered: the broker did not
                    self.database.reached()
                    log.exception("relay %s: publishing failed, retrying", self.source)
                metrics.RELAY_FAILURES.labels(self.source).inc()
                self.publisher.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self.batch_size:
                self._wait()
        self.publisher.close()
        if self._listen_conn is not None:
            self._listen_conn.close()


def main(argv=None) -> None:
    """Run one relay on its own: python -m shared.relay --dsn D --schema S --amqp U --source P/S"""
    import argparse
    import signal

    from shared.db import Database
    from shared.events import EventRegistry

    parser = argparse.ArgumentParser(prog="python -m shared.relay")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--amqp", required=True)
    parser.add_argument(
        "--source", required=True, help="partner/service, e.g. leeds-mind/referrals"
    )
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # the relay forwards stored payloads as they are: it needs no event types of its own
    store = PostgresEventStore(Database(args.dsn, maxconn=2), args.schema, EventRegistry())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    Relay(store, args.amqp, args.source, batch_size=args.batch_size).run(stop)


if __name__ == "__main__":
    main()
