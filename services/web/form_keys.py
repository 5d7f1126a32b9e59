"""One-time form keys: every form that makes or changes a record carries a key of its own, and
is saved once per key. The same form sent again (a double click, a second tab, the back button
and send again) is answered with where the first one led, never a second record, nor a second
change (which the services would refuse as changed meanwhile, the first having moved the
record's version on).

The node's services choose the id of what they make and remember no request, so the web app
keeps the keys (schema `web`): a post claims its key by inserting it, so of two posts at once
only one goes on to the service and the other waits for its answer."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.db import Database

SCHEMA = "web"
# a key outlives the longest session (sessions.ABSOLUTE_SECONDS): a form is no use after it
KEEP_SECONDS = 12 * 3600
# how long a second post waits for the first one's answer: longer than a call to a service
# may take (api.TIMEOUT_SECONDS)
WAIT_SECONDS = 15.0
POLL_SECONDS = 0.2
KEY_LENGTH = 43  # secrets.token_urlsafe(32)

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.form_keys (
    user_id text NOT NULL,
    form_key text NOT NULL,
    claimed_at timestamptz NOT NULL,
    location text,
    PRIMARY KEY (user_id, form_key)
);
CREATE INDEX IF NOT EXISTS form_keys_claimed_at ON {SCHEMA}.form_keys (claimed_at);
"""
TABLES = ("form_keys",)


def new_form_key() -> str:
    return secrets.token_urlsafe(32)


def is_form_key(value: str) -> bool:
    return len(value) == KEY_LENGTH and all(c.isalnum() or c in "-_" for c in value)


@dataclass(frozen=True)
class Claim:
    """What claiming a key found: `is_first` when this post is the one to make the record;
    otherwise where the first one led (None while it is still being made, or when it did not
    finish)."""

    is_first: bool
    location: str | None = None


class FormKeys:
    """The keys of the forms people sent, by person (a key is never another person's)."""

    def __init__(
        self,
        db: Database,
        schema: str = SCHEMA,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self.db = db
        self.schema = schema
        # looked up when called: under eventlet, time.sleep lets other requests run meanwhile
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._clock = clock or time.monotonic

    def claim(self, user_id: str, key: str, now: datetime) -> Claim:
        """This post's claim on the key; a post made while another holds it waits (up to
        WAIT_SECONDS) for that one's answer, and claims the key itself if that one gave it
        back (nothing was made)."""
        deadline = self._clock() + WAIT_SECONDS
        while True:
            with self.db.transaction() as cur:
                cur.execute(
                    f"DELETE FROM {self.schema}.form_keys WHERE claimed_at < %s",
                    (now - timedelta(seconds=KEEP_SECONDS),),
                )
                cur.execute(
                    f"INSERT INTO {self.schema}.form_keys (user_id, form_key, claimed_at)"
                    " VALUES (%s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                    (user_id, key, now),
                )
                if cur.fetchone() is not None:
                    return Claim(is_first=True)
                cur.execute(
                    f"SELECT location FROM {self.schema}.form_keys"
                    " WHERE user_id = %s AND form_key = %s",
                    (user_id, key),
                )
                row = cur.fetchone()
            if row is None:
                continue  # given back between the insert and the read: claim it again
            if row[0] is not None or self._clock() >= deadline:
                return Claim(is_first=False, location=row[0])
            self._sleep(POLL_SECONDS)

    def made(self, user_id: str, key: str, location: str) -> None:
        """The record was made: a post of the same key is sent to `location`."""
        with self.db.transaction() as cur:
            cur.execute(
                f"UPDATE {self.schema}.form_keys SET location = %s"
                " WHERE user_id = %s AND form_key = %s",
                (location, user_id, key),
            )

    def give_back(self, user_id: str, key: str) -> None:
        """Nothing was made (the form had errors, or a service refused it): the same form,
        corrected, may be sent again."""
        with self.db.transaction() as cur:
            cur.execute(
                f"DELETE FROM {self.schema}.form_keys WHERE user_id = %s AND form_key = %s"
                " AND location IS NULL",
                (user_id, key),
            )
