"""The local stack's OpenID Connect provider (deploy/idp/, oidc-provider on Node): its database,
its configuration, its accounts, and signing in to it from Python (scripts and tests).

An issuer per partner and one for the hub ("alliance"), each at http://127.0.0.1:<port>.
Client secrets live in run/<stack>/secrets/idp/<issuer>.<client-id>, the demo users' passwords
in run/<stack>/secrets/idp/demo-users.json.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from shared.config import HUB_AUDIENCE, PARTNERS, hub_ports, node_audience, node_ports

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "deploy" / "idp" / "server.js"
SCHEMA = ROOT / "deploy" / "idp" / "schema.sql"

HUB_ISSUER = "alliance"
DATABASE = "peerlink_idp"
DATABASE_ROLE = "peerlink_idp"
CLI_REDIRECT_URI = "http://127.0.0.1/callback"
# every Peerlink resource server knows this scope; roles decide what a token may do
API_SCOPE = "peerlink"
ISSUER_TITLES = {
    "leeds-mind": "Leeds Mind",
    "lslcs": "Leeds Survivor-Led Crisis Service",
    "mesmac": "MESMAC",
    HUB_ISSUER: "Alliance hub",
}

# OWASP's minimum for scrypt; Node's crypto.scrypt reads the same parameters from the hash
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_KEY_BYTES = 16384, 8, 1, 32
TIMEOUT_SECONDS = 10


class IdentityProviderError(RuntimeError):
    """The provider refused or failed a request."""


class SignInRefused(IdentityProviderError):
    """Wrong username or password, or a disabled account (the provider does not say which)."""


# -- passwords and accounts ----------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=SCRYPT_KEY_BYTES
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    scheme, n, r, p, salt, key = encoded.split("$")
    if scheme != "scrypt":
        return False
    expected = base64.b64decode(key)
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)


def ensure_schema(dsn: str) -> None:
    """The provider's tables (deploy/idp/schema.sql, which the provider also applies)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(SCHEMA.read_text())
    finally:
        conn.close()


def ensure_account(
    dsn: str,
    issuer_name: str,
    username: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    display_name: str,
    email: str | None = None,
) -> None:
    """Create or update an account of an issuer (enabled, with this password)."""
    import psycopg2

    ensure_schema(dsn)
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO idp_accounts
                    (issuer, username, password_hash, roles, display_name, email, disabled)
                VALUES (%s, %s, %s, %s, %s, %s, false)
                ON CONFLICT (issuer, username) DO UPDATE SET
                    password_hash = EXCLUDED.password_hash, roles = EXCLUDED.roles,
                    display_name = EXCLUDED.display_name, email = EXCLUDED.email,
                    disabled = false
                """,
                (issuer_name, username, hash_password(password), list(roles), display_name, email),
            )
    finally:
        conn.close()


def set_account_disabled(dsn: str, issuer_name: str, username: str, disabled: bool = True) -> None:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE idp_accounts SET disabled = %s WHERE issuer = %s AND username = %s",
                (disabled, issuer_name, username),
            )
    finally:
        conn.close()


# -- signing in ----------------------------------------------------------------------------------


def discover(issuer_url: str) -> dict:
    response = requests.get(
        f"{issuer_url}/.well-known/openid-configuration", timeout=TIMEOUT_SECONDS
    )
    response.raise_for_status()
    return response.json()


def _token(endpoint: str, form: dict, auth=None) -> str:
    response = requests.post(endpoint, data=form, auth=auth, timeout=TIMEOUT_SECONDS)
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if response.status_code != 200 or "access_token" not in body:
        raise IdentityProviderError(
            f"token request refused ({response.status_code}): "
            f"{body.get('error', '')} {body.get('error_description', response.text[:200])}"
        )
    return body["access_token"]


def _follow(http: requests.Session, response: requests.Response, stop_at: str):
    """Follow redirects until a page, or a redirect to `stop_at` (returned as its URL)."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        location = urljoin(response.url, response.headers["location"])
        if location.startswith(stop_at):
            return location
        response = http.get(location, allow_redirects=False, timeout=TIMEOUT_SECONDS)
    raise IdentityProviderError("too many redirects while signing in")


def login(
    issuer_url: str,
    username: str,
    password: str,
    client_id: str = "peerlink-cli",
    resource: str | None = None,
    *,
    client_secret: str | None = None,
    redirect_uri: str = CLI_REDIRECT_URI,
    scope: str = f"openid profile {API_SCOPE}",
) -> str:
    """Sign in as a person (authorization code + PKCE, the provider's own login form) and
    return the access token. Raises SignInRefused on a wrong password or a disabled account."""
    metadata = discover(issuer_url)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    if resource:
        params["resource"] = resource
    http = requests.Session()
    first = http.get(
        metadata["authorization_endpoint"],
        params=params,
        allow_redirects=False,
        timeout=TIMEOUT_SECONDS,
    )
    page = _follow(http, first, redirect_uri)
    if isinstance(page, str):  # the provider answered at once (an error, or a live session)
        callback = page
    else:
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        if page.status_code != 200 or not action:
            raise IdentityProviderError(
                f"no sign-in form at {page.url} ({page.status_code}): {page.text[:200]}"
            )
        answer = http.post(
            urljoin(page.url, action.group(1)),
            data={"username": username, "password": password},
            allow_redirects=False,
            timeout=TIMEOUT_SECONDS,
        )
        callback = _follow(http, answer, redirect_uri)
        if not isinstance(callback, str):
            raise SignInRefused(
                f"sign-in refused for {username!r} at {issuer_url}: wrong username or "
                "password, or the account is disabled"
            )
    query = parse_qs(urlsplit(callback).query)
    if "error" in query:
        raise IdentityProviderError(
            f"authorization refused: {query['error'][0]} {query.get('error_description', [''])[0]}"
        )
    if query.get("state") != [state]:
        raise IdentityProviderError("authorization answered with another state")
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    if resource:
        form["resource"] = resource
    if client_secret is None:
        form["client_id"] = client_id
        return _token(metadata["token_endpoint"], form)
    return _token(metadata["token_endpoint"], form, auth=(client_id, client_secret))


def client_credentials(
    issuer_url: str, client_id: str, client_secret: str, resource: str | None = None
) -> str:
    """A machine's access token (client_secret_basic) for `resource` (default: the issuer's
    own audience)."""
    form = {"grant_type": "client_credentials", "scope": API_SCOPE}
    if resource:
        form["resource"] = resource
    return _token(discover(issuer_url)["token_endpoint"], form, auth=(client_id, client_secret))


# -- demo users ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    issuer: str
    username: str
    roles: tuple[str, ...]
    display_name: str

    @property
    def email(self) -> str:
        return f"{self.username}@{self.issuer}.peerlink.test"


# The peer workers are the ones the demo data allocates referrals and sessions to
# (deploy/demo*.py WORKERS); alex and ana are the names README.md uses.
_PARTNER_PEOPLE = (
    ("sam", "peer_worker", "Sam Carter"),
    ("priya", "peer_worker", "Priya Shah"),
    ("jo", "peer_worker", "Jo Walsh"),
    ("kwame", "peer_worker", "Kwame Mensah"),
    ("alex", "team_lead", "Alex Morgan"),
    ("chris", "safeguarding_lead", "Chris Doyle"),
    ("rae", "partner_admin", "Rae Thompson"),
)
DEMO_USERS: tuple[DemoUser, ...] = (
    *(
        DemoUser(partner, username, (role,), name)
        for partner in PARTNERS
        for username, role, name in _PARTNER_PEOPLE
    ),
    DemoUser(HUB_ISSUER, "ana", ("alliance_analyst",), "Ana Costa"),
)


# -- a stack's provider ----------------------------------------------------------------------------


def _secret_file(path: Path, make=lambda: secrets.token_urlsafe(32)) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(make())
        partial.chmod(0o600)
        partial.replace(path)
    return path.read_text().strip()


def secrets_dir(stack) -> Path:
    return stack.run / "secrets" / "idp"


def config_file(stack) -> Path:
    return stack.run / "idp" / "config.json"


def demo_users_file(stack) -> Path:
    return secrets_dir(stack) / "demo-users.json"


def client_secret_file(stack, issuer_name: str, client_id: str) -> Path:
    return secrets_dir(stack) / f"{issuer_name}.{client_id}"


def client_secret(stack, issuer_name: str, client_id: str) -> str:
    return _secret_file(client_secret_file(stack, issuer_name, client_id))


def issuer_urls(stack) -> dict[str, str]:
    """Issuer name (a partner id or "alliance") -> issuer URL."""
    urls = {
        partner: f"http://127.0.0.1:{node_ports(index, stack.port_base)['idp']}"
        for index, partner in enumerate(PARTNERS)
    }
    urls[HUB_ISSUER] = f"http://127.0.0.1:{hub_ports(stack.port_base)['idp']}"
    return urls


def audience(issuer_name: str) -> str:
    return HUB_AUDIENCE if issuer_name == HUB_ISSUER else node_audience(issuer_name)


def database_url(stack) -> str:
    password = _secret_file(secrets_dir(stack) / "database")
    return f"postgresql://{DATABASE_ROLE}:{password}@127.0.0.1:{stack.pg_port}/{DATABASE}"


def create_database(sql, stack) -> None:
    """The provider's own login role owning only its own database; `sql(statement)` runs as a
    superuser and returns what the statement selected (falsy when nothing)."""
    password = _secret_file(secrets_dir(stack) / "database")
    exists = sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{DATABASE_ROLE}'")
    verb = "ALTER" if exists else "CREATE"
    sql(f"{verb} ROLE {DATABASE_ROLE} LOGIN PASSWORD '{password}'")
    if not sql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
        sql(f"CREATE DATABASE {DATABASE} OWNER {DATABASE_ROLE}")
    sql(f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC")


def confidential_clients(issuer_name: str) -> list[str]:
    """The clients of an issuer that have a secret (peerlink-cli is public)."""
    if issuer_name == HUB_ISSUER:
        return ["prometheus", "hub-worker"]
    return ["prometheus", "peerlink-web"]


def _clients(stack, issuer_name: str, web_url: str | None) -> list[dict]:
    def secret_of(client_id: str) -> str:
        return client_secret(stack, issuer_name, client_id)

    clients = [
        {
            "client_id": "peerlink-cli",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "redirect_uris": [CLI_REDIRECT_URI],
        },
        {
            "client_id": "prometheus",
            "client_secret": secret_of("prometheus"),
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "roles": ["operator"],
        },
    ]
    if web_url:
        clients.append(
            {
                "client_id": "peerlink-web",
                "client_secret": secret_of("peerlink-web"),
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [f"{web_url}/auth/callback"],
                "post_logout_redirect_uris": [f"{web_url}/"],
            }
        )
    if issuer_name == HUB_ISSUER:
        clients.append(
            {
                "client_id": "hub-worker",
                "client_secret": secret_of("hub-worker"),
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials"],
                "response_types": [],
                "redirect_uris": [],
                "roles": ["service"],
                # the hub worker reads every partner's event feed
                "resources": [HUB_AUDIENCE, *(node_audience(p) for p in PARTNERS)],
            }
        )
    return clients


def write_config(stack) -> Path:
    """run/<stack>/idp/config.json (0600: it holds the client secrets), read by server.js."""
    urls = issuer_urls(stack)
    # a hub web app is not on the port map yet: the hub's peerlink-web waits for it
    web_urls = {
        partner: f"http://127.0.0.1:{node_ports(index, stack.port_base)['web']}"
        for index, partner in enumerate(PARTNERS)
    }
    config = {
        "database_url": database_url(stack),
        "cookie_keys": [_secret_file(secrets_dir(stack) / "cookie-key")],
        "issuers": [
            {
                "name": name,
                "title": ISSUER_TITLES.get(name, name),
                "port": int(urlsplit(url).port),
                "issuer": url,
                "audience": audience(name),
                "jwks_file": str(secrets_dir(stack) / f"{name}.jwks.json"),
                "clients": _clients(stack, name, web_urls.get(name)),
            }
            # the hub last: once it answers /health every issuer does
            for name, url in urls.items()
        ],
    }
    path = config_file(stack)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(config, indent=2))
    partial.chmod(0o600)
    partial.replace(path)
    return path


def process_spec(stack) -> dict:
    """The provider as an entry of deploy/stack.py's process table."""
    return {
        "name": "idp",
        "cmd": [
            shutil.which("node") or "node",
            str(SERVER),
            "--config",
            str(config_file(stack)),
        ],
        "env": {"NODE_ENV": "production"},
        "health": f"{issuer_urls(stack)[HUB_ISSUER]}/health",
    }


def ensure_demo_users(stack) -> dict[str, dict[str, str]]:
    """Every demo user with a password made once, kept in demo-users.json (a list of issuer,
    username, password, roles); returns issuer -> username -> password."""
    passwords = demo_passwords(stack)
    dsn = database_url(stack)
    entries = []
    for user in DEMO_USERS:
        of_issuer = passwords.setdefault(user.issuer, {})
        password = of_issuer.setdefault(user.username, secrets.token_urlsafe(12))
        ensure_account(
            dsn, user.issuer, user.username, password, user.roles, user.display_name, user.email
        )
        entries.append(
            {
                "issuer": user.issuer,
                "username": user.username,
                "password": password,
                "roles": list(user.roles),
            }
        )
    path = demo_users_file(stack)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(entries, indent=2))
    partial.chmod(0o600)
    partial.replace(path)
    return passwords


def demo_passwords(stack) -> dict[str, dict[str, str]]:
    """issuer -> username -> password of the demo users (none on a stack without demo data)."""
    path = demo_users_file(stack)
    passwords: dict[str, dict[str, str]] = {}
    for entry in json.loads(path.read_text()) if path.exists() else []:
        passwords.setdefault(entry["issuer"], {})[entry["username"]] = entry["password"]
    return passwords


def state(stack) -> dict:
    """What tests and scripts need of the provider (stack.json's "idp")."""
    return {
        "issuers": issuer_urls(stack),
        "audiences": {name: audience(name) for name in issuer_urls(stack)},
        "database_url": database_url(stack),
        "secrets": str(secrets_dir(stack)),
        "config_file": str(config_file(stack)),
        "demo_users_file": str(demo_users_file(stack)),
        "client_secret_files": {
            name: {
                client: str(client_secret_file(stack, name, client))
                for client in confidential_clients(name)
            }
            for name in issuer_urls(stack)
        },
    }


def summary_lines(stack) -> list[str]:
    """The issuers, and the demo users with their passwords when there are any."""
    lines = ["Sign-in (OpenID Connect issuers):"]
    lines += [f"  {name:<12} {url}" for name, url in issuer_urls(stack).items()]
    passwords = demo_passwords(stack)
    if passwords:
        lines.append(f"Demo users (passwords in {demo_users_file(stack)}):")
        for user in DEMO_USERS:
            password = passwords.get(user.issuer, {}).get(user.username)
            if password:
                lines.append(
                    f"  {user.issuer:<12} {user.username:<8} {password:<18} {', '.join(user.roles)}"
                )
    return lines


# -- deploy/token --------------------------------------------------------------------------------


def main(argv=None) -> None:
    """deploy/token: an access token from the stack's provider, for a demo user (signed in with
    the password of demo-users.json) or for a client (client credentials)."""
    import argparse
    import os
    import sys

    import jwt

    from deploy.stack import STACKS

    parser = argparse.ArgumentParser(prog="deploy/token")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="a demo user, e.g. alex (see deploy/up's summary)")
    who.add_argument("--client", help="a client with a secret, e.g. prometheus or hub-worker")
    parser.add_argument("--partner", required=True, help=f"a partner id or {HUB_ISSUER}")
    parser.add_argument("--role", help="refuse unless the token carries this role")
    parser.add_argument("--resource", help="the audience asked for (default: the issuer's own)")
    parser.add_argument("--stack", default=os.environ.get("PEERLINK_STACK", "dev"))
    args = parser.parse_args(argv)
    stack = STACKS[args.stack]
    issuer = issuer_urls(stack).get(args.partner)
    if issuer is None:
        parser.error(f"--partner: one of {', '.join(issuer_urls(stack))}")
    try:
        if args.user:
            password = demo_passwords(stack).get(args.partner, {}).get(args.user)
            if password is None:
                parser.error(f"{args.user} is not a demo user of {args.partner} ({stack.name})")
            token = login(issuer, args.user, password, resource=args.resource)
        else:
            secret_file = client_secret_file(stack, args.partner, args.client)
            if not secret_file.exists():
                parser.error(f"{args.partner} has no client {args.client} with a secret")
            token = client_credentials(
                issuer, args.client, secret_file.read_text().strip(), args.resource
            )
    except (IdentityProviderError, requests.RequestException) as error:
        sys.exit(f"deploy/token: {error}")
    roles = jwt.decode(token, options={"verify_signature": False}).get("roles", [])
    if args.role and args.role not in roles:
        sys.exit(
            f"deploy/token: the token's roles are {', '.join(roles) or 'none'}, not {args.role}"
        )
    print(token)


if __name__ == "__main__":
    main()
