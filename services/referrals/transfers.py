"""Referrals crossing partners. On the node worker: the transfer outbox, whose records (each
sealed for the one partner offered the referral) go out on the broker's transfers exchange;
and the `referrals.inbound` queue, where offers from other partners, their answers to ours and
the records they seal for this partner arrive, each message refused unless it comes from the
partner it names. The person's record an offer brings waits in the vault, under a key of the
offer's own, until the offer is accepted (then it is the person's record here), declined or
withdrawn (then that key is destroyed)."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date

from marshmallow import ValidationError

from contracts.referrals.codes import TRANSFER_WITHDRAWN_ERASURE
from contracts.referrals.events import SharedRecord
from services.referrals import queries
from services.referrals.domain import (
    IncomingOffer,
    NoOfferToAnswer,
    OfferMustBeOpen,
    Person,
    Referral,
)
from shared import metrics
from shared.commands import Commands
from shared.config import broker_user, source_name
from shared.consumer import INFRASTRUCTURE_ERRORS, SenderCheck
from shared.db import Reachability, is_database_error
from shared.events import SYSTEM, Context, RecordedEvent, derived_id, with_id
from shared.relay import Publisher
from shared.topology import TRANSFERS_EXCHANGE, transfer_routing_key
from shared.transfer_keys import SealBroken
from shared.vault import ERASED, PersonAlreadyRegistered
from shared.web import instance_of

log = logging.getLogger(__name__)

SCHEMA = "referrals"
# A record sealed for a partner waits here, in the transaction that offered the referral, until
# the broker has confirmed it; then it is deleted (the sender cannot read it, and keeps no copy).
OUTBOX_DDL = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.transfer_outbox (
    offer_id     uuid PRIMARY KEY,
    referral_id  text NOT NULL,
    to_partner   text NOT NULL,
    sealed       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
"""
RECORD_EVENT_TYPE = "PersonRecordSealed"


# -- the record an offer brings ------------------------------------------------------------------


def offer_subject(offer_id) -> uuid.UUID:
    """The vault key the record of an offer is kept under until the offer is answered."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"peerlink:offer/{offer_id}/subject")


def offer_record_id(offer_id) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"peerlink:offer/{offer_id}/record")


def keep_offer_record(vault, cur, offer_id, record: dict) -> bool:
    """The record kept under the offer's own key; False when the offer's key exists already
    (the record came before, or the offer was declined or withdrawn here: nothing is kept)."""
    subject = offer_subject(offer_id)
    if vault.standing(cur, subject) is not None:
        return False
    try:
        vault.register(cur, subject, {})
    except PersonAlreadyRegistered:
        return False  # kept, or destroyed, a moment ago by another transaction
    vault.seal_text(cur, subject, json.dumps(record, ensure_ascii=False), offer_record_id(offer_id))
    return True


def open_offer_record(vault, cur, offer_id):
    """The record as it arrived; None while it has not, ERASED once it was destroyed."""
    if vault.standing(cur, offer_subject(offer_id)) == "erased":
        return ERASED
    text = vault.open_text(cur, offer_record_id(offer_id))
    if text is None or text is ERASED:
        return text
    return json.loads(text)


def destroy_offer_record(vault, cur, offer_id, reason: str) -> None:
    """The offer's key destroyed, so its record can never be read again; a record arriving
    later finds the key taken and is not kept."""
    subject = offer_subject(offer_id)
    with contextlib.suppress(PersonAlreadyRegistered):
        vault.register(cur, subject, {})
    vault.erase(cur, subject, reason)


def record_standing(vault, cur, offer_id) -> str:
    standing = vault.standing(cur, offer_subject(offer_id))
    return {None: "awaited", "registered": "arrived"}.get(standing, "destroyed")


# -- reactions on the inbound queue ----------------------------------------------------------


class TransferReactions:
    """What a partner's offers and answers change here. `store` is the referrals store;
    `referrals_of`: a person's referrals here (by default, from the referrals read model)."""

    def __init__(
        self,
        store,
        partner_id: str,
        vault=None,
        referrals_of: Callable[[str], list[str]] | None = None,
    ):
        self.store = store
        self.commands = Commands(store)
        self.partner_id = partner_id
        self.vault = vault
        self.referrals_of = referrals_of or self._referrals_of

    def _referrals_of(self, person_id: str) -> list[str]:
        with self.store.db.transaction() as cur:
            return queries.referrals_of(cur, person_id)

    def __call__(self, event: RecordedEvent) -> None:
        if event.event_type == "ReferralOffered":
            self.offer_received(event)
        elif event.event_type == "ReferralOfferWithdrawn":
            self.offer_withdrawn(event)
        elif event.event_type in ("OfferAccepted", "OfferDeclined"):
            self.offer_answered(event)
        elif event.event_type == "OfferAcceptanceRefused":
            self.acceptance_refused(event)
        elif event.event_type == "TransferredPersonErased":
            self.erasure_noticed(event)

    def _context(self, cause: RecordedEvent) -> Context:
        return Context(self.partner_id, SYSTEM, cause.correlation_id, cause.event_id)

    def offer_received(self, event: RecordedEvent) -> None:
        p = event.payload
        if p["to_partner"] != self.partner_id:
            return  # an offer between two other partners
        offer = IncomingOffer(p["offer_id"])
        details = {
            "offer_id": p["offer_id"],
            "from_partner": event.partner_id,
            "referral_id": event.stream_id,
            "offered_on": p["offered_on"],
            **{k: p[k] for k in ("source", "urgency", "needs", "risk_level", "is_carer_referral")},
        }
        # a fresh offer at version 0 with an id derived from the event: delivered again, it
        # appends nothing twice
        self.commands.apply(
            offer,
            lambda offer: offer.receive(details, derived_id(event.event_id, "received")),
            self._context(event),
        )

    def _offer(self, offer_id: str, from_partner: str) -> IncomingOffer | None:
        offer, history = self.commands.load(IncomingOffer, offer_id)
        if not history or history[0].payload["from_partner"] != from_partner:
            return None
        return offer

    def offer_withdrawn(self, event: RecordedEvent) -> None:
        """The partner took its offer back: recorded, and the record it brought destroyed."""
        p = event.payload
        if p["to_partner"] != self.partner_id:
            return
        offer_id = str(p["offer_id"])
        offer = self._offer(offer_id, event.partner_id)
        if offer is None or offer.status == "withdrawn":
            return
        if offer.status == "accepted":
            # withdrawn there before our acceptance reached it: the acceptance is refused there
            self.withdrawn_after_acceptance(offer, date.fromisoformat(p["withdrawn_on"]), event)
            return
        status = offer.status
        try:
            self.commands.apply(
                offer,
                lambda offer: with_id(
                    offer.withdrawn(date.fromisoformat(p["withdrawn_on"]), p["reason"]),
                    derived_id(event.event_id, "withdrawn"),
                ),
                self._context(event),
                within=lambda cur: destroy_offer_record(
                    self.vault, cur, offer_id, "the offer was withdrawn by the partner that made it"
                ),
            )
        except OfferMustBeOpen:
            log.warning("%s withdrew offer %s, already %s here", event.partner_id, offer_id, status)

    def acceptance_refused(self, event: RecordedEvent) -> None:
        """The partner refused our acceptance: it had withdrawn the offer before it arrived."""
        p = event.payload
        if p["to_partner"] != self.partner_id:
            return
        offer = self._offer(str(p["offer_id"]), event.partner_id)
        if offer is None:
            log.warning("a refused acceptance from %s names no offer here", event.partner_id)
            return
        self.withdrawn_after_acceptance(offer, date.fromisoformat(p["refused_on"]), event)

    def withdrawn_after_acceptance(
        self, offer: IncomingOffer, on: date, cause: RecordedEvent
    ) -> None:
        """The sender's record decides (docs/decisions/0011): the offer shows withdrawn, the
        referral made of it is closed, and the person is erased when the acceptance alone
        registered them and nothing else here names them; someone linked is kept, without what
        the link filled in. Told by the withdrawal or by the refusal, whichever comes first,
        each step is taken once: its events' ids are derived from the offer."""
        if offer.status != "accepted":
            return
        person_id = offer.details.get("person_id")
        referral_id = offer.details["new_referral_id"]
        referral, _ = self.commands.load(Referral, referral_id)
        person = self.commands.load(Person, str(person_id))[0] if person_id else None
        others = (
            [r for r in self.referrals_of(str(person_id)) if r != referral_id] if person else []
        )
        registered = offer.details.get("person") == "registered"
        erasing = person is not None and registered and not others and not person.is_erased
        unfilling = person is not None and not registered and not person.is_erased
        filled = {name: None for name in offer.details.get("filled") or []}
        context = self._context(cause)

        def together(cur) -> None:
            self.commands.apply_within(
                cur,
                referral,
                lambda r: with_id(
                    r.transfer_withdrawn(offer.id, on), derived_id(offer.id, "transfer-withdrawn")
                ),
                context,
            )
            if person is None:
                return
            if erasing:
                self.commands.apply_within(
                    cur,
                    person,
                    lambda p: with_id(
                        p.erase(TRANSFER_WITHDRAWN_ERASURE), derived_id(offer.id, "person-erased")
                    ),
                    context,
                )
                # crypto-shredding, as an erasure: the key goes, and the texts sealed under it
                self.vault.erase(
                    cur, person.id, "registered by accepting an offer the partner had withdrawn"
                )
            elif unfilling and filled:
                # someone linked stays as they were before the link: what it filled in goes
                self.vault.update(cur, person.id, filled)
                self.commands.apply_within(
                    cur,
                    person,
                    lambda p: with_id(
                        p.change_details(filled, {}, on), derived_id(offer.id, "link-undone")
                    ),
                    context,
                )

        self.commands.apply(
            offer,
            lambda offer: with_id(
                offer.withdrawn_after_acceptance(on, erasing),
                derived_id(offer.id, "withdrawn-after-acceptance"),
            ),
            context,
            within=together,
        )

    def erasure_noticed(self, event: RecordedEvent) -> None:
        p = event.payload
        if p["to_partner"] != self.partner_id:
            return
        offer_id = str(p["offer_id"])
        offer = self._offer(offer_id, event.partner_id)
        if offer is None:
            log.warning("an erasure notice from %s names no offer here", event.partner_id)
            return
        self.commands.apply(
            offer,
            lambda offer: with_id(
                offer.erasure_noticed(date.fromisoformat(p["erased_on"])),
                derived_id(event.event_id, "noticed"),
            ),
            self._context(event),
        )

    def offer_answered(self, event: RecordedEvent) -> None:
        p = event.payload
        if p["from_partner"] != self.partner_id:
            return
        referral, history = self.commands.load(Referral, p["referral_id"])
        answer_id = derived_id(event.event_id, "settled")
        if any(e.event_id == answer_id for e in history):
            return
        accepted = event.event_type == "OfferAccepted"
        on = date.fromisoformat(p["accepted_on"] if accepted else p["declined_on"])
        try:
            self.commands.apply(
                referral,
                lambda referral: with_id(
                    referral.settle_offer(p["offer_id"], accepted, event.partner_id, on),
                    answer_id,
                ),
                self._context(event),
            )
        except NoOfferToAnswer:
            log.warning(
                "an answer from %s to offer %s matches no open offer",
                event.partner_id,
                p["offer_id"],
            )


class SealedRecords:
    """Records other partners seal for this one: opened with this partner's transfer key (as
    the offer named, from the partner named), checked, and kept under the offer's own key."""

    def __init__(self, store, vault, keys):
        self.store = store
        self.vault = vault
        self.keys = keys

    def open(self, body: dict) -> dict:
        """The record, or SealBroken / ValidationError when it is not one to keep."""
        record = self.keys.open(body["partner_id"], body["offer_id"], body["sealed"])
        instance_of(SharedRecord).load(record)
        return record

    def keep(self, body: dict, record: dict) -> None:
        with self.store.db.transaction() as cur:
            if not keep_offer_record(self.vault, cur, body["offer_id"], record):
                log.info("the record of offer %s is kept already or not wanted", body["offer_id"])


def record_message(
    from_partner: str, to_partner: str, offer_id, referral_id: str, sealed: str
) -> dict:
    """What the broker carries of a record sealed for a partner: who sends it, to whom, for
    which offer, and the sealed record (nothing readable of the person)."""
    return {
        "event_id": str(derived_id(offer_id, "sealed-record")),
        "event_type": RECORD_EVENT_TYPE,
        "partner_id": from_partner,
        "source": source_name(from_partner, "referrals"),
        "to_partner": to_partner,
        "offer_id": str(offer_id),
        "referral_id": referral_id,
        "sealed": sealed,
    }


class InboundTransfers:
    """The consumer of `referrals.inbound`. A message counts only if the broker user that
    published it (its user_id, validated where it was published and kept by federation) is the
    node user of the partner it names, from that partner's referrals; a record must be sealed
    for this partner, as the offer it names, by that partner. Anything else is refused: recorded
    in the dead letters, counted, and rejected to the queue's dead-letter queue."""

    def __init__(
        self,
        name: str,
        partner_id: str,
        partners: Iterable[str],
        reactions: TransferReactions,
        records: SealedRecords,
        db,
        max_attempts: int = 5,
    ):
        self.name = name
        self.partner_id = partner_id
        self.reactions = reactions
        self.records = records
        self.db = db
        self.max_attempts = max_attempts
        self.retry_delay_seconds = 0.1
        self.database = Reachability(name)
        others = [p for p in partners if p != partner_id]
        self.check = SenderCheck([source_name(p, "referrals") for p in others], broker_user)

    def deliver(self, messages: list) -> None:
        for message in messages:
            self._deliver(message)

    def _deliver(self, message) -> None:
        try:
            body = json.loads(message.body)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            event = None if "sealed" in body else RecordedEvent.from_envelope(body)
        except (ValueError, KeyError, TypeError, ValidationError) as error:
            log.error("%s: unreadable message rejected: %r", self.name, error)
            metrics.DEAD_LETTERS.labels(self.name).inc()
            message.reject()
            return
        user_id = (getattr(message, "properties", None) or {}).get("user_id")
        refusal = self.check.refusal(user_id, body)
        record = None
        if refusal is None and event is None:
            refusal, record = self._checked_record(body)
        if refusal is not None:
            self.refuse(body, *refusal)
            message.reject()
            return
        for attempt in range(1, self.max_attempts + 1):
            try:
                if event is not None:
                    self.reactions(event)
                else:
                    self.records.keep(body, record)
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as error:  # noqa: BLE001 - never blocks the queue
                if attempt < self.max_attempts:
                    time.sleep(self.retry_delay_seconds * attempt)
                    continue
                log.error("%s: dead-lettering %s: %r", self.name, body.get("event_type"), error)
                self._dead_letter(body, f"failed: {error!r}")
                metrics.DEAD_LETTERS.labels(self.name).inc()
                message.reject()
            else:
                metrics.CONSUMER_APPLIED.labels(self.name).inc()
                message.ack()
            return

    def _checked_record(self, body: dict) -> tuple[tuple[str, str] | None, dict | None]:
        if body.get("to_partner") != self.partner_id:
            return ("recipient", f"a record sealed for {body.get('to_partner')!r}"), None
        try:
            return None, self.records.open(body)
        except (SealBroken, ValidationError, KeyError, TypeError, ValueError) as error:
            return ("seal", f"offer {body.get('offer_id')}: {error}"), None

    def refuse(self, body: dict, reason: str, detail: str) -> None:
        log.error("%s: refused a message (%s): %s", self.name, reason, detail)
        self._dead_letter(body, f"refused ({reason}): {detail}")
        metrics.REFUSED.labels(self.name, reason).inc()
        metrics.DEAD_LETTERS.labels(self.name).inc()

    def _dead_letter(self, body: dict, error: str) -> None:
        # a sealed record is not kept, even refused: the envelope without it
        kept = {k: v for k, v in body.items() if k != "sealed"}
        try:
            event_id = uuid.UUID(str(body.get("event_id")))
        except ValueError:
            event_id = uuid.uuid4()
        position = body.get("position") if isinstance(body.get("position"), int) else 0
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {SCHEMA}.dead_letters"
                " (consumer, source, position, event_id, event_type, error, envelope)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    self.name,
                    str(body.get("source"))[:200],
                    position,
                    event_id,
                    str(body.get("event_type"))[:200],
                    error[:2000],
                    json.dumps(kept, default=str),
                ),
            )


# -- the outbox ------------------------------------------------------------------------------


class TransferSender:
    """Publishes the records in the transfer outbox to the transfers exchange, persistent,
    mandatory and confirmed, each routed to its partner alone; deletes each once confirmed. A
    record whose offer was withdrawn meanwhile (the person withdrew consent or was erased) is
    deleted unsent."""

    def __init__(self, db, amqp_url: str, partner_id: str, poll_seconds: float = 0.25):
        self.db = db
        self.partner_id = partner_id
        self.poll_seconds = poll_seconds
        self.source = source_name(partner_id, "transfers")
        self.publisher = Publisher(amqp_url, exchange=TRANSFERS_EXCHANGE)
        self.database = Reachability("transfer-outbox")

    def step(self) -> int:
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT o.offer_id, o.referral_id, o.to_partner, o.sealed,"
                f" EXISTS (SELECT 1 FROM {SCHEMA}.events e WHERE e.stream_type = 'referral'"
                f"   AND e.stream_id = o.referral_id AND e.event_type = 'ReferralOfferWithdrawn'"
                f"   AND e.payload->>'offer_id' = o.offer_id::text)"
                f" FROM {SCHEMA}.transfer_outbox o ORDER BY o.created_at LIMIT 50"
            )
            rows = cur.fetchall()
        withdrawn = [str(offer_id) for offer_id, _, _, _, gone in rows if gone]
        messages = [
            (
                transfer_routing_key(self.partner_id, to_partner),
                record_message(self.partner_id, to_partner, offer_id, referral_id, sealed),
            )
            for offer_id, referral_id, to_partner, sealed, gone in rows
            if not gone
        ]
        if messages:
            self.publisher.publish(messages)
            metrics.RELAY_PUBLISHED.labels(self.source).inc(len(messages))
        done = withdrawn + [body["offer_id"] for _, body in messages]
        if done:
            with self.db.transaction() as cur:
                cur.execute(
                    f"DELETE FROM {SCHEMA}.transfer_outbox WHERE offer_id = ANY(%s::uuid[])",
                    (done,),
                )
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                sent = self.step()
                backoff = 0.1
                self.database.reached()
            except Exception as error:  # noqa: BLE001 - outlives broker and database outages
                if is_database_error(error):
                    self.database.failed(error)  # said once an outage, not once a retry
                else:
                    log.exception("transfer outbox: publishing failed, retrying")
                metrics.RELAY_FAILURES.labels(self.source).inc()
                self.publisher.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if not sent:
                stop.wait(self.poll_seconds)
        self.publisher.close()
