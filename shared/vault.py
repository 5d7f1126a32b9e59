"""The people vault: each person's direct identifiers and sensitive free text, encrypted under a
data key of their own, found by blind index, and made unreadable for good by erasing that key."""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg2.extensions import cursor as Cursor

from shared.identifiers import IDENTIFIER_FIELDS as IDENTIFIER_FIELDS

psycopg2.extras.register_uuid()

log = logging.getLogger(__name__)

MASTER_KEY_ENV = "PEERLINK_MASTER_KEY"
MASTER_KEY_FILE_ENV = "PEERLINK_MASTER_KEY_FILE"
MASTER_KEY_DIR_ENV = "PEERLINK_MASTER_KEY_DIR"
MASTER_KEY_BYTES = 32
# A key directory holds one file per version of one partner's master key; a single key given
# by PEERLINK_MASTER_KEY or PEERLINK_MASTER_KEY_FILE is version 1.
_MASTER_KEY_FILE_NAME = re.compile(
    r"master\.(?P<partner>[a-z0-9][a-z0-9-]*)\.(?P<version>[1-9][0-9]{0,8})\.key"
)
# how often a process looks at its key directory again: a version added by a rotation is used
# for new keys, and a destroyed one forgotten, within this many seconds of the next vault use
_KEY_DIRECTORY_RECHECK_SECONDS = 5.0

# Changing a label derives other keys: every wrapped person key and every index digest made
# under the old label would be lost. A new label means a migration that rewraps and reindexes.
_KEY_WRAPPING_INFO = b"peerlink/vault/key-wrapping/v1"
_BLIND_INDEX_INFO = b"peerlink/vault/blind-index/v1"

NHS_NUMBER_INDEX = "nhs_number"
NAME_AND_DOB_INDEX = "name_dob"

_NONCE_BYTES = 12
# Without padding the length of a ciphertext would tell anyone who reads the database how long
# a name or a note is; padding to a block keeps short values indistinguishable.
_PAD_TO_BYTES = 64

# The erasure reason outlives the key, so it must not repeat what the erasure destroys.
_NOT_IN_ERASURE_REASON = (
    "full_name",
    "preferred_name",
    "nhs_number",
    "date_of_birth",
    "address",
    "postcode",
    "phone",
    "email",
    "emergency_contact",
)
_SHORTEST_CHECKED_VALUE = 4

# The key tables: their old row versions hold what an erasure destroys (a wrapped key, the
# person's digests) until a vacuum removes them.
_SWEPT_TABLES = ("person_keys", "blind_index")
# A sweep waits this long for the tables' lock, so that readers queue behind it briefly at most,
# and tries again this many times before it is left due for the next sweep.
_SWEEP_LOCK_WAIT_SECONDS = 1.0
_SWEEP_ATTEMPTS = 5
_NOT_YET_REMOVABLE = re.compile(r"(\d+) dead row versions cannot be removed yet")

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Erased(enum.Enum):
    ERASED = "erased"

    def __repr__(self) -> str:
        return "ERASED"


# What the vault answers for a person whose key was erased: the record existed, and can never
# be read again.
ERASED = Erased.ERASED


class VaultError(Exception):
    pass


class MasterKeyError(VaultError):
    pass


class PersonNotFound(VaultError, LookupError):
    pass


class PersonAlreadyRegistered(VaultError):
    pass


class PersonErased(VaultError):
    pass


class VaultIntegrityError(VaultError):
    """A ciphertext or wrapped key failed authentication: altered, moved to another person or
    version, or made under another master key."""


# -- rules on the values themselves ----------------------------------------------------------


def validate_nhs_number(value: str) -> str:
    """The NHS number as 10 digits (spaces and hyphens dropped), if its check digit holds.
    Modulus 11 as the NHS Data Dictionary gives it: weights 10 down to 2 on the first nine
    digits, check digit 11 - (sum mod 11), where 11 means 0 and 10 means no valid number."""
    digits = re.sub(r"[ \-]", "", value)
    # [0-9] rather than \d: other scripts' digits are not NHS numbers
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValueError("an NHS number must be 10 digits (spaces and hyphens allowed)")
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        raise ValueError("an NHS number whose check digit would be 10 is not valid (modulus 11)")
    if check != int(digits[9]):
        raise ValueError("the NHS number's check digit does not match (modulus 11)")
    return digits


def normalise_name(name: str) -> str:
    """The form a name is compared in: casefolded, accents stripped, whitespace runs made one
    space, so that "José  Smith" and "jose smith" are the same person to a search."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


def _iso_date(value: str | date) -> str:
    if isinstance(value, date):
        return value.isoformat()
    value = value.strip()
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError("date_of_birth must be an ISO date (YYYY-MM-DD)") from None


def validate_identifiers(values: Mapping[str, object]) -> dict[str, str | None]:
    """Identifier fields checked and normalised: NHS number to 10 digits, date of birth to
    YYYY-MM-DD, text stripped; None or blank means "no value". Refuses unknown fields."""
    unknown = sorted(set(values) - set(IDENTIFIER_FIELDS))
    if unknown:
        raise ValueError(f"unknown identifier field: {', '.join(unknown)}")
    cleaned: dict[str, str | None] = {}
    for field, value in values.items():
        if field == "date_of_birth" and isinstance(value, date):
            value = value.isoformat()
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{field} must be text")
        value = value.strip() if value else None
        if value and field == "nhs_number":
            value = validate_nhs_number(value)
        elif value and field == "date_of_birth":
            value = _iso_date(value)
        cleaned[field] = value or None
    return cleaned


# -- keys ------------------------------------------------------------------------------------


def generate_master_key() -> str:
    """A new random master key as urlsafe base64, for PEERLINK_MASTER_KEY or its file."""
    return base64.urlsafe_b64encode(os.urandom(MASTER_KEY_BYTES)).decode("ascii")


def _decode_master_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        # `from None`: the decoder's message could quote part of the key into a log
        raise MasterKeyError(
            f"{source} is not urlsafe base64; make a key with shared.vault.generate_master_key()"
        ) from None
    if len(raw) != MASTER_KEY_BYTES:
        raise MasterKeyError(
            f"{source} must decode to {MASTER_KEY_BYTES} bytes, it decodes to {len(raw)}"
        )
    return raw


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def _aad(purpose: bytes, person_id: uuid.UUID, detail: bytes = b"") -> bytes:
    # Binding every ciphertext to its person (and version or text) means a row copied to
    # another person, or an old version copied over a newer one, fails to open.
    return b"peerlink/vault/" + purpose + b"/" + person_id.bytes + detail


@dataclass(frozen=True)
class Sealed:
    nonce: bytes
    ciphertext: bytes


class PersonKey:
    """One person's data key, bound to their person_id."""

    __slots__ = ("person_id", "_secret", "_aead", "master_version")

    def __init__(self, person_id: uuid.UUID, secret: bytes, master_version: int | None = None):
        self.person_id = person_id
        self._secret = secret
        self._aead = AESGCM(secret)
        # the version of the master key that wraps it (None until it is wrapped)
        self.master_version = master_version

    @classmethod
    def generate(cls, person_id: uuid.UUID) -> PersonKey:
        return cls(person_id, AESGCM.generate_key(bit_length=256))

    def __repr__(self) -> str:
        return f"PersonKey({self.person_id})"

    def seal_identifiers(self, version: int, identifiers: Mapping[str, str]) -> Sealed:
        return self._seal(self._identifiers_aad(version), dict(identifiers))

    def open_identifiers(self, version: int, sealed: Sealed) -> dict[str, str]:
        return self._open(self._identifiers_aad(version), sealed, f"identifiers v{version}")

    def seal_text(self, text_id: uuid.UUID, text: str) -> Sealed:
        return self._seal(_aad(b"text", self.person_id, text_id.bytes), text)

    def open_text(self, text_id: uuid.UUID, sealed: Sealed) -> str:
        return self._open(_aad(b"text", self.person_id, text_id.bytes), sealed, f"text {text_id}")

    def _identifiers_aad(self, version: int) -> bytes:
        return _aad(b"identifiers", self.person_id, version.to_bytes(4, "big"))

    def _seal(self, aad: bytes, value: object) -> Sealed:
        plain = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        data = plain.encode("utf-8")
        # JSON ignores trailing whitespace, so spaces pad without a length field
        data += b" " * (-len(data) % _PAD_TO_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        return Sealed(nonce, self._aead.encrypt(nonce, data, aad))

    def _open(self, aad: bytes, sealed: Sealed, what: str):
        try:
            data = self._aead.decrypt(sealed.nonce, sealed.ciphertext, aad)
        except InvalidTag:
            raise VaultIntegrityError(
                f"{what} of person {self.person_id} failed authentication"
            ) from None
        return json.loads(data)


def master_key_file_name(partner_id: str, version: int) -> str:
    """The file of one version of a partner's master key in its key directory."""
    return f"master.{partner_id}.{version}.key"


def _key_files(directory: Path, partner_id: str) -> list[tuple[int, os.DirEntry]]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        raise MasterKeyError(
            f"{MASTER_KEY_DIR_ENV} names {directory}, which cannot be read: {error.strerror}"
        ) from None
    found = []
    for entry in entries:
        match = _MASTER_KEY_FILE_NAME.fullmatch(entry.name)
        if match is None:
            continue  # a file being written is named otherwise until it is complete
        if match["partner"] != partner_id:
            raise MasterKeyError(
                f"{directory} holds {entry.name}, a key of another partner: a node's key"
                f" directory holds its own partner's ({partner_id}) keys only"
            )
        found.append((int(match["version"]), entry))
    return found


def master_key_versions_in(directory: str | Path, partner_id: str) -> list[int]:
    """The versions of the partner's master key a key directory holds (none when empty)."""
    return sorted(version for version, _ in _key_files(Path(directory), partner_id))


def _listing(files: list[tuple[int, os.DirEntry]]) -> tuple:
    # what tells a changed directory from an unchanged one without reading any key
    return tuple((entry.name, entry.stat().st_mtime_ns, entry.stat().st_size) for _, entry in files)


def _read_key_directory(directory: Path, partner_id: str) -> tuple[dict[int, bytes], tuple]:
    files = _key_files(directory, partner_id)
    versions = {}
    for version, entry in files:
        try:
            text = Path(entry.path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise MasterKeyError(
                f"the master key file {entry.path} cannot be read: {error}"
            ) from None
        versions[version] = _decode_master_key(text, f"the master key file {entry.path}")
    if not versions:
        raise MasterKeyError(
            f"{directory} holds no master key of {partner_id}: put one in it as"
            f" {master_key_file_name(partner_id, 1)} (shared.vault.generate_master_key())"
        )
    return versions, _listing(files)


class _MasterKeyVersion:
    """One version of a master key, held only as the two keys derived from it (HKDF-SHA256):
    one wraps person keys, the other makes blind-index digests."""

    __slots__ = ("version", "wrapping", "index_key")

    def __init__(self, version: int, master_key: bytes):
        if len(master_key) != MASTER_KEY_BYTES:
            raise MasterKeyError(f"a master key is {MASTER_KEY_BYTES} bytes, not {len(master_key)}")
        self.version = version
        self.wrapping = AESGCM(_derive(master_key, _KEY_WRAPPING_INFO))
        self.index_key = _derive(master_key, _BLIND_INDEX_INFO)


class MasterKeys:
    """A partner's master key, in one or more versions. The newest version wraps every new
    person key and makes their blind-index digests; an older one still opens what was made
    under it, until a rotation (shared.key_rotation) has made all of it again under the
    newest, and the old version can be destroyed. Each partner has its own, and a wrapped key
    names its partner in its associated data: a key wrapped for one partner does not open as
    another's, whatever master key the other holds.

    Read from a key directory, the versions follow the directory: a version a rotation adds
    is taken up, and one it destroys forgotten, within _KEY_DIRECTORY_RECHECK_SECONDS."""

    __slots__ = ("partner_id", "_versions", "_directory", "_listing", "_checked_at")

    def __init__(self, master_key: bytes | Mapping[int, bytes], partner_id: str):
        """`master_key`: the key (version 1), or each version's key by its version."""
        if not partner_id:
            raise MasterKeyError("a master key belongs to a partner: name it")
        self.partner_id = partner_id
        versions = master_key if isinstance(master_key, Mapping) else {1: master_key}
        if not versions or min(versions) < 1:
            raise MasterKeyError("master key versions are numbered from 1")
        self._versions = {v: _MasterKeyVersion(v, key) for v, key in versions.items()}
        self._directory: Path | None = None
        self._listing: tuple = ()
        self._checked_at = 0.0

    def __repr__(self) -> str:
        return "MasterKeys(...)"

    @classmethod
    def from_text(cls, text: str, partner_id: str, source: str = "the master key") -> MasterKeys:
        return cls(_decode_master_key(text, source), partner_id)

    @classmethod
    def from_directory(cls, directory: str | Path, partner_id: str) -> MasterKeys:
        """Every version of `partner_id`'s master key in `directory`, one file each named
        master.<partner>.<version>.key (urlsafe base64 of 32 bytes)."""
        directory = Path(directory)
        versions, listing = _read_key_directory(directory, partner_id)
        keys = cls(versions, partner_id)
        keys._directory, keys._listing, keys._checked_at = directory, listing, time.monotonic()
        return keys

    @classmethod
    def from_environment(
        cls, partner_id: str, environ: Mapping[str, str] | None = None
    ) -> MasterKeys:
        """The master key of `partner_id` from PEERLINK_MASTER_KEY_DIR (a key directory, see
        from_directory: the form a rotation needs), or as a single key (version 1) from
        PEERLINK_MASTER_KEY (urlsafe base64 of 32 bytes) or the file PEERLINK_MASTER_KEY_FILE
        names; exactly one of them must be set."""
        environ = os.environ if environ is None else environ
        text, path = environ.get(MASTER_KEY_ENV), environ.get(MASTER_KEY_FILE_ENV)
        directory = environ.get(MASTER_KEY_DIR_ENV)
        if len([given for given in (text, path, directory) if given]) > 1:
            raise MasterKeyError(
                f"set only one of {MASTER_KEY_ENV}, {MASTER_KEY_FILE_ENV} and"
                f" {MASTER_KEY_DIR_ENV}: two could name different keys"
            )
        if directory:
            return cls.from_directory(directory, partner_id)
        if text:
            return cls.from_text(text, partner_id, MASTER_KEY_ENV)
        if path:
            try:
                content = Path(path).read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as error:
                raise MasterKeyError(
                    f"{MASTER_KEY_FILE_ENV} names {path}, which cannot be read: {error}"
                ) from None
            return cls.from_text(content, partner_id, f"the master key file {path}")
        raise MasterKeyError(
            f"no master key: set {MASTER_KEY_ENV} (urlsafe base64 of {MASTER_KEY_BYTES} bytes), "
            f"{MASTER_KEY_FILE_ENV} (a file holding one) or {MASTER_KEY_DIR_ENV} (a directory"
            " of versions, master.<partner>.<version>.key)"
        )

    # -- versions ----------------------------------------------------------------------------

    @property
    def directory(self) -> Path | None:
        return self._directory

    @property
    def versions(self) -> tuple[int, ...]:
        """The versions held, oldest first."""
        self._follow_directory()
        return tuple(sorted(self._versions))

    @property
    def newest_version(self) -> int:
        self._follow_directory()
        return max(self._versions)

    def reload(self) -> None:
        """Reads the key directory again now (a rotation added or destroyed a version)."""
        self._follow_directory(now=True)

    def _follow_directory(self, now: bool = False) -> None:
        if self._directory is None:
            return
        if not now and time.monotonic() - self._checked_at < _KEY_DIRECTORY_RECHECK_SECONDS:
            return
        self._checked_at = time.monotonic()
        if _listing(_key_files(self._directory, self.partner_id)) == self._listing:
            return
        versions, listing = _read_key_directory(self._directory, self.partner_id)
        self._versions = {v: _MasterKeyVersion(v, key) for v, key in versions.items()}
        self._listing = listing

    def _version(self, version: int | None) -> _MasterKeyVersion:
        self._follow_directory()
        if version is None:
            return self._versions[max(self._versions)]
        held = self._versions.get(version)
        if held is None:
            self._follow_directory(now=True)  # a rotation may have added it a moment ago
            held = self._versions.get(version)
        if held is None:
            raise MasterKeyError(
                f"version {version} of {self.partner_id}'s master key is not held here"
                " (destroyed after a rotation, or not given to this process)"
            )
        return held

    # -- person keys -------------------------------------------------------------------------

    def _wrapping_aad(self, person_id: uuid.UUID) -> bytes:
        partner = self.partner_id.encode("utf-8")
        return _aad(b"person-key", person_id, len(partner).to_bytes(2, "big") + partner)

    def wrap_versioned(self, key: PersonKey) -> tuple[int, bytes]:
        """The key wrapped under the newest version, and that version."""
        held = self._version(None)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = held.wrapping.encrypt(nonce, key._secret, self._wrapping_aad(key.person_id))
        return held.version, nonce + sealed

    def wrap(self, key: PersonKey) -> bytes:
        return self.wrap_versioned(key)[1]

    def unwrap(self, person_id: uuid.UUID, wrapped: bytes, version: int | None = None) -> PersonKey:
        """The person key wrapped under `version` (the newest when not named)."""
        held = self._version(version)
        nonce, sealed = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        try:
            secret = held.wrapping.decrypt(nonce, sealed, self._wrapping_aad(person_id))
        except InvalidTag:
            raise VaultIntegrityError(
                f"the key of person {person_id} does not open with this master key (version"
                f" {held.version}) as {self.partner_id}'s (another partner's key or wrapping,"
                " or the row was altered or moved)"
            ) from None
        return PersonKey(person_id, secret, held.version)

    # -- blind index -------------------------------------------------------------------------

    def nhs_number_digest(self, nhs_number: str, version: int | None = None) -> bytes:
        return self._digest(NHS_NUMBER_INDEX, validate_nhs_number(nhs_number), version)

    def name_and_dob_digest(
        self, name: str, date_of_birth: str | date, version: int | None = None
    ) -> bytes:
        return self._digest(
            NAME_AND_DOB_INDEX, f"{normalise_name(name)}|{_iso_date(date_of_birth)}", version
        )

    def _digest(self, kind: str, normalised: str, version: int | None) -> bytes:
        message = kind.encode("ascii") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(self._version(version).index_key, message, hashlib.sha256).digest()

    def index_digests(
        self, identifiers: Mapping[str, str], version: int | None = None
    ) -> dict[str, bytes]:
        """The blind-index digests of these identifiers under `version` (the newest when not
        named): a person's digests are made under the version that wraps their key."""
        digests = {}
        if identifiers.get("nhs_number"):
            digests[NHS_NUMBER_INDEX] = self.nhs_number_digest(identifiers["nhs_number"], version)
        if identifiers.get("full_name") and identifiers.get("date_of_birth"):
            digests[NAME_AND_DOB_INDEX] = self.name_and_dob_digest(
                identifiers["full_name"], identifiers["date_of_birth"], version
            )
        return digests


class _KeyCache:
    """Unwrapped person keys, least recently used dropped first. An entry is keyed by the
    wrapped key as stored and every read fetches that column anyway, so an erasure committed
    by any process is seen at once: the cache saves an unwrap, it never decides access."""

    def __init__(self, capacity: int):
        self._capacity = capacity
        self._entries: OrderedDict[uuid.UUID, tuple[bytes, PersonKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, person_id: uuid.UUID, wrapped: bytes) -> PersonKey | None:
        with self._lock:
            entry = self._entries.get(person_id)
            if entry is None or entry[0] != wrapped:
                return None
            self._entries.move_to_end(person_id)
            return entry[1]

    def put(self, person_id: uuid.UUID, wrapped: bytes, key: PersonKey) -> None:
        if self._capacity <= 0:
            return
        with self._lock:
            self._entries[person_id] = (wrapped, key)
            self._entries.move_to_end(person_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget(self, person_id: uuid.UUID) -> None:
        with self._lock:
            self._entries.pop(person_id, None)


# -- storage ---------------------------------------------------------------------------------

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.person_keys (
    person_id       uuid PRIMARY KEY,
    -- NULL once erased: without it the person's ciphertext can never be opened again
    wrapped_key     bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    erased_at       timestamptz,
    erasure_reason  text,
    -- the version of the partner's master key that wraps it
    key_version     integer CHECK (key_version > 0),
    CONSTRAINT erasure_destroys_the_key CHECK (
        (wrapped_key IS NULL) = (erased_at IS NOT NULL)
        AND (erased_at IS NULL) = (erasure_reason IS NULL)
    ),
    CONSTRAINT a_key_names_its_master_key_version CHECK (
        (wrapped_key IS NULL) = (key_version IS NULL)
    )
);
CREATE TABLE IF NOT EXISTS {s}.person_identifiers (
    person_id       uuid NOT NULL REFERENCES {s}.person_keys,
    version         integer NOT NULL CHECK (version > 0),
    ciphertext      bytea NOT NULL,
    nonce           bytea NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (person_id, version)
);
CREATE TABLE IF NOT EXISTS {s}.blind_index (
    person_id       uuid NOT NULL REFERENCES {s}.person_keys,
    kind            text NOT NULL,
    digest          bytea NOT NULL,
    PRIMARY KEY (person_id, kind)
);
CREATE INDEX IF NOT EXISTS blind_index_lookup ON {s}.blind_index (kind, digest);
CREATE TABLE IF NOT EXISTS {s}.sensitive_texts (
    text_id         uuid PRIMARY KEY,
    person_id       uuid NOT NULL REFERENCES {s}.person_keys,
    ciphertext      bytea NOT NULL,
    nonce           bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- Every version of the partner's master key the vault has used, and when no key wrapped under
-- it was left in the key tables (retired_at): from then on, only the backups taken before
-- still need it.
CREATE TABLE IF NOT EXISTS {s}.master_key_versions (
    version         integer PRIMARY KEY CHECK (version > 0),
    added_at        timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz,
    destroyed_at    timestamptz,
    CONSTRAINT destroyed_only_once_retired CHECK (destroyed_at IS NULL OR retired_at IS NOT NULL)
);
-- Rows rewritten in the key tables (an erasure, a rotation) whose old row versions a vacuum
-- has still to remove from the table's pages.
CREATE TABLE IF NOT EXISTS {s}.key_sweeps_due (
    person_id       uuid PRIMARY KEY,
    due_since       timestamptz NOT NULL DEFAULT now()
);
"""


def _checked_schema(schema: str) -> str:
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema {schema!r} must be a lower-case SQL identifier")
    return schema


def vault_ddl(schema: str) -> str:
    """CREATE ... IF NOT EXISTS for the vault's tables in `schema`; safe to run again."""
    return _DDL.format(s=_checked_schema(schema))


_VERSIONED_KEYS_DDL = """
ALTER TABLE {s}.person_keys ADD COLUMN IF NOT EXISTS key_version integer CHECK (key_version > 0);
UPDATE {s}.person_keys SET key_version = 1 WHERE wrapped_key IS NOT NULL AND key_version IS NULL;
ALTER TABLE {s}.person_keys DROP CONSTRAINT IF EXISTS a_key_names_its_master_key_version;
ALTER TABLE {s}.person_keys ADD CONSTRAINT a_key_names_its_master_key_version
    CHECK ((wrapped_key IS NULL) = (key_version IS NULL));
INSERT INTO {s}.master_key_versions (version)
    SELECT 1 WHERE EXISTS (SELECT 1 FROM {s}.person_keys) ON CONFLICT DO NOTHING;
-- an erasure made before left its key in an old row version until some vacuum came by
INSERT INTO {s}.key_sweeps_due (person_id)
    SELECT person_id FROM {s}.person_keys WHERE erased_at IS NOT NULL ON CONFLICT DO NOTHING;
"""


def versioned_keys_ddl(schema: str) -> str:
    """Brings a vault made before master key versions up to date (run after vault_ddl): every
    key it holds was wrapped under version 1, and each erasure made before is swept again."""
    return vault_ddl(schema) + _VERSIONED_KEYS_DDL.format(s=_checked_schema(schema))


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _sealed(nonce, ciphertext) -> Sealed:
    return Sealed(bytes(nonce), bytes(ciphertext))


def _squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", normalise_name(text))


def _refuse_identifying_reason(reason: str, identifiers: Mapping[str, str]) -> None:
    squashed = _squashed(reason)
    words = {_squashed(word) for word in re.split(r"[^\w]+", reason)}
    for field in _NOT_IN_ERASURE_REASON:
        value = _squashed(identifiers.get(field) or "")
        if len(value) >= _SHORTEST_CHECKED_VALUE and value in squashed:
            raise ValueError(
                f"the erasure reason repeats the person's {field}; it is kept after erasure, "
                "so it must not identify them"
            )
    # a part of their name on its own (a surname, a first name) names them too
    for part in re.split(r"[^\w]+", identifiers.get("full_name") or ""):
        if len(part) >= _SHORTEST_CHECKED_VALUE and _squashed(part) in words:
            raise ValueError(
                "the erasure reason repeats part of the person's full_name; it is kept after "
                "erasure, so it must not identify them"
            )


def _rows_not_yet_removable(notices: list[str]) -> int:
    # VACUUM VERBOSE tells how many dead rows a transaction still running may read; a server
    # that speaks another language is taken at its word that it removed them
    return sum(int(found) for notice in notices for found in _NOT_YET_REMOVABLE.findall(notice))


class Vault:
    """The people vault in one PostgreSQL schema. Every method takes an open cursor: the
    caller owns the transaction, so vault writes commit or roll back with its own."""

    def __init__(self, schema: str, keys: MasterKeys, cache_size: int = 4096):
        self.schema = _checked_schema(schema)
        self.keys = keys
        self._cache = _KeyCache(cache_size)

    # -- identifiers -------------------------------------------------------------------------

    def register(
        self, cur: Cursor, person_id: uuid.UUID | str, identifiers: Mapping[str, object]
    ) -> None:
        person_id = _as_uuid(person_id)
        values = {f: v for f, v in validate_identifiers(identifiers).items() if v is not None}
        key = PersonKey.generate(person_id)
        key.master_version, wrapped = self.keys.wrap_versioned(key)
        cur.execute(
            f"INSERT INTO {self.schema}.person_keys (person_id, wrapped_key, key_version)"
            " VALUES (%s, %s, %s) ON CONFLICT (person_id) DO NOTHING",
            (person_id, wrapped, key.master_version),
        )
        if cur.rowcount == 0:
            # an erased person's id stays taken: reusing it would join new data to old history
            raise PersonAlreadyRegistered(f"person {person_id} is already in the vault")
        self._write_version(cur, key, 1, values)
        self._cache.put(person_id, wrapped, key)

    def update(
        self, cur: Cursor, person_id: uuid.UUID | str, changes: Mapping[str, object]
    ) -> dict[str, str]:
        """Writes the merged identifiers as a new version (None or blank removes a field) and
        returns them; writes nothing when nothing changes."""
        person_id = _as_uuid(person_id)
        cleaned = validate_identifiers(changes)
        # FOR UPDATE: concurrent updates take versions one after another, and an erasure
        # cannot slip in between reading the key and writing under it
        key = self._key_for_writing(cur, person_id, "FOR UPDATE")
        version, current = self._latest(cur, key)
        merged = {f: v for f, v in {**current, **cleaned}.items() if v is not None}
        if merged != current:
            self._write_version(cur, key, version + 1, merged)
        return merged

    def read(
        self, cur: Cursor, person_id: uuid.UUID | str, for_share: bool = False
    ) -> dict[str, str] | Erased | None:
        """The latest identifiers, ERASED once the key is gone, or None for an unknown person.
        `for_share`: an erasure waits for the caller's transaction (what it reads goes out with
        it, e.g. sealed for a partner)."""
        person_id = _as_uuid(person_id)
        cur.execute(
            f"""SELECT k.wrapped_key, k.key_version, i.version, i.nonce, i.ciphertext
                FROM {self.schema}.person_keys k
                LEFT JOIN LATERAL (
                    SELECT version, nonce, ciphertext FROM {self.schema}.person_identifiers
                    WHERE person_id = k.person_id ORDER BY version DESC LIMIT 1
                ) i ON true
                WHERE k.person_id = %s {"FOR SHARE OF k" if for_share else ""}""",
            (person_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        wrapped, key_version, version, nonce, ciphertext = row
        if wrapped is None:
            return ERASED
        if version is None:
            return {}
        key = self._person_key(person_id, bytes(wrapped), key_version)
        return key.open_identifiers(version, _sealed(nonce, ciphertext))

    def history(self, cur: Cursor, person_id: uuid.UUID | str) -> list[dict] | Erased:
        """Every version, oldest first, as {"version", "recorded_at", "identifiers"}; ERASED once
        the key is gone, [] for an unknown person."""
        person_id = _as_uuid(person_id)
        key = self._key(cur, person_id)
        if key is None:
            return []
        if key is ERASED:
            return ERASED
        cur.execute(
            f"SELECT version, recorded_at, nonce, ciphertext "
            f"FROM {self.schema}.person_identifiers WHERE person_id = %s ORDER BY version",
            (person_id,),
        )
        return [
            {
                "version": version,
                "recorded_at": recorded_at,
                "identifiers": key.open_identifiers(version, _sealed(nonce, ciphertext)),
            }
            for version, recorded_at, nonce, ciphertext in cur.fetchall()
        ]

    # -- search ------------------------------------------------------------------------------

    # A person's digests are made under the master key version that wraps their key, so a
    # search looks for the digest under every version held: during a rotation some people are
    # indexed under the old version and some under the new.

    def find_by_nhs_number(self, cur: Cursor, nhs_number: str) -> list[uuid.UUID]:
        """People with this NHS number (any spacing); ValueError if it is not a valid one."""
        digests = [self.keys.nhs_number_digest(nhs_number, v) for v in self.keys.versions]
        return self._find(cur, NHS_NUMBER_INDEX, digests)

    def find_by_name_and_dob(
        self, cur: Cursor, name: str, date_of_birth: str | date
    ) -> list[uuid.UUID]:
        """People with this full name (ignoring case, accents and spacing) and date of birth."""
        digests = [
            self.keys.name_and_dob_digest(name, date_of_birth, v) for v in self.keys.versions
        ]
        return self._find(cur, NAME_AND_DOB_INDEX, digests)

    def _find(self, cur: Cursor, kind: str, digests: list[bytes]) -> list[uuid.UUID]:
        cur.execute(
            f"SELECT person_id FROM {self.schema}.blind_index"
            " WHERE kind = %s AND digest = ANY(%s::bytea[]) ORDER BY person_id",
            (kind, [psycopg2.Binary(d) for d in digests]),
        )
        return [row[0] for row in cur.fetchall()]

    def standing(self, cur: Cursor, person_id: uuid.UUID | str) -> str | None:
        """ "registered", "erased", or None for someone this node has never registered; nothing
        is decrypted."""
        wrapped = self._wrapped_key(cur, _as_uuid(person_id))
        if wrapped is None:
            return None
        return "erased" if wrapped is ERASED else "registered"

    def standings(self, cur: Cursor, person_ids) -> dict[uuid.UUID, str]:
        """`standing` of several people at once (one statement): person_id -> "registered" or
        "erased"; someone never registered here is left out."""
        ids = [str(_as_uuid(p)) for p in person_ids]
        if not ids:
            return {}
        cur.execute(
            f"SELECT person_id, wrapped_key IS NULL FROM {self.schema}.person_keys"
            " WHERE person_id = ANY(%s::uuid[])",
            (ids,),
        )
        return {row[0]: "erased" if row[1] else "registered" for row in cur.fetchall()}

    def text_owners(self, cur: Cursor, text_ids) -> dict[uuid.UUID, uuid.UUID]:
        """text_id -> the person each known sealed text is about; unknown ids are left out."""
        ids = [_as_uuid(t) for t in text_ids]
        if not ids:
            return {}
        cur.execute(
            f"SELECT text_id, person_id FROM {self.schema}.sensitive_texts"
            " WHERE text_id = ANY(%s::uuid[])",
            ([str(i) for i in ids],),
        )
        return {row[0]: row[1] for row in cur.fetchall()}

    # -- sensitive free text -----------------------------------------------------------------

    def seal_text(
        self,
        cur: Cursor,
        person_id: uuid.UUID | str,
        text: str,
        text_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Stores text about a person (a session note, say) under their key; returns its id
        (`text_id` when the caller chose it, so an event naming it can commit alongside)."""
        if not isinstance(text, str):
            raise ValueError("sealed text must be a str")
        person_id = _as_uuid(person_id)
        # FOR SHARE: notes are written side by side, but an erasure waits for this one
        key = self._key_for_writing(cur, person_id, "FOR SHARE")
        text_id = text_id or uuid.uuid4()
        sealed = key.seal_text(text_id, text)
        cur.execute(
            f"INSERT INTO {self.schema}.sensitive_texts (text_id, person_id, ciphertext, nonce) "
            "VALUES (%s, %s, %s, %s)",
            (text_id, person_id, sealed.ciphertext, sealed.nonce),
        )
        return text_id

    def open_text(self, cur: Cursor, text_id: uuid.UUID | str) -> str | Erased | None:
        """The text, ERASED once its person's key is gone, or None for an unknown text_id."""
        text_id = _as_uuid(text_id)
        cur.execute(
            f"SELECT t.person_id, k.wrapped_key, k.key_version, t.nonce, t.ciphertext "
            f"FROM {self.schema}.sensitive_texts t "
            f"JOIN {self.schema}.person_keys k USING (person_id) WHERE t.text_id = %s",
            (text_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        person_id, wrapped, key_version, nonce, ciphertext = row
        if wrapped is None:
            return ERASED
        key = self._person_key(person_id, bytes(wrapped), key_version)
        return key.open_text(text_id, _sealed(nonce, ciphertext))

    def move_texts(
        self, cur: Cursor, from_subject: uuid.UUID | str, to_person: uuid.UUID | str
    ) -> int:
        """Texts sealed about a subject not yet named (a safeguarding concern's person at risk)
        become texts about the person they turned out to be: each is opened with the
        subject's key and sealed again under the person's, and the subject's key is then
        destroyed, so that erasing the person erases these words too. Returns how many moved."""
        from_subject, to_person = _as_uuid(from_subject), _as_uuid(to_person)
        if from_subject == to_person:
            raise ValueError("texts move from one subject to another")
        old = self._key_for_writing(cur, from_subject, "FOR UPDATE")  # no text joins meanwhile
        new = self._key_for_writing(cur, to_person, "FOR SHARE")
        cur.execute(
            f"SELECT text_id, nonce, ciphertext FROM {self.schema}.sensitive_texts"
            " WHERE person_id = %s FOR UPDATE",
            (from_subject,),
        )
        moved = 0
        for text_id, nonce, ciphertext in cur.fetchall():
            sealed = new.seal_text(text_id, old.open_text(text_id, _sealed(nonce, ciphertext)))
            cur.execute(
                f"UPDATE {self.schema}.sensitive_texts"
                " SET person_id = %s, ciphertext = %s, nonce = %s WHERE text_id = %s",
                (to_person, sealed.ciphertext, sealed.nonce, text_id),
            )
            moved += 1
        self.erase(cur, from_subject, "its texts were sealed again under the person identified")
        return moved

    # -- erasure -----------------------------------------------------------------------------

    def erase(self, cur: Cursor, person_id: uuid.UUID | str, reason: str) -> None:
        """Destroys the person's key and their blind-index rows and records when and why; the
        key table is to be swept once the caller's transaction commits (sweep), so that no old
        row version keeps the key in the table's pages. Their ciphertext stays, unreadable for
        good (in backups too, once no backup holds the key, or once the master key version
        that wrapped it is destroyed: docs/erasure.md). Erasing an erased person changes
        nothing."""
        person_id = _as_uuid(person_id)
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("an erasure needs a reason")
        wrapped = self._wrapped_key(cur, person_id, "FOR UPDATE")
        if wrapped is None:
            raise PersonNotFound(f"person {person_id} is not in the vault")
        if wrapped is ERASED:
            return
        try:
            key = self._person_key(person_id, *wrapped)
            _refuse_identifying_reason(reason, self._latest(cur, key)[1])
        except (VaultIntegrityError, MasterKeyError):
            # a record that no longer opens must still be erasable; its reason cannot be
            # checked against identifiers nobody can read
            pass
        cur.execute(
            f"UPDATE {self.schema}.person_keys SET wrapped_key = NULL, key_version = NULL,"
            " erased_at = now(), erasure_reason = %s WHERE person_id = %s",
            (reason, person_id),
        )
        cur.execute(f"DELETE FROM {self.schema}.blind_index WHERE person_id = %s", (person_id,))
        cur.execute(
            f"INSERT INTO {self.schema}.key_sweeps_due (person_id) VALUES (%s)"
            " ON CONFLICT DO NOTHING",
            (person_id,),
        )
        self._cache.forget(person_id)

    def sweep(
        self,
        conn: psycopg2.extensions.connection,
        everything: bool = False,
        attempts: int = _SWEEP_ATTEMPTS,
        lock_wait_seconds: float = _SWEEP_LOCK_WAIT_SECONDS,
    ) -> bool:
        """Vacuums the key tables once erasures (or, with `everything`, a rotation) have
        committed, so that no old row version keeps a destroyed or superseded wrapped key, or
        an erased person's digests, in the tables' pages. A full vacuum: a plain one leaves the
        bytes of a removed row in the page's free space. `conn` must be in autocommit (a vacuum
        runs outside any transaction) and log in as a role that owns the tables.

        True once nothing is left to sweep. False when, on every attempt, the tables stayed
        locked for `lock_wait_seconds` or a transaction that may still read the old rows kept
        them; the sweeps stay due for the next call."""
        if not conn.autocommit:
            raise ValueError("a vacuum runs outside a transaction: give an autocommit connection")
        with conn.cursor() as cur:
            cur.execute(f"SELECT person_id FROM {self.schema}.key_sweeps_due")
            due = [row[0] for row in cur.fetchall()]
            if not due and not everything:
                return True
            for attempt in range(attempts):
                if attempt:
                    time.sleep(min(0.25 * 2**attempt, 2.0))
                if self._vacuumed(conn, cur, lock_wait_seconds):
                    cur.execute(
                        f"DELETE FROM {self.schema}.key_sweeps_due WHERE person_id = ANY(%s)",
                        (due,),
                    )
                    return True
        log.warning("the vault's key tables could not be swept yet; the sweep stays due")
        return False

    def _vacuumed(self, conn, cur: Cursor, lock_wait_seconds: float) -> bool:
        cur.execute(f"SET lock_timeout = '{max(1, int(lock_wait_seconds * 1000))}ms'")
        try:
            for table in _SWEPT_TABLES:
                del conn.notices[:]
                try:
                    cur.execute(f"VACUUM (FULL, VERBOSE) {self.schema}.{table}")
                except psycopg2.errors.LockNotAvailable:
                    return False
                if _rows_not_yet_removable(conn.notices):
                    return False
            return True
        finally:
            cur.execute("RESET lock_timeout")

    # -- rotation ----------------------------------------------------------------------------

    def rewrap(self, cur: Cursor, limit: int = 500) -> int:
        """Wraps again under the newest master key version up to `limit` person keys wrapped
        under an older one, and makes their blind-index digests again under it; returns how
        many. Keys another transaction holds are left for a later call."""
        newest = self.keys.newest_version
        cur.execute(
            f"SELECT person_id, wrapped_key, key_version FROM {self.schema}.person_keys"
            " WHERE wrapped_key IS NOT NULL AND key_version < %s"
            " ORDER BY person_id LIMIT %s FOR UPDATE SKIP LOCKED",
            (newest, limit),
        )
        rows = cur.fetchall()
        for person_id, wrapped, key_version in rows:
            old = self._person_key(person_id, bytes(wrapped), key_version)
            key = PersonKey(person_id, old._secret)
            key.master_version, rewrapped = self.keys.wrap_versioned(key)
            cur.execute(
                f"UPDATE {self.schema}.person_keys SET wrapped_key = %s, key_version = %s"
                " WHERE person_id = %s",
                (rewrapped, key.master_version, person_id),
            )
            self._index(cur, key, self._latest(cur, key)[1])
            self._cache.put(person_id, rewrapped, key)
        return len(rows)

    def keys_by_master_version(self, cur: Cursor) -> dict[int, int]:
        """How many live person keys each master key version wraps."""
        cur.execute(
            f"SELECT key_version, count(*) FROM {self.schema}.person_keys"
            " WHERE wrapped_key IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        return dict(cur.fetchall())

    # -- inside ------------------------------------------------------------------------------

    def _wrapped_key(
        self, cur: Cursor, person_id: uuid.UUID, lock: str = ""
    ) -> tuple[bytes, int] | Erased | None:
        cur.execute(
            f"SELECT wrapped_key, key_version FROM {self.schema}.person_keys"
            f" WHERE person_id = %s {lock}",
            (person_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return ERASED if row[0] is None else (bytes(row[0]), row[1])

    def _key(self, cur: Cursor, person_id: uuid.UUID, lock: str = "") -> PersonKey | Erased | None:
        wrapped = self._wrapped_key(cur, person_id, lock)
        if wrapped is None or wrapped is ERASED:
            return wrapped
        return self._person_key(person_id, *wrapped)

    def _key_for_writing(self, cur: Cursor, person_id: uuid.UUID, lock: str) -> PersonKey:
        key = self._key(cur, person_id, lock)
        if key is None:
            raise PersonNotFound(f"person {person_id} is not in the vault")
        if key is ERASED:
            raise PersonErased(f"person {person_id} was erased")
        return key

    def _person_key(self, person_id: uuid.UUID, wrapped: bytes, key_version: int) -> PersonKey:
        key = self._cache.get(person_id, wrapped)
        if key is None:
            key = self.keys.unwrap(person_id, wrapped, key_version)
            self._cache.put(person_id, wrapped, key)
        return key

    def _latest(self, cur: Cursor, key: PersonKey) -> tuple[int, dict[str, str]]:
        cur.execute(
            f"SELECT version, nonce, ciphertext FROM {self.schema}.person_identifiers "
            "WHERE person_id = %s ORDER BY version DESC LIMIT 1",
            (key.person_id,),
        )
        row = cur.fetchone()
        if row is None:
            return 0, {}
        version, nonce, ciphertext = row
        return version, key.open_identifiers(version, _sealed(nonce, ciphertext))

    def _write_version(
        self, cur: Cursor, key: PersonKey, version: int, identifiers: dict[str, str]
    ) -> None:
        sealed = key.seal_identifiers(version, identifiers)
        cur.execute(
            f"INSERT INTO {self.schema}.person_identifiers (person_id, version, ciphertext, nonce) "
            "VALUES (%s, %s, %s, %s)",
            (key.person_id, version, sealed.ciphertext, sealed.nonce),
        )
        self._index(cur, key, identifiers)

    def _index(self, cur: Cursor, key: PersonKey, identifiers: dict[str, str]) -> None:
        # the index follows the latest identifiers only: an old NHS number finds no one
        cur.execute(f"DELETE FROM {self.schema}.blind_index WHERE person_id = %s", (key.person_id,))
        digests = self.keys.index_digests(identifiers, key.master_version)
        if digests:
            psycopg2.extras.execute_values(
                cur,
                f"INSERT INTO {self.schema}.blind_index (person_id, kind, digest) VALUES %s",
                [(key.person_id, kind, digest) for kind, digest in digests.items()],
            )
