"""The consumer of a partner's `referrals.inbound` queue against the real PostgreSQL, with a node
database migrated as the deploy step does: an offer or a sealed record counts only when the
broker user that sent it is the node user of the partner it names, from that partner's
referrals, and a record opens as the offer it names, for this partner. Whatever fails is
refused, kept as a dead letter (never with its sealed record), counted, and changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import date

import psycopg2
import pytest

from contracts.referrals.events import registry
from deploy.migrations import apply, node_migrations
from services.referrals.domain import IncomingOffer
from services.referrals.transfers import (
    InboundTransfers,
    SealedRecords,
    TransferReactions,
    destroy_offer_record,
    offer_subject,
    open_offer_record,
    record_message,
)
from shared import metrics
from shared.config import PARTNERS, broker_user, source_name
from shared.db import Database
from shared.events import Actor, Context, NewEvent
from shared.eventstore import InMemoryEventStore, PostgresEventStore
from shared.transfer_keys import TransferKeys, generate_transfer_key, public_key_of
from shared.vault import ERASED, MasterKeys, Vault, generate_master_key
from tests.integration.test_sender_check import Delivered

pytestmark = pytest.mark.integration

HERE, SENDER, OTHER = "mesmac", "leeds-mind", "lslcs"
RECORD = {
    "shares": ["identifiers"],
    "identifiers": {"full_name": "Quinn Abara", "date_of_birth": "1961-03-17"},
    "gender": "not_known",
    "ethnicity": "not_stated",
}


@pytest.fixture(scope="module")
def transfer_keys() -> dict[str, TransferKeys]:
    private = {partner: generate_transfer_key() for partner in PARTNERS}
    public = {partner: public_key_of(key) for partner, key in private.items()}
    return {p: TransferKeys.from_text(p, private[p], public) for p in PARTNERS}


@pytest.fixture(scope="module")
def database(stack_state):
    """A node database of this module's own, migrated as the deploy step does (every test
    works with offers of its own, so they share it)."""
    admin = stack_state["admin_dsn"]
    name = f"it_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute("SELECT current_user")
        owner = cur.fetchone()[0]
    conn.close()
    dsn = admin.rsplit("/", 1)[0] + f"/{name}"
    apply(dsn, node_migrations(owner))
    db = Database(dsn, maxconn=4)
    yield db
    db.close()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


@pytest.fixture
def store(database):
    from services.referrals.projections import ReferralList

    # a partner's first-contact target in working days (the default of ReferralSettings)
    return PostgresEventStore(
        database, "referrals", registry, projector=ReferralList(first_contact_working_days=5)
    )


@pytest.fixture
def vault():
    return Vault("vault", MasterKeys.from_text(generate_master_key(), HERE))


@pytest.fixture
def inbound(database, store, vault, transfer_keys):
    return InboundTransfers(
        f"inbound-{uuid.uuid4().hex[:6]}",
        HERE,
        PARTNERS,
        TransferReactions(store, HERE, vault),
        SealedRecords(store, vault, transfer_keys[HERE]),
        database,
    )


def offered(to_partner: str = HERE, partner: str = SENDER) -> dict:
    """A ReferralOffered wire message as `partner`'s relay publishes it (coded fields only)."""
    sender = InMemoryEventStore(registry)
    referral_id = str(uuid.uuid4())
    payload = {
        "to_partner": to_partner,
        "offered_by": "lead",
        "offered_on": date.today().isoformat(),
        "offer_id": str(uuid.uuid4()),
        "source": "gp",
        "urgency": "routine",
        "needs": ["isolation"],
        "risk_level": "low",
        "is_carer_referral": False,
    }
    [event] = sender.append(
        "referral",
        referral_id,
        0,
        [NewEvent("ReferralOffered", payload)],
        Context(partner, Actor("lead", "team_lead")),
    )
    return {**event.envelope(), "source": source_name(partner, "referrals"), "previous_position": 0}


def sealed(keys, message: dict, record=RECORD, by: str = SENDER, to: str = HERE) -> dict:
    offer_id = message["payload"]["offer_id"]
    return record_message(
        by, to, offer_id, message["stream_id"], keys[by].seal(to, offer_id, record)
    )


def offer_here(store, offer_id: str) -> IncomingOffer | None:
    events = store.read_stream(IncomingOffer.stream_type, offer_id)
    return IncomingOffer.fold(offer_id, events) if events else None


def dead_letters(database, consumer) -> list[tuple[str, str]]:
    with database.transaction() as cur:
        cur.execute(
            "SELECT error, envelope::text FROM referrals.dead_letters WHERE consumer = %s",
            (consumer.name,),
        )
        return cur.fetchall()


def refused(consumer, reason: str) -> float:
    return metrics.REFUSED.labels(consumer.name, reason)._value.get()


def test_an_offer_and_its_record_from_the_partner_they_name_are_taken(
    database, store, vault, inbound, transfer_keys
):
    message = offered()
    record = sealed(transfer_keys, message)
    # the record may arrive before the offer: it travels on a link of its own
    deliveries = [Delivered(record, broker_user(SENDER)), Delivered(message, broker_user(SENDER))]
    inbound.deliver(deliveries)
    assert [d.settled for d in deliveries] == ["ack", "ack"]
    offer_id = message["payload"]["offer_id"]
    assert offer_here(store, offer_id).status == "received"
    with database.transaction() as cur:
        assert open_offer_record(vault, cur, offer_id) == RECORD
    assert dead_letters(database, inbound) == []


@pytest.mark.parametrize(
    ("user", "over", "reason"),
    [
        (broker_user(OTHER), {}, "sender"),
        ("test-someone", {}, "sender"),
        (None, {}, "sender"),
        (broker_user(HERE), {}, "sender"),
        (broker_user(SENDER), {"source": f"{SENDER}/sessions"}, "source"),
        (broker_user(HERE), {"partner_id": HERE, "source": f"{HERE}/referrals"}, "source"),
    ],
    ids=[
        "another-partners-user",
        "a-user-of-no-partner",
        "no-user",
        "this-nodes-own-user",
        "another-service",
        "as-if-from-this-node",
    ],
)
def test_an_offer_not_from_the_partner_it_names_is_refused(
    database, store, inbound, user, over, reason
):
    message = {**offered(), **over}
    delivered = Delivered(message, user)
    before = refused(inbound, reason)
    inbound.deliver([delivered])
    assert delivered.settled == "reject"  # to the queue's dead-letter queue
    assert offer_here(store, message["payload"]["offer_id"]) is None
    [(error, _)] = dead_letters(database, inbound)
    assert f"refused ({reason})" in error
    assert refused(inbound, reason) == before + 1


def _tampered(record: dict) -> dict:
    text = record["sealed"]
    flipped = ("A" if text[60] != "A" else "B").join((text[:60], text[61:]))
    return {**record, "sealed": flipped}


@pytest.mark.parametrize(
    ("forge", "user", "reason"),
    [
        (lambda keys, m: sealed(keys, m, to=OTHER), SENDER, "recipient"),
        (lambda keys, m: {**sealed(keys, m), "to_partner": OTHER}, SENDER, "recipient"),
        (lambda keys, m: _tampered(sealed(keys, m)), SENDER, "seal"),
        (lambda keys, m: {**sealed(keys, m, to=OTHER), "to_partner": HERE}, SENDER, "seal"),
        (
            lambda keys, m: {**sealed(keys, m), "offer_id": str(uuid.uuid4())},
            SENDER,
            "seal",
        ),
        # lslcs's node user, claiming to be lslcs, sends what leeds-mind sealed
        (
            lambda keys, m: {
                **sealed(keys, m),
                "partner_id": OTHER,
                "source": source_name(OTHER, "referrals"),
            },
            OTHER,
            "seal",
        ),
        (lambda keys, m: sealed(keys, m), OTHER, "sender"),
        (lambda keys, m: sealed(keys, m, record={"shares": "all"}), SENDER, "seal"),
    ],
    ids=[
        "sealed-for-another-partner",
        "addressed-to-another-partner",
        "tampered",
        "sealed-for-another-relabelled",
        "another-offer",
        "another-sender",
        "another-partners-user",
        "not-a-record",
    ],
)
def test_a_record_not_sealed_for_this_partner_by_the_sender_as_that_offer_is_refused(
    database, store, vault, inbound, transfer_keys, forge, user, reason
):
    message = offered()
    forged = forge(transfer_keys, message)
    delivered = Delivered(forged, broker_user(user))
    before = refused(inbound, reason)
    inbound.deliver([delivered])
    assert delivered.settled == "reject"
    with database.transaction() as cur:
        for offer_id in {message["payload"]["offer_id"], forged["offer_id"]}:
            assert vault.standing(cur, offer_subject(offer_id)) is None  # nothing kept
    [(error, envelope)] = dead_letters(database, inbound)
    assert f"refused ({reason})" in error
    assert "sealed" not in json.loads(envelope)  # not even refused is the record kept
    assert refused(inbound, reason) == before + 1


def test_a_record_arriving_after_the_offer_was_declined_is_not_kept(
    database, store, vault, inbound, transfer_keys
):
    message = offered()
    inbound.deliver([Delivered(message, broker_user(SENDER))])
    offer_id = message["payload"]["offer_id"]
    offer = offer_here(store, offer_id)
    # declined here before its record came
    store.append(
        IncomingOffer.stream_type,
        offer_id,
        offer.version,
        offer.decline("lead", date.today(), "no_capacity"),
        Context(HERE, Actor("lead", "team_lead")),
        within=lambda cur: destroy_offer_record(vault, cur, offer_id, "the offer was declined"),
    )
    late = Delivered(sealed(transfer_keys, message), broker_user(SENDER))
    inbound.deliver([late])
    assert late.settled == "ack"
    with database.transaction() as cur:
        assert vault.standing(cur, offer_subject(offer_id)) == "erased"
        assert open_offer_record(vault, cur, offer_id) is ERASED
        cur.execute(
            "SELECT count(*) FROM vault.sensitive_texts WHERE person_id = %s",
            (offer_subject(offer_id),),
        )
        assert cur.fetchone()[0] == 0


def test_a_withdrawal_from_the_partner_that_made_the_offer_destroys_its_record(
    database, store, vault, inbound, transfer_keys
):
    message = offered()
    inbound.deliver(
        [
            Delivered(message, broker_user(SENDER)),
            Delivered(sealed(transfer_keys, message), broker_user(SENDER)),
        ]
    )
    offer_id = message["payload"]["offer_id"]
    withdrawal = {
        **message,
        "event_id": str(uuid.uuid4()),
        "version": 2,
        "position": message["position"] + 1,
        "previous_position": message["position"],
        "event_type": "ReferralOfferWithdrawn",
        "payload": {
            "to_partner": HERE,
            "offer_id": offer_id,
            "withdrawn_by": "lead",
            "withdrawn_on": date.today().isoformat(),
            "reason": "offered_in_error",
        },
    }
    # a withdrawal said to be from another partner changes nothing
    forged = Delivered({**withdrawal, "partner_id": OTHER}, broker_user(SENDER))
    inbound.deliver([forged])
    assert forged.settled == "reject" and offer_here(store, offer_id).status == "received"
    genuine = Delivered(withdrawal, broker_user(SENDER))
    inbound.deliver([genuine])
    assert genuine.settled == "ack"
    assert offer_here(store, offer_id).status == "withdrawn"
    with database.transaction() as cur:
        assert open_offer_record(vault, cur, offer_id) is ERASED
