"""Provisions a containerised alliance (docker-compose.yml's `setup` service): roles,
databases and migrations on PostgreSQL, and the RabbitMQ definitions (users, vhosts, topology,
federation) through the management API. The same steps deploy/stack.py runs locally.

Every tenant (each partner named in PEERLINK_PARTNERS, and the hub) gets its own database
roles and broker users; the services' own logins are read from the URLs they are given
(PEERLINK_<TENANT>_DATABASE_URL_FILE, PEERLINK_<TENANT>_AMQP_URL_FILE), so each password lives
in one place."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.migrations import migrate_hub, migrate_node  # noqa: E402
from deploy.stack import (  # noqa: E402
    ADMIN_ROLE,
    HUB_DATABASE,
    create_roles_and_databases,
    rabbit_password_hash,
)
from shared.config import (  # noqa: E402
    HUB_BROKER_USER,
    broker_user,
    database_name,
    database_roles,
    federation_user,
)
from shared.topology import broker_users, definitions  # noqa: E402


def _wait(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as error:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not answer: {error}") from None
            time.sleep(1)


def _tenant(name: str) -> str:
    return name.upper().replace("-", "_")


def _login(env, tenant: str, kind: str, expected_user: str, expected_path: str) -> str:
    """The password of a service's login, from the URL file it is given; the URL must name the
    login and the database or vhost this tenant has."""
    path = env[f"PEERLINK_{tenant}_{kind}_URL_FILE"]
    url = urlparse(Path(path).read_text().strip())
    user, where = unquote(url.username or ""), unquote(url.path.lstrip("/"))
    if (user, where) != (expected_user, expected_path):
        raise SystemExit(
            f"{path} must log in as {expected_user} to {expected_path}, not {user} to {where}"
        )
    return unquote(url.password or "")


def main() -> None:
    env = os.environ
    partners = [p.strip() for p in env["PEERLINK_PARTNERS"].split(",") if p.strip()]
    admin_url = env["PEERLINK_POSTGRES_URL"]
    passwords = {ADMIN_ROLE: env["PEERLINK_DB_ADMIN_PASSWORD"]}
    broker_passwords = {}
    for tenant, db, user, vhost in [
        *((p, database_name(p), broker_user(p), p) for p in partners),
        ("hub", HUB_DATABASE, HUB_BROKER_USER, "hub"),
    ]:
        owner, app = database_roles(db)
        passwords[owner] = env[f"PEERLINK_{_tenant(tenant)}_DB_OWNER_PASSWORD"]
        passwords[app] = _login(env, _tenant(tenant), "DATABASE", app, db)
        broker_passwords[user] = _login(env, _tenant(tenant), "AMQP", user, vhost)
    for partner in partners:
        broker_passwords[federation_user(partner)] = env[
            f"PEERLINK_{_tenant(partner)}_FEDERATION_PASSWORD"
        ]

    _wait(lambda: psycopg2.connect(admin_url).close(), "PostgreSQL")
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True

    def sql(statement: str):
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone() if cur.description else None

    create_roles_and_databases(sql, passwords, partners)
    conn.close()
    host = urlparse(admin_url)
    for db in [*(database_name(p) for p in partners), HUB_DATABASE]:
        owner, app = database_roles(db)
        owner_url = host._replace(
            netloc=f"{owner}:{passwords[owner]}@{host.hostname}:{host.port}", path=f"/{db}"
        ).geturl()
        (migrate_hub if db == HUB_DATABASE else migrate_node)(owner_url, app_role=app)

    api = env["PEERLINK_RABBITMQ_API"]
    admin = env["PEERLINK_RABBITMQ_ADMIN"]
    auth = (admin, env["PEERLINK_RABBITMQ_ADMIN_PASSWORD"])
    spec = definitions(
        {user: rabbit_password_hash(password) for user, password in broker_passwords.items()},
        lambda partner: (
            f"amqp://{federation_user(partner)}:{broker_passwords[federation_user(partner)]}"
            f"@rabbitmq:5672/{partner}"
        ),
        partners,
    )
    _wait(
        lambda: requests.get(f"{api}/api/overview", auth=auth, timeout=5).raise_for_status(),
        "the RabbitMQ management API",
    )
    requests.post(f"{api}/api/definitions", json=spec, auth=auth, timeout=60).raise_for_status()
    # nobody else logs in to the broker but the set-up step's own administrator
    users = requests.get(f"{api}/api/users", auth=auth, timeout=10)
    users.raise_for_status()
    for user in users.json():
        if user["name"] not in (*broker_users(partners), admin):
            requests.delete(
                f"{api}/api/users/{requests.utils.quote(user['name'], safe='')}",
                auth=auth,
                timeout=10,
            ).raise_for_status()
    print("peerlink: databases, migrations, users, vhosts, topology and federation are in place")


if __name__ == "__main__":
    main()
