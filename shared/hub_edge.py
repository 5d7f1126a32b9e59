"""The node's edge towards the alliance hub: what leaves the node on the broker and through the
event feed read with a hub token is each event in its hub shape (contracts/hub.py), pseudonyms
made with the partner's own key; offers to a partner go to that partner alone, over the
transfers exchange.

The key (PEERLINK_HUB_PSEUDONYM_KEY, or the file PEERLINK_HUB_PSEUDONYM_KEY_FILE names) is the
partner's and stays on the node: the hub never holds it, so it can neither compute a node's ids
nor link two partners' people. A node process that hands events to the hub (each node service's
event feed, the node worker's relays) reads it with its typed settings as it starts
(`HubEdgeSettings`), so a key missing or unusable stops it there, named, rather than at the
hub's first read of its feed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from contracts.hub import Pseudonyms, hub_envelope, partner_envelope, person_ids
from shared.events import RecordedEvent
from shared.relay import routing_key, wire_message
from shared.settings import settings_group, settings_of
from shared.topology import EVENTS_EXCHANGE, TRANSFERS_EXCHANGE, transfer_routing_key

KEY_ENV = "PEERLINK_HUB_PSEUDONYM_KEY"
KEY_FILE_ENV = f"{KEY_ENV}_FILE"
KEY_VARIABLES = f"{KEY_ENV}, {KEY_FILE_ENV}"
# at least this many characters of key (deploy/stack.py writes 43 of urlsafe base64)
KEY_MIN_LENGTH = 32
VAULT_SCHEMA = "vault"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def pseudonyms_from(env: Mapping[str, str]) -> Pseudonyms:
    """The partner's pseudonyms, under its key given itself or in a file. Without a usable key
    a node process must not start: it would have to send the hub the ids themselves."""
    value, path = (env.get(KEY_ENV) or "").strip(), (env.get(KEY_FILE_ENV) or "").strip()
    if value and path:
        raise ValueError(f"set {KEY_ENV} or {KEY_FILE_ENV}, not both")
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as error:
            raise ValueError(f"{KEY_FILE_ENV} names {path}: {error}") from None
    if len(value) < KEY_MIN_LENGTH:
        raise ValueError(
            f"set {KEY_ENV} (or {KEY_FILE_ENV}) to a secret of at least {KEY_MIN_LENGTH}"
            " characters: the partner's key for the pseudonyms the hub is sent"
        )
    return Pseudonyms(value.encode())


@dataclass(frozen=True, repr=False)
class HubEdgeSettings:
    """What a node process that hands events to the hub reads as it starts (shared/settings.py)."""

    pseudonyms: Pseudonyms = settings_group(KEY_VARIABLES, pseudonyms_from)

    def __repr__(self) -> str:  # the key is a secret: never in a log or a traceback
        return "HubEdgeSettings()"


class HubEdge:
    """Turns a partner's events into what the hub and the other partners may receive."""

    def __init__(self, db, partner_id: str, pseudonyms: Pseudonyms):
        self.db = db
        self.partner_id = partner_id
        self.pseudonyms = pseudonyms

    @classmethod
    def from_settings(cls, db, partner_id: str) -> HubEdge:
        """The edge under the process's HubEdgeSettings (read once, as it starts)."""
        return cls(db, partner_id, settings_of(HubEdgeSettings).pseudonyms)

    def erased_among(self, events: list[RecordedEvent]) -> frozenset[str]:
        """The people the events name who are erased by now (one query a page)."""
        named = set()
        for event in events:
            named |= person_ids(event.event_type, event.stream_type, event.stream_id, event.payload)
        candidates = sorted(p for p in named if _UUID.fullmatch(p))
        if not candidates:
            return frozenset()
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT person_id::text FROM {VAULT_SCHEMA}.person_keys"
                " WHERE erased_at IS NOT NULL AND person_id = ANY(%s::uuid[])",
                (candidates,),
            )
            return frozenset(row[0] for row in cur.fetchall())

    def hub_envelopes(self, events: list[RecordedEvent]) -> list[dict]:
        """The events as the hub's event feed hands them over."""
        erased = self.erased_among(events)
        return [hub_envelope(event.envelope(), self.pseudonyms, erased) for event in events]

    def outgoing(
        self, events: list[RecordedEvent], source: str, service: str, checkpoint: int
    ) -> list[tuple[str, str, dict]]:
        """What the relay publishes for a page of events: each in its hub shape on the events
        exchange (which the hub's link and this node's own consumers read), and an offer's
        message, with the ids the partners need, to the partner it is for alone."""
        hub = self.hub_envelopes(events)
        messages = []
        previous = checkpoint
        for event, shaped in zip(events, hub, strict=True):
            body = {**shaped, "source": source, "previous_position": previous}
            messages.append((EVENTS_EXCHANGE, routing_key(event, service), body))
            for_partner = partner_envelope(event.envelope())
            if for_partner is not None:
                recipient, envelope = for_partner
                message = wire_message(event, source, previous)
                messages.append(
                    (
                        TRANSFERS_EXCHANGE,
                        transfer_routing_key(self.partner_id, recipient),
                        {**message, "payload": envelope["payload"]},
                    )
                )
            previous = event.position
        return messages
