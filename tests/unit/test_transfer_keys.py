"""Sealing a transferred person's record for one partner, without servers: only the receiving
partner opens it, only as the offer it was sealed for and from the partner that sealed it, and
nothing altered on the way opens."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from shared.transfer_keys import (
    PUBLIC_KEYS_ENV,
    TRANSFER_KEY_ENV,
    TRANSFER_KEY_FILE_ENV,
    SealBroken,
    TransferKeyError,
    TransferKeys,
    generate_transfer_key,
    public_key_of,
)

pytestmark = pytest.mark.unit

PARTNERS = ("leeds-mind", "lslcs", "mesmac")
RECORD = {
    "identifiers": {"full_name": "Jordan Ellis", "date_of_birth": "1961-03-17"},
    "contact": {"phone": "07700 900123"},
    "shares": ["identifiers", "contact"],
}


@pytest.fixture(scope="module")
def alliance() -> dict[str, TransferKeys]:
    """Each partner's transfer keys, every node told every partner's public key."""
    private = {partner: generate_transfer_key() for partner in PARTNERS}
    public = {partner: public_key_of(key) for partner, key in private.items()}
    return {p: TransferKeys.from_text(p, private[p], public) for p in PARTNERS}


def _flip(sealed: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(sealed))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_the_receiving_partner_opens_what_was_sealed_for_it(alliance):
    offer = uuid.uuid4()
    sealed = alliance["leeds-mind"].seal("mesmac", offer, RECORD)
    assert alliance["mesmac"].open("leeds-mind", offer, sealed) == RECORD


def test_the_sealed_record_shows_nothing_of_the_person(alliance):
    sealed = alliance["leeds-mind"].seal("mesmac", uuid.uuid4(), RECORD)
    raw = base64.urlsafe_b64decode(sealed)
    for value in ("Jordan", "Ellis", "1961-03-17", "07700"):
        assert value.encode() not in raw and value not in sealed
    # two seals of the same record look nothing alike (a fresh key and nonce each)
    assert sealed != alliance["leeds-mind"].seal("mesmac", uuid.uuid4(), RECORD)


@pytest.mark.parametrize("at", [1, 40, 60, -1], ids=["key", "nonce", "ciphertext", "tag"])
def test_a_tampered_record_is_refused(alliance, at):
    offer = uuid.uuid4()
    sealed = alliance["leeds-mind"].seal("mesmac", offer, RECORD)
    with pytest.raises(SealBroken):
        alliance["mesmac"].open("leeds-mind", offer, _flip(sealed, at))


def test_a_record_sealed_for_another_partner_does_not_open(alliance):
    offer = uuid.uuid4()
    sealed = alliance["leeds-mind"].seal("mesmac", offer, RECORD)
    # neither with the other partner's key, nor claimed by the sender itself
    with pytest.raises(SealBroken):
        alliance["lslcs"].open("leeds-mind", offer, sealed)
    with pytest.raises(SealBroken):
        alliance["leeds-mind"].open("leeds-mind", offer, sealed)


def test_a_record_opened_as_another_offer_is_refused(alliance):
    sealed = alliance["leeds-mind"].seal("mesmac", uuid.uuid4(), RECORD)
    with pytest.raises(SealBroken):
        alliance["mesmac"].open("leeds-mind", uuid.uuid4(), sealed)


def test_a_record_said_to_come_from_another_sender_is_refused(alliance):
    offer = uuid.uuid4()
    sealed = alliance["leeds-mind"].seal("mesmac", offer, RECORD)
    with pytest.raises(SealBroken):
        alliance["mesmac"].open("lslcs", offer, sealed)


@pytest.mark.parametrize(
    "sealed", ["", "not base64 !", base64.urlsafe_b64encode(b"\x01x").decode()]
)
def test_what_is_not_a_sealed_record_is_refused(alliance, sealed):
    with pytest.raises(SealBroken):
        alliance["mesmac"].open("leeds-mind", uuid.uuid4(), sealed)


def test_sealing_for_a_partner_without_a_public_key_is_refused(alliance):
    with pytest.raises(TransferKeyError, match="elsewhere"):
        alliance["leeds-mind"].seal("elsewhere", uuid.uuid4(), RECORD)


def test_keys_come_from_the_environment_and_a_wrong_own_public_key_is_refused(tmp_path):
    private = {partner: generate_transfer_key() for partner in PARTNERS}
    public = {partner: public_key_of(key) for partner, key in private.items()}
    path = tmp_path / "transfer.key"
    path.write_text(private["mesmac"])
    keys = TransferKeys.from_environment(
        "mesmac", {TRANSFER_KEY_FILE_ENV: str(path), PUBLIC_KEYS_ENV: json.dumps(public)}
    )
    offer = uuid.uuid4()
    sender = TransferKeys.from_text("lslcs", private["lslcs"], public)
    assert keys.open("lslcs", offer, sender.seal("mesmac", offer, RECORD)) == RECORD
    swapped = {**public, "mesmac": public["lslcs"]}
    with pytest.raises(TransferKeyError, match="not the half"):
        TransferKeys.from_environment(
            "mesmac", {TRANSFER_KEY_ENV: private["mesmac"], PUBLIC_KEYS_ENV: json.dumps(swapped)}
        )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "no transfer key"),
        ({TRANSFER_KEY_ENV: "a", TRANSFER_KEY_FILE_ENV: "/b"}, "not both"),
        ({TRANSFER_KEY_ENV: "!!!"}, "base64"),
        ({TRANSFER_KEY_ENV: base64.urlsafe_b64encode(b"short").decode()}, "32 bytes"),
        ({TRANSFER_KEY_FILE_ENV: "/nowhere/transfer.key"}, "cannot be read"),
        ({TRANSFER_KEY_ENV: generate_transfer_key(), PUBLIC_KEYS_ENV: "[1]"}, "map each"),
    ],
)
def test_a_missing_or_malformed_key_stops_the_process_naming_it(environ, message):
    with pytest.raises(TransferKeyError, match=message):
        TransferKeys.from_environment("mesmac", environ)
