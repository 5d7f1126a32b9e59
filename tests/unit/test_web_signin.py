"""The web app as a relying party, without a provider: PKCE, state, the ID token's checks, the
requests it makes of the provider, and its pages answering a sign-in that fails."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from services.web import pages
from services.web.api import SERVICES, Endpoints
from services.web.service import WebService
from services.web.sessions import PendingLogin, Session
from services.web.signin import (
    RelyingParty,
    SignInFailed,
    Tokens,
    check_id_token,
    is_same_state,
    pkce_challenge,
    pkce_pair,
)
from shared.auth import Forbidden, Principal, Unauthenticated

pytestmark = pytest.mark.unit

ISSUER = "http://127.0.0.1:8109"
WEB = "http://127.0.0.1:8104"
AUDIENCE = "urn:peerlink:node:leeds-mind"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- PKCE and state ----------------------------------------------------------------------------


def test_the_pkce_challenge_is_the_s256_of_rfc_7636():
    # RFC 7636, appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_a_pkce_pair_is_new_each_time_and_within_the_rfcs_alphabet_and_length():
    first, second = pkce_pair(), pkce_pair()
    assert first != second
    verifier, challenge = first
    assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == digest.rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("expected", "given", "same"),
    [
        ("abc123", "abc123", True),
        ("abc123", "abc124", False),
        ("abc123", "", False),
        ("abc123", None, False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_only_the_state_the_sign_in_started_with_is_accepted(expected, given, same):
    assert is_same_state(expected, given) is same


# -- the ID token ------------------------------------------------------------------------------


def id_token(key=KEY, alg="RS256", **over) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "sam",
        "aud": "peerlink-web",
        "iat": now,
        "exp": now + 3600,
        "nonce": "n-1",
        **over,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1"})


def check(token: str, nonce: str = "n-1") -> dict:
    return check_id_token(token, KEY.public_key(), ISSUER, "peerlink-web", nonce)


def test_an_id_token_signed_by_the_provider_for_this_sign_in_is_accepted():
    assert check(id_token())["sub"] == "sam"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (lambda: id_token(nonce="another"), "nonce"),
        (lambda: id_token(nonce=None), "nonce"),
        (lambda: id_token(aud="peerlink-cli"), "(?i)audience"),
        (lambda: id_token(aud=["peerlink-web", "peerlink-cli"]), "another party"),
        (lambda: id_token(iss="http://127.0.0.1:8209"), "issuer"),
        (lambda: id_token(exp=int(time.time()) - 300), "expired"),
        (lambda: id_token(sub=None), "sub"),
        (lambda: id_token(key=OTHER_KEY), "(?i)signature"),
        (lambda: id_token(key="a shared secret long enough for HS256!!", alg="HS256"), "algorithm"),
        (lambda: "not.a.token", "JWT"),
    ],
)
def test_an_id_token_that_does_not_answer_this_sign_in_is_refused(token, why):
    with pytest.raises(Unauthenticated, match=why):
        check(token())


# -- the provider's endpoints -----------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body):
        self.status_code = status
        self.body = body

    def json(self):
        return self.body

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(str(self.status_code))


class FakeProvider:
    """Discovery and the token endpoint, answering like `requests`."""

    def __init__(self, issuer: str = ISSUER):
        self.issuer = issuer
        self.posts: list[dict] = []
        self.token_answer = FakeResponse(200, {"access_token": "at", "id_token": "it"})
        self.is_down = False

    def get(self, url: str, timeout: float):
        if self.is_down:
            raise requests.ConnectionError("refused")
        assert url == f"{ISSUER}/.well-known/openid-configuration", url
        return FakeResponse(
            200,
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token",
                "end_session_endpoint": f"{ISSUER}/session/end",
                "jwks_uri": f"{ISSUER}/jwks",
            },
        )

    def post(self, url: str, data: dict, auth: tuple, timeout: float):
        self.posts.append({"url": url, "data": data, "auth": auth})
        return self.token_answer


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "leeds-mind.peerlink-web"
    path.write_text("s3cret\n")
    return path


@pytest.fixture
def provider():
    return FakeProvider()


@pytest.fixture
def relying_party(provider, secret_file):
    return RelyingParty(
        ISSUER, AUDIENCE, WEB, str(secret_file), get=provider.get, post=provider.post
    )


def test_the_authorization_request_asks_for_a_code_with_pkce_state_nonce_and_the_node(
    relying_party,
):
    url = urlparse(relying_party.authorization_url("st", "no", "ch"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/auth"
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": ["peerlink-web"],
        "redirect_uri": [f"{WEB}/auth/callback"],
        "scope": ["openid profile"],
        "state": ["st"],
        "nonce": ["no"],
        "code_challenge": ["ch"],
        "code_challenge_method": ["S256"],
        "resource": [AUDIENCE],
    }
    again = parse_qs(urlparse(relying_party.authorization_url("s", "n", "c", "login")).query)
    assert again["prompt"] == ["login"]


def test_the_code_is_exchanged_with_the_verifier_and_the_client_secret(relying_party, provider):
    assert relying_party.exchange("the-code", "the-verifier") == Tokens("at", "it")
    (sent,) = provider.posts
    assert sent["url"] == f"{ISSUER}/token"
    assert sent["auth"] == ("peerlink-web", "s3cret")
    assert sent["data"] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": f"{WEB}/auth/callback",
        "code_verifier": "the-verifier",
        "resource": AUDIENCE,
    }


def test_a_code_the_provider_refuses_means_signing_in_again(relying_party, provider):
    provider.token_answer = FakeResponse(400, {"error": "invalid_grant"})
    with pytest.raises(SignInFailed) as failure:
        relying_party.exchange("used", "v")
    assert failure.value.status == 400


def test_a_provider_that_does_not_answer_is_said_in_words(relying_party, provider):
    provider.is_down = True
    with pytest.raises(SignInFailed) as failure:
        relying_party.authorization_url("s", "n", "c")
    assert failure.value.status == 503
    assert "not answering" in failure.value.title
    assert not relying_party.is_answering()


def test_a_discovery_document_naming_another_issuer_is_not_used(secret_file):
    provider = FakeProvider(issuer="http://127.0.0.1:9999")
    party = RelyingParty(ISSUER, AUDIENCE, WEB, str(secret_file), get=provider.get)
    with pytest.raises(SignInFailed) as failure:
        party.metadata()
    assert failure.value.status == 502


def test_signing_out_at_the_provider_names_the_id_token_and_comes_back_to_the_web_root(
    relying_party,
):
    url = urlparse(relying_party.end_session_url("the-id-token"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{ISSUER}/session/end"
    query = parse_qs(url.query)
    assert query["id_token_hint"] == ["the-id-token"]
    assert query["post_logout_redirect_uri"] == [f"{WEB}/"]


def test_the_settings_come_from_the_environment_and_none_is_guessed(secret_file):
    env = {
        "PEERLINK_OIDC_ISSUER": ISSUER + "/",
        "PEERLINK_OIDC_AUDIENCE": AUDIENCE,
        "PEERLINK_WEB_URL": "https://peerlink.leedsmind.example/",
        "PEERLINK_WEB_CLIENT_SECRET_FILE": str(secret_file),
    }
    party = RelyingParty.from_environment(env)
    assert party.issuer == ISSUER and party.is_secure
    assert party.redirect_uri == "https://peerlink.leedsmind.example/auth/callback"
    with pytest.raises(RuntimeError, match="PEERLINK_WEB_URL"):
        RelyingParty.from_environment({**env, "PEERLINK_WEB_URL": ""})


# -- the pages of signing in, with the provider and the store faked ----------------------------


class FakeSessions:
    """The session store in memory, by cookie secret."""

    def __init__(self):
        self.pending: dict[str, PendingLogin] = {}
        self.live: dict[str, Session] = {}

    def begin_login(self, pending: PendingLogin) -> str:
        secret = f"login-{len(self.pending)}"
        self.pending[secret] = pending
        return secret

    def take_login(self, secret, now):
        return self.pending.pop(secret, None) if secret else None

    def start(self, now, user_id, name, role, access_token, access_token_expires_at, id_token):
        secret = f"session-{len(self.live)}"
        self.live[secret] = Session(
            user_id, name, role, access_token, access_token_expires_at, id_token, "csrf", now, now
        )
        return secret, self.live[secret]

    def find(self, secret, now):
        return self.live.get(secret) if secret else None

    def end(self, secret):
        return self.live.pop(secret, None) is not None


class FakeRelyingParty:
    issuer = ISSUER
    is_secure = False

    def __init__(self, identity: dict | None = None):
        self.identity = identity or {"sub": "sam"}

    def authorization_url(self, state, nonce, challenge, prompt=None):
        return f"{ISSUER}/auth?state={state}"

    def exchange(self, code, verifier):
        now = int(time.time())
        access = jwt.encode({"sub": "sam", "name": "Sam Peer", "exp": now + 3600}, "k" * 32)
        return Tokens(access, "id-token")

    def check_id_token(self, token, nonce):
        return self.identity

    def end_session_url(self, id_token):
        return f"{ISSUER}/session/end?id_token_hint={id_token}"


class FakeVerifier:
    def __init__(self, answer):
        self.answer = answer

    def verify(self, token):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class FakeSettings:
    partner_id = "leeds-mind"


class FakeNodeHttp:
    """The node's services, answering every list with nothing in it."""

    def __init__(self):
        self.asked = []

    def request(self, method, url, headers=None, **kwargs):
        self.asked.append((method, url, headers["Authorization"]))
        answer = Response(json.dumps({"items": [], "total": 0}), mimetype="application/json")
        return FakeAnswer(answer)


class FakeAnswer:
    def __init__(self, response: Response):
        self.status_code = response.status_code
        self.content = response.get_data()
        self.headers = dict(response.headers)
        self.reason = "OK"

    def json(self):
        return json.loads(self.content)


def web(verifier_answer=None, identity=None):
    return worker_factory(
        WebService,
        sessions=FakeSessions(),
        signin=FakeRelyingParty(identity),
        verifier=FakeVerifier(verifier_answer or Principal("sam", "peer_worker", "leeds-mind")),
        settings=FakeSettings(),
        endpoints=Endpoints({name: f"http://{name}.test" for name in SERVICES}),
        http=FakeNodeHttp(),
    )


def request(path: str, method: str = "GET", cookies: dict | None = None, **kw):
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return EnvironBuilder(path=path, method=method, headers=headers, **kw).get_request()


def started(service) -> tuple[str, str]:
    """Start signing in: (the login cookie's secret, the state sent to the provider)."""
    response = service.login(request("/auth/login"))
    assert response.status_code == 303
    state = parse_qs(urlparse(response.headers["Location"]).query)["state"][0]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    return cookie.split(";")[0].split("=", 1)[1], state


def test_a_sign_in_answered_with_its_state_makes_a_session_and_goes_home():
    service = web()
    secret, state = started(service)
    response = service.callback(
        request(f"/auth/callback?code=c&state={state}", cookies={"peerlink_login": secret})
    )
    assert response.status_code == 303 and response.headers["Location"] == "/"
    (session,) = service.sessions.live.values()
    assert (session.user_id, session.name, session.role) == ("sam", "Sam Peer", "peer_worker")
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("peerlink_session=session-0;") for c in cookies)
    assert any(c.startswith("peerlink_login=;") for c in cookies)  # the sign-in is done


def test_an_answer_with_another_state_is_refused_with_a_page_to_sign_in_again():
    service = web()
    secret, _ = started(service)
    response = service.callback(
        request("/auth/callback?code=c&state=forged", cookies={"peerlink_login": secret})
    )
    assert response.status_code == 400
    assert response.content_type.startswith("text/html")
    assert 'href="/auth/login"' in response.get_data(as_text=True)
    assert service.sessions.live == {}


def test_an_answer_without_the_browsers_sign_in_is_refused():
    service = web()
    _, state = started(service)
    response = service.callback(request(f"/auth/callback?code=c&state={state}"))
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert service.sessions.live == {}


def test_an_account_without_a_peerlink_role_gets_a_403_page_to_use_another_account():
    refusal = Forbidden("this account has no Peerlink role here: ask your administrator")
    service = web(verifier_answer=refusal)
    secret, state = started(service)
    response = service.callback(
        request(f"/auth/callback?code=c&state={state}", cookies={"peerlink_login": secret})
    )
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "no Peerlink role" in text and 'href="/auth/login?prompt=login"' in text
    assert "Traceback" not in text
    assert service.sessions.live == {}


def test_an_access_token_of_someone_else_than_the_id_token_makes_no_session():
    service = web(identity={"sub": "somebody-else"})
    secret, state = started(service)
    response = service.callback(
        request(f"/auth/callback?code=c&state={state}", cookies={"peerlink_login": secret})
    )
    assert response.status_code == 403
    assert service.sessions.live == {}


def test_an_unexpected_failure_is_a_page_with_a_reference_not_a_trace():
    service = web(verifier_answer=RuntimeError("boom"))
    secret, state = started(service)
    response = service.callback(
        request(f"/auth/callback?code=c&state={state}", cookies={"peerlink_login": secret})
    )
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Sorry, there is a problem" in text and "boom" not in text
    assert "reference" in text


def signed_in(service) -> str:
    now = datetime.now(UTC)
    secret, _ = service.sessions.start(
        now, "sam", "<b>Sam</b> Peer", "peer_worker", "at", now + timedelta(hours=1), "it"
    )
    return secret


def test_the_home_page_says_who_is_signed_in_in_words_and_escapes_their_name():
    service = web()
    response = service.home(request("/", cookies={"peerlink_session": signed_in(service)}))
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert "&lt;b&gt;Sam&lt;/b&gt; Peer (peer worker)" in text and "<b>Sam" not in text
    assert 'name="csrf_token" value="csrf"' in text
    assert text.count("<h1") == 1 and '<html lang="en-GB">' in text
    # My day is read from the node's services with the signed-in person's own token
    assert service.http.asked and all(token == "Bearer at" for _, _, token in service.http.asked)


def test_every_page_carries_the_security_headers():
    service = web()
    for response in (
        service.home(request("/")),
        service.login(request("/auth/login")),
        service.callback(request("/auth/callback?code=c&state=s")),
    ):
        assert response.headers["Content-Security-Policy"] == (
            f"default-src 'self'; frame-ancestors 'none'; form-action 'self' {ISSUER}"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_signing_out_needs_the_pages_form_key_and_then_ends_the_session_at_the_provider():
    service = web()
    secret = signed_in(service)
    refused = service.logout(
        request(
            "/auth/logout",
            "POST",
            cookies={"peerlink_session": secret},
            data={"csrf_token": "guessed"},
        )
    )
    assert refused.status_code == 403 and secret in service.sessions.live
    response = service.logout(
        request(
            "/auth/logout",
            "POST",
            cookies={"peerlink_session": secret},
            data={"csrf_token": "csrf"},
        )
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{ISSUER}/session/end?id_token_hint=it"
    assert secret not in service.sessions.live
    assert response.headers["Set-Cookie"].startswith("peerlink_session=;")


def test_roles_are_named_in_words():
    assert pages.role_in_words("partner_admin") == "partner administrator"
    assert pages.role_in_words("safeguarding_lead") == "safeguarding lead"


def test_an_address_the_app_does_not_have_is_a_page_with_a_way_home():
    response = web().not_found(request("/sessions/x/notes/history"), "x")
    text = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in text and 'href="/"' in text
    assert response.headers["Cache-Control"] == "no-store"
