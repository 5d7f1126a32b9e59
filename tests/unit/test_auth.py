import time

import jwt
import pytest

from shared.auth import (
    ROLES,
    Unauthenticated,
    issue_token,
    principal_from_header,
    verify_token,
)

pytestmark = pytest.mark.unit
SECRET = "s" * 32


def test_a_token_carries_user_role_and_partner():
    principal = verify_token(SECRET, issue_token(SECRET, "alex", "team_lead", "mesmac"))
    assert (principal.user_id, principal.role, principal.partner_id) == (
        "alex",
        "team_lead",
        "mesmac",
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_be_issued(role):
    assert verify_token(SECRET, issue_token(SECRET, "u", role, "lslcs")).role == role


def test_an_unknown_role_is_not_issued():
    with pytest.raises(ValueError, match="role"):
        issue_token(SECRET, "u", "admin", "lslcs")


def claims(**over):
    now = int(time.time())
    return {
        "sub": "u",
        "role": "team_lead",
        "partner": "lslcs",
        "iss": "peerlink",
        "iat": now,
        "exp": now + 60,
        **over,
    }


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(claims(), "another secret of enough length!", algorithm="HS256"),
        jwt.encode(claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256"),
        jwt.encode(claims(iss="elsewhere"), SECRET, algorithm="HS256"),
        jwt.encode(claims(role="root"), SECRET, algorithm="HS256"),
        jwt.encode(
            {k: v for k, v in claims().items() if k != "partner"}, SECRET, algorithm="HS256"
        ),
        jwt.encode(claims(), SECRET, algorithm="HS512"),
        jwt.encode(claims(), None, algorithm="none"),
        "not.a.token",
    ],
    ids=["other-secret", "expired", "issuer", "role", "no-partner", "hs512", "alg-none", "garbage"],
)
def test_invalid_tokens_are_unauthenticated(token):
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer"])
def test_a_missing_bearer_is_unauthenticated(header):
    with pytest.raises(Unauthenticated):
        principal_from_header(SECRET, header)
