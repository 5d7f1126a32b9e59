"""The web app's one-time form keys against the real PostgreSQL: of posts of the same form at
the same moment only one makes its record, and the others are sent where it led."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from services.web import form_keys
from services.web.form_keys import FormKeys, new_form_key
from shared.db import Database

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def keys(fresh_database):
    db = Database(fresh_database, maxconn=8)
    with db.transaction() as cur:
        cur.execute(form_keys.DDL)
    yield FormKeys(db)
    db.close()


def test_of_posts_at_the_same_moment_one_makes_the_record_and_the_others_go_where_it_led(keys):
    key, posts = new_form_key(), 6
    together = threading.Barrier(posts)
    made = []

    def post(_):
        together.wait()
        claim = keys.claim("sam", key, NOW)
        if claim.is_first:
            made.append(1)
            keys.made("sam", key, "/referrals/r1")
            return "/referrals/r1"
        return claim.location

    with ThreadPoolExecutor(posts) as pool:
        answers = list(pool.map(post, range(posts)))
    assert made == [1]
    assert answers == ["/referrals/r1"] * posts


def test_a_key_given_back_is_claimed_again_and_a_key_is_each_persons_own(keys):
    key = new_form_key()
    assert keys.claim("sam", key, NOW).is_first
    assert keys.claim("alex", key, NOW).is_first
    keys.give_back("sam", key)
    assert keys.claim("sam", key, NOW).is_first
    keys.made("sam", key, "/groups/g1")
    keys.give_back("sam", key)  # what was made is kept
    assert keys.claim("sam", key, NOW).location == "/groups/g1"


def test_a_post_waits_for_the_first_and_tells_when_it_did_not_finish(fresh_database):
    db = Database(fresh_database, maxconn=2)
    with db.transaction() as cur:
        cur.execute(form_keys.DDL)
    ticks = iter(range(1000))
    keys = FormKeys(db, sleep=lambda seconds: None, clock=lambda: float(next(ticks)))
    key = new_form_key()
    assert keys.claim("sam", key, NOW).is_first
    # the first never answers (its worker stopped): the second is told, after waiting
    second = keys.claim("sam", key, NOW)
    assert not second.is_first and second.location is None
    assert next(ticks) > form_keys.WAIT_SECONDS
    # keys older than a session can last are swept
    assert keys.claim("sam", key, NOW + timedelta(seconds=form_keys.KEEP_SECONDS + 1)).is_first
    db.close()
