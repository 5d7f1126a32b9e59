"""The connection pool of shared/db.py against the real PostgreSQL."""

import pytest

from shared.db import Database, in_transaction

pytestmark = pytest.mark.integration


def test_a_connection_in_use_when_the_pool_closes_is_closed_when_handed_back(fresh_database):
    db = Database(fresh_database, maxconn=2)
    with db.connection() as idle:
        pass
    with db.connection() as busy:
        assert busy is idle  # kept for reuse while the pool is open
        db.close()
        assert idle.closed == 0  # still in use: not pulled from under its user
    assert busy.closed  # handed back to a closed pool: closed, not kept


def test_a_closed_pool_lends_nothing(fresh_database):
    db = Database(fresh_database, maxconn=1)
    db.close()
    with pytest.raises(Exception, match="closed"), db.connection():
        pass


def test_a_connection_the_server_closed_is_not_lent_again(fresh_database):
    db = Database(fresh_database, maxconn=1)
    with db.connection() as first:
        first.close()
    with db.connection() as second:
        assert second is not first and second.closed == 0
    db.close()


def test_a_transaction_left_open_in_autocommit_is_rolled_back_and_the_connection_lent_as_usual(
    fresh_database,
):
    db = Database(fresh_database, maxconn=1)
    with db.transaction() as cur:
        cur.execute("CREATE TABLE kept (n integer)")
    with db.autocommit() as conn, conn.cursor() as cur:
        cur.execute("BEGIN; INSERT INTO kept VALUES (1)")
        assert in_transaction(conn)
    with db.connection() as again:
        assert again is conn and again.autocommit is False and not in_transaction(again)
        with again.cursor() as cur:
            cur.execute("SELECT count(*) FROM kept")
            assert cur.fetchone()[0] == 0
    db.close()
