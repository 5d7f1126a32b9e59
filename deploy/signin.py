"""Bearer tokens of a local stack for scripts, the demo loader, benchmarks and tests: people sign
in at their partner's identity provider (with authorization code and PKCE, as a browser would),
machines use their client credentials at the hub's provider. No token is minted here."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path

from deploy import idp
from shared.auth import HUB_PARTNER
from shared.config import HUB_AUDIENCE, node_audience

# a token is used again until this close to its expiry
RENEW_BEFORE_SECONDS = 120


def audience_of(partner: str) -> str:
    return HUB_AUDIENCE if partner == HUB_PARTNER else node_audience(partner)


class Tokens:
    """token(role, partner, user) for a stack described by run/<stack>/stack.json. A person
    who is not one of the demo users is made an account at their partner's provider first (the
    stack's own provider, administered by whoever runs it), with this object's password."""

    def __init__(self, state: dict):
        self.state = state
        self._password = secrets.token_urlsafe(18)
        self._demo = _demo_passwords(state)
        self._made: set[tuple[str, str, str]] = set()
        self._cache: dict[tuple, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, role: str, partner: str = "leeds-mind", user: str | None = None) -> str:
        key = (role, partner, user)
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[1] > time.monotonic() + RENEW_BEFORE_SECONDS:
                return cached[0]
        value = self._fresh(role, partner, user)
        with self._lock:
            # tokens live an hour; kept a little less than that from when they were asked for
            self._cache[key] = (value, time.monotonic() + 3000)
        return value

    def headers(self, role: str, partner: str = "leeds-mind", user: str | None = None) -> dict:
        return {"Authorization": f"Bearer {self.token(role, partner, user)}"}

    def _fresh(self, role: str, partner: str, user: str | None) -> str:
        providers = self.state["idp"]["issuers"]
        if role == "service":
            # the hub's own machine credential, for the node (or hub) the caller names
            return idp.client_credentials(
                providers[HUB_PARTNER],
                "hub-worker",
                self._client_secret(HUB_PARTNER, "hub-worker"),
                resource=audience_of(partner),
            )
        issuer = HUB_PARTNER if partner == HUB_PARTNER else partner
        username, password = self.account(role, partner, user)
        return idp.login(providers[issuer], username, password, resource=audience_of(partner))

    def account(self, role: str, partner: str = "leeds-mind", user: str | None = None):
        """(username, password) of a person at their partner's provider, for signing in as a
        browser would; the account is made first when it is new."""
        issuer = HUB_PARTNER if partner == HUB_PARTNER else partner
        username = user or f"test-{role}"
        password = self._demo.get((issuer, username))
        if password is not None:
            return username, password
        with self._lock:
            if (issuer, username, role) not in self._made:
                idp.ensure_account(
                    self.state["idp"]["database_url"],
                    issuer,
                    username,
                    self._password,
                    [role],
                    username,
                )
                self._made.add((issuer, username, role))
        return username, self._password

    def _client_secret(self, issuer: str, client_id: str) -> str:
        path = Path(self.state["idp"]["secrets"]) / f"{issuer}.{client_id}"
        return path.read_text().strip()


def _demo_passwords(state: dict) -> dict[tuple[str, str], str]:
    path = Path(state["idp"]["secrets"]) / "demo-users.json"
    if not path.exists():
        return {}
    found = {}
    for entry in json.loads(path.read_text()):
        found[(entry["issuer"], entry["username"])] = entry["password"]
    return found
