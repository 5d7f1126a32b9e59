"""Consumers: projections and reactions that apply each event exactly once.

The handler's writes and the consumer's checkpoint (last position per source) commit in one
transaction, so a redelivered event is recognised and dropped. Each message names the position
before it; when that is ahead of the checkpoint an event is missing, and the consumer reads it
from the source's event feed. The feed is the source of truth and the broker only the fast
path, which is also how a consumer is rebuilt from nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

import kombu
import psycopg2
import requests
from marshmallow import ValidationError

from shared import metrics
from shared.db import Database, Reachability, is_database_error
from shared.events import RecordedEvent

log = logging.getLogger(__name__)


class Handler(Protocol):
    """A projection or reaction: `apply` writes with the consumer's cursor, in its transaction."""

    name: str

    def apply(self, cur, event: RecordedEvent) -> None: ...

    def reset(self, cur) -> None: ...


CONSUMER_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.consumer_checkpoints (
    consumer    text NOT NULL,
    source      text NOT NULL,
    position    bigint NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source)
);
CREATE TABLE IF NOT EXISTS {schema}.dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,
    source      text NOT NULL,
    position    bigint NOT NULL,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    error       text NOT NULL,
    envelope    jsonb NOT NULL,
    dead_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, event_id)
);
"""


class SourceUnavailable(Exception):
    """The source's event feed cannot be read now; the consumer catches up later."""


class FeedReader(Protocol):
    def read(self, source: str, after: int, limit: int) -> tuple[list[RecordedEvent], int]: ...


class WholeFeed(FeedReader, Protocol):
    """A feed that also hands out the events at given positions (a node's own stores)."""

    def at(self, source: str, positions: list[int]) -> dict[int, RecordedEvent]: ...


class HttpFeed:
    """Reads `GET /events?after=N&limit=M` of the service that owns a source."""

    def __init__(self, urls: dict[str, str], token: Callable[[str], str], timeout: float = 5.0):
        """`token(source)` gives a bearer token for the node that owns `source`."""
        self.urls = urls
        self.token = token
        self.timeout = timeout
        self._session = requests.Session()

    def sources(self) -> list[str]:
        return sorted(self.urls)

    def read(self, source: str, after: int, limit: int) -> tuple[list[RecordedEvent], int]:
        base = self.urls.get(source)
        if base is None:
            raise SourceUnavailable(f"no event feed known for {source}")
        try:
            response = self._session.get(
                f"{base}/events",
                params={"after": after, "limit": limit},
                headers={"Authorization": f"Bearer {self.token(source)}"},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise SourceUnavailable(f"{source}: {error}") from None
        if response.status_code != 200:
            raise SourceUnavailable(f"{source}: feed answered {response.status_code}")
        body = response.json()
        return [RecordedEvent.from_envelope(e) for e in body["events"]], body["next_after"]


class StoreFeed:
    """A feed read straight from event stores in this process: a node's consumers of its own
    events (the stores share the node's database), tests and benchmarks."""

    def __init__(self, stores: dict):
        self.stores = stores

    def sources(self) -> list[str]:
        return sorted(self.stores)

    def read(self, source: str, after: int, limit: int) -> tuple[list[RecordedEvent], int]:
        page = self.stores[source].read_after(after, limit)
        return page.events, page.next_after

    def at(self, source: str, positions: list[int]) -> dict[int, RecordedEvent]:
        """The events of a source at these positions (those the store holds)."""
        low, high = min(positions), max(positions)
        page = self.stores[source].read_after(low - 1, high - low + 1)
        wanted = set(positions)
        return {event.position: event for event in page.events if event.position in wanted}


@dataclass
class Outcome:
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEFERRED = "deferred"  # a gap that the feed could not fill yet: caught up later
    DEAD = "dead"


INFRASTRUCTURE_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


class Consumer:
    def __init__(
        self,
        name: str,
        db: Database,
        schema: str,
        handlers: Iterable[Handler],
        feed: FeedReader,
        max_attempts: int = 5,
        page_size: int = 1000,
        sender_check: SenderCheck | None = None,
        max_ahead: int | None = None,
        whole_from_feed: bool = False,
    ):
        """`sender_check` refuses a message not sent by the partner it names; `max_ahead`: a
        message more than this many positions past the checkpoint is applied only once the
        source's feed shows that event at that position (a position the feed does not hold
        would make every later event of the source look like a duplicate).

        `whole_from_feed`: the broker carries each event in its hub shape (ids pseudonymised,
        only the hub's fields); a node's consumer of its own events takes each one whole from
        its feed (a StoreFeed of the node's own stores), by the position the message names."""
        self.name = name
        self.db = db
        self.schema = schema
        self.handlers = list(handlers)
        self.feed = feed
        self.max_attempts = max_attempts
        self.page_size = page_size
        self.sender_check = sender_check
        self.max_ahead = max_ahead
        self.whole_from_feed = whole_from_feed
        self.retry_delay_seconds = 0.05
        self.database = Reachability(name)

    @staticmethod
    def ddl(schema: str) -> str:
        return CONSUMER_DDL.format(schema=schema)

    def deliver(self, messages: list) -> None:
        _deliver(self, messages)

    # -- checkpoints -----------------------------------------------------------------------

    def _lock_checkpoint(self, cur, source: str) -> int:
        cur.execute(
            f"INSERT INTO {self.schema}.consumer_checkpoints (consumer, source, position)"
            " VALUES (%s, %s, 0) ON CONFLICT DO NOTHING",
            (self.name, source),
        )
        cur.execute(
            f"SELECT position FROM {self.schema}.consumer_checkpoints"
            " WHERE consumer = %s AND source = %s FOR UPDATE",
            (self.name, source),
        )
        return cur.fetchone()[0]

    def _set_checkpoint(self, cur, source: str, position: int) -> None:
        cur.execute(
            f"UPDATE {self.schema}.consumer_checkpoints SET position = %s, applied_at = now()"
            " WHERE consumer = %s AND source = %s",
            (position, self.name, source),
        )

    def checkpoint(self, source: str) -> int:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT position FROM {self.schema}.consumer_checkpoints"
                " WHERE consumer = %s AND source = %s",
                (self.name, source),
            )
            row = cur.fetchone()
        return row[0] if row else 0

    # -- applying --------------------------------------------------------------------------

    def handle(self, message: dict) -> str:
        """Apply one message from the broker (an envelope with source and previous_position)."""
        source = message["source"]
        previous = message["previous_position"]
        event = RecordedEvent.from_envelope(message)
        if self.max_ahead is not None:
            verdict = self._check_far_ahead(source, event, message)
            if verdict is not None:
                return verdict
        outcome = self._apply_in_order(source, event, previous)
        if outcome == "gap":
            metrics.CONSUMER_GAPS.labels(self.name).inc()
            try:
                self.catch_up(source, until=event.position)
            except SourceUnavailable as error:
                log.warning("%s: cannot fill a gap from %s yet: %s", self.name, source, error)
                return Outcome.DEFERRED
            outcome = self._apply_in_order(source, event, previous)
            if outcome == "gap":  # the feed had not got that far: it will, catch_up retries
                return Outcome.DEFERRED
        return outcome

    def handle_batch(self, messages: list[dict]) -> list[str]:
        """Apply many messages with one commit per source: the fast path under load. Whatever
        the fast path cannot settle (a gap, a failing handler) goes through `handle`."""
        if self.whole_from_feed:
            return self._handle_whole(messages)
        return self._handle_batch(messages)

    def _handle_batch(self, messages: list[dict]) -> list[str]:
        outcomes: list[str | None] = [None] * len(messages)
        by_source: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            by_source.setdefault(message["source"], []).append(index)
        for source, indexes in by_source.items():
            events = [RecordedEvent.from_envelope(messages[i]) for i in indexes]
            try:
                settled = self._apply_run(source, events, [messages[i] for i in indexes])
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception:  # noqa: BLE001 - retried one by one below
                settled = {}
            for index, event in zip(indexes, events, strict=True):
                outcomes[index] = settled.get(event.event_id) or self.handle(messages[index])
        return cast(list[str], outcomes)  # every index was settled above

    def _handle_whole(self, messages: list[dict]) -> list[str]:
        """The messages with each event as its feed holds it; one the feed does not hold at the
        position named is refused."""
        held: dict[tuple[str, int], RecordedEvent] = {}
        by_source: dict[str, list[int]] = {}
        for message in messages:
            by_source.setdefault(message["source"], []).append(message["position"])
        for source, positions in by_source.items():
            # a consumer takes events whole from the feed only over a node's own stores
            found = cast(WholeFeed, self.feed).at(source, positions)
            held.update({(source, position): event for position, event in found.items()})
        whole, outcomes = [], {}
        for index, message in enumerate(messages):
            event = held.get((message["source"], message["position"]))
            if event is None:
                self.refuse(message, "position", f"{message['source']} holds no event there")
                outcomes[index] = Outcome.DEAD
                continue
            delivery = {k: message[k] for k in ("source", "previous_position")}
            whole.append((index, {**event.envelope(), **delivery}))
        settled = self._handle_batch([body for _, body in whole]) if whole else []
        outcomes.update(
            {index: outcome for (index, _), outcome in zip(whole, settled, strict=True)}
        )
        return [outcomes[index] for index in range(len(messages))]

    def _apply_run(self, source: str, events: list[RecordedEvent], messages: list[dict]):
        """Apply the leading run of in-order events in one transaction; stops at a gap."""
        settled: dict = {}
        last = None
        run: list[RecordedEvent] = []
        with self.db.transaction() as cur:
            checkpoint = self._lock_checkpoint(cur, source)
            for event, message in zip(events, messages, strict=True):
                if event.position <= checkpoint:
                    settled[event.event_id] = Outcome.DUPLICATE
                    metrics.CONSUMER_DUPLICATES.labels(self.name).inc()
                    continue
                if message["previous_position"] > checkpoint or self._far_ahead(
                    event.position, checkpoint
                ):
                    break
                run.append(event)
                settled[event.event_id] = Outcome.APPLIED
                checkpoint, last = event.position, event
            if last is not None:
                self._apply_many(cur, run)
                self._set_checkpoint(cur, source, checkpoint)
            # what the broker has announced of this source and is not applied yet
            announced = max(event.position for event in events)
            metrics.CONSUMER_LAG_EVENTS.labels(self.name, source).set(
                max(announced - checkpoint, 0)
            )
        if last is not None:
            self._applied(last, sum(1 for o in settled.values() if o == Outcome.APPLIED))
        return settled

    def _far_ahead(self, position: int, checkpoint: int) -> bool:
        return self.max_ahead is not None and position > checkpoint + self.max_ahead

    def _check_far_ahead(self, source: str, event: RecordedEvent, message: dict) -> str | None:
        """None when the message may be applied; DEFERRED when the feed cannot tell now (the
        event is not applied: catch-up reads it from the feed if it is there); DEAD when the
        feed does not hold this event at this position."""
        if not self._far_ahead(event.position, self.checkpoint(source)):
            return None
        try:
            held, _ = self.feed.read(source, event.position - 1, 1)
        except SourceUnavailable as error:
            log.warning(
                "%s: cannot confirm position %s of %s yet: %s",
                self.name,
                event.position,
                source,
                error,
            )
            return Outcome.DEFERRED
        if held and _same_event(held[0], event):
            return None
        self.refuse(
            message,
            "position",
            f"{source} has no event {event.event_id} at position {event.position}",
        )
        return Outcome.DEAD

    def refuse(self, message: dict, reason: str, detail: str) -> None:
        """Record a message that must not be applied (a dead letter, its checkpoint untouched:
        nothing of what it claims is believed) and count it."""
        log.error("%s: refused a message (%s): %s", self.name, reason, detail)
        event = RecordedEvent.from_envelope(message)
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.schema}.dead_letters"
                " (consumer, source, position, event_id, event_type, error, envelope)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    self.name,
                    str(message.get("source"))[:200],
                    event.position,
                    event.event_id,
                    event.event_type,
                    f"refused ({reason}): {detail}"[:2000],
                    json.dumps(message, default=str),
                ),
            )
        metrics.REFUSED.labels(self.name, reason).inc()
        metrics.DEAD_LETTERS.labels(self.name).inc()

    def _apply_in_order(self, source: str, event: RecordedEvent, previous: int) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.db.transaction() as cur:
                    checkpoint = self._lock_checkpoint(cur, source)
                    if event.position <= checkpoint:
                        metrics.CONSUMER_DUPLICATES.labels(self.name).inc()
                        return Outcome.DUPLICATE
                    metrics.CONSUMER_LAG_EVENTS.labels(self.name, source).set(
                        event.position - checkpoint
                    )
                    if previous > checkpoint:
                        return "gap"
                    self._apply(cur, event)
                    self._set_checkpoint(cur, source, event.position)
                self._applied(event, 1)
                return Outcome.APPLIED
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as error:  # noqa: BLE001 - a failing handler must not block others
                if attempt < self.max_attempts:
                    time.sleep(self.retry_delay_seconds * attempt)
                    continue
                self._dead_letter(source, event, error)
                return Outcome.DEAD

    def _apply(self, cur, event: RecordedEvent) -> None:
        for handler in self.handlers:
            handler.apply(cur, event)

    def _apply_many(self, cur, events: list[RecordedEvent]) -> None:
        """In order, through a handler's `apply_batch` where it has one (a replay's fast path)."""
        for handler in self.handlers:
            batch = getattr(handler, "apply_batch", None)
            if batch is not None:
                batch(cur, events)
            else:
                for event in events:
                    handler.apply(cur, event)

    def _applied(self, event: RecordedEvent, count: int) -> None:
        metrics.CONSUMER_APPLIED.labels(self.name).inc(count)
        lag = (datetime.now(UTC) - event.recorded_at).total_seconds()
        metrics.CONSUMER_LAG_SECONDS.labels(self.name).set(max(lag, 0.0))

    def _dead_letter(self, source: str, event: RecordedEvent, error: Exception) -> None:
        log.error("%s: dead-lettering %s at %s: %r", self.name, event.event_type, source, error)
        with self.db.transaction() as cur:
            checkpoint = self._lock_checkpoint(cur, source)
            cur.execute(
                f"INSERT INTO {self.schema}.dead_letters"
                " (consumer, source, position, event_id, event_type, error, envelope)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    self.name,
                    source,
                    event.position,
                    event.event_id,
                    event.event_type,
                    repr(error)[:2000],
                    json.dumps(event.envelope()),
                ),
            )
            if event.position > checkpoint:
                self._set_checkpoint(cur, source, event.position)
        metrics.DEAD_LETTERS.labels(self.name).inc()

    def apply_page(self, source: str, events: list[RecordedEvent], next_after: int) -> None:
        """Apply feed events (contiguous after the checkpoint) in one transaction; when one
        fails, apply them one by one so only the failing event is dead-lettered."""
        try:
            with self.db.transaction() as cur:
                checkpoint = self._lock_checkpoint(cur, source)
                fresh = [event for event in events if event.position > checkpoint]
                self._apply_many(cur, fresh)
                if next_after > checkpoint:
                    self._set_checkpoint(cur, source, next_after)
                metrics.CONSUMER_LAG_EVENTS.labels(self.name, source).set(0)
            if fresh:
                self._applied(fresh[-1], len(fresh))
            return
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:  # noqa: BLE001
            log.warning("%s: a page from %s failed, applying one by one", self.name, source)
        previous = None
        for event in events:
            if previous is None:
                previous = self.checkpoint(source)
                if event.position <= previous:
                    previous = None
                    continue
            self._apply_in_order(source, event, previous)
            previous = event.position
        with self.db.transaction() as cur:
            if next_after > self._lock_checkpoint(cur, source):
                self._set_checkpoint(cur, source, next_after)

    def catch_up(self, source: str, until: int | None = None) -> int:
        """Read the source's feed after the checkpoint and apply what is there; returns count."""
        applied = 0
        while True:
            after = self.checkpoint(source)
            if until is not None and after >= until:
                return applied
            events, next_after = self.feed.read(source, after, self.page_size)
            if not events and next_after == after:
                return applied
            self.apply_page(source, events, next_after)
            applied += len(events)

    def rebuild(self, sources: Iterable[str], progress: Callable[[str, int], None] | None = None):
        """Empty every handler's tables and checkpoints, then replay each source's feed."""
        with self.db.transaction() as cur:
            for handler in self.handlers:
                handler.reset(cur)
            cur.execute(
                f"DELETE FROM {self.schema}.consumer_checkpoints WHERE consumer = %s",
                (self.name,),
            )
        total = 0
        for source in sources:
            while True:
                after = self.checkpoint(source)
                events, next_after = self.feed.read(source, after, self.page_size)
                if not events and next_after == after:
                    break
                self.apply_page(source, events, next_after)
                total += len(events)
                if progress:
                    progress(source, total)
        return total


def run_queue(
    consumer, amqp_url: str, queue: str, stop: threading.Event, batch_size: int = 200
) -> None:
    """Consume a queue (declared by the topology) until `stop`; survives broker restarts.
    Messages already delivered are applied together, one commit per batch.

    When the consumer's database is away, what it was given goes back to the queue unacked
    (the broker connection is closed), and the queue is consumed again once the database
    answers: nothing is lost, and a redelivery is dropped as a duplicate."""
    database = getattr(consumer, "database", None) or Reachability(consumer.name)
    backoff = 0.5
    while not stop.is_set():
        try:
            with kombu.Connection(amqp_url, connect_timeout=5, heartbeat=30) as conn:
                conn.ensure_connection(max_retries=1)
                pending: list = []
                with conn.Consumer(
                    kombu.Queue(queue, no_declare=True),
                    on_message=pending.append,
                    prefetch_count=batch_size,
                ):
                    backoff = 0.5
                    while not stop.is_set():
                        try:
                            conn.drain_events(timeout=1)
                            while len(pending) < batch_size:
                                conn.drain_events(timeout=0)
                        except TimeoutError:
                            conn.heartbeat_check()
                        except BlockingIOError:
                            pass
                        if pending:
                            consumer.deliver(pending)
                            pending.clear()
                            database.reached()
        except Exception as error:  # noqa: BLE001 - reconnect after any broker or database outage
            if is_database_error(error) and getattr(consumer, "db", None) is not None:
                database.failed(error)
                wait_for_database(consumer.db, database, stop)
                continue
            log.exception("%s: consumer loop failed, reconnecting", consumer.name)
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)


def wait_for_database(db: Database, database: Reachability, stop: threading.Event) -> None:
    """Until the database answers (or `stop`), asking it once a second."""
    while not stop.wait(1.0):
        try:
            db.ping()
        except Exception as error:  # noqa: BLE001 - still away
            database.failed(error)
            continue
        database.reached()
        return


def _readable(name: str, messages: list) -> tuple[list, list[dict]]:
    """The messages that carry a wire envelope; the others go to the dead-letter queue."""
    readable, bodies = [], []
    for message in messages:
        try:
            body = json.loads(message.body)
            RecordedEvent.from_envelope(body)
            if not isinstance(body.get("source"), str) or not isinstance(
                body.get("previous_position"), int
            ):
                raise ValueError("source and previous_position are required")
        except (ValueError, KeyError, TypeError, ValidationError) as error:
            log.error("%s: unreadable message rejected: %r", name, error)
            metrics.DEAD_LETTERS.labels(name).inc()
            message.reject()  # to the dead-letter queue
            continue
        readable.append(message)
        bodies.append(body)
    return readable, bodies


class SenderCheck:
    """What a consumer of several partners' events demands of each message before it applies
    it: the broker user that published it (its `user_id`, validated by the broker where it was
    published and carried by federation) is the node user of the partner the envelope names,
    and the source is one of that partner's."""

    def __init__(self, sources: Iterable[str], user_of: Callable[[str], str]):
        self.sources = frozenset(sources)
        self.user_of = user_of

    def refusal(self, user_id: str | None, body: dict) -> tuple[str, str] | None:
        """(reason, detail) when the message must be refused, else None."""
        partner = body.get("partner_id")
        source = body.get("source")
        if not isinstance(partner, str) or not partner:
            return "sender", "the envelope names no partner"
        expected = self.user_of(partner)
        if user_id != expected:
            return "sender", f"{partner}'s event sent by broker user {user_id!r}, not {expected!r}"
        if source not in self.sources or source.split("/", 1)[0] != partner:
            return "source", f"{source!r} is not one of {partner}'s sources"
        return None


def _same_event(held: RecordedEvent, claimed: RecordedEvent) -> bool:
    return (held.position, held.event_id, held.event_type, held.stream_id, held.partner_id) == (
        claimed.position,
        claimed.event_id,
        claimed.event_type,
        claimed.stream_id,
        claimed.partner_id,
    )


def _user_id(message) -> str | None:
    properties = getattr(message, "properties", None) or {}
    return properties.get("user_id")


def _admitted(consumer: Consumer, readable: list, bodies: list[dict]) -> tuple[list, list[dict]]:
    """The messages that pass the consumer's sender check; the others are refused: recorded,
    counted, and rejected to the dead-letter queue."""
    check = consumer.sender_check
    if check is None:
        return readable, bodies
    admitted, admitted_bodies = [], []
    for message, body in zip(readable, bodies, strict=True):
        refusal = check.refusal(_user_id(message), body)
        if refusal is None:
            admitted.append(message)
            admitted_bodies.append(body)
            continue
        consumer.refuse(body, *refusal)
        message.reject()
    return admitted, admitted_bodies


def _deliver(consumer: Consumer, messages: list) -> None:
    readable, bodies = _readable(consumer.name, messages)
    readable, bodies = _admitted(consumer, readable, bodies)
    # our own database being away raises here: the messages stay unacked with the broker
    outcomes = consumer.handle_batch(bodies)
    for message, outcome in zip(readable, outcomes, strict=True):
        if outcome == Outcome.DEAD:
            message.reject()
        else:
            message.ack()


class Reactor:
    """A reaction to events of other services or partners that appends to its own store.

    It keeps no checkpoint: each reaction appends events whose ids derive from the event it
    reacts to, so a redelivery is an idempotent append. It sees only the events it is bound to,
    so positions say nothing about gaps here."""

    def __init__(self, name: str, react: Callable[[RecordedEvent], None], max_attempts=5):
        self.name = name
        self.react = react
        self.max_attempts = max_attempts
        self.retry_delay_seconds = 0.1

    def deliver(self, messages: list) -> None:
        readable, bodies = _readable(self.name, messages)
        for message, body in zip(readable, bodies, strict=True):
            event = RecordedEvent.from_envelope(body)
            for attempt in range(1, self.max_attempts + 1):
                try:
                    self.react(event)
                except INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as error:  # noqa: BLE001 - never blocks the queue
                    if attempt < self.max_attempts:
                        time.sleep(self.retry_delay_seconds * attempt)
                        continue
                    log.error("%s: dead-lettering %s: %r", self.name, event.event_type, error)
                    metrics.DEAD_LETTERS.labels(self.name).inc()
                    message.reject()
                else:
                    metrics.CONSUMER_APPLIED.labels(self.name).inc()
                    message.ack()
                break


def run_catch_up(
    consumer: Consumer,
    sources: list[str],
    stop: threading.Event,
    every=5.0,
    read_to_end: Callable[[str], None] | None = None,
):
    """Periodically read each source's feed: heals gaps the broker could not show (the last
    events lost on a link, a source that was down when a gap was found). `read_to_end(source)`
    is told each time a source's feed was read to its end."""
    while not stop.wait(every):
        for source in sources:
            if stop.is_set():
                break  # the rest are read after the next start
            try:
                consumer.catch_up(source)
                if read_to_end is not None:
                    read_to_end(source)
                consumer.database.reached()
            except SourceUnavailable as error:
                log.info("%s: %s", consumer.name, error)
            except Exception as error:  # noqa: BLE001
                if is_database_error(error):
                    consumer.database.failed(error)  # said once an outage
                    break
                log.exception("%s: catch-up from %s failed", consumer.name, source)
