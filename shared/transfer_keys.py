"""Sealing what a person consented to share for the one partner their referral is transferred
to. Each partner node has an X25519 key pair for transfers: a record is sealed with a fresh
ephemeral key (HKDF-SHA256, then AES-GCM), with the sending partner, the receiving partner and
the offer id as associated data, so only the receiving partner opens it, and only as that offer
from that sender. The hub and the broker's other tenants carry nothing they could read.

That the sender is who it says comes from the broker (the message's validated user_id), not
from the seal: anyone holding a partner's public key can seal for it."""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TRANSFER_KEY_ENV = "PEERLINK_TRANSFER_KEY"
TRANSFER_KEY_FILE_ENV = "PEERLINK_TRANSFER_KEY_FILE"
# JSON: {"<partner>": "<urlsafe base64 of its 32-byte X25519 public key>", ...}
PUBLIC_KEYS_ENV = "PEERLINK_TRANSFER_PUBLIC_KEYS"

KEY_BYTES = 32
_NONCE_BYTES = 12
# Changing the label or the format byte makes every sealed record in flight unreadable: a new
# one means both ends learn it before any record is sealed with it.
_FORMAT = b"\x01"
_INFO = b"peerlink/transfer/v1"
# padded so a ciphertext's length says little about how long a name or a note is
_PAD_TO_BYTES = 256


class TransferKeyError(Exception):
    """A transfer key missing or malformed, or no public key for the partner named."""


class SealBroken(Exception):
    """A sealed record that does not open as the offer named, from the sender named, for this
    partner: altered on the way, sealed for another partner or another offer, or not a sealed
    record at all."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        # `from None`: the decoder's message could quote part of a key into a log
        raise TransferKeyError(f"{what} is not urlsafe base64") from None


def generate_transfer_key() -> str:
    """A new private transfer key as urlsafe base64, for PEERLINK_TRANSFER_KEY or its file."""
    return _b64(X25519PrivateKey.generate().private_bytes_raw())


def _private_key(text: str, what: str) -> X25519PrivateKey:
    raw = _unb64(text, what)
    if len(raw) != KEY_BYTES:
        raise TransferKeyError(f"{what} must decode to {KEY_BYTES} bytes, it decodes to {len(raw)}")
    return X25519PrivateKey.from_private_bytes(raw)


def _public_key(text: str, what: str) -> X25519PublicKey:
    raw = _unb64(text, what)
    if len(raw) != KEY_BYTES:
        raise TransferKeyError(f"{what} must decode to {KEY_BYTES} bytes, it decodes to {len(raw)}")
    return X25519PublicKey.from_public_bytes(raw)


def public_key_of(private_text: str) -> str:
    """The public half of a private transfer key, as the other partners are given it."""
    return _b64(_private_key(private_text, "the transfer key").public_key().public_bytes_raw())


def _aad(from_partner: str, to_partner: str, offer_id) -> bytes:
    def part(value: str) -> bytes:
        data = value.encode("utf-8")
        return len(data).to_bytes(2, "big") + data

    return _INFO + part(from_partner) + part(to_partner) + uuid.UUID(str(offer_id)).bytes


def _content_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO
    ).derive(shared)
    return AESGCM(derived)


class TransferKeys:
    """A partner's private transfer key and every partner's public one."""

    __slots__ = ("partner_id", "_private", "_public")

    def __init__(
        self,
        partner_id: str,
        private_key: X25519PrivateKey,
        public_keys: Mapping[str, X25519PublicKey],
    ):
        if not partner_id:
            raise TransferKeyError("a transfer key belongs to a partner: name it")
        own = private_key.public_key().public_bytes_raw()
        given = public_keys.get(partner_id)
        if given is not None and given.public_bytes_raw() != own:
            raise TransferKeyError(
                f"{PUBLIC_KEYS_ENV} gives {partner_id} a public key that is not the half of this"
                " node's own transfer key"
            )
        self.partner_id = partner_id
        self._private = private_key
        self._public = dict(public_keys)

    def __repr__(self) -> str:
        return f"TransferKeys({self.partner_id}, partners={sorted(self._public)})"

    @classmethod
    def from_text(
        cls, partner_id: str, private_text: str, public_keys: Mapping[str, str]
    ) -> TransferKeys:
        return cls(
            partner_id,
            _private_key(private_text, "the transfer key"),
            {
                partner: _public_key(text, f"{partner}'s public transfer key")
                for partner, text in public_keys.items()
            },
        )

    @classmethod
    def from_environment(
        cls, partner_id: str, environ: Mapping[str, str] | None = None
    ) -> TransferKeys:
        """The partner's private key from PEERLINK_TRANSFER_KEY or the file that
        PEERLINK_TRANSFER_KEY_FILE names (exactly one), and every partner's public key from
        PEERLINK_TRANSFER_PUBLIC_KEYS (JSON: partner -> urlsafe base64)."""
        environ = os.environ if environ is None else environ
        text, path = environ.get(TRANSFER_KEY_ENV), environ.get(TRANSFER_KEY_FILE_ENV)
        if text and path:
            raise TransferKeyError(f"set {TRANSFER_KEY_ENV} or {TRANSFER_KEY_FILE_ENV}, not both")
        if path:
            try:
                text = Path(path).read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as error:
                raise TransferKeyError(
                    f"{TRANSFER_KEY_FILE_ENV} names {path}, which cannot be read: {error}"
                ) from None
        if not text:
            raise TransferKeyError(
                f"no transfer key: set {TRANSFER_KEY_ENV} (urlsafe base64 of an X25519 private"
                f" key) or {TRANSFER_KEY_FILE_ENV} (a file holding one)"
            )
        try:
            public = json.loads(environ.get(PUBLIC_KEYS_ENV) or "{}")
        except ValueError:
            raise TransferKeyError(f"{PUBLIC_KEYS_ENV} is not JSON") from None
        if not isinstance(public, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in public.items()
        ):
            raise TransferKeyError(
                f"{PUBLIC_KEYS_ENV} must map each partner to its public key (urlsafe base64)"
            )
        return cls.from_text(partner_id, text, public)

    def can_seal_for(self, partner_id: str) -> bool:
        return partner_id in self._public

    def seal(self, to_partner: str, offer_id, record: Mapping) -> str:
        """`record` sealed for `to_partner` alone, as offer `offer_id` from this partner."""
        recipient = self._public.get(to_partner)
        if recipient is None:
            raise TransferKeyError(f"no public transfer key is configured for {to_partner}")
        ephemeral = X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes_raw()
        aead = _content_key(
            ephemeral.exchange(recipient), ephemeral_public, recipient.public_bytes_raw()
        )
        plain = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        data = plain.encode("utf-8")
        # JSON ignores trailing whitespace, so spaces pad without a length field
        data += b" " * (-len(data) % _PAD_TO_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, data, _aad(self.partner_id, to_partner, offer_id))
        return _b64(_FORMAT + ephemeral_public + nonce + sealed)

    def open(self, from_partner: str, offer_id, sealed: str) -> dict:
        """The record `from_partner` sealed for this partner as offer `offer_id`; SealBroken
        when it is anything else."""
        try:
            raw = _unb64(sealed, "the sealed record")
        except TransferKeyError:
            raise SealBroken("the sealed record is not urlsafe base64") from None
        head = len(_FORMAT) + KEY_BYTES + _NONCE_BYTES
        if len(raw) <= head or raw[: len(_FORMAT)] != _FORMAT:
            raise SealBroken("not a sealed record of a format this node reads")
        ephemeral_public = raw[len(_FORMAT) : len(_FORMAT) + KEY_BYTES]
        nonce, ciphertext = raw[len(_FORMAT) + KEY_BYTES : head], raw[head:]
        own_public = self._private.public_key().public_bytes_raw()
        try:
            ephemeral = X25519PublicKey.from_public_bytes(ephemeral_public)
            aead = _content_key(self._private.exchange(ephemeral), ephemeral_public, own_public)
            data = aead.decrypt(nonce, ciphertext, _aad(from_partner, self.partner_id, offer_id))
        except (InvalidTag, ValueError):
            raise SealBroken(
                f"the sealed record does not open as offer {offer_id} from {from_partner} to"
                f" {self.partner_id}"
            ) from None
        record = json.loads(data)
        if not isinstance(record, dict):
            raise SealBroken("the sealed record holds no record")
        return record
