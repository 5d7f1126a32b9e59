import uuid

import pytest

from shared.db import Database
from shared.eventstore import ConcurrencyError, PostgresEventStore
from tests.contract import CONTEXT, EventStoreContract, happened, registry

pytestmark = pytest.mark.integration


@pytest.fixture
def database(fresh_database):
    db = Database(fresh_database, maxconn=20)
    with db.transaction() as cur:
        cur.execute(PostgresEventStore.ddl("things"))
    yield db
    db.close()


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, database):
        return PostgresEventStore(database, "things", registry)

    def store_with_registry(self, store, other_registry):
        return PostgresEventStore(store.db, store.schema, other_registry)


def test_events_appended_within_another_append_commit_with_it_or_not_at_all(database):
    """A person registered with the referral naming them: two streams, one transaction."""
    store = PostgresEventStore(database, "things", registry)
    first, second, taken = (str(uuid.uuid4()) for _ in range(3))
    store.append("thing", taken, 0, [happened(1)], CONTEXT)

    def also(stream, expected):
        return lambda cur: store.append_within(
            cur, "thing", stream, expected, [happened(2)], CONTEXT
        )

    store.append("thing", first, 0, [happened(1)], CONTEXT, within=also(second, 0))
    assert [e.version for e in store.read_stream("thing", second)] == [1]
    assert (
        store.read_stream("thing", second)[0].position
        > store.read_stream("thing", first)[0].position
    )

    lost = str(uuid.uuid4())
    with pytest.raises(ConcurrencyError):
        store.append("thing", lost, 0, [happened(1)], CONTEXT, within=also(taken, 0))
    assert store.read_stream("thing", lost) == []
    assert len(store.read_stream("thing", taken)) == 1
