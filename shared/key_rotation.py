"""Rotation of a partner's vault master key: a new version is added to the key directory, every
person key is wrapped again under it (with its blind-index digests made again), the key tables
are swept, and the old version is destroyed once no backup that needs it is kept
(docs/erasure.md says why that order, and what it guarantees)."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from shared.db import Database
from shared.settings import not_negative, setting
from shared.vault import (
    Vault,
    generate_master_key,
    master_key_file_name,
    master_key_versions_in,
)


@dataclass(frozen=True)
class KeyRotationSettings:
    # An old version opens the person keys in every backup taken while it still wrapped them,
    # so it is kept until the last of those backups has expired: the backups' own retention,
    # which a partner sets (35 days unless set).
    backup_retention_days: int = setting(
        "PEERLINK_BACKUP_RETENTION_DAYS", "35", int, not_negative, "0 or more"
    )


REWRAP_BATCH = 500
# how long a rewrap waits for keys that other transactions hold (an erasure, an update)
_LOCKED_KEYS_WAIT_SECONDS = 60.0


class RotationRefused(Exception):
    """A step of a rotation that would lose a key still needed, said with the reason."""


@dataclass(frozen=True)
class Rewrapped:
    keys: int
    swept: bool
    retired: list[int]


# -- the key directory -----------------------------------------------------------------------


def add_master_key_version(directory: str | Path, partner_id: str) -> int:
    """Writes a new random version of the partner's master key into its key directory (made
    when missing, readable by its owner only) and returns its version: one more than the
    newest there. Two rotations at once cannot both write the same version."""
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    version = max(master_key_versions_in(directory, partner_id), default=0) + 1
    final = directory / master_key_file_name(partner_id, version)
    partial = directory / f".{final.name}.partial"  # not a key file's name until complete
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(generate_master_key() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(partial, final)  # unlike a rename, never replaces a version already there
        except FileExistsError:
            raise RotationRefused(
                f"{final.name} appeared meanwhile: another rotation is running"
            ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
    _sync_directory(directory)
    return version


def _destroy_key_file(path: Path) -> None:
    # overwritten before it is unlinked; a copy-on-write or flash file system may still keep
    # the old blocks, which is why the key directory belongs on an encrypted volume
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.write(b"\0" * size)
        file.flush()
        os.fsync(file.fileno())
    path.unlink()
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- the vault -------------------------------------------------------------------------------


def record_versions(db: Database, vault: Vault) -> None:
    """Notes every version the directory holds in the vault's record of versions."""
    with db.transaction() as cur:
        for version in vault.keys.versions:
            cur.execute(
                f"INSERT INTO {vault.schema}.master_key_versions (version) VALUES (%s)"
                " ON CONFLICT DO NOTHING",
                (version,),
            )


def rewrap_all(db: Database, vault: Vault, batch: int = REWRAP_BATCH) -> Rewrapped:
    """Wraps every person key under the newest version, a batch to a transaction, sweeps the
    key tables, and marks each older version no key uses any longer as retired (from then on,
    only backups taken before need it). Safe to run again after an interruption."""
    vault.keys.reload()
    record_versions(db, vault)
    newest = vault.keys.newest_version
    rewrapped = 0
    deadline = time.monotonic() + _LOCKED_KEYS_WAIT_SECONDS
    while True:
        with db.transaction() as cur:
            done = vault.rewrap(cur, batch)
        rewrapped += done
        if done:
            continue
        with db.transaction() as cur:
            left = sum(n for v, n in vault.keys_by_master_version(cur).items() if v < newest)
        if not left:
            break
        if time.monotonic() > deadline:
            raise RotationRefused(
                f"{left} person keys stayed locked by other transactions; run the rewrap again"
            )
        time.sleep(0.5)  # keys an erasure or an update holds: they come free in a moment
    with db.autocommit() as conn:
        swept = vault.sweep(conn, everything=True)
    retired = []
    if swept:
        with db.transaction() as cur:
            in_use = vault.keys_by_master_version(cur)
            cur.execute(
                f"UPDATE {vault.schema}.master_key_versions SET retired_at = now()"
                " WHERE version < %s AND retired_at IS NULL AND NOT version = ANY(%s)"
                " RETURNING version",
                (newest, list(in_use)),
            )
            retired = sorted(row[0] for row in cur.fetchall())
    return Rewrapped(rewrapped, swept, retired)


def destroy_master_key_version(db: Database, vault: Vault, version: int, kept_days: int) -> None:
    """Destroys an old version: its file is overwritten and removed, and the vault records
    when. Refused for the newest version, for one that still wraps a key, for one whose keys
    were not all wrapped again and swept (rewrap_all), and until `kept_days` have passed since
    then, while backups that need it are kept."""
    directory = vault.keys.directory
    if directory is None:
        raise RotationRefused("the master key is not given as a key directory: nothing to destroy")
    vault.keys.reload()
    held = vault.keys.versions
    if version not in held:
        raise RotationRefused(f"version {version} is not in {directory} (held: {list(held)})")
    if version == max(held):
        raise RotationRefused(f"version {version} is the newest: it wraps every new key")
    with db.transaction() as cur:
        in_use = vault.keys_by_master_version(cur).get(version, 0)
        if in_use:
            raise RotationRefused(
                f"version {version} still wraps {in_use} person keys: rewrap them first"
            )
        cur.execute(
            f"SELECT retired_at, now() FROM {vault.schema}.master_key_versions"
            " WHERE version = %s FOR UPDATE",
            (version,),
        )
        row = cur.fetchone()
        retired_at, now = row if row else (None, None)
        if retired_at is None:
            raise RotationRefused(
                f"version {version} was never retired: rewrap and sweep the keys first"
            )
        if now - retired_at < timedelta(days=kept_days):
            until = retired_at + timedelta(days=kept_days)
            raise RotationRefused(
                f"version {version} opens the backups taken until {_day(retired_at)}; it is kept"
                f" until they expire, {_day(until)} ({kept_days} days)"
            )
        cur.execute(
            f"UPDATE {vault.schema}.master_key_versions SET destroyed_at = now()"
            " WHERE version = %s",
            (version,),
        )
        # destroyed before the record commits: a file that could not be destroyed leaves no
        # record saying it was
        _destroy_key_file(directory / master_key_file_name(vault.keys.partner_id, version))
    vault.keys.reload()  # forgets the destroyed version now, not at the next look


def status(db: Database, vault: Vault) -> list[dict]:
    """Every version the vault knows of or the directory holds: how many keys it wraps, when
    it was added, retired and destroyed, and whether this directory still holds it."""
    held = set(vault.keys.versions)
    with db.transaction() as cur:
        in_use = vault.keys_by_master_version(cur)
        cur.execute(
            f"SELECT version, added_at, retired_at, destroyed_at"
            f" FROM {vault.schema}.master_key_versions"
        )
        recorded = {row[0]: row[1:] for row in cur.fetchall()}
    return [
        {
            "version": version,
            "held": version in held,
            "keys": in_use.get(version, 0),
            "added_at": recorded.get(version, (None,) * 3)[0],
            "retired_at": recorded.get(version, (None,) * 3)[1],
            "destroyed_at": recorded.get(version, (None,) * 3)[2],
        }
        for version in sorted(held | set(recorded) | set(in_use))
    ]


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
