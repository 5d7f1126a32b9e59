"""The local OpenID Connect provider that the stack runs (deploy/idp): discovery, signing in with
PKCE on its login page, client credentials, audiences, roles, and keys that survive a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import psycopg2
import pytest
import requests

from deploy import idp
from shared.config import HUB_AUDIENCE, node_audience

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARTNER = "leeds-mind"


@pytest.fixture(scope="module")
def provider(stack_state) -> dict:
    return stack_state["idp"]


@pytest.fixture(scope="module")
def issuer(provider) -> str:
    return provider["issuers"][PARTNER]


@pytest.fixture
def account(provider):
    """make(roles, issuer=PARTNER) -> (username, password) of a new account, removed afterwards."""
    made = []

    def make(roles=("peer_worker",), issuer_name=PARTNER):
        username = f"it-{uuid.uuid4().hex[:10]}"
        password = uuid.uuid4().hex
        idp.ensure_account(
            provider["database_url"], issuer_name, username, password, roles, "Test Person"
        )
        made.append((issuer_name, username))
        return username, password

    yield make
    conn = psycopg2.connect(provider["database_url"])
    with conn, conn.cursor() as cur:
        for issuer_name, username in made:
            cur.execute(
                "DELETE FROM idp_accounts WHERE issuer = %s AND username = %s",
                (issuer_name, username),
            )
    conn.close()


def secret_of(provider, issuer_name: str, client_id: str) -> str:
    return Path(provider["client_secret_files"][issuer_name][client_id]).read_text().strip()


def verified(token: str, issuer_url: str, audience: str) -> dict:
    """The token's claims once its signature (found through discovery) and claims check out."""
    jwks = jwt.PyJWKClient(idp.discover(issuer_url)["jwks_uri"])
    return jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer_url,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def test_discovery_names_the_issuer_and_only_asymmetric_signing(provider):
    for name, url in provider["issuers"].items():
        metadata = idp.discover(url)
        assert metadata["issuer"] == url, name
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert "end_session_endpoint" in metadata
        assert "client_credentials" in metadata["grant_types_supported"]
        algs = {
            alg
            for key, values in metadata.items()
            if key.endswith("signing_alg_values_supported")
            for alg in values
        }
        assert algs
        assert not {alg for alg in algs if alg.startswith("HS") or alg == "none"}, name
        keys = requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]
        assert [(k["kty"], k["alg"]) for k in keys] == [("RSA", "RS256")]
        assert "d" not in keys[0]
        assert requests.get(f"{url}/health", timeout=10).json()["status"] == "ok"


def test_signing_in_with_pkce_gives_a_token_for_the_node(issuer, account):
    username, password = account(["team_lead"])

    token = idp.login(issuer, username, password)

    claims = verified(token, issuer, node_audience(PARTNER))
    assert claims["sub"] == username
    assert claims["roles"] == ["team_lead"]
    assert claims["name"] == "Test Person"
    assert claims["client_id"] == "peerlink-cli"
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_a_token_of_one_partner_does_not_name_another_partner(provider, account):
    username, password = account(["peer_worker"], "lslcs")

    token = idp.login(provider["issuers"]["lslcs"], username, password)

    with pytest.raises(jwt.InvalidAudienceError):
        verified(token, provider["issuers"]["lslcs"], node_audience(PARTNER))
    with pytest.raises(idp.SignInRefused):
        idp.login(provider["issuers"][PARTNER], username, password)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(issuer, account):
    username, _ = account()

    with pytest.raises(idp.SignInRefused):
        idp.login(issuer, username, "not-the-password")

    page = sign_in_page(issuer, username, "not-the-password")
    assert page.status_code == 200
    assert "There is a problem" in page.text
    assert "The username or password is not right" in page.text


def test_a_disabled_account_is_refused(provider, issuer, account):
    username, password = account()
    idp.set_account_disabled(provider["database_url"], PARTNER, username)

    with pytest.raises(idp.SignInRefused):
        idp.login(issuer, username, password)


def test_the_login_page_is_plain_accessible_html(issuer):
    page = requests.get(authorization_url(issuer), timeout=10)

    assert page.status_code == 200
    html = page.text
    assert '<html lang="en-GB">' in html
    assert '<label for="username">' in html and '<label for="password">' in html
    assert 'autocomplete="current-password"' in html
    assert 'name="viewport"' in html
    assert "<script" not in html
    assert "http" not in html.split("<body>", 1)[1].split("<form", 1)[0]
    assert "@import" not in html and "<link" not in html
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_pkce_is_required(issuer):
    response = requests.get(
        f"{issuer}/auth",
        params={
            "response_type": "code",
            "client_id": "peerlink-cli",
            "redirect_uri": idp.CLI_REDIRECT_URI,
            "scope": "openid",
            "state": "s",
        },
        allow_redirects=False,
        timeout=10,
    )

    assert response.is_redirect
    location = response.headers["location"]
    assert location.startswith(idp.CLI_REDIRECT_URI)
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == ["invalid_request"]
    assert "PKCE" in query["error_description"][0]


def test_prometheus_gets_an_operator_token(provider, issuer):
    token = idp.client_credentials(issuer, "prometheus", secret_of(provider, PARTNER, "prometheus"))

    claims = verified(token, issuer, node_audience(PARTNER))
    assert claims["sub"] == "prometheus"
    assert claims["client_id"] == "prometheus"
    assert claims["roles"] == ["operator"]
    assert "name" not in claims


def test_a_partners_client_may_not_ask_for_another_node(provider, issuer):
    with pytest.raises(idp.IdentityProviderError, match="invalid_target"):
        idp.client_credentials(
            issuer,
            "prometheus",
            secret_of(provider, PARTNER, "prometheus"),
            node_audience("mesmac"),
        )


def test_the_hub_worker_gets_a_service_token_for_a_node_and_the_hub(provider):
    hub = provider["issuers"]["alliance"]
    secret = secret_of(provider, "alliance", "hub-worker")

    for audience in (node_audience("lslcs"), HUB_AUDIENCE):
        token = idp.client_credentials(hub, "hub-worker", secret, audience)

        claims = verified(token, hub, audience)
        assert claims["sub"] == "hub-worker"
        assert claims["roles"] == ["service"]


def test_a_wrong_client_secret_is_refused(issuer):
    with pytest.raises(idp.IdentityProviderError, match="invalid_client"):
        idp.client_credentials(issuer, "prometheus", "not-the-secret")


def test_signing_keys_survive_a_restart(provider, tmp_path, account):
    """A provider of its own (one issuer, a new key file), stopped with SIGTERM and started
    again: the same key id, and a token from before still verifies."""
    config = json.loads(Path(provider["config_file"]).read_text())
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    issuer_config = next(i for i in config["issuers"] if i["name"] == PARTNER)
    keys = tmp_path / "keys" / "it.jwks.json"
    issuer_config.update(port=port, issuer=url, jwks_file=str(keys))
    config["issuers"] = [issuer_config]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    username, password = account()

    with running_provider(path, url):
        kid = jwks_kids(url)
        token = idp.login(url, username, password)
    assert keys.stat().st_mode & 0o777 == 0o600
    with running_provider(path, url):
        assert jwks_kids(url) == kid
        assert verified(token, url, node_audience(PARTNER))["sub"] == username


# -- helpers ---------------------------------------------------------------------------------------


def authorization_url(issuer_url: str) -> str:
    verifier = uuid.uuid4().hex * 2
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return (
        requests.Request(
            "GET",
            f"{issuer_url}/auth",
            params={
                "response_type": "code",
                "client_id": "peerlink-cli",
                "redirect_uri": idp.CLI_REDIRECT_URI,
                "scope": "openid",
                "state": "s",
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
            },
        )
        .prepare()
        .url
    )


def sign_in_page(issuer_url: str, username: str, password: str) -> requests.Response:
    """The answer to a sign-in form posted with these credentials."""
    http = requests.Session()
    page = http.get(authorization_url(issuer_url), timeout=10)
    action = page.text.split('<form method="post" action="', 1)[1].split('"', 1)[0]
    return http.post(
        issuer_url + action,
        data={"username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )


def jwks_kids(url: str) -> list[str]:
    metadata = idp.discover(url)
    return [key["kid"] for key in requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]]


class running_provider:  # noqa: N801 - used as a context manager
    def __init__(self, config: Path, url: str):
        self.config = config
        self.url = url

    def __enter__(self):
        self.process = subprocess.Popen(
            [shutil.which("node") or "node", str(idp.SERVER), "--config", str(self.config)],
            cwd=ROOT,
            env={**os.environ, "NODE_ENV": "production"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.process.kill()
        raise AssertionError(f"the provider did not start: {self.process.stdout.read()!r}")

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            assert self.process.wait(timeout=10) == 0
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdout.close()
