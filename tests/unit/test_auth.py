"""The token verifier against issuers faked in memory: their discovery and keys are real JWKs,
so every check (algorithm, issuer, audience, lifetime, roles) runs as it does in a service."""

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.auth import (
    HUB_PARTNER,
    HUB_ROLES_AT_NODE,
    NODE_ROLES,
    Forbidden,
    Issuer,
    TokenVerifier,
    Unauthenticated,
    principal_from_header,
    verifier_from_environment,
)

pytestmark = pytest.mark.unit

OWN = "https://id.leeds-mind.example"
HUB = "https://id.hub.example"
OTHER = "https://id.lslcs.example"
AUDIENCE = "urn:peerlink:node:leeds-mind"


class FakeProvider:
    """Discovery and JWKS of several issuers, answering like `requests.get`."""

    def __init__(self):
        self.keys: dict[str, dict] = {}  # issuer -> {kid: private key}
        self.fetches = 0

    def add(self, issuer: str, kid: str, key) -> None:
        self.keys.setdefault(issuer, {})[kid] = key

    def get(self, url: str, timeout: float):
        self.fetches += 1
        for issuer, keys in self.keys.items():
            if url == f"{issuer}/.well-known/openid-configuration":
                return _Response({"issuer": issuer, "jwks_uri": f"{issuer}/jwks"})
            if url == f"{issuer}/jwks":
                return _Response({"keys": [_public_jwk(kid, key) for kid, key in keys.items()]})
        raise AssertionError(f"unexpected fetch {url}")


class _Response:
    def __init__(self, body):
        self.body = body

    def json(self):
        return self.body


def _public_jwk(kid: str, key) -> dict:
    data = json.loads(jwt.algorithms.get_default_algorithms()[_alg(key)].to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig"}


def _alg(key) -> str:
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_HUB = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def provider():
    fake = FakeProvider()
    fake.add(OWN, "k1", RSA)
    fake.add(OWN, "k2", EC)
    fake.add(HUB, "h1", RSA_HUB)
    fake.add(OTHER, "o1", RSA_OTHER)
    return fake


@pytest.fixture
def verifier(provider):
    return TokenVerifier(
        AUDIENCE,
        [
            Issuer(OWN, "leeds-mind", NODE_ROLES),
            Issuer(HUB, HUB_PARTNER, HUB_ROLES_AT_NODE),
        ],
        get=provider.get,
    )


def sign(key=RSA, kid="k1", alg=None, **over) -> str:
    now = int(time.time())
    claims = {
        "iss": OWN,
        "aud": AUDIENCE,
        "sub": "alex",
        "roles": ["team_lead"],
        "iat": now,
        "exp": now + 900,
        **over,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg or _alg(key), headers={"kid": kid})


def test_a_token_of_the_partners_own_provider_names_user_role_and_partner(verifier):
    principal = verifier.verify(sign())
    assert (principal.user_id, principal.role, principal.partner_id) == (
        "alex",
        "team_lead",
        "leeds-mind",
    )


def test_an_elliptic_curve_signature_is_accepted(verifier):
    assert verifier.verify(sign(EC, "k2")).role == "team_lead"


def test_a_token_of_another_partners_provider_is_unauthenticated(verifier):
    with pytest.raises(Unauthenticated, match="not issued by a provider this service trusts"):
        verifier.verify(sign(RSA_OTHER, "o1", iss=OTHER))


def test_a_token_naming_our_issuer_but_signed_by_another_key_is_unauthenticated(verifier):
    with pytest.raises(Unauthenticated):
        verifier.verify(sign(RSA_OTHER, "k1"))


def test_a_token_for_another_audience_is_unauthenticated(verifier):
    with pytest.raises(Unauthenticated, match="(?i)audience"):
        verifier.verify(sign(aud="urn:peerlink:node:lslcs"))


def test_an_expired_token_is_unauthenticated(verifier):
    now = int(time.time())
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(sign(iat=now - 2000, exp=now - 100))


def test_a_token_living_longer_than_the_maximum_is_unauthenticated(verifier):
    now = int(time.time())
    with pytest.raises(Unauthenticated, match="lives longer"):
        verifier.verify(sign(iat=now, exp=now + 8 * 3600))


def test_a_token_issued_in_the_future_beyond_the_leeway_is_unauthenticated(verifier):
    now = int(time.time())
    with pytest.raises(Unauthenticated):
        verifier.verify(sign(iat=now + 600, exp=now + 900))


@pytest.mark.parametrize("missing", ["exp", "iat", "aud", "iss"])
def test_a_token_missing_a_required_claim_is_unauthenticated(verifier, missing):
    with pytest.raises(Unauthenticated):
        verifier.verify(sign(**{missing: None}))


def test_a_symmetric_token_is_unauthenticated_whatever_its_secret(verifier):
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": OWN,
            "aud": AUDIENCE,
            "sub": "x",
            "roles": ["partner_admin"],
            "iat": now,
            "exp": now + 60,
        },
        "a secret two organisations might share",
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    with pytest.raises(Unauthenticated, match="algorithm 'HS256'"):
        verifier.verify(token)


def test_an_unsigned_token_is_unauthenticated(verifier):
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": OWN,
            "aud": AUDIENCE,
            "sub": "x",
            "roles": ["partner_admin"],
            "iat": now,
            "exp": now + 60,
        },
        None,
        algorithm="none",
    )
    with pytest.raises(Unauthenticated, match="algorithm 'none'"):
        verifier.verify(token)


def test_the_hubs_provider_vouches_only_for_its_service_role_at_a_node(verifier):
    principal = verifier.verify(sign(RSA_HUB, "h1", iss=HUB, sub="hub-worker", roles=["service"]))
    assert (principal.role, principal.partner_id) == ("service", HUB_PARTNER)
    with pytest.raises(Forbidden, match="no Peerlink role"):
        verifier.verify(sign(RSA_HUB, "h1", iss=HUB, roles=["partner_admin"]))


def test_a_partners_provider_cannot_grant_the_hubs_roles(verifier):
    for role in ("service", "alliance_analyst"):
        with pytest.raises(Forbidden):
            verifier.verify(sign(roles=[role]))


def test_a_person_with_several_roles_acts_in_the_first_by_precedence(verifier):
    assert verifier.verify(sign(roles=["peer_worker", "partner_admin"])).role == "partner_admin"


def test_roles_are_read_from_a_configured_claim_and_mapped(provider):
    keycloak = TokenVerifier(
        AUDIENCE,
        [
            Issuer(
                OWN,
                "leeds-mind",
                NODE_ROLES,
                role_claim="realm_access.roles",
                role_map={"peerlink-lead": "team_lead"},
                user_claim="preferred_username",
            )
        ],
        get=provider.get,
    )
    principal = keycloak.verify(
        sign(realm_access={"roles": ["offline_access", "peerlink-lead"]}, preferred_username="ali")
    )
    assert (principal.user_id, principal.role) == ("ali", "team_lead")


def test_keys_are_fetched_once_and_again_for_a_new_key_id(verifier, provider):
    verifier.verify(sign())
    verifier.verify(sign())
    assert provider.fetches == 2  # discovery and keys, once
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.add(OWN, "k3", rotated)
    # a new key id within the refetch interval is not fetched at once (no fetch storms)
    with pytest.raises(Unauthenticated, match="key the issuer does not publish"):
        verifier.verify(sign(rotated, "k3"))
    verifier._keys[OWN]._fetched_at -= 60
    assert verifier.verify(sign(rotated, "k3")).user_id == "alex"


def test_an_unreachable_provider_is_unauthenticated_not_an_error():
    def down(url, timeout):
        raise __import__("requests").ConnectionError("refused")

    verifier = TokenVerifier(AUDIENCE, [Issuer(OWN, "leeds-mind", NODE_ROLES)], get=down)
    with pytest.raises(Unauthenticated, match="could not be reached"):
        verifier.verify(sign())


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer not-a-jwt"])
def test_a_missing_or_malformed_bearer_is_unauthenticated(verifier, header):
    with pytest.raises(Unauthenticated):
        principal_from_header(verifier, header)


def test_a_node_refuses_to_start_without_its_issuer_or_the_hubs():
    with pytest.raises(RuntimeError, match="PEERLINK_OIDC_ISSUER"):
        verifier_from_environment("leeds-mind", env={"PEERLINK_OIDC_AUDIENCE": AUDIENCE})
    with pytest.raises(RuntimeError, match="PEERLINK_HUB_ISSUER"):
        verifier_from_environment(
            "leeds-mind", env={"PEERLINK_OIDC_ISSUER": OWN, "PEERLINK_OIDC_AUDIENCE": AUDIENCE}
        )


def test_a_role_map_to_an_unknown_role_is_refused_at_start():
    with pytest.raises(RuntimeError, match="PEERLINK_OIDC_ROLE_MAP"):
        verifier_from_environment(
            "leeds-mind",
            env={
                "PEERLINK_OIDC_ISSUER": OWN,
                "PEERLINK_OIDC_AUDIENCE": AUDIENCE,
                "PEERLINK_HUB_ISSUER": HUB,
                "PEERLINK_OIDC_ROLE_MAP": '{"x": "superuser"}',
            },
        )


def test_the_hub_trusts_only_its_own_provider():
    verifier = verifier_from_environment(
        HUB_PARTNER, env={"PEERLINK_OIDC_ISSUER": HUB, "PEERLINK_OIDC_AUDIENCE": "urn:peerlink:hub"}
    )
    assert list(verifier.issuers) == [HUB]


def test_the_bearer_scheme_is_case_insensitive(verifier):
    assert principal_from_header(verifier, f"bearer {sign()}").user_id == "alex"


def _clocked(provider, clock):
    return TokenVerifier(
        AUDIENCE, [Issuer(OWN, "leeds-mind", NODE_ROLES)], get=provider.get, clock=clock
    )


def test_a_verified_token_is_checked_once_and_refused_once_it_expires(provider, monkeypatch):
    now = [time.time()]
    verifier = _clocked(provider, lambda: now[0])
    token = sign()
    first = verifier.verify(token)
    decoded = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append(a) or {})
    assert verifier.verify(token) == first  # remembered: no second decode
    assert decoded == []
    now[0] += 900 + verifier.leeway_seconds - 1
    assert verifier.verify(token) == first  # within the leeway after expiry
    now[0] += 2
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)
    with pytest.raises(Unauthenticated):  # forgotten, and checked afresh: decode finds nothing
        verifier.verify(token)


def test_a_refused_token_is_not_remembered(verifier, provider):
    forged = sign(RSA_OTHER, "k1")
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            verifier.verify(forged)
    assert verifier._verified == {}


def test_the_verifier_remembers_a_bounded_number_of_tokens(provider, monkeypatch):
    monkeypatch.setattr("shared.auth.VERIFIED_TOKENS_KEPT", 3)
    verifier = _clocked(provider, time.time)
    tokens = [sign(sub=f"worker-{n}") for n in range(5)]
    for token in tokens:
        verifier.verify(token)
    assert list(verifier._verified) == tokens[2:]  # the oldest forgotten first
    assert verifier.verify(tokens[0]).user_id == "worker-0"  # and verified again when sent
