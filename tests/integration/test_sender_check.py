"""A consumer of several partners' events (the hub's) against the real PostgreSQL: a message is
applied only when the broker user that sent it is the node user of the partner it names, its
source is one of that partner's, and a position far past the checkpoint is one the source's
feed holds. Whatever fails is a dead letter, counted, and moves no checkpoint."""

from __future__ import annotations

import json
import uuid

import pytest

from shared import metrics
from shared.config import broker_user
from shared.consumer import Consumer, Outcome, SenderCheck, StoreFeed
from shared.db import Database
from shared.events import Actor, Context
from shared.eventstore import PostgresEventStore
from tests.contract import happened, registry
from tests.integration.processes import Tally

pytestmark = pytest.mark.integration

PARTNER = "it"
SOURCE = f"{PARTNER}/things"
MAX_AHEAD = 50


class Delivered:
    """A message as the consumer loop hands it over (kombu's: body, properties, ack/reject)."""

    def __init__(self, body: dict, user_id: str | None):
        self.body = json.dumps(body)
        self.properties = {"user_id": user_id} if user_id else {}
        self.settled = None

    def ack(self):
        self.settled = "ack"

    def reject(self):
        self.settled = "reject"


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database, maxconn=4)
    with db.transaction() as cur:
        cur.execute(PostgresEventStore.ddl("things"))
        cur.execute(Consumer.ddl("proj"))
        cur.execute("CREATE TABLE proj.applied (event_id uuid NOT NULL, position bigint NOT NULL)")
    yield db
    db.close()


@pytest.fixture
def store(database):
    return PostgresEventStore(database, "things", registry)


@pytest.fixture
def consumer(database, store):
    return Consumer(
        f"checked-{uuid.uuid4().hex[:6]}",
        database,
        "proj",
        [Tally()],
        StoreFeed({SOURCE: store}),
        sender_check=SenderCheck([SOURCE], broker_user),
        max_ahead=MAX_AHEAD,
    )


def append(store, count: int) -> list:
    context = Context(partner_id=PARTNER, actor=Actor("worker-1", "peer_worker"))
    stream = str(uuid.uuid4())
    return store.append("thing", stream, 0, [happened(n) for n in range(count)], context)


def wire(event, previous: int, **over) -> dict:
    return {**event.envelope(), "source": SOURCE, "previous_position": previous, **over}


def applied(database) -> list[int]:
    with database.transaction() as cur:
        cur.execute("SELECT position FROM proj.applied ORDER BY position")
        return [row[0] for row in cur.fetchall()]


def dead_letters(database, consumer) -> dict:
    with database.transaction() as cur:
        cur.execute(
            "SELECT event_id::text, error FROM proj.dead_letters WHERE consumer = %s",
            (consumer.name,),
        )
        return dict(cur.fetchall())


def counted(consumer, reason: str) -> tuple[float, float]:
    refused = metrics.REFUSED.labels(consumer.name, reason)._value.get()
    dead = metrics.DEAD_LETTERS.labels(consumer.name)._value.get()
    return refused, dead


def test_a_message_from_its_partners_node_user_is_applied(database, store, consumer):
    [event] = append(store, 1)
    message = Delivered(wire(event, 0), broker_user(PARTNER))
    consumer.deliver([message])
    assert message.settled == "ack"
    assert applied(database) == [event.position]


@pytest.mark.parametrize(
    ("user_id", "over", "reason"),
    [
        (broker_user("mesmac"), {}, "sender"),
        (None, {}, "sender"),
        (broker_user(PARTNER), {"source": "mesmac/things"}, "source"),
        (broker_user(PARTNER), {"source": f"{PARTNER}/payroll"}, "source"),
        (broker_user("mesmac"), {"partner_id": "mesmac", "source": SOURCE}, "source"),
    ],
    ids=[
        "another-partners-user",
        "no-user",
        "another-partners-source",
        "no-such-source",
        "relabelled",
    ],
)
def test_a_message_not_from_the_partner_it_names_is_refused(
    database, store, consumer, user_id, over, reason
):
    [event] = append(store, 1)
    message = Delivered(wire(event, 0, **over), user_id)
    refused_before, dead_before = counted(consumer, reason)
    consumer.deliver([message])
    assert message.settled == "reject"  # to the dead-letter queue
    assert applied(database) == []
    assert consumer.checkpoint(SOURCE) == 0
    assert reason in dead_letters(database, consumer)[str(event.event_id)]
    assert counted(consumer, reason) == (refused_before + 1, dead_before + 1)
    # the genuine message is applied as ever
    genuine = Delivered(wire(event, 0), broker_user(PARTNER))
    consumer.deliver([genuine])
    assert genuine.settled == "ack" and applied(database) == [event.position]


def test_a_position_far_past_what_the_feed_holds_is_refused_and_skips_nothing(
    database, store, consumer
):
    events = append(store, 3)
    user = broker_user(PARTNER)
    consumer.deliver([Delivered(wire(events[0], 0), user)])
    # its own node user and source, the right previous position, a position nobody recorded
    far = wire(events[1], events[0].position, position=events[0].position + 10 * MAX_AHEAD)
    far["event_id"] = str(uuid.uuid4())
    forged = Delivered(far, user)
    refused_before, _ = counted(consumer, "position")
    consumer.deliver([forged])
    assert forged.settled == "reject"
    assert counted(consumer, "position")[0] == refused_before + 1
    assert "position" in dead_letters(database, consumer)[far["event_id"]]
    assert consumer.checkpoint(SOURCE) == events[0].position
    # the real events that follow are applied, in the fast path's batches too
    rest = [
        Delivered(wire(events[1], events[0].position), user),
        Delivered(wire(events[2], events[1].position), user),
    ]
    consumer.deliver(rest)
    assert [m.settled for m in rest] == ["ack", "ack"]
    assert applied(database) == [e.position for e in events]


def test_a_far_ahead_position_the_feed_holds_is_applied_gap_and_all(database, store, consumer):
    # events lost on a link: the next to arrive is far ahead, and the feed confirms it
    events = append(store, MAX_AHEAD * 3)
    last = events[-1]
    message = Delivered(wire(last, events[-2].position), broker_user(PARTNER))
    assert consumer.handle(json.loads(message.body)) in (Outcome.APPLIED, Outcome.DUPLICATE)
    assert applied(database) == [e.position for e in events]
    assert dead_letters(database, consumer) == {}
