"""The event store: append to a stream with an expected version, read a stream, and follow the
whole store by position without ever skipping an event that commits late.

Two implementations pass one contract suite (tests/contract.py): `InMemoryEventStore` for domain
tests and `PostgresEventStore`, whose events table is also the outbox the relay publishes.

The in-memory store lives in shared/eventstore_memory.py, the PostgreSQL store in
shared/eventstore_postgres.py and group commit in shared/group_commit.py; this module names
them all, so that callers import from one place.
"""

from shared.eventstore_core import (
    ANY_VERSION,
    ConcurrencyError,
    DuplicateEventId,
    Page,
    StreamNotFound,
)
from shared.eventstore_memory import InMemoryEventStore
from shared.eventstore_postgres import _COLUMNS, EVENTS_DDL, PostgresEventStore
from shared.group_commit import _Append, _Lane

__all__ = [
    "ANY_VERSION",
    "EVENTS_DDL",
    "ConcurrencyError",
    "DuplicateEventId",
    "InMemoryEventStore",
    "Page",
    "PostgresEventStore",
    "StreamNotFound",
    "_COLUMNS",
    "_Append",
    "_Lane",
]
