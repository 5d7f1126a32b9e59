import pytest

from shared.db import Database
from shared.eventstore import PostgresEventStore
from tests.contract import EventStoreContract, registry

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
