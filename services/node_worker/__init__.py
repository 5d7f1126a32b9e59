"""The delivery worker of a node, `python -m services.node_worker`: relays every service store
of PEERLINK_PARTNER to the broker (each event in its hub shape), and runs the node's reactions:
the sessions service's view of referral status and what a discharge closes, safeguarding
signals in sessions, and referrals offered between partners. This is where the node's services
are put together; no service imports another.
"""

from __future__ import annotations

from contracts.referrals.events import registry as referrals_events
from contracts.safeguarding.events import registry as safeguarding_events
from contracts.sessions.events import registry as sessions_events
from services.referrals.projections import referrals_projector
from services.referrals.settings import ReferralSettings
from services.referrals.transfers import (
    InboundTransfers,
    SealedRecords,
    TransferReactions,
    TransferSender,
)
from services.safeguarding.notifications import NotificationOutbox
from services.safeguarding.projections import safeguarding_projector
from services.safeguarding.settings import SafeguardingSettings
from services.safeguarding.signals import CONSUMER as SIGNALS_CONSUMER
from services.safeguarding.signals import RepeatedDidNotAttend
from services.sessions.discharge import OpenItemsClosing
from services.sessions.projections import CONSUMER as REFERRAL_STATUS_CONSUMER
from services.sessions.projections import SCHEMA as SESSIONS_SCHEMA
from services.sessions.projections import ReferralStatus, sessions_projector
from shared.config import NODE_SERVICES, PARTNERS, Settings, broker_user, source_name
from shared.consumer import Consumer, SenderCheck, StoreFeed, run_catch_up, run_queue
from shared.events import EventRegistry
from shared.eventstore import PostgresEventStore
from shared.hub_edge import HubEdge, HubEdgeSettings
from shared.relay import Relay
from shared.settings import settings_of
from shared.topology import (
    REFERRALS_INBOUND_QUEUE,
    SAFEGUARDING_SIGNALS_QUEUE,
    SESSIONS_REFERRALS_QUEUE,
)
from shared.transfer_keys import TransferKeys
from shared.vault import MasterKeys, Vault
from shared.worker import HUB_MAX_AHEAD, Worker, WorkerSettings, run


def node_registry() -> EventRegistry:
    """Every event type of the node's three services."""
    return referrals_events.merged(sessions_events, safeguarding_events)


def _safeguarding():
    """The safeguarding store's projector, as its service has it: what the worker appends there
    (a suggested concern) reaches the lead's inbox and the notification outbox at once."""
    config = settings_of(SafeguardingSettings)
    return safeguarding_projector(config.timescales, NotificationOutbox(config.mail))


class NodeWorker(Worker):
    # its stores' projectors are the referrals and safeguarding services' own; its relays hand
    # the hub each event under the partner's pseudonym key
    settings_classes = (WorkerSettings, ReferralSettings, SafeguardingSettings, HubEdgeSettings)

    def __init__(self, settings: Settings):
        super().__init__("node", settings)

    def start(self) -> None:

        partner = self.settings.partner_id
        registry = node_registry()
        referrals = PostgresEventStore(
            self.db,
            "referrals",
            registry,
            service="referrals",
            projector=referrals_projector(settings_of(ReferralSettings).first_contact_working_days),
        )
        # a record another partner sealed for this one waits in the vault until it is answered
        vault = Vault("vault", MasterKeys.from_environment(partner))
        inbound = InboundTransfers(
            "referrals-inbound",
            partner,
            PARTNERS,
            TransferReactions(referrals, partner, vault),
            SealedRecords(referrals, vault, TransferKeys.from_environment(partner)),
            self.db,
        )
        self._thread(
            "referrals-inbound",
            run_queue,
            inbound,
            self.settings.amqp_url,
            REFERRALS_INBOUND_QUEUE,
            self.stop,
            watch=inbound.database,
        )
        # the records this partner sealed for others, each to its partner alone
        sender = TransferSender(self.db, self.settings.amqp_url, partner)
        self._thread("transfer-outbox", sender.run, self.stop, watch=sender.database)
        self._start_referral_status(referrals)
        self._start_safeguarding_signals(registry)
        # what leaves the node: each event in its hub shape (pseudonyms under the partner's own
        # key, only the fields the hub-side allow-list names), and an offer to the partner it
        # is for alone (contracts/hub.py)
        edge = HubEdge.from_settings(self.db, partner)
        for service in NODE_SERVICES:
            store = PostgresEventStore(self.db, service, registry, service=service)
            relay = Relay(
                store,
                self.settings.amqp_url,
                source_name(self.settings.partner_id, service),
                edge=edge,
            )
            self.relays.append(relay)
            self._thread(f"relay-{service}", relay.run, self.stop, watch=relay.database)

    def _start_safeguarding_signals(self, registry: EventRegistry) -> None:
        """Signals in this partner's sessions that suggest a safeguarding concern; gaps are read
        straight from the sessions store of the same database."""

        sessions = PostgresEventStore(self.db, "sessions", registry, service="sessions")
        safeguarding = PostgresEventStore(
            self.db, "safeguarding", registry, service="safeguarding", projector=_safeguarding()
        )
        source = source_name(self.settings.partner_id, "sessions")
        consumer = Consumer(
            SIGNALS_CONSUMER,
            self.db,
            "safeguarding",
            [RepeatedDidNotAttend(safeguarding, self.settings.partner_id)],
            StoreFeed({source: sessions}),
            **self._own_events_only(source),
        )
        self.consumers.append(consumer)
        self._thread(
            "safeguarding-signals",
            run_queue,
            consumer,
            self.settings.amqp_url,
            SAFEGUARDING_SIGNALS_QUEUE,
            self.stop,
            watch=consumer.database,
        )
        self._thread(
            "safeguarding-signals-catch-up",
            run_catch_up,
            consumer,
            [source],
            self.stop,
            watch=consumer.database,
        )

    def _own_events_only(self, source: str) -> dict:
        """A node's consumer of its own events checks them as the hub does: sent by this node's
        broker user, from this source, at a position the store holds. The broker carries the
        hub shape of each event: the consumer takes it whole from the node's own store."""
        return {
            "sender_check": SenderCheck([source], broker_user),
            "max_ahead": HUB_MAX_AHEAD,
            "whole_from_feed": True,
        }

    def _start_referral_status(self, referrals: PostgresEventStore) -> None:
        """The sessions service's view of referral status, fed by this partner's referral
        events, and what a discharge asks it to close; gaps are read straight from the
        referrals store of the same database."""

        source = source_name(self.settings.partner_id, "referrals")
        # what it appends reaches the sessions read model in the same transaction, as the
        # service's own appends do
        sessions = PostgresEventStore(
            self.db,
            "sessions",
            referrals.registry,
            service="sessions",
            projector=sessions_projector(),
        )
        consumer = Consumer(
            REFERRAL_STATUS_CONSUMER,
            self.db,
            SESSIONS_SCHEMA,
            [ReferralStatus(), OpenItemsClosing(sessions, self.settings.partner_id)],
            StoreFeed({source: referrals}),
            **self._own_events_only(source),
        )
        self.consumers.append(consumer)
        self._thread(
            "sessions-referrals",
            run_queue,
            consumer,
            self.settings.amqp_url,
            SESSIONS_REFERRALS_QUEUE,
            self.stop,
            watch=consumer.database,
        )
        self._thread(
            "sessions-referrals-catch-up",
            run_catch_up,
            consumer,
            [source],
            self.stop,
            watch=consumer.database,
        )


def main() -> None:
    run(NodeWorker(Settings.from_environment("worker")))
