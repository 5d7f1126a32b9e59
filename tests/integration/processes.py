"""A consumer process for crash tests: python -m tests.integration.processes DSN AMQP QUEUE"""

from __future__ import annotations

import sys
import threading

from shared.consumer import Consumer, StoreFeed, run_queue
from shared.db import Database
from shared.events import EventRegistry
from shared.eventstore import PostgresEventStore

SOURCE = "it/things"


class Tally:
    """Records every application, so applying an event twice shows as two rows."""

    name = "tally"

    def apply(self, cur, event):
        cur.execute(
            "INSERT INTO proj.applied (event_id, position) VALUES (%s, %s)",
            (event.event_id, event.position),
        )

    def reset(self, cur):
        cur.execute("TRUNCATE proj.applied")


def make_consumer(dsn: str) -> Consumer:
    db = Database(dsn, maxconn=4)
    store = PostgresEventStore(db, "things", EventRegistry())
    return Consumer("tally", db, "proj", [Tally()], StoreFeed({SOURCE: store}))


if __name__ == "__main__":
    dsn, amqp_url, queue = sys.argv[1:4]
    run_queue(make_consumer(dsn), amqp_url, queue, threading.Event())
