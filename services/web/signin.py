"""Signing people in at their partner's OpenID provider (the web app is its relying party):
authorization code with PKCE (S256), a `state` that ties the answer to the browser that asked,
a `nonce` that ties the ID token to that request, and the code exchanged with the web app's own
client secret. Discovery and the provider's signing keys are cached."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import jwt
import requests

from shared.auth import ASYMMETRIC_ALGORITHMS, DEFAULT_LEEWAY_SECONDS, KeySet, Unauthenticated

CLIENT_ID = "peerlink-web"
# what the web app asks for: who the person is and their name; the roles come in the access token
SCOPE = "openid profile"
DISCOVERY_TTL_SECONDS = 300
TIMEOUT_SECONDS = 5


class SignInFailed(Exception):
    """What a person is told when signing in or out does not work, with the HTTP status."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(f"{status} {title}: {message}")
        self.status = status
        self.title = title
        self.message = message


PROVIDER_DOWN = SignInFailed(
    503,
    "The sign-in service is not answering",
    "Peerlink could not reach your organisation's sign-in service. Wait a minute and try again.",
)


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_same_state(expected: str | None, given: str | None) -> bool:
    """Whether the provider's answer carries the state this browser's sign-in started with."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def check_id_token(
    token: str,
    key,
    issuer: str,
    client_id: str,
    nonce: str,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> dict:
    """The ID token's claims once its signature, issuer, audience, lifetime and nonce hold;
    Unauthenticated otherwise."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.PyJWTError:
        raise Unauthenticated("the ID token is not a signed JWT") from None
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise Unauthenticated(f"the ID token's algorithm {algorithm!r} is not accepted")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=client_id,
            issuer=issuer,
            leeway=leeway_seconds,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"the ID token is not valid: {error}") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise Unauthenticated("the ID token was issued to another party")
    if not is_same_state(nonce, claims.get("nonce")):
        raise Unauthenticated("the ID token does not answer this sign-in (nonce)")
    return claims


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str


class RelyingParty:
    """The web app as a client of its partner's provider."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        web_url: str,
        secret_file: str,
        client_id: str = CLIENT_ID,
        get: Callable = requests.get,
        post: Callable = requests.post,
    ):
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.web_url = web_url.rstrip("/")
        self.client_id = client_id
        self._secret_file = secret_file
        self._get, self._post = get, post
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._fetched_at = 0.0
        self._keys = KeySet(self.issuer, get)

    @classmethod
    def from_environment(cls, env=None) -> RelyingParty:
        env = os.environ if env is None else env
        missing = [
            name
            for name in (
                "PEERLINK_OIDC_ISSUER",
                "PEERLINK_OIDC_AUDIENCE",
                "PEERLINK_WEB_URL",
                "PEERLINK_WEB_CLIENT_SECRET_FILE",
            )
            if not env.get(name, "").strip()
        ]
        if missing:
            raise RuntimeError(f"{', '.join(missing)}: the web app cannot sign people in without")
        return cls(
            env["PEERLINK_OIDC_ISSUER"],
            env["PEERLINK_OIDC_AUDIENCE"],
            env["PEERLINK_WEB_URL"],
            env["PEERLINK_WEB_CLIENT_SECRET_FILE"],
            client_id=env.get("PEERLINK_WEB_CLIENT_ID", CLIENT_ID),
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.web_url}/auth/callback"

    @property
    def home(self) -> str:
        return f"{self.web_url}/"

    @property
    def is_secure(self) -> bool:
        return self.web_url.startswith("https://")

    def metadata(self) -> dict:
        """The provider's discovery document (SignInFailed when it cannot be had)."""
        with self._lock:
            fresh = time.monotonic() - self._fetched_at < DISCOVERY_TTL_SECONDS
            if self._metadata is not None and fresh:
                return self._metadata
            try:
                response = self._get(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=TIMEOUT_SECONDS
                )
                response.raise_for_status()
                document = response.json()
            except (requests.RequestException, ValueError):
                raise PROVIDER_DOWN from None
            if document.get("issuer") != self.issuer:
                raise SignInFailed(
                    502,
                    "The sign-in service is set up wrongly",
                    "Its address does not match the one Peerlink was given. "
                    "Tell your organisation's Peerlink administrator.",
                )
            self._metadata, self._fetched_at = document, time.monotonic()
            return document

    def is_answering(self) -> bool:
        try:
            self.metadata()
        except SignInFailed:
            return False
        return True

    def authorization_url(
        self, state: str, nonce: str, code_challenge: str, prompt: str | None = None
    ) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "resource": self.resource,
        }
        if prompt:
            query["prompt"] = prompt
        return f"{self.metadata()['authorization_endpoint']}?{urlencode(query)}"

    def exchange(self, code: str, code_verifier: str) -> Tokens:
        """The tokens for an authorization code, asked for with the client's secret."""
        endpoint = self.metadata()["token_endpoint"]
        try:
            response = self._post(
                endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": code_verifier,
                    "resource": self.resource,
                },
                auth=(self.client_id, self._client_secret()),
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException:
            raise PROVIDER_DOWN from None
        if response.status_code == 400:
            # most often a code used twice or too late: the person starts again
            raise SignInFailed(
                400,
                "Your sign-in has expired",
                "Signing in took too long or was already finished. Sign in again.",
            )
        try:
            response.raise_for_status()
            body = response.json()
            return Tokens(body["access_token"], body["id_token"])
        except (requests.RequestException, ValueError, KeyError):
            raise SignInFailed(
                502,
                "The sign-in service gave an answer Peerlink cannot use",
                "Try again. If it keeps happening, tell your organisation's Peerlink "
                "administrator.",
            ) from None

    def check_id_token(self, token: str, nonce: str) -> dict:
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
            key = self._keys.key(kid)
        except jwt.PyJWTError:
            raise Unauthenticated("the ID token is not a signed JWT") from None
        return check_id_token(token, key, self.issuer, self.client_id, nonce)

    def end_session_url(self, id_token: str) -> str | None:
        """Where the browser ends its session at the provider too (None: the provider has no
        end_session_endpoint)."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        query = {
            "id_token_hint": id_token,
            "post_logout_redirect_uri": self.home,
            "client_id": self.client_id,
        }
        return f"{endpoint}?{urlencode(query)}"

    def _client_secret(self) -> str:
        # read when needed: the provider's set-up writes it, and a new one is picked up
        try:
            with open(self._secret_file) as handle:
                return handle.read().strip()
        except OSError:
            raise SignInFailed(
                503,
                "Signing in is not set up",
                "Peerlink has no client secret for your organisation's sign-in service. "
                "Tell your organisation's Peerlink administrator.",
            ) from None
