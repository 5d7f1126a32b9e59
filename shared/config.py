"""Where things are: the alliance's partners, each service's port, each partner's broker user
and database roles, and the settings a process reads from its environment (the partner and
the credentials have no default: a process that is not told them refuses to start)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

PARTNERS = ("leeds-mind", "lslcs", "mesmac")
NODE_SERVICES = ("referrals", "sessions", "safeguarding")
HUB_SERVICE = "reporting"
HUB_VHOST = "hub"

ROOT = Path(__file__).resolve().parent.parent


def node_ports(index: int, base: int = 0) -> dict[str, int]:
    """Partner k uses 8100+100k for its worker, +1 referrals, +2 sessions, +3 safeguarding,
    +4 the people's pages, +9 the local identity provider's issuer."""
    first = base + 8100 + 100 * index
    return {
        "worker": first,
        "referrals": first + 1,
        "sessions": first + 2,
        "safeguarding": first + 3,
        "web": first + 4,
        "idp": first + 9,
    }


def hub_ports(base: int = 0) -> dict[str, int]:
    return {"reporting": base + 8000, "worker": base + 8090, "idp": base + 8009}


HUB_AUDIENCE = "urn:peerlink:hub"


def node_audience(partner: str) -> str:
    """The audience a partner's node demands in every access token it accepts."""
    return f"urn:peerlink:node:{partner}"


def database_name(partner: str) -> str:
    return "peerlink_" + partner.replace("-", "_")


def source_name(partner: str, service: str) -> str:
    return f"{partner}/{service}"


# Each partner is a tenant of the broker: its node's user reaches its own vhost only, and a
# federation user of its own may do nothing but carry its events out to the links that read
# them. The hub's user reaches the hub vhost only.
HUB_BROKER_USER = "hub"


def broker_user(partner: str) -> str:
    """The broker user a partner's node connects and publishes as (the messages' user_id)."""
    return f"node-{partner}"


def federation_user(partner: str) -> str:
    """The broker user the federation links read a partner's events exchange with."""
    return f"federation-{partner}"


def database_roles(database: str) -> tuple[str, str]:
    """The owning role (migrations) and the services' role of one database: no login role
    opens a database but its own."""
    return f"{database}_owner", f"{database}_app"


VAULT_KEEPER_SUFFIX = "_vault_keeper"


def vault_keeper_role(database: str) -> str:
    """The role that owns a node's vault key tables (it cannot log in). The services' role is a
    member, so that it may vacuum them once an erasure commits: PostgreSQL 15 lets only a
    table's owner vacuum it."""
    return f"{database}{VAULT_KEEPER_SUFFIX}"


REQUIRED_SETTINGS = ("PEERLINK_PARTNER", "PEERLINK_DATABASE_URL", "PEERLINK_AMQP_URL")


class MissingSetting(RuntimeError):
    """A setting without which a process must not start (it would guess a partner or a
    credential)."""


def _setting(env, name: str) -> str:
    """A setting's value, or what the file its `_FILE` variable names holds (not both)."""
    value, path = env.get(name, "").strip(), env.get(f"{name}_FILE", "").strip()
    if value and path:
        raise MissingSetting(f"set {name} or {name}_FILE, not both")
    if path and name != "PEERLINK_PARTNER":
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise MissingSetting(
                f"{name}_FILE names {path}, which cannot be read: {error}"
            ) from None
    return value


@dataclass(frozen=True)
class Settings:
    service: str
    partner_id: str
    database_url: str
    amqp_url: str
    endpoints_file: str | None

    @classmethod
    def from_environment(cls, service: str | None = None, environ=None) -> Settings:
        """The settings of this process. The database and broker URLs (they hold credentials)
        may come from a file instead: PEERLINK_DATABASE_URL_FILE, PEERLINK_AMQP_URL_FILE."""
        env = os.environ if environ is None else environ
        values = {name: _setting(env, name) for name in REQUIRED_SETTINGS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise MissingSetting(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: a process "
                "is told its partner, its database and its broker, it never assumes them"
            )
        return cls(
            service=service or env.get("PEERLINK_SERVICE", ""),
            partner_id=values["PEERLINK_PARTNER"],
            database_url=values["PEERLINK_DATABASE_URL"],
            amqp_url=values["PEERLINK_AMQP_URL"],
            endpoints_file=env.get("PEERLINK_ENDPOINTS_FILE"),
        )

    def endpoints(self) -> dict:
        if not self.endpoints_file or not Path(self.endpoints_file).exists():
            return {}
        return json.loads(Path(self.endpoints_file).read_text())


def feed_urls(endpoints: dict) -> dict[str, str]:
    """Source name -> base URL of the service whose event feed it is."""
    urls = {}
    for partner, node in endpoints.get("partners", {}).items():
        for service in NODE_SERVICES:
            if service in node:
                urls[source_name(partner, service)] = node[service]
    return urls
