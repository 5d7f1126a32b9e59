"""Connections that die under the pool (a backend ended, as a restarting server ends them all)
against the real PostgreSQL: the pool drops them, says whether what broke may have been
committed, and the HTTP edge runs a request once more only when nothing of it was."""

from __future__ import annotations

import json

import psycopg2
import pytest
from werkzeug.test import EnvironBuilder

from shared import metrics
from shared.db import IDLE_CHECK_SECONDS, Database, DatabaseUnavailable
from shared.web import RETRY_AFTER_SECONDS, route

pytestmark = pytest.mark.integration

END_OWN_BACKEND = "SELECT pg_terminate_backend(pg_backend_pid())"


def backend_of(conn) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def end_backend(admin_dsn: str, pid: int) -> None:
    """What a server going down does to a connection: its backend ends and says so."""
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone()[0]
        # the backend is gone once the server no longer lists it
        for _ in range(100):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if cur.fetchone()[0] == 0:
                break
    conn.close()


def discarded(db: Database) -> float:
    return metrics.DB_CONNECTIONS_DISCARDED.labels(db.application_name)._value.get()


def count_rows(db: Database) -> int:
    with db.transaction() as cur:
        cur.execute("SELECT count(*) FROM kept")
        return cur.fetchone()[0]


@pytest.fixture
def db(fresh_database):
    pool = Database(fresh_database, maxconn=3, application_name="broken-connections")
    with pool.transaction() as cur:
        cur.execute("CREATE TABLE kept (n integer)")
    yield pool
    pool.close()


# -- the pool ---------------------------------------------------------------------------------


def test_an_idle_connection_whose_backend_ended_is_dropped_and_another_lent(db, stack_state):
    # given a connection back in the pool, whose backend then ends
    with db.connection() as first:
        pid = backend_of(first)
    end_backend(stack_state["admin_dsn"], pid)
    dropped = discarded(db)
    # when a connection is asked for
    with db.connection() as second, second.cursor() as cur:
        cur.execute("SELECT 1")
        # then a working one is lent, not the dead one
        assert cur.fetchone() == (1,)
        assert second is not first and backend_of(second) != pid
    assert first.closed
    assert discarded(db) == dropped + 1


def test_a_connection_that_breaks_in_use_drops_the_idle_ones_too(db):
    # given two connections in the pool
    with db.connection() as one, db.connection() as other:
        pass
    # when one of them breaks in use (its server went away)
    with pytest.raises(DatabaseUnavailable), db.transaction() as cur:
        cur.execute(END_OWN_BACKEND)
    # then the pool keeps neither: the next is a new one
    with db.connection() as fresh:
        assert fresh is not one and fresh is not other
    assert one.closed and other.closed


def test_a_connection_idle_for_long_is_asked_and_lent_again_when_it_answers(db):
    with db.connection() as first:
        pass
    first.idle_since -= IDLE_CHECK_SECONDS + 1
    with db.connection() as again:
        assert again is first


def test_a_break_before_the_commit_says_nothing_was_committed(db):
    # when a transaction that wrote breaks before its commit
    with pytest.raises(DatabaseUnavailable) as broken, db.transaction() as cur:
        cur.execute("INSERT INTO kept VALUES (1)")
        cur.execute(END_OWN_BACKEND)
    # then it may be run again: nothing of it is stored
    assert broken.value.may_have_committed is False
    assert count_rows(db) == 0


def test_a_break_at_the_commit_of_a_write_says_it_may_be_stored(db, stack_state):
    # when the connection is gone by the time a transaction that wrote commits
    with pytest.raises(DatabaseUnavailable) as broken, db.transaction() as cur:
        cur.execute("INSERT INTO kept VALUES (1)")
        end_backend(stack_state["admin_dsn"], backend_of(cur.connection))
    # then whoever asked must not simply run it again
    assert broken.value.may_have_committed is True


def test_a_break_after_a_write_committed_by_itself_says_it_may_be_stored(db):
    # in autocommit, a write outside BEGIN is its own transaction
    with (
        pytest.raises(DatabaseUnavailable) as broken,
        db.autocommit() as conn,
        conn.cursor() as cur,
    ):
        cur.execute("INSERT INTO kept VALUES (1)")
        cur.execute(END_OWN_BACKEND)
    assert broken.value.may_have_committed is True
    assert count_rows(db) == 1


def test_a_break_inside_begin_in_autocommit_says_nothing_was_committed(db):
    with (
        pytest.raises(DatabaseUnavailable) as broken,
        db.autocommit() as conn,
        conn.cursor() as cur,
    ):
        cur.execute("BEGIN; INSERT INTO kept VALUES (1)")
        cur.execute(END_OWN_BACKEND)
    assert broken.value.may_have_committed is False
    assert count_rows(db) == 0


def test_a_database_that_cannot_be_reached_is_unavailable():
    db = Database("postgresql://nobody@127.0.0.1:1/none", maxconn=1)
    with pytest.raises(DatabaseUnavailable) as broken, db.connection():
        pass
    assert broken.value.may_have_committed is False
    with pytest.raises(DatabaseUnavailable), db.connection():
        pass  # the slot was given back: asking again fails the same way, it does not hang


# -- the HTTP edge ----------------------------------------------------------------------------


class Things:
    """A service whose route breaks its own connection the first `breaks` times it runs."""

    name = "broken-connections"

    def __init__(self, db: Database, breaks: int, writes_first: bool = False):
        self.db = db
        self.breaks = breaks
        self.writes_first = writes_first
        self.runs = 0

    @route("POST", "/things", public=True, summary="Record a thing")
    def record(self, request, principal):
        self.runs += 1
        if self.writes_first:
            with self.db.transaction() as cur:
                cur.execute("INSERT INTO kept VALUES (%s)", (self.runs,))
        with self.db.transaction() as cur:
            if self.runs <= self.breaks:
                cur.execute(END_OWN_BACKEND)
            cur.execute("SELECT count(*) FROM kept")
            return {"kept": cur.fetchone()[0], "runs": self.runs}


def post(service: Things):
    request = EnvironBuilder(path="/things", method="POST", json={"n": 1}).get_request()
    return service.record(request)


def retries() -> float:
    return metrics.DATABASE_RETRIES.labels(Things.name)._value.get()


def test_a_request_whose_connection_broke_before_anything_was_committed_runs_once_more(db):
    before = retries()
    answer = post(Things(db, breaks=1))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert json.loads(answer.get_data()) == {"kept": 0, "runs": 2}
    assert retries() == before + 1


def test_a_request_that_breaks_again_answers_503_with_retry_after(db):
    service = Things(db, breaks=2)
    answer = post(service)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    body = json.loads(answer.get_data())
    assert body["error"] == "unavailable" and "database" in body["message"]
    assert body["request_id"] == answer.headers["X-Request-Id"]
    assert service.runs == 2  # once more, not again and again


def test_a_request_that_committed_before_its_connection_broke_is_not_run_again(db):
    service = Things(db, breaks=1, writes_first=True)
    answer = post(service)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert service.runs == 1
    assert count_rows(db) == 1  # what it committed, once
