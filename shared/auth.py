"""Bearer tokens (JWT, HS256 pinned) carrying user, role and partner; who may call what."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

ALGORITHM = "HS256"
ISSUER = "peerlink"

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


class Unauthenticated(Exception):
    """No token, or a token that is invalid or expired (HTTP 401)."""


class Forbidden(Exception):
    """A known caller whose role may not do this (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: str
    partner_id: str


def secret_from_environment() -> str:
    """The signing secret: PEERLINK_JWT_SECRET, or the file named by PEERLINK_JWT_SECRET_FILE."""
    value = os.environ.get("PEERLINK_JWT_SECRET")
    if value:
        return value
    path = os.environ.get("PEERLINK_JWT_SECRET_FILE")
    if path and Path(path).exists():
        return Path(path).read_text().strip()
    raise RuntimeError("set PEERLINK_JWT_SECRET or PEERLINK_JWT_SECRET_FILE")


def issue_token(
    secret: str, user_id: str, role: str, partner_id: str, ttl_seconds: int = 8 * 3600
) -> str:
    if role not in ROLES:
        raise ValueError(f"role: must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": role,
        "partner": partner_id,
        "iss": ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["sub", "role", "partner", "exp", "iat", "iss"]},
        )
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"invalid token: {error}") from None
    if claims["role"] not in ROLES:
        raise Unauthenticated("invalid token: unknown role")
    return Principal(str(claims["sub"]), claims["role"], str(claims["partner"]))


def principal_from_header(secret: str, header: str | None) -> Principal:
    if not header or not header.startswith("Bearer "):
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    return verify_token(secret, header[len("Bearer ") :].strip())
