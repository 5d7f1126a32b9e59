"""Who is calling: OpenID Connect access tokens from the issuers a process trusts, turned into a
principal (user, role, partner). Nothing here holds a secret: tokens are signed with asymmetric
keys that each issuer publishes through discovery.

A partner's node trusts its own partner's provider for its people, and the hub's provider for
the `service` role (the hub reading event feeds). The hub trusts only its own provider. The role
comes from a claim of the provider's choosing, mapped per process in configuration, so that a
partner's Microsoft Entra ID app roles, Keycloak realm roles or Google groups all fit.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

ROLES = (
    "peer_worker",
    "team_lead",
    "safeguarding_lead",
    "partner_admin",
    "alliance_analyst",
    "operator",
    "service",  # machine-to-machine: event feeds, hub catch-up
)
HUB_PARTNER = "alliance"

# Roles a partner's own provider may grant on its node, and what the hub's provider may grant:
# on a node only `service` (read the event feed), at the hub its analysts, operators and itself.
NODE_ROLES = frozenset(
    {"peer_worker", "team_lead", "safeguarding_lead", "partner_admin", "operator"}
)
HUB_ROLES_AT_NODE = frozenset({"service"})
HUB_ROLES = frozenset({"alliance_analyst", "operator", "service"})

# A person holding several roles acts in the one that can do most; the order is that of the
# organisation chart, not of the privileges (a partner admin does not lead safeguarding).
ROLE_PRECEDENCE = (
    "partner_admin",
    "safeguarding_lead",
    "team_lead",
    "peer_worker",
    "alliance_analyst",
    "operator",
    "service",
)

# Only signatures made with a private key: a symmetric secret would be shared by whoever checks.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
DEFAULT_MAX_TOKEN_SECONDS = 3600
DEFAULT_LEEWAY_SECONDS = 30
# How many verified tokens a verifier remembers. A client sends the same token with every
# request until it expires; checking its signature and claims again each time cost more than
# a referral's command. Each is remembered with its expiry, checked on every use.
VERIFIED_TOKENS_KEPT = 4096
MAX_LEEWAY_SECONDS = 120
JWKS_TTL_SECONDS = 300
# an unknown key id makes the keys be fetched again, but not more often than this
JWKS_REFETCH_SECONDS = 30


class Unauthenticated(Exception):
    """No token, or a token that is invalid, expired or from an issuer not trusted (HTTP 401)."""


class Forbidden(Exception):
    """A known caller whose role may not do this (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    partner_id: str


@dataclass(frozen=True)
class Issuer:
    """One trusted OpenID provider: whose people it vouches for, which roles it may grant and
    how its claims are read."""

    url: str
    partner_id: str
    roles: frozenset[str]
    role_claim: str = "roles"
    role_map: dict[str, str] = field(default_factory=dict)
    user_claim: str = "sub"

    def role_of(self, claims: dict) -> str:
        values = _claim(claims, self.role_claim)
        if isinstance(values, str):
            values = values.split()
        mapped = {self.role_map.get(str(v), str(v)) for v in values or ()}
        allowed = [r for r in ROLE_PRECEDENCE if r in mapped and r in self.roles]
        if not allowed:
            raise Forbidden(
                "this account has no Peerlink role here: ask your organisation's administrator"
            )
        return allowed[0]

    def user_of(self, claims: dict) -> str:
        user = _claim(claims, self.user_claim) or claims.get("client_id")
        if not isinstance(user, str) or not user.strip():
            raise Unauthenticated(f"invalid token: no {self.user_claim} claim")
        return user


def _claim(claims: dict, path: str):
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class KeySet:
    """An issuer's signing keys, found through discovery and cached."""

    def __init__(self, issuer: str, get: Callable = requests.get):
        self.issuer = issuer
        self._get = get
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0

    def _fetch(self) -> None:
        try:
            config = self._get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()
            if config.get("issuer") != self.issuer:
                raise Unauthenticated("the provider's discovery names another issuer")
            document = self._get(config["jwks_uri"], timeout=5).json()
        except (requests.RequestException, ValueError, KeyError) as error:
            raise Unauthenticated(
                f"the sign-in provider could not be reached to check the token: "
                f"{type(error).__name__}"
            ) from None
        keys = {}
        for data in document.get("keys", []):
            if data.get("use", "sig") != "sig" or data.get("kty") == "oct":
                continue
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue
            keys[data.get("kid", "")] = key
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = not self._keys or age > JWKS_TTL_SECONDS
            if stale or (kid not in self._keys and age > JWKS_REFETCH_SECONDS):
                self._fetch()
            if kid not in self._keys:
                raise Unauthenticated(
                    "invalid token: signed with a key the issuer does not publish"
                )
            return self._keys[kid]


class TokenVerifier:
    """Checks a bearer token against the issuers this process trusts and returns its principal."""

    def __init__(
        self,
        audience: str,
        issuers: list[Issuer],
        max_token_seconds: int = DEFAULT_MAX_TOKEN_SECONDS,
        leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
        get: Callable = requests.get,
        clock: Callable[[], float] = time.time,
    ):
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"leeway: must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
        self.audience = audience
        self.issuers = {issuer.url: issuer for issuer in issuers}
        self.max_token_seconds = max_token_seconds
        self.leeway_seconds = leeway_seconds
        self._keys = {url: KeySet(url, get) for url in self.issuers}
        # token -> (its principal, when it expires): verified once, trusted until it expires
        # (so a key its issuer stops publishing is still trusted for the tokens it signed
        # already, at most max_token_seconds)
        self._verified: dict[str, tuple[Principal, float]] = {}
        self.clock = clock

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if self.clock() < expires + self.leeway_seconds:
                return principal
            self._verified.pop(token, None)
            raise Unauthenticated("invalid token: Signature has expired")
        principal, expires = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # the oldest first (a dict keeps its order); another thread may have taken it
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token: not a signed JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ASYMMETRIC_ALGORITHMS:
            raise Unauthenticated(f"invalid token: algorithm {algorithm!r} is not accepted")
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthenticated("invalid token: not issued by a provider this service trusts")
        key = self._keys[issuer.url].key(header.get("kid", ""))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=issuer.url,
                leeway=self.leeway_seconds,
                options={"require": ["iss", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid token: {error}") from None
        if claims["exp"] - claims["iat"] > self.max_token_seconds:
            raise Unauthenticated(
                f"invalid token: lives longer than {self.max_token_seconds} seconds"
            )
        principal = Principal(issuer.user_of(claims), issuer.role_of(claims), issuer.partner_id)
        return principal, float(claims["exp"])


def principal_from_header(verifier: TokenVerifier, header: str | None) -> Principal:
    scheme, _, token = (header or "").strip().partition(" ")
    # the scheme's name is case-insensitive (RFC 9110, section 11.1)
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    return verifier.verify(token.strip())


def _role_map(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    mapping = json.loads(raw)
    if not isinstance(mapping, dict) or any(v not in ROLES for v in mapping.values()):
        raise RuntimeError(
            f"PEERLINK_OIDC_ROLE_MAP: must map claim values to Peerlink roles ({', '.join(ROLES)})"
        )
    return {str(k): v for k, v in mapping.items()}


def _required(env, name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise RuntimeError(f"{name} is not set: a service cannot check tokens without it")
    return value


def verifier_from_environment(partner_id: str, env=None) -> TokenVerifier:
    """The verifier of a node (its partner's provider, and the hub's for `service`) or of the
    hub (its own provider only), from PEERLINK_OIDC_* settings read once at start."""
    env = os.environ if env is None else env
    own = _required(env, "PEERLINK_OIDC_ISSUER").rstrip("/")
    audience = _required(env, "PEERLINK_OIDC_AUDIENCE")
    reading = {
        "role_claim": env.get("PEERLINK_OIDC_ROLE_CLAIM", "roles"),
        "role_map": _role_map(env.get("PEERLINK_OIDC_ROLE_MAP")),
        "user_claim": env.get("PEERLINK_OIDC_USER_CLAIM", "sub"),
    }
    if partner_id == HUB_PARTNER:
        issuers = [Issuer(own, HUB_PARTNER, HUB_ROLES, **reading)]
    else:
        hub = _required(env, "PEERLINK_HUB_ISSUER").rstrip("/")
        if hub == own:
            raise RuntimeError("PEERLINK_HUB_ISSUER: must not be the partner's own issuer")
        issuers = [
            Issuer(own, partner_id, NODE_ROLES, **reading),
            Issuer(hub, HUB_PARTNER, HUB_ROLES_AT_NODE),
        ]
    return TokenVerifier(
        audience,
        issuers,
        max_token_seconds=int(
            env.get("PEERLINK_OIDC_MAX_TOKEN_SECONDS", DEFAULT_MAX_TOKEN_SECONDS)
        ),
        leeway_seconds=int(env.get("PEERLINK_OIDC_LEEWAY_SECONDS", DEFAULT_LEEWAY_SECONDS)),
    )


class MachineCredential:
    """A process's own OAuth client (client credentials), with a token per audience kept until
    shortly before it expires."""

    def __init__(
        self, issuer: str, client_id: str, client_secret: str, get=requests.get, post=requests.post
    ):
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._get, self._post = get, post
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._token_endpoint: str | None = None

    @classmethod
    def from_environment(cls, env=None) -> MachineCredential:
        env = os.environ if env is None else env
        secret_file = _required(env, "PEERLINK_OIDC_CLIENT_SECRET_FILE")
        with open(secret_file) as handle:
            secret = handle.read().strip()
        return cls(
            _required(env, "PEERLINK_OIDC_ISSUER"),
            _required(env, "PEERLINK_OIDC_CLIENT_ID"),
            secret,
        )

    def token(self, audience: str) -> str:
        with self._lock:
            cached = self._tokens.get(audience)
            if cached and cached[1] > time.monotonic() + 60:
                return cached[0]
            if self._token_endpoint is None:
                config = self._get(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=5
                ).json()
                self._token_endpoint = config["token_endpoint"]
            response = self._post(
                self._token_endpoint,
                data={"grant_type": "client_credentials", "resource": audience},
                auth=(self.client_id, self._secret),
                timeout=10,
            )
            response.raise_for_status()
            body = response.json()
            self._tokens[audience] = (
                body["access_token"],
                time.monotonic() + int(body.get("expires_in", 300)),
            )
            return body["access_token"]


def feed_tokens(credential: MachineCredential) -> Callable[[str], str]:
    """Tokens for reading event feeds: `source` ("<partner>/<service>") names whose node."""
    from shared.config import node_audience

    return lambda source: credential.token(node_audience(source.split("/", 1)[0]))
