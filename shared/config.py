"""Where things are: the alliance's partners, each service's port, and the settings a process
reads from its environment (with defaults that work on one machine)."""

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
    """Partner k uses 8100+100k for its worker, +1 referrals, +2 sessions, +3 safeguarding."""
    first = base + 8100 + 100 * index
    return {
        "worker": first,
        "referrals": first + 1,
        "sessions": first + 2,
        "safeguarding": first + 3,
    }


def hub_ports(base: int = 0) -> dict[str, int]:
    return {"reporting": base + 8000, "worker": base + 8090}


def database_name(partner: str) -> str:
    return "peerlink_" + partner.replace("-", "_")


def source_name(partner: str, service: str) -> str:
    return f"{partner}/{service}"


@dataclass(frozen=True)
class Settings:
    service: str
    partner_id: str
    database_url: str
    amqp_url: str
    endpoints_file: str | None

    @classmethod
    def from_environment(cls, service: str | None = None) -> Settings:
        env = os.environ
        return cls(
            service=service or env.get("PEERLINK_SERVICE", ""),
            partner_id=env.get("PEERLINK_PARTNER", "leeds-mind"),
            database_url=env.get(
                "PEERLINK_DATABASE_URL", "postgresql://peerlink@127.0.0.1:54320/peerlink"
            ),
            amqp_url=env.get("PEERLINK_AMQP_URL", "amqp://peerlink:peerlink@127.0.0.1:56720/"),
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
