"""When a web session and a sign-in under way end, and what the database keeps of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.web.sessions import (
    ABSOLUTE_SECONDS,
    IDLE_SECONDS,
    PENDING_LOGIN_SECONDS,
    PendingLogin,
    Session,
    lookup_of,
    new_secret,
    seal,
    unseal,
)

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def session(last_seen_at: datetime = START, created_at: datetime = START) -> Session:
    return Session(
        user_id="sam",
        name="Sam Peer",
        role="peer_worker",
        access_token="at",
        access_token_expires_at=created_at + timedelta(hours=1),
        id_token="it",
        csrf_token="csrf",
        created_at=created_at,
        last_seen_at=last_seen_at,
    )


def test_the_policy_is_half_an_hour_idle_ten_hours_at_most_ten_minutes_to_sign_in():
    assert (IDLE_SECONDS, ABSOLUTE_SECONDS, PENDING_LOGIN_SECONDS) == (1800, 36000, 600)


def test_a_session_ends_after_half_an_hour_without_a_page():
    assert not session().is_over(START + timedelta(minutes=29, seconds=59))
    assert session().is_over(START + timedelta(minutes=30))


def test_a_page_seen_keeps_the_session_going():
    seen = START + timedelta(minutes=25)
    assert not session(last_seen_at=seen).is_over(START + timedelta(minutes=50))


@given(st.integers(min_value=0, max_value=IDLE_SECONDS - 1))
def test_a_session_in_constant_use_still_ends_after_ten_hours(seconds_since_last_page):
    end = START + timedelta(seconds=ABSOLUTE_SECONDS)
    last_seen = end - timedelta(seconds=seconds_since_last_page)
    assert session(last_seen_at=last_seen).is_over(end)
    assert session(last_seen_at=last_seen).ends_at() == end
    assert not session(last_seen_at=last_seen).is_over(end - timedelta(seconds=1))


def test_the_access_token_may_expire_before_the_session():
    live = session()
    assert live.is_token_expired(START + timedelta(hours=1))
    assert not live.is_over(START + timedelta(minutes=10))


def test_a_sign_in_not_finished_within_ten_minutes_is_over():
    pending = PendingLogin("state", "nonce", "verifier", START)
    assert not pending.is_over(START + timedelta(minutes=9, seconds=59))
    assert pending.is_over(START + timedelta(minutes=10))


def test_the_database_keys_a_session_by_a_hash_never_by_its_secret():
    secret = new_secret()
    assert len(secret) >= 43 and new_secret() != secret
    assert lookup_of(secret) == lookup_of(secret)
    assert secret.encode() not in lookup_of(secret)
    assert len(lookup_of(secret)) == 32


def test_what_is_sealed_opens_only_with_the_cookies_secret():
    secret = new_secret()
    sealed = seal(secret, {"access_token": "eyJ.secret.token", "name": "Sam Peer"})
    # whole words, not fragments: a short fragment can turn up in any ciphertext by chance
    assert b"eyJ.secret.token" not in sealed and b"Sam Peer" not in sealed
    assert unseal(secret, sealed) == {"access_token": "eyJ.secret.token", "name": "Sam Peer"}
    assert unseal(new_secret(), sealed) is None
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert unseal(secret, tampered) is None
