"""The RabbitMQ topology: exchanges, durable queues, bindings and dead-lettering, for every
partner vhost and the hub. Declared by the deploy step before any event is published, so
no event is ever routed to nowhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from shared.config import HUB_BROKER_USER, HUB_VHOST, PARTNERS, broker_user, federation_user

EVENTS_EXCHANGE = "peerlink.events"
DEAD_LETTER_EXCHANGE = "peerlink.dead"
# what other partners publish that concerns this one (referral offers, their answers, and the
# records sealed for it), federated into each partner vhost from the other partners'
# transfers exchanges
INBOUND_EXCHANGE = "peerlink.inbound"
# what a partner sends one other partner alone: an offer's messages with the ids both nodes
# need, and a person's record sealed for the partner their referral is offered to. Only the
# other partners' inbound exchanges federate from it (never the hub's), and each message is
# routed by its recipient so that no other partner receives it either. (The events exchange
# carries every event in its hub shape, ids pseudonymised: contracts/hub.py.)
TRANSFERS_EXCHANGE = "peerlink.transfers"
HUB_QUEUE = "hub.reports"
REFERRALS_INBOUND_QUEUE = "referrals.inbound"
SESSIONS_REFERRALS_QUEUE = "sessions.referrals"
SAFEGUARDING_SIGNALS_QUEUE = "safeguarding.signals"


def transfer_routing_key(from_partner: str, to_partner: str) -> str:
    """The routing key of what `from_partner` sends `to_partner` alone (an offer's messages, a
    record sealed for it)."""
    return f"{from_partner}.transfers.{to_partner}"


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str = "topic"


@dataclass(frozen=True)
class Queue:
    name: str
    arguments: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass
class Topology:
    exchanges: list[Exchange] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)

    def consumer_queue(
        self, name: str, *routing_keys: str, exchange: str = EVENTS_EXCHANGE
    ) -> None:
        """A durable queue fed from the events exchange, with its own dead-letter queue."""
        self.queues.append(
            Queue(
                name,
                {
                    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                    "x-dead-letter-routing-key": name,
                },
            )
        )
        self.queues.append(Queue(f"{name}.dead"))
        self.bindings.append(Binding(DEAD_LETTER_EXCHANGE, f"{name}.dead", name))
        for key in routing_keys:
            self.bindings.append(Binding(exchange, name, key))


def base_topology() -> Topology:
    return Topology(exchanges=[Exchange(EVENTS_EXCHANGE), Exchange(DEAD_LETTER_EXCHANGE)])


def node_topology(partner: str) -> Topology:
    """A partner vhost: its services publish here; the hub's federation link drains it; offers
    from other partners arrive on the inbound exchange."""
    topology = base_topology()
    topology.exchanges.append(Exchange(INBOUND_EXCHANGE))
    topology.exchanges.append(Exchange(TRANSFERS_EXCHANGE))
    topology.consumer_queue(
        REFERRALS_INBOUND_QUEUE,
        # offers, answers and records that any other partner sends this one
        transfer_routing_key("*", partner),
        exchange=INBOUND_EXCHANGE,
    )
    # the sessions service follows this partner's referrals (a one-to-one needs an active one)
    topology.consumer_queue(SESSIONS_REFERRALS_QUEUE, f"{partner}.referrals.#")
    # safeguarding watches this partner's sessions for signals (repeated did-not-attends)
    topology.consumer_queue(SAFEGUARDING_SIGNALS_QUEUE, f"{partner}.sessions.#")
    return topology


def hub_topology() -> Topology:
    topology = base_topology()
    topology.consumer_queue(HUB_QUEUE, "#")
    return topology


def declare(channel, topology: Topology) -> None:
    """Declare on an open py-amqp/kombu channel (idempotent)."""
    for exchange in topology.exchanges:
        channel.exchange_declare(exchange.name, exchange.type, durable=True, auto_delete=False)
    for queue in topology.queues:
        channel.queue_declare(
            queue.name, durable=True, auto_delete=False, arguments=dict(queue.arguments)
        )
    for binding in topology.bindings:
        channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)


def broker_users(partners=PARTNERS) -> list[str]:
    """Every broker user of an alliance: a node user and a federation user per partner, and
    the hub's. None has a tag: what needs the broker's administration (deploy) uses
    rabbitmqctl on the broker's own host."""
    return [
        *(broker_user(partner) for partner in partners),
        *(federation_user(partner) for partner in partners),
        HUB_BROKER_USER,
    ]


def _only(names: list[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in names) + ")$" if names else "^$"


def _consumed(topology: Topology) -> list[str]:
    """The queues a vhost's services consume (not the dead-letter queues: those are read by
    an operator with rabbitmqctl)."""
    return [queue.name for queue in topology.queues if not queue.name.endswith(".dead")]


# What a federation link does on its upstream (the partner's vhost): declares an exchange and
# a queue of its own, both named "federation: ...", binds them to the events exchange and
# consumes the queue. Nothing else: it cannot publish to the events exchange nor read a
# service's queue.
FEDERATION_RESOURCES = "^federation: "


def permissions(partners=PARTNERS) -> list[dict]:
    """Each user's rights: its own vhost only, and in it only what it does. No user may
    declare or delete the topology (the deploy step imports it)."""
    rights = []
    for partner in partners:
        rights.append(
            {
                "user": broker_user(partner),
                "vhost": partner,
                "configure": "^$",
                "write": _only([EVENTS_EXCHANGE, TRANSFERS_EXCHANGE]),
                "read": _only(_consumed(node_topology(partner))),
            }
        )
        rights.append(
            {
                "user": federation_user(partner),
                "vhost": partner,
                "configure": FEDERATION_RESOURCES,
                "write": FEDERATION_RESOURCES,
                "read": (
                    f"^({re.escape(EVENTS_EXCHANGE)}$|{re.escape(TRANSFERS_EXCHANGE)}$"
                    "|federation: )"
                ),
            }
        )
    rights.append(
        {
            "user": HUB_BROKER_USER,
            "vhost": HUB_VHOST,
            "configure": "^$",
            "write": "^$",
            "read": _only(_consumed(hub_topology())),
        }
    )
    return rights


def definitions(
    password_hashes: Mapping[str, str],
    upstream_uri: Callable[[str], str],
    partners=PARTNERS,
) -> dict:
    """RabbitMQ definitions (for `rabbitmqctl import_definitions`): users, vhosts,
    permissions, topology, and the federation that carries each partner's events to the hub
    (and to the other partners, with the records each seals for one of them).

    `password_hashes` maps every name of `broker_users(partners)` to its RabbitMQ password
    hash; `upstream_uri(partner)` is the URI a link reads that partner's vhost with (as the
    partner's federation user)."""
    vhosts = [*partners, HUB_VHOST]
    topologies = {partner: node_topology(partner) for partner in partners}
    topologies[HUB_VHOST] = hub_topology()
    return {
        "users": [
            {
                "name": user,
                "password_hash": password_hashes[user],
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for user in broker_users(partners)
        ],
        "vhosts": [{"name": vhost} for vhost in vhosts],
        "permissions": permissions(partners),
        "exchanges": [
            {
                "name": exchange.name,
                "vhost": vhost,
                "type": exchange.type,
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for vhost, topology in topologies.items()
            for exchange in topology.exchanges
        ],
        "queues": [
            {
                "name": queue.name,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": queue.arguments,
            }
            for vhost, topology in topologies.items()
            for queue in topology.queues
        ],
        "bindings": [
            {
                "source": binding.exchange,
                "vhost": vhost,
                "destination": binding.queue,
                "destination_type": "queue",
                "routing_key": binding.routing_key,
                "arguments": {},
            }
            for vhost, topology in topologies.items()
            for binding in topology.bindings
        ],
        "parameters": [
            # what other partners send this one: partner vhosts only, not the hub's
            *(
                _upstream(partner, f"{other}.transfers", upstream_uri(other), TRANSFERS_EXCHANGE)
                for partner in partners
                for other in partners
                if other != partner
            ),
            *(_upstream(HUB_VHOST, partner, upstream_uri(partner)) for partner in partners),
        ],
        "policies": [
            *(
                _federate(partner, INBOUND_EXCHANGE, "federate-partner-offers")
                for partner in partners
            ),
            _federate(HUB_VHOST, EVENTS_EXCHANGE, "federate-partner-events"),
        ],
    }


def _upstream(vhost: str, name: str, uri: str, exchange: str = EVENTS_EXCHANGE) -> dict:
    return {
        "vhost": vhost,
        "component": "federation-upstream",
        "name": name,
        "value": {
            "uri": uri,
            "exchange": exchange,
            # the upstream's copy is removed only once the downstream has it on disk
            "ack-mode": "on-confirm",
            # the user_id the upstream validated (the partner's node user) travels with each
            # message, so the hub can check that a message came from the partner it names
            "trust-user-id": True,
            "prefetch-count": 1000,
            "reconnect-delay": 1,
        },
    }


def _federate(vhost: str, exchange: str, name: str) -> dict:
    """Every upstream of the vhost feeds this exchange (only what its bindings ask for)."""
    return {
        "vhost": vhost,
        "name": name,
        "pattern": f"^{exchange.replace('.', '[.]')}$",
        "apply-to": "exchanges",
        "priority": 1,
        "definition": {"federation-upstream-set": "all"},
    }
