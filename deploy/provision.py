"""Provisions a containerised alliance (docker-compose.yml's `setup` service): roles,
databases and migrations on PostgreSQL, and the RabbitMQ definitions (vhosts, topology,
federation) through the management API. The same steps deploy/stack.py runs locally."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.migrations import migrate_hub, migrate_node  # noqa: E402
from deploy.stack import (  # noqa: E402
    HUB_DATABASE,
    create_roles_and_databases,
    rabbit_password_hash,
)
from shared.config import PARTNERS, database_name  # noqa: E402
from shared.topology import definitions  # noqa: E402


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


def main() -> None:
    env = os.environ
    admin_url = env["PEERLINK_POSTGRES_URL"]
    passwords = {
        "peerlink_owner": env.get("PEERLINK_DB_OWNER_PASSWORD", env["PEERLINK_DB_APP_PASSWORD"]),
        "peerlink_app": env["PEERLINK_DB_APP_PASSWORD"],
        "peerlink_admin": env.get("PEERLINK_DB_ADMIN_PASSWORD", env["PEERLINK_DB_APP_PASSWORD"]),
    }
    _wait(lambda: psycopg2.connect(admin_url).close(), "PostgreSQL")
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True

    def sql(statement: str):
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone() if cur.description else None

    create_roles_and_databases(sql, passwords)
    conn.close()
    host = urlparse(admin_url)
    for db in [*(database_name(p) for p in PARTNERS), HUB_DATABASE]:
        owner = host._replace(
            netloc=f"peerlink_owner:{passwords['peerlink_owner']}@{host.hostname}:{host.port}",
            path=f"/{db}",
        ).geturl()
        (migrate_hub if db == HUB_DATABASE else migrate_node)(owner)

    api = env.get("PEERLINK_RABBITMQ_API", "http://rabbitmq:15672")
    auth = (
        env.get("PEERLINK_RABBITMQ_ADMIN", "guest"),
        env.get("PEERLINK_RABBITMQ_ADMIN_PASSWORD", "guest"),
    )
    amqp_password = env["PEERLINK_AMQP_PASSWORD"]
    spec = definitions(
        "peerlink",
        rabbit_password_hash(amqp_password),
        lambda partner: f"amqp://peerlink:{amqp_password}@rabbitmq:5672/{partner}",
    )
    _wait(
        lambda: requests.get(f"{api}/api/overview", auth=auth, timeout=5).raise_for_status(),
        "the RabbitMQ management API",
    )
    requests.post(f"{api}/api/definitions", json=spec, auth=auth, timeout=60).raise_for_status()
    print("peerlink: databases, migrations, vhosts, topology and federation are in place")


if __name__ == "__main__":
    main()
