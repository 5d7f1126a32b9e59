"""Tokens signed with a stack's own provider keys (read from the provider's key files) but wrong
in one claim: what the checks after the signature must refuse."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt

from shared.config import node_audience


def signing_key(stack_state, issuer: str = "leeds-mind"):
    """The provider's own private key, read from its key file: to forge tokens that are signed
    correctly but wrong in one claim (the checks after the signature)."""
    document = json.loads((Path(stack_state["idp"]["secrets"]) / f"{issuer}.jwks.json").read_text())
    data = document["keys"][0]
    return jwt.PyJWK(data).key, data["kid"]


def forged(stack_state, issuer: str = "leeds-mind", alg: str = "RS256", **over) -> str:
    key, kid = signing_key(stack_state, issuer)
    now = int(time.time())
    claims = {
        "iss": stack_state["endpoints"]["identity"][issuer],
        "aud": node_audience("leeds-mind"),
        "sub": "intruder",
        "roles": ["partner_admin"],
        "iat": now,
        "exp": now + 600,
        "client_id": "peerlink-cli",
        **over,
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def forgeries(stack_state) -> dict[str, str]:
    """Tokens every service must refuse with 401, each claiming a powerful role."""
    now = int(time.time())
    other_key, _ = signing_key(stack_state, "lslcs")
    claims = jwt.decode(forged(stack_state), options={"verify_signature": False})
    return {
        "garbage": "not.a.token",
        "other-partners-key": jwt.encode(
            claims, other_key, algorithm="RS256", headers={"kid": signing_key(stack_state)[1]}
        ),
        "alg-none": jwt.encode(claims, None, algorithm="none"),
        "hs256": jwt.encode(claims, "a secret two organisations might share", "HS256"),
        "expired": forged(stack_state, iat=now - 900, exp=now - 300),
        "over-long": forged(stack_state, iat=now, exp=now + 30 * 24 * 3600),
        "wrong-audience": forged(stack_state, aud=node_audience("lslcs")),
        "other-issuer": forged(stack_state, iss="https://elsewhere.example"),
    }
