"""Who is signed in to the web app: server-side sessions in the node's database (schema `web`),
the sign-ins under way, each with its PKCE verifier, and the name each member of staff's
sign-in gave (shown in place of their sign-in id where the workforce has no name for them).

The browser holds only a random secret in a cookie. The database keeps a hash of it to find the
row, and the tokens, name and form key sealed with a key made from that same secret: a copy of
the database alone neither opens a session nor yields a token to call the node's services with.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.web.form_keys import FormKeys
from shared.db import Database

SCHEMA = "web"
# A computer shared in an office is left signed in: half an hour without a page, or a working
# day with a margin at most, ends a session.
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 10 * 3600
# a sign-in not finished at the provider within this long has to start again
PENDING_LOGIN_SECONDS = 10 * 60

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.sessions (
    lookup bytea PRIMARY KEY,
    user_id text NOT NULL,
    role text NOT NULL,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires_at ON {SCHEMA}.sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_last_seen_at ON {SCHEMA}.sessions (last_seen_at);
CREATE INDEX IF NOT EXISTS sessions_user_id ON {SCHEMA}.sessions (user_id);
CREATE TABLE IF NOT EXISTS {SCHEMA}.pending_logins (
    lookup bytea PRIMARY KEY,
    sealed bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_logins_expires_at ON {SCHEMA}.pending_logins (expires_at);
"""
TABLES = ("sessions", "pending_logins")

# the name of each member of staff as their provider last gave it when they signed in here
NAMES_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.staff_names (
    user_id text PRIMARY KEY,
    name text NOT NULL,
    signed_in_at timestamptz NOT NULL
);
"""
NAMES_TABLES = ("staff_names",)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def lookup_of(secret: str) -> bytes:
    """What the database keys a session or a sign-in by: never the secret itself."""
    return hashlib.sha256(b"peerlink-web lookup\0" + secret.encode()).digest()


def seal(secret: str, data: dict) -> bytes:
    nonce = os.urandom(12)
    key = hashlib.sha256(b"peerlink-web seal\0" + secret.encode()).digest()
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(data).encode(), lookup_of(secret))


def unseal(secret: str, sealed: bytes) -> dict | None:
    """The sealed data, or None when `secret` is not the one it was sealed with."""
    key = hashlib.sha256(b"peerlink-web seal\0" + secret.encode()).digest()
    try:
        plain = AESGCM(key).decrypt(bytes(sealed[:12]), bytes(sealed[12:]), lookup_of(secret))
    except (InvalidTag, ValueError):
        return None
    return json.loads(plain)


@dataclass(frozen=True)
class Session:
    user_id: str
    name: str
    role: str
    access_token: str
    access_token_expires_at: datetime
    id_token: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime

    @property
    def expires_at(self) -> datetime:
        """The absolute end, whatever the person does."""
        return self.created_at + timedelta(seconds=ABSOLUTE_SECONDS)

    def ends_at(self) -> datetime:
        return min(self.expires_at, self.last_seen_at + timedelta(seconds=IDLE_SECONDS))

    def is_over(self, now: datetime) -> bool:
        return now >= self.ends_at()

    def is_token_expired(self, now: datetime) -> bool:
        return now >= self.access_token_expires_at


@dataclass(frozen=True)
class PendingLogin:
    state: str
    nonce: str
    code_verifier: str
    created_at: datetime
    # the page to go back to once signed in (a path of the app)
    next_path: str = "/"

    def is_over(self, now: datetime) -> bool:
        return now >= self.created_at + timedelta(seconds=PENDING_LOGIN_SECONDS)


class SessionStore:
    """Sessions and sign-ins under way, by the secret their cookie holds."""

    def __init__(self, db: Database, schema: str = SCHEMA):
        self.db = db
        self.schema = schema
        self.form_keys = FormKeys(db, schema)

    def begin_login(self, pending: PendingLogin) -> str:
        """Records a sign-in under way; returns the secret for its cookie."""
        secret = new_secret()
        expires_at = pending.created_at + timedelta(seconds=PENDING_LOGIN_SECONDS)
        data = {
            "state": pending.state,
            "nonce": pending.nonce,
            "verifier": pending.code_verifier,
            "next": pending.next_path,
        }
        with self.db.transaction() as cur:
            self._sweep(cur, pending.created_at)
            cur.execute(
                f"INSERT INTO {self.schema}.pending_logins (lookup, sealed, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s)",
                (lookup_of(secret), seal(secret, data), pending.created_at, expires_at),
            )
        return secret

    def take_login(self, secret: str | None, now: datetime) -> PendingLogin | None:
        """The sign-in under way for this cookie, once only (None when unknown or too old)."""
        if not secret:
            return None
        with self.db.transaction() as cur:
            cur.execute(
                f"DELETE FROM {self.schema}.pending_logins WHERE lookup = %s"
                " RETURNING sealed, created_at",
                (lookup_of(secret),),
            )
            row = cur.fetchone()
        if row is None:
            return None
        data = unseal(secret, row[0])
        if data is None:
            return None
        pending = PendingLogin(
            data["state"], data["nonce"], data["verifier"], row[1], data.get("next") or "/"
        )
        return None if pending.is_over(now) else pending

    def start(
        self,
        now: datetime,
        user_id: str,
        name: str,
        role: str,
        access_token: str,
        access_token_expires_at: datetime,
        id_token: str,
    ) -> tuple[str, Session]:
        """A new session (always a new secret: one chosen by anyone else is never taken up)."""
        secret = new_secret()
        session = Session(
            user_id=user_id,
            name=name,
            role=role,
            access_token=access_token,
            access_token_expires_at=access_token_expires_at,
            id_token=id_token,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
        sealed = seal(
            secret,
            {
                "name": name,
                "access_token": access_token,
                "access_token_expires_at": access_token_expires_at.isoformat(),
                "id_token": id_token,
                "csrf_token": session.csrf_token,
            },
        )
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.schema}.sessions (lookup, user_id, role, sealed, created_at,"
                " last_seen_at, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (lookup_of(secret), user_id, role, sealed, now, now, session.expires_at),
            )
            # a provider with no name for them gives their id, which names nobody
            if name.strip() and name != user_id:
                cur.execute(
                    f"INSERT INTO {self.schema}.staff_names (user_id, name, signed_in_at)"
                    " VALUES (%s, %s, %s) ON CONFLICT (user_id) DO UPDATE"
                    " SET name = EXCLUDED.name, signed_in_at = EXCLUDED.signed_in_at",
                    (user_id, name.strip(), now),
                )
        return secret, session

    def staff_names(self) -> dict[str, str]:
        """Sign-in id -> the name their sign-in gave, for everyone who has signed in here."""
        with self.db.transaction() as cur:
            cur.execute(f"SELECT user_id, name FROM {self.schema}.staff_names")
            return dict(cur.fetchall())

    def find(self, secret: str | None, now: datetime) -> Session | None:
        """The live session of this cookie, seen now; None (and the row gone) once it is over."""
        if not secret:
            return None
        lookup = lookup_of(secret)
        with self.db.transaction() as cur:
            cur.execute(
                f"UPDATE {self.schema}.sessions SET last_seen_at = %s"
                " WHERE lookup = %s AND expires_at > %s AND last_seen_at > %s"
                " RETURNING user_id, role, sealed, created_at, last_seen_at",
                (now, lookup, now, now - timedelta(seconds=IDLE_SECONDS)),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(f"DELETE FROM {self.schema}.sessions WHERE lookup = %s", (lookup,))
                return None
        data = unseal(secret, row[2])
        if data is None:
            return None
        return Session(
            user_id=row[0],
            name=data["name"],
            role=row[1],
            access_token=data["access_token"],
            access_token_expires_at=datetime.fromisoformat(data["access_token_expires_at"]),
            id_token=data["id_token"],
            csrf_token=data["csrf_token"],
            created_at=row[3],
            last_seen_at=row[4],
        )

    def end(self, secret: str | None) -> bool:
        if not secret:
            return False
        with self.db.transaction() as cur:
            cur.execute(
                f"DELETE FROM {self.schema}.sessions WHERE lookup = %s", (lookup_of(secret),)
            )
            return cur.rowcount > 0

    def _sweep(self, cur, now: datetime) -> None:
        """Sessions and sign-ins that are over go when a new sign-in starts."""
        cur.execute(
            f"DELETE FROM {self.schema}.sessions WHERE expires_at <= %s OR last_seen_at <= %s",
            (now, now - timedelta(seconds=IDLE_SECONDS)),
        )
        cur.execute(f"DELETE FROM {self.schema}.pending_logins WHERE expires_at <= %s", (now,))
